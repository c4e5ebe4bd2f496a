#!/bin/sh
# pipeline_baselines.sh - the pipeline with the setting baselines = 1 on a
# small synthetic set: results has the four rows dropoutnet_full,
# dropoutnet_semi, melu_full and melu_semi for the same test users as the
# other methods, with metrics in [0, 100] and full lists of distinct
# tracks; each cold user's semi list is the top tracks of the segment their
# vector falls in; the other methods' rows are identical to a run with
# baselines = 0 (the setting adds rows and changes nothing else).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$ROOT"

run() { # run DB BASELINES: a fresh dataset and the pipeline, results printed
  LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" sqlite3 -batch "$1" <<SQL
.bail on
.load $SEMIPERSO_SO
SELECT synthesize_dataset('{"tracks": 1000, "warm": 500, "validation": 50,
  "test": 150, "dim": 8, "seed": 2, "quiet": true}') IS NOT NULL;
INSERT INTO settings VALUES ('segments', 12), ('input_segments', 6), ('epochs', 4),
  ('learning_rate', 0.002), ('kmeans_iterations', 5), ('quiet', 1), ('top_k', 20),
  ('eval_ks', '[20]'), ('baselines', $2),
  ('dropoutnet_options', '{"hidden": [32, 16], "output_dim": 16, "epochs": 2}'),
  ('melu_options', '{"embed_dim": 8, "hidden": [16, 8], "epochs": 2}');
.output /dev/null
.read sql/pipeline.sql
.output stdout
.mode list
SELECT method, precision, precision_sd, recall, recall_sd, ndcg, ndcg_sd, users
FROM results ORDER BY method;
SQL
}

run "$tmp/off.db" 0 > "$tmp/off.txt"
run "$tmp/on.db" 1 > "$tmp/on.txt"
grep -v -E '^(dropoutnet|melu)_' "$tmp/on.txt" > "$tmp/on_others.txt"
cmp "$tmp/off.txt" "$tmp/on_others.txt" || {
  echo "baselines = 1 changed the other methods' results"; diff "$tmp/off.txt" "$tmp/on_others.txt"; exit 1; }

LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" sqlite3 -batch "$tmp/on.db" > "$tmp/check.txt" <<SQL
.load $SEMIPERSO_SO
.mode list
SELECT 'four_rows', count(*) = 4 FROM results
  WHERE method IN ('dropoutnet_full', 'dropoutnet_semi', 'melu_full', 'melu_semi');
SELECT 'in_range', count(*) = 0 FROM results
  WHERE NOT (precision BETWEEN 0 AND 100 AND recall BETWEEN 0 AND 100 AND ndcg BETWEEN 0 AND 100
             AND precision_sd >= 0 AND users = 150 AND k = 20);
SELECT 'lists_full', count(*) = 4 * 200 AND max(n) = 20 AND min(n) = 20 AND min(d) = 20
  FROM (SELECT method, user_id, count(*) AS n, count(DISTINCT track_id) AS d
        FROM recommendations WHERE method LIKE 'dropoutnet%' OR method LIKE 'melu%' GROUP BY 1, 2);
SELECT 'segments', count(*) = 2 FROM semiperso_segmentations
  WHERE name IN ('dropoutnet', 'melu') AND k = 12 AND train_rows = 500;
-- Semi lists: the top tracks of the segment nearest to the user's vector,
-- the nearest found here by brute force over the stored centroids.
WITH dist AS (
  SELECT v.model, v.user_id, s.segment_id, vec_distance_l2(s.centroid, v.embedding) AS dd
  FROM baseline_vectors AS v JOIN users AS u USING (user_id)
  JOIN semiperso_segments AS s ON s.segmentation = v.model
  WHERE u.split = 'test'),
nearest AS (
  SELECT model, user_id, segment_id FROM (
    SELECT *, row_number() OVER (PARTITION BY model, user_id ORDER BY dd, segment_id) AS rn
    FROM dist) WHERE rn = 1)
SELECT 'semi_lists', count(*) = 300 AND sum(
         (SELECT group_concat(track_id) FROM (SELECT track_id FROM recommendations AS r
           WHERE r.method = c.model || '_semi' AND r.user_id = c.user_id ORDER BY rank))
      IS (SELECT group_concat(track_id) FROM (SELECT track_id FROM segment_top_tracks AS t
           WHERE t.segmentation = c.model AND t.segment_id = c.segment_id ORDER BY rank))) = 300
FROM nearest AS c;
SELECT 'models', count(*) = 2 FROM semiperso_baselines WHERE name IN ('dropoutnet', 'melu');
SQL
cat "$tmp/on.txt" "$tmp/check.txt"
if grep -q '|0$' "$tmp/check.txt"; then echo "a check failed"; exit 1; fi
