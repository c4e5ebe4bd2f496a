#!/bin/sh
# bench_serve.sh - make bench-serve: online serving at the paper's scale.
#   1. the dataset and the trained system, built once into
#      build/bench-serve/train.db (reused while it is there; remove the
#      directory to rebuild): the synthetic set at the paper's size (50 000
#      tracks, 70 000 / 20 000 / 10 000 users, d = 128), sql/features.sql,
#      the embedder with few epochs (serving cost does not depend on
#      accuracy: 3 epochs, learning rate 1e-3), 1000 segments (5 k-means
#      iterations), the segments' top 50 tracks;
#   2. the serving bundle, exported from it (its size printed);
#   3. build/bench_serve: latency on one connection for both methods, and
#      throughput with 1, 2 and 4 server processes (bench/bench_serve.c);
#      printed after the bundle's size, the BLAS kernel and this
#      machine's sgemm rate.
# Environment: SECONDS_PER_RUN (default 5) for each throughput run.
set -eu
cd "$(dirname "$0")/.."
DIR=build/bench-serve
DB=$DIR/train.db
BUNDLE=$DIR/bundle.db
mkdir -p "$DIR"
if [ ! -f "$DIR/train.done" ]; then
  rm -f "$DB" "$DB-journal"
  echo "bench-serve: building $DB (paper scale, a few minutes)" >&2
  sqlite3 -batch -bail "$DB" >/dev/null <<'SQL'
.load ./semiperso
SELECT synthesize_dataset('{"tracks": 50000, "warm": 70000, "validation": 20000,
                            "test": 10000, "dim": 128, "seed": 0, "quiet": true}');
INSERT INTO settings(name, value) VALUES ('epochs', 3), ('learning_rate', 1e-3),
  ('segments', 1000), ('input_segments', 100), ('kmeans_iterations', 5), ('quiet', 1);
.read sql/schema.sql
.read sql/steps/settings.sql
.read sql/features.sql
.read sql/steps/train.sql
.read sql/steps/segments.sql
.read sql/steps/top_tracks.sql
SQL
  touch "$DIR/train.done"
fi
bundle=$(sqlite3 "$DB" ".load ./semiperso" \
  "SELECT json_extract(export_bundle('$BUNDLE', '{\"replace\": true}'), '$.bytes')")
train=$(wc -c <"$DB")
echo "bundle: $bundle bytes ($(( bundle / 1048576 )) MiB; the training database: $(( train / 1048576 )) MiB)"
kernel=$(OPENBLAS_VERBOSE=2 sqlite3 :memory: ".load ./semiperso" "SELECT 1" 2>&1 |
         sed -n 's/^Core: //p' | head -n 1)
sgemm=$(build/sgemm_rate)
echo "BLAS kernel: ${kernel:-unknown}; this machine's sgemm: $sgemm GFLOP/s"
build/bench_serve ./semiperso "$BUNDLE" "$DB" "${SECONDS_PER_RUN:-5}"
