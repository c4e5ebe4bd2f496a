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
-- Age classes: <18, 18-24, 25-34, 35-49, 50+ (0..4), as age_class()
-- gives them; an age must be NULL or a number in [0, 150].
--
-- Helper tables (kept, so their vectors can be inspected): feature_groups,
-- feature_entity_vectors, feature_age_vectors, feature_country_vectors;
-- and the view user_feature_vectors, which computes any user's vector.
-- Re-running replaces them and user_features, all
-- inside one savepoint (so it also works inside an open transaction).
--
-- Features given: when the setting "features" is 'given' (the settings
-- table, else dataset_info, as steps/settings.sql resolves it), e.g. for
-- the public Deezer release, which ships them ready-made and has no
-- registration events, user_features is the data itself: this script then
-- checks that every user has a vector of this layout and leaves
-- user_features as it is.  Asked to compute features where dataset_info
-- says there are no registration events, it stops with an error.

DROP TABLE IF EXISTS temp.feature_source;
CREATE TEMP TABLE feature_source AS
  SELECT coalesce((SELECT value FROM settings WHERE name = 'features'),
                  (SELECT value FROM dataset_info WHERE name = 'features'),
                  'events') AS features,
         (SELECT vec_length(embedding) FROM tracks LIMIT 1) AS d;

SELECT raise_error('features.sql: dataset_info says registration_events are absent, so there '
                   || 'is nothing to compute features from; keep the given user_features '
                   || 'with INSERT OR REPLACE INTO settings VALUES (''features'', ''given'')')
FROM temp.feature_source AS s
WHERE s.features = 'events'
  AND EXISTS (SELECT 1 FROM dataset_info
              WHERE name = 'registration_events' AND value = 'absent');

-- Given: every user has a vector, of 20 d + 19 floats (the steps read
-- groups and counts by position).
SELECT raise_error(printf('features.sql: the features are given, but %d users have no row in '
                          || 'user_features (e.g. user %d); import them, or compute them from '
                          || 'registration events with the setting features = ''events''',
                          count(*), min(u.user_id)))
FROM users AS u, temp.feature_source AS s
WHERE s.features = 'given'
  AND NOT EXISTS (SELECT 1 FROM user_features AS f WHERE f.user_id = u.user_id)
HAVING count(*) > 0;
SELECT raise_error(printf('features.sql: the features are given, but user %d has %d floats in '
                          || 'user_features where the layout above has 20 d + 19 = %d (d = %d, '
                          || 'the tracks'' dimension)',
                          f.user_id, length(f.features) / 4, 20 * s.d + 19, s.d))
FROM user_features AS f, temp.feature_source AS s
WHERE s.features = 'given' AND length(f.features) <> 4 * (20 * s.d + 19)
LIMIT 1;

-- The checks above only read, so they run before the savepoint: an
-- interrupted or failing read inside it would leave it open.
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
  SELECT age_class(age), vec_avg(embedding)
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
-- counts, the age, computed by user_input_features() from the user's
-- country, age and events (a JSON array, in rowid order: the means are
-- summed in that order).  Events of other (action, entity) pairs are not
-- features.  Online serving calls the same function with a new user's
-- data (recommend_cold_user), so the two can never differ.  A view, so
-- that one user's vector can also be computed on its own, once the helper
-- tables exist:  SELECT features FROM user_feature_vectors
--                WHERE user_id = ?;   (indexed: only that user)
DROP VIEW IF EXISTS user_feature_vectors;
CREATE VIEW user_feature_vectors(user_id, features) AS
  SELECT u.user_id, f.features
  FROM users AS u,
       user_input_features(
         u.country, u.age,
         (SELECT json_group_array(json_array(e.action, e.entity, e.entity_id))
          FROM (SELECT action, entity, entity_id FROM registration_events
                WHERE user_id = u.user_id ORDER BY rowid) AS e)) AS f;

-- Computed from events unless given.
DELETE FROM user_features
WHERE (SELECT features FROM temp.feature_source) = 'events';
INSERT INTO user_features(user_id, features)
  SELECT user_id, features FROM user_feature_vectors
  WHERE (SELECT features FROM temp.feature_source) = 'events';

DROP TABLE temp.feature_source;
RELEASE features;
