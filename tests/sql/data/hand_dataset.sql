-- hand_dataset.sql - the tiny hand-built dataset (d = 2) of the feature
-- and serving tests (tests/sql/features.sql, tests/sql/serve.sql), whose
-- input vectors are worked out by hand below.  Run after sql/schema.sql.

-- Tracks: albums 10 = {1, 2}, 11 = {3}, 12 = {4}; artists 100 = {1, 2, 3},
-- 200 = {4}; playlist 7 = {1, 4}.  So album 10 = (0.5, 0.5), artist 100 =
-- (2/3, 2/3), artist 200 = (2, 0), playlist 7 = (1.5, 0).
INSERT INTO tracks VALUES (1, 10, 100, vec_f32('[1, 0]')), (2, 10, 100, vec_f32('[0, 1]')),
                          (3, 11, 100, vec_f32('[1, 1]')), (4, 12, 200, vec_f32('[2, 0]'));
INSERT INTO playlist_tracks VALUES (7, 1), (7, 4);
-- Warm users 1 and 3 are FR, 18-24: age class 1 and FR vectors are both
-- mean((1,3), (3,5)) = (2, 4); DE and class 35-49 are (3, 1).
INSERT INTO users VALUES (1, 'warm', 'FR', 20, vec_f32('[1, 3]')),
                         (2, 'warm', 'DE', 40, vec_f32('[3, 1]')),
                         (3, 'warm', 'FR', 22, vec_f32('[3, 5]')),
                         (4, 'test', 'FR', 19, NULL),
                         (5, 'validation', 'US', 60, NULL),
                         (6, 'test', NULL, NULL, NULL);
-- User 4: stream/track 1, 2, 1 (twice counts twice) -> (2/3, 1/3), 3;
-- stream/album 10 -> (0.5, 0.5); skip/track 4 -> (2, 0); favorite/playlist 7
-- -> (1.5, 0); onboarding_like/artist 100, 200 -> (4/3, 1/3), 2;
-- search/artist 999 has no vector: counted, zeros; share/track is no group.
INSERT INTO registration_events VALUES
  (4, 'stream', 'track', 1), (4, 'stream', 'track', 2), (4, 'stream', 'track', 1),
  (4, 'stream', 'album', 10), (4, 'skip', 'track', 4),
  (4, 'favorite', 'playlist', 7),
  (4, 'onboarding_like', 'artist', 100), (4, 'onboarding_like', 'artist', 200),
  (4, 'search', 'artist', 999), (4, 'share', 'track', 1);

