#!/bin/sh
# synthesize_dataset() under sqlite3_interrupt(): the database is left as
# it was, both when the tables did not exist and when they held a dataset
# that "replace" would have overwritten.
set -eu
LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" /usr/bin/python3 - "$SEMIPERSO_SO" <<'PY'
import sqlite3, sys, threading
so = sys.argv[1]
con = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
con.enable_load_extension(True)
con.load_extension(so)

def interrupted(options, delay):
    t = threading.Timer(delay, con.interrupt)
    t.start()
    try:
        con.execute("SELECT synthesize_dataset(?)", (options,)).fetchone()
    except sqlite3.OperationalError as e:
        assert str(e) == "synthesize_dataset(): interrupted; the database is left as it was", e
        return True
    finally:
        t.cancel()
    return False

big = '{"tracks": 20000, "warm": 60000, "validation": 0, "test": 0, "dim": 64, "quiet": true%s}'
assert interrupted(big % "", 0.5), "not interrupted"
assert not con.in_transaction
assert con.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0] == 0, "tables left"

con.execute("""SELECT synthesize_dataset('{"tracks": 1000, "warm": 100, "validation": 10,
               "test": 10, "dim": 4, "quiet": true}')""").fetchone()
before = con.execute("SELECT count(*), sum(track_id) FROM future_listens").fetchone()
assert interrupted(big % ', "replace": true', 0.5), "not interrupted"
assert not con.in_transaction
after = con.execute("SELECT count(*), sum(track_id) FROM future_listens").fetchone()
assert before == after, (before, after)
assert con.execute("SELECT count(*) FROM tracks").fetchone()[0] == 1000
print("ok")
PY
