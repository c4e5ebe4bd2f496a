-- metrics_deep.sql - precision_at / recall_at / ndcg_at at k = 50 through
-- SQL, with hits deep in the list and past k and more relevant ids than k;
-- the expected values come from the definitions evaluated here in plain
-- SQL (gain ln 2 / ln(rank + 1) with SQLite's math functions).
.mode list
-- Ranks 1..80 recommend ids 1000 + rank; the ranks r with r % 3 = 1 or
-- r % 7 = 0 are relevant (34 ids), and 36 ids nobody recommended make
-- |T| = 70 > k.
CREATE TEMP TABLE ranks AS
  WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 80)
  SELECT n AS rank, 1000 + n AS id, (n % 3 = 1 OR n % 7 = 0) AS hit FROM r;
CREATE TEMP TABLE lists AS SELECT
  (SELECT json_group_array(id) FROM (SELECT id FROM ranks ORDER BY rank)) AS rec,
  (SELECT json_group_array(id) FROM (SELECT id FROM ranks WHERE hit UNION ALL
     SELECT 5000 + rank FROM ranks WHERE rank <= 36)) AS rel;
SELECT 'relevant', json_array_length(rel) FROM lists;
-- By the definitions, at k = 50: hits among ranks <= 50; ideal list of
-- min(|T|, k) = 50.
CREATE TEMP TABLE want AS SELECT
  (SELECT count(*) FROM ranks WHERE hit AND rank <= 50) AS hits,
  (SELECT sum(ln(2) / ln(rank + 1)) FROM ranks WHERE hit AND rank <= 50) AS dcg,
  (SELECT sum(ln(2) / ln(rank + 1)) FROM ranks WHERE rank <= 50) AS idcg;
SELECT 'k=50 hits, precision, recall, ndcg', hits, printf('%.9f', hits / 50.0),
  printf('%.9f', hits / 70.0), printf('%.9f', dcg / idcg) FROM want;
SELECT 'k=50 agree', abs(precision_at(rec, rel, 50) - hits / 50.0) < 1e-12,
  abs(recall_at(rec, rel, 50) - hits / 70.0) < 1e-12,
  abs(ndcg_at(rec, rel, 50) - dcg / idcg) < 1e-12 FROM lists, want;
