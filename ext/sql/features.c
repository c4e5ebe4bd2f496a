/*
** features.c - aggregates that assemble grouped mean vectors in one pass
** (e.g. a user's mean vector per kind of event) without one vec_avg per
** group and a concatenation.  sql/features.sql builds the input vectors
** with user_input_features() (serve.c) instead, which serving shares:
**
**   vec_group_avg(group, vector, n_groups) -> blob of n_groups * d floats
**       group-wise means laid end to end: floats [g*d, (g+1)*d) hold the
**       mean of the rows of group g (0-based), zeros when group g has no
**       vector.  NULL vectors are skipped (their rows still need a valid
**       group).  NULL when no row carries a vector.
**   vec_group_count(group, n_groups) -> blob of n_groups floats
**       how many rows each group has (as float32, to concatenate).
**       NULL when there are no rows.
**
** group must be an INTEGER in [0, n_groups); n_groups the same on every
** row.  Sums are kept in double.
*/
#include <math.h>
#include <string.h>

#include "args.h"
#include "common.h"
#include "modules.h"

#define MAX_GROUPS 65536

typedef struct {
  int n_groups;
  int d;               /* 0 until the first vector */
  sqlite3_int64 *count;
  double *sum;         /* n_groups x d */
  int error;           /* an error was reported: ignore further rows */
} GroupAcc;

/* Validates (group, n_groups) of a row and sets up acc on the first one. */
static int group_args(sqlite3_context *ctx, GroupAcc *acc, sqlite3_value *g,
                      sqlite3_value *ng, int g_argno, int ng_argno, int *group) {
  const char *fn = sp_function_name(ctx);
  if (acc->error) return SQLITE_ERROR;
  if (sqlite3_value_type(ng) != SQLITE_INTEGER ||
      sqlite3_value_int64(ng) < 1 || sqlite3_value_int64(ng) > MAX_GROUPS) {
    sp_result_errorf(ctx, "%s(): argument %d (n_groups) must be an INTEGER "
                     "between 1 and %d", fn, ng_argno, MAX_GROUPS);
    return SQLITE_ERROR;
  }
  int n = (int)sqlite3_value_int64(ng);
  if (acc->n_groups == 0) {
    acc->count = sqlite3_malloc64((sqlite3_uint64)n * sizeof *acc->count);
    if (!acc->count) {
      sqlite3_result_error_nomem(ctx);
      return SQLITE_NOMEM;
    }
    memset(acc->count, 0, (size_t)n * sizeof *acc->count);
    acc->n_groups = n;
  } else if (n != acc->n_groups) {
    sp_result_errorf(ctx, "%s(): argument %d (n_groups) changed from %d to %d "
                     "between rows", fn, ng_argno, acc->n_groups, n);
    return SQLITE_ERROR;
  }
  if (sqlite3_value_type(g) != SQLITE_INTEGER || sqlite3_value_int64(g) < 0 ||
      sqlite3_value_int64(g) >= n) {
    sp_result_errorf(ctx, "%s(): argument %d (group) must be an INTEGER in "
                     "[0, %d)", fn, g_argno, n);
    return SQLITE_ERROR;
  }
  *group = (int)sqlite3_value_int64(g);
  return SQLITE_OK;
}

/* The accumulator of a row with a valid group (in *group), or NULL when the
** row is to be ignored: an error was set, by this row or an earlier one. */
static GroupAcc *group_row(sqlite3_context *ctx, sqlite3_value *g, sqlite3_value *ng,
                           int g_argno, int ng_argno, int *group) {
  GroupAcc *acc = sqlite3_aggregate_context(ctx, sizeof *acc);
  if (!acc) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  if (group_args(ctx, acc, g, ng, g_argno, ng_argno, group) != SQLITE_OK) {
    acc->error = 1;
    return NULL;
  }
  return acc;
}

static void group_avg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  int g;
  GroupAcc *acc = group_row(ctx, argv[0], argv[2], 1, 3, &g);
  if (acc == NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) return;
  float *parsed = NULL;
  const unsigned char *raw = NULL;
  int n;
  if (sqlite3_value_type(argv[1]) == SQLITE_BLOB &&
      sqlite3_value_bytes(argv[1]) > 0 &&
      sqlite3_value_bytes(argv[1]) % (int)sizeof(float) == 0) {
    /* Fast path: read the BLOB in place (it need not be aligned). */
    raw = sqlite3_value_blob(argv[1]);
    n = sqlite3_value_bytes(argv[1]) / (int)sizeof(float);
  } else if (sp_vector_arg(ctx, argv[1], 2, &parsed, &n) != SQLITE_OK) {
    acc->error = 1;
    return;
  }
  if (acc->d == 0) {
    if ((sqlite3_int64)n * acc->n_groups > sp_max_vector_len(sqlite3_context_db_handle(ctx))) {
      sqlite3_free(parsed);
      sp_result_errorf(ctx, "%s(): result too long (%d groups of %d floats)",
                       sp_function_name(ctx), acc->n_groups, n);
      acc->error = 1;
      return;
    }
    acc->sum = sqlite3_malloc64((sqlite3_uint64)n * acc->n_groups * sizeof(double));
    if (!acc->sum) {
      sqlite3_free(parsed);
      sqlite3_result_error_nomem(ctx);
      acc->error = 1;
      return;
    }
    memset(acc->sum, 0, (size_t)n * acc->n_groups * sizeof(double));
    acc->d = n;
  } else if (n != acc->d) {
    sqlite3_free(parsed);
    sp_result_errorf(ctx, "%s(): dimension mismatch: a vector has %d floats, "
                     "earlier ones have %d", sp_function_name(ctx), n, acc->d);
    acc->error = 1;
    return;
  }
  double *s = acc->sum + (size_t)g * acc->d;
  for (int j = 0; j < n; j++) {
    float x;
    if (raw) memcpy(&x, raw + (size_t)j * sizeof x, sizeof x);
    else x = parsed[j];
    if (!isfinite(x)) {
      /* Undo the partial row so the accumulator stays consistent. */
      for (int k = 0; k < j; k++) {
        float y;
        if (raw) memcpy(&y, raw + (size_t)k * sizeof y, sizeof y);
        else y = parsed[k];
        s[k] -= y;
      }
      sqlite3_free(parsed);
      sp_result_errorf(ctx, "%s(): argument 2: vector contains NaN or Inf",
                       sp_function_name(ctx));
      acc->error = 1;
      return;
    }
    s[j] += x;
  }
  acc->count[g]++;
  sqlite3_free(parsed);
}

static void group_acc_free(GroupAcc *acc) {
  sqlite3_free(acc->count);
  sqlite3_free(acc->sum);
  acc->count = NULL;
  acc->sum = NULL;
}

static void group_count_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  int g;
  GroupAcc *acc = group_row(ctx, argv[0], argv[1], 1, 2, &g);
  if (acc) acc->count[g]++;
}

/* The result of either aggregate: per group, the mean vector (means) or
** the row count, laid end to end; NULL when there is nothing to say. */
static void group_finish(sqlite3_context *ctx, int means) {
  GroupAcc *acc = sqlite3_aggregate_context(ctx, 0);
  if (acc == NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  int width = means ? acc->d : 1, n = acc->n_groups * width;
  float *out = NULL;
  if (!acc->error && n == 0) {
    sqlite3_result_null(ctx);
  } else if (!acc->error && (out = sqlite3_malloc64((sqlite3_uint64)n * sizeof *out)) == NULL) {
    sqlite3_result_error_nomem(ctx);
  } else if (!acc->error) {
    for (int g = 0; g < acc->n_groups; g++) {
      for (int j = 0; j < width; j++) {
        size_t at = (size_t)g * width + j;
        out[at] = !means ? (float)acc->count[g]
                  : acc->count[g] ? (float)(acc->sum[at] / (double)acc->count[g]) : 0.0f;
      }
    }
    sp_result_vector(ctx, out, n);
  }
  group_acc_free(acc);
}

static void group_avg_final(sqlite3_context *ctx) { group_finish(ctx, 1); }

static void group_count_final(sqlite3_context *ctx) { group_finish(ctx, 0); }

static const SpFunction feature_functions[] = {
    {"vec_group_avg", 3, SP_PURE | SP_SUBTYPED, NULL, NULL, group_avg_step, group_avg_final,
     NULL, NULL},
    {"vec_group_count", 2, SP_PURE | SP_SUBTYPED, NULL, NULL, group_count_step,
     group_count_final, NULL, NULL},
};

const SpBinding sp_features_binding = {feature_functions, SP_COUNT(feature_functions), NULL, 0,
                                       0, NULL};
