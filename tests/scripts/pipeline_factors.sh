#!/bin/sh
# The pipeline from logs (sql/steps/embeddings.sql) on a small synthetic
# set, once per space: with embeddings = 'ut_als' and 'tt_svd', every
# method has a result, Semi-Pers. beats Popularity on P@K and NDCG@K, the
# tracks and warm users carry the stored factors (L2-normalised; tracks the
# factorisation never met a zero vector), cold users no vector, and the
# network's input is 20 groups of the new d plus 19 scalars.  A bad value
# of the setting is refused before anything is written.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$ROOT"

run() { # run DB SPACE: a fresh dataset, the pipeline, then the checks
  LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" sqlite3 -batch "$1" <<SQL
.bail on
.load $SEMIPERSO_SO
SELECT synthesize_dataset('{"tracks": 1500, "warm": 1200, "validation": 100,
  "test": 300, "dim": 16, "seed": 5, "quiet": true}') IS NULL;
INSERT INTO settings VALUES ('segments', 40), ('input_segments', 10),
  ('epochs', 12), ('learning_rate', 0.002), ('kmeans_iterations', 10), ('quiet', 1),
  ('embeddings', '$2'), ('ut_als_options', '{"dim": 32, "iterations": 10}'),
  ('tt_svd_options', '{"dim": 24}');
.output /dev/null
.read sql/pipeline.sql
.output stdout
.mode list
SELECT '$2 methods', count(*) = 5 FROM results WHERE method IN ('semi_personalized',
  'full_personalized', 'popularity', 'registration_day_streams', 'input_features_clustering');
SELECT '$2 semi_beats_popularity',
  (SELECT precision FROM results WHERE method = 'semi_personalized') >
  (SELECT precision FROM results WHERE method = 'popularity')
  AND (SELECT ndcg FROM results WHERE method = 'semi_personalized') >
  (SELECT ndcg FROM results WHERE method = 'popularity');
SELECT '$2 model', count(*) = 1 FROM semiperso_factorizations WHERE name = '$2';
SELECT '$2 tracks', count(*) = 1500 AND sum(CASE WHEN f.embedding IS NULL
    THEN vec_distance_l2(t.embedding, vec_zeros(d.dims)) = 0
    ELSE vec_distance_l2(t.embedding, vec_normalize(f.embedding)) < 1e-6 END) = 1500
  AND sum(f.embedding IS NOT NULL) = d.items
  FROM tracks AS t CROSS JOIN semiperso_factorizations AS d ON d.name = '$2'
  LEFT JOIN semiperso_factors AS f ON f.model = '$2' AND f.side = 'item' AND f.id = t.track_id;
SELECT '$2 warm', count(*) = 1200 AND sum(vec_distance_l2(u.embedding, vec_normalize(f.embedding)) < 1e-6) = 1200
  FROM users AS u JOIN semiperso_factors AS f ON f.model = '$2' AND f.side = 'user' AND f.id = u.user_id
  WHERE u.split = 'warm';
SELECT '$2 cold', count(*) = 400 AND count(embedding) = 0 FROM users WHERE split <> 'warm';
SELECT '$2 input', input_dim = 20 * output_dim + 19 AND output_dim = (SELECT dims
  FROM semiperso_factorizations WHERE name = '$2') FROM semiperso_models WHERE name = 'user_embedder';
SQL
}

run "$tmp/als.db" ut_als > "$tmp/check.txt"
run "$tmp/svd.db" tt_svd >> "$tmp/check.txt"
cat "$tmp/check.txt"
if grep -q '|0$' "$tmp/check.txt" || [ "$(grep -c '|1$' "$tmp/check.txt")" != 14 ]; then
  echo "a check failed"
  exit 1
fi

# The step creates the factorisation tables (so that its UPDATEs compile)
# exactly as train_als() does: the same DDL in sqlite_schema.
ddl() { LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" sqlite3 -batch "$1" "SELECT sql FROM sqlite_schema
  WHERE name LIKE 'semiperso_factor%' ORDER BY name"; }
printf '.bail on\n.load %s\n.read sql/schema.sql\n.read sql/steps/settings.sql\n.read sql/steps/embeddings.sql\n' "$SEMIPERSO_SO" |
  LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" sqlite3 -batch "$tmp/step.db"
[ "$(ddl "$tmp/step.db")" = "$(ddl "$tmp/als.db")" ] && [ -n "$(ddl "$tmp/step.db")" ] ||
  { echo "steps/embeddings.sql and ext/sql/factors.c create different tables"; ddl "$tmp/step.db"; exit 1; }

# A bad setting stops the pipeline before it writes anything.
before=$(sqlite3 "$tmp/als.db" "SELECT hex(embedding) FROM tracks ORDER BY track_id" | md5sum)
if LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" sqlite3 -batch "$tmp/als.db" > "$tmp/bad.txt" 2>&1 <<SQL
.bail on
.load $SEMIPERSO_SO
INSERT OR REPLACE INTO settings VALUES ('embeddings', 'svd');
.read sql/pipeline.sql
SQL
then echo "a bad embeddings setting was accepted"; exit 1; fi
grep -q "setting \"embeddings\" must be 'given', 'ut_als' or 'tt_svd', got 'svd'" "$tmp/bad.txt" ||
  { cat "$tmp/bad.txt"; exit 1; }
after=$(sqlite3 "$tmp/als.db" "SELECT hex(embedding) FROM tracks ORDER BY track_id" | md5sum)
[ "$before" = "$after" ] || { echo "the refused run changed tracks"; exit 1; }
echo ok
