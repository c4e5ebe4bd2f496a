/* test_als.c - implicit ALS against exact ALS written here (dense normal
** equations solved by Cholesky in double), its loss against the loss
** recomputed over every pair, monotone loss, recovery of held-out
** interactions of a planted structure, determinism, bad input. */
#include <stdlib.h>
#include <string.h>

#include "als.h"
#include "check.h"
#include "rng.h"

/* ---- a small weighted matrix, kept densely too ---- */

typedef struct {
  int users, items;
  double *w;      /* users x items weights */
  char *present;  /* users x items */
  SparseMatrix r;
} Data;

static void data_random(Data *dt, int users, int items, double density, uint64_t seed) {
  Rng g;
  rng_seed(&g, seed, 1);
  dt->users = users;
  dt->items = items;
  dt->w = calloc((size_t)users * items, sizeof *dt->w);
  dt->present = calloc((size_t)users * items, 1);
  int32_t *ru = malloc(sizeof(int32_t) * users * items), *ri = malloc(sizeof(int32_t) * users * items);
  float *rw = malloc(sizeof(float) * users * items);
  int64_t n = 0;
  for (int u = 0; u < users; u++)
    for (int i = 0; i < items; i++)
      if (rng_uniform(&g) < density) {
        /* Weights 0 included: a stored 0 is a preference at confidence 1. */
        double w = (double)rng_below(&g, 6);
        dt->w[(size_t)u * items + i] = w;
        dt->present[(size_t)u * items + i] = 1;
        ru[n] = u;
        ri[n] = i;
        rw[n++] = (float)w;
      }
  CHECK(sparse_from_coo(users, items, n, ru, ri, rw, &dt->r) == SPARSE_OK);
  free(ru);
  free(ri);
  free(rw);
}

static void data_free(Data *dt) {
  free(dt->w);
  free(dt->present);
  sparse_free(&dt->r);
}

/* L of als.h over every pair, in double. */
static double dense_loss(const Data *dt, const float *x, const float *y, int d, double alpha,
                         double reg) {
  double loss = 0;
  for (int u = 0; u < dt->users; u++)
    for (int i = 0; i < dt->items; i++) {
      double s = 0;
      for (int j = 0; j < d; j++) s += (double)x[u * d + j] * y[i * d + j];
      int p = dt->present[(size_t)u * dt->items + i];
      double c = p ? 1 + alpha * dt->w[(size_t)u * dt->items + i] : 1;
      loss += c * (p - s) * (p - s);
    }
  for (int k = 0; k < dt->users * d; k++) loss += reg * x[k] * x[k];
  for (int k = 0; k < dt->items * d; k++) loss += reg * y[k] * y[k];
  return loss;
}

/* Solves the n x n SPD system a z = b in place by Cholesky (z in b). */
static void cholesky_solve(double *a, double *b, int n) {
  for (int j = 0; j < n; j++) {
    for (int k = 0; k < j; k++) a[j * n + j] -= a[j * n + k] * a[j * n + k];
    a[j * n + j] = sqrt(a[j * n + j]);
    for (int i = j + 1; i < n; i++) {
      for (int k = 0; k < j; k++) a[i * n + j] -= a[i * n + k] * a[j * n + k];
      a[i * n + j] /= a[j * n + j];
    }
  }
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < i; k++) b[i] -= a[i * n + k] * b[k];
    b[i] /= a[i * n + i];
  }
  for (int i = n - 1; i >= 0; i--) {
    for (int k = i + 1; k < n; k++) b[i] -= a[k * n + i] * b[k];
    b[i] /= a[i * n + i];
  }
}

/* Exact half-iteration: every row of `solved` (rows x d) from `fixed`
** (cols x d), the weights of row r, column c at w[r * rs + c * cs]. */
static void exact_half(const Data *dt, int transpose, const double *fixed, double *solved,
                       int d, double alpha, double reg) {
  int rows = transpose ? dt->items : dt->users, cols = transpose ? dt->users : dt->items;
  double *a = malloc(sizeof(double) * d * d), *b = malloc(sizeof(double) * d);
  for (int r = 0; r < rows; r++) {
    memset(b, 0, sizeof(double) * d);
    for (int j = 0; j < d; j++)
      for (int k = 0; k < d; k++) a[j * d + k] = j == k ? reg : 0;
    for (int c = 0; c < cols; c++) {
      size_t at = transpose ? (size_t)c * dt->items + r : (size_t)r * dt->items + c;
      int p = dt->present[at];
      double conf = p ? 1 + alpha * dt->w[at] : 1;
      const double *y = fixed + (size_t)c * d;
      for (int j = 0; j < d; j++) {
        b[j] += conf * p * y[j];
        for (int k = 0; k < d; k++) a[j * d + k] += conf * y[j] * y[k];
      }
    }
    cholesky_solve(a, b, d);
    memcpy(solved + (size_t)r * d, b, sizeof(double) * d);
  }
  free(a);
  free(b);
}

static double max_abs_diff(const float *a, const double *b, size_t n, double *scale) {
  double worst = 0, big = 0;
  for (size_t k = 0; k < n; k++) {
    double e = fabs(a[k] - b[k]);
    if (e > worst) worst = e;
    if (fabs(b[k]) > big) big = fabs(b[k]);
  }
  *scale = big;
  return worst;
}

/* ---- progress callbacks ---- */

typedef struct {
  double loss[64];
  int n;
  int stop_at; /* should_stop fires on this poll (0: never) */
  int polls;
} Trace;

static int record(void *arg, int iteration, double loss) {
  Trace *t = arg;
  if (iteration == t->n + 1 && t->n < 64) t->loss[t->n++] = loss;
  return 0;
}

static int stop_after(void *arg) {
  Trace *t = arg;
  return t->stop_at && ++t->polls >= t->stop_at;
}

/* ---- planted structure: recall of held-out items ---- */

/* Users like 1-2 of 8 item groups and meet items of those groups by
** popularity; a fifth of each user's items are held out.  Recall@10 of the
** held-out items: ALS scores x.y, Popularity the training counts; both
** skip the user's training items. */
static void planted_recall(double *als_recall, double *pop_recall) {
  enum { U = 800, I = 400, GROUPS = 8, TOP = 10 };
  Rng g;
  rng_seed(&g, 5, 2);
  static char train[U][I], held[U][I];
  memset(train, 0, sizeof train);
  memset(held, 0, sizeof held);
  double cum[I / GROUPS];
  double s = 0;
  for (int k = 0; k < I / GROUPS; k++) cum[k] = (s += 1.0 / (k + 3.0));
  int32_t *ru = malloc(sizeof(int32_t) * U * 40), *ri = malloc(sizeof(int32_t) * U * 40);
  float *rw = malloc(sizeof(float) * U * 40);
  int64_t n = 0;
  for (int u = 0; u < U; u++) {
    int g1 = (int)rng_below(&g, GROUPS), g2 = rng_uniform(&g) < 0.5 ? g1 : (int)rng_below(&g, GROUPS);
    for (int k = 0; k < 30; k++) {
      int grp = rng_uniform(&g) < 0.6 ? g1 : g2;
      double x = rng_uniform(&g) * cum[I / GROUPS - 1];
      int m = 0;
      while (cum[m] <= x) m++;
      int item = grp * (I / GROUPS) + m;
      if (train[u][item] || held[u][item]) continue;
      if (rng_uniform(&g) < 0.2) {
        held[u][item] = 1;
      } else {
        train[u][item] = 1;
        ru[n] = u;
        ri[n] = item;
        rw[n++] = (float)(1 + rng_below(&g, 4));
      }
    }
  }
  SparseMatrix r;
  CHECK(sparse_from_coo(U, I, n, ru, ri, rw, &r) == SPARSE_OK);
  AlsOptions o;
  als_default_options(&o);
  o.dim = 16;
  o.iterations = 10;
  o.alpha = 5;
  o.regularization = 0.1;
  o.seed = 1;
  float *x = malloc(sizeof(float) * U * o.dim), *y = malloc(sizeof(float) * I * o.dim);
  als_init(&o, U, I, x, y);
  CHECK(als_fit(&r, &o, x, y, NULL) == ALS_OK);
  int count[I] = {0};
  for (int u = 0; u < U; u++)
    for (int i = 0; i < I; i++) count[i] += train[u][i];
  int64_t hits_als = 0, hits_pop = 0, total = 0;
  for (int u = 0; u < U; u++) {
    double score[I], pop[I];
    for (int i = 0; i < I; i++) {
      double d = 0;
      for (int j = 0; j < o.dim; j++) d += (double)x[u * o.dim + j] * y[i * o.dim + j];
      score[i] = train[u][i] ? -1e300 : d;
      pop[i] = train[u][i] ? -1e300 : count[i];
      total += held[u][i];
    }
    for (int k = 0; k < TOP; k++) {
      int best = 0, best_pop = 0;
      for (int i = 1; i < I; i++) {
        if (score[i] > score[best]) best = i;
        if (pop[i] > pop[best_pop]) best_pop = i;
      }
      hits_als += held[u][best];
      hits_pop += held[u][best_pop];
      score[best] = -1e300;
      pop[best_pop] = -1e300;
    }
  }
  *als_recall = (double)hits_als / (double)total;
  *pop_recall = (double)hits_pop / (double)total;
  free(x);
  free(y);
  free(ru);
  free(ri);
  free(rw);
  sparse_free(&r);
}

int main(void) {
  Data dt;
  /* d = 37: every kernel's main loop and its tail. */
  data_random(&dt, 60, 45, 0.35, 7);
  const int d = 37;
  AlsOptions o;
  als_default_options(&o);
  CHECK(o.dim == 256 && o.iterations == 15 && o.cg_steps == 3 && als_check_options(&o) == NULL);
  o.dim = d;
  o.alpha = 2.0;
  o.regularization = 0.1;
  o.seed = 3;
  float *x = malloc(sizeof(float) * dt.users * d), *y = malloc(sizeof(float) * dt.items * d);
  float *x0 = malloc(sizeof(float) * dt.users * d), *y0 = malloc(sizeof(float) * dt.items * d);
  als_init(&o, dt.users, dt.items, x0, y0);

  /* Exact ALS: cg_steps >= dim solves each subproblem (up to rounding),
  ** with each set of vector kernels (those the CPU lacks fall back). */
  double *ex = malloc(sizeof(double) * dt.users * d), *ey = malloc(sizeof(double) * dt.items * d);
  for (int kernels = ALS_KERNELS_SCALAR; kernels <= ALS_KERNELS_AVX512; kernels++) {
  o.kernels = kernels;
  for (int k = 0; k < dt.items * d; k++) ey[k] = y0[k];
  for (int iters = 1; iters <= 3; iters++) {
    exact_half(&dt, 0, ey, ex, d, o.alpha, o.regularization);
    exact_half(&dt, 1, ex, ey, d, o.alpha, o.regularization);
    memcpy(x, x0, sizeof(float) * dt.users * d);
    memcpy(y, y0, sizeof(float) * dt.items * d);
    o.iterations = iters;
    o.cg_steps = 3 * d;
    AlsResult res;
    CHECK(als_fit(&dt.r, &o, x, y, &res) == ALS_OK && res.iterations == iters);
    double sx, sy;
    double ex_err = max_abs_diff(x, ex, (size_t)dt.users * d, &sx);
    double ey_err = max_abs_diff(y, ey, (size_t)dt.items * d, &sy);
    CHECK_MSG(ex_err <= 1e-4 * sx && ey_err <= 1e-4 * sy,
              "kernels %d, iteration %d: users off by %g (scale %g), items by %g (scale %g)",
              kernels, iters,
              ex_err, sx, ey_err, sy);
    /* The reported loss is L of the returned factors. */
    double want = dense_loss(&dt, x, y, d, o.alpha, o.regularization);
    CHECK_MSG(fabs(res.loss - want) <= 1e-5 * want, "loss %.9g, recomputed %.9g", res.loss,
              want);
  }
  }
  o.kernels = 0;

  /* The loss never increases, with inexact (3-step) and exact solves. */
  for (int exact = 0; exact <= 1; exact++) {
    Trace tr = {{0}, 0, 0, 0};
    memcpy(x, x0, sizeof(float) * dt.users * d);
    memcpy(y, y0, sizeof(float) * dt.items * d);
    o.iterations = 12;
    o.cg_steps = exact ? 3 * d : 3;
    o.progress = record;
    o.arg = &tr;
    AlsResult res;
    CHECK(als_fit(&dt.r, &o, x, y, &res) == ALS_OK);
    CHECK(tr.n == 12 && res.loss == tr.loss[11]);
    int monotone = 1;
    for (int k = 1; k < tr.n; k++) monotone &= tr.loss[k] <= tr.loss[k - 1] * (1 + 1e-6);
    CHECK_MSG(monotone, "cg_steps %d: loss went up", o.cg_steps);
    double want = dense_loss(&dt, x, y, d, o.alpha, o.regularization);
    CHECK_MSG(fabs(res.loss - want) <= 1e-5 * want, "loss %.9g, recomputed %.9g", res.loss,
              want);
    CHECK(tr.loss[11] < 0.9 * tr.loss[0]);
  }
  o.progress = NULL;
  o.arg = NULL;

  /* Bit-identical for every thread count; a pure function of the seed. */
  {
    Data big;
    data_random(&big, 300, 150, 0.1, 9); /* several blocks of rows */
    AlsOptions p;
    als_default_options(&p);
    p.dim = 24;
    p.iterations = 3;
    p.seed = 4;
    size_t nx = (size_t)big.users * p.dim, ny = (size_t)big.items * p.dim;
    float *bx[4], *by[4];
    for (int t = 0; t < 4; t++) {
      bx[t] = malloc(sizeof(float) * nx);
      by[t] = malloc(sizeof(float) * ny);
      p.threads = t < 3 ? t + 1 : 1;
      if (t == 3) p.seed = 5;
      als_init(&p, big.users, big.items, bx[t], by[t]);
      CHECK(als_fit(&big.r, &p, bx[t], by[t], NULL) == ALS_OK);
    }
    CHECK(memcmp(bx[0], bx[1], nx * sizeof(float)) == 0 &&
          memcmp(by[0], by[1], ny * sizeof(float)) == 0);
    CHECK(memcmp(bx[0], bx[2], nx * sizeof(float)) == 0 &&
          memcmp(by[0], by[2], ny * sizeof(float)) == 0);
    CHECK(memcmp(by[0], by[3], ny * sizeof(float)) != 0);
    for (int t = 0; t < 4; t++) {
      free(bx[t]);
      free(by[t]);
    }
    data_free(&big);
  }

  /* Held-out interactions of a planted structure: far above Popularity. */
  double als_recall, pop_recall;
  planted_recall(&als_recall, &pop_recall);
  CHECK_MSG(als_recall > 2 * pop_recall && als_recall > pop_recall + 0.15,
            "recall@10: ALS %.3f, Popularity %.3f", als_recall, pop_recall);

  /* Interrupts: should_stop aborts and says how far it got. */
  {
    Trace tr = {{0}, 0, 3, 0};
    o.iterations = 5;
    o.should_stop = stop_after;
    o.arg = &tr;
    AlsResult res;
    memcpy(x, x0, sizeof(float) * dt.users * d);
    memcpy(y, y0, sizeof(float) * dt.items * d);
    CHECK(als_fit(&dt.r, &o, x, y, &res) == ALS_ABORTED && res.iterations < 5);
    o.should_stop = NULL;
    o.arg = NULL;
  }

  /* Bad input. */
  AlsOptions bad = o;
  bad.cg_steps = 0;
  CHECK(als_check_options(&bad) && strstr(als_check_options(&bad), "\"cg_steps\""));
  CHECK(als_fit(&dt.r, &bad, x, y, NULL) == ALS_BADARG);
  bad = o;
  bad.alpha = NAN;
  CHECK(als_check_options(&bad) && strstr(als_check_options(&bad), "\"alpha\""));
  bad = o;
  bad.dim = 0;
  CHECK(als_check_options(&bad) && strstr(als_check_options(&bad), "\"dim\""));
  bad = o;
  bad.regularization = -1;
  CHECK(als_check_options(&bad) && strstr(als_check_options(&bad), "\"regularization\""));
  memcpy(x, x0, sizeof(float) * dt.users * d);
  dt.r.val[0] = -1.0f;
  CHECK(als_fit(&dt.r, &o, x, y, NULL) == ALS_BADARG);
  CHECK(memcmp(x, x0, sizeof(float) * dt.users * d) == 0);
  dt.r.val[0] = NAN;
  CHECK(als_fit(&dt.r, &o, x, y, NULL) == ALS_BADARG);

  free(x);
  free(y);
  free(x0);
  free(y0);
  free(ex);
  free(ey);
  data_free(&dt);
  return check_report();
}
