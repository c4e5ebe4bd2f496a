#!/bin/sh
# ensure-deps.sh - makes sure the build and test tools are present.
# As root on Debian it installs what is missing; otherwise it stops with the
# exact command to run.  Called by make before anything is compiled.
set -e
missing=""
command -v cc >/dev/null 2>&1 || missing="$missing build-essential"
command -v make >/dev/null 2>&1 || missing="$missing make"
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
command -v sqlite3 >/dev/null 2>&1 || missing="$missing sqlite3"
[ -f /usr/include/sqlite3ext.h ] || missing="$missing libsqlite3-dev"
pkg-config --exists openblas 2>/dev/null || missing="$missing libopenblas-dev"
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import numpy" 2>/dev/null || missing="$missing python3 python3-numpy"
/usr/bin/python3 -c "import onnx" 2>/dev/null || missing="$missing python3-onnx"
/usr/bin/python3 -c "import scipy" 2>/dev/null || missing="$missing python3-scipy"
command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot-nox"
if [ -n "$missing" ]; then
  cmd="apt-get install -y$missing"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "semiperso: installing:$missing" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $cmd -qq >/dev/null
  else
    echo "semiperso: missing packages:$missing" >&2
    echo "run: sudo apt-get update && sudo $cmd" >&2
    exit 1
  fi
fi
# onnxruntime-node for the ONNX export test, from the npm registry at the
# version tests/onnx/package-lock.json pins (its native library ships in the
# package; tests/onnx/.npmrc says why no install script runs).  Reinstalled
# when the lock file changes.  Without node the test skips that part.
onnx_tests="$(dirname "$0")/../tests/onnx"
if command -v npm >/dev/null 2>&1 &&
    ! [ "$onnx_tests/node_modules/.package-lock.json" -nt "$onnx_tests/package-lock.json" ]; then
  echo "semiperso: installing onnxruntime-node into tests/onnx/node_modules" >&2
  (cd "$onnx_tests" && npm ci --no-audit --no-fund --loglevel=error)
fi
