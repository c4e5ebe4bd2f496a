/* sparse.c - compressed sparse rows: building, transposing, products
** (see sparse.h). */
/* The row update of sparse_mul_dense is a plain loop; -O2 leaves it
** scalar, O3 vectorises it. */
#pragma GCC optimize("O3")
#include "sparse.h"

#include <stdlib.h>
#include <string.h>

void sparse_free(SparseMatrix *a) {
  free(a->start);
  free(a->col);
  free(a->val);
  memset(a, 0, sizeof *a);
}

/* Arrays for rows x cols with room for nnz entries. */
static int sparse_alloc(SparseMatrix *a, int32_t rows, int32_t cols, int64_t nnz) {
  memset(a, 0, sizeof *a);
  a->rows = rows;
  a->cols = cols;
  a->start = calloc((size_t)rows + 1, sizeof *a->start);
  a->col = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof *a->col);
  a->val = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof *a->val);
  if (!a->start || !a->col || !a->val) {
    sparse_free(a);
    return SPARSE_NOMEM;
  }
  return SPARSE_OK;
}

/* Counting sort: start[0..n] = offsets of each key's bucket in a stable
** order (start[key] advanced by the caller as it places entries). */
static void bucket_offsets(int64_t *start, int32_t n_keys, const int32_t *key,
                           int64_t n) {
  memset(start, 0, ((size_t)n_keys + 1) * sizeof *start);
  for (int64_t k = 0; k < n; k++) start[key[k] + 1]++;
  for (int32_t b = 0; b < n_keys; b++) start[b + 1] += start[b];
}

int sparse_from_coo(int32_t rows, int32_t cols, int64_t n, const int32_t *row,
                    const int32_t *col, const float *val, SparseMatrix *a) {
  memset(a, 0, sizeof *a);
  if (rows < 0 || cols < 0 || n < 0) return SPARSE_BADARG;
  int sorted = 1;
  for (int64_t k = 0; k < n; k++) {
    if (row[k] < 0 || row[k] >= rows || col[k] < 0 || col[k] >= cols)
      return SPARSE_BADARG;
    if (k > 0 && (row[k] < row[k - 1] || (row[k] == row[k - 1] && col[k] < col[k - 1])))
      sorted = 0;
  }
  /* Triplets already in (row, column) order (a table read in its natural
  ** order often is) go in as they come; others are sorted by column
  ** first, then stably by row.  Either way rows come out with increasing
  ** columns and duplicates adjacent, in input order. */
  int64_t *by_col = sorted ? NULL : malloc((size_t)(n > 0 ? n : 1) * sizeof *by_col);
  int64_t *cstart = sorted ? NULL : malloc(((size_t)cols + 1) * sizeof *cstart);
  int rc = sorted || (by_col && cstart) ? sparse_alloc(a, rows, cols, n) : SPARSE_NOMEM;
  if (rc == SPARSE_OK && sorted) {
    bucket_offsets(a->start, rows, row, n);
    for (int64_t k = 0; k < n; k++) {
      a->col[k] = col[k];
      a->val[k] = val ? val[k] : 1.0f;
    }
    for (int32_t r = 0; r < rows; r++) a->start[r] = a->start[r + 1];
  } else if (rc == SPARSE_OK) {
    bucket_offsets(cstart, cols, col, n);
    for (int64_t k = 0; k < n; k++) by_col[cstart[col[k]]++] = k;
    bucket_offsets(a->start, rows, row, n);
    /* a->start[r] runs ahead as row r fills. */
    for (int64_t q = 0; q < n; q++) {
      int64_t k = by_col[q], at = a->start[row[k]]++;
      a->col[at] = col[k];
      a->val[at] = val ? val[k] : 1.0f;
    }
  }
  if (rc == SPARSE_OK) {
    /* Now start[r] is the end of row r; merge duplicates row by row. */
    int64_t out = 0, begin = 0;
    for (int32_t r = 0; r < rows; r++) {
      int64_t end = a->start[r];
      a->start[r] = out;
      for (int64_t k = begin; k < end; k++) {
        if (out > a->start[r] && a->col[out - 1] == a->col[k]) {
          a->val[out - 1] += a->val[k];
        } else {
          a->col[out] = a->col[k];
          a->val[out++] = a->val[k];
        }
      }
      begin = end;
    }
    a->start[rows] = out;
    a->nnz = out;
  }
  free(by_col);
  free(cstart);
  return rc;
}

int sparse_transpose(const SparseMatrix *a, SparseMatrix *t) {
  if (sparse_alloc(t, a->cols, a->rows, a->nnz) != SPARSE_OK) return SPARSE_NOMEM;
  bucket_offsets(t->start, t->rows, a->col, a->nnz);
  for (int32_t r = 0; r < a->rows; r++)
    for (int64_t k = a->start[r]; k < a->start[r + 1]; k++) {
      int64_t at = t->start[a->col[k]]++;
      t->col[at] = r;
      t->val[at] = a->val[k];
    }
  /* Each start[c] now holds the end of row c: shift back by one row. */
  memmove(t->start + 1, t->start, (size_t)t->rows * sizeof *t->start);
  t->start[0] = 0;
  t->nnz = a->nnz;
  return SPARSE_OK;
}

void sparse_mul_dense(const SparseMatrix *a, const float *x, int k, float *y,
                      int32_t r0, int32_t r1) {
  for (int32_t r = r0; r < r1; r++) {
    float *restrict out = y + (size_t)r * k;
    memset(out, 0, (size_t)k * sizeof *out);
    for (int64_t e = a->start[r]; e < a->start[r + 1]; e++) {
      const float *restrict in = x + (size_t)a->col[e] * k;
      const float v = a->val[e];
      for (int j = 0; j < k; j++) out[j] += v * in[j];
    }
  }
}
