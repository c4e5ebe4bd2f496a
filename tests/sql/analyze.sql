-- steps/analyze.sql on recommendation lists written by hand (no training), with
-- every output worked out by hand.  top_k 2, eval_ks [1, 2].
-- Tracks 1..6.  Warm first-month listens: w101 {1,2,3}, w102 {1,2},
-- w103 {1}, w104 {4}: listeners t1 3, t2 2, t3 1, t4 1, t5 0, t6 0, so the
-- popularity ranks are t1..t6 = 1..6 (t3 before t4: ties by smaller id).
-- Test users: u1 FR {1,2}, u2 FR {3}, u3 DE {5,6}, u4 (no country) {}:
-- u4 has no relevant track, so its metrics are NULL and it counts nowhere.
-- Lists:   m1: u1 [1,3] u2 [3,1] u3 [1,2] u4 [1,2]
--          m2: u1 [2,1] u2 [4,5] u3 [6,5] u4 [5,6]
-- Per user (P, R, NDCG), K = 1 | K = 2 (IDCG@2 = 1 + 1/log2 3 = 1.630930):
--   m1 u1: 1, .5, 1 | .5, .5, 1/1.630930 = .613147   m1 u2: 1, 1, 1 | 1, 1, 1
--   m1 u3: 0 | 0                                     m2 u1: 1, .5, 1 | 1, 1, 1
--   m2 u2: 0 | 0                                     m2 u3: 1, .5, 1 | 1, 1, 1
-- Means over u1..u3 (%): m1 K=1: 66.6667, 50, 66.6667; K=2: 50, 50, 53.7716
--                        m2 K=1: 66.6667, 33.3333, 66.6667; K=2: 66.6667 x 3
-- Folds set by hand: repetition 0 {u1,u2} {u3,u4}; repetition 1 {u1,u3}
-- {u2,u4}.  m1 P@1 fold means 100, 0, 50, 100: mean 62.5, squares of the
-- deviations 1406.25 + 3906.25 + 156.25 + 1406.25 = 6875, sd sqrt(6875/3)
-- = 47.8714.  m1 P@2: 75, 0, 25, 100 -> mean 50, (625+2500+625+2500)/3,
-- sd 45.6435.  m2 P@1 = m2 P@2: 50, 100, 100, 0 -> sd 47.8714.
-- Activity (stream events; all events): u1 2 streams + 1 skip (2; 3),
-- u2 1 onboarding like (0; 1), u3 nothing (0; 0), u4 5 streams (5; 5).
-- Bins streams [0,1,3] -> "0" {u2,u3}, "1-2" {u1}, "3+" {u4: no metrics,
-- no row}; interactions [0,1] -> "0" {u3}, "1+" {u1,u2,u4}.
--   m1 K=1 streams "0": P (1 + 0)/2 = 50, folds {u2} 100, {u3} 0, {u3} 0,
--   {u2} 100 -> sd sqrt(4 * 2500 / 3) = 57.7350; "1-2": P 100, 2 fold
--   means of 100 -> sd 0; interactions "0": P 0 (1 user, sd 0: folds
--   {u3,u4} and {u1,u3} each hold u3 alone); interactions "1+" at K=2:
--   u1 .5, u2 1 -> 75; fold means 75, (u4 alone: none), 50, 100 -> sd 25.
--   m2 K=1 interactions "1+": u1 1, u2 0 -> 50; fold means 50, 100, 0
--   -> sd 50.
-- Popularity bins (popularity_bins 3, 6 tracks): ranks 1-2, 3-4, 5-6.
--   m1 all: u1 [1,3] -> bins 0,1; u2 -> 1,0; u3, u4 -> 0,0: 6, 2, 0 of 8
--   m2 all: u1 -> 0,0; u2 [4,5] -> 1,2; u3, u4 -> 2,2: 2, 1, 5 of 8
--   top_countries 1: FR (u1, u2): m1 2, 2, 0; m2 2, 1, 1 of 4.
.bail on
.mode list
.cd ../..
.read sql/schema.sql
INSERT INTO tracks(track_id, album_id, artist_id, embedding)
  SELECT value, 1, 1, vec_f32('[1, 0]') FROM generate_series(1, 6);
INSERT INTO users(user_id, split, country) VALUES
  (101, 'warm', 'FR'), (102, 'warm', 'FR'), (103, 'warm', 'DE'), (104, 'warm', 'DE'),
  (1, 'test', 'FR'), (2, 'test', 'FR'), (3, 'test', 'DE'), (4, 'test', NULL);
INSERT INTO future_listens VALUES (101, 1), (101, 2), (101, 3), (102, 1), (102, 2),
  (102, 2), (103, 1), (104, 4), (1, 1), (1, 2), (2, 3), (3, 5), (3, 6);
INSERT INTO registration_events VALUES (1, 'stream', 'track', 1), (1, 'stream', 'album', 1),
  (1, 'skip', 'track', 2), (2, 'onboarding_like', 'artist', 1),
  (4, 'stream', 'track', 1), (4, 'stream', 'track', 2), (4, 'stream', 'track', 3),
  (4, 'stream', 'track', 4), (4, 'stream', 'track', 5);
-- Step 1: user_features (whose counts serve when features are given, below).
.read sql/features.sql
INSERT INTO settings VALUES ('top_k', 2), ('eval_ks', '[2,1]'),
  ('activity_bins', '{"streams":[0,1,3],"interactions":[0,1]}'),
  ('popularity_bins', 3), ('top_countries', 1);
.read sql/steps/settings.sql
-- Step 4 for track_popularity (no segments: segment lists stay empty).
CREATE TABLE segment_members(segmentation TEXT, segment_id INTEGER, user_id INTEGER);
.read sql/steps/top_tracks.sql
CREATE TABLE recommendation_lists(method TEXT, user_id INTEGER, tracks TEXT);
INSERT INTO recommendation_lists VALUES
  ('m1', 1, '[1,3]'), ('m1', 2, '[3,1]'), ('m1', 3, '[1,2]'), ('m1', 4, '[1,2]'),
  ('m2', 1, '[2,1]'), ('m2', 2, '[4,5]'), ('m2', 3, '[6,5]'), ('m2', 4, '[5,6]');
.read sql/steps/evaluate.sql
DELETE FROM evaluation_folds;
INSERT INTO evaluation_folds VALUES (0, 1, 0), (0, 2, 0), (0, 3, 1), (0, 4, 1),
                                    (1, 1, 0), (1, 3, 0), (1, 2, 1), (1, 4, 1);
.read sql/steps/analyze.sql

SELECT 'list_length', value FROM run_settings WHERE name = 'list_length';
SELECT method, k, printf('%.4f %.4f %.4f %.4f %.4f %.4f', precision, precision_sd, recall,
                         recall_sd, ndcg, ndcg_sd), users
FROM results_at_k ORDER BY method, k;
-- results holds the same means at top_k (its spread used evaluate.sql's own
-- folds, replaced above).
SELECT count(*) FROM results JOIN results_at_k AS a USING (method, k)
WHERE results.precision = a.precision AND results.recall = a.recall
  AND results.ndcg = a.ndcg AND results.users = a.users;
SELECT method, k, activity, bin, label, low, quote(high), users,
       printf('%.4f %.4f', precision, precision_sd)
FROM results_by_activity ORDER BY method, k, activity, bin;
SELECT * FROM user_activity ORDER BY user_id;
SELECT group_concat(track_id || ':' || rank || ':' || listeners, ' ')
FROM (SELECT * FROM track_popularity ORDER BY rank);
SELECT method, quote(country), users, bin, rank_from, rank_to, recommendations,
       printf('%.4f', share)
FROM recommended_popularity ORDER BY method, country, bin;

-- Features given (as in the public release, which has no events): the
-- activity comes from the 18 counts of user_features, the same here, where
-- every event belongs to one of the 18 groups.
CREATE TEMP TABLE activity_from_events AS SELECT * FROM user_activity;
INSERT INTO settings VALUES ('features', 'given');
.read sql/steps/settings.sql
DELETE FROM registration_events;
.read sql/steps/analyze.sql
SELECT 'activity from the counts', count(*),
  (SELECT count(*) FROM (SELECT * FROM user_activity EXCEPT SELECT * FROM activity_from_events))
  FROM user_activity;
SELECT * FROM run_notes;
