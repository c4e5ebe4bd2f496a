#!/bin/sh
# onnx_export.sh - the embedder exported to ONNX (ext/core/onnx.c) computes
# what mlp_forward computes, in other people's software:
#   tests/onnx/export_models.c  exports random networks (the paper's shape
#                               with non-trivial BatchNorm statistics, one
#                               hidden layer, none with outputs below the
#                               norm's floor) and their outputs for many
#                               realistic and edge-case input rows
#   tests/onnx/check_model.py   python3-onnx's full checker, the fields,
#                               canonical bytes, a numpy forward pass
#   tests/onnx/parity.js        onnxruntime-node (installed into
#                               tests/onnx/node_modules by
#                               tools/ensure-deps.sh) within 1e-5
# Without node the onnxruntime part is skipped (exit 77, which
# tests/run.sh reports as SKIPPED); everything else must pass.
set -eu
cd "$(dirname "$0")/../.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
SAN=""
[ -z "${SEMIPERSO_PRELOAD:-}" ] ||
  SAN="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
# shellcheck disable=SC2086
cc -O2 $SAN -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iext/core \
  $(pkg-config --cflags openblas) -o "$dir/export_models" tests/onnx/export_models.c \
  ext/core/*.c -ldl -lm -lpthread
OPENBLAS_NUM_THREADS=1 "$dir/export_models" "$dir"
/usr/bin/python3 tests/onnx/check_model.py "$dir"
sh tests/onnx/parity.sh "$dir"
