/*
** als.h - implicit-feedback matrix factorisation by alternating least
** squares with a conjugate-gradient inner solver.  No SQLite.
**
** The model (Hu, Koren & Volinsky 2008): for a users x items matrix of
** weights r_ui >= 0, every stored entry is a preference p_ui = 1 with
** confidence c_ui = 1 + alpha r_ui (a stored weight of 0 is still a
** preference, at confidence 1); every other pair has p_ui = 0, c_ui = 1.
** User vectors x_u and item vectors y_i (dim floats) minimise
**   L = sum over all (u, i) of c_ui (p_ui - x_u.y_i)^2
**       + regularization (sum |x_u|^2 + sum |y_i|^2).
** Each iteration solves all users with the items fixed, then all items with
** the users fixed.  A row's subproblem is the linear system
**   (Y^T Y + Y_u^T (C_u - I) Y_u + regularization I) x_u = Y_u^T C_u p_u,
** solved approximately by cg_steps conjugate-gradient steps warm-started
** from the current x_u (Takacs, Pilaszy & Tikk 2011, as the `implicit`
** library does); Y^T Y is formed once per half-iteration (sgemm).  A CG
** step never raises its row's share of L, so L does not increase from one
** iteration to the next (up to float rounding); with cg_steps >= dim each
** subproblem is solved exactly (again up to rounding) and this is exact
** ALS.
**
** Speed: before each half-iteration both sides turn to the eigenvectors of
** Y^T Y (LAPACK dsyevd on the d x d matrix, then one sgemm per side).  The
** rotation is orthogonal, so every x_u.y_i, every norm and every CG iterate
** is unchanged (CG is invariant under an orthogonal change of basis), but
** Y^T Y becomes diagonal: a CG step costs O(d) plus the stored entries
** instead of a d x d product per row.  The factors return in the starting
** basis.  While fitted they live in a copy of their own (the first change
** of basis writes it), in transparent huge pages where Linux gives them on
** request: a row solve reads the fixed side's vectors from all over it,
** and with 4 KiB pages nearly every such read also pays a TLB miss.
**
** The loss reported per iteration is L above, exactly: the sum over all
** pairs is <X^T X, Y^T Y> (both Gram matrices are formed anyway) plus a
** correction over the stored entries, whose x_u.y_i the item solve tracks
** through its CG updates.
**
** Determinism: every row is solved by the same operations whatever thread
** takes it; each tile of a Gram matrix and each chunk of a change of basis
** is one sgemm of fixed shape; loss partial sums are added in a fixed
** order.  So the factors are bit-identical for any thread count (with
** OpenBLAS's own thread count fixed: a product it threads may round
** differently), and a pure function of (input, options, starting
** factors) on one machine (the vector kernels used depend on the CPU).  Each sgemm runs on the member
** that calls it; OpenBLAS's own thread setting is left as it is.
*/
#ifndef SEMIPERSO_ALS_H
#define SEMIPERSO_ALS_H

#include <stdint.h>

#include "als_kernels.h"
#include "sparse.h"

#define ALS_RNG_STREAM 0x616c73ULL /* "als" */
#define ALS_MAX_DIM 4096

enum {
  ALS_OK = 0,
  ALS_NOMEM = -1,   /* memory or threads could not be had */
  ALS_ABORTED = -2, /* should_stop or progress returned nonzero */
  ALS_BADARG = -3,  /* options (als_check_options) or weights invalid */
  ALS_NUMERIC = -4  /* the factors became non-finite (weights * alpha too large) */
};

typedef struct {
  int dim;              /* factors per vector, 1..ALS_MAX_DIM (256) */
  int iterations;       /* >= 0 (15) */
  double regularization;/* >= 0 (0.01) */
  double alpha;         /* >= 0: confidence 1 + alpha * weight (1) */
  int cg_steps;         /* >= 1 (3) */
  uint64_t seed;        /* starting factors, als_init (0) */
  int threads;          /* 0: one per online CPU; else 1..64 */
  int kernels;          /* 0: the widest vector kernels the CPU runs;
                        ** else ALS_KERNELS_* (the widest at most that,
                        ** als_kernels.h) */
  /* Both optional.  should_stop is polled on the calling thread before
  ** every 8192 rows solved (as many times for any thread count or
  ** timing); nonzero aborts.  progress is called on the calling
  ** thread after each iteration with the loss L; nonzero aborts too. */
  int (*should_stop)(void *arg);
  int (*progress)(void *arg, int iteration, double loss);
  void *arg;
} AlsOptions;

typedef struct {
  int iterations; /* completed */
  double loss;    /* L after the last completed iteration (0 when none) */
  double flops;   /* single-precision operations executed (the d x d
                  ** eigendecompositions, in double, are not counted) */
} AlsResult;

/* The defaults in parentheses above. */
void als_default_options(AlsOptions *o);

/* NULL when o is usable, else a static message naming the bad option,
** e.g. "option \"cg_steps\" must be between 1 and 100000". */
const char *als_check_options(const AlsOptions *o);

/* The starting factors of seed o->seed: every entry normal(0, 0.01), users
** then items, row by row (users n_users x dim, items n_items x dim). */
void als_init(const AlsOptions *o, int32_t n_users, int32_t n_items,
              float *users, float *items);

/* Fits the factors to the weights r (users x items, sparse.h), starting
** from the values in users (r->rows x dim) and items (r->cols x dim), e.g.
** from als_init, and leaving the result there.  Weights must be finite
** and >= 0 (else ALS_BADARG, factors untouched).  On ALS_ABORTED,
** ALS_NUMERIC or ALS_NOMEM the factors are left as they were (the fit
** works on a copy, written back only on success); res (optional) tells
** how many iterations completed, with their loss and work.  Memory beyond
** r and the factors: a second copy of both factors, r transposed, and
** O(d^2 + threads (d + longest row) + 1024 threads d) scratch. */
int als_fit(const SparseMatrix *r, const AlsOptions *o, float *users,
            float *items, AlsResult *res);

#endif
