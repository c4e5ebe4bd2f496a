#!/bin/sh
# ensure-deps.sh - makes sure the build and test tools are present.
# As root on Debian it installs what is missing; otherwise it stops with the
# exact command to run.  Called by make before anything is compiled.
#   sh tools/ensure-deps.sh node   instead: Node.js >= 20 and the npm
#   packages pinned by the lock files of tools/ (the release importer:
#   DuckDB, better-sqlite3, which compiles its SQLite on the way, a few
#   minutes once) and tests/onnx (onnxruntime-node, whose native library
#   ships in the package; tests/onnx/.npmrc says why no install script runs).
set -e
if [ "${1:-}" = node ]; then
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "semiperso: installing: nodejs npm" >&2
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    else
      echo "semiperso: missing Node.js; run: sudo apt-get install nodejs npm" >&2
      exit 1
    fi
  fi
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 20 ]; then
    echo "semiperso: tools/ needs Node.js >= 20 (better-sqlite3 12), found $(node --version)" >&2
    exit 1
  fi
  here="$(dirname "$0")"
  for dir in "$here" "$here/../tests/onnx"; do
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  done
  exit 0
fi
missing=""
command -v cc >/dev/null 2>&1 || missing="$missing build-essential"
command -v make >/dev/null 2>&1 || missing="$missing make"
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
command -v sqlite3 >/dev/null 2>&1 || missing="$missing sqlite3"
[ -f /usr/include/sqlite3ext.h ] || missing="$missing libsqlite3-dev"
pkg-config --exists openblas 2>/dev/null || missing="$missing libopenblas-dev"
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import numpy" 2>/dev/null || missing="$missing python3 python3-numpy"
# The reference BLAS: tests/scripts/blas_select.sh runs the extension on it.
ls /usr/lib/*/blas/libblas.so.3 >/dev/null 2>&1 || missing="$missing libblas3"
/usr/bin/python3 -c "import onnx" 2>/dev/null || missing="$missing python3-onnx"
/usr/bin/python3 -c "import scipy" 2>/dev/null || missing="$missing python3-scipy"
command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot-nox"
# scikit-learn: the k-means test compares inertias with its KMeans.
/usr/bin/python3 -c "import sklearn" 2>/dev/null || missing="$missing python3-sklearn"
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
