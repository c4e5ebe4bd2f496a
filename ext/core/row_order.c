/* row_order.c - rows and columns ordered so that neighbours share entries
** (see row_order.h). */
#include "row_order.h"

#include <math.h>
#include <stdlib.h>

#include "rng.h"

#define ROW_ORDER_RNG_STREAM 0x726f776f72ULL /* "rowor" */
#define DIMS 4 /* the leading (degree) direction and the 3 kept */
#define GRID 8 /* quantile cells per kept coordinate */

/* y = D_r^-1/2 A D_c^-1/2 x for the binary pattern A of a (a->rows x
** a->cols); x is a->cols x DIMS, y a->rows x DIMS; scale_r, scale_c hold
** the D^-1/2 (0 for an empty row or column).  The rows of D_c^-1/2 x are
** gathered from all over: they go to scaled (a->cols x DIMS) as floats
** first, half the bytes to fetch (the order needs no more precision). */
static void normalized_product(const SparseMatrix *a, const double *scale_r,
                               const double *scale_c, const double *x, float *scaled,
                               double *y) {
  for (int64_t k = 0; k < (int64_t)a->cols * DIMS; k++)
    scaled[k] = (float)(scale_c[k / DIMS] * x[k]);
  for (int32_t i = 0; i < a->rows; i++) {
    double acc[DIMS] = {0};
    for (int64_t k = a->start[i]; k < a->start[i + 1]; k++) {
      const float *xs = scaled + (size_t)a->col[k] * DIMS;
      for (int c = 0; c < DIMS; c++) acc[c] += xs[c];
    }
    for (int c = 0; c < DIMS; c++) y[(size_t)i * DIMS + c] = scale_r[i] * acc[c];
  }
}

/* Modified Gram-Schmidt on the DIMS columns of v (n x DIMS); a column
** that vanishes stays 0. */
static void orthonormalize(double *v, int64_t n) {
  for (int c = 0; c < DIMS; c++) {
    for (int b = 0; b < c; b++) {
      double dot = 0;
      for (int64_t i = 0; i < n; i++) dot += v[i * DIMS + b] * v[i * DIMS + c];
      for (int64_t i = 0; i < n; i++) v[i * DIMS + c] -= dot * v[i * DIMS + b];
    }
    double norm = 0;
    for (int64_t i = 0; i < n; i++) norm += v[i * DIMS + c] * v[i * DIMS + c];
    if (norm > 0) {
      norm = 1 / sqrt(norm);
      for (int64_t i = 0; i < n; i++) v[i * DIMS + c] *= norm;
    }
  }
}

static void inverse_sqrt_degrees(const SparseMatrix *a, double *scale) {
  for (int32_t i = 0; i < a->rows; i++) {
    int64_t degree = a->start[i + 1] - a->start[i];
    scale[i] = degree > 0 ? 1 / sqrt((double)degree) : 0;
  }
}

typedef struct {
  int64_t key;
  double value;
  int32_t index;
} Entry;

/* By key, then value, then index: a total order, so qsort's result is
** unique. */
static int by_key(const void *pa, const void *pb) {
  const Entry *a = pa, *b = pb;
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  if (a->value != b->value) return a->value < b->value ? -1 : 1;
  return (a->index > b->index) - (a->index < b->index);
}

/* order = 0 .. n-1 by snake-ordered grid cell of the kept coordinates
** (columns 1 .. DIMS-1 of u, times scale), then by the last coordinate. */
static void order_by_cells(const double *u, const double *scale, int32_t n, Entry *e,
                           int64_t *cell, int32_t *order) {
  for (int c = 1; c < DIMS; c++) {
    for (int32_t i = 0; i < n; i++) e[i] = (Entry){0, u[(size_t)i * DIMS + c] * scale[i], i};
    qsort(e, (size_t)n, sizeof *e, by_key);
    for (int32_t p = 0; p < n; p++) {
      const int64_t bucket = (int64_t)p * GRID / n, i = e[p].index;
      /* Snake: every other cell of the coarser coordinates runs backwards. */
      cell[i] = c == 1 ? bucket : cell[i] * GRID + (cell[i] % 2 ? GRID - 1 - bucket : bucket);
    }
  }
  for (int32_t i = 0; i < n; i++)
    e[i] = (Entry){cell[i], u[(size_t)i * DIMS + DIMS - 1] * scale[i], i};
  qsort(e, (size_t)n, sizeof *e, by_key);
  for (int32_t p = 0; p < n; p++) order[p] = e[p].index;
}

int row_order(const SparseMatrix *m, const SparseMatrix *mt, int32_t *rows, int32_t *cols,
              int (*should_stop)(void *arg), void *arg) {
  const int32_t most = m->rows > m->cols ? m->rows : m->cols;
  const size_t n = most > 0 ? (size_t)most : 1;
  double *u = malloc(n * DIMS * sizeof *u), *v = malloc(n * DIMS * sizeof *v);
  float *scaled = malloc(n * DIMS * sizeof *scaled);
  double *scale_r = malloc(n * sizeof *scale_r), *scale_c = malloc(n * sizeof *scale_c);
  Entry *e = malloc(n * sizeof *e);
  int64_t *cell = malloc(n * sizeof *cell);
  int rc = -1;
  if (u && v && scaled && scale_r && scale_c && e && cell) {
    inverse_sqrt_degrees(m, scale_r);
    inverse_sqrt_degrees(mt, scale_c);
    Rng r;
    rng_seed(&r, 0, ROW_ORDER_RNG_STREAM);
    for (int64_t k = 0; k < (int64_t)m->cols * DIMS; k++) v[k] = rng_normal(&r);
    rc = 0;
    for (int step = 0; rc == 0 && step <= ROW_ORDER_POWER_STEPS; step++) {
      if (should_stop && should_stop(arg)) rc = -2;
      else if (step < ROW_ORDER_POWER_STEPS) {
        normalized_product(m, scale_r, scale_c, v, scaled, u);
        normalized_product(mt, scale_c, scale_r, u, scaled, v);
        orthonormalize(v, m->cols);
      }
    }
    if (rc == 0) {
      normalized_product(m, scale_r, scale_c, v, scaled, u);
      orthonormalize(u, m->rows);
      order_by_cells(u, scale_r, m->rows, e, cell, rows);
      order_by_cells(v, scale_c, m->cols, e, cell, cols);
    }
  }
  free(u);
  free(v);
  free(scaled);
  free(scale_r);
  free(scale_c);
  free(e);
  free(cell);
  return rc;
}
