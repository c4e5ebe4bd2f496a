#!/bin/sh
# Allocation failure in every SQL function (tests/nomem/nomem.c): SQLite
# allocations failed one at a time, a hard heap limit, and (without ASan)
# malloc() failing under a capped address space.  Each run ends in OK or a
# clear error, the database passes integrity_check and answers as before.
# Built like the extension of this variant, with the sources compiled in.
set -eu
cd "$(dirname "$0")/../.."
bin=$(mktemp)
trap 'rm -f "$bin"' EXIT
if [ -n "${SEMIPERSO_PRELOAD:-}" ]; then
  flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
  mode=asan
else
  flags="-O2"
  mode=plain
fi
make -s build/gen/schema_sql.h
# shellcheck disable=SC2086
cc $flags -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -DSQLITE_CORE -Ibuild/gen \
  $(pkg-config --cflags openblas) -o "$bin" tests/nomem/nomem.c ext/semiperso.c \
  ext/core/*.c ext/sql/*.c -lsqlite3 -ldl -lm -lpthread
"$bin" "$mode"
