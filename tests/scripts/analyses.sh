#!/bin/sh
# The paper's analyses and the A/B test end to end on a small synthetic
# pipeline, every number recomputed by a second implementation in Python
# (numpy, scipy) from the raw tables: results_at_k, results_by_activity,
# track_popularity, recommended_popularity (with the folds of
# evaluate.sql rebuilt from their formula), the assignment hash, the
# simulated impressions and responses, ab_results (z-test, p-value, also by
# scipy's chi-square test, Katz interval, minimum detectable effect and the
# power it implies); then the data files of make figures against the same
# recomputation; and a clear error from each command whose input is missing,
# and from steps/settings.sql (the pipeline's first step) on a database of an
# earlier version.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$ROOT"
SO=$SEMIPERSO_SO
sq() { LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" sqlite3 -batch "$@"; }
fail() { echo "FAIL: $*"; exit 1; }
expect_error() { # expect_error MESSAGE COMMAND...: fails unless COMMAND fails saying MESSAGE
  message=$1
  shift
  if "$@" >"$tmp/err.out" 2>&1; then fail "no error from: $*"; fi
  grep -qF "$message" "$tmp/err.out" || { cat "$tmp/err.out"; fail "expected \"$message\""; }
}

# Missing data: each command says what to run.
sq "$tmp/empty.db" "CREATE TABLE t(x)"
expect_error "figures: the database has no table results; run the pipeline" \
  env SEMIPERSO_SO="$SO" sh tools/figures/render.sh "$tmp/empty.db" "$tmp/nofig"
expect_error "figures: no database $tmp/none.db" \
  env SEMIPERSO_SO="$SO" sh tools/figures/render.sh "$tmp/none.db" "$tmp/nofig"
expect_error "analyze.sql: no table run_config; run the earlier steps first" \
  sq -bail "$tmp/empty.db" ".load $SO" ".read sql/steps/analyze.sql"
expect_error "abtest_simulate.sql: no table recommendations; run sql/pipeline.sql first" \
  sq -bail "$tmp/empty.db" ".load $SO" ".read sql/schema.sql" ".read sql/abtest.sql" \
  ".read sql/abtest_simulate.sql"
# A database an earlier version ran on, whose recommendations was a table.
sq "$tmp/old.db" ".read sql/schema.sql" "CREATE TABLE recommendations(user_id, method, rank, track_id)"
expect_error "settings: recommendations is a table of an earlier version" \
  sq -bail "$tmp/old.db" ".load $SO" ".read sql/pipeline.sql"
[ "$(sq "$tmp/old.db" "SELECT count(*) FROM sqlite_schema WHERE name = 'feature_groups'")" = 0 ] ||
  fail "the pipeline ran a step before refusing the old recommendations table"

# A small pipeline, then the simulated A/B test.
sq "$tmp/a.db" >/dev/null <<SQL
.bail on
.load $SO
SELECT synthesize_dataset('{"tracks": 1500, "warm": 1200, "validation": 100,
  "test": 300, "dim": 16, "seed": 7, "quiet": true}');
INSERT INTO settings VALUES ('segments', 40), ('input_segments', 10), ('epochs', 12),
  ('learning_rate', 0.002), ('kmeans_iterations', 10), ('quiet', 1),
  ('popularity_bins', 6), ('top_countries', 3), ('seed', 3),
  ('activity_bins', '{"onboarding_likes":[0,3,6],"streams":[0,1,4,10],"skips":[0,1,3],"interactions":[0,1]}');
.read sql/pipeline.sql
SQL
expect_error "abtest_simulate.sql: no table ab_impressions; read sql/abtest.sql first" \
  sq -bail "$tmp/a.db" ".load $SO" ".read sql/abtest_simulate.sql"
cp "$tmp/a.db" "$tmp/noab.db"
sq "$tmp/a.db" ".bail on" ".load $SO" ".read sql/abtest.sql" ".read sql/abtest_simulate.sql"
# The A/B test made once more gives the same tables.
sq "$tmp/a.db" "SELECT count(*), sum(impression_id * item_id) FROM ab_impressions" >"$tmp/ab1"
sq "$tmp/a.db" ".bail on" ".load $SO" ".read sql/abtest_simulate.sql"
sq "$tmp/a.db" "SELECT count(*), sum(impression_id * item_id) FROM ab_impressions" >"$tmp/ab2"
cmp -s "$tmp/ab1" "$tmp/ab2" || fail "re-running the simulation changed it"

env SEMIPERSO_SO="$SO" sh tools/figures/render.sh "$tmp/a.db" "$tmp/fig" >/dev/null
# Without an A/B test: the other figures, a notice, and no A/B figure left
# from another database.
cp -r "$tmp/fig" "$tmp/fig2"
env SEMIPERSO_SO="$SO" sh tools/figures/render.sh "$tmp/noab.db" "$tmp/fig2" >/dev/null \
  2>"$tmp/noab.err" || fail "figures without an A/B test failed"
grep -q "no A/B test impressions" "$tmp/noab.err" || fail "no notice of the missing A/B test"
[ -f "$tmp/fig2/popularity.png" ] && [ ! -e "$tmp/fig2/abtest.png" ] &&
  [ ! -e "$tmp/fig2/data/abtest.tsv" ] || fail "stale or missing figures without an A/B test"
cp "$tmp/a.db" "$tmp/nosemi.db"
sq "$tmp/nosemi.db" "DELETE FROM results_by_activity WHERE method = 'semi_personalized'"
expect_error "figures: results_by_activity has no row of semi_personalized" \
  env SEMIPERSO_SO="$SO" sh tools/figures/render.sh "$tmp/nosemi.db" "$tmp/nofig"

LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
/usr/bin/python3 - "$SO" "$tmp/a.db" "$tmp/fig" <<'PY'
import json, math, sqlite3, sys
from collections import defaultdict
import numpy as np
from scipy import stats

so, path, figdir = sys.argv[1:]
db = sqlite3.connect(path)
db.enable_load_extension(True)
db.load_extension(so)
q = lambda sql, *a: db.execute(sql, a).fetchall()
setting = dict(q("SELECT name, value FROM run_settings"))
top_k, seed = setting["top_k"], setting["seed"]
ks = json.loads(setting["eval_ks"])
checked = defaultdict(int)

def close(got, want, what, tol=1e-9):
    checked[what.split(" ")[0]] += 1
    if got is None or want is None:
        assert got is None and want is None, f"{what}: {got} vs {want}"
    else:
        assert abs(got - want) <= tol * max(1.0, abs(want)), f"{what}: {got} vs {want}"

# --- The folds of evaluate.sql, from their formula: a Lehmer permutation.
test_users = [u for (u,) in q("SELECT user_id FROM users WHERE split = 'test' ORDER BY user_id")]
folds = {}
for rep in (0, 1):
    keyed = sorted(test_users, key=lambda u: (((u % 2147483647) + 7919 * (rep + 2 * seed))
                                              * 48271 % 2147483647, u))
    for i, u in enumerate(keyed):
        folds[rep, u] = i % 5
assert folds == {(r, u): f for r, u, f in q("SELECT repetition, user_id, fold FROM evaluation_folds")}

# --- Metrics at every K, per user, by our own definitions.
relevant = defaultdict(set)
for u, t in q("""SELECT f.user_id, f.track_id FROM future_listens f JOIN users USING (user_id)
                 WHERE split = 'test'"""):
    relevant[u].add(t)
lists = defaultdict(list)
for m, u, t in q("""SELECT method, user_id, track_id FROM recommendations JOIN users USING (user_id)
                    WHERE split = 'test' ORDER BY method, user_id, rank"""):
    lists[m, u].append(t)
methods = sorted({m for m, _ in lists})

def metrics(rec, rel, k):
    if not rel:
        return None
    seen, hits, dcg = set(), 0, 0.0
    for i, t in enumerate(rec[:k]):
        if t in rel and t not in seen:
            hits += 1
            dcg += 1 / math.log2(i + 2)
        seen.add(t)
    idcg = sum(1 / math.log2(i + 2) for i in range(min(len(rel), k)))
    return hits / min(len(rel), k), hits / len(rel), dcg / idcg

per_user = {(m, k, u): metrics(lists[m, u], relevant[u], k)
            for m in methods for k in ks for u in test_users}

def summary(m, k, users):
    """Means (%) and fold spreads as evaluate.sql defines them."""
    rows = [(u, per_user[m, k, u]) for u in users if per_user[m, k, u] is not None]
    if not rows:
        return None
    out = []
    for j in range(3):
        mean = 100 * np.mean([v[j] for _, v in rows])
        fold_means = []
        for rep in (0, 1):
            for f in range(5):
                vals = [v[j] for u, v in rows if folds[rep, u] == f]
                if vals:
                    fold_means.append(100 * np.mean(vals))
        sd = float(np.std(fold_means, ddof=1)) if len(fold_means) > 1 else None
        out += [mean, sd]
    return out + [len(rows)]

names = ["precision", "precision_sd", "recall", "recall_sd", "ndcg", "ndcg_sd", "users"]
expected_at_k = {(m, k): summary(m, k, test_users) for m in methods for k in ks}
for row in q(f"SELECT method, k, {', '.join(names)} FROM results_at_k"):
    want = expected_at_k.pop((row[0], row[1]))
    for name, got, w in zip(names, row[2:], want):
        close(got, w, f"results_at_k {row[0]} @{row[1]} {name}")
assert not expected_at_k, f"missing rows {expected_at_k.keys()}"
# The K of Table 1 is the same row as results, to the last bit.
assert q("SELECT count(*) FROM results") == q(f"""SELECT count(*) FROM results r
    JOIN results_at_k a USING (method, k)
    WHERE {' AND '.join(f'r.{n} IS a.{n}' for n in names)}""")

# --- Activity bins.
counts = {u: dict(onboarding_likes=0, streams=0, skips=0, interactions=0) for u in test_users}
for u, action in q("""SELECT e.user_id, e.action FROM registration_events e JOIN users USING (user_id)
                      WHERE split = 'test'"""):
    c = counts[u]
    c["interactions"] += 1
    key = {"onboarding_like": "onboarding_likes", "stream": "streams", "skip": "skips"}.get(action)
    if key:
        c[key] += 1
assert counts == {u: dict(onboarding_likes=a, streams=b, skips=c, interactions=d)
                  for u, a, b, c, d in q("SELECT * FROM user_activity")}
expected_bins = {}
for activity, lows in json.loads(setting["activity_bins"]).items():
    for b, low in enumerate(lows):
        high = lows[b + 1] - 1 if b + 1 < len(lows) else None
        label = f"{low}+" if high is None else str(low) if high == low else f"{low}-{high}"
        members = [u for u in test_users
                   if counts[u][activity] >= low and (high is None or counts[u][activity] <= high)]
        for m in methods:
            for k in ks:
                s = summary(m, k, members)
                if s:
                    expected_bins[m, k, activity, b] = [label, low, high] + s
for row in q(f"""SELECT method, k, activity, bin, label, low, high, {', '.join(names)}
                 FROM results_by_activity"""):
    want = expected_bins.pop(tuple(row[:4]))
    assert list(row[4:7]) == want[:3], (row, want)
    for name, got, w in zip(names, row[7:], want[3:]):
        close(got, w, f"results_by_activity {row[:4]} {name}")
assert not expected_bins, f"missing rows {list(expected_bins)[:5]}"

# --- Popularity ranks and the recommendations by rank bin.
listeners = defaultdict(set)
for u, t in q("""SELECT f.user_id, f.track_id FROM future_listens f JOIN users USING (user_id)
                 WHERE split = 'warm'"""):
    listeners[t].add(u)
tracks = [t for (t,) in q("SELECT track_id FROM tracks")]
ranked = sorted(tracks, key=lambda t: (-len(listeners[t]), t))
rank = {t: i + 1 for i, t in enumerate(ranked)}
assert [(t, rank[t], len(listeners[t])) for t in ranked] == \
    q("SELECT track_id, rank, listeners FROM track_popularity ORDER BY rank")
width = -(-len(tracks) // setting["popularity_bins"])
nbins = -(-len(tracks) // width)
country = dict(q("SELECT user_id, country FROM users WHERE split = 'test'"))
by_country = defaultdict(int)
for u in test_users:
    if country[u] is not None:
        by_country[country[u]] += 1
top = sorted(by_country, key=lambda c: (-by_country[c], c))[:setting["top_countries"]]
expected_pop = {}
for m in methods:
    for scope in [None] + top:
        users = [u for u in test_users if scope is None or country[u] == scope]
        hist = [0] * nbins
        for u in users:
            for t in lists[m, u][:top_k]:
                hist[(rank[t] - 1) // width] += 1
        for b in range(nbins):
            expected_pop[m, scope, b] = (len(users), b * width + 1, min((b + 1) * width, len(tracks)),
                                         hist[b], hist[b] / sum(hist))
for row in q("""SELECT method, country, bin, users, rank_from, rank_to, recommendations, share
                FROM recommended_popularity"""):
    want = expected_pop.pop(tuple(row[:3]))
    assert row[3:7] == want[:4], (row, want)
    close(row[7], want[4], f"recommended_popularity {row[:3]}")
assert not expected_pop

# --- A/B: the hash, the assignment, the simulated cards and responses.
def stable_hash(text):
    x, mask = 0xcbf29ce484222325, (1 << 64) - 1
    for byte in text.encode():
        x = ((x ^ byte) * 0x100000001b3) & mask
    x ^= x >> 33
    x = (x * 0xff51afd7ed558ccd) & mask
    x ^= x >> 33
    x = (x * 0xc4ceb9fe1a85ec53) & mask
    x ^= x >> 33
    return x >> 1

EXP = "simulated_carousel"
variants = q("SELECT variant, weight FROM ab_variants WHERE experiment = ? ORDER BY variant", EXP)
total = sum(w for _, w in variants)
def assigned(u):
    bucket, start = stable_hash(f"{EXP}:{u}") % total, 0
    for v, w in variants:
        if start <= bucket < start + w:
            return v
        start += w
all_users = [u for (u,) in q("SELECT user_id FROM users")]
assert {u: assigned(u) for u in all_users} == \
    dict(q("SELECT user_id, variant FROM ab_assignments WHERE experiment = ?", EXP))
cards = {(u, r): (assigned(u), t) for u in test_users
         for r, t in enumerate(lists[assigned(u), u][:12], 1)}
shown = {(u, p): (v, t) for v, u, t, p in
         q("SELECT variant, user_id, item_id, position FROM ab_impressions WHERE experiment = ?", EXP)}
assert cards == shown, "impressions differ from the variants' top 12"
listened = defaultdict(set)
for u, t in q("SELECT user_id, track_id FROM future_listens"):
    listened[u].add(t)
want_resp = set()
for (u, p), (v, t) in cards.items():
    if t in listened[u]:
        draw = stable_hash(f"{seed}:{u}:{p}") / 2.0**63
        if draw < 0.5:
            want_resp.add((u, p, "stream"))
        if draw < 0.1:
            want_resp.add((u, p, "favorite"))
got_resp = set(q("""SELECT i.user_id, i.position, r.action FROM ab_responses r
                    JOIN ab_impressions i USING (impression_id) WHERE i.experiment = ?""", EXP))
assert want_resp == got_resp, "responses differ from the seeded draws"

# --- ab_results against scipy.
alpha, power = q("SELECT alpha, power FROM ab_experiments WHERE experiment = ?", EXP)[0]
control = q("SELECT control FROM ab_experiments WHERE experiment = ?", EXP)[0][0]
z_a, z_b = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
tally = {}
for v, _ in variants:
    n = sum(1 for c in cards.values() if c[0] == v)
    users = len({u for (u, _), c in cards.items() if c[0] == v})
    for metric, action in (("display_to_stream", "stream"), ("display_to_favorite", "favorite")):
        x = sum(1 for (u, p, a) in want_resp if a == action and cards[u, p][0] == v)
        tally[v, metric] = (users, n, x)
cols = "users, displays, conversions, rate, lift, lift_low, lift_high, z, p_value, mde"
rows = q(f"SELECT variant, metric, {cols} FROM ab_results WHERE experiment = ?", EXP)
assert len(rows) == 2 * len(variants)
for v, metric, users, n, x, rate, lift, low, high, z, p_value, mde in rows:
    assert (users, n, x) == tally[v, metric]
    close(rate, x / n, f"ab rate {v} {metric}")
    if v == control:
        assert lift is None and p_value is None and mde is None
        continue
    _, n0, x0 = tally[control, metric]
    p1, p0 = x / n, x0 / n0
    pooled = (x + x0) / (n + n0)
    want_z = (p1 - p0) / math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / n0))
    close(z, want_z, f"ab z {v} {metric}")
    close(p_value, 2 * stats.norm.sf(abs(want_z)), f"ab p {v} {metric}", 1e-8)
    # The same test as a chi-square test of the 2x2 table (chi2 = z^2).
    chi2, p_chi2, _, _ = stats.chi2_contingency([[x, n - x], [x0, n0 - x0]], correction=False)
    close(p_value, p_chi2, f"ab p-chi2 {v} {metric}", 1e-7)
    close(lift, p1 / p0 - 1, f"ab lift {v} {metric}")
    se_log = math.sqrt((1 - p1) / x + (1 - p0) / x0)
    close(low, math.exp(math.log(p1 / p0) - z_a * se_log) - 1, f"ab low {v} {metric}")
    close(high, math.exp(math.log(p1 / p0) + z_a * se_log) - 1, f"ab high {v} {metric}")
    sigma = math.sqrt(p0 * (1 - p0) * (1 / n + 1 / n0))
    close(mde, (z_a + z_b) * sigma / p0, f"ab mde {v} {metric}")
    # At a true lift of mde the test rejects with probability `power`.
    shift = mde * p0 / sigma
    achieved = stats.norm.cdf(shift - z_a) + stats.norm.cdf(-shift - z_a)
    close(achieved, power, f"ab power {v} {metric}", 1e-3)

# --- The data files of make figures hold these numbers (4 decimals).
def blocks(name):
    """The blocks of a data file: (title, rows of fields)."""
    out = []
    for chunk in open(f"{figdir}/data/{name}.tsv").read().split("\n\n\n"):
        lines = [l for l in chunk.split("\n") if l]
        out.append((lines[0].strip('"'), [l.split("\t") for l in lines[1:]]))
    return out
def same4(text, value, what):
    checked["figure-data"] += 1
    assert abs(float(text) - value) <= 5.1e-5, f"{what}: {text} vs {value}"

label = {"popularity": "Popularity", "registration_day_streams": "Registration Day Streams",
         "input_features_clustering": "Input Features Clustering",
         "full_personalized": "Full-Pers.", "semi_personalized": "Semi-Pers."}
method_of = {v: k for k, v in label.items()}
table1 = [l.split("\t") for l in open(f"{figdir}/data/table1.tsv").read().splitlines()]
assert table1[0][1] == f"Precision@{top_k}" and len(table1) == 1 + len(methods)
for fields in table1[1:]:
    want = summary(method_of[fields[0]], top_k, test_users)
    for text, value in zip(fields[1:], want[:6]):
        same4(text, value, f"table1 {fields[0]}")
at_k = blocks("at_k")
assert [method_of[t] for t, _ in at_k] == [m for m in label if m in methods]
for title, rows in at_k:
    assert [int(r[0]) for r in rows] == sorted(ks)
    for r in rows:
        for text, value in zip(r[1:], summary(method_of[title], int(r[0]), test_users)[:6]):
            same4(text, value, f"at_k {title}")
overall = summary("semi_personalized", top_k, test_users)[0]
titles = {"Artists liked at onboarding": "onboarding_likes", "Streams on registration day": "streams",
          "Skips on registration day": "skips", "Any event (0: none at all)": "interactions"}
for title, rows in blocks("activity"):
    lows = json.loads(setting["activity_bins"])[titles[title]]
    labels = {(f"{lo}+" if b + 1 == len(lows) else str(lo) if lows[b + 1] - 1 == lo
               else f"{lo}-{lows[b + 1] - 1}"): (lo, lows[b + 1] - 1 if b + 1 < len(lows) else None)
              for b, lo in enumerate(lows)}
    for r in rows:
        lo, hi = labels[r[0]]
        members = [u for u in test_users if counts[u][titles[title]] >= lo
                   and (hi is None or counts[u][titles[title]] <= hi)]
        s = summary("semi_personalized", top_k, members)
        assert int(r[1]) == s[6]
        same4(r[2], s[0], f"activity {title} {r[0]}")
        same4(r[3], s[1] or 0.0, f"activity sd {title} {r[0]}")
        same4(r[4], overall, "activity overall")
pop_blocks = blocks("popularity")
assert [t for t, _ in pop_blocks] == [f"All countries ({len(test_users)} users)"] + \
    [f"{c} ({by_country[c]} users)" for c in top]
for (title, rows), scope in zip(pop_blocks, [None] + top):
    assert len(rows) == nbins
    for b, r in enumerate(rows):
        for text, m in zip(r[1:], ("popularity", "semi_personalized", "full_personalized")):
            users = [u for u in test_users if scope is None or country[u] == scope]
            hist = [0] * nbins
            for u in users:
                for t in lists[m, u][:top_k]:
                    hist[(rank[t] - 1) // width] += 1
            same4(text, 100 * hist[b] / sum(hist), f"popularity {title} {b}")
ab = [l.split("\t") for l in open(f"{figdir}/data/abtest.tsv").read().splitlines()]
assert ab[0][0] == "variant" and len(ab) == len(variants)  # header + all but the control
results = {(v, m): r for v, m, *r in q("""SELECT variant, metric, lift, lift_low, lift_high,
    p_value FROM ab_results WHERE experiment = ?""", EXP)}
for fields in ab[1:]:
    v = method_of.get(fields[0], fields[0])
    for offset, metric in ((1, "display_to_stream"), (5, "display_to_favorite")):
        lift, low, high, p = results[v, metric]
        same4(fields[offset], 100 * lift, "abtest lift")
        same4(fields[offset + 1], 100 * low, "abtest low")
        same4(fields[offset + 2], 100 * high, "abtest high")
        close(float(fields[offset + 3]), p, "abtest-p", 1e-12)
print("analyses ok:", dict(checked))
PY

# Every figure in both formats: SVG that parses as XML, a PNG signature.
for name in table1 at_k activity popularity abtest; do
  /usr/bin/python3 -c "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])" \
    "$tmp/fig/$name.svg" || fail "$name.svg is not XML"
  [ "$(head -c 8 "$tmp/fig/$name.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
    fail "$name.png is not a PNG"
done
echo "figures ok"
