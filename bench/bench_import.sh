#!/bin/sh
# bench_import.sh - the release importer at the release's size: a synthetic
# copy (tools/release_fixture.mjs: 100 000 users, 50 000 songs, both
# spaces, snappy, row groups of 10 000 rows) is written to a scratch directory
# under /tmp, imported into both databases, and the import's wall time
# and peak memory (GNU time) are printed; the scratch directory is
# deleted after.  BENCH_IMPORT_USERS / BENCH_IMPORT_SONGS scale it down.
set -eu
cd "$(dirname "$0")/.."
users=${BENCH_IMPORT_USERS:-100000}
songs=${BENCH_IMPORT_SONGS:-50000}
scratch=$(mktemp -d /tmp/semiperso-bench-import.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
[ -x /usr/bin/time ] || { echo "bench_import: needs GNU time (apt-get install time)"; exit 1; }

echo "bench_import: writing a release of $users users and $songs songs to $scratch"
start=$(date +%s)
node tools/release_fixture.mjs "$scratch/release" --users "$users" --songs "$songs" \
  --row-group 10000 --codec snappy --work-db "$scratch/work.duckdb"
rm -f "$scratch/work.duckdb" "$scratch/work.duckdb.wal"
echo "bench_import: written in $(($(date +%s) - start)) s"
ls -l "$scratch/release"/*.parquet | awk '{ printf "  %-40s %8.1f MiB\n", $9, $5 / 1048576 }' |
  sed "s|$scratch/release/||"
du -cb "$scratch"/release/user_features_*.parquet | tail -n 1 |
  awk '{ printf "  feature files in all                     %8.2f GB\n", $1 / 1e9 }'

/usr/bin/time -v node tools/import_release.mjs "$scratch/release" --space both \
  --out-dir "$scratch" 2>"$scratch/time.log" || { cat "$scratch/time.log"; exit 1; }
grep '^import_release' "$scratch/time.log"
ls -l "$scratch"/deezer_*.db | awk '{ printf "  %-40s %8.1f MiB\n", $9, $5 / 1048576 }' | sed "s|$scratch/||"
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$scratch/time.log")
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$scratch/time.log")
cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.1f", s }' "$scratch/time.log")
echo "bench_import: import of both spaces: wall $wall, cpu $cpu s, peak memory $((rss / 1024)) MiB"
