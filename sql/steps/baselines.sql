-- baselines.sql - step 3b (only with the setting baselines = 1): the deep
-- baselines of the paper's Table 1, DropoutNet and MeLU, trained on warm
-- users, and a segmentation of warm users in each model's own output space
-- for their semi-personalized variants.  With baselines = 0 (the default)
-- every statement below selects nothing and the tables stay empty.
--
-- Outputs:
--   baseline_support(user_id, support)   each user's registration-day events
--       for MeLU's local update (melu_support(): the entity's vector, label
--       0 for a skip or ban, 1 otherwise)
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

DROP TABLE IF EXISTS baseline_support;
CREATE TABLE baseline_support(user_id INTEGER PRIMARY KEY, support BLOB NOT NULL);
INSERT INTO baseline_support
  SELECT e.user_id,
         melu_support(v.embedding, CASE WHEN e.action IN ('skip', 'ban') THEN 0 ELSE 1 END)
  FROM registration_events AS e
  JOIN feature_entity_vectors AS v ON v.entity = e.entity AND v.entity_id = e.entity_id
  WHERE (SELECT baselines FROM run_config)
  GROUP BY e.user_id;

SELECT train_dropoutnet(
  'dropoutnet',
  'SELECT f.features, u.embedding
     FROM users AS u JOIN user_features AS f USING (user_id)
    WHERE u.split = ''warm'' AND u.embedding IS NOT NULL
    ORDER BY u.user_id',
  json_patch(json_object('seed', c.seed,
                         'quiet', json(CASE WHEN c.quiet THEN 'true' ELSE 'false' END)),
             c.dropoutnet_options))
  AS dropoutnet_summary
FROM run_config AS c WHERE c.baselines;

SELECT train_melu(
  'melu',
  'SELECT u.user_id, f.features, u.embedding, s.support
     FROM users AS u JOIN user_features AS f USING (user_id)
     LEFT JOIN baseline_support AS s USING (user_id)
    WHERE u.split = ''warm'' AND u.embedding IS NOT NULL
    ORDER BY u.user_id',
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
