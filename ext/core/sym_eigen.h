/*
** sym_eigen.h - eigendecomposition of small symmetric matrices in double
** (LAPACK dsyevd, as OpenBLAS exports it), with the workspace kept for
** repeated calls.  No SQLite.
**
** Contract: sym_eigen(e, a) takes the n x n symmetric a (row- or
** column-major: the same matrix), puts the eigenvalues in e->lambda in
** ascending order and overwrites a so that eigenvector k is a[k n + i],
** i = 0 .. n-1 (orthonormal).  Returns 0, or -1 when LAPACK fails (a
** non-finite entry).
*/
#ifndef SEMIPERSO_SYM_EIGEN_H
#define SEMIPERSO_SYM_EIGEN_H

typedef struct {
  int n, lwork, liwork;
  double *lambda, *work;
  int *iwork;
} SymEigen;

/* 0, or -1 when memory runs out (sym_eigen_free is still safe). */
int sym_eigen_alloc(SymEigen *e, int n);
void sym_eigen_free(SymEigen *e);
int sym_eigen(SymEigen *e, double *a);

#endif
