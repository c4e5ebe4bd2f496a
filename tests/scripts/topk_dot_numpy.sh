#!/bin/sh
# topk_tracks(..., 'dot') and topk_tracks_batch(..., 'dot') against an
# independent ranking in numpy: 3 000 tracks of d = 32 with norms spread
# over two decades (so the inner product and cosine rank differently),
# exact copies under larger ids (ties), a zero track; 40 queries, one of
# them zero.  The reference score of a track is its exact inner product
# with the query rounded once to float32 (float32 products are exact in
# double, math.fsum sums them exactly); tracks rank by that score, best
# first, ties by smaller id.  Both functions must give exactly these ids
# and scores, for k = 50 and for k larger than the table.
set -eu
cd "$(dirname "$0")/../.."
LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
/usr/bin/python3 - "${SEMIPERSO_SO:-./semiperso}" <<'PY'
import math
import sqlite3
import sys

import numpy as np

rng = np.random.default_rng(11)
n, d, nq = 3000, 32, 40
x = rng.standard_normal((n, d)) * np.exp(rng.uniform(-2.3, 2.3, (n, 1)))
x = x.astype(np.float32)
x[7] = 0.0                  # a zero track scores 0 against anything
x[2500:2600] = x[100:200]   # copies: equal scores, ranked by id
ids = np.arange(n, dtype=np.int64) * 5 + 3
q = rng.standard_normal((nq, d)).astype(np.float32)
q[0] = 0.0                  # a zero query scores 0 everywhere
q[1] = x[150]               # a query equal to a copied track

db = sqlite3.connect(":memory:")
db.enable_load_extension(True)
db.load_extension(sys.argv[1])
db.execute("CREATE TABLE tracks(track_id INTEGER PRIMARY KEY, embedding BLOB NOT NULL)")
db.executemany("INSERT INTO tracks VALUES (?, ?)",
               [(int(i), v.astype("<f4").tobytes()) for i, v in zip(ids, x)])
db.execute("CREATE TABLE queries(user_id INTEGER PRIMARY KEY, embedding BLOB NOT NULL)")
db.executemany("INSERT INTO queries VALUES (?, ?)",
               [(u, v.astype("<f4").tobytes()) for u, v in enumerate(q)])

x64 = x.astype(np.float64)


def reference(qv, k):
    """The k best (id, float32 score) by exact inner product, ties by id."""
    prods = x64 * qv.astype(np.float64)  # exact: 24-bit by 24-bit mantissas
    scores = np.array([math.fsum(row) for row in prods]).astype(np.float32)
    order = np.lexsort((ids, -scores))[:k]
    return [(int(ids[i]), float(scores[i])) for i in order]


failures = 0
ties = 0
for k in (50, n + 10):
    batch = {}
    for u, t, s in db.execute(
            "SELECT user_id, track_id, score FROM topk_tracks_batch("
            "'SELECT user_id, embedding FROM queries', ?, 'tracks', 'dot') ORDER BY user_id, rank",
            (k,)):
        batch.setdefault(u, []).append((t, s))
    for u in range(nq):
        want = reference(q[u], k)
        got = db.execute("SELECT track_id, score FROM topk_tracks(?, ?, 'tracks', 'dot') "
                         "ORDER BY rank", (q[u].astype("<f4").tobytes(), k)).fetchall()
        got = [(t, float(np.float32(s))) for t, s in got]
        got_batch = [(t, float(np.float32(s))) for t, s in batch.get(u, [])]
        if got != want or got_batch != want:
            failures += 1
            bad = next(i for i in range(len(want))
                       if i >= len(got) or got[i] != want[i]
                       or i >= len(got_batch) or got_batch[i] != want[i])
            print("query %d, k = %d: first difference at rank %d: numpy %r, topk_tracks %r, "
                  "batch %r" % (u, k, bad + 1, want[bad], got[bad:bad + 1],
                                got_batch[bad:bad + 1]))
        ties += sum(1 for a, b in zip(want, want[1:]) if a[1] == b[1])
    # Cosine ranks otherwise on these vectors: the metric argument is used.
    if k == 50:
        cos = [t for (t,) in db.execute(
            "SELECT track_id FROM topk_tracks(?, 50) ORDER BY rank", (q[2].tobytes(),))]
        assert cos != [t for t, _ in reference(q[2], 50)], "cosine and dot ranked alike"

print("%d queries x 2 k compared, %d ties within lists, %d mismatches" % (nq, ties, failures))
assert ties > 0, "the data should produce equal scores"
assert failures == 0
PY
