/* rsvd.c - randomized truncated SVD of a sparse symmetric matrix (see
** rsvd.h). */
#include "rsvd.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "sym_eigen.h"
#include "team.h"

/* Results depend on these: keep them fixed. */
#define SPMM_ROWS 256   /* rows per share of a sparse product */
#define CHUNK_ROWS 2048 /* rows per sgemm of the dense steps */
#define SLOTS 64        /* double partial sums of a cross product */
/* Orthonormalisation rounds: at most ORTH_ROUNDS; the last one is the
** round after which the Gram matrix is within ORTH_CLOSE of I (then its
** eigenvalues lie in [0.5, 1.5] and one round leaves it orthonormal to
** rounding).  Directions whose Gram eigenvalue is at most ORTH_NULL times
** the largest are numerically absent and dropped. */
#define ORTH_ROUNDS 4
#define ORTH_CLOSE 0.5
#define ORTH_NULL 1e-12

/* ---- the work shared among the team ------------------------------------ */

typedef struct {
  Team *team;
  int threads, l;
  float **part;  /* per member: l x l */
  float **chunk; /* per member: CHUNK_ROWS x l */
  double *slot;  /* SLOTS x l x l */
  double flops;  /* single-precision work done */
} Work;

typedef struct {
  Work *w;
  /* sparse product y = m x */
  const SparseMatrix *m;
  const float *x;
  float *y;
  _Atomic int64_t next;
  /* dense steps on n x l row-major arrays */
  const float *a, *b; /* cross: slots += a^T b */
  float *in;          /* multiply: out = in f (f l x r), out may be in */
  const float *f;
  float *out;
  int r;
  int64_t n;
} Job;

static void product_member(void *arg, int id, int n_members) {
  (void)id;
  (void)n_members;
  Job *j = arg;
  for (;;) {
    int64_t r0 = atomic_fetch_add(&j->next, SPMM_ROWS);
    if (r0 >= j->m->rows) return;
    int64_t r1 = j->m->rows - r0 < SPMM_ROWS ? j->m->rows : r0 + SPMM_ROWS;
    sparse_mul_dense(j->m, j->x, j->w->l, j->y, (int32_t)r0, (int32_t)r1);
  }
}

/* y = m x (n x l each). */
static void product(Work *w, const SparseMatrix *m, const float *x, float *y) {
  Job j = {.w = w, .m = m, .x = x, .y = y};
  atomic_init(&j.next, 0);
  team_run(w->team, product_member, &j);
  w->flops += 2.0 * (double)m->nnz * w->l;
}

static int chunk_rows(const Job *j, int64_t k) {
  int64_t r0 = k * CHUNK_ROWS;
  return j->n - r0 < CHUNK_ROWS ? (int)(j->n - r0) : CHUNK_ROWS;
}

/* Slot s sums the products of chunks s, s + SLOTS, ... in that order,
** whoever computes it. */
static void cross_member(void *arg, int id, int n_members) {
  Job *j = arg;
  const int l = j->w->l;
  const size_t ll = (size_t)l * l;
  const int64_t chunks = (j->n + CHUNK_ROWS - 1) / CHUNK_ROWS;
  float *part = j->w->part[id];
  for (int s = id; s < SLOTS; s += n_members) {
    double *slot = j->w->slot + (size_t)s * ll;
    memset(slot, 0, ll * sizeof *slot);
    for (int64_t k = s; k < chunks; k += SLOTS) {
      const size_t off = (size_t)k * CHUNK_ROWS * l;
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l, l, chunk_rows(j, k), 1.0f,
                  j->a + off, l, j->b + off, l, 0.0f, part, l);
      for (size_t q = 0; q < ll; q++) slot[q] += part[q];
    }
  }
}

/* c (l x l, double) = a^T b over n rows. */
static void cross(Work *w, const float *a, const float *b, int64_t n, double *c) {
  Job j = {.w = w, .a = a, .b = b, .n = n};
  const size_t ll = (size_t)w->l * w->l;
  team_run(w->team, cross_member, &j);
  memset(c, 0, ll * sizeof *c);
  for (int s = 0; s < SLOTS; s++)
    for (size_t q = 0; q < ll; q++) c[q] += w->slot[(size_t)s * ll + q];
  w->flops += 2.0 * (double)n * ll;
}

static void multiply_member(void *arg, int id, int n_members) {
  Job *j = arg;
  const int l = j->w->l;
  const int64_t chunks = (j->n + CHUNK_ROWS - 1) / CHUNK_ROWS;
  for (int64_t k = id; k < chunks; k += n_members) {
    int rows = chunk_rows(j, k);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, j->r, l, 1.0f,
                j->in + (size_t)k * CHUNK_ROWS * l, l, j->f, j->r, 0.0f, j->w->chunk[id], j->r);
    memcpy(j->out + (size_t)k * CHUNK_ROWS * j->r, j->w->chunk[id],
           (size_t)rows * j->r * sizeof(float));
  }
}

/* out (n x r) = in (n x l) f (l x r), r <= l; out may be in. */
static void multiply(Work *w, float *in, const float *f, int r, int64_t n, float *out) {
  Job j = {.w = w, .in = in, .f = f, .r = r, .out = out, .n = n};
  team_run(w->team, multiply_member, &j);
  w->flops += 2.0 * (double)n * w->l * r;
}

/* ---- orthonormalisation ---------------------------------------------------- */

/* Largest row sum of |g - D|, D the diagonal with 1 where g's diagonal is
** above 1/2 and 0 elsewhere (columns dropped earlier are exactly zero):
** every eigenvalue of g is within it of 0 or 1 (Gershgorin). */
static double distance_from_projector(const double *g, int l) {
  double worst = 0;
  for (int i = 0; i < l; i++) {
    double row = 0;
    for (int j = 0; j < l; j++)
      row += fabs(g[(size_t)i * l + j] - (i == j && g[(size_t)i * l + i] > 0.5));
    if (row > worst) worst = row;
  }
  return worst;
}

/* y (n x l) = an orthonormal basis of its column span, by rounds of
** y = y V Lambda^-1/2 with y^T y = V Lambda V^T (the eigenvalue variant of
** Cholesky QR: Stathopoulos & Wu's SVQB), until a round starts within
** ORTH_CLOSE of orthonormal.  Gram matrices are float products of row
** chunks summed in double, their eigenvectors computed in double.  Unlike
** Cholesky QR this copes with a rank-deficient y: a direction that is
** numerically absent becomes a zero column (each later product keeps it
** zero), everything else comes out orthonormal to float precision.  Every
** heavy step is an sgemm, where Householder QR would run level-2 panels. */
static int orthonormalise(Work *w, SymEigen *e, float *y, int64_t n, double *g, float *v) {
  const int l = w->l;
  for (int round = 0; round < ORTH_ROUNDS; round++) {
    cross(w, y, y, n, g);
    int last = round == ORTH_ROUNDS - 1 || (round > 0 && distance_from_projector(g, l) < ORTH_CLOSE);
    if (sym_eigen(e, g) != 0) return RSVD_NUMERIC;
    double top = e->lambda[l - 1];
    if (!(top > 0) || !isfinite(top)) return RSVD_NUMERIC;
    for (int k = 0; k < l; k++) {
      double scale = e->lambda[k] > ORTH_NULL * top ? 1.0 / sqrt(e->lambda[k]) : 0.0;
      for (int i = 0; i < l; i++) v[(size_t)i * l + k] = (float)(g[(size_t)k * l + i] * scale);
    }
    multiply(w, y, v, l, n, y);
    if (last) break;
  }
  return RSVD_OK;
}

/* ---- the small eigenproblem -------------------------------------------- */

typedef struct {
  double mag;
  int index;
} ByMagnitude;

static int by_magnitude_desc(const void *pa, const void *pb) {
  const ByMagnitude *a = pa, *b = pb;
  if (a->mag != b->mag) return a->mag < b->mag ? 1 : -1;
  return a->index - b->index;
}

/* The l x l symmetric b (row-major, symmetrised here, destroyed): the rank
** eigenpairs of largest |lambda|, as sigma and the columns of w_top
** (l x rank, row-major float). */
static int small_eigen(SymEigen *e, double *b, int rank, float *sigma, float *w_top) {
  const int l = e->n;
  ByMagnitude *order = malloc((size_t)l * sizeof *order);
  if (order == NULL) return RSVD_NOMEM;
  for (int i = 0; i < l; i++)
    for (int j = 0; j < i; j++) {
      double m = 0.5 * (b[(size_t)i * l + j] + b[(size_t)j * l + i]);
      b[(size_t)i * l + j] = b[(size_t)j * l + i] = m;
    }
  int rc = sym_eigen(e, b) == 0 ? RSVD_OK : RSVD_NUMERIC;
  if (rc == RSVD_OK) {
    for (int k = 0; k < l; k++) order[k] = (ByMagnitude){fabs(e->lambda[k]), k};
    qsort(order, (size_t)l, sizeof *order, by_magnitude_desc);
    for (int c = 0; c < rank; c++) {
      sigma[c] = (float)order[c].mag;
      for (int i = 0; i < l; i++)
        w_top[(size_t)i * rank + c] = (float)b[(size_t)order[c].index * l + i];
    }
  }
  free(order);
  return rc;
}

/* Turns each column so that its entry of largest magnitude (the first of
** equal ones) is positive: singular vectors are defined up to sign. */
static void fix_signs(float *u, int n, int rank) {
  for (int c = 0; c < rank; c++) {
    float best = 0;
    for (int i = 0; i < n; i++)
      if (fabsf(u[(size_t)i * rank + c]) > fabsf(best)) best = u[(size_t)i * rank + c];
    if (best < 0)
      for (int i = 0; i < n; i++) u[(size_t)i * rank + c] = -u[(size_t)i * rank + c];
  }
}

/* ---- the algorithm ------------------------------------------------------ */

static void work_free(Work *w) {
  for (int k = 0; k < w->threads; k++) {
    if (w->part) free(w->part[k]);
    if (w->chunk) free(w->chunk[k]);
  }
  free(w->part);
  free(w->chunk);
  free(w->slot);
  team_free(w->team);
}

static int work_alloc(Work *w, int threads, int l) {
  memset(w, 0, sizeof *w);
  w->threads = threads;
  w->l = l;
  if (threads > 1 && (w->team = team_new(threads)) == NULL) return RSVD_NOMEM;
  w->part = calloc((size_t)threads, sizeof *w->part);
  w->chunk = calloc((size_t)threads, sizeof *w->chunk);
  w->slot = malloc((size_t)SLOTS * l * l * sizeof *w->slot);
  if (!w->part || !w->chunk || !w->slot) return RSVD_NOMEM;
  for (int k = 0; k < threads; k++) {
    w->part[k] = malloc((size_t)l * l * sizeof *w->part[k]);
    w->chunk[k] = malloc((size_t)CHUNK_ROWS * l * sizeof *w->chunk[k]);
    if (!w->part[k] || !w->chunk[k]) return RSVD_NOMEM;
  }
  return RSVD_OK;
}

int rsvd_symmetric(const SparseMatrix *m, const RsvdOptions *o, float *u, float *sigma,
                   double *flops) {
  if (flops) *flops = 0;
  const int n = m->rows;
  if (m->rows != m->cols || o->rank < 1 || o->rank > n || o->oversampling < 0 ||
      o->power_iterations < 0 || o->threads < 0 || o->threads > TEAM_MAX)
    return RSVD_BADARG;
  const int l = o->oversampling > n - o->rank ? n : o->rank + o->oversampling;
  const size_t nl = (size_t)n * l, ll = (size_t)l * l;
  const int passes = o->power_iterations + 2;
  Work w;
  int rc = work_alloc(&w, o->threads ? o->threads : team_default_size(), l);
  float *q = malloc(nl * sizeof *q), *y = malloc(nl * sizeof *y);
  float *v = malloc(ll * sizeof *v), *top = malloc((size_t)l * o->rank * sizeof *top);
  double *g = malloc(ll * sizeof *g);
  SymEigen e;
  if (sym_eigen_alloc(&e, l) != 0) rc = RSVD_NOMEM;
  if (rc == RSVD_OK && !(q && y && v && top && g)) rc = RSVD_NOMEM;
  if (rc == RSVD_OK) {
    Rng r;
    rng_seed(&r, o->seed, RSVD_RNG_STREAM);
    for (size_t k = 0; k < nl; k++) y[k] = (float)rng_normal(&r);
  }
  /* Pass 1: Q = orth(m Omega); passes 2 .. passes - 1: Q = orth(m^2 Q);
  ** the last: B = Q^T m Q and the eigenproblem. */
  for (int pass = 1; rc == RSVD_OK && pass < passes; pass++) {
    if (o->should_stop && o->should_stop(o->arg)) {
      rc = RSVD_ABORTED;
      break;
    }
    if (pass == 1) {
      product(&w, m, y, q);
    } else {
      product(&w, m, q, y);
      product(&w, m, y, q);
    }
    rc = orthonormalise(&w, &e, q, n, g, v);
    if (rc == RSVD_OK && o->progress && o->progress(o->arg, pass, passes)) rc = RSVD_ABORTED;
  }
  if (rc == RSVD_OK && o->should_stop && o->should_stop(o->arg)) rc = RSVD_ABORTED;
  if (rc == RSVD_OK) {
    product(&w, m, q, y);
    cross(&w, q, y, n, g);
    rc = small_eigen(&e, g, o->rank, sigma, top);
  }
  if (rc == RSVD_OK) {
    multiply(&w, q, top, o->rank, n, u);
    fix_signs(u, n, o->rank);
    if (o->progress && o->progress(o->arg, passes, passes)) rc = RSVD_ABORTED;
  }
  if (flops) *flops = w.flops;
  work_free(&w);
  free(q);
  free(y);
  free(v);
  sym_eigen_free(&e);
  free(top);
  free(g);
  return rc;
}
