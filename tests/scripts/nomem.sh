#!/bin/sh
# Allocation failure in every SQL function (tests/nomem/nomem.c): allocations
# failed one at a time, SQLite's and the numeric core's malloc/calloc/realloc
# alike (the core's reach the test through -Wl,--wrap), a hard heap limit,
# and (without ASan) malloc() failing under a capped address space.  Each run
# ends in OK with the clean output or a clear error, SQLITE_NOMEM when the
# core's allocation failed; the database is left exactly as it was.
# make test fails the first allocation of every call site plus a spread of
# others (QUICK_POINTS per statement); NOMEM_FULL=1 (make nomem-full) fails
# every allocation of every statement in turn.
# Built like the extension of this variant, with the sources compiled in.
set -eu
cd "$(dirname "$0")/../.."
if [ -n "${SEMIPERSO_PRELOAD:-}" ]; then
  flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
  mode=asan
else
  flags="-O2 -g"
  mode=plain
fi
schedule=quick
[ "${NOMEM_FULL:-0}" = 1 ] && schedule=full
make -s build/gen/schema_sql.h
mkdir -p build/nomem
bin=build/nomem/nomem-$mode
# shellcheck disable=SC2086
cc $flags -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -DSQLITE_CORE -Ibuild/gen \
  $(pkg-config --cflags openblas) -o "$bin" tests/nomem/nomem.c ext/semiperso.c \
  ext/core/*.c ext/sql/*.c -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc \
  -lsqlite3 -ldl -lm -lpthread
OPENBLAS_NUM_THREADS=1 "$bin" "$mode" "$schedule" ${NOMEM_CASE:-}
