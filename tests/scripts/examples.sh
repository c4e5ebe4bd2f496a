#!/bin/sh
# examples.sh - the examples run, and what they print is true:
#   examples/quickstart.sql  runs clean; its segment's top 10 is what
#                            the pipeline's top_tracks step gives for the
#                            same segmentation, and its metrics match
#   examples/online.c        builds warning-free (-Werror); for a hand-made
#                            user its segment and both lists equal what SQL
#                            computes independently; for existing test users
#                            (the busiest, and one with no event) it
#                            reproduces the offline pipeline's
#                            recommendations; -k gives lists of that
#                            length; bad input fails with the right status;
#                            the database is unchanged by every run; it
#                            serves while another connection holds the
#                            database's write lock, and prints the same
#                            from a serving bundle (export_bundle)
#   examples/online.py       prints exactly what online.c prints
# On a small pipeline database built here (tiny settings, seconds).
# KEEP=1 keeps its temporary directory (printed on failure) for a look.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SO=${SEMIPERSO_SO:-$ROOT/semiperso}
PRELOAD=${SEMIPERSO_PRELOAD:-}
dir=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
DB=$dir/music.db

fail() { echo "FAIL: $*" >&2; [ -z "${KEEP:-}" ] || echo "kept: $dir" >&2; exit 1; }
# The sqlite3 shell (with the sanitizer runtimes in the sanitizer variant).
shell() { LD_PRELOAD="$PRELOAD" sqlite3 -batch -bail "$@"; }
q() { shell -cmd ".load $SO" "$DB" "$@"; }
# Python keeps memory at exit by design: leak detection off for it alone.
py() { LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
       /usr/bin/python3 examples/online.py "$@"; }
same() { # same LABEL FILE1 FILE2
  cmp -s "$2" "$3" || { diff "$2" "$3" | head -n 20 >&2; fail "$1"; }
}

# ---- a small database, built by the pipeline -----------------------------
q >"$dir/pipeline.out" <<'EOF'
SELECT synthesize_dataset('{"tracks": 1000, "warm": 400, "validation": 50,
                            "test": 100, "dim": 8, "seed": 11, "quiet": true}');
INSERT INTO settings(name, value) VALUES
  ('segments', 10), ('input_segments', 5), ('epochs', 5),
  ('learning_rate', 1e-3), ('kmeans_iterations', 5), ('quiet', 1);
.read sql/pipeline.sql
EOF
fingerprint() { q "SELECT count(*), max(user_id) FROM users;
                   SELECT count(*) FROM registration_events;" ".sha3sum"; }
fingerprint >"$dir/before"

# ---- quickstart.sql ------------------------------------------------------
TOUR=$dir/tour.db
printf '.load %s\n.read examples/quickstart.sql\n' "$SO" |
  shell "$TOUR" >"$dir/tour.out" 2>"$dir/tour.err" ||
  { cat "$dir/tour.out" "$dir/tour.err"; fail "quickstart.sql failed"; }
[ ! -s "$dir/tour.err" ] || { cat "$dir/tour.err"; fail "quickstart.sql wrote to stderr"; }
# Its box tables, as rows of |-separated cells without padding.
sed -n 's/^│\(.*\)│$/\1/p' "$dir/tour.out" | sed 's/ *│ */|/g; s/^ *//; s/ *$//' >"$dir/tour.rows"
grep -q '^800|' "$dir/tour.rows" && grep -q '^20|' "$dir/tour.rows" ||
  fail "quickstart.sql: no training summaries (800 warm users, 20 segments)"
# The user row: user_id, country, age, events, segment_id, segment_size.
user_row=$(grep -E '^[0-9]+\|[A-Z]{2}\|[0-9]+\|[0-9]+\|[0-9]+\|[0-9]+$' "$dir/tour.rows")
[ "$(echo "$user_row" | wc -l)" = 1 ] || fail "quickstart.sql: no single user row"
tour_user=$(echo "$user_row" | cut -d'|' -f1)
tour_segment=$(echo "$user_row" | cut -d'|' -f5)
# The two lists: rank|track|number|0-or-1, ten rows each, ranks 1..10.
grep -E '^[0-9]+\|[0-9]+\|[0-9.]+\|[01]$' "$dir/tour.rows" >"$dir/tour.lists"
[ "$(wc -l <"$dir/tour.lists")" = 20 ] || fail "quickstart.sql: not two lists of 10"
[ "$(cut -d'|' -f1 "$dir/tour.lists" | tr '\n' ' ')" = \
  "1 2 3 4 5 6 7 8 9 10 1 2 3 4 5 6 7 8 9 10 " ] || fail "quickstart.sql: ranks"
head -n 10 "$dir/tour.lists" | cut -d'|' -f2 >"$dir/tour.semi"
# The pipeline's own steps on the tour's database, with the tour's k (and
# its defaults: 20 iterations, seed 0), retrain the same segmentation and
# compute segment_top_tracks: the tour's inline query must agree.
shell -cmd ".load $SO" "$TOUR" >/dev/null <<'EOF'
INSERT INTO settings(name, value) VALUES ('segments', 20), ('input_segments', 5), ('quiet', 1);
.read sql/steps/settings.sql
.read sql/steps/segments.sql
.read sql/steps/top_tracks.sql
EOF
shell -cmd ".load $SO" "$TOUR" "SELECT assign_segment('warm_users',
    embed_user('user_embedder', features)) FROM user_features WHERE user_id = $tour_user" \
  >"$dir/tour.seg"
[ "$(cat "$dir/tour.seg")" = "$tour_segment" ] || fail "quickstart.sql: segment"
shell "$TOUR" "SELECT track_id FROM segment_top_tracks WHERE segmentation = 'warm_users'
    AND segment_id = $tour_segment AND rank <= 10 ORDER BY rank" >"$dir/tour.pipe"
same "quickstart.sql: semi-personalized list differs from segment_top_tracks" \
  "$dir/tour.semi" "$dir/tour.pipe"
# Its P@10 of the semi-personalized list, recomputed from the list.
hits=$(shell "$TOUR" "SELECT count(DISTINCT track_id) FROM future_listens
    WHERE user_id = $tour_user AND track_id IN ($(paste -sd, "$dir/tour.semi"))")
p10=$(grep '^semi-personalized|' "$dir/tour.rows" | cut -d'|' -f2)
[ "$p10" = "$((hits * 10)).0" ] || fail "quickstart.sql: P@10 is $p10 with $hits hits in 10"

# ---- online.c ------------------------------------------------------------
SAN=""
[ -z "$PRELOAD" ] || SAN="-g -fsanitize=address,undefined -fno-sanitize-recover=undefined"
cc -std=c11 -Wall -Wextra -Werror $SAN -o "$dir/online" examples/online.c -lsqlite3 ||
  fail "online.c does not compile warning-free"
online() { LD_PRELOAD="$PRELOAD" "$dir/online" "$@"; }
semi() { awk '$1 == "semi" { print $4 }' "$1"; }
full() { awk '$1 == "full" { print $4 }' "$1"; }
segment() { sed -n 's/^Segment \([0-9]*\) .*/\1/p' "$1"; }

# A hand-made new user.
set -- FR 27 onboarding_like:artist:3 onboarding_like:artist:17 stream:track:42 \
  stream:track:42 stream:album:5 skip:track:7 ban:artist:2 search:playlist:4 \
  favorite:track:901
online -k 10 "$SO" "$DB" "$@" >"$dir/c.out" || fail "online: exit $?"
[ "$(awk '$1 == "semi" { print $2 }' "$dir/c.out" | tr '\n' ' ')" = "1 2 3 4 5 6 7 8 9 10 " ] ||
  fail "online: semi-personalized ranks"
[ "$(full "$dir/c.out" | wc -l)" = 10 ] || fail "online: fully personalized length"
# The same user in SQL, independently: segment, its top 10, nearest 10.
{
  echo "BEGIN;"
  echo "INSERT INTO users(split, country, age) VALUES ('test', 'FR', 27);"
  echo "CREATE TEMP TABLE new_user AS SELECT last_insert_rowid() AS id;"
  shift 2
  for ev in "$@"; do
    echo "$ev" | awk -F: '{ printf "INSERT INTO registration_events SELECT id, '\''%s'\'', '\''%s'\'', %d FROM new_user;\n", $1, $2, $3 }'
  done
  echo "CREATE TEMP TABLE v AS SELECT embed_user('user_embedder', features) AS e
          FROM user_feature_vectors WHERE user_id = (SELECT id FROM new_user);"
  echo "SELECT 'segment', assign_segment('warm_users', e) FROM v;"
  echo "SELECT 'semi', track_id FROM segment_top_tracks
         WHERE segmentation = 'warm_users' AND segment_id = (SELECT assign_segment('warm_users', e) FROM v)
           AND rank <= 10 ORDER BY rank;"
  echo "SELECT 'full', t.track_id FROM v, topk_tracks(v.e, 10) AS t ORDER BY t.rank;"
  echo "ROLLBACK;"
} | q >"$dir/sql.out"
[ "$(segment "$dir/c.out")" = "$(sed -n 's/^segment|//p' "$dir/sql.out")" ] ||
  fail "online: segment differs from SQL's"
sed -n 's/^semi|//p' "$dir/sql.out" >"$dir/sql.semi"
sed -n 's/^full|//p' "$dir/sql.out" >"$dir/sql.full"
[ "$(wc -l <"$dir/sql.semi")" = 10 ] || fail "SQL check: segment list length"
semi "$dir/c.out" >"$dir/c.semi"
full "$dir/c.out" >"$dir/c.full"
same "online: semi-personalized list differs from SQL's" "$dir/c.semi" "$dir/sql.semi"
same "online: fully personalized list differs from SQL's" "$dir/c.full" "$dir/sql.full"

# Read-only: the same answer while another connection holds the write
# lock, and from a serving bundle of the database.
LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" /usr/bin/python3 - \
    "$DB" "$dir/online" "$SO" "$@" >"$dir/locked.out" <<'PY' || fail "online under a write lock"
import sqlite3, subprocess, sys
db, prog, so = sys.argv[1:4]
writer = sqlite3.connect(db, isolation_level=None)
writer.execute("BEGIN IMMEDIATE")  # the write lock, held while online runs
sys.stdout.write(subprocess.run([prog, "-k", "10", so, db] + sys.argv[4:], check=True,
                                capture_output=True, text=True).stdout)
writer.execute("ROLLBACK")
PY
same "online under a held write lock prints otherwise" "$dir/c.out" "$dir/locked.out"
q "SELECT export_bundle('$dir/bundle.db')" >/dev/null
online -k 10 "$SO" "$dir/bundle.db" "$@" >"$dir/bundle.out" || fail "online on the bundle: exit $?"
same "online on the bundle prints otherwise than on the database" "$dir/c.out" "$dir/bundle.out"

# online.py, same user: the same output, byte for byte.
set -- FR 27 onboarding_like:artist:3 onboarding_like:artist:17 stream:track:42 \
  stream:track:42 stream:album:5 skip:track:7 ban:artist:2 search:playlist:4 \
  favorite:track:901
py -k 10 "$SO" "$DB" "$@" >"$dir/py.out" || fail "online.py: exit $?"
same "online.py prints otherwise than online.c" "$dir/c.out" "$dir/py.out"

# Existing test users, served again from their own registration-day data:
# the pipeline's recommendations for them (top_k = 50) must come back.
busiest=$(q "SELECT e.user_id FROM registration_events AS e JOIN users AS u USING (user_id)
             WHERE u.split = 'test' GROUP BY e.user_id ORDER BY count(*) DESC, e.user_id LIMIT 1")
idle=$(q "SELECT user_id FROM users WHERE split = 'test'
          AND user_id NOT IN (SELECT user_id FROM registration_events) ORDER BY user_id LIMIT 1")
[ -n "$busiest" ] && [ -n "$idle" ] || fail "no test user with and without events"
for user in $busiest $idle; do
  # shellcheck disable=SC2046  # one argument per word, by design
  set -- $(q "SELECT coalesce(country, '-'), coalesce(age, '-') FROM users WHERE user_id = $user" |
           tr '|' ' ') \
         $(q "SELECT action || ':' || entity || ':' || entity_id FROM registration_events
              WHERE user_id = $user ORDER BY rowid")
  online -k 50 "$SO" "$DB" "$@" >"$dir/c.out" || fail "online (user $user): exit $?"
  semi "$dir/c.out" >"$dir/c.semi"
  full "$dir/c.out" >"$dir/c.full"
  [ "$(wc -l <"$dir/c.semi")" = 50 ] || fail "online (user $user): semi list length"
  [ "$(segment "$dir/c.out")" = "$(q "SELECT segment_id FROM cold_segments
      WHERE segmentation = 'warm_users' AND user_id = $user")" ] ||
    fail "online (user $user): segment differs from cold_segments"
  for method in semi full; do
    q "SELECT track_id FROM recommendations WHERE user_id = $user
         AND method = '${method}_personalized' AND rank <= 50 ORDER BY rank" >"$dir/pipe.list"
    same "online (user $user): $method list differs from the pipeline's" \
      "$dir/c.$method" "$dir/pipe.list"
  done
  py -k 50 "$SO" "$DB" "$@" >"$dir/py.out" || fail "online.py (user $user): exit $?"
  same "online.py (user $user) prints otherwise than online.c" "$dir/c.out" "$dir/py.out"
done

# -k: both lists have the requested length; the built-in example user.
online -k 7 "$SO" "$DB" >"$dir/c.out" || fail "online -k 7: exit $?"
[ "$(semi "$dir/c.out" | wc -l) $(full "$dir/c.out" | wc -l)" = "7 7" ] ||
  fail "online -k 7: list lengths"
py -k 7 "$SO" "$DB" >"$dir/py.out" || fail "online.py -k 7: exit $?"
same "online.py -k 7 prints otherwise than online.c" "$dir/c.out" "$dir/py.out"

# Bad input: status 2 for arguments, 1 when the database refuses; the
# second event below is refused after the first was inserted, so this
# also checks the error path's rollback.
for prog in online py; do
  status=0; $prog "$SO" "$DB" FR abc >/dev/null 2>"$dir/err" || status=$?
  [ "$status" = 2 ] && grep -q 'bad age' "$dir/err" || fail "$prog: bad age (status $status)"
  status=0; $prog "$SO" "$DB" FR 30 stream:track >/dev/null 2>"$dir/err" || status=$?
  [ "$status" = 2 ] && grep -q 'bad event' "$dir/err" || fail "$prog: bad event (status $status)"
  status=0; $prog "$SO" "$DB" FR 30 stream:track:1 dance:track:2 >/dev/null 2>"$dir/err" || status=$?
  [ "$status" = 1 ] && grep -q 'feature groups' "$dir/err" ||
    fail "$prog: unknown event kind (status $status)"
  status=0; $prog "$SO" "$dir/missing.db" >/dev/null 2>"$dir/err" || status=$?
  [ "$status" = 1 ] && [ ! -e "$dir/missing.db" ] || fail "$prog: missing database (status $status)"
done

# Nothing the examples did stayed in the database.
fingerprint >"$dir/after"
same "the online runs changed the database" "$dir/before" "$dir/after"
echo "examples ok"
