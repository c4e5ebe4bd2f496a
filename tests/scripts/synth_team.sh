#!/bin/sh
# synth_team.sh - synthesize_dataset() writes the same rows whatever the
# size of the thread team that draws its users (ext/sql/synth.c: the other
# members draw the next block of users while the calling thread inserts):
# a dataset of several blocks and a partial last one, generated in a
# process whose team has 1 member and in one whose team has 2
# (OPENBLAS_NUM_THREADS caps the team size), must agree row for row in
# every table, rowids included, and in the summary; then the interrupt test
# (synth_interrupt.sh) again with a team of 2.  Skipped on a machine with
# one CPU (no team of 2 can be had).
set -eu
cd "$(dirname "$0")/../.."
SO=${SEMIPERSO_SO:-$(pwd)/semiperso}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if [ "$(nproc)" -lt 2 ]; then
  echo "one CPU: no team of 2 to compare with"
  exit 77
fi
run_py() { # run_py THREADS: the digest of a dataset drawn with a team of THREADS
  LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
    OPENBLAS_NUM_THREADS=$1 /usr/bin/python3 - "$SO" "$dir/t$1.db" "$1" <<'PY'
import hashlib, json, sqlite3, sys

so, path, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = sqlite3.connect(path, isolation_level=None)
c.enable_load_extension(True)
c.load_extension(so)
info = json.loads(c.execute("SELECT semiperso_info()").fetchone()[0])
assert info["threads"] == want, (info["threads"], want)
# 2133 users: four blocks of 512 and 85 over.
summary = json.loads(c.execute(
    """SELECT synthesize_dataset('{"tracks": 2000, "warm": 1500, "validation": 300,
       "test": 333, "dim": 8, "seed": 5, "quiet": true}')""").fetchone()[0])
del summary["seconds"]
assert summary["warm"] + summary["validation"] + summary["test"] == 2133, summary
h = hashlib.sha256(json.dumps(summary, sort_keys=True).encode())
for table in ("tracks", "playlist_tracks", "users", "registration_events",
              "future_listens", "listens"):
    n = 0
    for row in c.execute(f"SELECT rowid, * FROM {table} ORDER BY rowid"):
        h.update(repr(row).encode())
        n += 1
    assert n > 0, table
    h.update(f"{table} {n}".encode())
for row in c.execute("SELECT name, sql FROM sqlite_schema ORDER BY name"):
    h.update(repr(row).encode())
assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
print(h.hexdigest())
PY
}
one=$(run_py 1)
two=$(run_py 2)
echo "team of 1: $one"
echo "team of 2: $two"
[ "$one" = "$two" ]
OPENBLAS_NUM_THREADS=2 sh tests/scripts/synth_interrupt.sh
