-- recommend.sql - step 5: list_length tracks (top_k, or the largest of
-- eval_ks if larger; see steps/settings.sql) for every cold (validation and
-- test) user, by every method, into recommendations(user_id, method, rank,
-- track_id).  Methods (the paper's Table 1):
--   semi_personalized          predicted vector -> nearest warm segment
--                              ('warm_users') -> that segment's top tracks
--   full_personalized          predicted vector -> best tracks by the setting
--                              ranking_metric ('cosine', or 'dot': the raw
--                              inner product, as the reference code)
--   popularity                 the Popularity list, the same for everyone
--   registration_day_streams   mean vector of the tracks streamed on the
--                              registration day -> best tracks by
--                              ranking_metric; the Popularity list when the
--                              user streamed none
--   input_features_clustering  L2-normalised input features -> nearest
--                              'input_features' segment -> its top tracks
-- Also kept: cold_embeddings (predicted vectors) and cold_segments (each
-- cold user's segment in both segmentations).

-- The network's prediction for every cold user (unit length).
DROP TABLE IF EXISTS cold_embeddings;
CREATE TABLE cold_embeddings(
  user_id   INTEGER PRIMARY KEY,
  embedding BLOB NOT NULL
);
INSERT INTO cold_embeddings
  SELECT u.user_id, embed_user('user_embedder', f.features)
  FROM users AS u JOIN user_features AS f USING (user_id)
  WHERE u.split IN ('validation', 'test');

DROP TABLE IF EXISTS recommendations;
CREATE TABLE recommendations(
  user_id  INTEGER NOT NULL,
  method   TEXT NOT NULL,
  rank     INTEGER NOT NULL,
  track_id INTEGER NOT NULL,
  PRIMARY KEY (method, user_id, rank)
) WITHOUT ROWID;

-- Each cold user's segment in both segmentations, computed once (joining
-- on assign_segment() directly would let the planner call it per row of
-- segment_top_tracks).
DROP TABLE IF EXISTS cold_segments;
CREATE TABLE cold_segments(
  segmentation TEXT NOT NULL,
  user_id      INTEGER NOT NULL,
  segment_id   INTEGER NOT NULL,
  PRIMARY KEY (segmentation, user_id)
) WITHOUT ROWID;
INSERT INTO cold_segments
  SELECT 'warm_users', user_id, assign_segment('warm_users', embedding)
  FROM cold_embeddings;
INSERT INTO cold_segments
  SELECT 'input_features', u.user_id,
         assign_segment('input_features', f.features)  -- normalised by it
  FROM users AS u JOIN user_features AS f USING (user_id)
  WHERE u.split IN ('validation', 'test');

-- Semi-personalized: the production system.
INSERT INTO recommendations
  SELECT c.user_id, 'semi_personalized', t.rank, t.track_id
  FROM cold_segments AS c
  JOIN segment_top_tracks AS t USING (segmentation, segment_id)
  WHERE c.segmentation = 'warm_users';

-- Fully personalized: nearest tracks, all users scored in sgemm blocks.
INSERT INTO recommendations
  SELECT user_id, 'full_personalized', rank, track_id
  FROM topk_tracks_batch('SELECT user_id, embedding FROM cold_embeddings',
                         (SELECT list_length FROM run_config), 'tracks',
                         (SELECT ranking_metric FROM run_config));

-- Popularity.
INSERT INTO recommendations
  SELECT u.user_id, 'popularity', p.rank, p.track_id
  FROM users AS u, popular_tracks AS p
  WHERE u.split IN ('validation', 'test')
    AND p.rank <= (SELECT list_length FROM run_config);

-- Registration Day Streams: the mean of the streamed tracks' vectors,
-- from registration_events (setting features = 'events')...
DROP TABLE IF EXISTS temp.stream_embeddings;
CREATE TEMP TABLE stream_embeddings(user_id INTEGER PRIMARY KEY, embedding BLOB);
INSERT INTO stream_embeddings
  SELECT e.user_id, vec_avg(t.embedding)
  FROM registration_events AS e
  JOIN users AS u USING (user_id)
  JOIN tracks AS t ON t.track_id = e.entity_id
  WHERE e.action = 'stream' AND e.entity = 'track'
    AND u.split IN ('validation', 'test')
    AND (SELECT features FROM run_config) = 'events'
  GROUP BY e.user_id;

-- ...or, when the features are given (there may be no events, as in the
-- public release), from the features, which hold that very mean: group
-- stream/track of the layout of sql/features.sql (the d floats from
-- group_index * d on), with its count of events (the float at 20 d +
-- group_index - 2); for users whose count is positive and mean nonzero.
INSERT INTO stream_embeddings
  SELECT u.user_id, substr(f.features, 4 * g.group_index * t.d + 1, 4 * t.d)
  FROM users AS u
  JOIN user_features AS f USING (user_id),
       (SELECT group_index FROM feature_groups
         WHERE action = 'stream' AND entity = 'track') AS g,
       (SELECT vec_length(embedding) AS d FROM tracks LIMIT 1) AS t
  WHERE u.split IN ('validation', 'test')
    AND (SELECT features FROM run_config) = 'given'
    AND vec_to_json(substr(f.features, 4 * (20 * t.d + g.group_index - 2) + 1, 4)) ->> 0 > 0
    AND vec_distance_l2(substr(f.features, 4 * g.group_index * t.d + 1, 4 * t.d),
                        vec_zeros(t.d)) > 0;
INSERT INTO run_notes
  SELECT 'recommend.sql', 'registration_day_streams: the mean vector of the tracks streamed on '
         || 'registration day is read from the given features (group stream/track), not '
         || 'computed from registration events'
  FROM run_config WHERE features = 'given';

INSERT INTO recommendations
  SELECT user_id, 'registration_day_streams', rank, track_id
  FROM topk_tracks_batch('SELECT user_id, embedding FROM temp.stream_embeddings',
                         (SELECT list_length FROM run_config), 'tracks',
                         (SELECT ranking_metric FROM run_config));

-- ...and Popularity for those who streamed nothing.
INSERT INTO recommendations
  SELECT u.user_id, 'registration_day_streams', p.rank, p.track_id
  FROM users AS u, popular_tracks AS p
  WHERE u.split IN ('validation', 'test')
    AND u.user_id NOT IN (SELECT user_id FROM temp.stream_embeddings)
    AND p.rank <= (SELECT list_length FROM run_config);

-- Input Features Clustering: no network, the raw feature vector's segment.
INSERT INTO recommendations
  SELECT c.user_id, 'input_features_clustering', t.rank, t.track_id
  FROM cold_segments AS c
  JOIN segment_top_tracks AS t USING (segmentation, segment_id)
  WHERE c.segmentation = 'input_features';
