-- features.sql - builds user_features, the input vector of every user
-- (the layout below, also in docs/ARCHITECTURE.md), from the dataset tables
-- of sql/schema.sql.
--
--   sqlite> .load ./semiperso
--   sqlite> .read sql/features.sql
--
-- Runs on any database holding the dataset tables.  d is the length of the
-- tracks' vectors.  Each user's vector is 20 groups of d floats followed by
-- 19 scalars (20 d + 19 floats: 2579 for d = 128):
--    0 age       mean vector of the warm users of the same age class
--    1 country   mean vector of the warm users of the same country
--    2..19       mean vector of the user's registration-day events of each
--                (action, entity) pair, in the order of feature_groups
--                below; an entity met twice counts twice
--   then the 18 event counts in the same order, then the age.
-- An album's, artist's or playlist's vector is the mean of its tracks'.
-- Missing data gives zeros: a group without events, an event whose entity
-- has no vector (it still counts), a NULL age or country (age scalar 0).
-- Age classes: <18, 18-24, 25-34, 35-49, 50+ (0..4).
--
-- Helper tables (kept, so their vectors can be inspected): feature_groups,
-- feature_entity_vectors, feature_age_vectors, feature_country_vectors;
-- and the view user_feature_vectors, which computes any user's vector.
-- Re-running replaces them and user_features, all
-- inside one savepoint (so it also works inside an open transaction).

SAVEPOINT features;

-- The 18 interaction groups: group_index is the position of
-- the group in the feature vector (0 and 1 are age and country).
CREATE TABLE IF NOT EXISTS feature_groups(
  group_index INTEGER PRIMARY KEY,
  action      TEXT NOT NULL,
  entity      TEXT NOT NULL,
  UNIQUE (action, entity)
);
DELETE FROM feature_groups;
INSERT INTO feature_groups(group_index, action, entity) VALUES
  ( 2, 'favorite', 'track'),  ( 3, 'favorite', 'artist'),
  ( 4, 'favorite', 'album'),  ( 5, 'favorite', 'playlist'),
  ( 6, 'onboarding_like', 'artist'),
  ( 7, 'skip', 'track'),      ( 8, 'skip', 'artist'),   ( 9, 'skip', 'album'),
  (10, 'stream', 'track'),    (11, 'stream', 'artist'), (12, 'stream', 'album'),
  (13, 'ban', 'track'),       (14, 'ban', 'artist'),    (15, 'ban', 'album'),
  (16, 'search', 'track'),    (17, 'search', 'artist'),
  (18, 'search', 'album'),    (19, 'search', 'playlist');

-- The vector of every entity an event can name: tracks as they are;
-- albums, artists and playlists as the mean of their tracks.
CREATE TABLE IF NOT EXISTS feature_entity_vectors(
  entity    TEXT NOT NULL,
  entity_id INTEGER NOT NULL,
  embedding BLOB NOT NULL,
  PRIMARY KEY (entity, entity_id)
) WITHOUT ROWID;
DELETE FROM feature_entity_vectors;
INSERT INTO feature_entity_vectors(entity, entity_id, embedding)
  SELECT 'track', track_id, embedding FROM tracks;
INSERT INTO feature_entity_vectors(entity, entity_id, embedding)
  SELECT 'album', album_id, vec_avg(embedding) FROM tracks
  WHERE album_id IS NOT NULL GROUP BY album_id;
INSERT INTO feature_entity_vectors(entity, entity_id, embedding)
  SELECT 'artist', artist_id, vec_avg(embedding) FROM tracks
  WHERE artist_id IS NOT NULL GROUP BY artist_id;
INSERT INTO feature_entity_vectors(entity, entity_id, embedding)
  SELECT 'playlist', p.playlist_id, vec_avg(t.embedding)
  FROM playlist_tracks AS p JOIN tracks AS t ON t.track_id = p.track_id
  WHERE p.playlist_id IS NOT NULL GROUP BY p.playlist_id;

-- Group 0: the mean vector of the warm users of each age class.
CREATE TABLE IF NOT EXISTS feature_age_vectors(
  age_class INTEGER PRIMARY KEY,  -- 0: <18, 1: 18-24, 2: 25-34, 3: 35-49, 4: 50+
  embedding BLOB NOT NULL
);
DELETE FROM feature_age_vectors;
INSERT INTO feature_age_vectors(age_class, embedding)
  SELECT CASE WHEN age < 18 THEN 0 WHEN age < 25 THEN 1 WHEN age < 35 THEN 2
              WHEN age < 50 THEN 3 ELSE 4 END,
         vec_avg(embedding)
  FROM users WHERE split = 'warm' AND embedding IS NOT NULL AND age IS NOT NULL
  GROUP BY 1;

-- Group 1: the mean vector of the warm users of each country.
CREATE TABLE IF NOT EXISTS feature_country_vectors(
  country   TEXT PRIMARY KEY,
  embedding BLOB NOT NULL
);
DELETE FROM feature_country_vectors;
INSERT INTO feature_country_vectors(country, embedding)
  SELECT country, vec_avg(embedding)
  FROM users WHERE split = 'warm' AND embedding IS NOT NULL AND country IS NOT NULL
  GROUP BY country;

-- Every user's vector: age, country, the 18 interaction groups, the 18
-- counts, the age.  Groups 2..19 and their counts come from the user's
-- events in one indexed pass each (vec_group_avg / vec_group_count: the 18
-- group means, or counts, laid end to end, zeros for groups without
-- events); events of other (action, entity) pairs are not features.
-- A view, so that one user's vector can also be computed online, once the
-- helper tables exist:  SELECT features FROM user_feature_vectors
--                       WHERE user_id = ?;   (indexed: only that user)
DROP VIEW IF EXISTS user_feature_vectors;
CREATE VIEW user_feature_vectors(user_id, features) AS
  SELECT u.user_id,
         vec_concat(
           coalesce(a.embedding, vec_zeros((SELECT vec_length(embedding) FROM tracks LIMIT 1))),
           coalesce(c.embedding, vec_zeros((SELECT vec_length(embedding) FROM tracks LIMIT 1))),
           coalesce((SELECT vec_group_avg(g.group_index - 2, v.embedding, 18)
                     FROM registration_events AS e
                     JOIN feature_groups AS g ON g.action = e.action AND g.entity = e.entity
                     LEFT JOIN feature_entity_vectors AS v
                            ON v.entity = e.entity AND v.entity_id = e.entity_id
                     WHERE e.user_id = u.user_id),
                    vec_zeros(18 * (SELECT vec_length(embedding) FROM tracks LIMIT 1))),
           coalesce((SELECT vec_group_count(g.group_index - 2, 18)
                     FROM registration_events AS e
                     JOIN feature_groups AS g ON g.action = e.action AND g.entity = e.entity
                     WHERE e.user_id = u.user_id),
                    vec_zeros(18)),
           vec_f32(json_array(coalesce(u.age, 0))))
  FROM users AS u
  LEFT JOIN feature_age_vectors AS a
         ON a.age_class = CASE WHEN u.age IS NULL THEN NULL
                               WHEN u.age < 18 THEN 0 WHEN u.age < 25 THEN 1
                               WHEN u.age < 35 THEN 2 WHEN u.age < 50 THEN 3
                               ELSE 4 END
  LEFT JOIN feature_country_vectors AS c ON c.country = u.country;

DELETE FROM user_features;
INSERT INTO user_features(user_id, features)
  SELECT user_id, features FROM user_feature_vectors;

RELEASE features;
