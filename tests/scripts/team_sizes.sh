#!/bin/sh
# team_sizes.sh - k-means and batch top-k give the same bits whatever the
# size of the thread team their passes are split among (team.h): a fit
# (greedy and plain k-means++ seeding over several blocks of rows, then
# Lloyd iterations) and topk_tracks_batch() (both metrics), each run in a
# process whose team has 1 member and in one whose team has 2
# (OPENBLAS_NUM_THREADS caps the team size), must agree to the last bit:
# centroids, sizes, inertias, memberships, ranked lists.  Skipped on a
# machine with one CPU (no team of 2 can be had).
set -eu
cd "$(dirname "$0")/../.."
SO=${SEMIPERSO_SO:-$(pwd)/semiperso}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if [ "$(nproc)" -lt 2 ]; then
  echo "one CPU: no team of 2 to compare with"
  exit 77
fi
# Python itself leaks at exit; the extension's leaks are checked elsewhere.
run_py() { # run_py THREADS ARGS...: the script below, with a team of THREADS
  t=$1
  shift
  LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
    OPENBLAS_NUM_THREADS=$t /usr/bin/python3 - "$SO" "$dir/t.db" "$@" <<'PY'
import hashlib, json, sqlite3, sys

so, path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
c = sqlite3.connect(path, isolation_level=None)
c.enable_load_extension(True)
c.load_extension(so)

if mode == "make":
    # numpy only here: an OpenBLAS it loaded first would be used as it is,
    # threads and all, and decide the team size instead of the variable.
    import numpy as np
    # 50 000 rows: more than two of k-means++'s blocks of rows (21 845), so
    # both members of a team of 2 scan some; clustered, so the fit works.
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(60, 16)).astype(np.float32)
    rows = centres[rng.integers(0, 60, 50000)] + \
        0.3 * rng.normal(size=(50000, 16)).astype(np.float32)
    items = rng.normal(size=(3000, 16)).astype(np.float32)
    c.execute("CREATE TABLE pts(id INTEGER PRIMARY KEY, embedding BLOB)")
    c.execute("CREATE TABLE tracks(track_id INTEGER PRIMARY KEY, embedding BLOB)")
    c.execute("BEGIN")
    c.executemany("INSERT INTO pts VALUES (?, ?)",
                  ((i, r.astype(np.float32).tobytes()) for i, r in enumerate(rows)))
    c.executemany("INSERT INTO tracks VALUES (?, ?)",
                  ((i, r.tobytes()) for i, r in enumerate(items)))
    c.execute("COMMIT")
    sys.exit(0)

info = json.loads(c.execute("SELECT semiperso_info()").fetchone()[0])
want = int(mode)
assert info["threads"] == want, (info["threads"], want)
h = hashlib.sha256()
for seeding in ("greedy", "plain"):
    name = "team_" + seeding
    c.execute("SELECT train_segments(?, 'SELECT embedding FROM pts ORDER BY id', ?)",
              (name, json.dumps({"k": 40, "max_iter": 4, "seed": 3, "seeding": seeding,
                                 "quiet": True})))
    for row in c.execute("SELECT segment_id, size, centroid FROM semiperso_segments "
                         "WHERE segmentation = ? ORDER BY segment_id", (name,)):
        h.update(repr(row).encode())
    for row in c.execute("SELECT iteration, inertia, changed FROM "
                         "semiperso_segmentation_history WHERE segmentation = ? "
                         "ORDER BY iteration", (name,)):
        h.update(repr(row).encode())
    for row in c.execute("SELECT id, assign_segment(?, embedding) FROM pts ORDER BY id",
                         (name,)):
        h.update(repr(row).encode())
for metric in ("cosine", "dot"):
    n = 0
    for row in c.execute("SELECT user_id, rank, track_id, score FROM topk_tracks_batch("
                         "'SELECT id, embedding FROM pts WHERE id % 7 = 0', 20, 'tracks', ?)",
                         (metric,)):
        h.update(repr(row).encode())
        n += 1
    assert n == 20 * len(range(0, 50000, 7)), n
print(h.hexdigest())
PY
}
run_py 1 make
one=$(run_py 1 1)
two=$(run_py 2 2)
echo "team of 1: $one"
echo "team of 2: $two"
[ "$one" = "$two" ]
