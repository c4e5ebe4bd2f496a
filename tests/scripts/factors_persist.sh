#!/bin/sh
# factors_persist.sh - train_als() and train_pmi_svd() against the numeric
# core and numpy, across connections:
#  - the vectors in semiperso_factors are, bit for bit, what the core gives
#    for the same input and options (tests/factors/core_factors.c, built
#    with this variant's flags), users and items numbered by increasing id
#    (numbered here by numpy);
#  - ALS's stored loss is the loss of its factors, recomputed in numpy;
#  - TT-SVD's singular values and subspace agree with a dense
#    eigendecomposition of the PMI matrix numpy builds from the playlists,
#    and users' vectors are the play-weighted means of their tracks';
#  - a model survives close and reopen; re-training replaces it whole;
#  - sqlite3_interrupt() stops either training and leaves the database as
#    it was (a digest of every row), the previous model kept.
set -eu
cd "$(dirname "$0")/../.."
SO=${SEMIPERSO_SO:-$(pwd)/semiperso}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if [ -n "${SEMIPERSO_PRELOAD:-}" ]; then
  flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
else
  flags="-O2"
fi
# shellcheck disable=SC2086
# The core as the extension links it (the BLAS loaded at run time, the
# same kernel chosen), so the factors can be compared bit for bit.
cc $flags -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iext/core $(pkg-config --cflags openblas) \
  -o "$dir/core_factors" tests/factors/core_factors.c ext/core/*.c -ldl -lm -lpthread
# Python itself leaks at exit; the extension's leaks are checked elsewhere.
# numpy loads OpenBLAS before the extension, which then keeps OpenBLAS's own
# kernel choice; one kernel named for both processes (inherited by the core
# run) makes their products round alike.
LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" OPENBLAS_NUM_THREADS=1 \
  OPENBLAS_CORETYPE=Prescott \
  /usr/bin/python3 - "$SO" "$dir/t.db" "$dir/core_factors" <<'PY'
import sqlite3, subprocess, sys
import numpy as np

so, path, core = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, "tests/scripts")
from dbstate import LATENCY_LIMIT, digest, interrupted

def connect():
    c = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    c.enable_load_extension(True)
    c.load_extension(so)
    c.execute("PRAGMA synchronous = OFF")
    return c

def vectors(c, model, side):
    rows = c.execute("SELECT id, embedding FROM semiperso_factors WHERE model = ? AND side = ? "
                     "ORDER BY id", (model, side)).fetchall()
    return [r[0] for r in rows], np.array([np.frombuffer(r[1], dtype=np.float32) for r in rows])

def run_core(args, lines, floats):
    out = subprocess.run([core] + [str(a) for a in args], input="".join(lines).encode(),
                         stdout=subprocess.PIPE, check=True).stdout
    v = np.frombuffer(out, dtype=np.float32)
    assert v.size == floats, (v.size, floats)
    return v

a = connect()
a.execute("""SELECT synthesize_dataset('{"tracks": 2000, "warm": 800, "validation": 10,
             "test": 10, "dim": 16, "quiet": true}')""").fetchone()
listens = np.array(a.execute("SELECT user_id, track_id, plays FROM listens").fetchall())
users, uidx = np.unique(listens[:, 0], return_inverse=True)
items, iidx = np.unique(listens[:, 1], return_inverse=True)

# ---- UT-ALS ---------------------------------------------------------------
d, its, reg, alpha, cg, seed = 24, 4, 0.05, 2.0, 3, 11
a.execute("""SELECT train_als('ut', 'SELECT user_id, track_id, plays FROM listens ORDER BY random()',
             json_object('dim', ?, 'iterations', ?, 'regularization', ?, 'alpha', ?,
                         'cg_steps', ?, 'seed', ?, 'quiet', 1))""",
          (d, its, reg, alpha, cg, seed)).fetchone()
uid, U = vectors(a, "ut", "user")
iid, V = vectors(a, "ut", "item")
assert uid == list(users) and iid == list(items)
ref = run_core(["als", len(users), len(items), d, its, reg, alpha, cg, seed],
               ["%d %d %d\n" % (u, i, w) for u, i, w in zip(uidx, iidx, listens[:, 2])],
               (len(users) + len(items)) * d)
assert (ref[:len(users) * d] == U.ravel()).all(), "user factors differ from the core's"
assert (ref[len(users) * d:] == V.ravel()).all(), "item factors differ from the core's"
# The stored loss is the loss of these factors.
X, Y = U.astype(np.float64), V.astype(np.float64)
c = 1 + alpha * listens[:, 2]
s = (X[uidx] * Y[iidx]).sum(1)
loss = (np.sum((X.T @ X) * (Y.T @ Y)) - np.sum(s * s)      # every pair at c = 1, p = 0
        + np.sum(c * (1 - s) ** 2) + reg * (np.sum(X * X) + np.sum(Y * Y)))
stored = a.execute("SELECT loss FROM semiperso_factorizations WHERE name = 'ut'").fetchone()[0]
assert abs(stored - loss) < 1e-4 * loss, (stored, loss)
hist = [r[0] for r in a.execute("SELECT loss FROM semiperso_factorization_history "
                                "WHERE model = 'ut' ORDER BY iteration")]
assert len(hist) == its and hist[-1] == stored
assert all(y <= x * (1 + 1e-6) for x, y in zip(hist, hist[1:])), hist

# ---- TT-SVD ---------------------------------------------------------------
pl = np.array(a.execute("SELECT playlist_id, track_id FROM playlist_tracks").fetchall())
colls, cidx = np.unique(pl[:, 0], return_inverse=True)
tracks, tidx = np.unique(pl[:, 1], return_inverse=True)
d2 = 8
a.execute("""SELECT train_pmi_svd('tt', 'SELECT playlist_id, track_id FROM playlist_tracks',
             json_object('dim', ?, 'power_iterations', 12, 'power', 1, 'seed', 5, 'quiet', 1,
                         'users', 'SELECT user_id, track_id, plays FROM listens'))""",
          (d2,)).fetchone()
tid, T = vectors(a, "tt", "item")
assert tid == list(tracks)
ref = run_core(["pmi_svd", len(colls), len(tracks), d2, 10, 12, 1, 1, 5],
               ["%d %d\n" % (p, t) for p, t in zip(cidx, tidx)], len(tracks) * d2)
assert (ref == T.ravel()).all(), "item vectors differ from the core's"
# Dense PMI in numpy: co-occurrence counts of distinct (playlist, track).
A = np.zeros((len(colls), len(tracks)))
A[cidx, tidx] = 1
C = A.T @ A
np.fill_diagonal(C, 0)
row = C.sum(1)
D = row.sum()
with np.errstate(divide="ignore"):
    P = np.log(C * D / np.outer(row, row))
P = np.where(C > 0, np.maximum(P, 0), 0)
lam, W = np.linalg.eigh(P)
top = np.argsort(-np.abs(lam))[:d2]
sigma = np.abs(lam[top])
# power 1: vector columns are u_k sigma_k, so their norms are the sigmas.
got = np.linalg.norm(T.astype(np.float64), axis=0)
assert np.allclose(got, sigma, rtol=2e-3), (got, sigma)
summary = a.execute("SELECT summary FROM semiperso_factorizations WHERE name = 'tt'").fetchone()[0]
assert '"pmi_entries":%d' % np.count_nonzero(P) in summary, summary
# The same subspace: cosines of the principal angles all near 1.
Q = T / got
cosines = np.linalg.svd(W[:, top].T @ Q, compute_uv=False)
assert cosines.min() > 0.99, cosines
# Users: play-weighted means of their tracks' vectors (0 for a track in no playlist).
uid2, UT = vectors(a, "tt", "user")
assert uid2 == list(users)
pos = {t: k for k, t in enumerate(tracks)}
want = np.zeros((len(users), d2))
for (u, t, w), k in zip(listens, uidx):
    if t in pos:
        want[k] += w * T[pos[t]]
want /= np.bincount(uidx, weights=listens[:, 2])[:, None]
assert np.abs(want - UT).max() < 1e-5, np.abs(want - UT).max()

# ---- persistence and replacement -------------------------------------------
gen = a.execute("SELECT generation FROM semiperso_factorizations WHERE name = 'ut'").fetchone()[0]
a.close()
b = connect()
assert (vectors(b, "ut", "user")[1] == U).all() and (vectors(b, "ut", "item")[1] == V).all()
b.execute("""SELECT train_als('ut', 'SELECT user_id, track_id, plays FROM listens WHERE user_id <= 10',
             '{"dim": 4, "iterations": 2, "quiet": true}')""").fetchone()
n, dims, g2 = b.execute("SELECT users, dims, generation FROM semiperso_factorizations "
                        "WHERE name = 'ut'").fetchone()
assert (n, dims) == (10, 4) and g2 != gen
assert b.execute("SELECT count(*), max(length(embedding)) FROM semiperso_factors "
                 "WHERE model = 'ut' AND side = 'user'").fetchone() == (10, 16)
assert b.execute("SELECT count(*) FROM semiperso_factorization_history WHERE model = 'ut'"
                 ).fetchone()[0] == 2

# ---- interrupts -------------------------------------------------------------
# Work of seconds to minutes, from queries that make it up: the listens of
# 16 copies of every user; 4000 collections of 25 items among 3000.
state = digest(b)
for call, what in [
    ("""SELECT train_als('ut', 'SELECT user_id + k.value * 1000, track_id, plays
        FROM listens, json_each(''[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]'') AS k',
        '{"dim": 128, "iterations": 1000, "quiet": true}')""", "train_als"),
    ("""SELECT train_pmi_svd('tt', 'WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL
          SELECT n + 1 FROM c WHERE n < 3999), j(n) AS (SELECT 0 UNION ALL
          SELECT n + 1 FROM j WHERE n < 24)
        SELECT c.n, (c.n * 7919 + j.n * j.n * 104729) % 3000 FROM c, j',
        '{"dim": 64, "power_iterations": 100, "quiet": true}')""", "train_pmi_svd")]:
    error, latency = interrupted(b, lambda: b.execute(call).fetchone(), 1.0)
    assert error == what + "(): interrupted; the previous factorization is kept", \
        error or what + " was not interrupted"
    assert latency < LATENCY_LIMIT, (what, latency)
    assert digest(b) == state, what + ": an interrupted training changed the database"
print("ok")
PY
