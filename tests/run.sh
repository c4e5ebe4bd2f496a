#!/bin/sh
# tests/run.sh - runs every test of the project, in two variants:
#   plain  the optimised semiperso.so and core tests built with -O2
#   san    the same built with -fsanitize=address,undefined; the sqlite3
#          shell and python3 get the sanitizer runtimes through LD_PRELOAD
# Kinds of tests:
#   tests/core/test_*.c   C unit tests of the numeric core; each prints
#                         "N passed, N failed" as its last line; a line
#                         "** link: OPTIONS" in one adds link options
#   tests/sql/*.sql       run through the sqlite3 shell with the extension
#                         loaded; output must equal tests/sql/*.expected
#   tests/scripts/*.sh    end-to-end checks (examples, python); exit 0 = pass,
#                         77 = skipped for want of a tool (the reason is
#                         the script's last line)
#   tests/fuzz/fuzz_sql.c a bounded libFuzzer pass (FUZZ_TEST_SECONDS, 50 s)
#                         over the seed corpus and what it finds: no crash,
#                         sanitizer report, leak or timeout.  One test, in
#                         the san variant only (it carries its own ASan and
#                         UBSan); skipped, saying so, when clang is missing
# SP_ONLY="core/test_x sql/y scripts/z" runs only the tests named (and no
# fuzz pass), SP_CORE_OBJS=DIR links the core tests with the objects in DIR:
# tests/mutants/run.sh runs subsets this way.
# Ends with one line "N passed, N failed"; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VARIANTS=${SP_VARIANTS:-"plain san"}
# One BLAS thread: results (and their last bits) must not depend on the
# machine's core count.
export OPENBLAS_NUM_THREADS=1
passed=0
failed=0
failures=""
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

record() { # record NAME STATUS
  if [ "$2" = 0 ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); failures="$failures\n  $1"; fi
}

wanted() { # wanted KIND/NAME: in SP_ONLY, or SP_ONLY unset
  [ -z "${SP_ONLY:-}" ] && return 0
  case " $SP_ONLY " in *" $1 "*) return 0 ;; esac
  return 1
}

for variant in $VARIANTS; do
  if [ "$variant" = san ]; then
    SO="$ROOT/build/san/semiperso"
    CFLAGS_T="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
    PRELOAD="$(cc -print-file-name=libasan.so):$(cc -print-file-name=libubsan.so)"
    # LeakSanitizer is on: the sqlite3 shell exits clean, so any leak
    # reported is the extension's.  Scripts running python3 (which keeps
    # memory at exit by design) turn it off for that process alone.
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  else
    SO="$ROOT/semiperso"
    CFLAGS_T="-O2"
    PRELOAD=""
  fi
  export SEMIPERSO_SO="$SO" SEMIPERSO_PRELOAD="$PRELOAD"
  echo "== $variant =="

  # The numeric core, compiled once per variant (or given, already built
  # with these flags, in SP_CORE_OBJS); each test links it.
  objs=${SP_CORE_OBJS:-"$tmp/core-$variant"}
  if [ -z "${SP_CORE_OBJS:-}" ]; then
    mkdir -p "$objs"
    for c in ext/core/*.c; do
      if ! cc $CFLAGS_T -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(pkg-config --cflags openblas) \
          -c -o "$objs/$(basename "$c" .c).o" "$c" 2>"$tmp/cc.log"; then
        cat "$tmp/cc.log"
        record "$variant $c (build)" 1
      fi
    done
  fi

  for src in tests/core/test_*.c; do
    [ -f "$src" ] || continue
    name=$(basename "$src" .c)
    wanted "core/$name" || continue
    bin="$tmp/$name-$variant"
    link=$(sed -n 's/^\*\* link: //p' "$src")
    if ! cc $CFLAGS_T -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iext/core \
        $(pkg-config --cflags openblas) -o "$bin" "$src" "$objs"/*.o \
        -ldl -lm -lpthread $link 2>"$tmp/cc.log"; then
      cat "$tmp/cc.log"
      record "$variant core/$name (build)" 1
      continue
    fi
    "$bin" >"$tmp/out" 2>&1
    status=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/out" | tail -n 1)
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed$/\1/p')
    if [ -z "$line" ] || [ "$status" != 0 ]; then
      cat "$tmp/out"
      record "$variant core/$name (exit $status)" 1
    else
      grep -E '^FAIL' "$tmp/out"
      passed=$((passed + p))
      failed=$((failed + f))
      [ "$f" = 0 ] || failures="$failures\n  $variant core/$name"
    fi
    echo "core/$name: $line"
  done

  for sql in tests/sql/*.sql; do
    [ -f "$sql" ] || continue
    name=$(basename "$sql" .sql)
    wanted "sql/$name" || continue
    (cd tests/sql && { echo ".load $SO"; cat "$name.sql"; } |
      LD_PRELOAD="$PRELOAD" sqlite3 -batch >"$tmp/out" 2>&1)
    if diff -u "tests/sql/$name.expected" "$tmp/out" >"$tmp/diff" 2>&1; then
      record "$variant sql/$name" 0
      echo "sql/$name: ok"
    else
      head -n 40 "$tmp/diff"
      record "$variant sql/$name" 1
      echo "sql/$name: FAILED"
    fi
  done

  if [ "$variant" = san ] && [ -z "${SP_ONLY:-}" ]; then
    if ! command -v clang >/dev/null 2>&1; then
      echo "fuzz/fuzz_sql: SKIPPED (clang not installed; apt-get install clang libclang-rt-14-dev)"
    elif ! make -s build/fuzz/fuzz_sql >"$tmp/cc.log" 2>&1; then
      tail -n 40 "$tmp/cc.log"
      record "fuzz/fuzz_sql (build)" 1
      echo "fuzz/fuzz_sql: FAILED to build"
    else
      mkdir -p "$tmp/fuzz-new" build/fuzz/artifacts
      if OPENBLAS_NUM_THREADS=1 \
          ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1" \
          UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
          build/fuzz/fuzz_sql -dict=tests/fuzz/sql.dict -timeout=20 \
            -rss_limit_mb=4096 -max_len=4096 \
            -max_total_time="${FUZZ_TEST_SECONDS:-50}" \
            -artifact_prefix=build/fuzz/artifacts/ \
            "$tmp/fuzz-new" tests/fuzz/corpus >"$tmp/out" 2>&1; then
        record "fuzz/fuzz_sql" 0
        echo "fuzz/fuzz_sql: ok ($(sed -n 's/^#\([0-9]*\).*DONE.*/\1/p' "$tmp/out" | tail -n 1) runs)"
      else
        grep -v '^train_\|^synthesize_dataset' "$tmp/out" | tail -n 60
        record "fuzz/fuzz_sql" 1
        echo "fuzz/fuzz_sql: FAILED (reproducer in build/fuzz/artifacts/)"
      fi
    fi
  fi

  for script in tests/scripts/*.sh; do
    [ -f "$script" ] || continue
    name=$(basename "$script" .sh)
    wanted "scripts/$name" || continue
    sh "$script" >"$tmp/out" 2>&1
    status=$?
    if [ "$status" = 0 ]; then
      record "$variant scripts/$name" 0
      echo "scripts/$name: ok"
    elif [ "$status" = 77 ]; then # a part needs a tool this machine lacks
      echo "scripts/$name: SKIPPED ($(tail -n 1 "$tmp/out"))"
    else
      tail -n 40 "$tmp/out"
      record "$variant scripts/$name" 1
      echo "scripts/$name: FAILED"
    fi
  done
done

[ "$failed" = 0 ] || printf "failures:$failures\n"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
