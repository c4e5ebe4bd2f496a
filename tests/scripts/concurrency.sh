#!/bin/sh
# concurrency.sh - two connections on one database file, on two threads:
#   1. one retrains model 'm' (new seed each time) while the other calls
#      embed_user in a loop: every answer is the output of a model that was
#      committed (never a mix, never a crash), and once a retrain has
#      committed the reader's next call uses it (no stale cache);
#   2. two threads score topk_tracks / topk_tracks_batch on their own
#      connections at once: every answer equals the single-threaded one.
set -eu
cd "$(dirname "$0")/../.."
SO=${SEMIPERSO_SO:-$(pwd)/semiperso}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Python itself leaks at exit; the extension's leaks are checked by the SQL tests.
LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" OPENBLAS_NUM_THREADS=1 /usr/bin/python3 - "$SO" "$dir/t.db" <<'PY'
import sqlite3, sys, threading

so, path = sys.argv[1], sys.argv[2]

def connect():
    c = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    c.enable_load_extension(True)
    c.load_extension(so)
    c.execute("PRAGMA busy_timeout = 30000")
    return c

w = connect()
w.execute("PRAGMA journal_mode = WAL")
w.execute("CREATE TABLE tracks(track_id INTEGER PRIMARY KEY, embedding BLOB)")
w.execute("""WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 300)
  INSERT INTO tracks SELECT n, vec_f32(json_array((n * 7) % 11 - 5, (n * 13) % 7 - 3,
  (n * 3) % 5 - 2, n % 4 + 0.5, (n * 17) % 19 - 9)) FROM i""")
TRAIN = """SELECT train_embedder('m', 'SELECT embedding, embedding FROM tracks',
  '{"hidden": [8], "epochs": 2, "quiet": true, "seed": %d}')"""
PROBE = "SELECT embed_user('m', '[1, 2, 3, 4, 5]')"
w.execute(TRAIN % 0).fetchone()

# 1. Retraining under a reader.
expected = {}   # generation -> embed_user output of that model
lock = threading.Lock()
gen_of = lambda c: c.execute("SELECT generation FROM semiperso_models WHERE name = 'm'").fetchone()[0]
expected[gen_of(w)] = w.execute(PROBE).fetchone()[0]
done = threading.Event()
errors = []

def writer():
    try:
        for seed in range(1, 9):
            w.execute(TRAIN % seed).fetchone()
            g = gen_of(w)
            with lock:
                expected[g] = w.execute(PROBE).fetchone()[0]
    except Exception as e:
        errors.append("writer: %r" % e)
    finally:
        done.set()

r = connect()
calls = checked = 0
t = threading.Thread(target=writer)
t.start()
while not done.is_set() or calls < 50:
    # One read transaction: the generation and the answer of the same snapshot.
    r.execute("BEGIN")
    g = gen_of(r)
    out = r.execute(PROBE).fetchone()[0]
    r.execute("COMMIT")
    calls += 1
    with lock:
        want = expected.get(g)
    if want is None:
        continue  # committed, not yet recorded by the writer
    checked += 1
    if out != want:
        errors.append("stale or mixed model: generation %d" % g)
        break
t.join()
assert not errors, errors
# After the last commit, the reader sees the last model at once.
assert r.execute(PROBE).fetchone()[0] == expected[gen_of(w)], "stale after commit"
assert len(expected) == 9, len(expected)
assert checked >= 50, checked

# 2. Parallel scoring on separate connections.
Q1 = "SELECT group_concat(track_id || ':' || printf('%.6f', score)) FROM topk_tracks(?, 10)"
Q2 = """SELECT count(*), sum(track_id * rank), printf('%.4f', sum(score)) FROM
  topk_tracks_batch('SELECT track_id, embedding FROM tracks WHERE track_id % 3 = 0', 7)"""
probes = ["[%d, 1, %d, 2, -1]" % (i % 5 - 2, i % 7 - 3) for i in range(40)]
base1 = [w.execute(Q1, (p,)).fetchone()[0] for p in probes]
base2 = w.execute(Q2).fetchone()

def scorer(k):
    c = connect()
    try:
        for rep in range(5):
            for i, p in enumerate(probes):
                if c.execute(Q1, (p,)).fetchone()[0] != base1[i]:
                    errors.append("topk_tracks differs (thread %d)" % k)
                    return
            if c.execute(Q2).fetchone() != base2:
                errors.append("topk_tracks_batch differs (thread %d)" % k)
                return
    except Exception as e:
        errors.append("scorer %d: %r" % (k, e))
    finally:
        c.close()

ts = [threading.Thread(target=scorer, args=(k,)) for k in range(2)]
for x in ts: x.start()
for x in ts: x.join()
assert not errors, errors
print("ok: %d reads (%d checked) during 8 retrains, 2 x 5 x %d parallel top-k" % (calls, checked, len(probes)))
PY
