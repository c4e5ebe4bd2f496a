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
# The reference BLAS: tests/scripts/blas_select.sh runs the extension on it.
ls /usr/lib/*/blas/libblas.so.3 >/dev/null 2>&1 || missing="$missing libblas3"
[ -z "$missing" ] && exit 0
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
