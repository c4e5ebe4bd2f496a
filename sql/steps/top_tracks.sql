-- top_tracks.sql - step 4: what each segment loves, and what everyone loves.
--
-- track_popularity(track_id, rank, listeners): every track ranked by how
--   many warm users listened to it in their first month (future_listens),
--   ties by smaller track id; the tracks nobody listened to come last
--   (listeners 0), by id.
-- popular_tracks(rank, track_id, listeners): the Popularity list, the
--   listened tracks of that ranking, twice list_length long (the length of
--   every list, see steps/settings.sql), so that padding below always finds
--   enough tracks that are not repeats.
-- segment_top_tracks(segmentation, segment_id, rank, track_id, listeners):
--   per segment, tracks ranked by how many of its warm users listened to
--   them, ties by smaller id; a segment whose users listened to fewer than
--   list_length distinct tracks is padded with the Popularity list, skipping
--   repeats (listeners = 0 marks the padding), unless the setting
--   pad_segments is 0 (the reference code's lists are not padded).

DROP TABLE IF EXISTS track_popularity;
CREATE TABLE track_popularity(
  track_id  INTEGER PRIMARY KEY,
  rank      INTEGER NOT NULL UNIQUE,
  listeners INTEGER NOT NULL
);
-- top_items(user, item, k) counts distinct users per item in one hashed
-- pass and returns the k best (here all of them) as JSON [[item, users],
-- ...], ties by smaller id; json_each turns it back into ranked rows.
INSERT INTO track_popularity(rank, track_id, listeners)
  SELECT t.key + 1, t.value ->> 0, t.value ->> 1
  FROM (SELECT top_items(f.user_id, f.track_id, 10000000) AS top
        FROM future_listens AS f JOIN users AS u USING (user_id)
        WHERE u.split = 'warm') AS p,
       json_each(p.top) AS t;
INSERT INTO track_popularity(rank, track_id, listeners)
  SELECT (SELECT count(*) FROM track_popularity) + row_number() OVER (ORDER BY track_id),
         track_id, 0
  FROM tracks WHERE track_id NOT IN (SELECT track_id FROM track_popularity);

DROP TABLE IF EXISTS popular_tracks;
CREATE TABLE popular_tracks(
  rank      INTEGER PRIMARY KEY,
  track_id  INTEGER NOT NULL,
  listeners INTEGER NOT NULL
);
INSERT INTO popular_tracks(rank, track_id, listeners)
  SELECT rank, track_id, listeners FROM track_popularity
  WHERE listeners > 0
    AND rank <= 2 * (SELECT list_length FROM run_config);

DROP TABLE IF EXISTS segment_top_tracks;
CREATE TABLE segment_top_tracks(
  segmentation TEXT NOT NULL,
  segment_id   INTEGER NOT NULL,
  rank         INTEGER NOT NULL,
  track_id     INTEGER NOT NULL,
  listeners    INTEGER NOT NULL,
  PRIMARY KEY (segmentation, segment_id, rank)
) WITHOUT ROWID;

-- Listeners of each track within each segment (segment_members is keyed
-- by segment, so the groups come in order with no sort).
INSERT INTO segment_top_tracks
  SELECT s.segmentation, s.segment_id, t.key + 1,
         json_extract(t.value, '$[0]'), json_extract(t.value, '$[1]')
  FROM (SELECT m.segmentation, m.segment_id,
               top_items(f.user_id, f.track_id,
                         (SELECT list_length FROM run_config)) AS top
        FROM segment_members AS m JOIN future_listens AS f USING (user_id)
        GROUP BY m.segmentation, m.segment_id) AS s,
       json_each(s.top) AS t;

-- Padding (setting pad_segments = 1): short segments (also those with no
-- listens at all) continue with the Popularity list, skipping tracks they
-- already have.
INSERT INTO segment_top_tracks
  SELECT segmentation, segment_id, rank, track_id, 0
  FROM (SELECT s.segmentation, s.segment_id, p.track_id,
               s.have + row_number() OVER (PARTITION BY s.segmentation, s.segment_id
                                           ORDER BY p.rank) AS rank
        FROM (SELECT m.segmentation, m.segment_id, count(t.rank) AS have
              FROM (SELECT DISTINCT segmentation, segment_id FROM segment_members) AS m
              LEFT JOIN segment_top_tracks AS t USING (segmentation, segment_id)
              GROUP BY m.segmentation, m.segment_id) AS s
        JOIN popular_tracks AS p
        WHERE s.have < (SELECT list_length FROM run_config)
          AND (SELECT pad_segments FROM run_config) = 1
          AND NOT EXISTS (SELECT 1 FROM segment_top_tracks AS t
                          WHERE t.segmentation = s.segmentation
                            AND t.segment_id = s.segment_id
                            AND t.track_id = p.track_id))
  WHERE rank <= (SELECT list_length FROM run_config);
