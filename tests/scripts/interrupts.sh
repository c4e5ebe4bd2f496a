#!/bin/sh
# sqlite3_interrupt() during the long SQL-driven work the training tests do
# not cover: batch scoring (topk_tracks_batch) and the feature script.  Each
# stops promptly with "interrupted" and leaves the database as it was.
set -eu
cd "$(dirname "$0")/../.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
/usr/bin/python3 - "$SEMIPERSO_SO" "$dir/t.db" <<'PY'
import sqlite3, sys, threading, time

so, path = sys.argv[1], sys.argv[2]
c = sqlite3.connect(path, isolation_level=None)
c.enable_load_extension(True)
c.load_extension(so)
c.execute("""SELECT synthesize_dataset('{"tracks": 20000, "warm": 3000, "validation": 0,
             "test": 3000, "dim": 64, "quiet": true}')""")
c.executescript(open("sql/features.sql").read())

def fingerprint():
    return c.execute("""SELECT count(*), total(length(features)), sum(user_id * unicode(hex(features)))
                        FROM user_features""").fetchone()

def interrupted(sql, after):
    """Runs sql, interrupting it after `after` seconds; returns its duration.
    The interrupt is repeated every 5 ms: one that lands between two
    statements of a script (none running) is a no-op in SQLite."""
    stop = threading.Event()
    def interrupter():
        if not stop.wait(after):
            while not stop.wait(0.005):
                c.interrupt()
    t = threading.Thread(target=interrupter)
    t.start()
    start = time.monotonic()
    try:
        c.executescript(sql)
    except sqlite3.OperationalError as e:
        assert "interrupt" in str(e), e
    else:
        raise SystemExit("not interrupted: " + sql[:60])
    finally:
        stop.set()
        t.join()
    return time.monotonic() - start

# Batch scoring: 3000 x 20000 x 64 scored many times over takes seconds;
# the interrupt must stop it within a fraction of that and insert nothing.
c.execute("CREATE TABLE recs(user_id, rank, track_id, score)")
batch = """INSERT INTO recs SELECT * FROM topk_tracks_batch(
             'SELECT u.user_id, t.embedding FROM users u, tracks t
               WHERE u.split = ''test'' AND t.track_id % 50 = 0', 50);"""
took = interrupted(batch, 0.3)
assert took < 3.0, f"batch scoring took {took:.2f} s to stop"
assert c.execute("SELECT count(*) FROM recs").fetchone()[0] == 0

# The feature script: user_features exactly as before (first made to
# differ from what the script computes, so partial work would show).
c.execute("UPDATE user_features SET features = vec_zeros(vec_length(features)) WHERE user_id % 7 = 0")
before = fingerprint()
took = interrupted(open("sql/features.sql").read(), 0.05)
assert c.in_transaction is False, "the script's savepoint was left open"
assert fingerprint() == before, "features.sql left partial work after an interrupt"
print("interrupts ok")
PY
