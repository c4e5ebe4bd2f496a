/*
** pmi_svd.c - TT-SVD from SQL, on ext/core/pmi_svd.h.
**
**   train_pmi_svd(name TEXT, query TEXT [, options JSON]) -> JSON summary
**       query yields (collection_id, item_id) rows, INTEGERs (e.g.
**       playlist_tracks; a repeated pair counts once).  Item vectors from
**       the truncated SVD of the shifted positive PMI matrix of item
**       co-occurrences in collections (see pmi_svd.h).  Options: dim (128,
**       at most the number of items), oversampling (10), power_iterations
**       (4), shift (1), power (0.5: vectors U diag(sigma^power)), seed
**       (0), users (NULL, or a query of (user_id, item_id, weight) rows,
**       weights > 0: each user's vector is the weighted mean of the
**       vectors of its items, an item no collection holds counting as a
**       zero vector), quiet (false: progress per SVD pass on stderr).
**       SQLITE_DIRECTONLY.
**
** The item vectors (and the users', with "users") go to semiperso_factors,
** with semiperso_factorizations and one row per SVD pass in
** semiperso_factorization_history (loss NULL; the first pass's seconds
** include the counts and the PMI), replaced atomically under the name.
*/
#include <math.h>
#include <stdio.h>

#include "../core/pmi_svd.h"
#include "common.h"
#include "factors.h"
#include "modules.h"

#define FN "train_pmi_svd"

typedef struct {
  SpFactorizing b; /* first: sp_factorize's part; b.pairs: the collections */
  PmiSvdOptions o;
  char *users_sql;
  SpPairs listens; /* the users' items */
  float *items, *sigma, *users;
  PmiSvdResult result;
  double *seconds; /* per pass */
  int n_hist;
} Factorizing;

static void clear(void *p) {
  Factorizing *t = p;
  sqlite3_free(t->users_sql);
  sp_pairs_free(&t->listens);
  sqlite3_free(t->items);
  sqlite3_free(t->sigma);
  sqlite3_free(t->users);
  sqlite3_free(t->seconds);
}

static int parse(void *p, int argc, sqlite3_value **argv, const char **sql, char **err) {
  Factorizing *t = p;
  pmi_svd_default_options(&t->o);
  sqlite3_int64 dim = t->o.dim, oversampling = t->o.oversampling,
                power_iterations = t->o.power_iterations, seed = 0;
  const SpOption spec[] = {
      {"dim", SP_OPT_INT, 1, 4096, 0, &dim, NULL},
      {"oversampling", SP_OPT_INT, 0, 4096, 0, &oversampling, NULL},
      {"power_iterations", SP_OPT_INT, 0, 100, 0, &power_iterations, NULL},
      {"shift", SP_OPT_REAL, 1, 1e300, 0, &t->o.shift, "a number >= 1"},
      {"power", SP_OPT_REAL, 0, 4, 0, &t->o.power, "a number between 0 and 4"},
      {"seed", SP_OPT_INT, 0, 9.2e18, 0, &seed, NULL},
      {"users", SP_OPT_TEXT, 0, 0, 0, &t->users_sql,
       "a SELECT yielding (user_id, item_id, weight) rows, or null"},
      {"quiet", SP_OPT_BOOL, 0, 0, 0, &t->b.quiet, NULL},
  };
  int rc = sp_factorizing_args(&t->b, argc, argv,
                               "TEXT, a SELECT yielding (collection_id, item_id) rows", spec,
                               SP_COUNT(spec), sql, err);
  t->o.dim = (int)dim;
  t->o.oversampling = (int)oversampling;
  t->o.power_iterations = (int)power_iterations;
  t->o.seed = (uint64_t)seed;
  return rc;
}

/* The collections, then the users' items (read before the fit, so that
** a bad users query fails at once). */
static int load(void *p, const char *sql, char **err) {
  static const char *const pairs[] = {"collection_id", "item_id"};
  static const char *const listens[] = {"user_id", "item_id", "weight"};
  Factorizing *t = p;
  int rc = sp_pairs_read(t->b.db, FN, sql, SP_PAIRS_UNWEIGHTED, pairs, &t->b.pairs, err);
  if (rc == SQLITE_OK) rc = sp_factorizing_check_dim(&t->b, t->o.dim, err);
  if (rc == SQLITE_OK && t->users_sql) {
    rc = sp_pairs_read(t->b.db, FN, t->users_sql, SP_WEIGHTS_POSITIVE, listens, &t->listens, err);
    if (rc != SQLITE_OK && *err) {
      char *wrapped = sqlite3_mprintf("%s (in the query of option \"users\")", *err);
      sqlite3_free(*err);
      *err = wrapped;
    }
  }
  return rc;
}

static int fit_progress(void *arg, int pass, int passes) {
  Factorizing *t = arg;
  double now = sp_now();
  t->seconds[t->n_hist++] = now - t->b.last;
  if (!t->b.quiet)
    fprintf(stderr, FN "(%s): SVD pass %d/%d (%.2f s)\n", t->b.name, pass, passes,
            now - t->b.last);
  t->b.last = now;
  return sp_factorizing_interrupted(arg);
}
/* users[u] = sum_i w_ui items[i] / sum_i w_ui over the user's items, in
** double. */
static int user_means(Factorizing *t) {
  const SparseMatrix *l = &t->listens.m;
  const int d = t->o.dim;
  /* item[j]: the vector row of the users query's item j, or -1. */
  int64_t *item = sqlite3_malloc64((sqlite3_uint64)l->cols * sizeof *item + 1);
  if (item == NULL) return SQLITE_NOMEM;
  for (int32_t j = 0; j < l->cols; j++)
    item[j] = sp_pairs_find(t->b.pairs.item_ids, t->b.pairs.m.cols, t->listens.item_ids[j]);
  double acc[4096];
  for (int32_t u = 0; u < l->rows; u++) {
    double total = 0;
    for (int c = 0; c < d; c++) acc[c] = 0;
    for (int64_t e = l->start[u]; e < l->start[u + 1]; e++) {
      total += l->val[e];
      if (item[l->col[e]] < 0) continue;
      const float *v = t->items + item[l->col[e]] * d;
      for (int c = 0; c < d; c++) acc[c] += (double)l->val[e] * v[c];
    }
    float *out = t->users + (int64_t)u * d;
    for (int c = 0; c < d; c++) out[c] = (float)(acc[c] / total);
  }
  sqlite3_free(item);
  return SQLITE_OK;
}

static int fit(void *p, char **err) {
  Factorizing *t = p;
  const SparseMatrix *a = &t->b.pairs.m;
  const sqlite3_uint64 d = (sqlite3_uint64)t->o.dim;
  t->items = sqlite3_malloc64((sqlite3_uint64)a->cols * d * sizeof(float));
  t->sigma = sqlite3_malloc64(d * sizeof(float));
  t->users = sqlite3_malloc64((sqlite3_uint64)t->listens.m.rows * d * sizeof(float) + 1);
  t->seconds = sqlite3_malloc64((sqlite3_uint64)(t->o.power_iterations + 2) * sizeof(double));
  if (!t->items || !t->sigma || !t->users || !t->seconds) return SQLITE_NOMEM;
  if (!t->b.quiet)
    fprintf(stderr, FN "(%s): %d collections x %d items, %lld entries, d = %d\n", t->b.name,
            (int)a->rows, (int)a->cols, (long long)a->nnz, t->o.dim);
  t->o.should_stop = sp_factorizing_interrupted;
  t->o.progress = fit_progress;
  t->o.arg = t;
  double started = t->b.last = sp_now();
  int rc = pmi_svd_fit(a, &t->o, t->items, t->sigma, &t->result);
  if (rc == PMI_SVD_OK && user_means(t) != SQLITE_OK) rc = PMI_SVD_NOMEM;
  t->b.seconds = sp_now() - started;
  switch (rc) {
    case PMI_SVD_OK:
      return SQLITE_OK;
    case PMI_SVD_ABORTED:
      *err = sp_interrupted(FN, "the previous factorization is kept");
      return SQLITE_INTERRUPT;
    case PMI_SVD_NOMEM:
      return SQLITE_NOMEM;
    case PMI_SVD_EMPTY:
      *err = sqlite3_mprintf(FN "(): no pair of items has a positive shifted PMI: no two items "
                             "share a collection, or option \"shift\" (%g) is too large",
                             t->o.shift);
      return SQLITE_ERROR;
    default: /* options and dim were checked: the eigensolver failed */
      *err = sqlite3_mprintf(FN "(): the SVD failed (LAPACK)");
      return SQLITE_ERROR;
  }
}

static char *summary(const void *p) {
  const Factorizing *t = p;
  sqlite3_str *s = sqlite3_str_new(t->b.db);
  sp_json_open(s, '{');
  sp_json_text(s, "name", t->b.name);
  sp_json_int(s, "dims", t->o.dim);
  sp_json_int(s, "collections", t->b.pairs.m.rows);
  sp_json_int(s, "items", t->b.pairs.m.cols);
  sp_json_int(s, "entries", t->b.pairs.m.nnz);
  sp_json_int(s, "cooccurrences", t->result.cooccurrences);
  sp_json_int(s, "pmi_entries", t->result.pmi_entries);
  sp_json_real(s, "sigma_max", t->sigma[0]);
  sp_json_real(s, "sigma_min", t->sigma[t->o.dim - 1]);
  sp_json_int(s, "users", t->listens.m.rows);
  sp_json_real(s, "flops", t->result.flops); /* single-precision work executed */
  sp_json_seconds(s, "seconds", t->b.seconds);
  sp_json_close(s, '}');
  return sqlite3_str_finish(s);
}

static int persist(const void *p, const char *summary, char **err) {
  const Factorizing *t = p;
  SpFactorization f = {
      .name = t->b.name, .method = "pmi_svd", .dims = t->o.dim,
      .users = {t->listens.row_ids, t->listens.m.rows, t->users},
      .items = {t->b.pairs.item_ids, t->b.pairs.m.cols, t->items},
      .entries = t->b.pairs.m.nnz, .iterations = t->n_hist, .loss = NAN,
      .options = t->b.options, .summary = summary, .seconds = t->b.seconds,
      .n_history = t->n_hist, .history_loss = NULL, .history_seconds = t->seconds};
  return sp_factorization_save(t->b.db, FN, &f, err);
}

static const SpFactorizer pmi_svd_factorizer = {FN,  sizeof(Factorizing), parse,   load,
                                                fit, summary,             persist, clear};

static void train_pmi_svd_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sp_factorize(ctx, argc, argv, &pmi_svd_factorizer);
}

static const SpFunction pmi_svd_functions[] = {
    {FN, 2, SP_DIRECT | SP_SUBTYPED, NULL, train_pmi_svd_func, NULL, NULL, NULL, NULL},
    {FN, 3, SP_DIRECT | SP_SUBTYPED, NULL, train_pmi_svd_func, NULL, NULL, NULL, NULL},
};

const SpBinding sp_pmi_svd_binding = {pmi_svd_functions, SP_COUNT(pmi_svd_functions), NULL, 0,
                                      0, NULL};
