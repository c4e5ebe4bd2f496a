/*
** item_count.c - the aggregate behind every "most popular" list, on
** ext/core/item_count.h:
**
**   top_items(user_id, item_id, k) -> JSON [[item_id, users], ...]
**
** the k items met by the most distinct users of the group, most first,
** ties by smaller item id (a (user, item) pair repeated counts once; rows
** with a NULL user or item are skipped; NULL when no row counts).  The
** pipeline's Popularity list and each segment's top tracks are this over
** future_listens; hashing instead of GROUP BY keeps it one pass, no sort.
*/
#include "../core/item_count.h"
#include "args.h"
#include "common.h"
#include "modules.h"

typedef struct {
  ItemCount *counter;
  sqlite3_int64 k;
} TopItems;

static void top_items_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  TopItems *acc = sqlite3_aggregate_context(ctx, sizeof *acc);
  if (acc == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (acc->counter == NULL) {
    if (sp_int_arg(ctx, argv[2], 3, 1, 10000000, &acc->k) != SQLITE_OK) return;
    acc->counter = item_count_new();
    if (acc->counter == NULL) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
  }
  for (int i = 0; i < 2; i++) {
    int type = sqlite3_value_type(argv[i]);
    if (type == SQLITE_NULL) return;
    if (type != SQLITE_INTEGER) {
      sp_result_errorf(ctx, "top_items(): argument %d must be an INTEGER id", i + 1);
      return;
    }
  }
  if (item_count_add(acc->counter, sqlite3_value_int64(argv[0]),
                     sqlite3_value_int64(argv[1]))) {
    sqlite3_result_error_nomem(ctx);
  }
}

static void top_items_final(sqlite3_context *ctx) {
  TopItems *acc = sqlite3_aggregate_context(ctx, 0);
  if (acc == NULL || acc->counter == NULL || item_count_items(acc->counter) == 0) {
    sqlite3_result_null(ctx);
    if (acc) item_count_free(acc->counter);
    return;
  }
  size_t n = item_count_items(acc->counter);
  size_t k = (size_t)acc->k < n ? (size_t)acc->k : n;
  int64_t *items = sqlite3_malloc64(2 * k * sizeof *items);
  if (items == NULL || item_count_top(acc->counter, k, items, items + k) == (size_t)-1) {
    sqlite3_free(items);
    item_count_free(acc->counter);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  item_count_free(acc->counter);
  acc->counter = NULL;
  sqlite3_str *s = sqlite3_str_new(sqlite3_context_db_handle(ctx));
  sqlite3_str_appendchar(s, 1, '[');
  for (size_t i = 0; i < k; i++) {
    sqlite3_str_appendf(s, "%s[%lld,%lld]", i ? "," : "", (long long)items[i],
                        (long long)items[k + i]);
  }
  sqlite3_str_appendchar(s, 1, ']');
  sqlite3_free(items);
  sp_result_json(ctx, s);
}

static const SpFunction item_count_functions[] = {
    {"top_items", 3, SP_PURE | SP_SUBTYPED, NULL, NULL, top_items_step, top_items_final, NULL,
     NULL},
};

const SpBinding sp_item_count_binding = {item_count_functions, SP_COUNT(item_count_functions),
                                         NULL, 0, 0, NULL};
