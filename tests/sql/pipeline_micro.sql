-- The whole pipeline on a dataset small enough to work out by hand (d = 2).
--
-- Tracks: t1 (1,0), t2 (0.6,0.8), t3 (0,1), t4 (0.8,0.6).
-- Warm users: w1, w2 (FR, 20, streamed t1, vector (1,0)) and w3, w4 (DE,
-- 40, streamed t3, vector (0,1)): two segments, {w1,w2} = A, {w3,w4} = B,
-- whatever the seed (k-means++ cannot pick two equal points).
-- Warm first-month listens: w1 {1,2,4}, w2 {1,2,4}, w3 {3}, w4 {3,2}.
--   Popularity (warm listeners): t2 3, t1 2, t3 2, t4 2 -> [2,1,3]
--   A: t1 2, t2 2, t4 2 -> [1,2,4];   B: t3 2, t2 1 -> [3,2] + padding t1
-- Test users: c1 (as w1: FR, 20, streamed t1), c2 (as w3), c3 (FR, 20, no
-- event).  Truth: c1 {1,3,4}, c2 {3,2}, c3 {2}.  K = 3.
--   semi c1 = A = [1,2,4]: hits at 1, 3: P 2/3, R 2/3,
--        NDCG (1 + 1/2) / (1 + 1/log2 3 + 1/2) = 0.703918
--   semi c2 = B = [3,2,1]: P 1, R 1, NDCG 1
--   popularity [2,1,3]: c1 hits at 2, 3: 2/3, 2/3, 0.530721;
--        c2 hits at 1, 3: 1, 1, 1.5 / 1.630930 = 0.919721; c3: 1, 1, 1
--   registration_day_streams: c1 (1,0) -> [1,4,2]: 2/3, 2/3,
--        (1 + 0.630930) / 2.130930 = 0.765361; c2 (0,1) -> [3,2,4]: 1, 1, 1;
--        c3 streamed nothing -> popularity: 1, 1, 1
--   results in percent, mean of 3 users: popularity P 88.8889,
--        NDCG (53.0721 + 91.9721 + 100) / 3 = 81.6814; every fold holds
--        one user or none, so the 6 fold means are 66.667, 100, 100 twice:
--        sd = sqrt((2 * 22.222^2 + 4 * 11.111^2) / 5) = 17.2133
--        registration_day_streams P 88.8889, NDCG 92.1787
.bail on
.cd ../..
.read sql/schema.sql
INSERT INTO tracks VALUES (1, 1, 1, vec_f32('[1, 0]')), (2, 1, 1, vec_f32('[0.6, 0.8]')),
                          (3, 2, 2, vec_f32('[0, 1]')), (4, 2, 2, vec_f32('[0.8, 0.6]'));
INSERT INTO users VALUES
  (1, 'warm', 'FR', 20, vec_f32('[1, 0]')), (2, 'warm', 'FR', 20, vec_f32('[1, 0]')),
  (3, 'warm', 'DE', 40, vec_f32('[0, 1]')), (4, 'warm', 'DE', 40, vec_f32('[0, 1]')),
  (11, 'test', 'FR', 20, NULL), (12, 'test', 'DE', 40, NULL), (13, 'test', 'FR', 20, NULL);
INSERT INTO registration_events VALUES
  (1, 'stream', 'track', 1), (2, 'stream', 'track', 1),
  (3, 'stream', 'track', 3), (4, 'stream', 'track', 3),
  (11, 'stream', 'track', 1), (12, 'stream', 'track', 3);
INSERT INTO future_listens VALUES
  (1, 1), (1, 2), (1, 4), (2, 1), (2, 2), (2, 4), (2, 4), (3, 3), (4, 3), (4, 2),
  (11, 1), (11, 3), (11, 4), (12, 3), (12, 2), (13, 2);
INSERT INTO settings VALUES ('segments', 2), ('input_segments', 2), ('top_k', 3),
  ('eval_ks', '[3]'), ('hidden', '[8]'), ('batch_size', 4), ('epochs', 300),
  ('learning_rate', 0.01), ('kmeans_iterations', 10), ('quiet', 1);
.output /dev/null
.read sql/pipeline.sql
.output stdout
.mode list

SELECT 'popular', group_concat(track_id) FROM (SELECT track_id FROM popular_tracks WHERE rank <= 4 ORDER BY rank);
-- Segment lists, named by their members (ids are arbitrary).
SELECT group_concat(m.user_id), (SELECT group_concat(track_id || ':' || listeners)
                                 FROM (SELECT * FROM segment_top_tracks t
                                       WHERE t.segmentation = 'warm_users' AND t.segment_id = m.segment_id
                                       ORDER BY rank))
FROM segment_members AS m WHERE segmentation = 'warm_users' GROUP BY m.segment_id ORDER BY min(m.user_id);
SELECT method, user_id, group_concat(track_id)
FROM (SELECT * FROM recommendations
      WHERE method IN ('semi_personalized', 'popularity', 'registration_day_streams',
                       'input_features_clustering')
        AND NOT (user_id = 13 AND method IN ('semi_personalized', 'input_features_clustering'))
      ORDER BY method, user_id, rank)
GROUP BY method, user_id;
SELECT method, user_id, printf('%.6f %.6f %.6f', precision, recall, ndcg) FROM user_metrics
WHERE method IN ('semi_personalized', 'popularity', 'registration_day_streams') AND user_id IN (11, 12)
ORDER BY method, user_id;
SELECT method, printf('%.4f %.4f %.4f %.4f', precision, precision_sd, ndcg, recall), users
FROM results WHERE method IN ('popularity', 'registration_day_streams') ORDER BY method;
-- Every method has a row; predicted vectors have unit length.
SELECT group_concat(method) FROM (SELECT method FROM results ORDER BY method);
SELECT count(*), sum(abs(vec_distance_l2(embedding, vec_zeros(2)) - 1) < 1e-5) FROM cold_embeddings;
SELECT sum(size) FROM segment_descriptions;
