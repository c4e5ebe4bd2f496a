#!/bin/sh
# reproduce_table1.sh - one half of the paper's Table 1 on the public Deezer
# release, as the reference code computes it (README.md, "The public Deezer
# release"):
#
#   sh tools/reproduce_table1.sh RELEASE_DIR svd|mf [OUT_DIR]
#   make table1 RELEASE=RELEASE_DIR SPACE=svd|mf [OUT_DIR=.]
#
# 1. imports RELEASE_DIR into OUT_DIR/deezer_<space>.db (tools/
#    import_release.mjs), unless that database exists already (delete it
#    to import again; its own `settings` rows are kept otherwise);
# 2. sets the reference-faithful settings (sql/reference_settings.sql: dot
#    ranking, no padding, 10 k-means starts) over the database's settings;
# 3. runs sql/pipeline.sql and prints the results table.
# Run from the project directory (the scripts are read by relative path);
# SEMIPERSO_SO names the extension to load (default ./semiperso).
set -eu
usage="usage: sh tools/reproduce_table1.sh RELEASE_DIR svd|mf [OUT_DIR]"
[ $# -ge 2 ] && [ $# -le 3 ] || { echo "$usage" >&2; exit 1; }
release=$1 space=$2 out_dir=${3:-.}
case "$space" in
  svd|mf) ;;
  *) echo "reproduce_table1: the space must be svd or mf, not '$space'" >&2; exit 1 ;;
esac
db="$out_dir/deezer_$space.db"
if [ -f "$db" ]; then
  echo "reproduce_table1: $db exists, not imported again" >&2
else
  node tools/import_release.mjs "$release" --space "$space" --out "$db"
fi
sqlite3 -batch -bail "$db" ".load ${SEMIPERSO_SO:-./semiperso}" \
  ".read sql/reference_settings.sql" ".read sql/pipeline.sql" \
  ".mode box" "SELECT * FROM results ORDER BY precision DESC"
