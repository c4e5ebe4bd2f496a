#!/bin/sh
# tests/mutants/run.sh - the mutation check (make mutants): plants each bug
# of tests/mutants/mutants.txt, one at a time, in a scratch copy of the
# working tree, builds, and runs the tests listed for the mutated file
# (plain variant, through tests/run.sh with SP_ONLY), one at a time in the
# listed order until one fails: stage 1 the core tests, and for a mutant
# that survives them stage 2, semiperso.so with its SQL tests and scripts.
# A mutant is killed when a test fails (or hangs: SP_MUTANT_TIMEOUT
# seconds, 600 by default).  Reports every mutant;
# exits non-zero when a mutant survives without a "survives" note, when a
# pattern no longer matches its file exactly once (STALE), when a mutant
# does not compile (NO BUILD: it tests nothing), or when the unmutated copy
# fails its own tests.
#   sh tests/mutants/run.sh [NAME-PART ...]   only the mutants whose name
#                                             contains one of the parts
set -eu
cd "$(dirname "$0")/../.."
make -s build/gen/schema_sql.h .deps-ok
exec nice -n 10 /usr/bin/python3 - "$@" <<'PY'
import os, re, shutil, subprocess, sys, tempfile, time

ROOT = os.getcwd()
TIMEOUT = int(os.environ.get("SP_MUTANT_TIMEOUT", "600"))
CFLAGS = "-O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror".split()
BLAS = subprocess.run(["pkg-config", "--cflags", "openblas"], capture_output=True,
                      text=True, check=True).stdout.split()


def parse(path):
    """The mutants and, per file, the two stages of tests."""
    tests, mutants, cur = {}, [], None
    for n, line in enumerate(open(path), 1):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word == "tests":
            f, _, spec = rest.partition(" ")
            one, _, two = spec.partition("|")
            tests[f] = (one.split(), two.split())
        elif word == "mutant":
            cur = {"name": rest.strip(), "line": n}
            mutants.append(cur)
        elif word in ("file", "find", "replace", "survives") and cur is not None:
            cur[word] = rest.replace("\\n", "\n") if word in ("find", "replace") else rest
        else:
            sys.exit(f"{path}:{n}: cannot read: {line}")
    for m in mutants:
        for key in ("file", "find", "replace"):
            if key not in m:
                sys.exit(f"{path}:{m['line']}: mutant {m['name']} has no {key}")
    return tests, mutants


def tests_for(tests, path):
    if path in tests:
        return tests[path]
    # A header: the tests of its .c file.
    return tests.get(path[:-2] + ".c", ([], []))


def copy_tree(dst):
    files = subprocess.run(["git", "ls-files", "-z"], capture_output=True, check=True).stdout
    for f in files.decode().split("\0"):
        if f and os.path.exists(f):
            os.makedirs(os.path.join(dst, os.path.dirname(f)), exist_ok=True)
            shutil.copy2(f, os.path.join(dst, f))
    os.makedirs(os.path.join(dst, "build/gen"), exist_ok=True)
    shutil.copy2("build/gen/schema_sql.h", os.path.join(dst, "build/gen/schema_sql.h"))
    open(os.path.join(dst, ".deps-ok"), "w").close()


def compile_core(work, objs, only=None):
    """Core objects with run.sh's plain flags; False when one fails."""
    core = os.path.join(work, "ext/core")
    for c in sorted(os.listdir(core)):
        if not c.endswith(".c") or (only and c != only):
            continue
        r = subprocess.run(["cc", *CFLAGS, *BLAS, "-c", "-o",
                            os.path.join(objs, c[:-2] + ".o"), os.path.join(core, c)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return False
    return True


def run_tests(work, objs, names):
    """(killed_by or None, seconds): tests/run.sh on the named tests."""
    env = dict(os.environ, SP_VARIANTS="plain", SP_ONLY=" ".join(names), SP_CORE_OBJS=objs)
    t0 = time.monotonic()
    try:
        r = subprocess.run(["sh", "tests/run.sh"], cwd=work, env=env, capture_output=True,
                           text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "a hang (timeout)", time.monotonic() - t0
    if r.returncode == 0:
        return None, time.monotonic() - t0
    failed = re.findall(r"^  plain (\S+)", r.stdout, re.M)
    return ", ".join(sorted(set(failed))) or "tests/run.sh", time.monotonic() - t0


def build_so(work):
    return subprocess.run(["make", "-s", "semiperso.so"], cwd=work, capture_output=True).returncode == 0


def main():
    tests, mutants = parse("tests/mutants/mutants.txt")
    wanted = sys.argv[1:]
    if wanted:
        mutants = [m for m in mutants if any(w in m["name"] for w in wanted)]
    work = tempfile.mkdtemp(prefix="semiperso-mutants-")
    objs = os.path.join(work, "build/mutant-objs")
    pristine_objs = os.path.join(work, "build/pristine-objs")
    try:
        copy_tree(work)
        os.makedirs(pristine_objs)
        if not compile_core(work, pristine_objs):
            sys.exit("the unmutated core does not build")
        # The unmutated copy must pass everything the mutants will face.
        files = sorted({m["file"] for m in mutants})
        every = sorted({t for f in files for stage in tests_for(tests, f) for t in stage})
        shutil.copytree(pristine_objs, objs)
        if not build_so(work):
            sys.exit("the unmutated semiperso.so does not build")
        bad, secs = run_tests(work, objs, every)
        if bad:
            sys.exit(f"the unmutated copy fails: {bad}")
        print(f"unmutated copy passes {len(every)} tests ({secs:.0f} s); "
              f"{len(mutants)} mutants", flush=True)
        results = {"killed": 0, "explained": 0, "survived": 0, "stale": 0, "nobuild": 0}
        t_all = time.monotonic()
        for m in mutants:
            path = os.path.join(work, m["file"])
            original = open(path).read()
            count = original.count(m["find"])
            if count != 1:
                results["stale"] += 1
                print(f"STALE     {m['name']}: the pattern occurs {count} times in {m['file']}"
                      f" (tests/mutants/mutants.txt line {m['line']})", flush=True)
                continue
            open(path, "w").write(original.replace(m["find"], m["replace"]))
            stage1, stage2 = tests_for(tests, m["file"])
            t0 = time.monotonic()
            try:
                is_header = m["file"].endswith(".h")
                ok = compile_core(work, objs, None if is_header else os.path.basename(m["file"]))
                killed = None if ok else "the build"
                for name in stage1:  # one at a time, in the listed order
                    if not killed:
                        killed, _ = run_tests(work, objs, [name])
                if not killed and stage2:
                    killed = None if build_so(work) else "the build"
                    for name in stage2:
                        if not killed:
                            killed, _ = run_tests(work, objs, [name])
            finally:
                open(path, "w").write(original)
                shutil.rmtree(objs)
                shutil.copytree(pristine_objs, objs)
            took = time.monotonic() - t0
            if killed == "the build":
                results["nobuild"] += 1
                line = f"NO BUILD  {m['name']}: the mutant does not compile; make it one that does"
            elif killed:
                results["killed"] += 1
                line = f"killed    {m['name']} by {killed}"
                if "survives" in m:
                    line += "  (its 'survives' note is out of date)"
            elif "survives" in m:
                results["explained"] += 1
                line = f"survived  {m['name']} (explained: {m['survives']})"
            else:
                results["survived"] += 1
                line = f"SURVIVED  {m['name']}: no test failed"
            print(f"{line}  [{took:.0f} s]", flush=True)
        print(f"{len(mutants)} mutants: {results['killed']} killed, {results['explained']} "
              f"survived with an explanation, {results['survived']} survived unexplained, "
              f"{results['stale']} stale patterns, {results['nobuild']} that do not build "
              f"({time.monotonic() - t_all:.0f} s)")
        if results["survived"] or results["stale"] or results["nobuild"]:
            sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


main()
PY
