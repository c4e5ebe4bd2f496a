#!/bin/sh
# blas_select.sh - which BLAS and kernel the extension runs on, and
# semiperso_info() telling the truth about it.  Each case in its own
# Python process (Debian's python3, whose numpy links the system OpenBLAS):
#   1. default: the kernel is OpenBLAS's own choice unless that is below
#      the CPU's level (from /proc/cpuinfo), then the best kernel for the
#      CPU; the info matches what the loaded library itself reports; the
#      process's environment is as before; one BLAS thread per call;
#   2. OPENBLAS_CORETYPE set by the user: that kernel, kept in the
#      environment;
#   3. numpy loaded first: its OpenBLAS is used as it is (kernel and
#      threads unchanged), one line on stderr (only) when its kernel is
#      below the CPU's level, said once for two connections;
#   4. SEMIPERSO_BLAS naming the reference BLAS: used, products right;
#   5. SEMIPERSO_BLAS naming a BLAS with a wrong sgemm
#      (tests/blas/wrong_cblas.c), or no file: .load fails and says why.
set -eu
cd "$(dirname "$0")/../.."
SO=${SEMIPERSO_SO:-$(pwd)/semiperso}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cc -shared -fPIC -O1 $(pkg-config --cflags openblas) -o "$dir/wrong_cblas.so" tests/blas/wrong_cblas.c

cat >"$dir/common.py" <<'PY'
import ctypes, json, os, sqlite3, sys
SO = sys.argv[1]
libc = ctypes.CDLL(None)
libc.getenv.restype = ctypes.c_char_p
# Kernel levels as OpenBLAS names them (restated here, not read from the
# extension): 3 AVX-512, 2 AVX2, 1 AVX, 0 SSE.
LEVEL = {"skylakex": 3, "cooperlake": 3, "sapphirerapids": 3, "haswell": 2, "zen": 2,
         "sandybridge": 1, "bulldozer": 1, "piledriver": 1, "steamroller": 1, "excavator": 1,
         "prescott": 0, "core2": 0, "penryn": 0, "dunnington": 0, "nehalem": 0, "atom": 0,
         "nano": 0, "barcelona": 0, "opteron": 0, "opteron_sse3": 0, "bobcat": 0}
BEST = {3: "SkylakeX", 2: "Haswell", 1: "Sandybridge", 0: "Prescott"}

def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()

def cpu_level():
    f = cpu_flags()
    if {"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"} <= f: return 3
    if {"avx2", "fma"} <= f: return 2
    if "avx" in f: return 1
    return 0

def connect():
    c = sqlite3.connect(":memory:")
    c.enable_load_extension(True)
    c.load_extension(SO)
    return c

def info(c):
    return json.loads(c.execute("SELECT semiperso_info()").fetchone()[0])

def mapped_openblas():
    """Files of this process whose name says OpenBLAS, from /proc/self/maps."""
    with open("/proc/self/maps") as f:
        return {l.split()[-1] for l in f if "openblas" in l.split()[-1]}

def openblas_here(path):
    """The already-loaded library at path, asked directly."""
    lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LOCAL)
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return lib
PY

run_py() { # run_py [VAR=value ...] -- python code on stdin
  env "$@" LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
    PYTHONPATH="$dir" /usr/bin/python3 - "$SO"
}

echo "1. default"
own=$(env -u OPENBLAS_CORETYPE /usr/bin/python3 -c "
import ctypes; l = ctypes.CDLL('libopenblas.so.0'); l.openblas_get_corename.restype = ctypes.c_char_p
print(l.openblas_get_corename().decode())")
run_py -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 OWN="$own" <<'PY'
from common import *
own = os.environ["OWN"]
c = connect()
i = info(c)
want = own if LEVEL.get(own.lower(), 99) >= cpu_level() else BEST[cpu_level()]
assert i["kernel"] == want, (i["kernel"], want, own)
assert i["default_kernel"] == own, i
assert i["kernel_choice"] == ("openblas" if want == own else "selected"), i
assert os.path.realpath(i["library"]) in mapped_openblas(), (i["library"], mapped_openblas())
lib = openblas_here(i["library"])
assert lib.openblas_get_corename().decode() == i["kernel"]
assert lib.openblas_get_num_threads() == 1 == i["blas_threads"], i
assert i["version"].startswith("OpenBLAS 0.") and i["version"] in i["config"], i
assert i["self_check"]["passed"] and i["self_check"]["products"] == 14, i
assert 0 < i["self_check"]["worst_error_to_bound"] <= 1, i
assert i["threads"] == 1, i   # capped by OPENBLAS_NUM_THREADS=1
flags = cpu_flags()
for f in i["cpu"]["features"]:
    assert (f if f != "sse3" else "pni") in flags, f
assert ("avx512f" in i["cpu"]["features"]) == ("avx512f" in flags)
assert i["cpu"]["level"] == ["sse", "avx", "avx2", "avx512"][cpu_level()], i["cpu"]
# The environment of the process is as it was.
assert libc.getenv(b"OPENBLAS_CORETYPE") is None
assert libc.getenv(b"OPENBLAS_NUM_THREADS") == b"1"
# A second connection finds it all loaded once.
assert info(connect()) == i
print("  kernel", i["kernel"], "(OpenBLAS alone:", own + ")")
PY

echo "2. OPENBLAS_CORETYPE set by the user"
run_py OPENBLAS_CORETYPE=Prescott <<'PY'
from common import *
i = info(connect())
assert i["kernel"] == "Prescott" and i["kernel_choice"] == "user", i
assert "OPENBLAS_CORETYPE=Prescott" in i["reason"], i
assert libc.getenv(b"OPENBLAS_CORETYPE") == b"Prescott"
assert openblas_here(i["library"]).openblas_get_corename() == b"Prescott"
PY

echo "3. numpy loaded first"
run_py -u OPENBLAS_NUM_THREADS -u OPENBLAS_CORETYPE >"$dir/out" 2>"$dir/err" <<'PY'
from common import *
import numpy as np
libs = mapped_openblas()
assert libs, "numpy did not load OpenBLAS"
lib = openblas_here("libopenblas.so.0")
kernel, threads = lib.openblas_get_corename().decode(), lib.openblas_get_num_threads()
a = connect()
b = connect()
i = info(a)
assert i["kernel_choice"] == "preloaded" and i["kernel"] == kernel, (i, kernel)
assert os.path.realpath(i["library"]) in libs, (i["library"], libs)
assert i["blas_threads"] == threads, (i, threads)
# Calls would only queue for its threads: our passes then run on one.
assert i["threads"] == (1 if threads > 1 else len(os.sched_getaffinity(0))), (i, threads)
# numpy's OpenBLAS as it was, and right.
assert lib.openblas_get_corename().decode() == kernel
assert lib.openblas_get_num_threads() == threads
x = np.arange(12, dtype=np.float32).reshape(3, 4)
assert (x @ x.T == (x.astype(np.float64) @ x.T.astype(np.float64)).astype(np.float32)).all()
# The extension works on it.
assert b.execute("SELECT vec_distance_l2('[3,4]', '[0,0]')").fetchone()[0] == 5.0
print(kernel, int(LEVEL.get(kernel.lower(), 99) < cpu_level()))
PY
read -r kernel slow <"$dir/out"
notes=$(grep -c "semiperso: this process loaded OpenBLAS" "$dir/err" || true)
other=$(grep -vc "semiperso: this process loaded OpenBLAS" "$dir/err" || true)
echo "  numpy's kernel $kernel, below the CPU: $slow, notes on stderr: $notes"
[ "$notes" = "$slow" ] && [ "$other" = 0 ] || { cat "$dir/err"; exit 1; }
if [ "$slow" = 1 ]; then grep -q "OPENBLAS_CORETYPE=" "$dir/err"; fi

echo "4. SEMIPERSO_BLAS: the reference BLAS"
ref=/usr/lib/x86_64-linux-gnu/blas/libblas.so.3
[ -f "$ref" ] || ref=$(ls /usr/lib/*/blas/libblas.so.3 | head -n 1)
run_py SEMIPERSO_BLAS="$ref" <<'PY'
from common import *
c = connect()
i = info(c)
assert i["kernel_choice"] == "named" and i["kernel"] is None and i["version"] is None, i
assert os.path.realpath(i["library"]) == os.path.realpath(os.environ["SEMIPERSO_BLAS"]), i
assert not mapped_openblas(), mapped_openblas()
c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, embedding BLOB)")
c.execute("INSERT INTO t VALUES (1, vec_f32('[1,0]')), (2, vec_f32('[0,1]')), (3, vec_f32('[1,1]'))")
rows = c.execute("SELECT rank, track_id FROM topk_tracks('[2,1]', 3, 't')").fetchall()
assert rows == [(1, 3), (2, 1), (3, 2)], rows
PY

echo "5. SEMIPERSO_BLAS: a wrong BLAS, a missing file"
expect_load_error() { # expect_load_error LIBRARY MESSAGE-PATTERN
  if SEMIPERSO_BLAS="$1" LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" sqlite3 :memory: ".load $SO" \
      "SELECT 'loaded'" >"$dir/out" 2>&1; then
    echo "loaded on $1"; cat "$dir/out"; exit 1
  fi
  grep -q "$2" "$dir/out" || { cat "$dir/out"; exit 1; }
  cat "$dir/out"
}
expect_load_error "$dir/wrong_cblas.so" \
  "semiperso: the BLAS in .*wrong_cblas.so computes wrong products: sgemm RowMajor"
expect_load_error "$dir/missing.so" \
  "semiperso: SEMIPERSO_BLAS: .*missing.so: cannot open shared object file"
echo "blas_select ok"
