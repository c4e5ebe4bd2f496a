-- segments.sql - train_segments / assign_segment, checked by hand and by
-- brute force in plain SQL: points and centroids decoded by lib/f32.sql
-- (not the extension's functions), squared distances summed coordinate by
-- coordinate in order, which is kmeans.h's exact distance for d <= 3.
.read lib/f32.sql
-- xy: the decoded vectors, up to 3 coordinates (missing ones 0).
CREATE TEMP VIEW decoded(kind, id, x0, x1, x2) AS
  SELECT kind, id, max(CASE j WHEN 0 THEN x END), coalesce(max(CASE j WHEN 1 THEN x END), 0),
         coalesce(max(CASE j WHEN 2 THEN x END), 0)
  FROM f32_components GROUP BY kind, id;
CREATE TEMP TABLE xy(kind TEXT, id INTEGER, x0, x1, x2);
-- Squared distances from points (kind 'p:TABLE') to centroids ('c:NAME').
CREATE TEMP VIEW sqdist(pkind, point, ckind, segment, d) AS
  SELECT P.kind, P.id, C.kind, C.id,
         ((P.x0 - C.x0) * (P.x0 - C.x0) + (P.x1 - C.x1) * (P.x1 - C.x1)) + (P.x2 - C.x2) * (P.x2 - C.x2)
  FROM xy AS P, xy AS C WHERE P.kind LIKE 'p:%' AND C.kind LIKE 'c:%';
CREATE TABLE pts(id INTEGER PRIMARY KEY, v BLOB);
-- Two blobs of three points: means (1/3, 1/3) and (31/3, 31/3); each blob's
-- squared distances to its mean are 2/9 + 5/9 + 5/9 = 4/3: inertia 8/3.
INSERT INTO pts VALUES (1, vec_f32('[0, 0]')), (2, vec_f32('[0, 1]')),
  (3, vec_f32('[1, 0]')), (4, vec_f32('[10, 10]')), (5, vec_f32('[10, 11]')),
  (6, vec_f32('[11, 10]'));
SELECT json_extract(train_segments('blobs', 'SELECT v FROM pts ORDER BY id',
  '{"k": 2, "seed": 3, "quiet": true}'), '$.k', '$.rows', '$.converged');
SELECT name, k, dims, train_rows, printf('%.6f', inertia), converged, options
  FROM semiperso_segmentations;
SELECT size, vec_to_json(centroid) FROM semiperso_segments
  WHERE segmentation = 'blobs' ORDER BY size, vec_to_json(centroid);
-- assign_segment is the nearest centroid (ties to the smaller id), by
-- brute force.
INSERT INTO f32_input SELECT 'p:pts', id, v FROM pts;
INSERT INTO f32_input SELECT 'c:blobs', segment_id, centroid FROM semiperso_segments
  WHERE segmentation = 'blobs';
INSERT INTO xy SELECT * FROM decoded;
DELETE FROM f32_input;
CREATE TEMP TABLE d_blobs AS SELECT point, segment, d FROM sqdist
  WHERE pkind = 'p:pts' AND ckind = 'c:blobs';
SELECT 'assign = brute force', count(*) FROM pts AS p
  JOIN d_blobs AS a ON a.point = p.id AND a.segment = assign_segment('blobs', p.v)
  WHERE NOT EXISTS (SELECT 1 FROM d_blobs AS b WHERE b.point = p.id
                    AND (b.d < a.d OR (b.d = a.d AND b.segment < a.segment)));
SELECT 'blobs apart', count(DISTINCT assign_segment('blobs', v)) FROM pts GROUP BY id > 3;
SELECT 'two segments', count(DISTINCT assign_segment('blobs', v)) FROM pts;
-- History: iteration 0 is k-means++; inertia never increases.
SELECT 'history', count(*), min(iteration), max(iteration) FROM semiperso_segmentation_history
  WHERE segmentation = 'blobs';
SELECT 'increases', count(*) FROM semiperso_segmentation_history AS a
  JOIN semiperso_segmentation_history AS b
    ON b.segmentation = a.segmentation AND b.iteration = a.iteration + 1
  WHERE b.inertia > a.inertia;

-- A larger random set: assignment agrees with brute force for every row,
-- and the same seed gives the same centroids.
CREATE TABLE rnd(id INTEGER PRIMARY KEY, v BLOB);
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 300)
INSERT INTO rnd SELECT n, vec_f32(json_array((n * 7919) % 101 / 10.0,
  (n * 104729) % 97 / 10.0, (n * 1299709) % 89 / 10.0)) FROM i;
SELECT json_extract(train_segments('rnd', 'SELECT v FROM rnd', '{"k": 12, "seed": 5,
  "max_iter": 50, "quiet": true}'), '$.k');
INSERT INTO f32_input SELECT 'p:rnd', id, v FROM rnd;
INSERT INTO f32_input SELECT 'c:rnd', segment_id, centroid FROM semiperso_segments
  WHERE segmentation = 'rnd';
INSERT INTO xy SELECT * FROM decoded;
DELETE FROM f32_input;
CREATE TEMP TABLE d_rnd AS SELECT point, segment, d FROM sqdist
  WHERE pkind = 'p:rnd' AND ckind = 'c:rnd';
CREATE INDEX d_rnd_point ON d_rnd(point);
SELECT 'rnd assign = brute force', count(*) FROM rnd AS p
  JOIN d_rnd AS a ON a.point = p.id AND a.segment = assign_segment('rnd', p.v)
  WHERE NOT EXISTS (SELECT 1 FROM d_rnd AS b WHERE b.point = p.id
                    AND (b.d < a.d OR (b.d = a.d AND b.segment < a.segment)));
SELECT 'sizes = assignments', count(*) FROM semiperso_segments AS s
  WHERE segmentation = 'rnd'
    AND size = (SELECT count(*) FROM rnd WHERE assign_segment('rnd', v) = s.segment_id);
SELECT 'inertia = brute force', abs(inertia - (SELECT sum(a.d) FROM rnd AS p
  JOIN d_rnd AS a ON a.point = p.id AND a.segment = assign_segment('rnd', p.v)))
  < 1e-9 * inertia FROM semiperso_segmentations WHERE name = 'rnd';
-- assign_segments: the same ids in one call, each row's the brute-force
-- nearest centroid, in the order of the rows.
CREATE TEMP TABLE batch AS SELECT m.key AS pos, m.value ->> 0 AS id, m.value ->> 1 AS segment
  FROM (SELECT assign_segments('rnd', id, v) AS j FROM (SELECT * FROM rnd ORDER BY id DESC)),
       json_each(j) AS m;
SELECT 'rnd assign_segments = brute force', count(*), sum(b.pos = 300 - b.id) FROM batch AS b
  JOIN d_rnd AS a ON a.point = b.id AND a.segment = b.segment
  WHERE NOT EXISTS (SELECT 1 FROM d_rnd AS c WHERE c.point = b.id
                    AND (c.d < a.d OR (c.d = a.d AND c.segment < a.segment)));
-- Rows of 1024 floats come in blocks of 4096 rows: 10000 rows fill two
-- and part of a third, every id as assign_segment's.
CREATE TEMP TABLE wide(id INTEGER PRIMARY KEY, v BLOB);
WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < 9999)
INSERT INTO wide SELECT n, vec_f32((SELECT json_group_array(((n * 7919 + j * 104729) % 1009) / 100.0)
                                    FROM (SELECT value AS j FROM generate_series(1, 1024))))
  FROM i;
SELECT json_extract(train_segments('wide', 'SELECT v FROM wide WHERE id % 50 = 0',
  '{"k": 7, "seed": 2, "quiet": true}'), '$.k');
SELECT 'wide: blocks = row by row', count(*), sum(m.value ->> 1 = assign_segment('wide', w.v)),
  sum(m.key = w.id), count(DISTINCT m.value ->> 1)
  FROM (SELECT assign_segments('wide', id, v) AS j FROM wide) AS a, json_each(a.j) AS m
  JOIN wide AS w ON w.id = m.value ->> 0;
SELECT 'no rows', assign_segments('wide', id, v) FROM wide WHERE id < 0;
CREATE TEMP TABLE first AS SELECT segment_id, centroid FROM semiperso_segments
  WHERE segmentation = 'rnd';
SELECT json_extract(train_segments('rnd', 'SELECT v FROM rnd', '{"k": 12, "seed": 5,
  "max_iter": 50, "quiet": true}'), '$.k');
SELECT 'same seed, same centroids', count(*) FROM first AS f JOIN semiperso_segments AS s
  ON s.segmentation = 'rnd' AND s.segment_id = f.segment_id AND s.centroid = f.centroid;
SELECT json_extract(train_segments('rnd', 'SELECT v FROM rnd', '{"k": 12, "seed": 6,
  "max_iter": 50, "quiet": true}'), '$.k');
SELECT 'other seed, other centroids', count(*) < 12 FROM first AS f JOIN semiperso_segments AS s
  ON s.segmentation = 'rnd' AND s.segment_id = f.segment_id AND s.centroid = f.centroid;

-- Retraining replaces the old one, and the per-connection cache follows.
SELECT 'before', assign_segment('blobs', '[10, 10]') <> assign_segment('blobs', '[0, 0]');
SELECT json_extract(train_segments('blobs', 'SELECT v FROM pts WHERE id <= 3',
  '{"k": 1, "quiet": true}'), '$.k');
SELECT 'after', assign_segment('blobs', '[10, 10]'),
  (SELECT count(*) FROM semiperso_segments WHERE segmentation = 'blobs'),
  (SELECT k FROM semiperso_segmentations WHERE name = 'blobs');
-- max_iter 0: k-means++ only.
SELECT json_extract(train_segments('init', 'SELECT v FROM rnd', '{"k": 4, "max_iter": 0,
  "quiet": true}'), '$.iterations');
-- normalize: rows are L2-normalised, and so is assign_segment's argument.
SELECT json_extract(train_segments('dirs', 'SELECT v FROM pts WHERE id IN (2, 3)',
  '{"k": 2, "normalize": true, "quiet": true}'), '$.k');
SELECT 'normalized', assign_segment('dirs', '[0, 100]') = assign_segment('dirs', '[0, 1]'),
  assign_segment('dirs', '[5, 0]') <> assign_segment('dirs', '[0, 5]');
INSERT INTO f32_input SELECT 'c:dirs', segment_id, centroid FROM semiperso_segments
  WHERE segmentation = 'dirs';
INSERT INTO xy SELECT * FROM decoded;
DELETE FROM f32_input;
SELECT 'centroid norms', group_concat(printf('%.4f', sqrt(x0 * x0 + x1 * x1)))
  FROM xy WHERE kind = 'c:dirs';
SELECT 'listed', group_concat(name, ',') FROM
  (SELECT name FROM semiperso_segmentations ORDER BY name);

-- n_init: starts seeded from their own seeds, the lowest inertia kept.
-- Start 0 is the single start of the same seed, so the best of 4 is no
-- worse; with seed 4 the third start wins.  The history is the kept
-- start's alone: iterations 0 .. iterations, the last at the stored
-- inertia (a history of the wrong start would end elsewhere).
SELECT json_extract(train_segments('one', 'SELECT v FROM rnd', '{"k": 12, "seed": 4,
  "max_iter": 50, "quiet": true}'), '$.restart');
SELECT json_extract(train_segments('best4', 'SELECT v FROM rnd', '{"k": 12, "seed": 4,
  "n_init": 4, "max_iter": 50, "quiet": true}'), '$.n_init', '$.restart');
SELECT 'n_init 4 no worse', b.inertia <= o.inertia, b.restart, o.restart
  FROM semiperso_segmentations AS b, semiperso_segmentations AS o
  WHERE b.name = 'best4' AND o.name = 'one';
SELECT 'kept start history', count(*) = s.iterations + 1, min(h.iteration), max(h.iteration),
       (SELECT inertia FROM semiperso_segmentation_history
         WHERE segmentation = 'best4' AND iteration = s.iterations) = s.inertia
  FROM semiperso_segmentations AS s
  JOIN semiperso_segmentation_history AS h ON h.segmentation = s.name
  WHERE s.name = 'best4';
-- Its inertia is each point's squared distance to the nearest of its
-- centroids, summed (brute force on the decoded vectors).
INSERT INTO f32_input SELECT 'c:best4', segment_id, centroid FROM semiperso_segments
  WHERE segmentation = 'best4';
INSERT INTO xy SELECT * FROM decoded;
DELETE FROM f32_input;
SELECT 'best4 inertia = brute force', abs(inertia - (SELECT sum(d) FROM
  (SELECT min(d) AS d FROM sqdist WHERE pkind = 'p:rnd' AND ckind = 'c:best4' GROUP BY point)))
  < 1e-6 * inertia, (SELECT sum(size) FROM semiperso_segments WHERE segmentation = 'best4')
  FROM semiperso_segmentations WHERE name = 'best4';
-- seeding: 'plain' (one k-means++ candidate a step) is another fit; the
-- options in effect are stored.
SELECT json_extract(train_segments('plain', 'SELECT v FROM rnd', '{"k": 12, "seed": 4,
  "seeding": "plain", "max_iter": 50, "quiet": true}'), '$.k');
SELECT 'plain differs from greedy', count(*) < 12 FROM semiperso_segments AS p
  JOIN semiperso_segments AS g ON g.segmentation = 'one' AND g.segment_id = p.segment_id
  AND g.centroid = p.centroid WHERE p.segmentation = 'plain';
SELECT name, options FROM semiperso_segmentations WHERE name IN ('best4', 'plain') ORDER BY name;
DELETE FROM semiperso_segmentations WHERE name IN ('one', 'best4', 'plain');
-- A table from before the column restart: retraining adds it.
CREATE TABLE old_segmentations AS SELECT * FROM semiperso_segmentations;
DROP TABLE semiperso_segmentations;
CREATE TABLE semiperso_segmentations(name TEXT PRIMARY KEY, k INTEGER NOT NULL,
  dims INTEGER NOT NULL, train_rows INTEGER NOT NULL, iterations INTEGER NOT NULL,
  converged INTEGER NOT NULL, inertia REAL NOT NULL, reseeded INTEGER NOT NULL,
  options TEXT NOT NULL, seconds REAL NOT NULL, trained_at TEXT NOT NULL,
  generation INTEGER NOT NULL);
INSERT INTO semiperso_segmentations SELECT name, k, dims, train_rows, iterations, converged,
  inertia, reseeded, options, seconds, trained_at, generation FROM old_segmentations;
SELECT json_extract(train_segments('old', 'SELECT v FROM rnd', '{"k": 3, "n_init": 2,
  "quiet": true}'), '$.k');
SELECT 'upgraded', name, restart FROM semiperso_segmentations WHERE name IN ('blobs', 'old')
  ORDER BY name;
DELETE FROM semiperso_segmentations WHERE name = 'old';
DROP TABLE old_segmentations;

-- Bad input.
SELECT train_segments('x', 'SELECT v FROM pts', '{"k": 7}');
SELECT train_segments('x', 'SELECT v FROM pts', '{"k": 0}');
SELECT train_segments('x', 'SELECT v FROM pts', '{"k": 2.5}');
SELECT train_segments('x', 'SELECT v FROM pts', '{"max_iter": -1}');
SELECT train_segments('x', 'SELECT v FROM pts', '{"seed": "zero"}');
SELECT train_segments('x', 'SELECT v FROM pts', '{"quiet": "yes"}');
SELECT train_segments('x', 'SELECT v FROM pts', '{"clusters": 3}');
SELECT train_segments('x', 'SELECT v FROM pts', '{"n_init": 0}');
SELECT train_segments('x', 'SELECT v FROM pts', '{"n_init": 1.5}');
SELECT train_segments('x', 'SELECT v FROM pts', '{"seeding": "kmeans++"}');
SELECT train_segments('x', 'SELECT v FROM pts', '{"seeding": 1}');
SELECT train_segments('x', 'SELECT v FROM pts', '{"seeding": ""}');
SELECT train_segments('x', 'SELECT v FROM pts', '[2]');
SELECT train_segments('x', 'SELECT v FROM pts', 'not json');
SELECT train_segments('x', 'SELECT v FROM pts WHERE id > 100', '{"k": 1}');
SELECT train_segments('x', 'SELECT NULL', '{"k": 1}');
SELECT train_segments('x', 'SELECT v FROM pts UNION ALL SELECT vec_f32(''[1, 2, 3]'')',
  '{"k": 1}');
SELECT train_segments('x', 'DELETE FROM pts RETURNING v', '{"k": 1}');
SELECT train_segments('x', 'SELECT id, v FROM pts', '{"k": 1}');
SELECT train_segments(NULL, 'SELECT v FROM pts');
SELECT assign_segment('nope', '[1, 2]');
SELECT assign_segment('rnd', '[1, 2]');
SELECT assign_segment('rnd', NULL);
SELECT assign_segment(NULL, '[1, 2, 3]');
SELECT assign_segments('nope', 1, '[1, 2]');
SELECT assign_segments('rnd', 1, '[1, 2]');
SELECT assign_segments('rnd', 1, NULL);
SELECT assign_segments('rnd', NULL, '[1, 2, 3]');
SELECT assign_segments('rnd', '7', '[1, 2, 3]');
SELECT assign_segments(NULL, 1, '[1, 2, 3]');
SELECT assign_segments(CASE WHEN id = 1 THEN 'rnd' ELSE 'wide' END, id, v) FROM rnd;
CREATE VIEW trains AS SELECT train_segments('y', 'SELECT v FROM pts', '{"k": 1}');
SELECT * FROM trains;
SELECT 'failed trainings left nothing', group_concat(name, ',') FROM
  (SELECT name FROM semiperso_segmentations ORDER BY name);
-- The summary is JSON (subtype J): json_array() nests it as an object.
SELECT json_type(json_array(train_segments('j', 'SELECT v FROM pts', '{"k": 1, "quiet": true}')),
                 '$[0]');
-- Generations are drawn as the embedder's are: random and non-negative
-- (before, half of them were negative: 24 in a row has odds 2^-24).
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 24)
SELECT 'trained', count(json_extract(train_segments('g' || n, 'SELECT v FROM pts',
                                                    '{"k": 1, "quiet": true}'), '$.k')) FROM i;
SELECT 'generations >= 0', count(*), count(DISTINCT generation)
  FROM semiperso_segmentations WHERE name GLOB 'g*' AND generation >= 0;
