/*
** rsvd.h - truncated SVD of a sparse symmetric matrix by randomized range
** finding with power iterations (Halko, Martinsson & Tropp 2011,
** Algorithms 4.4 and 5.3).  No SQLite; no dense n x n matrix, ever.
**
** Contract, for the n x n symmetric m (sparse.h) and l = rank +
** oversampling (at most n):
**  1. Omega: n x l standard normal draws (rng.h stream RSVD_RNG_STREAM of
**     the seed); Q = orth(m Omega).
**  2. power_iterations times, m m^T = m^2 applied and the result
**     re-orthonormalised: Q = orth(m (m Q)).
**  3. B = Q^T m Q (l x l, symmetrised), eigendecomposed in double (LAPACK
**     dsyevd): B = W diag(lambda) W^T.
**  4. The rank eigenpairs of largest |lambda| give the truncated SVD:
**     sigma_k = |lambda_k| in decreasing order, left singular vectors
**     u_k = Q w_k (the right ones are sign(lambda_k) u_k).  Each u_k is
**     turned so that its entry of largest magnitude is positive.
** orth() is the eigenvalue variant of Cholesky QR (SVQB, Stathopoulos &
** Wu 2002), repeated until orthonormal (two rounds, up to four for a badly
** conditioned basis): y = y V Lambda^-1/2 from y^T y = V Lambda V^T, the
** Gram matrices as float products of row chunks summed in double, their
** eigenvectors in double.  Every heavy step is an sgemm (Householder QR
** would run level-2 panels, seconds on 50 000 x 138 here).  A direction
** numerically absent from the range (m of rank below l) becomes a zero
** column, so u may then hold zero columns with sigma 0; otherwise its
** columns are orthonormal to float precision.  The work is split into
** fixed row chunks among the caller's threads (OpenBLAS's own thread
** setting is left as it is), and every partial sum is added in a
** fixed order, so results are bit-identical for any thread count (OpenBLAS's
** own fixed) and a
** pure function of (m, options).
** Accuracy: the error of the computed range shrinks like
** (sigma_{l+1} / sigma_rank)^(2 power_iterations + 1), so a few power
** iterations suffice unless the spectrum is flat.
*/
#ifndef SEMIPERSO_RSVD_H
#define SEMIPERSO_RSVD_H

#include <stdint.h>

#include "sparse.h"

#define RSVD_RNG_STREAM 0x72737664ULL /* "rsvd" */

enum {
  RSVD_OK = 0,
  RSVD_NOMEM = -1,   /* memory or threads could not be had */
  RSVD_ABORTED = -2, /* should_stop or progress returned nonzero */
  RSVD_BADARG = -3,  /* not square, rank < 1 or > n, negative options */
  RSVD_NUMERIC = -4  /* LAPACK failed: non-finite values in m */
};

typedef struct {
  int rank;             /* singular triplets wanted, 1..n */
  int oversampling;     /* >= 0 extra columns of the range */
  int power_iterations; /* >= 0 */
  uint64_t seed;
  int threads;          /* 0: one per online CPU; else 1..64 */
  /* Both optional, called on the calling thread: should_stop between
  ** passes; progress after each pass (pass 1 .. passes, passes =
  ** power_iterations + 2: the range, each power iteration, the small
  ** eigenproblem).  Nonzero aborts. */
  int (*should_stop)(void *arg);
  int (*progress)(void *arg, int pass, int passes);
  void *arg;
} RsvdOptions;

/* Fills u (n x rank, row-major; orthonormal columns, or zero ones past the
** rank of m) and sigma (rank, decreasing).  flops (optional) receives the floating-point operations
** executed in single precision. */
int rsvd_symmetric(const SparseMatrix *m, const RsvdOptions *o, float *u, float *sigma,
                   double *flops);

#endif
