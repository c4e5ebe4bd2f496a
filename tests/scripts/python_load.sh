#!/bin/sh
# Python's sqlite3 module loads the extension (Debian's python3, which is
# built with extension loading) and gets the values worked out by hand.
set -eu
LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
/usr/bin/python3 - "$SEMIPERSO_SO" <<'PY'
import sqlite3, struct, sys
conn = sqlite3.connect(":memory:")
conn.enable_load_extension(True)
conn.load_extension(sys.argv[1])
conn.enable_load_extension(False)
blob = conn.execute("SELECT vec_f32('[1.5, -2, 3]')").fetchone()[0]
assert struct.unpack("<3f", blob) == (1.5, -2.0, 3.0), blob
# Python floats packed by struct are the same bytes the extension reads.
v = struct.pack("<2f", 3.0, 4.0)
assert conn.execute("SELECT vec_distance_l2(?, ?)", (v, struct.pack("<2f", 0, 0))).fetchone()[0] == 5.0
(p,) = conn.execute("SELECT precision_at('[1,2,3]', '[3,4]', 3)").fetchone()
assert abs(p - 0.5) < 1e-12, p
try:
    conn.execute("SELECT vec_length(?)", (b"\x00\x01",)).fetchone()
    raise SystemExit("expected an error for a 2-byte BLOB")
except sqlite3.OperationalError as e:
    assert "vec_length(): argument 1" in str(e), e
print("python ok")
PY
