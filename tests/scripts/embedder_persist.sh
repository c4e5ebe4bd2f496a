#!/bin/sh
# embedder_persist.sh - train_embedder()/embed_user() across connections:
# a model survives close and reopen bit for bit; one connection's cached
# model is never served after another connection retrains or deletes it;
# sqlite3_interrupt() stops training with SQLITE_INTERRUPT and keeps the
# previous model.
set -eu
cd "$(dirname "$0")/../.."
SO=${SEMIPERSO_SO:-$(pwd)/semiperso}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Python itself leaks at exit; the extension's leaks are checked by the SQL tests.
LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" OPENBLAS_NUM_THREADS=1 /usr/bin/python3 - "$SO" "$dir/t.db" <<'PY'
import sqlite3, sys
import numpy as np

so, path = sys.argv[1], sys.argv[2]

def connect():
    c = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    c.enable_load_extension(True)
    c.load_extension(so)
    return c

rng = np.random.default_rng(3)
X = rng.normal(size=(300, 6)).astype(np.float32)
M = rng.normal(size=(6, 4))
T = X @ M
T = (T / np.linalg.norm(T, axis=1, keepdims=True)).astype(np.float32)
a = connect()
a.execute("CREATE TABLE d(f BLOB, t BLOB)")
a.executemany("INSERT INTO d VALUES (?, ?)", [(x.tobytes(), t.tobytes()) for x, t in zip(X, T)])
opts = '{"hidden":[12,8],"epochs":20,"batch_size":64,"learning_rate":0.01,"quiet":true}'
a.execute("SELECT train_embedder('m', 'SELECT f, t FROM d', ?)", (opts,)).fetchone()

def embed(c, x):
    return c.execute("SELECT embed_user('m', ?)", (x.tobytes(),)).fetchone()[0]

before = [embed(a, x) for x in X[:5]]
v = np.frombuffer(before[0], dtype=np.float32)
assert v.shape == (4,) and abs(np.linalg.norm(v) - 1) < 1e-5, v

# An independent forward pass in numpy from the stored tensors, with the
# BatchNorm running statistics.
P = {}
for layer, kind, rows, cols, data in a.execute(
        "SELECT layer, kind, rows, cols, data FROM semiperso_model_params WHERE model = 'm'"):
    P[(layer, kind)] = np.frombuffer(data, dtype=np.float32).reshape(rows, cols).astype(np.float64)
h = X[:5].astype(np.float64)
for l in range(3):
    z = h @ P[(l, 'weight')].T + P[(l, 'bias')][:, 0]
    if l < 2:
        z = np.maximum(z, 0)
        h = (z - P[(l, 'bn_running_mean')][:, 0]) / np.sqrt(P[(l, 'bn_running_var')][:, 0] + 1e-5) \
            * P[(l, 'bn_weight')][:, 0] + P[(l, 'bn_bias')][:, 0]
    else:
        h = z / np.linalg.norm(z, axis=1, keepdims=True)
got = np.array([np.frombuffer(b, dtype=np.float32) for b in before])
assert np.abs(got - h).max() < 1e-5, np.abs(got - h).max()
# The running statistics were really trained (not the initial 0 and 1).
assert np.abs(P[(0, 'bn_running_mean')]).max() > 1e-3
a.close()

# Reopen: the same vectors, bit for bit.
a = connect()
assert [embed(a, x) for x in X[:5]] == before, "vectors changed after reopen"

# Another connection retrains: a (which has the model cached) sees it.
b = connect()
b.execute("SELECT train_embedder('m', 'SELECT f, t FROM d', ?)",
          (opts.replace('"epochs":20', '"epochs":20,"seed":9'),)).fetchone()
after = [embed(a, x) for x in X[:5]]
assert after != before, "stale model served after another connection retrained"
assert after == [embed(b, x) for x in X[:5]]
# ... and deletes it.
b.execute("DELETE FROM semiperso_models WHERE name = 'm'")
try:
    embed(a, X[0])
    raise SystemExit("deleted model still served")
except sqlite3.OperationalError as e:
    assert 'no model named "m"' in str(e), e
b.execute("SELECT train_embedder('m', 'SELECT f, t FROM d', ?)", (opts,)).fetchone()
assert [embed(a, x) for x in X[:5]] == before, "retraining with the same seed differs"
params = b.execute("SELECT group_concat(hex(data)) FROM semiperso_model_params").fetchone()

# Interrupt a long training: SQLITE_INTERRUPT promptly, old model kept,
# the whole database as it was (tests/scripts/dbstate.py).
sys.path.insert(0, "tests/scripts")
from dbstate import LATENCY_LIMIT, digest, interrupted
big = opts.replace('"epochs":20', '"epochs":1000000')
state = digest(b)
error, latency = interrupted(
    a, lambda: a.execute("SELECT train_embedder('m', 'SELECT f, t FROM d', ?)", (big,)).fetchone(), 0.5)
assert error == "train_embedder(): interrupted; the previous model is kept", error or "training was not interrupted"
assert latency < LATENCY_LIMIT, latency
assert digest(b) == state, "an interrupted training changed the database"
assert b.execute("SELECT group_concat(hex(data)) FROM semiperso_model_params").fetchone() == params
assert [embed(a, x) for x in X[:5]] == before

# Validation: precision@k of the nearest tracks, checked against numpy.
items = rng.normal(size=(40, 4)).astype(np.float32)
ids = [100 + 3 * i for i in range(40)]
a.execute("CREATE TABLE items(item_id INTEGER PRIMARY KEY, embedding BLOB)")
a.executemany("INSERT INTO items VALUES (?, ?)", [(i, v.tobytes()) for i, v in zip(ids, items)])
a.execute("CREATE TABLE val(f BLOB, relevant TEXT)")
rel = [sorted(rng.choice(ids, size=int(rng.integers(0, 8)), replace=False).tolist()) for _ in range(30)]
a.executemany("INSERT INTO val VALUES (?, ?)", [(x.tobytes(), str(r)) for x, r in zip(X[:30], rel)])
vopts = opts.replace('"quiet":true', '"quiet":true,"validation":"SELECT f, relevant FROM val",'
                     '"validation_every":7,"validation_table":"items","validation_k":5')
summary = a.execute("SELECT train_embedder('v', 'SELECT f, t FROM d', ?)", (vopts,)).fetchone()[0]
hist = a.execute("SELECT epoch, validation_precision FROM semiperso_model_history "
                 "WHERE model = 'v' AND validation_precision IS NOT NULL ORDER BY epoch").fetchall()
assert [e for e, _ in hist] == [7, 14, 20], hist
pred = np.array([np.frombuffer(a.execute("SELECT embed_user('v', ?)", (x.tobytes(),)).fetchone()[0],
                               dtype=np.float32) for x in X[:30]], dtype=np.float64)
unit = items / np.linalg.norm(items, axis=1, keepdims=True)
scores = pred @ unit.T
precisions = []
for s, r in zip(scores, rel):
    if not r:
        continue
    top = [ids[j] for j in sorted(range(40), key=lambda j: (-s[j], j))[:5]]
    precisions.append(len(set(top) & set(r)) / min(len(r), 5))
want = sum(precisions) / len(precisions)
assert abs(hist[-1][1] - want) < 1e-9, (hist[-1][1], want)
import json
assert abs(json.loads(summary)["validation_precision"] - want) < 1e-9
stored = a.execute("SELECT validation_precision FROM semiperso_models WHERE name = 'v'").fetchone()[0]
assert abs(stored - want) < 1e-9
a.close()
b.close()
print("ok", want)
PY
