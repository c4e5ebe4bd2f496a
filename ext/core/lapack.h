/*
** lapack.h - the LAPACK routines the numeric core calls, as OpenBLAS
** exports them (Fortran calling convention: every argument by address,
** 32-bit integers, and a hidden length after the arguments for each
** character argument).  No SQLite.
*/
#ifndef SEMIPERSO_LAPACK_H
#define SEMIPERSO_LAPACK_H

#include <stddef.h>

/* Eigenvalues (ascending, in w) and, with jobz "V", orthonormal
** eigenvectors (columns of a, column-major) of a symmetric matrix;
** divide and conquer.  work: lwork >= 1 + 6n + 2n^2 doubles, iwork:
** liwork >= 3 + 5n ints.  info 0 on success. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork,
             int *info, size_t jobz_len, size_t uplo_len);

#endif
