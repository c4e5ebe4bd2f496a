/*
** sparse.h - sparse matrices in compressed sparse rows (CSR), the input of
** the factorisations (als.h, pmi_svd.h).  No SQLite.
**
** Contract:
** - Row r holds entries start[r] .. start[r + 1] - 1: column col[k] with
**   value val[k]; columns of a row are distinct and increasing.
** - sparse_from_coo() builds one from (row, column, value) triplets in any
**   order; triplets at the same (row, column) are summed in input order, so
**   the result is a pure function of the input sequence.
** - sparse_transpose() gives the transpose in the same form.
** - sparse_mul_dense() multiplies a range of rows by a dense matrix.
** All sizes fit the types below: rows and columns < 2^31, nnz < 2^62.
*/
#ifndef SEMIPERSO_SPARSE_H
#define SEMIPERSO_SPARSE_H

#include <stdint.h>

typedef struct {
  int32_t rows, cols;
  int64_t nnz;
  int64_t *start; /* rows + 1 */
  int32_t *col;   /* nnz */
  float *val;     /* nnz */
} SparseMatrix;

enum { SPARSE_OK = 0, SPARSE_NOMEM = -1, SPARSE_BADARG = -2 };

/* Builds *a (rows x cols) from the n triplets (row[k], col[k], val[k]);
** val NULL counts each triplet as 1.  SPARSE_BADARG when rows or cols is
** negative, n < 0, or an index is out of range; SPARSE_NOMEM when memory
** runs out.  On failure *a is left empty (sparse_free is still safe). */
int sparse_from_coo(int32_t rows, int32_t cols, int64_t n, const int32_t *row,
                    const int32_t *col, const float *val, SparseMatrix *a);

/* *t = transpose of a.  SPARSE_OK or SPARSE_NOMEM (then *t is empty). */
int sparse_transpose(const SparseMatrix *a, SparseMatrix *t);

/* Frees the arrays of a and empties it; a zeroed struct is fine. */
void sparse_free(SparseMatrix *a);

/* Rows [r0, r1) of y = a x, where x is a.cols x k and y a.rows x k, both
** row-major.  Each output row is summed over its entries in column order,
** so any split of the rows among threads gives the same bits. */
void sparse_mul_dense(const SparseMatrix *a, const float *x, int k, float *y,
                      int32_t r0, int32_t r1);

#endif
