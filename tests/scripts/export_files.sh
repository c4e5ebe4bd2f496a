#!/bin/sh
# export_files.sh - the SQL functions that write files, export_bundle()
# and export_onnx(), on a small pipeline database built here:
#   1. the rules of ext/sql/outfile.h, for both: an existing file is left
#      as it is unless replace is asked; replacing gives the whole new
#      file; the mode is 0666 less the umask; a missing directory is a
#      clear error; an interrupt at any point (a progress handler stopping
#      the statement after N steps, for N over the whole export) leaves
#      either the whole file or no file, and never a temporary file;
#      a reader polling the path while the file is replaced 20 times only
#      ever sees one of the complete files;
#   2. the exported model runs in other people's software: python3-onnx's
#      full checker and tests/onnx/check_model.py's field checks, then
#      onnxruntime (tests/onnx/parity.js) against embed_user() on every
#      user's features plus edge rows, within 1e-5 (skipped, saying so,
#      without node).
set -eu
cd "$(dirname "$0")/../.."
SO=${SEMIPERSO_SO:-$(pwd)/semiperso}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 - "$SO" "$dir" <<'PY'
import hashlib, json, os, sqlite3, sys, threading

so, dir = sys.argv[1], sys.argv[2]

def fail(msg):
    sys.exit("FAIL: " + msg)

c = sqlite3.connect(os.path.join(dir, "train.db"), isolation_level=None)
c.enable_load_extension(True)
c.load_extension(so)
c.execute("""SELECT synthesize_dataset('{"tracks": 1000, "warm": 300, "validation": 30,
             "test": 60, "dim": 8, "seed": 9, "quiet": true}')""")
c.execute("""INSERT INTO settings(name, value) VALUES ('segments', 8), ('input_segments', 4),
             ('epochs', 3), ('learning_rate', 1e-3), ('kmeans_iterations', 4), ('quiet', 1)""")
for step in ["schema.sql", "steps/settings.sql", "features.sql", "steps/train.sql",
             "steps/segments.sql", "steps/top_tracks.sql"]:
    c.executescript(open("sql/" + step).read())

def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()

def leftovers():
    return [f for f in os.listdir(dir) if ".tmp-" in f]

EXPORTS = {
    "bundle": lambda path, opts: c.execute("SELECT export_bundle(?, ?)", (path, opts)).fetchone()[0],
    "onnx": lambda path, opts: c.execute("SELECT export_onnx('user_embedder', ?, ?)",
                                         (path, opts)).fetchone()[0],
}

def complete(kind, path):
    """The file at path is a whole export of its kind."""
    if kind == "onnx":
        return os.path.getsize(path) == onnx_size
    r = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    ok = r.execute("PRAGMA integrity_check").fetchone()[0] == "ok" and \
        r.execute("SELECT count(*) FROM tracks").fetchone()[0] == 1000
    r.close()
    return ok

onnx_size = None
for kind, export in EXPORTS.items():
    path = os.path.join(dir, "out." + kind)
    # Mode: 0666 less the umask.
    for mask, mode in ((0o022, 0o644), (0o077, 0o600)):
        old = os.umask(mask)
        summary = json.loads(export(path, '{"replace": true}'))
        os.umask(old)
        if os.stat(path).st_mode & 0o777 != mode or summary["bytes"] != os.path.getsize(path):
            fail(f"{kind}: mode {oct(os.stat(path).st_mode & 0o777)} under umask {oct(mask)}, "
                 f"or a wrong size in {summary}")
    if kind == "onnx":
        onnx_size = summary["bytes"]
    if not complete(kind, path):
        fail(f"{kind}: the exported file is not whole")
    # An existing file is kept unless replace is asked.
    open(path, "wb").write(b"precious")
    try:
        export(path, None)
        fail(f"{kind}: an existing file was replaced without replace")
    except sqlite3.OperationalError as e:
        if "already exists" not in str(e):
            fail(f"{kind}: {e}")
    if open(path, "rb").read() != b"precious":
        fail(f"{kind}: the existing file changed")
    export(path, '{"replace": true}')
    if not complete(kind, path):
        fail(f"{kind}: replace did not write the whole file")
    # A missing directory.
    try:
        export(os.path.join(dir, "no", "such.file"), None)
        fail(f"{kind}: wrote into a missing directory")
    except sqlite3.OperationalError as e:
        if "cannot create" not in str(e) or "No such file or directory" not in str(e):
            fail(f"{kind}: {e}")
    # Interrupts at every point: the whole file or nothing.  The handler
    # runs at every VM step of every statement of the connection, nested
    # ones included, and stops all of them from step n on.
    steps = [0]
    def stop_after(n):
        steps[0] = 0
        def handler():
            steps[0] += 1
            return steps[0] >= n
        return handler
    os.remove(path)
    c.set_progress_handler(stop_after(float("inf")), 1)
    export(path, None)
    total = steps[0]
    c.set_progress_handler(None, 1)
    os.remove(path)
    interrupted = 0
    for n in sorted({1, 2, 3, total // 2, total - 1} | set(range(1, total, max(1, total // 25)))):
        c.set_progress_handler(stop_after(n), 1)
        try:
            export(path, None)
            if not complete(kind, path):
                fail(f"{kind}: a finished export is not whole")
            os.remove(path)
        except sqlite3.OperationalError as e:
            # Stopped inside the export: nothing; stopped by the statement
            # around it (before the call or after its return): nothing, or
            # the whole file.
            if "interrupted; nothing was written" in str(e):
                if os.path.exists(path):
                    fail(f"{kind}: an interrupted export left {path}")
                interrupted += 1
            elif str(e) != "interrupted":
                fail(f"{kind}: interrupted with {e}")
            elif os.path.exists(path):
                if not complete(kind, path):
                    fail(f"{kind}: a file left by an interrupted statement is not whole")
                os.remove(path)
        c.set_progress_handler(None, 1)
        if leftovers():
            fail(f"{kind}: temporary files left: {leftovers()}")
    if interrupted < 3:
        fail(f"{kind}: only {interrupted} interrupted exports in {total} steps")
    # A reader polling the path while it is replaced sees whole files only.
    export(path, None)
    seen, done = set(), threading.Event()
    def poll():
        while not done.is_set():
            try:
                data = open(path, "rb").read()
            except FileNotFoundError:
                seen.add("missing")
                continue
            seen.add(len(data) if kind == "onnx" else data[:16] + bytes([len(data) > 0]))
    reader = threading.Thread(target=poll)
    reader.start()
    for _ in range(20):
        export(path, '{"replace": true}')
    done.set()
    reader.join()
    if kind == "onnx" and seen != {onnx_size}:
        fail(f"onnx: a reader saw {seen}, not always the {onnx_size} bytes of a whole model")
    if kind == "bundle" and (len(seen) != 1 or b"SQLite format 3\x00" not in seen.pop()):
        fail(f"bundle: a reader saw {seen}")

# 2. The model in ONNX tooling: every user's features, a zero row and a
# row a thousand times a real one, against embed_user.
onnx_path = os.path.join(dir, "sql_export.onnx")
summary = json.loads(EXPORTS["onnx"](onnx_path, None))
model = c.execute("SELECT input_dim, output_dim, hidden, generation FROM semiperso_models "
                  "WHERE name = 'user_embedder'").fetchone()
rows = [f for (f,) in c.execute("SELECT features FROM user_features ORDER BY user_id")]
rows += [c.execute("SELECT vec_zeros(?)", (model[0],)).fetchone()[0],
         c.execute("SELECT vec_f32(json_group_array(value * 1000)) FROM json_each(vec_to_json(?))",
                   (rows[0],)).fetchone()[0]]
out = [c.execute("SELECT embed_user('user_embedder', ?)", (f,)).fetchone()[0] for f in rows]
open(os.path.join(dir, "sql_export.in.f32"), "wb").write(b"".join(rows))
open(os.path.join(dir, "sql_export.out.f32"), "wb").write(b"".join(out))
d = model[1]
json.dump([{"name": "sql_export", "rows": len(rows), "input_dim": model[0], "output_dim": d,
            "dims": [model[0]] + json.loads(model[2]) + [d], "blocks": [20, d],
            "bytes": summary["bytes"], "graph_name": "semiperso_embedder",
            "producer_version": "", "model_version": model[3]}],
          open(os.path.join(dir, "cases.json"), "w"))
if summary["model_version"] != model[3] or summary["input_dim"] != model[0]:
    fail(f"export_onnx summary {summary}")
print(f"export files ok: both exporters under umasks, replace, missing directories, "
      f"interrupts, a polling reader; {len(rows)} rows for the ONNX parity")
PY
/usr/bin/python3 tests/onnx/check_model.py "$dir"
sh tests/onnx/parity.sh "$dir"
