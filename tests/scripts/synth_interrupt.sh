#!/bin/sh
# synthesize_dataset() under sqlite3_interrupt(): it stops within
# dbstate.LATENCY_LIMIT of the interrupt and leaves the whole database as it
# was (tests/scripts/dbstate.py), both when the tables did not exist and
# when they held a dataset that "replace" would have overwritten.
set -eu
cd "$(dirname "$0")/../.."
LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" /usr/bin/python3 - "$SEMIPERSO_SO" <<'PY'
import sqlite3, sys
sys.path.insert(0, "tests/scripts")
from dbstate import LATENCY_LIMIT, digest, interrupted

so = sys.argv[1]
con = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
con.enable_load_extension(True)
con.load_extension(so)

big = '{"tracks": 20000, "warm": 60000, "validation": 0, "test": 0, "dim": 64, "quiet": true%s}'

def check(name, options):
    before = digest(con)
    error, latency = interrupted(
        con, lambda: con.execute("SELECT synthesize_dataset(?)", (options,)).fetchone(), 0.5)
    assert error == "synthesize_dataset(): interrupted; the database is left as it was", \
        f"{name}: {error or 'not interrupted'}"
    assert latency < LATENCY_LIMIT, f"{name}: {latency:.2f} s from the interrupt to the error"
    assert not con.in_transaction, f"{name}: a transaction was left open"
    assert digest(con) == before, f"{name}: the database changed"
    print(f"{name}: stopped {latency * 1000:.0f} ms after the interrupt, database unchanged")

check("empty database", big % "")
assert con.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0] == 0, "tables left"
con.execute("""SELECT synthesize_dataset('{"tracks": 1000, "warm": 100, "validation": 10,
               "test": 10, "dim": 4, "quiet": true}')""").fetchone()
check("replace", big % ', "replace": true')
assert con.execute("SELECT count(*) FROM tracks").fetchone()[0] == 1000
PY
