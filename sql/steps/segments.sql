-- segments.sql - step 3: segment warm users, and remember who is where.
--
-- Two segmentations are trained with k-means (greedy k-means++ seeding,
-- the best of kmeans_n_init starts):
--   'warm_users'      the system's: warm users' vectors in the latent space
--                     (k = setting "segments", 1000 in the paper)
--   'input_features'  the Input Features Clustering baseline: warm users'
--                     L2-normalised input features (k = "input_segments")
-- segment_members(segmentation, user_id, segment_id) records each warm
-- user's segment as assign_segment() gives it (the k-means assignment;
-- assign_segments() computes the same ids in blocks).

-- A k larger than the number of warm users cannot be honoured: say so.
SELECT raise_error(printf(
  'setting "%s" is %d but there are only %d warm users with an embedding; '
  || 'lower it, e.g. INSERT OR REPLACE INTO settings VALUES (''%s'', %d)',
  s.name, s.value, w.n, s.name, max(1, w.n / 10)))
FROM run_settings AS s,
     (SELECT count(*) AS n FROM users WHERE split = 'warm' AND embedding IS NOT NULL) AS w
WHERE s.name IN ('segments', 'input_segments') AND s.value > w.n;

SELECT train_segments(
  'warm_users',
  'SELECT embedding FROM users
    WHERE split = ''warm'' AND embedding IS NOT NULL ORDER BY user_id',
  json_object(
    'k',        c.segments,
    'max_iter', c.kmeans_iterations,
    'n_init',   c.kmeans_n_init,    -- starts, the lowest inertia kept
    'seed',     c.seed,
    'quiet',    json(CASE WHEN c.quiet THEN 'true' ELSE 'false' END)))
  AS warm_segments_summary
FROM run_config AS c;

SELECT train_segments(
  'input_features',
  'SELECT f.features
     FROM users AS u JOIN user_features AS f USING (user_id)
    WHERE u.split = ''warm'' AND u.embedding IS NOT NULL ORDER BY u.user_id',
  json_object(
    'k',        c.input_segments,
    'normalize', json('true'),  -- L2-normalised rows; assign_segment() does the same
    'max_iter', c.kmeans_iterations,
    'n_init',   c.kmeans_n_init,    -- starts, the lowest inertia kept
    'seed',     c.seed,
    'quiet',    json(CASE WHEN c.quiet THEN 'true' ELSE 'false' END)))
  AS input_feature_segments_summary
FROM run_config AS c;

DROP TABLE IF EXISTS segment_members;
CREATE TABLE segment_members(
  segmentation TEXT NOT NULL,
  segment_id   INTEGER NOT NULL,
  user_id      INTEGER NOT NULL,
  PRIMARY KEY (segmentation, segment_id, user_id)  -- members of a segment in one scan
) WITHOUT ROWID;
CREATE UNIQUE INDEX segment_members_by_user ON segment_members(segmentation, user_id);

-- assign_segments() gives each row the id assign_segment() would, a block
-- of rows per sgemm, as JSON [[user_id, segment_id], ...].
INSERT INTO segment_members(segmentation, user_id, segment_id)
  SELECT 'warm_users', m.value ->> 0, m.value ->> 1
  FROM (SELECT assign_segments('warm_users', user_id, embedding) AS members
        FROM users WHERE split = 'warm' AND embedding IS NOT NULL) AS a,
       json_each(a.members) AS m;

INSERT INTO segment_members(segmentation, user_id, segment_id)
  SELECT 'input_features', m.value ->> 0, m.value ->> 1
  FROM (SELECT assign_segments('input_features', u.user_id, f.features) AS members
        FROM users AS u JOIN user_features AS f USING (user_id)
        WHERE u.split = 'warm' AND u.embedding IS NOT NULL) AS a,
       json_each(a.members) AS m;
