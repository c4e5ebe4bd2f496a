/*
** als.c - UT-ALS from SQL, on ext/core/als.h.
**
**   train_als(name TEXT, query TEXT [, options JSON]) -> JSON summary
**       query yields (user_id, item_id, weight) rows: INTEGER ids, a
**       weight >= 0 (e.g. play counts; repeated pairs are summed).
**       Implicit-feedback matrix factorisation (Hu, Koren & Volinsky
**       2008) by alternating least squares with conjugate-gradient row
**       solves.  Options: dim (256), iterations (15), regularization
**       (0.01), alpha (1: confidence 1 + alpha * weight), cg_steps (3),
**       seed (0: the starting factors), quiet (false: the loss of every
**       iteration on stderr).  dim must not exceed the number of items.
**       SQLITE_DIRECTONLY.
**
** The vectors go to semiperso_factors (side 'user' and 'item'), with
** semiperso_factorizations and one row per iteration in
** semiperso_factorization_history (factors.h), replaced atomically under
** the name and written only after the fit succeeded.  Users and items are
** numbered in increasing id order, so the factors are a pure function of
** the set of rows and the options (bit-identical for any thread count).
*/
#include <stdio.h>

#include "../core/als.h"
#include "common.h"
#include "factors.h"
#include "modules.h"

#define FN "train_als"

typedef struct {
  SpFactorizing b; /* first: sp_factorize's part */
  AlsOptions o;
  float *users, *items;
  AlsResult result;
  double *loss, *seconds; /* per iteration */
} Factorizing;

static void clear(void *p) {
  Factorizing *t = p;
  sqlite3_free(t->users);
  sqlite3_free(t->items);
  sqlite3_free(t->loss);
  sqlite3_free(t->seconds);
}

/* Arguments and options, over the core's defaults. */
static int parse(void *p, int argc, sqlite3_value **argv, const char **sql, char **err) {
  Factorizing *t = p;
  als_default_options(&t->o);
  sqlite3_int64 dim = t->o.dim, iterations = t->o.iterations, cg_steps = t->o.cg_steps, seed = 0;
  const SpOption spec[] = {
      {"dim", SP_OPT_INT, 1, ALS_MAX_DIM, 0, &dim, NULL},
      {"iterations", SP_OPT_INT, 1, 100000, 0, &iterations, NULL},
      {"regularization", SP_OPT_REAL, 0, 1e300, 0, &t->o.regularization, "a number >= 0"},
      {"alpha", SP_OPT_REAL, 0, 1e300, 0, &t->o.alpha, "a number >= 0"},
      {"cg_steps", SP_OPT_INT, 1, 100000, 0, &cg_steps, NULL},
      {"seed", SP_OPT_INT, 0, 9.2e18, 0, &seed, NULL},
      {"quiet", SP_OPT_BOOL, 0, 0, 0, &t->b.quiet, NULL},
  };
  int rc = sp_factorizing_args(&t->b, argc, argv,
                               "TEXT, a SELECT yielding (user_id, item_id, weight) rows", spec,
                               SP_COUNT(spec), sql, err);
  t->o.dim = (int)dim;
  t->o.iterations = (int)iterations;
  t->o.cg_steps = (int)cg_steps;
  t->o.seed = (uint64_t)seed;
  return rc;
}

static int load(void *p, const char *sql, char **err) {
  static const char *const names[] = {"user_id", "item_id", "weight"};
  Factorizing *t = p;
  int rc = sp_pairs_read(t->b.db, FN, sql, SP_WEIGHTS_NONNEGATIVE, names, &t->b.pairs, err);
  return rc == SQLITE_OK ? sp_factorizing_check_dim(&t->b, t->o.dim, err) : rc;
}

static int fit_progress(void *arg, int it, double loss) {
  Factorizing *t = arg;
  double now = sp_now();
  t->loss[it - 1] = loss;
  t->seconds[it - 1] = now - t->b.last;
  if (!t->b.quiet)
    fprintf(stderr, FN "(%s): iteration %d/%d, loss %.6g (%.2f s)\n", t->b.name, it,
            t->o.iterations, loss, now - t->b.last);
  t->b.last = now;
  return sp_factorizing_interrupted(arg);
}

static int fit(void *p, char **err) {
  Factorizing *t = p;
  const SparseMatrix *r = &t->b.pairs.m;
  const sqlite3_uint64 d = (sqlite3_uint64)t->o.dim;
  t->users = sqlite3_malloc64((sqlite3_uint64)r->rows * d * sizeof(float) + 1);
  t->items = sqlite3_malloc64((sqlite3_uint64)r->cols * d * sizeof(float) + 1);
  t->loss = sqlite3_malloc64((sqlite3_uint64)t->o.iterations * sizeof(double));
  t->seconds = sqlite3_malloc64((sqlite3_uint64)t->o.iterations * sizeof(double));
  if (!t->users || !t->items || !t->loss || !t->seconds) return SQLITE_NOMEM;
  if (!t->b.quiet)
    fprintf(stderr, FN "(%s): %d users x %d items, %lld entries, d = %d\n", t->b.name,
            (int)r->rows, (int)r->cols, (long long)r->nnz, t->o.dim);
  t->o.should_stop = sp_factorizing_interrupted;
  t->o.progress = fit_progress;
  t->o.arg = t;
  als_init(&t->o, r->rows, r->cols, t->users, t->items);
  double started = t->b.last = sp_now();
  int rc = als_fit(r, &t->o, t->users, t->items, &t->result);
  t->b.seconds = sp_now() - started;
  switch (rc) {
    case ALS_OK:
      return SQLITE_OK;
    case ALS_ABORTED:
      *err = sp_interrupted(FN, "the previous factorization is kept");
      return SQLITE_INTERRUPT;
    case ALS_NOMEM:
      return SQLITE_NOMEM;
    case ALS_NUMERIC:
      *err = sqlite3_mprintf(FN "(): the factors became infinite or NaN; lower option "
                             "\"alpha\" or the weights");
      return SQLITE_ERROR;
    default: /* the options were checked: only summed weights can overflow */
      *err = sqlite3_mprintf(FN "(): the weights of a repeated (user_id, item_id) pair add up "
                             "beyond float32 range");
      return SQLITE_ERROR;
  }
}

static char *summary(const void *p) {
  const Factorizing *t = p;
  sqlite3_str *s = sqlite3_str_new(t->b.db);
  sp_json_open(s, '{');
  sp_json_text(s, "name", t->b.name);
  sp_json_int(s, "dims", t->o.dim);
  sp_json_int(s, "users", t->b.pairs.m.rows);
  sp_json_int(s, "items", t->b.pairs.m.cols);
  sp_json_int(s, "entries", t->b.pairs.m.nnz);
  sp_json_int(s, "iterations", t->result.iterations);
  sp_json_real(s, "loss", t->result.loss);
  sp_json_real(s, "flops", t->result.flops); /* single-precision work executed */
  sp_json_seconds(s, "seconds", t->b.seconds);
  sp_json_close(s, '}');
  return sqlite3_str_finish(s);
}

static int persist(const void *p, const char *summary, char **err) {
  const Factorizing *t = p;
  const SpPairs *q = &t->b.pairs;
  SpFactorization f = {
      .name = t->b.name, .method = "als", .dims = t->o.dim,
      .users = {q->row_ids, q->m.rows, t->users}, .items = {q->item_ids, q->m.cols, t->items},
      .entries = q->m.nnz, .iterations = t->result.iterations, .loss = t->result.loss,
      .options = t->b.options, .summary = summary, .seconds = t->b.seconds,
      .n_history = t->result.iterations, .history_loss = t->loss,
      .history_seconds = t->seconds};
  return sp_factorization_save(t->b.db, FN, &f, err);
}

static const SpFactorizer als_factorizer = {FN,  sizeof(Factorizing), parse,   load,
                                            fit, summary,             persist, clear};

static void train_als_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sp_factorize(ctx, argc, argv, &als_factorizer);
}

static const SpFunction als_functions[] = {
    {FN, 2, SP_DIRECT | SP_SUBTYPED, NULL, train_als_func, NULL, NULL, NULL, NULL},
    {FN, 3, SP_DIRECT | SP_SUBTYPED, NULL, train_als_func, NULL, NULL, NULL, NULL},
};

const SpBinding sp_als_binding = {als_functions, SP_COUNT(als_functions), NULL, 0, 0, NULL};
