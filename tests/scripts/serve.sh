#!/bin/sh
# serve.sh - the read-only serving path end to end, on a small pipeline
# database built here (seconds):
#   1. features: for every user, user_input_features(country, age, events
#      in rowid order) is, bit for bit, what the pre-serving formulation of
#      sql/features.sql computes (vec_group_avg / vec_group_count over the
#      helper tables, kept below as an independent reference), and
#      user_features;
#   2. recommendations: recommend_cold_user() for every test user is the
#      pipeline's own (recommendations, cold_segments), scores as
#      segment_top_tracks and topk_tracks_batch give them;
#   3. read-only opens: the same answers on connections opened mode=ro and
#      immutable=1; the file is byte for byte unchanged, no journal appears;
#   4. the bundle: export_bundle() writes a file several times smaller
#      holding the documented tables; serving from it gives the same rows
#      and score bits for every test user, both methods, and the same
#      features; the file is written with mode 0666 less the umask;
#   5. concurrent processes: 4 processes serve every test user at once,
#      from the bundle and from the training database, all answers right;
#   6. the swap: 3 server processes serve in a loop, checking the bundle's
#      inode before each request and reopening it when it changed (the
#      design of README.md, "Serving in production"), while the bundle is
#      replaced 4 times by export_bundle(..., '{"replace": true}'),
#      alternating two models: no request fails, every answer is that of
#      the bundle that served it, and every request begun after a swap
#      finished is served by the new bundle.
# KEEP=1 keeps the temporary directory.
set -eu
cd "$(dirname "$0")/../.."
SO=${SEMIPERSO_SO:-$(pwd)/semiperso}
dir=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] && echo "kept: $dir" >&2 || rm -rf "$dir"' EXIT
# Python keeps memory at exit by design: leak detection off for it alone.
LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 - "$SO" "$dir" <<'PY'
import hashlib, json, multiprocessing as mp, os, shutil, sqlite3, sys, time

so, dir = sys.argv[1], sys.argv[2]
train = os.path.join(dir, "train.db")

def connect(uri):
    c = sqlite3.connect(uri, uri=True, isolation_level=None)
    c.enable_load_extension(True)
    c.load_extension(so)
    return c

def fail(msg):
    sys.exit("FAIL: " + msg)

w = connect("file:" + train)
w.execute("""SELECT synthesize_dataset('{"tracks": 1000, "warm": 400, "validation": 50,
             "test": 120, "dim": 8, "seed": 5, "quiet": true}')""")
w.executescript("""
INSERT INTO settings(name, value) VALUES ('segments', 10), ('input_segments', 5), ('epochs', 4),
  ('learning_rate', 1e-3), ('kmeans_iterations', 5), ('quiet', 1);
""")
for step in ["schema.sql", "steps/settings.sql", "features.sql", "steps/train.sql",
             "steps/segments.sql", "steps/top_tracks.sql", "steps/recommend.sql"]:
    w.executescript(open("sql/" + step).read())

# The requests: every user's country, age and events in rowid order.
EVENTS = """(SELECT json_group_array(json_array(action, entity, entity_id))
             FROM (SELECT * FROM registration_events AS e WHERE e.user_id = u.user_id
                   ORDER BY rowid))"""
users = w.execute(f"SELECT user_id, split, country, age, {EVENTS} FROM users AS u "
                  "ORDER BY user_id").fetchall()
test = [u for u in users if u[1] == "test"]

# 1. Features, against sql/features.sql as it was before serving shared it.
REFERENCE = """
SELECT vec_concat(
  coalesce(a.embedding, vec_zeros(d.n)), coalesce(c.embedding, vec_zeros(d.n)),
  coalesce((SELECT vec_group_avg(g.group_index - 2, v.embedding, 18)
            FROM registration_events AS e
            JOIN feature_groups AS g ON g.action = e.action AND g.entity = e.entity
            LEFT JOIN feature_entity_vectors AS v ON v.entity = e.entity AND v.entity_id = e.entity_id
            WHERE e.user_id = u.user_id), vec_zeros(18 * d.n)),
  coalesce((SELECT vec_group_count(g.group_index - 2, 18) FROM registration_events AS e
            JOIN feature_groups AS g ON g.action = e.action AND g.entity = e.entity
            WHERE e.user_id = u.user_id), vec_zeros(18)),
  vec_f32(json_array(coalesce(u.age, 0))))
FROM users AS u, (SELECT vec_length(embedding) AS n FROM tracks LIMIT 1) AS d
LEFT JOIN feature_age_vectors AS a ON a.age_class = CASE WHEN u.age IS NULL THEN NULL
  WHEN u.age < 18 THEN 0 WHEN u.age < 25 THEN 1 WHEN u.age < 35 THEN 2 WHEN u.age < 50 THEN 3
  ELSE 4 END
LEFT JOIN feature_country_vectors AS c ON c.country = u.country
WHERE u.user_id = ?"""
for uid, _, country, age, events in users:
    ref = w.execute(REFERENCE, (uid,)).fetchone()[0]
    got = w.execute("SELECT features FROM user_input_features(?, ?, ?)",
                    (country, age, events)).fetchone()[0]
    stored = w.execute("SELECT features FROM user_features WHERE user_id = ?", (uid,)).fetchone()[0]
    if not (ref == got == stored):
        fail(f"features of user {uid} differ from the reference formulation")

# 2. Recommendations, against the pipeline's own tables: its lists are
# list_length long (the largest K evaluated), serving's as long as asked.
Q = "SELECT rank, track_id, score, segment_id FROM recommend_cold_user(?, ?, ?, ?)"
LENGTH = w.execute("SELECT list_length FROM run_config").fetchone()[0]
SEMI = json.dumps({"k": LENGTH})
FULL = json.dumps({"method": "full", "k": LENGTH})
def answers(c):
    return {uid: (c.execute(Q, (country, age, events, SEMI)).fetchall(),
                  c.execute(Q, (country, age, events, FULL)).fetchall())
            for uid, _, country, age, events in test}
expected = answers(w)
for uid, (semi, full) in expected.items():
    seg = w.execute("SELECT segment_id FROM cold_segments WHERE segmentation = 'warm_users' "
                    "AND user_id = ?", (uid,)).fetchone()[0]
    want_semi = w.execute("""SELECT r.rank, r.track_id, t.listeners, ? FROM recommendations r
        JOIN segment_top_tracks t ON t.segmentation = 'warm_users' AND t.segment_id = ?
         AND t.rank = r.rank WHERE r.user_id = ? AND r.method = 'semi_personalized'
        ORDER BY r.rank""", (seg, seg, uid)).fetchall()
    want_full = w.execute("""SELECT rank, track_id, score, ? FROM topk_tracks_batch(
        'SELECT user_id, embedding FROM cold_embeddings WHERE user_id = ' || ?, ?)""",
        (seg, uid, LENGTH)).fetchall()
    pipeline_full = w.execute("SELECT rank, track_id FROM recommendations WHERE user_id = ? "
                              "AND method = 'full_personalized' ORDER BY rank", (uid,)).fetchall()
    if semi != want_semi or len(semi) != LENGTH:
        fail(f"semi-personalized list of user {uid} differs from the pipeline's")
    if full != want_full or [r[:2] for r in full] != pipeline_full:
        fail(f"fully personalized list of user {uid} differs from the pipeline's")
w.close()

# 3. Read-only and immutable opens of the training database.
def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()
before = digest(train)
for mode in ("mode=ro", "immutable=1"):
    c = connect(f"file:{train}?{mode}")
    if answers(c) != expected:
        fail(f"answers differ on a connection opened with {mode}")
    c.close()
if digest(train) != before or any(os.path.exists(train + s) for s in ("-journal", "-wal")):
    fail("serving changed the database file or left a journal")

# 4. The bundle.
bundle = os.path.join(dir, "bundle.db")
old_umask = os.umask(0o027)
summary = connect("file:" + train).execute("SELECT export_bundle(?)", (bundle,)).fetchone()[0]
os.umask(old_umask)
if os.stat(bundle).st_mode & 0o777 != 0o640:
    fail(f"bundle mode {oct(os.stat(bundle).st_mode & 0o777)}, want 0640 under umask 027")
if os.path.getsize(bundle) * 3 > os.path.getsize(train) or f'"bytes":{os.path.getsize(bundle)}' not in summary:
    fail(f"bundle of {os.path.getsize(bundle)} bytes for a {os.path.getsize(train)}-byte database: {summary}")
b = connect(f"file:{bundle}?immutable=1")
tables = sorted(r[0] for r in b.execute("SELECT name FROM sqlite_schema WHERE type IN ('table', 'view')"))
if tables != sorted(["semiperso_bundle", "semiperso_models", "semiperso_model_params",
                     "semiperso_segmentations", "semiperso_segments", "segment_top_tracks",
                     "feature_groups", "feature_age_vectors", "feature_country_vectors", "tracks",
                     "bundle_entity_vectors", "feature_entity_vectors"]):
    fail(f"bundle tables {tables}")
if answers(b) != expected:
    fail("serving from the bundle differs from serving from the database")
t = connect(f"file:{train}?mode=ro")
for uid, _, country, age, events in users:
    F = "SELECT features FROM user_input_features(?, ?, ?)"
    if b.execute(F, (country, age, events)).fetchone() != t.execute(F, (country, age, events)).fetchone():
        fail(f"features of user {uid} differ in the bundle")
b.close()
t.close()
if [f for f in os.listdir(dir) if ".tmp-" in f]:
    fail("a temporary file was left behind")

# 5. Concurrent processes: each serves every test user.
def serve_all(uri, out):
    c = connect(uri)
    out.put(answers(c) == expected)
    c.close()
out = mp.Queue()
procs = [mp.Process(target=serve_all, args=(uri, out)) for uri in
         [f"file:{bundle}?immutable=1", f"file:{bundle}?mode=ro",
          f"file:{train}?mode=ro", f"file:{bundle}?immutable=1"]]
for p in procs: p.start()
results = [out.get(timeout=300) for _ in procs]
for p in procs: p.join()
if results != [True] * 4 or any(p.exitcode != 0 for p in procs):
    fail(f"concurrent servers: {results}")

# 6. The swap.  A second model: the same data, another seed.
train2 = os.path.join(dir, "train2.db")
shutil.copy(train, train2)
w2 = connect("file:" + train2)
w2.execute("""SELECT train_embedder('user_embedder', 'SELECT f.features, u.embedding FROM users u
  JOIN user_features f USING (user_id) WHERE u.split = ''warm''',
  '{"hidden": [400, 300, 200], "epochs": 4, "learning_rate": 1e-3, "seed": 7, "quiet": true}')""")
sources = [connect(f"file:{train}?mode=ro"), w2]
per_model = [answers(c) for c in sources]
if per_model[0] == per_model[1]:
    fail("the two models answer alike: the swap test would prove nothing")

def server(k, stop, out):
    """Serves requests in a loop, reopening the bundle when its inode changed."""
    conn, ident, gen, log, errors = None, None, None, [], []
    i = k
    while not stop.is_set() or len(log) < 30:
        started = time.monotonic()
        st = os.stat(bundle)
        if (st.st_dev, st.st_ino) != ident:
            if conn:
                conn.close()
            ident = (st.st_dev, st.st_ino)
            conn = connect(f"file:{bundle}?immutable=1")
            gen = conn.execute("SELECT generation FROM semiperso_bundle").fetchone()[0]
        uid, _, country, age, events = test[i % len(test)]
        method = (SEMI, FULL)[i % 2]
        try:
            rows = conn.execute(Q, (country, age, events, method)).fetchall()
        except sqlite3.Error as e:
            errors.append(repr(e))
            rows = None
        log.append((started, gen, uid, i % 2, rows))
        i += 3
    conn.close()
    out.put((log, errors))

stop = mp.Event()
out = mp.Queue()
servers = [mp.Process(target=server, args=(k, stop, out)) for k in range(3)]
generations = {}  # generation -> (model index, order of the bundle)
swaps = []        # (time the rename was done, generation now served)
generations[json.loads(summary)["generation"]] = (0, 0)
for s in servers: s.start()
time.sleep(0.5)
for n in range(4):
    m = (n + 1) % 2
    res = sources[m].execute("SELECT export_bundle(?, '{\"replace\": true}')", (bundle,)).fetchone()[0]
    g = json.loads(res)["generation"]
    generations[g] = (m, n + 1)
    swaps.append((time.monotonic(), g))
    time.sleep(0.4)
stop.set()
logs = [out.get(timeout=300) for _ in servers]
for s in servers: s.join()
served = 0
for log, errors in logs:
    if errors:
        fail(f"requests failed during swaps: {errors[:3]}")
    for started, gen, uid, method, rows in log:
        model, order = generations[gen]
        if rows != per_model[model][uid][method]:
            fail(f"user {uid}: the answer is not that of the bundle that served it")
        # A bundle opened just after its check may be newer still, never older.
        done = [generations[sg][1] for t, sg in swaps if t < started]
        if done and order < done[-1]:
            fail("a request begun after a swap was served by the old bundle")
        served += 1
seen = {gen for log, _ in logs for _, gen, *_ in log}
if len(seen) < 3:
    fail(f"the servers saw {len(seen)} bundles of 5")
print(f"serve ok: {len(users)} users' features, {len(test)} test users x 2 methods on the "
      f"database, mode=ro, immutable=1, the bundle ({os.path.getsize(bundle)} bytes) and 4 "
      f"concurrent processes; {served} requests across 4 swaps, {len(seen)} bundles seen")
PY
