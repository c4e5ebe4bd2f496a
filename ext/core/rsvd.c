/* rsvd.c - randomized truncated SVD of a sparse symmetric matrix (see
** rsvd.h). */
#include "rsvd.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lapack.h"
#include "parallel.h"
#include "rng.h"

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

/* Rows per share of a sparse product, handed out in order. */
#define SPMM_ROWS 256

typedef struct {
  const SparseMatrix *m;
  const float *x;
  float *y;
  int k;
  _Atomic int64_t next;
} Product;

static void product_member(void *arg, int id, int n_members) {
  (void)id;
  (void)n_members;
  Product *p = arg;
  for (;;) {
    int64_t r0 = atomic_fetch_add(&p->next, SPMM_ROWS);
    if (r0 >= p->m->rows) return;
    int64_t r1 = p->m->rows - r0 < SPMM_ROWS ? p->m->rows : r0 + SPMM_ROWS;
    sparse_mul_dense(p->m, p->x, p->k, p->y, (int32_t)r0, (int32_t)r1);
  }
}

/* y = m x, x and y n x k. */
static void product(Team *team, const SparseMatrix *m, const float *x, int k, float *y) {
  Product p = {.m = m, .x = x, .y = y, .k = k};
  atomic_init(&p.next, 0);
  team_run(team, product_member, &p);
}

typedef struct {
  float *tau, *work; /* l; lwork */
  int lwork;
} Orth;

/* a (n x l, row-major) = an orthonormal basis of its column span. */
static int orthonormalise(Orth *q, float *a, int n, int l) {
  int info = 0;
  sgelqf_(&l, &n, a, &l, q->tau, q->work, &q->lwork, &info);
  if (info == 0) sorglq_(&l, &n, &l, a, &l, q->tau, q->work, &q->lwork, &info);
  return info == 0 ? RSVD_OK : RSVD_NUMERIC;
}

/* Workspace for both routines on an l x n problem a (queried, not
** touched); 0 when out of memory. */
static int orth_alloc(Orth *q, float *a, int n, int l) {
  float best = 0, w = 0;
  int query = -1, info = 0;
  q->tau = malloc((size_t)l * sizeof *q->tau);
  if (q->tau == NULL) return 0;
  sgelqf_(&l, &n, a, &l, q->tau, &w, &query, &info);
  best = w;
  sorglq_(&l, &n, &l, a, &l, q->tau, &w, &query, &info);
  if (w > best) best = w;
  q->lwork = best > l ? (int)best : l;
  q->work = malloc((size_t)q->lwork * sizeof *q->work);
  return q->work != NULL;
}

static int default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > TEAM_MAX ? TEAM_MAX : (int)n;
}

typedef struct {
  double mag;
  int index;
} ByMagnitude;

static int by_magnitude_desc(const void *pa, const void *pb) {
  const ByMagnitude *a = pa, *b = pb;
  if (a->mag != b->mag) return a->mag < b->mag ? 1 : -1;
  return a->index - b->index;
}

/* The l x l eigenproblem of b (row-major, symmetrised here): the rank
** eigenpairs of largest |lambda|, as sigma and the columns of w_top
** (l x rank, row-major float). */
static int small_eigen(const float *b, int l, int rank, float *sigma, float *w_top) {
  double *a = malloc((size_t)l * l * sizeof *a), *lambda = malloc((size_t)l * sizeof *lambda);
  int lwork = 1 + 6 * l + 2 * l * l, liwork = 3 + 5 * l, info = 0;
  double *work = malloc((size_t)lwork * sizeof *work);
  int *iwork = malloc((size_t)liwork * sizeof *iwork);
  ByMagnitude *order = malloc((size_t)l * sizeof *order);
  int rc = a && lambda && work && iwork && order ? RSVD_OK : RSVD_NOMEM;
  if (rc == RSVD_OK) {
    for (int i = 0; i < l; i++)
      for (int j = 0; j < l; j++)
        a[(size_t)i * l + j] = 0.5 * ((double)b[(size_t)i * l + j] + b[(size_t)j * l + i]);
    dsyevd_("V", "U", &l, a, &l, lambda, work, &lwork, iwork, &liwork, &info, 1, 1);
    if (info != 0) rc = RSVD_NUMERIC;
  }
  if (rc == RSVD_OK) {
    for (int k = 0; k < l; k++) order[k] = (ByMagnitude){fabs(lambda[k]), k};
    qsort(order, (size_t)l, sizeof *order, by_magnitude_desc);
    /* Eigenvector k is column k of a (column-major): a[k l + i]. */
    for (int c = 0; c < rank; c++) {
      sigma[c] = (float)order[c].mag;
      for (int i = 0; i < l; i++)
        w_top[(size_t)i * rank + c] = (float)a[(size_t)order[c].index * l + i];
    }
  }
  free(a);
  free(lambda);
  free(work);
  free(iwork);
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

int rsvd_symmetric(const SparseMatrix *m, const RsvdOptions *o, float *u, float *sigma,
                   double *flops) {
  if (flops) *flops = 0;
  const int n = m->rows;
  if (m->rows != m->cols || o->rank < 1 || o->rank > n || o->oversampling < 0 ||
      o->power_iterations < 0 || o->threads < 0 || o->threads > TEAM_MAX)
    return RSVD_BADARG;
  const int l = o->oversampling > n - o->rank ? n : o->rank + o->oversampling;
  const int threads = o->threads ? o->threads : default_threads();
  const size_t nl = (size_t)n * l;
  const int passes = 2 * o->power_iterations + 2;
  Team *team = threads > 1 ? team_new(threads) : NULL;
  float *q = malloc(nl * sizeof *q), *y = malloc(nl * sizeof *y);
  float *b = malloc((size_t)l * l * sizeof *b), *w = malloc((size_t)l * o->rank * sizeof *w);
  Orth orth = {NULL, NULL, 0};
  int rc = (threads == 1 || team) && q && y && b && w && orth_alloc(&orth, q, n, l)
               ? RSVD_OK
               : RSVD_NOMEM;
  int blas_threads = openblas_get_num_threads();
  if (blas_threads != 1) openblas_set_num_threads(1);
  /* The float work: 2 nnz l per sparse product; about 4 n l^2 per
  ** Householder orthonormalisation (factor, then form Q). */
  const double spmm = 2.0 * (double)m->nnz * l, qr = 4.0 * (double)n * l * l;
  double done = 0;
  if (rc == RSVD_OK) {
    Rng r;
    rng_seed(&r, o->seed, RSVD_RNG_STREAM);
    for (size_t k = 0; k < nl; k++) q[k] = (float)rng_normal(&r);
  }
  /* Passes 1 .. passes - 1: Q = orth(m Q); the last one: y = m Q. */
  for (int pass = 1; rc == RSVD_OK && pass <= passes; pass++) {
    if (o->should_stop && o->should_stop(o->arg)) {
      rc = RSVD_ABORTED;
      break;
    }
    product(team, m, q, l, y);
    done += spmm;
    if (pass < passes) {
      rc = orthonormalise(&orth, y, n, l);
      done += qr;
      float *t = q;
      q = y;
      y = t;
    }
    if (rc == RSVD_OK && o->progress && o->progress(o->arg, pass, passes)) rc = RSVD_ABORTED;
  }
  if (rc == RSVD_OK) {
    /* B = Q^T (m Q); its top eigenvectors w; u = Q w. */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l, l, n, 1.0f, q, l, y, l, 0.0f, b, l);
    rc = small_eigen(b, l, o->rank, sigma, w);
    done += 2.0 * (double)n * l * l;
  }
  if (rc == RSVD_OK) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, o->rank, l, 1.0f, q, l, w,
                o->rank, 0.0f, u, o->rank);
    done += 2.0 * (double)n * l * o->rank;
    fix_signs(u, n, o->rank);
  }
  if (blas_threads != 1) openblas_set_num_threads(blas_threads);
  team_free(team);
  free(q);
  free(y);
  free(b);
  free(w);
  free(orth.tau);
  free(orth.work);
  if (flops) *flops = done;
  return rc;
}
