-- recommend.sql - step 5: list_length tracks (top_k, or the largest of
-- eval_ks if larger; see steps/settings.sql) for every cold (validation and
-- test) user, by every method, into recommendation_lists(method, user_id,
-- tracks): one row per list, tracks the JSON array of its track ids best
-- first; the view recommendations(user_id, method, rank, track_id) shows
-- them one row per rank.  Methods (the paper's Table 1):
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
-- cold user's segment in both segmentations) and the view segment_lists
-- (each segment's list, as JSON).

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

-- One row per (method, user); lists rather than a row per rank (15 M rows
-- at the paper's scale), which evaluate.sql reads as they are.
DROP TABLE IF EXISTS recommendation_lists;
CREATE TABLE recommendation_lists(
  method  TEXT NOT NULL,
  user_id INTEGER NOT NULL,
  tracks  TEXT NOT NULL,  -- JSON array of track ids, best first
  PRIMARY KEY (method, user_id)
) WITHOUT ROWID;
DROP VIEW IF EXISTS recommendations;
CREATE VIEW recommendations(user_id, method, rank, track_id) AS
  SELECT l.user_id, l.method, t.key + 1, t.value
  FROM recommendation_lists AS l, json_each(l.tracks) AS t;

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

-- Users by segment: each segment's list is joined to its users.
CREATE INDEX cold_segments_by_segment ON cold_segments(segmentation, segment_id);

-- Each segment's list, its tracks in rank order as JSON (also read by
-- steps/baselines_recommend.sql for the baselines' segmentations).
DROP VIEW IF EXISTS segment_lists;
CREATE VIEW segment_lists(segmentation, segment_id, tracks) AS
  SELECT s.segmentation, s.segment_id,
         (SELECT json_group_array(track_id)
          FROM (SELECT t.track_id FROM segment_top_tracks AS t
                WHERE t.segmentation = s.segmentation AND t.segment_id = s.segment_id
                ORDER BY t.rank))
  FROM (SELECT DISTINCT segmentation, segment_id FROM segment_top_tracks) AS s;

-- Semi-personalized: the production system.  MATERIALIZED: each
-- segment's list built once, not once per user.
INSERT INTO recommendation_lists
  WITH lists AS MATERIALIZED (SELECT * FROM segment_lists WHERE segmentation = 'warm_users')
  SELECT 'semi_personalized', c.user_id, l.tracks
  FROM cold_segments AS c
  JOIN lists AS l USING (segmentation, segment_id);

-- Fully personalized: nearest tracks, all users scored in sgemm blocks.
INSERT INTO recommendation_lists
  SELECT 'full_personalized', user_id, tracks
  FROM topk_tracks_lists('SELECT user_id, embedding FROM cold_embeddings',
                         (SELECT list_length FROM run_config), 'tracks',
                         (SELECT ranking_metric FROM run_config));

-- Popularity: one list for everyone.
INSERT INTO recommendation_lists
  SELECT 'popularity', u.user_id, p.tracks
  FROM users AS u,
       (SELECT json_group_array(track_id) AS tracks
        FROM (SELECT track_id FROM popular_tracks
              WHERE rank <= (SELECT list_length FROM run_config)
              ORDER BY rank)
        HAVING count(*) > 0) AS p  -- no list, as no row, without tracks
  WHERE u.split IN ('validation', 'test');

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

INSERT INTO recommendation_lists
  SELECT 'registration_day_streams', user_id, tracks
  FROM topk_tracks_lists('SELECT user_id, embedding FROM temp.stream_embeddings',
                         (SELECT list_length FROM run_config), 'tracks',
                         (SELECT ranking_metric FROM run_config));

-- ...and Popularity for those who streamed nothing.
INSERT INTO recommendation_lists
  SELECT 'registration_day_streams', u.user_id, p.tracks
  FROM users AS u JOIN recommendation_lists AS p
    ON p.method = 'popularity' AND p.user_id = u.user_id
  WHERE u.split IN ('validation', 'test')
    AND u.user_id NOT IN (SELECT user_id FROM temp.stream_embeddings);

-- Input Features Clustering: no network, the raw feature vector's segment.
INSERT INTO recommendation_lists
  WITH lists AS MATERIALIZED (SELECT * FROM segment_lists
                              WHERE segmentation = 'input_features')
  SELECT 'input_features_clustering', c.user_id, l.tracks
  FROM cold_segments AS c
  JOIN lists AS l USING (segmentation, segment_id);
