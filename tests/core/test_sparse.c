/* test_sparse.c - CSR from triplets, transpose and sparse x dense product,
** each against the same matrix written out densely. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rng.h"
#include "sparse.h"

#define ROWS 37
#define COLS 23

int main(void) {
  /* Random triplets, many repeated (row, col) pairs, in random order. */
  Rng r;
  rng_seed(&r, 11, 0);
  enum { N = 400 };
  int32_t row[N], col[N];
  float val[N];
  static double dense[ROWS][COLS];
  static int present[ROWS][COLS];
  for (int k = 0; k < N; k++) {
    row[k] = (int32_t)rng_below(&r, ROWS);
    col[k] = (int32_t)rng_below(&r, COLS / 2) * 2; /* odd columns stay empty */
    val[k] = (float)(rng_below(&r, 9) + 1);        /* small integers: exact sums */
    dense[row[k]][col[k]] += val[k];
    present[row[k]][col[k]] = 1;
  }
  SparseMatrix a, t;
  CHECK(sparse_from_coo(ROWS, COLS, N, row, col, val, &a) == SPARSE_OK);
  CHECK(a.rows == ROWS && a.cols == COLS && a.start[0] == 0 && a.start[ROWS] == a.nnz);
  int64_t distinct = 0;
  for (int i = 0; i < ROWS; i++)
    for (int j = 0; j < COLS; j++) distinct += present[i][j];
  CHECK(a.nnz == distinct);
  int sorted = 1, values = 1;
  for (int i = 0; i < ROWS; i++)
    for (int64_t k = a.start[i]; k < a.start[i + 1]; k++) {
      if (k > a.start[i]) sorted &= a.col[k] > a.col[k - 1];
      values &= present[i][a.col[k]] && a.val[k] == (float)dense[i][a.col[k]];
    }
  CHECK(sorted);
  CHECK(values);

  /* The same triplets already in (row, column) order, duplicates kept
  ** (the path that skips sorting): the same matrix. */
  {
    int32_t srow[N], scol[N];
    float sval[N];
    int m = 0;
    for (int i = 0; i < ROWS; i++)
      for (int j = 0; j < COLS; j++)
        for (int k = 0; k < N; k++)
          if (row[k] == i && col[k] == j) {
            srow[m] = i;
            scol[m] = j;
            sval[m++] = val[k];
          }
    SparseMatrix b;
    CHECK(m == N && sparse_from_coo(ROWS, COLS, N, srow, scol, sval, &b) == SPARSE_OK);
    CHECK(b.nnz == a.nnz && memcmp(b.start, a.start, sizeof(int64_t) * (ROWS + 1)) == 0 &&
          memcmp(b.col, a.col, sizeof(int32_t) * a.nnz) == 0 &&
          memcmp(b.val, a.val, sizeof(float) * a.nnz) == 0);
    sparse_free(&b);
  }

  CHECK(sparse_transpose(&a, &t) == SPARSE_OK);
  CHECK(t.rows == COLS && t.cols == ROWS && t.nnz == a.nnz);
  int t_ok = 1;
  for (int j = 0; j < COLS; j++)
    for (int64_t k = t.start[j]; k < t.start[j + 1]; k++) {
      if (k > t.start[j]) t_ok &= t.col[k] > t.col[k - 1];
      t_ok &= t.val[k] == (float)dense[t.col[k]][j];
    }
  for (int j = 1; j < COLS; j += 2) t_ok &= t.start[j] == t.start[j + 1];
  CHECK(t_ok);

  /* y = a x against the dense product, row range by row range. */
  enum { K = 5 };
  float x[COLS * K], y[ROWS * K];
  for (int k = 0; k < COLS * K; k++) x[k] = (float)rng_normal(&r);
  sparse_mul_dense(&a, x, K, y, 0, 10);
  sparse_mul_dense(&a, x, K, y, 10, ROWS);
  double worst = 0;
  for (int i = 0; i < ROWS; i++)
    for (int c = 0; c < K; c++) {
      double want = 0;
      for (int j = 0; j < COLS; j++) want += dense[i][j] * x[j * K + c];
      double err = fabs(want - y[i * K + c]);
      if (err > worst) worst = err;
    }
  CHECK_NEAR(worst, 0, 1e-4);
  sparse_free(&t);
  sparse_free(&a);

  /* Pattern only (val NULL): duplicates count. */
  int32_t pr[3] = {1, 1, 0}, pc[3] = {2, 2, 0};
  CHECK(sparse_from_coo(2, 3, 3, pr, pc, NULL, &a) == SPARSE_OK);
  CHECK(a.nnz == 2 && a.val[0] == 1.0f && a.val[1] == 2.0f && a.col[1] == 2);
  sparse_free(&a);

  /* Bad input leaves an empty matrix. */
  int32_t bad_col[1] = {COLS};
  int32_t zero[1] = {0};
  CHECK(sparse_from_coo(ROWS, COLS, 1, zero, bad_col, NULL, &a) == SPARSE_BADARG);
  CHECK(a.start == NULL && a.nnz == 0);
  CHECK(sparse_from_coo(-1, COLS, 0, zero, zero, NULL, &a) == SPARSE_BADARG);
  /* Empty matrices are fine. */
  CHECK(sparse_from_coo(0, 0, 0, zero, zero, NULL, &a) == SPARSE_OK && a.nnz == 0);
  CHECK(sparse_transpose(&a, &t) == SPARSE_OK && t.rows == 0);
  sparse_free(&a);
  sparse_free(&t);
  return check_report();
}
