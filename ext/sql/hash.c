/*
** hash.c - stable_hash(value): a 64-bit hash that every machine and every
** run computes alike, for deterministic A/B test assignment
** (sql/abtest.sql) and seeded draws in SQL:
**   stable_hash('carousel:42') % 2        -- the user's bucket of 2
** The hashed bytes are a TEXT value's UTF-8 bytes, a BLOB's bytes, or an
** INTEGER's or REAL's text as SQLite writes it (stable_hash(42) =
** stable_hash('42')).  The result is the hash of ext/core/hash.h shifted
** right by one bit: an INTEGER in [0, 2^63), never negative, so % and
** division by 2^63 (a uniform draw in [0, 1)) behave.  NULL is an error.
*/
#include "../core/hash.h"
#include "common.h"
#include "modules.h"

static void stable_hash_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const void *bytes;
  switch (sqlite3_value_type(argv[0])) {
    case SQLITE_NULL:
      sqlite3_result_error(ctx, "stable_hash(): argument 1 is NULL", -1);
      return;
    case SQLITE_BLOB: /* NULL for a zero-length BLOB: no bytes to read */
      bytes = sqlite3_value_blob(argv[0]);
      break;
    default: /* never NULL for a value with text, unless memory ran out */
      bytes = sqlite3_value_text(argv[0]);
      if (bytes == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
      }
      break;
  }
  int n = sqlite3_value_bytes(argv[0]);
  sqlite3_result_int64(ctx, (sqlite3_int64)(hash_bytes(bytes, (size_t)n) >> 1));
}

static const SpFunction hash_functions[] = {
    {"stable_hash", 1, SP_PURE, NULL, stable_hash_func, NULL, NULL, NULL, NULL},
};

const SpBinding sp_hash_binding = {hash_functions, SP_COUNT(hash_functions), NULL, 0, 0, NULL};
