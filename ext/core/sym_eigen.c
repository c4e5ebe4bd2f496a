/* sym_eigen.c - small symmetric eigenproblems by LAPACK (see sym_eigen.h). */
#include "sym_eigen.h"

#include <stddef.h>
#include <stdlib.h>

/* LAPACK as OpenBLAS exports it: every argument by address, 32-bit
** integers, a hidden length after the arguments for each character one.
** Divide and conquer; lwork >= 1 + 6n + 2n^2, liwork >= 3 + 5n. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork,
             int *info, size_t jobz_len, size_t uplo_len);

int sym_eigen_alloc(SymEigen *e, int n) {
  e->n = n;
  e->lwork = 1 + 6 * n + 2 * n * n;
  e->liwork = 3 + 5 * n;
  e->lambda = malloc((size_t)n * sizeof *e->lambda);
  e->work = malloc((size_t)e->lwork * sizeof *e->work);
  e->iwork = malloc((size_t)e->liwork * sizeof *e->iwork);
  return e->lambda && e->work && e->iwork ? 0 : -1;
}

void sym_eigen_free(SymEigen *e) {
  free(e->lambda);
  free(e->work);
  free(e->iwork);
  e->lambda = e->work = NULL;
  e->iwork = NULL;
}

int sym_eigen(SymEigen *e, double *a) {
  int info = 0;
  dsyevd_("V", "U", &e->n, a, &e->n, e->lambda, e->work, &e->lwork, e->iwork, &e->liwork,
          &info, 1, 1);
  return info == 0 ? 0 : -1;
}
