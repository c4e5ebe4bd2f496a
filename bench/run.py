#!/usr/bin/python3
"""bench/run.py - the offline experiment at the paper's scale, timed per stage.

Generates the synthetic dataset at the paper's size (50 000 tracks, 70 000
warm / 20 000 validation / 10 000 test users, d = 128), then runs every
pipeline step as its own sqlite3 process so that each stage's wall time and
peak resident memory are its own (os.wait4 gives the child's rusage).
The numeric stages are also reported in GFLOP/s beside this machine's own
sgemm rate, measured in the same run by bench/sgemm_rate with the BLAS kernel
the extension chose; semiperso_info() (printed first, and kept in the
results) says which library and kernel that is, and why.

Then the two factorisations that build the embedding spaces from the logs
(UT-ALS on listens, TT-SVD on playlist_tracks) are timed the same way, each
in its own process, and reported apart from the pipeline's total; so are
DropoutNet and MeLU.

With --existing, the database --db is kept as it is (e.g. an imported
release, or one an earlier run generated) and every stage but generation
runs on it, its own settings table deciding the pipeline's settings; the
factorisations run only where it holds the logs they read.

Usage: bench/run.py [--scale small|paper] [--db FILE [--existing]]
                    [--out bench/results.json]
Run through `make bench` (`make bench BENCH_DB=FILE` for --existing).
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCALES = {
    "paper": dict(tracks=50000, warm=70000, validation=20000, test=10000, dim=128),
    # A quick run of the same harness, for checking it works.
    "small": dict(tracks=5000, warm=7000, validation=2000, test=1000, dim=32),
}


def run_stage(db, name, sql):
    """Runs sql in a fresh sqlite3 process on db; returns (seconds, peak MiB)."""
    script = ".bail on\n.load ./semiperso\n" + sql + "\n"
    start = time.monotonic()
    proc = subprocess.Popen(["sqlite3", "-batch", db], stdin=subprocess.PIPE,
                            cwd=ROOT)
    proc.stdin.write(script.encode())
    proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    if status != 0:
        sys.exit(f"bench: stage {name} failed (status {status})")
    return seconds, usage.ru_maxrss / 1024.0


def db_size(db):
    """The dataset size of an existing database, in the keys of SCALES."""
    row = subprocess.check_output(
        ["sqlite3", "-batch", "-separator", " ", db,
         "SELECT (SELECT count(*) FROM tracks), "
         "(SELECT count(*) FROM users WHERE split = 'warm'), "
         "(SELECT count(*) FROM users WHERE split = 'validation'), "
         "(SELECT count(*) FROM users WHERE split = 'test'), "
         "(SELECT length(embedding) / 4 FROM tracks LIMIT 1)"]).split()
    return dict(zip(("tracks", "warm", "validation", "test", "dim"), map(int, row)))


def bench_baselines(db):
    """DropoutNet and MeLU (steps/baselines.sql) on the database the pipeline
    just ran on, with the setting baselines = 1 and the options of the
    settings dropoutnet_options / melu_options (the tuned defaults unless set):
    each model's training time (its own timer, stored in semiperso_baselines)
    and the peak resident memory of the process that trains both (an upper
    bound for each), then the steps that add their four rows to results.
    Reported apart from the pipeline's total; returns the report's
    "baselines" entry."""
    load_before = os.getloadavg()[0]
    stages = [
        ("baseline_settings", "INSERT OR REPLACE INTO settings VALUES ('baselines', 1);\n"
                              ".read sql/steps/settings.sql"),
        ("baseline_inputs", ".read sql/steps/baseline_inputs.sql"),
        ("baselines", ".read sql/steps/baselines.sql"),
        ("top_tracks", ".read sql/steps/top_tracks.sql"),
        ("baselines_recommend", ".read sql/steps/baselines_recommend.sql"),
        ("evaluate", ".read sql/steps/evaluate.sql"),
    ]
    print("DropoutNet and MeLU (not in the total above)")
    print(f"{'stage':<20}{'seconds':>10}{'peak MiB':>10}")
    entry = {"stages": []}
    for name, sql in stages:
        seconds, peak = run_stage(db, name, sql)
        entry["stages"].append({"stage": name, "seconds": round(seconds, 2),
                                "peak_mib": round(peak, 1)})
        print(f"{name:<20}{seconds:>10.2f}{peak:>10.1f}", flush=True)
    train_peak = next(s["peak_mib"] for s in entry["stages"] if s["stage"] == "baselines")
    models = json.loads(subprocess.check_output(
        ["sqlite3", "-batch", "-json", db,
         "SELECT name, train_seconds, train_rows, items, epochs, options "
         "FROM semiperso_baselines WHERE name IN ('dropoutnet', 'melu') ORDER BY name"]))
    entry["models"] = []
    for m in models:
        entry["models"].append({"model": m["name"], "train_seconds": round(m["train_seconds"], 2),
                                "peak_mib_at_most": train_peak, "rows": m["train_rows"],
                                "items": m["items"], "epochs": m["epochs"],
                                "options": json.loads(m["options"])})
        print(f"{m['name']}: trained in {m['train_seconds']:.1f} s (target 300), peak at most "
              f"{train_peak:.0f} MiB (target 2048), {m['train_rows']} users x {m['items']} tracks")
    results = subprocess.check_output(
        ["sqlite3", "-batch", "-header", "-column", db,
         "SELECT method, printf('%.2f', precision) AS p, printf('%.2f', recall) AS r, "
         "printf('%.2f', ndcg) AS ndcg, users FROM results "
         "WHERE method LIKE 'dropoutnet%' OR method LIKE 'melu%' ORDER BY method"])
    print(results.decode())
    entry["results"] = results.decode()
    entry["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return entry


# The two factorisations of the paper's Section 3.1 (UT-ALS d = 256, 15
# iterations; TT-SVD d = 128) on the bench database's own logs; the small
# scale shrinks the dimensions with the data.
FACTORISATIONS = {
    "paper": dict(ut_als={"dim": 256, "iterations": 15}, tt_svd={"dim": 128}),
    "small": dict(ut_als={"dim": 64, "iterations": 15}, tt_svd={"dim": 32}),
}


def run_factorisations(db, scale, sgemm):
    """Times train_als on listens and train_pmi_svd on playlist_tracks, each
    in its own sqlite3 process (seconds and peak memory of that process,
    reading the logs and storing the vectors included). The fit's own
    seconds and the GFLOP it executed come from the summary the function
    returns (stored in semiperso_factorizations); the GFLOP/s are over the
    fit's seconds. Not part of the pipeline's total."""
    calls = [
        ("ut_als", "train_als", "listens", "SELECT user_id, track_id, plays FROM listens"),
        ("tt_svd", "train_pmi_svd", "playlist_tracks",
         "SELECT playlist_id, track_id FROM playlist_tracks"),
    ]
    print(f"{'factorisation':<14}{'seconds':>8}{'fit s':>8}{'peak MiB':>10}{'GFLOP':>9}"
          f"{'GFLOP/s':>9}{'of sgemm':>10}")
    rows = []
    for name, function, table, query in calls:
        # An existing database (e.g. an imported release) may lack the logs.
        probe = subprocess.run(["sqlite3", "-batch", db, f"SELECT EXISTS (SELECT 1 FROM {table})"],
                               capture_output=True)
        if probe.returncode != 0 or probe.stdout.strip() != b"1":
            print(f"{name:<14}skipped: no rows in {table}")
            continue
        options = dict(FACTORISATIONS[scale][name], quiet=True)
        model = "bench_" + name
        sql = (f".output /dev/null\n"
               f"SELECT {function}('{model}', '{query}', '{json.dumps(options)}');")
        seconds, peak = run_stage(db, name, sql)
        summary = json.loads(subprocess.check_output(
            ["sqlite3", "-batch", db,
             f"SELECT summary FROM semiperso_factorizations WHERE name = '{model}'"]))
        rate = summary["flops"] / summary["seconds"] / 1e9
        row = {"method": name, "options": options, "seconds": round(seconds, 2),
               "fit_seconds": summary["seconds"], "peak_mib": round(peak, 1),
               "entries": summary["entries"], "executed_gflop": round(summary["flops"] / 1e9, 1),
               "executed_gflops": round(rate, 1), "executed_fraction_of_sgemm": round(rate / sgemm, 3)}
        print(f"{name:<14}{seconds:>8.2f}{summary['seconds']:>8.2f}{peak:>10.1f}"
              f"{summary['flops'] / 1e9:>9.1f}"
              f"{rate:>9.1f}{rate / sgemm:>10.0%}", flush=True)
        rows.append(row)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", choices=SCALES, default="paper")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results.json"))
    ap.add_argument("--db", default=os.path.join(ROOT, "build", "bench.db"))
    ap.add_argument("--existing", action="store_true",
                    help="time the pipeline on --db as it is: no generation")
    args = ap.parse_args()
    if args.existing and not os.path.exists(args.db):
        sys.exit(f"bench: --existing: no database {args.db}")
    size = db_size(args.db) if args.existing else SCALES[args.scale]

    # The BLAS the extension runs on (library, kernel and why, threads, CPU),
    # and its sgemm rate on this machine: the yardstick of every stage.
    blas = json.loads(subprocess.check_output(
        ["sqlite3", "-batch", ":memory:", ".load ./semiperso", "SELECT semiperso_info()"],
        cwd=ROOT))
    print(f"BLAS: {blas['library']} ({blas['version'] or 'not OpenBLAS'}), kernel "
          f"{blas['kernel']} [{blas['kernel_choice']}: {blas['reason']}], "
          f"{blas['threads']} threads, CPU {blas['cpu']['level']}")
    sgemm = float(subprocess.check_output([os.path.join(ROOT, "build", "sgemm_rate")],
                                          stderr=subprocess.DEVNULL))
    for suffix in ("", "-journal", "-wal", "-shm"):
        if not args.existing and os.path.exists(args.db + suffix):
            os.remove(args.db + suffix)

    opts = dict(size, seed=0)
    epochs, segments, input_segments, iters, top_k = 130, 1000, 100, 20, 50
    if args.scale == "small":
        segments, input_segments = 100, 20
    settings = (f"INSERT OR REPLACE INTO settings VALUES ('segments', {segments}), "
                f"('input_segments', {input_segments});")
    n_feat = 20 * size["dim"] + 19
    d, warm = size["dim"], size["warm"]
    cold = size["validation"] + size["test"]
    hidden = [400, 300, 200]
    widths = [n_feat] + hidden + [d]
    # Per row: forward 2*in*out per layer; backward 2*in*out for the weight
    # gradient and, except for the first layer, 2*in*out for the input's.
    per_row = sum(2 * a * b for a, b in zip(widths, widths[1:])) * 2 + \
        sum(2 * a * b for a, b in zip(widths[1:], widths[2:]))
    flops = {
        "train": per_row * warm * epochs,
        "segments": 2.0 * warm * d * segments * (iters + 1) +
                    2.0 * warm * n_feat * input_segments * (iters + 1),
        "recommend": 2.0 * cold * size["tracks"] * d * 2,
    }
    stages = [
        ("generate", f"SELECT synthesize_dataset('{json.dumps(opts)}');\n" + settings),
        ("settings", ".read sql/steps/settings.sql"),
        ("features", ".read sql/features.sql"),
        ("train", ".read sql/steps/train.sql"),
        ("segments", ".read sql/steps/segments.sql"),
        ("top_tracks", ".read sql/steps/top_tracks.sql"),
        ("recommend", ".read sql/steps/recommend.sql"),
        ("evaluate", ".read sql/steps/evaluate.sql"),
        ("describe", ".read sql/steps/describe.sql"),
        ("analyze", ".read sql/steps/analyze.sql"),
    ]
    report = {"scale": args.scale, "size": size, "sgemm_gflops": sgemm, "blas": blas,
              "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
              "stages": []}
    print(f"sgemm on this machine: {sgemm:.1f} GFLOP/s (kernel {blas['kernel']}, "
          f"{blas['threads']} threads)")
    print(f"{'stage':<12}{'seconds':>10}{'peak MiB':>10}{'GFLOP/s':>10}{'of sgemm':>10}")
    total = 0.0
    if args.existing:
        stages = stages[1:]
    for name, sql in stages:
        seconds, peak = run_stage(args.db, name, sql)
        total += seconds
        row = {"stage": name, "seconds": round(seconds, 2), "peak_mib": round(peak, 1)}
        line = f"{name:<12}{seconds:>10.2f}{peak:>10.1f}"
        if name == "train":
            # The first layer skips all-zero feature groups: count the
            # arithmetic actually executed as well as the dense equivalent.
            groups = float(subprocess.check_output(
                ["sqlite3", "-batch", args.db,
                 "SELECT count(*) FROM (SELECT DISTINCT e.user_id, e.action, e.entity "
                 "FROM registration_events e JOIN users u USING (user_id) "
                 "JOIN feature_groups g USING (action, entity) WHERE u.split = 'warm')"]))
            nonzero_inputs = (groups + 2 * warm) * d + 19 * warm  # + age, country, scalars
            dense_first = 2.0 * 2 * warm * n_feat * hidden[0]
            executed = flops["train"] - epochs * (dense_first - 2.0 * 2 * nonzero_inputs * hidden[0])
            rate_x = executed / seconds / 1e9
            row.update(executed_gflops=round(rate_x, 1),
                       executed_fraction_of_sgemm=round(rate_x / sgemm, 3),
                       nonzero_input_fraction=round(nonzero_inputs / (warm * n_feat), 3))
        if name in flops:
            rate = flops[name] / seconds / 1e9
            row.update(gflops=round(rate, 1), fraction_of_sgemm=round(rate / sgemm, 3))
            line += f"{rate:>10.1f}{rate / sgemm:>10.0%}"
        print(line, flush=True)
        report["stages"].append(row)
    report["total_seconds"] = round(total, 2)
    generate = sum(s["seconds"] for s in report["stages"] if s["stage"] == "generate")
    report["total_without_generate_seconds"] = round(total - generate, 2)
    report["peak_mib"] = max(s["peak_mib"] for s in report["stages"])
    print(f"{'total':<12}{total:>10.2f}{report['peak_mib']:>10.1f}")
    train = next(s for s in report["stages"] if s["stage"] == "train")
    print(f"train: GFLOP/s above count the dense-equivalent arithmetic; the first layer "
          f"skips all-zero groups ({train['nonzero_input_fraction']:.0%} of inputs are "
          f"nonzero), so executed: {train['executed_gflops']} GFLOP/s = "
          f"{train['executed_fraction_of_sgemm']:.0%} of sgemm")
    results = subprocess.check_output(
        ["sqlite3", "-batch", "-header", "-column", args.db,
         "SELECT method, printf('%.2f', precision) AS p, printf('%.2f', recall) AS r, "
         "printf('%.2f', ndcg) AS ndcg, users FROM results ORDER BY results.ndcg DESC"], cwd=ROOT)
    print(results.decode())
    report["results"] = results.decode()
    report["factorisations"] = run_factorisations(args.db, args.scale, sgemm)
    report["baselines"] = bench_baselines(args.db)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(f"written: {os.path.relpath(args.out, ROOT)}")


if __name__ == "__main__":
    main()
