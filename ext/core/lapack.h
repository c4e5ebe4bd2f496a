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

/* Cholesky factor of a symmetric positive definite matrix: with uplo "U",
** a = U^T U and U overwrites the upper triangle (column-major).  info > 0:
** not positive definite. */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info,
             size_t uplo_len);

/* Inverse of a triangular matrix in place (uplo "U": upper; diag "N":
** non-unit).  info > 0: singular. */
void dtrtri_(const char *uplo, const char *diag, const int *n, double *a, const int *lda,
             int *info, size_t uplo_len, size_t diag_len);

#endif
