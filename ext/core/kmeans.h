/*
** kmeans.h - k-means on float32 rows with OpenBLAS.  No SQLite.
**
** Contract:
** - Initialisation is plain k-means++ (Arthur & Vassilvitskii 2007, one
**   candidate per step, not scikit-learn's 2 + log k greedy trials): the
**   first centre uniform, each next one drawn with probability proportional
**   to the squared distance to the nearest centre so far.  Draws come from
**   rng.h stream KMEANS_RNG_STREAM of the seed.
** - Lloyd iterations.  Distances use |x|^2 + |c|^2 - 2 x.c, the x.c part as
**   one sgemm per block of rows (scratch bounded to a few MiB whatever n
**   and k).  An empty cluster is re-seeded with the point farthest from
**   its own centroid (largest first, ties by smaller index).  Stops after
**   max_iter iterations or when no assignment changed.
** - The assignment is canonical: a point goes to the centroid at the
**   smallest squared distance sum_j (x_j - c_j)^2 evaluated in double
**   (kmeans_sqdist), ties by smaller centroid id.  sgemm only shortlists the
**   centroids within its rigorous rounding bound of the best (from the
**   row's norm and number of nonzeros and the largest centroid norm), a
**   shortlist of several is narrowed by double dot products within their
**   own bound, and what remains is decided exactly.  So kmeans_assign() on
**   one point gives the same id as the fit gave it, whatever the block,
**   batch or BLAS kernel.
** - Inertia is the sum of those exact distances, accumulated in double.
** - k-means++ applies new centres to the points' distances in batches (one
**   sgemm over the rows per batch); draws in between propose a point by the
**   batch's distances and accept it by rejection with its exact distance to
**   the centres not yet applied, so each centre is still drawn with
**   probability proportional to the squared distance to the nearest centre
**   so far.
** - Deterministic for a given seed and OPENBLAS_NUM_THREADS (sgemm's float
**   distances can steer a k-means++ draw).
*/
#ifndef SEMIPERSO_KMEANS_H
#define SEMIPERSO_KMEANS_H

#include <stdint.h>

#define KMEANS_RNG_STREAM 0x6b6d65616e73ULL /* "kmeans" */

enum {
  KMEANS_OK = 0,
  KMEANS_NOMEM = -1,   /* scratch could not be allocated */
  KMEANS_ABORTED = -2, /* should_stop() returned nonzero */
  KMEANS_BADARG = -3   /* k < 1, k > n, d < 1 or max_iter < 0 */
};

typedef struct {
  int k;
  int max_iter;
  uint64_t seed;
  /* Both optional.  should_stop is polled often (between blocks and
  ** initialisation steps); nonzero aborts the fit.  progress is called
  ** after the initial assignment (iteration 0, changed = n) and after each
  ** iteration; nonzero aborts too. */
  int (*should_stop)(void *arg);
  int (*progress)(void *arg, int iteration, double inertia, int64_t changed);
  void *arg;
} KmeansConfig;

typedef struct {
  int iterations; /* Lloyd iterations run (0 .. max_iter) */
  int converged;  /* 1 when the last iteration changed no assignment */
  double inertia; /* sum of squared distances to the final centroids */
  int64_t reseeded; /* empty clusters re-seeded, over all iterations */
} KmeansResult;

/* Fits k centroids (written to centroids, k x d) to the n x d rows of x.
** labels (n, optional) and sizes (k, optional) receive the final
** assignment, consistent with the final centroids. */
int kmeans_fit(const float *x, int64_t n, int d, const KmeansConfig *cfg,
               float *centroids, int32_t *labels, int64_t *sizes,
               KmeansResult *res);

/* |c|^2 of each of the k centroids, as kmeans_assign() wants them. */
void kmeans_centroid_norms(const float *c, int k, int d, float *cnorm);

/* The canonical nearest centroid of each of the n rows of x; dist
** (optional) gets the exact squared distance.  Returns KMEANS_OK or
** KMEANS_NOMEM. */
int kmeans_assign(const float *x, int64_t n, int d, const float *c,
                  const float *cnorm, int k, int32_t *labels, double *dist);

/* The exact squared distance used to decide assignments. */
double kmeans_sqdist(const float *a, const float *b, int d);

#endif
