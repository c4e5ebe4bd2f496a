"""dbstate.py - what the interrupt tests (tests/scripts/*interrupt*.sh)
share: a digest of a whole database and a timed sqlite3_interrupt().

digest(con): SHA-256 over the schema and every row of every table of the
main database (values with their types: a float, a blob and an integer of
equal value differ), so "the database is as it was" is one comparison.

interrupted(con, run, delay): calls run() and interrupts the connection
from another thread after `delay` seconds; returns the error message run()
raised (None if it finished first) and the latency: seconds from the first
interrupt call to run() returning.  The interrupt is repeated every REPEAT
seconds until run() returns: SQLite forgets an interrupt that arrives as a
statement finishes (a script's next statement starts afresh), which is
SQLite's behaviour, not the code under test's.  LATENCY_LIMIT is the bound the tests
assert on it, generous on purpose: the extension checks for an interrupt
between blocks of milliseconds of work (SQLite between instructions), so
a healthy build answers within tens of milliseconds; 2 s still holds on a
machine loaded many times over and under AddressSanitizer, while a check
that stops being polled (work running to its end: seconds here) fails.
"""
import hashlib
import sqlite3
import threading
import time

LATENCY_LIMIT = 2.0
REPEAT = 0.005


def digest(con):
    h = hashlib.sha256()
    tables = [r[0] for r in con.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")]
    for row in con.execute("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name"):
        h.update(repr(row).encode())
    for t in tables:
        h.update(b"\0table " + t.encode())
        quoted = '"' + t.replace('"', '""') + '"'
        for row in con.execute(f"SELECT * FROM {quoted}"):  # rowid or key order
            h.update(repr([(type(v).__name__, v) for v in row]).encode())
    return h.hexdigest()


def interrupted(con, run, delay):
    fired = []
    stop = threading.Event()

    def fire():
        if stop.wait(delay):
            return
        fired.append(time.monotonic())
        while True:
            con.interrupt()
            if stop.wait(REPEAT):
                return

    thread = threading.Thread(target=fire)
    thread.start()
    error = None
    try:
        run()
    except sqlite3.Error as e:
        error = str(e)
    finally:
        done = time.monotonic()
        stop.set()
        thread.join()
    latency = done - fired[0] if fired else None
    return error, latency
