-- quickstart.sql - a few-second tour of semiperso, the semi-personalized
-- user cold start recommender of Deezer (KDD 2021), in the sqlite3 shell.
-- From the project directory (features.sql is read by relative path):
--
--   $ make
--   $ sqlite3 tour.db              (or just `sqlite3`: an in-memory database)
--   sqlite> .load ./semiperso
--   sqlite> .read examples/quickstart.sql
--
-- The idea: a new user has no history, only what they did on registration
-- day.  A network learns, on warm users, to map that to a vector in the
-- tracks' latent space; warm users are grouped into segments by k-means;
-- the new user gets the most listened tracks of the segment nearest their
-- predicted vector.  The full experiment is sql/pipeline.sql; this tour
-- takes the same steps one at a time, at toy size.
.bail on
.mode box

-- 1. A synthetic Deezer-shaped dataset: tracks with vectors, albums,
--    artists, playlists; warm users (with a known vector), and cold users
--    (validation, test) with their registration-day events and the tracks
--    they listened to in their first month (future_listens).  It refuses to
--    overwrite tables that already hold rows: use a fresh database, or add
--    "replace": true.
--    Each of these functions returns a JSON summary; a MATERIALIZED
--    common table expression runs the function once, however many of the
--    summary's fields are then shown.
WITH run(s) AS MATERIALIZED (
  SELECT synthesize_dataset('{"tracks": 1500, "warm": 800, "validation": 50,
                              "test": 100, "dim": 16, "seed": 7, "quiet": true}'))
SELECT json_extract(s, '$.tracks') AS tracks, json_extract(s, '$.artists') AS artists,
       json_extract(s, '$.playlists') AS playlists,
       json_extract(s, '$.registration_events') AS registration_events,
       json_extract(s, '$.future_listens') AS future_listens
FROM run;

SELECT split, count(*) AS users FROM users GROUP BY split ORDER BY split DESC;

-- 2. Input features for every user, from registration-day data only:
--    20 groups of 16 floats (age, country, one mean vector per kind of
--    event: stream/track, skip/album, onboarding_like/artist, ...), then 19
--    counts.  The view user_feature_vectors computes the same for any one
--    user, which is how a live service builds a new user's input.
.read sql/features.sql
SELECT count(*) AS users, vec_length(features) AS floats_each FROM user_features;

-- 3. Train the embedder on warm users: their features -> their known
--    vector.  The paper's network (400-300-200 hidden, Adam), with a larger
--    learning rate and fewer epochs than the paper's so it takes a second.
WITH run(s) AS MATERIALIZED (
  SELECT train_embedder(
           'user_embedder',
           'SELECT f.features, u.embedding FROM users AS u JOIN user_features AS f USING (user_id)
             WHERE u.split = ''warm'' ORDER BY u.user_id',
           '{"epochs": 15, "learning_rate": 1e-3, "quiet": true}'))
SELECT json_extract(s, '$.rows') AS warm_users, json_extract(s, '$.epochs') AS epochs,
       round(json_extract(s, '$.final_loss'), 4) AS final_loss
FROM run;

-- 4. Segment warm users by k-means on their vectors (the paper uses 1000
--    segments for millions of users; 20 here).
WITH run(s) AS MATERIALIZED (
  SELECT train_segments(
           'warm_users',
           'SELECT embedding FROM users WHERE split = ''warm'' ORDER BY user_id',
           '{"k": 20, "quiet": true}'))
SELECT json_extract(s, '$.k') AS segments, round(json_extract(s, '$.inertia'), 2) AS inertia
FROM run;

-- What each segment loves: the tracks most of its warm users listened to
-- in their first month (ties by smaller id).  Computed once, offline.
CREATE TEMP TABLE tour_members AS
  SELECT user_id, assign_segment('warm_users', embedding) AS segment_id
  FROM users WHERE split = 'warm';
CREATE TEMP TABLE tour_segment_tracks AS
  SELECT segment_id, track_id, listeners,
         row_number() OVER (PARTITION BY segment_id ORDER BY listeners DESC, track_id) AS rank
  FROM (SELECT m.segment_id, f.track_id, count(DISTINCT f.user_id) AS listeners
        FROM tour_members AS m JOIN future_listens AS f USING (user_id)
        GROUP BY m.segment_id, f.track_id);

-- 5. Serve one cold test user (the first one who did something on
--    registration day): predict their vector, find their segment.
CREATE TEMP TABLE tour_user AS
  SELECT u.user_id, u.country, u.age,
         embed_user('user_embedder', f.features) AS embedding
  FROM users AS u JOIN user_features AS f USING (user_id)
  WHERE u.split = 'test'
    AND u.user_id IN (SELECT user_id FROM registration_events)
  ORDER BY u.user_id LIMIT 1;
CREATE TEMP TABLE tour_user_segment AS
  SELECT user_id, assign_segment('warm_users', embedding) AS segment_id FROM tour_user;

SELECT u.user_id, u.country, u.age,
       (SELECT count(*) FROM registration_events AS e WHERE e.user_id = u.user_id)
         AS registration_events,
       s.segment_id,
       (SELECT count(*) FROM tour_members AS m WHERE m.segment_id = s.segment_id)
         AS segment_size
FROM tour_user AS u JOIN tour_user_segment AS s USING (user_id);

-- Semi-personalized (the production system): the segment's top 10.
-- The `listened` column peeks at the answer: did the user listen to the
-- track in their first month?
SELECT t.rank, t.track_id, t.listeners AS segment_listeners,
       EXISTS (SELECT 1 FROM future_listens AS f
               WHERE f.user_id = s.user_id AND f.track_id = t.track_id) AS listened
FROM tour_user_segment AS s
JOIN tour_segment_tracks AS t USING (segment_id)
WHERE t.rank <= 10 ORDER BY t.rank;

-- Fully personalized: the 10 tracks most cosine-similar to the vector.
SELECT t.rank, t.track_id, round(t.score, 4) AS cosine,
       EXISTS (SELECT 1 FROM future_listens AS f
               WHERE f.user_id = u.user_id AND f.track_id = t.track_id) AS listened
FROM tour_user AS u, topk_tracks(u.embedding, 10) AS t
ORDER BY t.rank;

-- 6. How good are the two lists?  Precision@10 and NDCG@10 against the
--    tracks the user listened to in days 1..30 (JSON arrays of ids, the
--    recommended list in rank order).
WITH semi_list(tracks) AS (
       SELECT json_group_array(track_id)
       FROM (SELECT t.track_id FROM tour_user_segment AS s
             JOIN tour_segment_tracks AS t USING (segment_id)
             WHERE t.rank <= 10 ORDER BY t.rank)),
     full_list(tracks) AS (
       SELECT json_group_array(track_id)
       FROM (SELECT t.track_id FROM tour_user AS u, topk_tracks(u.embedding, 10) AS t
             ORDER BY t.rank)),
     truth(tracks) AS (
       SELECT json_group_array(DISTINCT track_id) FROM future_listens
       WHERE user_id = (SELECT user_id FROM tour_user))
SELECT 'semi-personalized' AS method,
       round(100 * precision_at(semi_list.tracks, truth.tracks, 10), 1) AS "P@10 (%)",
       round(100 * ndcg_at(semi_list.tracks, truth.tracks, 10), 1) AS "NDCG@10 (%)"
FROM semi_list, truth
UNION ALL
SELECT 'fully personalized',
       round(100 * precision_at(full_list.tracks, truth.tracks, 10), 1),
       round(100 * ndcg_at(full_list.tracks, truth.tracks, 10), 1)
FROM full_list, truth;

-- Next: sql/pipeline.sql runs the whole offline experiment (all methods,
-- all test users, the paper's Table 1 in the table `results`); make demo
-- runs it on a fresh database; examples/online.c and online.py serve one
-- new user from a program.  The tour's own tables were TEMP: they vanish
-- when the shell exits.
