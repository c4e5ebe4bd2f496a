#!/bin/sh
# tests/memcheck.sh - the SQL golden tests (tests/sql/*.sql) through the
# sqlite3 shell under valgrind memcheck (make memcheck).  A test passes
# when valgrind reports no error and no definite or indirect leak (exit
# code 99 otherwise) and the output still equals its .expected file.
# Valgrind's reports are kept in build/memcheck/NAME.log.
set -u
cd "$(dirname "$0")/.."
export OPENBLAS_NUM_THREADS=1
mkdir -p build/memcheck
passed=0
failed=0
for sql in tests/sql/*.sql; do
  name=$(basename "$sql" .sql)
  log="$PWD/build/memcheck/$name.log"
  (cd tests/sql && { echo ".load ../../semiperso"; cat "$name.sql"; } |
    valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
      --error-exitcode=99 --log-file="$log" sqlite3 -batch \
      >"../../build/memcheck/$name.out" 2>&1)
  status=$?
  if [ "$status" != 99 ] && [ ! -s "$log" ] &&
      cmp -s "tests/sql/$name.expected" "build/memcheck/$name.out"; then
    passed=$((passed + 1))
    echo "memcheck sql/$name: ok"
  else
    failed=$((failed + 1))
    echo "memcheck sql/$name: FAILED (exit $status, see $log)"
    head -n 30 "$log"
    diff -u "tests/sql/$name.expected" "build/memcheck/$name.out" | head -n 20
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
