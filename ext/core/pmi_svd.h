/*
** pmi_svd.h - item vectors from item co-occurrences in collections (e.g.
** tracks in playlists): a shifted positive PMI matrix factorised by a
** truncated SVD, the TT-SVD space of the paper (Section 3.1.2, after Levy
** & Goldberg 2014).  No SQLite.
**
** Contract, for a collections x items incidence matrix A (sparse.h; the
** values are ignored, repeated pairs count once):
**  - counts: #(i, j) = number of collections holding both i and j, for
**    i != j (symmetric, zero diagonal), computed row by row as A^T A
**    without the diagonal; never a dense items x items array.
**  - PMI: with #(i) = sum_j #(i, j) and D = sum_i #(i),
**      PMI(i, j) = log(#(i, j) D / (#(i) #(j))),
**    and the shifted positive PMI kept: max(PMI(i, j) - log(shift), 0)
**    (shift = Levy & Goldberg's k; 1 gives the plain positive PMI).  Zero
**    entries are dropped, so the matrix stays as sparse as the counts.
**  - vectors: the truncated SVD U diag(sigma) V^T of that symmetric matrix
**    (rsvd.h), item i's vector = row i of U diag(sigma^power).  power 0.5
**    is the symmetric split Levy & Goldberg found best for word
**    similarity (their SVD_1/2); 1 gives U Sigma, 0 the bare U.
** An item whose PMI row is empty (it shares no collection with another
** item, or none above the shift) gets a zero vector.  Items are numbered
** internally by first collection, which keeps the sparse products in
** cache; the result does not depend on it beyond rounding.
** Deterministic: a pure function of (A, options) for any thread count.
** The SVD defaults are scikit-learn's randomized_svd ones (oversampling
** 10, 4 power iterations for a rank under a tenth of the size).  On the
** synthetic playlists (50 000 tracks, a flat spectrum: sigma_1 / sigma_128
** about 3) they give singular values within 8 % (3 % on average) of a
** converged run; 8 power iterations, within 3.6 % (1 %).
*/
#ifndef SEMIPERSO_PMI_SVD_H
#define SEMIPERSO_PMI_SVD_H

#include <stdint.h>

#include "sparse.h"

enum {
  PMI_SVD_OK = 0,
  PMI_SVD_NOMEM = -1,   /* memory or threads could not be had */
  PMI_SVD_ABORTED = -2, /* should_stop or progress returned nonzero */
  PMI_SVD_BADARG = -3,  /* options (pmi_svd_check_options) or dim > items */
  PMI_SVD_EMPTY = -4,   /* no positive PMI entry: no two items co-occur */
  PMI_SVD_NUMERIC = -5  /* LAPACK failed */
};

typedef struct {
  int dim;              /* vector length, 1..4096 and <= items (128) */
  int oversampling;     /* extra range columns, 0..4096 (10) */
  int power_iterations; /* 0..100 (4) */
  double shift;         /* >= 1 (1) */
  double power;         /* sigma exponent, 0..4 (0.5) */
  uint64_t seed;        /* the random range (0) */
  int threads;          /* 0: one per online CPU; else 1..64 */
  /* Optional, as in rsvd.h: polled between passes, reported after each
  ** of the SVD's passes (pass 1 .. passes).  Nonzero aborts. */
  int (*should_stop)(void *arg);
  int (*progress)(void *arg, int pass, int passes);
  void *arg;
} PmiSvdOptions;

typedef struct {
  int64_t cooccurrences; /* stored (i, j) pairs with #(i, j) > 0 */
  int64_t pmi_entries;   /* of them, with a positive shifted PMI */
  double flops;          /* single-precision operations of the SVD */
} PmiSvdResult;

/* The defaults in parentheses above. */
void pmi_svd_default_options(PmiSvdOptions *o);

/* NULL when o is usable, else a static message naming the bad option. */
const char *pmi_svd_check_options(const PmiSvdOptions *o);

/* *counts = the items x items co-occurrence counts of the collections x
** items a.  PMI_SVD_OK, PMI_SVD_NOMEM or PMI_SVD_BADARG (threads). */
int pmi_cooccurrence(const SparseMatrix *a, int threads, SparseMatrix *counts);

/* *pmi = the shifted positive PMI of the counts (shift >= 1). */
int pmi_shifted_positive(const SparseMatrix *counts, double shift, SparseMatrix *pmi);

/* The whole chain from collections to vectors: vectors (a->cols x dim,
** row-major) and sigma (dim, decreasing).  res optional. */
int pmi_svd_fit(const SparseMatrix *a, const PmiSvdOptions *o, float *vectors, float *sigma,
                PmiSvdResult *res);

#endif
