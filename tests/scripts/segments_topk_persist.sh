#!/bin/sh
# segments_topk_persist.sh - train_segments()/assign_segment() and
# topk_tracks() across connections: a segmentation survives close and
# reopen; one connection's caches are never served after another
# connection retrains, drops or edits; sqlite3_interrupt() stops a training
# with SQLITE_INTERRUPT and keeps the previous segmentation; k-means agrees
# with an independent numpy check, and topk_tracks with a numpy sort.
set -eu
cd "$(dirname "$0")/../.."
SO=${SEMIPERSO_SO:-$(pwd)/semiperso}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Python itself leaks at exit; the extension's leaks are checked elsewhere.
LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" OPENBLAS_NUM_THREADS=1 /usr/bin/python3 - "$SO" "$dir/t.db" <<'PY'
import sqlite3, sys
import numpy as np

so, path = sys.argv[1], sys.argv[2]

def connect():
    c = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    c.enable_load_extension(True)
    c.load_extension(so)
    c.execute("PRAGMA synchronous = OFF")
    return c

def insert(c, sql, rows):
    c.execute("BEGIN")
    c.executemany(sql, rows)
    c.execute("COMMIT")

rng = np.random.default_rng(7)
X = rng.normal(size=(2000, 8)).astype(np.float32)
a = connect()
a.execute("CREATE TABLE u(id INTEGER PRIMARY KEY, v BLOB)")
insert(a, "INSERT INTO u VALUES (?, ?)", [(i, x.tobytes()) for i, x in enumerate(X)])
a.execute("""SELECT train_segments('s', 'SELECT v FROM u ORDER BY id',
             '{"k": 25, "max_iter": 500, "quiet": true}')""").fetchone()
assert a.execute("SELECT converged FROM semiperso_segmentations").fetchone()[0] == 1

def centroids(c, name):
    rows = c.execute("SELECT centroid FROM semiperso_segments WHERE segmentation = ? "
                     "ORDER BY segment_id", (name,)).fetchall()
    return np.array([np.frombuffer(r[0], dtype=np.float32) for r in rows])

def assign(c, name, x):
    return c.execute("SELECT assign_segment(?, ?)", (name, x.tobytes())).fetchone()[0]

C = centroids(a, 's')
D = ((X.astype(np.float64)[:, None, :] - C.astype(np.float64)[None]) ** 2).sum(-1)
want = D.argmin(1)
got = [r[0] for r in a.execute("SELECT assign_segment('s', v) FROM u ORDER BY id")]
assert list(want) == got, "assign_segment differs from numpy"
inertia = a.execute("SELECT inertia FROM semiperso_segmentations WHERE name = 's'").fetchone()[0]
assert abs(inertia - D.min(1).sum()) < 1e-6 * inertia, (inertia, D.min(1).sum())
# A converged centroid is the mean of its points.
for j in range(len(C)):
    if (want == j).any():
        assert np.abs(X[want == j].mean(0) - C[j]).max() < 1e-4

# Survives close and reopen, bit for bit.
a.close()
b = connect()
assert (centroids(b, 's') == C).all()
assert [assign(b, 's', x) for x in X[:50]] == got[:50]

# Another connection retrains: b's cache must follow.
c = connect()
c.execute("""SELECT train_segments('s', 'SELECT v FROM u WHERE id < 100',
             '{"k": 1, "quiet": true}')""").fetchone()
assert assign(b, 's', X[0]) == 0 and assign(b, 's', X[1]) == 0
# ... or drops it.
c.execute("DELETE FROM semiperso_segmentations WHERE name = 's'")
try:
    assign(b, 's', X[0])
    raise SystemExit("a dropped segmentation was served")
except sqlite3.OperationalError as e:
    assert "no segmentation named 's'" in str(e), e

# An interrupted training keeps the previous segmentation.
c.execute("""SELECT train_segments('big', 'SELECT v FROM u', '{"k": 3, "quiet": true}')""").fetchone()
before = centroids(c, 'big')
big = np.tile(X, (40, 1))
c.execute("CREATE TABLE big(v BLOB)")
insert(c, "INSERT INTO big VALUES (?)", [(x.tobytes(),) for x in big])
sys.path.insert(0, "tests/scripts")
from dbstate import LATENCY_LIMIT, digest, interrupted
state = digest(c)
error, latency = interrupted(c, lambda: c.execute("""SELECT train_segments('big', 'SELECT v FROM big',
    '{"k": 400, "max_iter": 200, "quiet": true}')""").fetchone(), 0.3)
# The message every long function gives (train_embedder's says "model").
assert error == "train_segments(): interrupted; the previous segmentation is kept", error or "training was not interrupted"
assert latency < LATENCY_LIMIT, latency
assert digest(c) == state, "an interrupted training changed the database"
assert (centroids(c, 'big') == before).all()
assert c.execute("SELECT k FROM semiperso_segmentations WHERE name = 'big'").fetchone()[0] == 3

# topk_tracks: numpy sort, and another connection's edits are seen.
T = rng.normal(size=(500, 8)).astype(np.float32)
c.execute("CREATE TABLE tracks(track_id INTEGER PRIMARY KEY, embedding BLOB)")
insert(c, "INSERT INTO tracks VALUES (?, ?)", [(i * 2, t.tobytes()) for i, t in enumerate(T)])
Tn = T.astype(np.float64) / np.linalg.norm(T.astype(np.float64), axis=1, keepdims=True)
for q in X[:20]:
    s = Tn @ (q / np.linalg.norm(q))
    want = [int(i) * 2 for i in np.argsort(-s, kind="stable")[:10]]
    got = [r[0] for r in b.execute("SELECT track_id FROM topk_tracks(?, 10)", (q.tobytes(),))]
    assert got == want, (got, want)
q = X[0]
best = b.execute("SELECT track_id FROM topk_tracks(?, 1)", (q.tobytes(),)).fetchone()[0]
c.execute("UPDATE tracks SET embedding = ? WHERE track_id = 998", (q.tobytes(),))
assert b.execute("SELECT track_id, score FROM topk_tracks(?, 1)", (q.tobytes(),)).fetchone()[0] == 998
c.execute("DELETE FROM tracks WHERE track_id = 998")
assert b.execute("SELECT track_id FROM topk_tracks(?, 1)", (q.tobytes(),)).fetchone()[0] == best
n = b.execute("SELECT count(*) FROM topk_tracks_batch('SELECT id, v FROM u WHERE id < 30', 5)").fetchone()[0]
assert n == 150, n
print("ok")
PY
