#!/bin/sh
# make install into a temporary prefix, then the installed pipeline on a
# tiny synthetic database from another directory, both ways README.md
# shows: `semiperso-pipeline DB` and `.read PREFIX/share/semiperso/sql/
# pipeline.sql` in the sqlite3 shell.  Also: DESTDIR stages the same tree
# while the installed files name the final PREFIX.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
make -s -C "$ROOT" install PREFIX="$prefix" >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log"; exit 1; }
make -s -C "$ROOT" install PREFIX=/opt/sp DESTDIR="$tmp/stage" >"$tmp/make.log" 2>&1 ||
  { cat "$tmp/make.log"; exit 1; }
for f in bin/semiperso-pipeline lib/semiperso.so share/semiperso/sql/pipeline.sql \
         share/semiperso/sql/schema.sql share/semiperso/sql/features.sql \
         share/semiperso/sql/steps/settings.sql share/semiperso/sql/steps/describe.sql; do
  [ -f "$prefix/$f" ] || { echo "not installed: $f"; exit 1; }
  [ -f "$tmp/stage/opt/sp/$f" ] || { echo "not staged: $f"; exit 1; }
done
grep -q "^\.read /opt/sp/share/semiperso/sql/steps/train.sql$" \
  "$tmp/stage/opt/sp/share/semiperso/sql/pipeline.sql" || { echo "staged paths wrong"; exit 1; }
if grep -q "$tmp" "$tmp/stage/opt/sp/share/semiperso/sql/pipeline.sql" \
                  "$tmp/stage/opt/sp/bin/semiperso-pipeline"; then
  echo "DESTDIR leaked into installed files"; exit 1
fi

# A tiny dataset, built with the installed library, in a directory with no
# sql/ folder; the pipeline then runs from yet another one.
mkdir "$tmp/data" "$tmp/elsewhere"
cd "$tmp/data"
sqlite3 -batch music.db <<SQL >/dev/null
.load $prefix/lib/semiperso
SELECT synthesize_dataset('{"tracks": 1000, "warm": 300, "validation": 20, "test": 60,
                            "dim": 8, "seed": 3, "quiet": true}');
CREATE TABLE IF NOT EXISTS settings(name TEXT PRIMARY KEY, value);
INSERT INTO settings VALUES ('segments', 8), ('input_segments', 4), ('epochs', 2),
  ('kmeans_iterations', 3), ('top_k', 10), ('quiet', 1);
SQL
cp music.db shell.db
cd "$tmp/elsewhere"
"$prefix/bin/semiperso-pipeline" ../data/music.db >out.txt 2>err.txt ||
  { cat err.txt out.txt; exit 1; }
for method in semi_personalized full_personalized popularity registration_day_streams \
              input_features_clustering; do
  grep -q "│ $method " out.txt || { echo "no $method row"; cat out.txt; exit 1; }
done
sqlite3 -batch -bail ../data/shell.db ".load $prefix/lib/semiperso" \
  ".read $prefix/share/semiperso/sql/pipeline.sql" \
  "SELECT count(*), sum(users = 60 AND k = 10) FROM results" >shell.txt 2>err.txt ||
  { cat err.txt shell.txt; exit 1; }
[ "$(tail -n 1 shell.txt)" = "5|5" ] || { echo "shell run: $(cat shell.txt)"; exit 1; }
# Both runs computed the same thing from the same seed.
a=$(sqlite3 ../data/music.db "SELECT group_concat(method || precision, ',') FROM results")
b=$(sqlite3 ../data/shell.db "SELECT group_concat(method || precision, ',') FROM results")
[ "$a" = "$b" ] || { echo "runs differ: $a / $b"; exit 1; }
"$prefix/bin/semiperso-pipeline" 2>/dev/null && { echo "no argument must fail"; exit 1; }
echo "install ok"
