-- baselines.sql - step 3b (only with the setting baselines = 1): the deep
-- baselines of the paper's Table 1, DropoutNet and MeLU, trained on warm
-- users, and a segmentation of warm users in each model's own output space
-- for their semi-personalized variants.  With baselines = 0 (the default)
-- every statement below selects nothing and the tables stay empty.
--
-- Inputs: baseline_support and the training rows of steps/baseline_inputs.sql.
-- Outputs:
--   models 'dropoutnet' and 'melu'       (semiperso_baselines and friends)
--   baseline_vectors(model, user_id, embedding)  every user in each model's
--       space: DropoutNet's user tower output (warm users with their
--       preference vector, cold users without: their cold start input),
--       MeLU's first decision layer's user part after the local update
--   segmentations 'dropoutnet' and 'melu' of the warm users' vectors
--       (k = "segments"), their members added to segment_members, so that
--       steps/top_tracks.sql ranks each segment's tracks as for the others
-- Hyperparameters: the JSON objects of the settings dropoutnet_options and
-- melu_options (README.md, "DropoutNet and MeLU"), over the seed and quiet
-- of this run.

SELECT train_dropoutnet(
  'dropoutnet',
  'SELECT * FROM baseline_dropoutnet_rows',
  json_patch(json_object('seed', c.seed,
                         'quiet', json(CASE WHEN c.quiet THEN 'true' ELSE 'false' END)),
             c.dropoutnet_options))
  AS dropoutnet_summary
FROM run_config AS c WHERE c.baselines;

SELECT train_melu(
  'melu',
  'SELECT * FROM baseline_melu_rows',
  json_patch(json_object('seed', c.seed,
                         'quiet', json(CASE WHEN c.quiet THEN 'true' ELSE 'false' END)),
             c.melu_options))
  AS melu_summary
FROM run_config AS c WHERE c.baselines;

DROP TABLE IF EXISTS baseline_vectors;
CREATE TABLE baseline_vectors(
  model     TEXT NOT NULL,
  user_id   INTEGER NOT NULL,
  embedding BLOB NOT NULL,
  PRIMARY KEY (model, user_id)
) WITHOUT ROWID;
INSERT INTO baseline_vectors
  SELECT 'dropoutnet', u.user_id,
         dropoutnet_user('dropoutnet', f.features,
                         CASE WHEN u.split = 'warm' THEN u.embedding END)
  FROM users AS u JOIN user_features AS f USING (user_id)
  WHERE (SELECT baselines FROM run_config)
    AND (u.split IN ('validation', 'test') OR u.embedding IS NOT NULL);
INSERT INTO baseline_vectors
  SELECT 'melu', u.user_id, melu_user('melu', u.user_id, f.features, s.support)
  FROM users AS u JOIN user_features AS f USING (user_id)
  LEFT JOIN baseline_support AS s USING (user_id)
  WHERE (SELECT baselines FROM run_config)
    AND (u.split IN ('validation', 'test') OR u.embedding IS NOT NULL);

-- The warm users' segments in each model's space, as many as the system's.
SELECT train_segments(
  m.model,
  printf('SELECT v.embedding FROM baseline_vectors AS v JOIN users AS u USING (user_id)
           WHERE v.model = %Q AND u.split = ''warm'' ORDER BY v.user_id', m.model),
  json_object(
    'k',        c.segments,
    'max_iter', c.kmeans_iterations,
    'seed',     c.seed,
    'quiet',    json(CASE WHEN c.quiet THEN 'true' ELSE 'false' END)))
  AS baseline_segments_summary
FROM run_config AS c, (SELECT 'dropoutnet' AS model UNION ALL SELECT 'melu') AS m
WHERE c.baselines;

INSERT INTO segment_members(segmentation, user_id, segment_id)
  SELECT v.model, v.user_id, assign_segment(v.model, v.embedding)
  FROM baseline_vectors AS v JOIN users AS u USING (user_id)
  WHERE u.split = 'warm';
