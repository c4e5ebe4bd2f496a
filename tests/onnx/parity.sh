#!/bin/sh
# parity.sh DIR - runs DIR's exported models (DIR/cases.json) in
# onnxruntime through parity.js, for the tests that export them
# (tests/scripts/onnx_export.sh, tests/scripts/export_files.sh).  Without
# node it says so and exits 77, which tests/run.sh reports as SKIPPED.
set -eu
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1; then
  echo "onnxruntime parity skipped: node is not installed (apt-get install nodejs npm, then tools/ensure-deps.sh)"
  exit 77
fi
[ -d tests/onnx/node_modules/onnxruntime-node ] || {
  echo "FAIL: tests/onnx/node_modules lacks onnxruntime-node: run tools/ensure-deps.sh" >&2
  exit 1
}
node tests/onnx/parity.js "$1"
