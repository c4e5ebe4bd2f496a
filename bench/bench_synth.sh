#!/bin/sh
# bench_synth.sh - times synthesize_dataset() and sql/features.sql at the
# paper's scale (50 000 tracks, 70 000 / 20 000 / 10 000 users, d = 128)
# in a fresh database file, with wall time and peak memory of each step.
#   sh bench/bench_synth.sh [database path, default /tmp/semiperso_bench_synth.db]
set -eu
cd "$(dirname "$0")/.."
DB=${1:-/tmp/semiperso_bench_synth.db}
rm -f "$DB" "$DB-journal"
[ -f semiperso.so ] || make semiperso.so
run() { # run LABEL SQL...
  label=$1
  shift
  /usr/bin/time -f "$label: %e s wall, %M KiB peak RSS" sqlite3 "$DB" ".load ./semiperso" "$@"
}
run synthesize_dataset "SELECT synthesize_dataset('{\"tracks\": 50000, \"warm\": 70000,
  \"validation\": 20000, \"test\": 10000, \"dim\": 128, \"quiet\": true}');"
run features.sql ".read sql/features.sql" \
  "SELECT count(*) || ' users x ' || (length(features) / 4) || ' floats' FROM user_features LIMIT 1;"
ls -l "$DB"
