#!/bin/sh
# sqlite3_interrupt() during the long SQL-driven work the training tests do
# not cover: batch scoring (topk_tracks_batch) and the feature script.  Each
# stops within dbstate.LATENCY_LIMIT of the interrupt with "interrupted" and
# leaves the whole database exactly as it was (tests/scripts/dbstate.py).
set -eu
cd "$(dirname "$0")/../.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
/usr/bin/python3 - "$SEMIPERSO_SO" "$dir/t.db" <<'PY'
import sqlite3, sys
sys.path.insert(0, "tests/scripts")
from dbstate import LATENCY_LIMIT, digest, interrupted

so, path = sys.argv[1], sys.argv[2]
c = sqlite3.connect(path, isolation_level=None)
c.enable_load_extension(True)
c.load_extension(so)
c.execute("""SELECT synthesize_dataset('{"tracks": 20000, "warm": 3000, "validation": 0,
             "test": 3000, "dim": 64, "quiet": true}')""")
c.executescript(open("sql/features.sql").read())

def check(name, sql, delay):
    before = digest(c)
    error, latency = interrupted(c, lambda: c.executescript(sql), delay)
    assert error is not None, f"{name}: not interrupted"
    assert "interrupt" in error, f"{name}: {error}"
    assert latency < LATENCY_LIMIT, f"{name}: {latency:.2f} s from the interrupt to the error"
    assert not c.in_transaction, f"{name}: a transaction was left open"
    assert digest(c) == before, f"{name}: the database changed"
    print(f"{name}: stopped {latency * 1000:.0f} ms after the interrupt, database unchanged")

# Batch scoring: 3000 x 20000 x 64 scored many times over takes seconds.
c.execute("CREATE TABLE recs(user_id, rank, track_id, score)")
check("topk_tracks_batch", """INSERT INTO recs SELECT * FROM topk_tracks_batch(
        'SELECT u.user_id, t.embedding FROM users u, tracks t
          WHERE u.split = ''test'' AND t.track_id % 50 = 0', 50);""", 0.3)

# The feature script, with user_features first made to differ from what
# the script computes, so partial work would show.
c.execute("UPDATE user_features SET features = vec_zeros(vec_length(features)) WHERE user_id % 7 = 0")
check("features.sql", open("sql/features.sql").read(), 0.05)
PY
