/*
** kmeans.h - k-means on float32 rows with OpenBLAS.  No SQLite.
**
** Contract:
** - Initialisation is k-means++ seeding, greedy by default as in
**   scikit-learn: the first centre uniform; each next one the best of
**   2 + floor(ln k) candidates drawn with probability proportional to the
**   squared distance to the nearest centre so far, the one that leaves the
**   smallest sum of those distances (potential) once added.  Plain
**   k-means++ (KMEANS_SEED_PLAIN: Arthur & Vassilvitskii 2007, one
**   candidate per step) seeds several times faster and ends worse (on
**   40 well separated blobs, 40 % higher inertia on average over single
**   starts: tests/scripts/kmeans_sklearn.sh).  Draws come from
**   rng.h stream KMEANS_RNG_STREAM of the start's seed.
** - n_init starts (seeding then Lloyd iterations), the one of lowest
**   inertia kept (ties: the earlier).  Start r uses the seed
**   kmeans_restart_seed(seed, r); start 0 uses seed itself, so one start
**   is the fit of n_init 1 with that seed.
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
** - Plain k-means++ applies new centres to the points' distances in
**   batches (one sgemm over the rows per batch); draws in between propose
**   a point by the batch's distances and accept it by rejection with its
**   exact distance to the centres not yet applied, so each centre is still
**   drawn with probability proportional to the squared distance to the
**   nearest centre so far.  Greedy seeding scores a step's candidates
**   together, one sgemm per block of rows, skipping the rows that no
**   candidate can bring closer (the triangle inequality against the
**   row's nearest centre, sgemm's rounding allowed for): the others get
**   the float distances a full scan would, from calls of at least 1024
**   rows or the full scan's own, so the centres are the same wherever
**   sgemm's product of a row does not depend on the other rows of a
**   large call (OpenBLAS 0.3.21's SkylakeX kernel; where it does, e.g.
**   the generic Prescott kernel, a draw can differ as with another
**   thread count).  KmeansConfig.exhaustive scans every row, for tests.
** - The passes over the rows (seeding scans, assignments) are split among
**   a team of team_default_size() threads (team.h): seeding's in whole
**   blocks of rows, the same sgemm calls whatever the team size, with the
**   candidates' potentials summed in row order afterwards; assignments
**   are exact anyway.
** - Deterministic for a given seed and OPENBLAS_NUM_THREADS (sgemm's float
**   distances can steer a k-means++ draw), whatever the team size.
*/
#ifndef SEMIPERSO_KMEANS_H
#define SEMIPERSO_KMEANS_H

#include <stdint.h>

#define KMEANS_RNG_STREAM 0x6b6d65616e73ULL /* "kmeans" */

enum {
  KMEANS_OK = 0,
  KMEANS_NOMEM = -1,   /* scratch could not be allocated */
  KMEANS_ABORTED = -2, /* should_stop() returned nonzero */
  KMEANS_BADARG = -3   /* k < 1, k > n, d < 1, max_iter < 0, n_init < 0,
                          unknown seeding */
};

enum {
  KMEANS_SEED_GREEDY = 0, /* scikit-learn's greedy k-means++ (the default) */
  KMEANS_SEED_PLAIN = 1   /* one candidate per step */
};

typedef struct {
  int k;
  int max_iter;
  uint64_t seed;
  int n_init;  /* starts, the lowest inertia kept; 0 means 1 */
  int seeding; /* KMEANS_SEED_GREEDY (0) or KMEANS_SEED_PLAIN */
  int exhaustive; /* 1: greedy seeding scans every row, none pruned (the
                  ** same result: for tests) */
  /* Both optional.  should_stop is polled often (between blocks and
  ** initialisation steps); nonzero aborts the fit.  progress is called
  ** after the initial assignment (iteration 0, changed = n) and after each
  ** iteration; nonzero aborts too.  With n_init > 1 every start reports
  ** its iterations in turn, each beginning at iteration 0; a history kept
  ** from them holds up to n_init (max_iter + 1) entries, and the kept
  ** start's are those after its (restart + 1)-th iteration 0. */
  int (*should_stop)(void *arg);
  int (*progress)(void *arg, int iteration, double inertia, int64_t changed);
  void *arg;
} KmeansConfig;

typedef struct {
  int iterations; /* Lloyd iterations run (0 .. max_iter) */
  int converged;  /* 1 when the last iteration changed no assignment */
  double inertia; /* sum of squared distances to the final centroids */
  int64_t reseeded; /* empty clusters re-seeded, over all iterations */
  int restart;      /* the start kept, 0 .. n_init - 1 */
  int64_t seed_skipped; /* rows greedy seeding's scans skipped (pruned) */
} KmeansResult;
/* All fields but restart describe the start kept. */

/* Fits k centroids (written to centroids, k x d) to the n x d rows of x.
** labels (n, optional) and sizes (k, optional) receive the final
** assignment, consistent with the final centroids. */
int kmeans_fit(const float *x, int64_t n, int d, const KmeansConfig *cfg,
               float *centroids, int32_t *labels, int64_t *sizes,
               KmeansResult *res);

/* The seed of start r (0-based) of a fit seeded with seed: seed itself
** for r = 0, a mix of both otherwise. */
uint64_t kmeans_restart_seed(uint64_t seed, int restart);

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
