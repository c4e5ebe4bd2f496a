/*
** blas_check.h - the correctness self-check of a BLAS: its sgemm and
** sgemv against a double-precision reference on a fixed set of products.
** Plain C11; no SQLite here.
**
** Contract:
**   blas_check(sgemm, sgemv, &report) runs every product of the set and
**   returns 0 when all pass, 1 when one fails (report->failure names the
**   first failing product and element), -1 when memory cannot be had.
**   The set covers what a kernel gets wrong at its edges: sizes of 1 and
**   around the usual register-block multiples (15, 16, 17, 31, 33, ...),
**   inner dimensions past the usual cache blocks, every transpose pair,
**   row and column major, leading dimensions wider than the matrix,
**   alpha != 1, beta 0 on an output full of NaN (beta = 0 must ignore it),
**   beta != 0, and the elements around C outside the product untouched.
**   An element passes when |c - ref| <= (k + 2) u (|alpha| sum|a||b| +
**   |beta c0|) with u = 2^-24: the classic bound of a float dot product of
**   length k in any summation order, so every correct kernel passes and a
**   wrong term (or a missed row, column or beta) fails by orders of
**   magnitude.  report->worst is the largest |error| / bound seen.
*/
#ifndef SEMIPERSO_BLAS_CHECK_H
#define SEMIPERSO_BLAS_CHECK_H

#include <cblas.h>

typedef void (*BlasSgemm)(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta,
                          enum CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
                          const float *a, int lda, const float *b, int ldb, float beta,
                          float *c, int ldc);
typedef void (*BlasSgemv)(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, int m, int n,
                          float alpha, const float *a, int lda, const float *x, int incx,
                          float beta, float *y, int incy);

typedef struct {
  int products; /* products run */
  double worst; /* largest |error| / bound */
  char failure[160];
} BlasCheck;

int blas_check(BlasSgemm sgemm, BlasSgemv sgemv, BlasCheck *report);

#endif
