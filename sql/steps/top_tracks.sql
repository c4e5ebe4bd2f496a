-- top_tracks.sql - step 4: what each segment loves, and what everyone loves.
--
-- popular_tracks(rank, track_id, listeners): the Popularity list, tracks
--   ranked by how many warm users listened to them in their first month
--   (future_listens), ties by smaller track id.  Twice top_k long, so that
--   padding below always finds enough tracks that are not repeats.
-- segment_top_tracks(segmentation, segment_id, rank, track_id, listeners):
--   per segment, tracks ranked by how many of its warm users listened to
--   them, ties by smaller id; a segment whose users listened to fewer than
--   top_k distinct tracks is padded with the Popularity list, skipping
--   repeats (listeners = 0 marks the padding).

DROP TABLE IF EXISTS popular_tracks;
CREATE TABLE popular_tracks(
  rank      INTEGER PRIMARY KEY,
  track_id  INTEGER NOT NULL,
  listeners INTEGER NOT NULL
);
INSERT INTO popular_tracks
  SELECT row_number() OVER (ORDER BY listeners DESC, track_id), track_id, listeners
  FROM (SELECT f.track_id, count(DISTINCT f.user_id) AS listeners
        FROM future_listens AS f JOIN users AS u USING (user_id)
        WHERE u.split = 'warm'
        GROUP BY f.track_id)
  ORDER BY 1
  LIMIT 2 * (SELECT value FROM run_settings WHERE name = 'top_k');

DROP TABLE IF EXISTS segment_top_tracks;
CREATE TABLE segment_top_tracks(
  segmentation TEXT NOT NULL,
  segment_id   INTEGER NOT NULL,
  rank         INTEGER NOT NULL,
  track_id     INTEGER NOT NULL,
  listeners    INTEGER NOT NULL,
  PRIMARY KEY (segmentation, segment_id, rank)
) WITHOUT ROWID;

-- Listeners of each track within each segment.
INSERT INTO segment_top_tracks
  SELECT segmentation, segment_id, rank, track_id, listeners
  FROM (SELECT segmentation, segment_id, track_id, listeners,
               row_number() OVER (PARTITION BY segmentation, segment_id
                                  ORDER BY listeners DESC, track_id) AS rank
        FROM (SELECT m.segmentation, m.segment_id, f.track_id,
                     count(DISTINCT f.user_id) AS listeners
              FROM segment_members AS m JOIN future_listens AS f USING (user_id)
              GROUP BY m.segmentation, m.segment_id, f.track_id))
  WHERE rank <= (SELECT value FROM run_settings WHERE name = 'top_k');

-- Padding: short segments (also those with no listens at all) continue
-- with the Popularity list, skipping tracks they already have.
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
        WHERE s.have < (SELECT value FROM run_settings WHERE name = 'top_k')
          AND NOT EXISTS (SELECT 1 FROM segment_top_tracks AS t
                          WHERE t.segmentation = s.segmentation
                            AND t.segment_id = s.segment_id
                            AND t.track_id = p.track_id))
  WHERE rank <= (SELECT value FROM run_settings WHERE name = 'top_k');
