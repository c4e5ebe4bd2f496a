-- synthesize_dataset(): the statistics of a small generated set fall in the
-- ranges the paper reports (README.md, A synthetic dataset), the structure is there,
-- the same seed gives the same rows, and bad options are errors.
.bail off
.headers off
.mode list

-- The counts of the first two output lines (albums, artists,
-- playlist_tracks, registration_events, future_listens) are REGRESSION
-- VALUES: pinned from a run of the generator for this seed, not worked out
-- by hand; the second line checks them against the tables themselves, and
-- the checks below test the properties the generator promises.
-- (A write statement cannot wrap it, e.g. CREATE TABLE AS: it opens its
-- own savepoint; so the summary is printed, then the counts it claims.)
SELECT json_remove(synthesize_dataset(
  '{"tracks": 2000, "warm": 800, "validation": 200, "test": 200, "dim": 16, "seed": 7}'),
  '$.seconds');
SELECT json_object('tracks', count(*), 'albums', count(DISTINCT album_id),
  'artists', count(DISTINCT artist_id),
  'playlists', (SELECT count(DISTINCT playlist_id) FROM playlist_tracks),
  'playlist_tracks', (SELECT count(*) FROM playlist_tracks),
  'registration_events', (SELECT count(*) FROM registration_events),
  'future_listens', (SELECT count(*) FROM future_listens)) FROM tracks;
CREATE TABLE t(x);
INSERT INTO t SELECT synthesize_dataset('{"replace": true}');
SELECT split, count(*), count(embedding) FROM users GROUP BY split ORDER BY split;

-- Tracks are unit vectors of dim 16.
SELECT min(vec_length(embedding)), max(vec_length(embedding)),
       max(abs(vec_distance_l2(embedding, vec_zeros(16)) - 1)) < 1e-5 FROM tracks;
-- Demographics: ages 15-70, 20 countries, the largest far larger than the smallest.
SELECT min(age) >= 15, max(age) <= 70, count(DISTINCT country) FROM users;
SELECT max(n) > 4 * min(n) FROM (SELECT count(*) AS n FROM users GROUP BY country);

-- Registration day, over cold users: ~77 % stream, ~5 % nothing.
SELECT 'stream % in [70, 84]', avg(s) * 100 BETWEEN 70 AND 84,
       'no event % in [2, 9]', avg(n) * 100 BETWEEN 2 AND 9
FROM (SELECT EXISTS (SELECT 1 FROM registration_events e
                     WHERE e.user_id = u.user_id AND action = 'stream') AS s,
             NOT EXISTS (SELECT 1 FROM registration_events e WHERE e.user_id = u.user_id) AS n
      FROM users u WHERE split <> 'warm');
-- Skips and bans ~12 % of events; onboarding artist likes are common.
SELECT 'negative % in [9, 15]', avg(action IN ('skip', 'ban')) * 100 BETWEEN 9 AND 15,
       'onboarding users % > 40', count(DISTINCT CASE WHEN action = 'onboarding_like' THEN user_id END)
         * 100.0 / (SELECT count(*) FROM users) > 40
FROM registration_events;
-- Every (action, entity) pair of section 3, and nothing else.
SELECT count(*) FROM (SELECT DISTINCT action, entity FROM registration_events);
SELECT count(*) FROM registration_events WHERE (action, entity) NOT IN (VALUES
  ('favorite','track'), ('favorite','artist'), ('favorite','album'), ('favorite','playlist'),
  ('onboarding_like','artist'), ('skip','track'), ('skip','artist'), ('skip','album'),
  ('stream','track'), ('stream','artist'), ('stream','album'), ('ban','track'),
  ('ban','artist'), ('ban','album'), ('search','track'), ('search','artist'),
  ('search','album'), ('search','playlist'));
-- Events name existing entities.
SELECT count(*) FROM registration_events e WHERE NOT CASE entity
  WHEN 'track' THEN EXISTS (SELECT 1 FROM tracks WHERE track_id = entity_id)
  WHEN 'album' THEN EXISTS (SELECT 1 FROM tracks WHERE album_id = entity_id)
  WHEN 'artist' THEN EXISTS (SELECT 1 FROM tracks WHERE artist_id = entity_id)
  ELSE EXISTS (SELECT 1 FROM playlist_tracks WHERE playlist_id = entity_id) END;

-- Future listens: every user, >= 50 distinct tracks each, no repeats.
SELECT count(DISTINCT user_id) = (SELECT count(*) FROM users), min(n) >= 50, avg(n) BETWEEN 60 AND 120
FROM (SELECT user_id, count(DISTINCT track_id) AS n FROM future_listens GROUP BY user_id);
SELECT count(*) FROM (SELECT 1 FROM future_listens GROUP BY user_id, track_id HAVING count(*) > 1);
-- Long tail: the 1 % most listened tracks get over 10 % of the listens,
-- the least listened half under 15 %.
WITH c AS (SELECT count(*) AS n, row_number() OVER (ORDER BY count(*) DESC) AS r
           FROM future_listens GROUP BY track_id)
SELECT sum(CASE WHEN r <= 20 THEN n END) * 1.0 / sum(n) > 0.10,
       (SELECT sum(n) FROM c WHERE r > 1000) * 1.0 / sum(n) < 0.15 FROM c;

-- Taste: registration-day streams point where the user's future listens
-- go; skips and bans mostly do not.  Warm vectors too.
CREATE TEMP TABLE taste AS
  SELECT f.user_id, vec_avg(t.embedding) AS centroid
  FROM future_listens f JOIN tracks t USING (track_id) GROUP BY f.user_id;
SELECT 'streams closer than negatives',
       avg(CASE WHEN action = 'stream' THEN 1 - vec_distance_cosine(t.embedding, c.centroid) END)
     > avg(CASE WHEN action IN ('skip', 'ban') THEN 1 - vec_distance_cosine(t.embedding, c.centroid) END) + 0.2
FROM registration_events e JOIN tracks t ON e.entity = 'track' AND t.track_id = e.entity_id
JOIN taste c ON c.user_id = e.user_id;
SELECT 'warm vector near own future listens',
       avg(1 - vec_distance_cosine(u.embedding, c.centroid)) >
       avg(1 - vec_distance_cosine(u.embedding, (SELECT centroid FROM taste WHERE user_id = u.user_id % 800 + 1))) + 0.2
FROM users u JOIN taste c USING (user_id) WHERE split = 'warm';
-- Demographics carry signal: users of the same country are more alike.
SELECT 'same country closer',
  (SELECT avg(1 - vec_distance_cosine(a.embedding, b.embedding)) FROM users a JOIN users b
   ON b.user_id = a.user_id + 1 WHERE a.split = 'warm' AND b.split = 'warm' AND a.country = b.country)
  > (SELECT avg(1 - vec_distance_cosine(a.embedding, b.embedding)) FROM users a JOIN users b
     ON b.user_id = a.user_id + 1 WHERE a.split = 'warm' AND b.split = 'warm' AND a.country <> b.country);

-- Determinism: a copy, then the same options again give the same rows; a
-- different seed gives different ones.
CREATE TABLE c_tracks AS SELECT * FROM tracks;
CREATE TABLE c_users AS SELECT * FROM users;
CREATE TABLE c_events AS SELECT rowid AS r, * FROM registration_events;
CREATE TABLE c_listens AS SELECT rowid AS r, * FROM future_listens;
CREATE TABLE c_playlists AS SELECT rowid AS r, * FROM playlist_tracks;
CREATE VIEW diff AS SELECT
  (SELECT count(*) FROM (SELECT * FROM tracks EXCEPT SELECT * FROM c_tracks)),
  (SELECT count(*) FROM (SELECT * FROM users EXCEPT SELECT * FROM c_users)),
  (SELECT count(*) FROM (SELECT rowid, * FROM registration_events EXCEPT SELECT * FROM c_events)),
  (SELECT count(*) FROM (SELECT rowid, * FROM future_listens EXCEPT SELECT * FROM c_listens)),
  (SELECT count(*) FROM (SELECT rowid, * FROM playlist_tracks EXCEPT SELECT * FROM c_playlists));
SELECT json_extract(synthesize_dataset('{"replace": true, "tracks": 2000, "warm": 800,
  "validation": 200, "test": 200, "dim": 16, "seed": 7}'), '$.tracks');
SELECT * FROM diff;
SELECT json_extract(synthesize_dataset('{"replace": true, "tracks": 2000, "warm": 800,
  "validation": 200, "test": 200, "dim": 16, "seed": 8}'), '$.tracks');
SELECT d1 > 1000, d2 > 500, d3 > 1000, d4 > 10000, d5 > 1000 FROM (SELECT "(SELECT count(*) FROM (SELECT * FROM tracks EXCEPT SELECT * FROM c_tracks))" AS d1,
  "(SELECT count(*) FROM (SELECT * FROM users EXCEPT SELECT * FROM c_users))" AS d2,
  "(SELECT count(*) FROM (SELECT rowid, * FROM registration_events EXCEPT SELECT * FROM c_events))" AS d3,
  "(SELECT count(*) FROM (SELECT rowid, * FROM future_listens EXCEPT SELECT * FROM c_listens))" AS d4,
  "(SELECT count(*) FROM (SELECT rowid, * FROM playlist_tracks EXCEPT SELECT * FROM c_playlists))" AS d5 FROM diff);
-- Indexes of schema.sql are back after the bulk load.
SELECT name FROM sqlite_schema WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name;

-- Errors: each names the option; the tables stay as they were.
SELECT synthesize_dataset();
SELECT synthesize_dataset('{"replace": true, "tracks": 20}');
SELECT synthesize_dataset('{"replace": true, "dim": 1}');
SELECT synthesize_dataset('{"replace": true, "dim": 2.5}');
SELECT synthesize_dataset('{"replace": true, "warm": "many"}');
SELECT synthesize_dataset('{"replace": true, "genres": 100, "tracks": 1000}');
SELECT synthesize_dataset('{"replace": true, "countries": 31}');
SELECT synthesize_dataset('{"replace": "yes"}');
SELECT synthesize_dataset('{"replace": true, "users": 10}');
SELECT synthesize_dataset('[1, 2]');
SELECT synthesize_dataset('{"tracks": ');
SELECT synthesize_dataset('{"replace": true, "tracks": 5000000, "dim": 4096}');
SELECT count(*) FROM tracks;
-- It writes tables: never from a view or trigger.
CREATE VIEW synth_view AS SELECT synthesize_dataset('{"replace": true}');
SELECT * FROM synth_view;
-- Works inside a transaction; ROLLBACK undoes it.
BEGIN;
SELECT json_extract(synthesize_dataset('{"replace": true, "tracks": 1000, "warm": 50, "validation": 0, "test": 0, "dim": 4}'), '$.warm');
SELECT count(*) FROM users;
ROLLBACK;
SELECT count(*) FROM users, (SELECT count(*) AS t FROM tracks) WHERE t = 2000;
