/*
** metrics.c - SQL ranking metrics on ext/core/metrics.h (definitions in
** README.md, "Metrics"):
**   precision_at(recommended, relevant, k)  recall_at(...)  ndcg_at(...)
** recommended and relevant are JSON arrays of integer ids (recommended in
** rank order); k >= 1.  An empty relevant set gives NULL, so avg() skips
** the user.  Values are fractions in [0, 1].
*/
#include "../core/metrics.h"
#include "args.h"
#include "common.h"
#include "modules.h"

typedef enum { METRIC_PRECISION, METRIC_RECALL, METRIC_NDCG } MetricKind;
static const MetricKind precision = METRIC_PRECISION, recall = METRIC_RECALL, ndcg = METRIC_NDCG;

static void metric_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  MetricKind kind = *(const MetricKind *)sp_user_data(ctx);
  int64_t *recommended = NULL, *relevant = NULL;
  size_t n_recommended, n_relevant;
  sqlite3_int64 k;
  if (sp_ids_arg(ctx, argv[0], 1, &recommended, &n_recommended) != SQLITE_OK) return;
  if (sp_ids_arg(ctx, argv[1], 2, &relevant, &n_relevant) != SQLITE_OK) goto done;
  if (sp_int_arg(ctx, argv[2], 3, 1, INT32_MAX, &k) != SQLITE_OK) goto done;
  if (n_relevant == 0) {
    sqlite3_result_null(ctx);
    goto done;
  }
  n_relevant = metrics_make_set(relevant, n_relevant);
  unsigned char *seen = sqlite3_malloc64(n_relevant);
  if (seen == NULL) {
    sqlite3_result_error_nomem(ctx);
    goto done;
  }
  RankMetrics m;
  metrics_at_k(recommended, n_recommended, relevant, n_relevant, (size_t)k, seen, &m);
  sqlite3_free(seen);
  sqlite3_result_double(ctx, kind == METRIC_PRECISION ? m.precision
                             : kind == METRIC_RECALL  ? m.recall
                                                      : m.ndcg);
done:
  sqlite3_free(recommended);
  sqlite3_free(relevant);
}

static const SpFunction metric_functions[] = {
    {"precision_at", 3, SP_PURE, &precision, metric_func, NULL, NULL, NULL, NULL},
    {"recall_at", 3, SP_PURE, &recall, metric_func, NULL, NULL, NULL, NULL},
    {"ndcg_at", 3, SP_PURE, &ndcg, metric_func, NULL, NULL, NULL, NULL},
};

const SpBinding sp_metrics_binding = {metric_functions, SP_COUNT(metric_functions), NULL, 0, 0,
                                      NULL};
