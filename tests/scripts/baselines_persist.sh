#!/bin/sh
# baselines_persist.sh - DropoutNet and MeLU from SQL, checked against
# forward passes written here in numpy from the stored tensors:
# dropoutnet_user / dropoutnet_item / dropoutnet_recommend (towers with
# BatchNorm running statistics, standardised inputs, dot-product ranking),
# melu_user / melu_recommend without support events (field embeddings,
# decision layers, ranking of the catalog).  Then: the models survive close
# and reopen bit for bit; retraining from the same seed gives the same
# tensors; a retrain by another connection is never served stale;
# sqlite3_interrupt() stops training promptly, keeping the previous model
# and the whole database as they were.
set -eu
cd "$(dirname "$0")/../.."
SO=${SEMIPERSO_SO:-$(pwd)/semiperso}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Python itself leaks at exit; the extension's leaks are checked by the SQL tests.
LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" OPENBLAS_NUM_THREADS=1 /usr/bin/python3 - "$SO" "$dir/t.db" <<'PY'
import json, sqlite3, sys
import numpy as np

so, path = sys.argv[1], sys.argv[2]
sys.path.insert(0, "tests/scripts")
from dbstate import LATENCY_LIMIT, digest, interrupted

def connect():
    c = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    c.enable_load_extension(True)
    c.load_extension(so)
    return c

a = connect()
a.execute("""SELECT synthesize_dataset('{"tracks": 1000, "warm": 400, "validation": 0,
             "test": 30, "dim": 8, "seed": 3, "quiet": true}')""")
a.executescript(open("sql/features.sql").read())
a.executescript("""
CREATE TABLE support AS
  SELECT e.user_id, melu_support(v.embedding, e.action NOT IN ('skip', 'ban')) AS support
  FROM registration_events AS e
  JOIN feature_entity_vectors AS v ON v.entity = e.entity AND v.entity_id = e.entity_id
  GROUP BY e.user_id;""")
d = 8
f32 = lambda b: np.frombuffer(b, dtype=np.float32).astype(np.float64)
dn_opts = '{"hidden":[32,16],"output_dim":12,"epochs":3,"batch_users":64,"random_items":64,"quiet":true}'
dn_sql = """SELECT train_dropoutnet('dn', 'SELECT f.features, u.embedding FROM users u
  JOIN user_features f USING (user_id) WHERE u.split = ''warm'' ORDER BY u.user_id', ?)"""
me_opts = '{"embed_dim":6,"hidden":[10,7],"epochs":2,"batch_users":16,"local_lr":0.5,"quiet":true}'
me_sql = """SELECT train_melu('me', 'SELECT u.user_id, f.features, u.embedding, s.support
  FROM users u JOIN user_features f USING (user_id) LEFT JOIN support s USING (user_id)
  WHERE u.split = ''warm'' ORDER BY u.user_id', ?)"""
s = json.loads(a.execute(dn_sql, (dn_opts,)).fetchone()[0])
assert (s["rows"], s["items"], s["input_dim"], s["output_dim"], s["epochs"]) == (400, 1000, 179, 12, 3), s
s = json.loads(a.execute(me_sql, (me_opts,)).fetchone()[0])
assert (s["rows"], s["items"], s["input_dim"], s["epochs"]) == (400, 1000, 179, 2), s

def tensors(c, name):
    return {k: f32(b).reshape(r, cl) for k, r, cl, b in c.execute(
        "SELECT kind, rows, cols, data FROM semiperso_baseline_params WHERE model = ?", (name,))}

tracks = [(i, f32(b)) for i, b in a.execute("SELECT track_id, embedding FROM tracks ORDER BY track_id")]
ids = [i for i, _ in tracks]
V = np.array([v for _, v in tracks])
cold = [(u, f32(b)) for u, b in a.execute("""SELECT f.user_id, f.features FROM user_features f
  JOIN users u USING (user_id) WHERE u.split = 'test' ORDER BY f.user_id""")]

# The catalog is stored with the model, in track order.
P = tensors(a, "dn")
assert np.array_equal(P["catalog"], V)
assert a.execute("SELECT group_concat(track_id) FROM (SELECT track_id FROM semiperso_baseline_items "
                 "WHERE model = 'dn' ORDER BY position)").fetchone()[0] == ",".join(map(str, ids))

def standardise(x, mean, scale):
    if not x.any():
        return x
    z = np.clip((x - mean[:, 0]) / scale[:, 0], -5, 5)
    z[np.abs(z) < 1e-5] = 0
    return z

def tower(P, t, x):
    for l in range(2):
        z = x @ P[f"{t}.{l}.weight"].T
        z = (z - P[f"{t}.{l}.bn_running_mean"][:, 0]) / np.sqrt(P[f"{t}.{l}.bn_running_var"][:, 0] + 1e-3)
        x = np.tanh(z * P[f"{t}.{l}.bn_weight"][:, 0] + P[f"{t}.{l}.bn_bias"][:, 0])
    return x @ P[f"{t}.out.weight"].T + P[f"{t}.out.bias"][:, 0]

# Positive groups (all but skips 7..9 and bans 13..15) and their counts, then the age.
keep = [g for g in range(20) if g not in (7, 8, 9, 13, 14, 15)]
def content(f):
    groups = np.concatenate([f[g * d:(g + 1) * d] for g in keep])
    counts = np.array([f[20 * d + g - 2] for g in keep if g >= 2])
    scal = standardise(np.append(counts, f[20 * d + 18]), P["content.mean"], P["content.scale"])
    return np.concatenate([groups, scal])

items_out = np.array([tower(P, "item", standardise(v, P["item_pref.mean"], P["item_pref.scale"])) for v in V])
worst = 0
for u, f in cold[:10]:
    want = tower(P, "user", np.concatenate([np.zeros(d), content(f)]))
    got = f32(a.execute("SELECT dropoutnet_user('dn', ?)", (f.astype(np.float32).tobytes(),)).fetchone()[0])
    worst = max(worst, np.abs(got - want).max())
    scores = items_out @ want
    top = [ids[j] for j in sorted(range(len(ids)), key=lambda j: (-scores[j], j))[:20]]
    rec = json.loads(a.execute("SELECT dropoutnet_recommend('dn', ?, 20)",
                               (f.astype(np.float32).tobytes(),)).fetchone()[0])
    # Rank by rank, allowing swaps of scores within float32 rounding.
    for r, (x, y) in enumerate(zip(rec, top)):
        assert x == y or abs(scores[ids.index(x)] - scores[ids.index(y)]) < 1e-5, (u, r, rec, top)
assert worst < 1e-4, worst
got = f32(a.execute("SELECT dropoutnet_item('dn', ?)", (V[5].astype(np.float32).tobytes(),)).fetchone()[0])
assert np.abs(got - items_out[5]).max() < 1e-4
# A warm user's output with their preference vector differs from their cold one.
w = a.execute("""SELECT dropoutnet_user('dn', f.features, u.embedding) <> dropoutnet_user('dn', f.features)
  FROM users u JOIN user_features f USING (user_id) WHERE u.split = 'warm' LIMIT 1""").fetchone()[0]
assert w == 1

# MeLU without support events: no local update.
M = tensors(a, "me")
def melu_user(f):
    ue = [M[f"field.{g}"] @ f[g * d:(g + 1) * d] for g in range(20)]
    ue.append(M["scalars"] @ standardise(f[20 * d:], M["scalars.mean"], M["scalars.scale"]))
    return np.concatenate(ue)
worst = 0
ie = V @ M["item"].T
for u, f in cold[:10]:
    ue = melu_user(f)
    due = len(ue)
    q = M["fc.0.weight"][:, :due] @ ue + M["fc.0.bias"][:, 0]
    got = f32(a.execute("SELECT melu_user('me', ?, ?, NULL)", (u, f.astype(np.float32).tobytes())).fetchone()[0])
    worst = max(worst, np.abs(got - q).max())
    h = np.maximum(q + ie @ M["fc.0.weight"][:, due:].T, 0)
    h = np.maximum(h @ M["fc.1.weight"].T + M["fc.1.bias"][:, 0], 0)
    scores = (h @ M["out.weight"].T)[:, 0] + M["out.bias"][0, 0]
    top = [ids[j] for j in sorted(range(len(ids)), key=lambda j: (-scores[j], j))[:20]]
    rec = json.loads(a.execute("SELECT melu_recommend('me', ?, ?, NULL, 20)",
                               (u, f.astype(np.float32).tobytes())).fetchone()[0])
    for r, (x, y) in enumerate(zip(rec, top)):
        assert x == y or abs(scores[ids.index(x)] - scores[ids.index(y)]) < 1e-5, (u, r, rec, top)
assert worst < 1e-4, worst
# With support events, the local update moves the user's vector.
moved = a.execute("""SELECT melu_user('me', u.user_id, f.features, s.support)
  <> melu_user('me', u.user_id, f.features, NULL) FROM users u JOIN user_features f USING (user_id)
  JOIN support s USING (user_id) WHERE u.split = 'test' LIMIT 1""").fetchone()[0]
assert moved == 1

def served(c):
    return c.execute("""SELECT group_concat(dropoutnet_recommend('dn', f.features, 10)) ||
      group_concat(hex(dropoutnet_user('dn', f.features))) ||
      group_concat(melu_recommend('me', u.user_id, f.features, s.support, 10)) ||
      group_concat(hex(melu_user('me', u.user_id, f.features, s.support)))
      FROM users u JOIN user_features f USING (user_id) LEFT JOIN support s USING (user_id)
      WHERE u.split = 'test'""").fetchone()[0]

before = served(a)
params = a.execute("SELECT group_concat(hex(data)) FROM semiperso_baseline_params").fetchone()[0]
a.close()

# Reopen: the same answers, bit for bit.
a = connect()
assert served(a) == before, "answers changed after reopen"

# Another connection retrains with another seed: a sees it; the same seed
# again gives the same tensors and answers.
b = connect()
b.execute(dn_sql, (dn_opts.replace('"epochs":3', '"epochs":3,"seed":9'),)).fetchone()
b.execute(me_sql, (me_opts.replace('"epochs":2', '"epochs":2,"seed":9'),)).fetchone()
assert served(a) != before, "stale model served after another connection retrained"
b.execute(dn_sql, (dn_opts,)).fetchone()
b.execute(me_sql, (me_opts,)).fetchone()
assert b.execute("SELECT group_concat(hex(data)) FROM semiperso_baseline_params").fetchone()[0] == params
assert served(a) == before, "retraining with the same seed differs"
assert b.execute("SELECT count(*) FROM semiperso_baseline_history WHERE model = 'dn'").fetchone()[0] == 3

# Interrupt long trainings: SQLITE_INTERRUPT promptly, old models kept,
# the whole database as it was.
for fn, sql, opts in (("train_dropoutnet", dn_sql, dn_opts), ("train_melu", me_sql, me_opts)):
    big = opts.replace('"epochs":3', '"epochs":1000000').replace('"epochs":2', '"epochs":1000000')
    state = digest(b)
    error, latency = interrupted(a, lambda: a.execute(sql, (big,)).fetchone(), 0.5)
    assert error == f"{fn}(): interrupted; the previous model is kept", error or "not interrupted"
    assert latency < LATENCY_LIMIT, latency
    assert digest(b) == state, f"an interrupted {fn} changed the database"
assert served(a) == before
a.close()
b.close()
print("ok")
PY
