/* blas_check.c - sgemm and sgemv against a double-precision reference (see blas_check.h). */
#include "blas_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define UNIT_ROUNDOFF 5.9604644775390625e-08 /* 2^-24 */
#define CHECK_RNG_STREAM 0x626c6173u         /* "blas" */

typedef struct {
  char order, ta, tb; /* 'R'ow or 'C'olumn major; 'N' or 'T' */
  int m, n, k;
  float alpha, beta;
  int pad; /* extra leading dimension */
} GemmCase;

/* The shapes every kernel must get right (see blas_check.h). */
static const GemmCase gemm_cases[] = {
    {'R', 'N', 'N', 1, 1, 1, 1.0f, 0.0f, 0},
    {'R', 'N', 'T', 17, 31, 33, 1.0f, 0.0f, 0},    /* the network's forward form */
    {'R', 'T', 'N', 33, 65, 17, 1.0f, 0.0f, 0},    /* its weight gradients */
    {'R', 'N', 'N', 15, 16, 64, 1.0f, 1.0f, 0},    /* its input gradients, accumulated */
    {'R', 'T', 'T', 63, 5, 257, -0.5f, 2.0f, 3},
    {'C', 'N', 'N', 40, 17, 700, 1.0f, 0.0f, 0},   /* k past the usual cache block */
    {'R', 'N', 'T', 900, 5, 40, 1.0f, 0.0f, 0},    /* m past it */
    {'R', 'N', 'T', 3, 4100, 20, 1.0f, -1.0f, 1},  /* n past it */
    {'R', 'N', 'T', 20, 16, 50, 0.25f, 0.0f, 0},   /* small-matrix code paths */
    {'C', 'T', 'N', 31, 33, 16, 1.0f, 0.5f, 5},
    {'C', 'N', 'T', 2, 63, 1, 1.0f, 0.0f, 2},
};

typedef struct {
  char order, ta;
  int m, n; /* A is m x n */
  float alpha, beta;
  int incx, incy;
} GemvCase;

static const GemvCase gemv_cases[] = {
    {'R', 'N', 37, 129, 1.0f, 1.0f, 1, 1}, /* the one-user first layer */
    {'R', 'T', 129, 37, 1.0f, 0.0f, 1, 2},
    {'C', 'N', 16, 17, -2.0f, 0.5f, 2, 1},
};

/* Offset of element (r, c) of a matrix stored in this order. */
static size_t at(char order, int r, int c, int ld) {
  return order == 'R' ? (size_t)r * (size_t)ld + (size_t)c : (size_t)r + (size_t)c * (size_t)ld;
}

/* Steps between (r, c) and (r + 1, c), and (r, c + 1), of op(M), the
** matrix M stored in this order (transposed when trans is 'T'). */
static void steps(char order, char trans, int ld, size_t *row_step, size_t *col_step) {
  size_t across = order == 'R' ? 1 : (size_t)ld, down = order == 'R' ? (size_t)ld : 1;
  *row_step = trans == 'N' ? down : across;
  *col_step = trans == 'N' ? across : down;
}

/* n floats uniform in [-1, 1), malloc'd; NULL when memory fails. */
static float *random_floats(Rng *rng, size_t n) {
  float *x = malloc(n * sizeof *x);
  for (size_t i = 0; x && i < n; i++) x[i] = (float)(2.0 * rng_uniform(rng) - 1.0);
  return x;
}

static const char *order_name(char o) { return o == 'R' ? "RowMajor" : "ColMajor"; }
static const char *trans_name(char t) { return t == 'N' ? "NoTrans" : "Trans"; }

/* 1 when |got - ref| exceeds bound (or is NaN); tracks the worst ratio. */
static int exceeds(BlasCheck *rep, double got, double ref, double bound) {
  double err = fabs(got - ref), ratio = err / (bound + 1e-30);
  if (!(ratio <= rep->worst)) rep->worst = isnan(ratio) ? INFINITY : ratio;
  return !(ratio <= 1.0);
}

static int check_gemm(BlasSgemm sgemm, const GemmCase *g, Rng *rng, BlasCheck *rep) {
  char o = g->order;
  int ar = g->ta == 'N' ? g->m : g->k, ac = g->ta == 'N' ? g->k : g->m;
  int br = g->tb == 'N' ? g->k : g->n, bc = g->tb == 'N' ? g->n : g->k;
  int lda = (o == 'R' ? ac : ar) + g->pad, ldb = (o == 'R' ? bc : br) + g->pad;
  int ldc = (o == 'R' ? g->n : g->m) + g->pad;
  size_t na = (size_t)lda * (size_t)(o == 'R' ? ar : ac);
  size_t nb = (size_t)ldb * (size_t)(o == 'R' ? br : bc);
  size_t nc = (size_t)ldc * (size_t)(o == 'R' ? g->m : g->n);
  float *a = random_floats(rng, na), *b = random_floats(rng, nb);
  float *c0 = random_floats(rng, nc), *c = malloc(nc * sizeof *c);
  int rc = -1;
  if (a == NULL || b == NULL || c == NULL || c0 == NULL) goto done;
  for (int i = 0; i < g->m; i++) {
    for (int j = 0; j < g->n && g->beta == 0.0f; j++) c0[at(o, i, j, ldc)] = NAN;
  }
  memcpy(c, c0, nc * sizeof *c);
  sgemm(o == 'R' ? CblasRowMajor : CblasColMajor, g->ta == 'N' ? CblasNoTrans : CblasTrans,
        g->tb == 'N' ? CblasNoTrans : CblasTrans, g->m, g->n, g->k, g->alpha, a, lda, b, ldb,
        g->beta, c, ldc);
  rep->products++;
  size_t a_i, a_l, b_l, b_j;
  steps(o, g->ta, lda, &a_i, &a_l);
  steps(o, g->tb, ldb, &b_l, &b_j);
  rc = 0;
  for (int i = 0; i < g->m && rc == 0; i++) {
    for (int j = 0; j < g->n && rc == 0; j++) {
      double sum = 0.0, mag = 0.0;
      const float *x = a + (size_t)i * a_i, *y = b + (size_t)j * b_j;
      for (int l = 0; l < g->k; l++) {
        double xy = (double)x[(size_t)l * a_l] * (double)y[(size_t)l * b_l];
        sum += xy;
        mag += fabs(xy);
      }
      double c_in = g->beta == 0.0f ? 0.0 : c0[at(o, i, j, ldc)];
      double ref = g->alpha * sum + g->beta * c_in;
      double bound = (g->k + 2) * UNIT_ROUNDOFF * (fabs(g->alpha) * mag + fabs(g->beta * c_in));
      float got = c[at(o, i, j, ldc)];
      if ((rc = exceeds(rep, got, ref, bound)) != 0) {
        snprintf(rep->failure, sizeof rep->failure,
                 "sgemm %s %s/%s m=%d n=%d k=%d: C[%d][%d] = %.9g, reference %.9g",
                 order_name(o), trans_name(g->ta), trans_name(g->tb), g->m, g->n, g->k, i, j,
                 got, ref);
      }
    }
  }
  /* The leading-dimension padding is not part of C: it must be as it was. */
  for (size_t p = 0; p < nc && rc == 0; p++) {
    size_t inner = p % (size_t)ldc;
    if (inner < (size_t)(o == 'R' ? g->n : g->m)) continue;
    if (memcmp(&c[p], &c0[p], sizeof *c) != 0) {
      snprintf(rep->failure, sizeof rep->failure,
               "sgemm %s %s/%s m=%d n=%d k=%d wrote outside C (offset %zu)", order_name(o),
               trans_name(g->ta), trans_name(g->tb), g->m, g->n, g->k, p);
      rc = 1;
    }
  }
done:
  free(a);
  free(b);
  free(c);
  free(c0);
  return rc;
}

static int check_gemv(BlasSgemv sgemv, const GemvCase *g, Rng *rng, BlasCheck *rep) {
  char o = g->order;
  int lda = o == 'R' ? g->n : g->m;
  int nx = g->ta == 'N' ? g->n : g->m, ny = g->ta == 'N' ? g->m : g->n;
  size_t na = (size_t)lda * (size_t)(o == 'R' ? g->m : g->n);
  size_t sx = (size_t)nx * (size_t)g->incx, sy = (size_t)ny * (size_t)g->incy;
  float *a = random_floats(rng, na), *x = random_floats(rng, sx);
  float *y0 = random_floats(rng, sy), *y = malloc(sy * sizeof *y);
  int rc = -1;
  if (a == NULL || x == NULL || y == NULL || y0 == NULL) goto done;
  for (int i = 0; i < ny && g->beta == 0.0f; i++) y0[(size_t)i * (size_t)g->incy] = NAN;
  memcpy(y, y0, sy * sizeof *y);
  sgemv(o == 'R' ? CblasRowMajor : CblasColMajor, g->ta == 'N' ? CblasNoTrans : CblasTrans,
        g->m, g->n, g->alpha, a, lda, x, g->incx, g->beta, y, g->incy);
  rep->products++;
  rc = 0;
  size_t a_i, a_l;
  steps(o, g->ta, lda, &a_i, &a_l);
  for (int i = 0; i < ny && rc == 0; i++) {
    double sum = 0.0, mag = 0.0;
    for (int l = 0; l < nx; l++) {
      double ax = (double)a[(size_t)i * a_i + (size_t)l * a_l] *
                  (double)x[(size_t)l * (size_t)g->incx];
      sum += ax;
      mag += fabs(ax);
    }
    size_t p = (size_t)i * (size_t)g->incy;
    double y_in = g->beta == 0.0f ? 0.0 : y0[p];
    double ref = g->alpha * sum + g->beta * y_in;
    double bound = (nx + 2) * UNIT_ROUNDOFF * (fabs(g->alpha) * mag + fabs(g->beta * y_in));
    if ((rc = exceeds(rep, y[p], ref, bound)) != 0) {
      snprintf(rep->failure, sizeof rep->failure,
               "sgemv %s %s m=%d n=%d: y[%d] = %.9g, reference %.9g", order_name(o),
               trans_name(g->ta), g->m, g->n, i, y[p], ref);
    }
  }
  for (size_t p = 0; p < sy && rc == 0; p++) {
    if (p % (size_t)g->incy != 0 && memcmp(&y[p], &y0[p], sizeof *y) != 0) {
      snprintf(rep->failure, sizeof rep->failure,
               "sgemv %s %s m=%d n=%d wrote between elements of y", order_name(o),
               trans_name(g->ta), g->m, g->n);
      rc = 1;
    }
  }
done:
  free(a);
  free(x);
  free(y);
  free(y0);
  return rc;
}

int blas_check(BlasSgemm sgemm, BlasSgemv sgemv, BlasCheck *report) {
  memset(report, 0, sizeof *report);
  Rng rng;
  rng_seed(&rng, 1, CHECK_RNG_STREAM);
  for (size_t i = 0; i < sizeof gemm_cases / sizeof *gemm_cases; i++) {
    int rc = check_gemm(sgemm, &gemm_cases[i], &rng, report);
    if (rc != 0) return rc;
  }
  for (size_t i = 0; i < sizeof gemv_cases / sizeof *gemv_cases; i++) {
    int rc = check_gemv(sgemv, &gemv_cases[i], &rng, report);
    if (rc != 0) return rc;
  }
  return 0;
}
