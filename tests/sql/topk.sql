-- topk.sql - topk_tracks / topk_tracks_batch against a brute-force sort.
CREATE TABLE tracks(track_id INTEGER PRIMARY KEY, embedding BLOB NOT NULL);
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 80)
INSERT INTO tracks SELECT n * 3, vec_f32(json_array((n * 37) % 11 - 5, (n * 53) % 13 - 6,
  (n * 71) % 7 - 3, (n * 17) % 5 - 1.5, (n * 29) % 9 - 4)) FROM i;
-- Exact copies under larger ids: ties that must rank by smaller id.
INSERT INTO tracks SELECT track_id + 1000, embedding FROM tracks WHERE track_id % 9 = 0;
CREATE TABLE q(qid INTEGER PRIMARY KEY, e BLOB);
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 12)
INSERT INTO q SELECT n, vec_f32(json_array((n * 7) % 5 - 2, (n * 11) % 7 - 3.5,
  (n * 5) % 3 - 1, (n * 13) % 9 - 4, n % 4 - 1.5)) FROM i;
INSERT INTO q SELECT 100 + qid, embedding FROM q, tracks WHERE qid <= 3 AND track_id = 27;

-- Brute force: every (query, track) cosine in double, from the raw vectors
-- decoded in plain SQL (lib/f32.sql), not by the extension; a zero vector
-- scores 0.
.read lib/f32.sql
INSERT INTO f32_input SELECT 'q', qid, e FROM q;
INSERT INTO f32_input SELECT 't', track_id, embedding FROM tracks;
CREATE TEMP TABLE comp AS SELECT * FROM f32_components;
CREATE TEMP TABLE ref AS
  SELECT a.id AS qid, b.id AS track_id,
         coalesce(sum(a.x * b.x) / sqrt(sum(a.x * a.x) * sum(b.x * b.x)), 0) AS s
  FROM comp AS a JOIN comp AS b ON a.kind = 'q' AND b.kind = 't' AND b.j = a.j
  GROUP BY a.id, b.id;
SELECT 'reference rows', count(*) = (SELECT count(*) FROM q) * (SELECT count(*) FROM tracks)
  FROM ref;
CREATE TEMP TABLE got AS SELECT q.qid, t.* FROM q, topk_tracks(q.e, 10) AS t;
CREATE TEMP TABLE got_all AS SELECT q.qid, t.* FROM q, topk_tracks(q.e, 1000) AS t;

SELECT 'k=10 rows', count(*), count(DISTINCT qid) FROM got;
-- Scores are the brute-force cosines (to float precision).
SELECT 'k=10 scores agree', max(abs(g.score - r.s)) < 1e-6
  FROM got AS g JOIN ref AS r USING (qid, track_id);
-- They are the 10 best: nothing left out scores above the 10th.
SELECT 'k=10 nothing better left out', count(*) FROM ref AS r
  WHERE r.track_id NOT IN (SELECT track_id FROM got AS g WHERE g.qid = r.qid)
    AND r.s > (SELECT min(score) FROM got AS g WHERE g.qid = r.qid) + 1e-6;
-- Best first, equal scores by smaller id: rank is the sort position.
SELECT 'k=10 rank = sorted position', count(*) FROM (
  SELECT rank, row_number() OVER (PARTITION BY qid ORDER BY score DESC, track_id) AS pos
  FROM got) WHERE rank <> pos;
-- k > n: every track once, in the same order as a full brute-force sort
-- (where the brute force sees no tie closer than 1e-6, ranks must agree).
SELECT 'k > n: rows per query', min(c), max(c), min(dc), (SELECT count(*) FROM tracks) FROM
  (SELECT count(*) AS c, count(DISTINCT track_id) AS dc FROM got_all GROUP BY qid);
SELECT 'k > n rank = brute-force sort', count(*) FROM (
  SELECT g.rank, row_number() OVER (PARTITION BY g.qid ORDER BY r.s DESC, r.track_id) AS pos,
         r.s - lead(r.s) OVER (PARTITION BY g.qid ORDER BY r.s DESC, r.track_id) AS gap_next,
         lag(r.s) OVER (PARTITION BY g.qid ORDER BY r.s DESC, r.track_id) - r.s AS gap_prev
  FROM got_all AS g JOIN ref AS r USING (qid, track_id))
  WHERE rank <> pos AND coalesce(gap_next, 1) > 1e-6 AND coalesce(gap_prev, 1) > 1e-6;
SELECT 'k > n rank = sorted position', count(*) FROM (
  SELECT rank, row_number() OVER (PARTITION BY qid ORDER BY score DESC, track_id) AS pos
  FROM got_all) WHERE rank <> pos;
SELECT 'ties by smaller id', group_concat(track_id, ' ') FROM topk_tracks(
  (SELECT embedding FROM tracks WHERE track_id = 27), 4);
SELECT 'JSON argument', rank, track_id, printf('%.4f', score)
  FROM topk_tracks('[1, 0, 0, 0, 0]', 2);
SELECT 'ordered by rank', group_concat(rank, ',') FROM
  (SELECT rank FROM topk_tracks((SELECT e FROM q WHERE qid = 1), 5) ORDER BY rank);

-- The batch form gives the same rows as one call per user.
SELECT 'batch mismatches', count(*) FROM (
  SELECT user_id, rank, track_id, score
    FROM topk_tracks_batch('SELECT qid, e FROM q ORDER BY qid DESC', 7)
  EXCEPT SELECT qid, t.rank, t.track_id, t.score FROM q, topk_tracks(q.e, 7) AS t);
SELECT 'batch rows', count(*), count(DISTINCT user_id)
  FROM topk_tracks_batch('SELECT qid, e FROM q', 7);
SELECT 'batch k > n', count(*) FROM topk_tracks_batch('SELECT qid, e FROM q WHERE qid < 3', 5000);
-- The lists form: per user the JSON array of the same tracks, best first,
-- against one call per user (each list rebuilt in rank order, as text:
-- the same JSON as json_group_array()).
SELECT 'lists mismatches', count(*), (SELECT count(*) FROM q) FROM (
  SELECT user_id, tracks
    FROM topk_tracks_lists('SELECT qid, e FROM q ORDER BY qid DESC', 7)
  EXCEPT SELECT qid, (SELECT json_group_array(track_id)
                      FROM (SELECT track_id FROM topk_tracks(q.e, 7) ORDER BY rank))
         FROM q);
SELECT 'dot lists mismatches', count(*) FROM (
  SELECT user_id, tracks FROM topk_tracks_lists('SELECT qid, e FROM q', 7, 'tracks', 'dot')
  EXCEPT SELECT qid, (SELECT json_group_array(track_id)
                      FROM (SELECT track_id FROM topk_tracks(q.e, 7, 'tracks', 'dot')
                            ORDER BY rank))
         FROM q);
SELECT 'lists k > n', count(*), min(json_array_length(tracks)), max(json_array_length(tracks))
  FROM topk_tracks_lists('SELECT qid, e FROM q WHERE qid < 3', 5000);
CREATE TABLE recs AS SELECT * FROM topk_tracks_batch('SELECT qid, e FROM q', 3);
SELECT 'stored', count(*) FROM recs;

-- Never stale: a change by this connection, inside a transaction too.
SELECT 'before', track_id FROM topk_tracks('[0, 0, 0, 0, 1]', 1);
BEGIN;
INSERT INTO tracks VALUES (5000, vec_f32('[0, 0, 0, 0, 1]'));
SELECT 'inserted', track_id, printf('%.4f', score) FROM topk_tracks('[0, 0, 0, 0, 1]', 1);
UPDATE tracks SET embedding = vec_f32('[0, 0, 0, 1, 0]') WHERE track_id = 5000;
SELECT 'updated', track_id FROM topk_tracks('[0, 0, 0, 1, 0]', 1);
ROLLBACK;
SELECT 'rolled back', track_id FROM topk_tracks('[0, 0, 0, 0, 1]', 1);
-- Whole statement: INSERT ... SELECT from a join keeps working.
INSERT INTO recs SELECT q.qid, t.rank, t.track_id, t.score FROM q, topk_tracks(q.e, 2) AS t;
SELECT 'recs', count(*) FROM recs;

-- Another table with an INTEGER PRIMARY KEY and an embedding column.
CREATE TABLE playlists(playlist_id INTEGER PRIMARY KEY, name TEXT, embedding BLOB);
INSERT INTO playlists VALUES (7, 'a', vec_f32('[1, 0, 0, 0, 0]')),
  (3, 'b', vec_f32('[0, 1, 0, 0, 0]')), (9, 'c', vec_f32('[1, 1, 0, 0, 0]'));
SELECT 'playlists', rank, track_id, printf('%.4f', score)
  FROM topk_tracks('[1, 0.5, 0, 0, 0]', 5, 'playlists');
DROP TABLE playlists;
CREATE TABLE playlists(playlist_id INTEGER PRIMARY KEY, embedding BLOB);
SELECT 'recreated empty', count(*) FROM topk_tracks('[1, 0, 0, 0, 0]', 5, 'playlists');

-- metric 'dot': the raw inner product with the vectors as stored.  The
-- coordinates are multiples of 1/2, so every product is exact in float
-- and double, and equal scores (ties by smaller id) are plentiful.  The
-- reference reads the vectors decoded in plain SQL above (comp).
CREATE TEMP TABLE ref_dot AS
  SELECT a.id AS qid, b.id AS track_id, sum(a.x * b.x) AS s
  FROM comp AS a JOIN comp AS b ON a.kind = 'q' AND b.kind = 't' AND b.j = a.j
  GROUP BY a.id, b.id;
CREATE TEMP TABLE got_dot AS SELECT q.qid, t.* FROM q, topk_tracks(q.e, 200, 'tracks', 'dot') AS t;
SELECT 'dot rows', count(*), count(DISTINCT qid) FROM got_dot;
SELECT 'dot = brute force', count(*) FROM (
  SELECT g.rank, g.score, r.s,
         row_number() OVER (PARTITION BY r.qid ORDER BY r.s DESC, r.track_id) AS pos
  FROM ref_dot AS r LEFT JOIN got_dot AS g USING (qid, track_id))
  WHERE rank IS NOT pos OR score IS NOT s;
SELECT 'dot ties', count(*) FROM (SELECT qid, score FROM got_dot GROUP BY 1, 2 HAVING count(*) > 1);
SELECT 'dot k=3', group_concat(track_id || ':' || score, ' ')
  FROM topk_tracks('[1, 0, 0, 0, 0.5]', 3, 'tracks', 'dot');
SELECT 'dot batch mismatches', count(*) FROM (
  SELECT user_id, rank, track_id, score
    FROM topk_tracks_batch('SELECT qid, e FROM q', 7, 'tracks', 'dot')
  EXCEPT SELECT qid, t.rank, t.track_id, t.score FROM q, topk_tracks(q.e, 7, 'tracks', 'dot') AS t);
-- The metrics have their own item matrices: alternating keeps each right.
SELECT 'alternating', (SELECT count(*) FROM q, topk_tracks(q.e, 10, 'tracks', 'cosine') AS t
                       JOIN got USING (qid, rank, track_id, score)),
       (SELECT count(*) FROM q, topk_tracks(q.e, 10, 'tracks', 'dot') AS t
         JOIN got_dot USING (qid, rank, track_id, score));
-- Hidden columns as constraints: the same arguments.
SELECT 'by constraint', count(*) FROM topk_tracks
  WHERE embedding = '[1, 0, 0, 0, 0.5]' AND k = 3 AND tbl = 'tracks' AND metric = 'dot';

-- Bad input.
CREATE TABLE noemb(id INTEGER PRIMARY KEY, vec BLOB);
CREATE TABLE textkey(id TEXT PRIMARY KEY, embedding BLOB);
CREATE VIEW tracks_view AS SELECT * FROM tracks;
CREATE TABLE badrows(id INTEGER PRIMARY KEY, embedding BLOB);
INSERT INTO badrows VALUES (1, vec_f32('[1, 2]')), (2, NULL);
SELECT * FROM topk_tracks('[1, 0, 0]', 3);
SELECT * FROM topk_tracks(NULL, 3);
SELECT * FROM topk_tracks(x'0000', 3);
SELECT * FROM topk_tracks('[1, 0, 0, 0, 0]', 0);
SELECT * FROM topk_tracks('[1, 0, 0, 0, 0]', 'ten');
SELECT * FROM topk_tracks('[1, 0, 0, 0, 0]');
SELECT * FROM topk_tracks('[1, 0, 0, 0, 0]', 3, 'noemb');
SELECT * FROM topk_tracks('[1, 0, 0, 0, 0]', 3, 'textkey');
SELECT * FROM topk_tracks('[1, 0, 0, 0, 0]', 3, 'tracks_view');
SELECT * FROM topk_tracks('[1, 0, 0, 0, 0]', 3, 'missing');
SELECT * FROM topk_tracks('[1, 0, 0, 0, 0]', 3, 'tracks"; DROP TABLE tracks; --');
SELECT * FROM topk_tracks('[1, 0]', 3, 'badrows');
SELECT * FROM topk_tracks_batch('SELECT qid, e FROM q; DELETE FROM q', 3);
SELECT * FROM topk_tracks_batch('DELETE FROM q RETURNING qid, e', 3);
SELECT * FROM topk_tracks_batch('SELECT qid FROM q', 3);
SELECT * FROM topk_tracks_batch('SELECT qid, NULL FROM q', 3);
SELECT * FROM topk_tracks_batch('SELECT qid, vec_f32(''[1, 2]'') FROM q', 3);
CREATE VIEW unsafe AS SELECT * FROM topk_tracks_batch('SELECT qid, e FROM q', 3);
SELECT count(*) FROM unsafe;
SELECT * FROM topk_tracks_lists('SELECT qid, NULL FROM q', 3);
SELECT * FROM topk_tracks_lists(NULL, 3);
SELECT * FROM topk_tracks_lists('SELECT qid, e FROM q', 0);
SELECT * FROM topk_tracks_lists('SELECT qid, e FROM q', 3, 'missing');
SELECT * FROM topk_tracks_lists('SELECT qid, e FROM q', 3, 'tracks', 'l2');
SELECT * FROM topk_tracks_lists;
CREATE VIEW unsafe_lists AS SELECT * FROM topk_tracks_lists('SELECT qid, e FROM q', 3);
SELECT count(*) FROM unsafe_lists;
SELECT 'tracks intact', count(*) FROM tracks;
-- Arguments are read as by every other function: the same checks and
-- messages as vec_f32 and sp_int_arg (a float out of range is refused,
-- not read as a shorter vector), with the argument named.
SELECT * FROM topk_tracks('[1e40, 0, 0, 0, 0]', 2);
SELECT vec_f32('[1e40, 0, 0, 0, 0]');
SELECT * FROM topk_tracks(X'0000803F000000000000C07F0000000000000000', 2);
SELECT * FROM topk_tracks('[1, 0, 0, 0, 0]', 2.5);
SELECT * FROM topk_tracks_batch('SELECT qid, e FROM q', 'three');
SELECT * FROM topk_tracks_batch(NULL, 3);
SELECT * FROM topk_tracks('[1, 0, 0, 0, 0]', 3, 42);
SELECT * FROM topk_tracks('[1, 0, 0, 0, 0]', 3, 'tracks', 'l2');
SELECT * FROM topk_tracks('[1, 0, 0, 0, 0]', 3, 'tracks', NULL);
SELECT * FROM topk_tracks_batch('SELECT qid, e FROM q', 3, 'tracks', 2);
SELECT * FROM topk_tracks_batch('SELECT qid, e FROM q', 3, 'tracks', 'Dot');
