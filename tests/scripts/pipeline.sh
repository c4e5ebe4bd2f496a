#!/bin/sh
# The pipeline on a small synthetic set: every method has a row, metrics lie
# in [0, 100], Semi-Pers. beats Popularity on P@K and NDCG@K, predicted
# vectors have unit length, segment sizes add up to the warm users, and a
# second run from the same seed gives the identical results table.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$ROOT"

run() { # run DB: a fresh dataset and the pipeline, results printed
  LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" sqlite3 -batch "$1" <<SQL
.bail on
.load $SEMIPERSO_SO
SELECT json_remove(synthesize_dataset('{"tracks": 1500, "warm": 1200, "validation": 100,
  "test": 300, "dim": 16, "seed": 5, "quiet": true}'), '$.seconds');
INSERT INTO settings VALUES ('segments', 40), ('input_segments', 10),
  ('epochs', 12), ('learning_rate', 0.002), ('kmeans_iterations', 10), ('quiet', 1);
.output /dev/null
.read sql/pipeline.sql
.output stdout
.mode list
SELECT method, precision, precision_sd, recall, recall_sd, ndcg, ndcg_sd, users
FROM results ORDER BY method;
SQL
}

run "$tmp/a.db" > "$tmp/a.txt"
run "$tmp/b.db" > "$tmp/b.txt"
cmp "$tmp/a.txt" "$tmp/b.txt" || { echo "two runs from one seed differ"; diff "$tmp/a.txt" "$tmp/b.txt"; exit 1; }

LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" sqlite3 -batch "$tmp/a.db" > "$tmp/check.txt" <<SQL
.load $SEMIPERSO_SO
.mode list
SELECT 'methods', count(*) = 5 FROM results WHERE method IN ('semi_personalized',
  'full_personalized', 'popularity', 'registration_day_streams', 'input_features_clustering');
SELECT 'in_range', count(*) = 0 FROM results
  WHERE NOT (precision BETWEEN 0 AND 100 AND recall BETWEEN 0 AND 100 AND ndcg BETWEEN 0 AND 100
             AND precision_sd >= 0 AND users = 300 AND k = 50);
SELECT 'semi_beats_popularity',
  (SELECT precision FROM results WHERE method = 'semi_personalized') >
  (SELECT precision FROM results WHERE method = 'popularity')
  AND (SELECT ndcg FROM results WHERE method = 'semi_personalized') >
  (SELECT ndcg FROM results WHERE method = 'popularity');
SELECT 'unit_vectors', count(*) = 400
  AND max(abs(vec_distance_l2(embedding, vec_zeros(vec_length(embedding))) - 1)) < 1e-5
  FROM cold_embeddings;
SELECT 'segment_sizes', (SELECT sum(size) FROM segment_descriptions) =
  (SELECT count(*) FROM users WHERE split = 'warm');
-- 100 long: the largest K of the default eval_ks (25, 50, 100) beats top_k.
SELECT 'lists_full', count(*) = 0 FROM (SELECT method, user_id, count(*) AS n,
  count(DISTINCT track_id) AS d FROM recommendations GROUP BY 1, 2) WHERE n <> 100 OR d <> 100;
SQL
cat "$tmp/a.txt" "$tmp/check.txt"
if grep -q '|0$' "$tmp/check.txt"; then echo "a check failed"; exit 1; fi
[ "$(grep -c '|1$' "$tmp/check.txt")" = 6 ]
