#!/bin/sh
# k-means against scikit-learn (Debian's python3-sklearn) on 4 000 points
# in 40 well separated blobs: greedy k-means++ seeding with n_init = 5
# must end within 3 % of the inertia of scikit-learn's KMeans (greedy
# seeding, best of 5 starts), and plain k-means++ must do worse on average
# over 5 single starts than greedy seeding does.  The core is driven by
# tests/sklearn/kmeans_inertia.c, built like this variant's tests; then
# train_segments() (the extension, through the sqlite3 shell) with n_init
# 5 must reach the same inertia as the core, hence the same bound.
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "${SEMIPERSO_PRELOAD:-}" ]; then
  flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
else
  flags="-O2"
fi
# shellcheck disable=SC2086
cc $flags -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iext/core \
  $(pkg-config --cflags openblas) -o "$tmp/kmeans_inertia" tests/sklearn/kmeans_inertia.c \
  ext/core/*.c -ldl -lm -lpthread

# The blobs and scikit-learn's inertia (its KMeans: greedy k-means++, the
# best of n_init = 5 starts, max_iter 300).
OMP_NUM_THREADS=1 /usr/bin/python3 - "$tmp/blobs.f32" > "$tmp/sklearn" <<'PY'
import sys
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
x, _ = make_blobs(n_samples=4000, centers=40, n_features=2, cluster_std=1.0,
                  center_box=(-60.0, 60.0), random_state=0)
x = x.astype(np.float32)
x.astype("<f4").tofile(sys.argv[1])
km = KMeans(n_clusters=40, n_init=5, max_iter=300, random_state=0).fit(x)
print(repr(float(km.inertia_)))
PY
sk=$(cat "$tmp/sklearn")
run() { # run SEEDING N_INIT SEED: our inertia
  "$tmp/kmeans_inertia" "$tmp/blobs.f32" 4000 2 40 300 "$1" "$2" "$3" | sed -n 's/^inertia //p'
}
best=$(run greedy 5 0)
plain=""
greedy=""
for seed in 0 1 2 3 4; do
  plain="$plain $(run plain 1 $seed)"
  greedy="$greedy $(run greedy 1 $seed)"
done
# The same fit through SQL: the rows read from the file, 8 bytes each.
sql=$(LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" sqlite3 -batch :memory: <<SQL
.bail on
.load ${SEMIPERSO_SO:-./semiperso}
CREATE TABLE blobs(id INTEGER PRIMARY KEY, v BLOB);
WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < 3999),
     f(b) AS (SELECT readfile('$tmp/blobs.f32'))
INSERT INTO blobs SELECT n, substr(f.b, 8 * n + 1, 8) FROM i, f;
SELECT printf('%.17g', json_extract(train_segments('blobs', 'SELECT v FROM blobs ORDER BY id',
  '{"k": 40, "max_iter": 300, "n_init": 5, "seeding": "greedy", "quiet": true}'), '\$.inertia'));
SQL
)
echo "scikit-learn best of 5: $sk"
echo "train_segments, n_init 5: $sql"
echo "greedy, n_init 5:       $best"
echo "plain, single starts:  $plain"
echo "greedy, single starts: $greedy"
/usr/bin/python3 - "$sk" "$best" "$plain" "$greedy" "$sql" <<'PY'
import sys
sk, best, sql = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[5])
plain = [float(v) for v in sys.argv[3].split()]
greedy = [float(v) for v in sys.argv[4].split()]
assert len(plain) == 5 and len(greedy) == 5, (plain, greedy)
ratio = best / sk
print("greedy n_init 5 / scikit-learn: %.4f" % ratio)
print("mean single start / scikit-learn: plain %.4f, greedy %.4f"
      % (sum(plain) / 5 / sk, sum(greedy) / 5 / sk))
assert ratio <= 1.03, "greedy seeding with n_init 5 is %.1f %% above scikit-learn" % (100 * (ratio - 1))
assert sum(plain) > sum(greedy), "plain k-means++ should do worse than greedy seeding"
print("train_segments n_init 5 / scikit-learn: %.4f" % (sql / sk))
assert sql / sk <= 1.03, "train_segments with n_init 5 is %.1f %% above scikit-learn" % (100 * (sql / sk - 1))
assert abs(sql - best) <= 1e-9 * best, "train_segments ended at %r, the core at %r" % (sql, best)
PY
