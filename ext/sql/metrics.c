/*
** metrics.c - SQL ranking metrics on ext/core/metrics.h (definitions in
** README.md, "Metrics"):
**   precision_at(recommended, relevant, k)  recall_at(...)  ndcg_at(...)
** recommended and relevant are JSON arrays of integer ids (recommended in
** rank order); k >= 1.  An empty relevant set gives NULL, so avg() skips
** the user.  Values are fractions in [0, 1].
**
** A query scores one list with all three (steps/evaluate.sql): each
** connection keeps the last recommended and relevant arguments read, as
** text and parsed, so the calls after the first of a row neither parse
** nor sort again.  The cache is keyed by the whole text, so it cannot go
** stale.
*/
#include <string.h>

#include "../core/metrics.h"
#include "args.h"
#include "common.h"
#include "modules.h"

typedef enum { METRIC_PRECISION, METRIC_RECALL, METRIC_NDCG } MetricKind;
static const MetricKind precision = METRIC_PRECISION, recall = METRIC_RECALL, ndcg = METRIC_NDCG;

/* One argument's last text and its ids (for relevant: the set). */
typedef struct {
  char *text;
  size_t len;
  int64_t *ids;
  size_t n;
} ParsedIds;

/* Per connection: the last recommended and relevant lists. */
typedef struct {
  ParsedIds recommended, relevant;
} MetricsCache;

static void parsed_clear(ParsedIds *p) {
  sqlite3_free(p->text);
  sqlite3_free(p->ids);
  memset(p, 0, sizeof *p);
}

static void metrics_cache_clear(void *state) {
  MetricsCache *c = state;
  parsed_clear(&c->recommended);
  parsed_clear(&c->relevant);
}

/* The ids of argument argno (1-based) from the cache when its text is the
** one read last, else parsed (as a set when as_set) and remembered.
** Errors are reported as sp_ids_arg reports them. */
static int cached_ids(sqlite3_context *ctx, sqlite3_value *v, int argno, int as_set,
                      ParsedIds *p) {
  if (sqlite3_value_type(v) == SQLITE_TEXT && p->text != NULL) {
    const char *text = (const char *)sqlite3_value_text(v);
    size_t len = (size_t)sqlite3_value_bytes(v);
    if (text != NULL && len == p->len && memcmp(text, p->text, len) == 0) return SQLITE_OK;
  }
  parsed_clear(p);
  int64_t *ids = NULL;
  size_t n = 0;
  if (sp_ids_arg(ctx, v, argno, &ids, &n) != SQLITE_OK) return SQLITE_ERROR;
  size_t len = (size_t)sqlite3_value_bytes(v);
  char *text = sqlite3_malloc64(len + 1);
  if (text == NULL) {
    sqlite3_free(ids);
    sqlite3_result_error_nomem(ctx);
    return SQLITE_NOMEM;
  }
  memcpy(text, sqlite3_value_text(v), len);
  p->text = text;
  p->len = len;
  p->ids = ids;
  p->n = as_set ? metrics_make_set(ids, n) : n;
  return SQLITE_OK;
}

static void metric_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  MetricKind kind = *(const MetricKind *)sp_user_data(ctx);
  MetricsCache *c = sp_state(ctx);
  sqlite3_int64 k;
  if (cached_ids(ctx, argv[0], 1, 0, &c->recommended) != SQLITE_OK) return;
  if (cached_ids(ctx, argv[1], 2, 1, &c->relevant) != SQLITE_OK) return;
  if (sp_int_arg(ctx, argv[2], 3, 1, INT32_MAX, &k) != SQLITE_OK) return;
  if (c->relevant.n == 0) {
    sqlite3_result_null(ctx);
    return;
  }
  unsigned char *seen = sqlite3_malloc64(c->relevant.n);
  if (seen == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  RankMetrics m;
  metrics_at_k(c->recommended.ids, c->recommended.n, c->relevant.ids, c->relevant.n,
               (size_t)k, seen, &m);
  sqlite3_free(seen);
  sqlite3_result_double(ctx, kind == METRIC_PRECISION ? m.precision
                             : kind == METRIC_RECALL  ? m.recall
                                                      : m.ndcg);
}

static const SpFunction metric_functions[] = {
    {"precision_at", 3, SP_PURE, &precision, metric_func, NULL, NULL, NULL, NULL},
    {"recall_at", 3, SP_PURE, &recall, metric_func, NULL, NULL, NULL, NULL},
    {"ndcg_at", 3, SP_PURE, &ndcg, metric_func, NULL, NULL, NULL, NULL},
};

const SpBinding sp_metrics_binding = {metric_functions, SP_COUNT(metric_functions), NULL, 0,
                                      sizeof(MetricsCache), metrics_cache_clear};
