#!/bin/sh
# concurrent_training.sh - numeric work of several connections of one
# process at the same time gives what each gives alone, and nothing
# changes the BLAS's process-wide settings meanwhile:
#   two train_embedder calls (on their own threads and databases, training
#   teams of several threads each), a train_segments call (k-means on
#   sgemm), and a connection serving topk_tracks and embed_user in a loop;
#   every model, centroid and answer equals, byte for byte, the one
#   computed before by the same call alone; a watcher reading OpenBLAS's
#   thread count all along never sees it change.
# OPENBLAS_NUM_THREADS is unset so training teams have one thread per CPU.
set -eu
cd "$(dirname "$0")/../.."
SO=${SEMIPERSO_SO:-$(pwd)/semiperso}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
env -u OPENBLAS_NUM_THREADS LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" \
  ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" /usr/bin/python3 - "$SO" "$dir" <<'PY'
import ctypes, json, os, random, sqlite3, struct, sys, threading, time

so, dir = sys.argv[1], sys.argv[2]
rnd = random.Random(7)
vec = lambda n: struct.pack("<%df" % n, *[rnd.uniform(-1, 1) for _ in range(n)])
FEATURES, TARGET, ROWS, TRACKS = 64, 16, 2000, 2000
rows = [(vec(FEATURES), vec(TARGET)) for _ in range(ROWS)]
tracks = [(i + 1, vec(TARGET)) for i in range(TRACKS)]
queries = [vec(TARGET) for _ in range(20)]

def connect(name):
    c = sqlite3.connect(os.path.join(dir, name), isolation_level=None,
                        check_same_thread=False)
    c.enable_load_extension(True)
    c.load_extension(so)
    return c

def database(name):
    c = connect(name)
    c.execute("PRAGMA synchronous = OFF")
    c.execute("BEGIN")
    c.execute("CREATE TABLE rows(features BLOB, target BLOB)")
    c.executemany("INSERT INTO rows VALUES (?, ?)", rows)
    c.execute("CREATE TABLE tracks(track_id INTEGER PRIMARY KEY, embedding BLOB)")
    c.executemany("INSERT INTO tracks VALUES (?, ?)", tracks)
    c.execute("COMMIT")
    return c

def train(c, seed):
    c.execute("""SELECT train_embedder('m', 'SELECT features, target FROM rows',
                 '{"hidden": [128, 64], "epochs": 10, "batch_size": 256, "seed": %d,
                   "quiet": true}')""" % seed).fetchone()
    return c.execute("SELECT group_concat(hex(data), '') FROM (SELECT data FROM "
                     "semiperso_model_params WHERE model = 'm' ORDER BY ordinal)").fetchone()[0]

def segments(c):
    c.execute("""SELECT train_segments('s', 'SELECT features FROM rows',
                 '{"k": 30, "max_iter": 10, "quiet": true}')""").fetchone()
    return c.execute("SELECT group_concat(hex(centroid), '') FROM (SELECT centroid FROM "
                     "semiperso_segments WHERE segmentation = 's' ORDER BY segment_id)").fetchone()[0]

def serve(c):
    out = []
    for q in queries:
        out.append(c.execute("SELECT group_concat(track_id || ':' || score) FROM "
                             "topk_tracks(?, 10)", (q,)).fetchone()[0])
        out.append(c.execute("SELECT hex(embed_user('served', ?))",
                             (q * (FEATURES // TARGET),)).fetchone()[0])
    return out

server = database("serve.db")
server.execute("""SELECT train_embedder('served', 'SELECT features, target FROM rows',
                  '{"hidden": [32], "epochs": 2, "quiet": true}')""").fetchone()
info = json.loads(server.execute("SELECT semiperso_info()").fetchone()[0])
if info["blas_threads"] == 1:
    assert info["threads"] == len(os.sched_getaffinity(0)), info

# Alone, one after the other.
alone = {"a": train(database("a0.db"), 1), "b": train(database("b0.db"), 2),
         "k": segments(database("k0.db")), "serve": serve(server)}

# All at once.
conns = {"a": database("a1.db"), "b": database("b1.db"), "k": database("k1.db")}
jobs = {"a": lambda: train(conns["a"], 1), "b": lambda: train(conns["b"], 2),
        "k": lambda: segments(conns["k"])}
results, spans, errors = {}, {}, []
def run(name, job):
    t0 = time.monotonic()
    try:
        results[name] = job()
    except Exception as e:
        errors.append("%s: %r" % (name, e))
    spans[name] = (t0, time.monotonic())

threads = [threading.Thread(target=run, args=(n, j)) for n, j in jobs.items()]
seen = set()
def watch():
    if not info["kernel"]:
        return  # not OpenBLAS: no thread setting to watch
    lib = ctypes.CDLL(info["library"], mode=os.RTLD_NOLOAD)
    while any(t.is_alive() for t in threads):
        seen.add(lib.openblas_get_num_threads())
        time.sleep(0.0005)
watcher = threading.Thread(target=watch)
for t in threads:
    t.start()
watcher.start()
serving = []
while any(t.is_alive() for t in threads):
    serving.append(serve(server))
for t in threads + [watcher]:
    t.join()
assert not errors, errors
for name in jobs:
    assert results[name] == alone[name], "%s differs from its run alone" % name
for i, s in enumerate(serving):
    assert s == alone["serve"], "serving round %d differs from alone" % i
# The trainings did run at the same time.
(a0, a1), (b0, b1) = spans["a"], spans["b"]
assert min(a1, b1) > max(a0, b0), spans
assert not info["kernel"] or seen == {info["blas_threads"]}, seen
print("concurrent ok: %d serving rounds, %d training threads each, BLAS threads %s"
      % (len(serving), info["threads"], sorted(seen)))
PY
