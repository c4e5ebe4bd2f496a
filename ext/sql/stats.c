/*
** stats.c - the standard normal distribution in SQL, for the A/B test
** statistics of sql/abtest.sql (p-values, confidence intervals, minimum
** detectable effects):
**   normal_cdf(x)       P(Z <= x) for a standard normal Z
**   normal_quantile(p)  the x with normal_cdf(x) = p, 0 < p < 1
** Arguments are INTEGER or REAL.  Like SQLite's own math functions, a NULL
** argument gives NULL (a rate with no trials stays NULL through a view);
** TEXT, a BLOB, or p outside (0, 1) is an error naming the function.
*/
#include <math.h>

#include "../core/stats.h"
#include "common.h"
#include "modules.h"

/* Reads argument 1 as a number into *x; returns 0 when the result is set
** already (NULL for NULL, or an error). */
static int number_arg(sqlite3_context *ctx, sqlite3_value *v, double *x) {
  int type = sqlite3_value_type(v);
  if (type == SQLITE_NULL) {
    sqlite3_result_null(ctx);
    return 0;
  }
  if (type != SQLITE_INTEGER && type != SQLITE_FLOAT) {
    sp_result_errorf(ctx, "%s(): argument 1 must be a number, not %s",
                     sp_function_name(ctx), type == SQLITE_TEXT ? "TEXT" : "a BLOB");
    return 0;
  }
  *x = sqlite3_value_double(v);
  return 1;
}

static void normal_cdf_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  double x;
  if (number_arg(ctx, argv[0], &x)) sqlite3_result_double(ctx, stats_normal_cdf(x));
}

static void normal_quantile_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  double p;
  if (!number_arg(ctx, argv[0], &p)) return;
  if (!(p > 0.0 && p < 1.0)) {
    sp_result_errorf(ctx, "normal_quantile(): argument 1 must be strictly between 0 "
                          "and 1, got %!.15g", p);
    return;
  }
  sqlite3_result_double(ctx, stats_normal_quantile(p));
}

static const SpFunction stats_functions[] = {
    {"normal_cdf", 1, SP_PURE, NULL, normal_cdf_func, NULL, NULL, NULL, NULL},
    {"normal_quantile", 1, SP_PURE, NULL, normal_quantile_func, NULL, NULL, NULL, NULL},
};

const SpBinding sp_stats_binding = {stats_functions, SP_COUNT(stats_functions), NULL, 0, 0, NULL};
