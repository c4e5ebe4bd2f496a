-- describe.sql - step 7: what each warm user segment is (the paper's Table 2).
--
-- segment_descriptions(segment_id, size, top_country, country_share,
-- top_age_class, age_class_share, top_artists): for each segment of
-- 'warm_users', its number of warm users, its most common country and age
-- class (ties by smaller value) with their share of the segment, and the
-- JSON array of its 5 artists with the most listeners among its users'
-- first-month listens.  The sizes add up to the number of warm users.
-- What the data lacks stays NULL, with a note in run_notes: no user with
-- a country (top_country, country_share), no track with an artist
-- (top_artists), as in the public Deezer release.

INSERT INTO run_notes
  SELECT 'describe.sql', 'segment_descriptions: top_country and country_share are NULL: '
         || 'no user has a country'
  WHERE NOT EXISTS (SELECT 1 FROM users WHERE country IS NOT NULL);
INSERT INTO run_notes
  SELECT 'describe.sql', 'segment_descriptions: top_artists is NULL: no track has an artist_id'
  WHERE NOT EXISTS (SELECT 1 FROM tracks WHERE artist_id IS NOT NULL);

DROP TABLE IF EXISTS segment_descriptions;
CREATE TABLE segment_descriptions(
  segment_id      INTEGER PRIMARY KEY,
  size            INTEGER NOT NULL,
  top_country     TEXT,
  country_share   REAL,
  top_age_class   TEXT,
  age_class_share REAL,
  top_artists     TEXT
);

-- Each track's artist, apart from the tracks' vectors: looked up once per
-- listen, from a table that stays in the page cache.
DROP TABLE IF EXISTS temp.track_artists;
CREATE TEMP TABLE track_artists(track_id INTEGER PRIMARY KEY, artist_id INTEGER);
INSERT INTO temp.track_artists SELECT track_id, artist_id FROM tracks;

-- Artists ranked within each segment by listeners among its members.
DROP TABLE IF EXISTS temp.segment_artists;
CREATE TEMP TABLE segment_artists(segment_id INTEGER, rank INTEGER, artist_id INTEGER,
                                  PRIMARY KEY (segment_id, rank));
INSERT INTO segment_artists
  SELECT s.segment_id, t.key + 1, json_extract(t.value, '$[0]')
  FROM (SELECT m.segment_id, top_items(m.user_id, tr.artist_id, 5) AS top
        FROM segment_members AS m
        JOIN future_listens AS f USING (user_id)
        JOIN temp.track_artists AS tr USING (track_id)
        WHERE m.segmentation = 'warm_users'
          AND EXISTS (SELECT 1 FROM tracks WHERE artist_id IS NOT NULL)
        GROUP BY m.segment_id) AS s,
       json_each(s.top) AS t;
DROP TABLE temp.track_artists;

INSERT INTO segment_descriptions
  WITH members AS (
    SELECT m.segment_id, u.user_id, u.country,
           CASE WHEN u.age IS NULL THEN NULL
                WHEN u.age < 18 THEN '<18'
                WHEN u.age < 25 THEN '18-24'
                WHEN u.age < 35 THEN '25-34'
                WHEN u.age < 50 THEN '35-49'
                ELSE '50+' END AS age_class
    FROM segment_members AS m JOIN users AS u USING (user_id)
    WHERE m.segmentation = 'warm_users'),
  sizes AS (SELECT segment_id, count(*) AS size FROM members GROUP BY segment_id),
  countries AS (
    SELECT segment_id, country, n,
           row_number() OVER (PARTITION BY segment_id ORDER BY n DESC, country) AS rank
    FROM (SELECT segment_id, country, count(*) AS n FROM members
          WHERE country IS NOT NULL GROUP BY segment_id, country)),
  ages AS (
    SELECT segment_id, age_class, n,
           row_number() OVER (PARTITION BY segment_id ORDER BY n DESC, age_class) AS rank
    FROM (SELECT segment_id, age_class, count(*) AS n FROM members
          WHERE age_class IS NOT NULL GROUP BY segment_id, age_class))
  SELECT s.segment_id, s.size,
         c.country, round(1.0 * c.n / s.size, 4),
         a.age_class, round(1.0 * a.n / s.size, 4),
         CASE WHEN EXISTS (SELECT 1 FROM tracks WHERE artist_id IS NOT NULL) THEN
           (SELECT json_group_array(artist_id)
            FROM (SELECT artist_id FROM temp.segment_artists AS x
                  WHERE x.segment_id = s.segment_id ORDER BY x.rank)) END
  FROM sizes AS s
  LEFT JOIN countries AS c ON c.segment_id = s.segment_id AND c.rank = 1
  LEFT JOIN ages AS a ON a.segment_id = s.segment_id AND a.rank = 1;
