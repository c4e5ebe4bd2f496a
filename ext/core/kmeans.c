/* kmeans.c - k-means++ and Lloyd iterations on OpenBLAS (see kmeans.h). */
#include "kmeans.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "team.h"

/* Scratch of one block of distances: 1 Mi floats (4 MiB). */
#define KMEANS_BLOCK_FLOATS ((int64_t)1 << 20)

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define KM_X86 1
/* Runtime dispatch; GCC and Clang initialise the CPU model at load. */
#define KM_AVX2() __builtin_cpu_supports("avx2")
#define KM_FMA() (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
#else
#define KM_AVX2() 0
#define KM_FMA() 0
#endif

static double sqdist_scalar(const float *a, const float *b, int d) {
  /* Four partial sums, always combined the same way: a fixed function of
  ** its inputs, and not bound by the latency of one chain of additions. */
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int j = 0;
  for (; j + 4 <= d; j += 4) {
    double t0 = (double)a[j] - (double)b[j];
    double t1 = (double)a[j + 1] - (double)b[j + 1];
    double t2 = (double)a[j + 2] - (double)b[j + 2];
    double t3 = (double)a[j + 3] - (double)b[j + 3];
    s0 += t0 * t0;
    s1 += t1 * t1;
    s2 += t2 * t2;
    s3 += t3 * t3;
  }
  for (; j < d; j++) {
    double t = (double)a[j] - (double)b[j];
    s0 += t * t;
  }
  return (s0 + s1) + (s2 + s3);
}

#ifdef KM_X86
/* The same operations as sqdist_scalar, lane l of the vector being s_l:
** subtract, square, add, each rounded as in the scalar code (no FMA in
** this target), so the two give the same double bit for bit. */
__attribute__((target("avx2"))) static double sqdist_avx2(const float *a, const float *b,
                                                          int d) {
  __m256d s = _mm256_setzero_pd();
  int j = 0;
  for (; j + 4 <= d; j += 4) {
    __m256d t = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(a + j)),
                              _mm256_cvtps_pd(_mm_loadu_ps(b + j)));
    s = _mm256_add_pd(s, _mm256_mul_pd(t, t));
  }
  double l[4];
  _mm256_storeu_pd(l, s);
  for (; j < d; j++) {
    double t = (double)a[j] - (double)b[j];
    l[0] += t * t;
  }
  return (l[0] + l[1]) + (l[2] + l[3]);
}
#endif

double kmeans_sqdist(const float *a, const float *b, int d) {
#ifdef KM_X86
  if (KM_AVX2()) return sqdist_avx2(a, b, d);
#endif
  return sqdist_scalar(a, b, d);
}

static double sqnorm(const float *a, int d) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int j = 0;
  for (; j + 4 <= d; j += 4) {
    s0 += (double)a[j] * (double)a[j];
    s1 += (double)a[j + 1] * (double)a[j + 1];
    s2 += (double)a[j + 2] * (double)a[j + 2];
    s3 += (double)a[j + 3] * (double)a[j + 3];
  }
  for (; j < d; j++) s0 += (double)a[j] * (double)a[j];
  return (s0 + s1) + (s2 + s3);
}

static int count_nonzero(const float *a, int d) {
  int m = 0;
  for (int j = 0; j < d; j++) m += a[j] != 0.0f;
  return m;
}

void kmeans_centroid_norms(const float *c, int k, int d, float *cnorm) {
  for (int j = 0; j < k; j++) cnorm[j] = (float)sqnorm(c + (int64_t)j * d, d);
}

/* Rows are often block-sparse.  A chunk is KM_CHUNK floats; the chunks of
** a row holding a nonzero are listed once, and dot products run over them
** only (a zero x_j adds an exact zero to any sum, so nothing is lost). */
#define KM_CHUNK 16

static int nonzero_chunks(const float *x, int d, int *chunks) {
  int nc = 0;
  for (int s = 0; s < d; s += KM_CHUNK) {
    int e = s + KM_CHUNK < d ? s + KM_CHUNK : d, nz = 0;
    for (int j = s; j < e; j++) nz |= x[j] != 0.0f;
    if (nz) chunks[nc++] = s;
  }
  return nc;
}

/* x.c in double over the listed chunks.  The products of two floats are
** exact in double; the sums are in no particular order, which the bound
** (d + 1) 2^-53 sum |x_j c_j| of decide_row allows. */
static double dot_chunks_scalar(const float *x, const float *c, int d, const int *chunks,
                                int nc) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  for (int q = 0; q < nc; q++) {
    int j = chunks[q], e = j + KM_CHUNK < d ? j + KM_CHUNK : d;
    for (; j + 4 <= e; j += 4) {
      s0 += (double)x[j] * (double)c[j];
      s1 += (double)x[j + 1] * (double)c[j + 1];
      s2 += (double)x[j + 2] * (double)c[j + 2];
      s3 += (double)x[j + 3] * (double)c[j + 3];
    }
    for (; j < e; j++) s0 += (double)x[j] * (double)c[j];
  }
  return (s0 + s1) + (s2 + s3);
}

#ifdef KM_X86
__attribute__((target("avx2,fma"))) static double dot_chunks_fma(const float *x,
                                                                 const float *c, int d,
                                                                 const int *chunks,
                                                                 int nc) {
  __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
  double tail = 0.0;
  for (int q = 0; q < nc; q++) {
    int j = chunks[q];
    if (j + KM_CHUNK <= d) {
      s0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + j)),
                           _mm256_cvtps_pd(_mm_loadu_ps(c + j)), s0);
      s1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + j + 4)),
                           _mm256_cvtps_pd(_mm_loadu_ps(c + j + 4)), s1);
      s2 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + j + 8)),
                           _mm256_cvtps_pd(_mm_loadu_ps(c + j + 8)), s2);
      s3 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + j + 12)),
                           _mm256_cvtps_pd(_mm_loadu_ps(c + j + 12)), s3);
    } else {
      for (; j < d; j++) tail += (double)x[j] * (double)c[j];
    }
  }
  double l[4];
  _mm256_storeu_pd(l, _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
  return ((l[0] + l[1]) + (l[2] + l[3])) + tail;
}
#endif

static double dot_chunks(const float *x, const float *c, int d, const int *chunks, int nc) {
#ifdef KM_X86
  if (KM_FMA()) return dot_chunks_fma(x, c, d, chunks, nc);
#endif
  return dot_chunks_scalar(x, c, d, chunks, nc);
}

/* Block-sparse rows.  When most KM_BLOCK-wide column blocks of the rows
** are all zero (the input features: 128-float blocks, many empty per
** row), x.c is summed block by block over the rows' nonzero blocks only:
** one sgemm per column block on the rows gathered, added up in g.  Each
** g[i][j] is still a sum of the products x_ij c_j in some order, the
** skipped ones exact zeros, so the rounding bound of decide_row holds. */
#define KM_BLOCK 128

typedef struct {
  int nbk;             /* column blocks; 0: dense rows, one sgemm */
  const uint8_t *mask; /* n x nbk: block b of row i holds a nonzero */
  float *buf;          /* rows x KM_BLOCK, gathered rows */
  float *tmp;          /* rows x k, one block's product */
  int32_t *idx;        /* rows */
} Product;

static int product_init(Product *pr, const uint8_t *mask, int d, int64_t rows, int k) {
  memset(pr, 0, sizeof *pr);
  if (mask == NULL) return KMEANS_OK;
  pr->nbk = (d + KM_BLOCK - 1) / KM_BLOCK;
  pr->mask = mask;
  pr->buf = malloc((size_t)rows * KM_BLOCK * sizeof(float));
  pr->tmp = malloc((size_t)rows * (size_t)k * sizeof(float));
  pr->idx = malloc((size_t)rows * sizeof(int32_t));
  return pr->buf && pr->tmp && pr->idx ? KMEANS_OK : KMEANS_NOMEM;
}

static void product_free(Product *pr) {
  free(pr->buf);
  free(pr->tmp);
  free(pr->idx);
}

/* g (nb x k) = alpha x[r0 .. r0+nb) c^T. */
static void product_rows(const Product *pr, const float *x, int64_t r0, int64_t nb, int d,
                         const float *c, int k, float alpha, float *g) {
  const float *xb = x + r0 * d;
  if (pr->nbk == 0) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, k, d, alpha, xb, d, c,
                d, 0.0f, g, k);
    return;
  }
  memset(g, 0, (size_t)nb * (size_t)k * sizeof(float));
  for (int b = 0; b < pr->nbk; b++) {
    int j0 = b * KM_BLOCK, w = d - j0 < KM_BLOCK ? d - j0 : KM_BLOCK;
    int cnt = 0;
    const uint8_t *m = pr->mask + r0 * pr->nbk + b;
    for (int64_t r = 0; r < nb; r++)
      if (m[r * pr->nbk]) pr->idx[cnt++] = (int32_t)r;
    if (cnt == 0) continue;
    for (int q = 0; q < cnt; q++)
      memcpy(pr->buf + (int64_t)q * w, xb + (int64_t)pr->idx[q] * d + j0,
             (size_t)w * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cnt, k, w, alpha, pr->buf, w,
                c + j0, d, 0.0f, pr->tmp, k);
    for (int q = 0; q < cnt; q++) {
      float *gr = g + (int64_t)pr->idx[q] * k;
      const float *t = pr->tmp + (int64_t)q * k;
      for (int j = 0; j < k; j++) gr[j] += t[j];
    }
  }
}

#define KM_U 5.9604644775390625e-08  /* 2^-24, float unit roundoff */
#define KM_U53 1.1102230246251565e-16 /* 2^-53 */

/* Per-call state of the assignment: the centroids and the scratch of one
** row's decision. */
typedef struct {
  const float *c, *cnorm;
  int k, d;
  double cmax;   /* max |c_j|, rounded up */
  double *cn2;   /* |c_j|^2 in double, computed when first needed (NAN) */
  int32_t *cand; /* k */
  double *ecand; /* k */
  int *chunks;   /* d / KM_CHUNK + 1 */
} Decider;

/* Decides one row x (|x| <= xn, m nonzero floats) from g[j] = -2 x.c_j
** (sgemm).  Let e_j = |c_j|^2 - 2 x.c_j exactly, and D_j the canonical
** kmeans_sqdist(x, c_j), |D_j - (e_j + |x|^2)| <= delta = (d+4) 2^-53
** (|x| + |c_j|)^2.
**
** 1. f_j = g[j] + cnorm[j] in float.  sgemm sums the products of x.c_j in
**    some order; whatever the order (blocking, FMA, threads), a product
**    with x_i = 0 is an exact zero and adding it rounds nothing, so only m
**    terms carry rounding: |g[j] + 2 x.c_j| <= 2 gamma_m sum|x_i c_ji| <=
**    2 gamma_m |x||c_j| (gamma_m = m u / (1 - m u), u = 2^-24).  cnorm
**    adds u |c_j|^2 (+ its double sum's error), the float addition
**    u |f_j|.  So |f_j - e_j| <= E.  If j* is the canonical argmin (D
**    smallest, then id) and b the float best, f_j* <= e_j* + E <=
**    e_b + 2 delta + E <= f_b + 2 E + 2 delta: every centroid with f_j
**    within tol1 = 2 E + 2 delta of the best is a candidate, j* among them.
** 2. With two or more candidates: e'_j = |c_j|^2 - 2 x.c_j in double over
**    the nonzero chunks of x, |e'_j - e_j| <= E2 = (d+4) 2^-53
**    (|x| + |c_j|)^2; by the same argument j* is within tol2 = 2 E2 +
**    2 delta of the best e'.
** 3. The survivors of 2 (nearly always one) are decided by D_j, ties to
**    the smaller id; D of the winner is computed only when dist wants it.
** Each bound is taken with a relative margin that covers the roundings of
** the bound itself and of the comparisons. */
static int32_t decide_row(Decider *z, const float *x, const float *g, double xn, int m,
                          double *dist) {
  const float *cnorm = z->cnorm;
  const float *c = z->c;
  int k = z->k, d = z->d;
  float lane[16];
  int j = 0;
  for (int l = 0; l < 16; l++) lane[l] = INFINITY;
  for (; j + 16 <= k; j += 16)
    for (int l = 0; l < 16; l++) {
      float f = g[j + l] + cnorm[j + l];
      lane[l] = f < lane[l] ? f : lane[l];
    }
  for (int s = 8; s >= 1; s /= 2)
    for (int l = 0; l < s; l++) lane[l] = lane[l + s] < lane[l] ? lane[l + s] : lane[l];
  float best = lane[0];
  for (; j < k; j++) {
    float f = g[j] + cnorm[j];
    best = f < best ? f : best;
  }
  double cm = z->cmax, s2 = (xn + cm) * (xn + cm);
  double delta = (d + 4) * KM_U53 * s2;
  double mu = (double)m * KM_U;
  double gm = mu < 0.5 ? mu / (1.0 - mu) : INFINITY;
  double e1 = 2.0 * (gm + KM_U) * xn * cm + 2.0 * KM_U * cm * cm + delta;
  double tol1 = (2.0 * e1 + 2.0 * delta) * (1.0 + 1e-5) + (d + 8) * 1e-44;
  double lim = (double)best + tol1;
  int32_t *cand = z->cand;
  int nc = 0;
  for (j = 0; j < k; j++)
    if ((double)(g[j] + cnorm[j]) <= lim) cand[nc++] = j;
  if (nc == 0) { /* unreachable with finite input; stay defined anyway */
    if (dist) *dist = kmeans_sqdist(x, c, d);
    return 0;
  }
  if (nc > 1) {
    int nch = nonzero_chunks(x, d, z->chunks);
    double emin = INFINITY;
    for (int q = 0; q < nc; q++) {
      int32_t cj = cand[q];
      const float *cr = c + (int64_t)cj * d;
      if (isnan(z->cn2[cj])) z->cn2[cj] = sqnorm(cr, d);
      double e = z->cn2[cj] - 2.0 * dot_chunks(x, cr, d, z->chunks, nch);
      z->ecand[q] = e;
      emin = e < emin ? e : emin;
    }
    double lim2 = emin + (4.0 * delta) * (1.0 + 1e-3);
    int n2 = 0;
    for (int q = 0; q < nc; q++)
      if (z->ecand[q] <= lim2) cand[n2++] = cand[q];
    nc = n2 > 0 ? n2 : nc; /* n2 = 0 only with NaN; then decide all */
  }
  if (nc == 1 && dist == NULL) return cand[0];
  int32_t arg = -1;
  double argd = 0.0;
  for (int q = 0; q < nc; q++) {
    double e = kmeans_sqdist(x, c + (int64_t)cand[q] * d, d);
    if (arg < 0 || e < argd) {
      arg = cand[q];
      argd = e;
    }
  }
  if (dist) *dist = argd;
  return arg;
}

/* One assignment pass over x, split among a team (NULL: the caller
** alone).  xnorm and nnz (both optional): |x_i| (rounded up) and the
** number of nonzero floats of each row, if the caller has them.  Each
** member decides a contiguous share of the rows in blocks of its own
** scratch; a row's label and distance are exact (decide_row), so they do
** not depend on the share or block a row falls in. */
typedef struct {
  const float *x, *xnorm;
  const int32_t *nnz;
  const uint8_t *mask;
  int64_t n;
  int d, k;
  const float *c, *cnorm;
  int32_t *labels;
  double *dist;
  const KmeansConfig *cfg;
  atomic_int stop; /* set by member 0 when should_stop says so */
  atomic_int rc;   /* the first failure, else KMEANS_OK */
} AssignJob;

/* Polled between blocks: member 0 asks should_stop and tells the others. */
static int job_should_stop(const KmeansConfig *cfg, atomic_int *stop, int id) {
  if (id == 0 && cfg && cfg->should_stop && cfg->should_stop(cfg->arg))
    atomic_store(stop, 1);
  return atomic_load(stop);
}

static void assign_member(void *arg, int id, int nt) {
  AssignJob *j = arg;
  size_t lo, hi;
  team_share((size_t)j->n, 1, id, nt, &lo, &hi);
  int k = j->k, d = j->d;
  int64_t b = KMEANS_BLOCK_FLOATS / k;
  if (b < 1) b = 1;
  if (b > (int64_t)(hi - lo)) b = (int64_t)(hi - lo);
  if (b < 1) return;
  Decider z = {.c = j->c, .cnorm = j->cnorm, .k = k, .d = d};
  float *g = malloc((size_t)b * (size_t)k * sizeof(float));
  z.cn2 = malloc((size_t)k * sizeof(double));
  z.cand = malloc((size_t)k * sizeof(int32_t));
  z.ecand = malloc((size_t)k * sizeof(double));
  z.chunks = malloc(((size_t)d / KM_CHUNK + 1) * sizeof(int));
  Product pr;
  int rc = product_init(&pr, j->mask, d, b, k);
  if (rc != KMEANS_OK || !g || !z.cn2 || !z.cand || !z.ecand || !z.chunks) {
    rc = KMEANS_NOMEM;
    goto done;
  }
  float cmax = 0.0f;
  for (int c = 0; c < k; c++) {
    cmax = j->cnorm[c] > cmax ? j->cnorm[c] : cmax;
    z.cn2[c] = NAN;
  }
  z.cmax = sqrt((double)cmax) * (1.0 + 1e-6);
  for (int64_t r0 = (int64_t)lo; r0 < (int64_t)hi; r0 += b) {
    int64_t nb = (int64_t)hi - r0 < b ? (int64_t)hi - r0 : b;
    if (job_should_stop(j->cfg, &j->stop, id)) {
      rc = KMEANS_ABORTED;
      goto done;
    }
    const float *xb = j->x + r0 * d;
    product_rows(&pr, j->x, r0, nb, d, j->c, k, -2.0f, g);
    for (int64_t r = 0; r < nb; r++) {
      const float *xr = xb + r * d;
      double xn = j->xnorm ? (double)j->xnorm[r0 + r] : sqrt(sqnorm(xr, d)) * (1.0 + 1e-12);
      int m = j->nnz ? j->nnz[r0 + r] : count_nonzero(xr, d);
      j->labels[r0 + r] =
          decide_row(&z, xr, g + r * k, xn, m, j->dist ? j->dist + r0 + r : NULL);
    }
  }
done:
  if (rc != KMEANS_OK) {
    int ok = KMEANS_OK;
    atomic_compare_exchange_strong(&j->rc, &ok, rc);
  }
  free(g);
  free(z.cn2);
  free(z.cand);
  free(z.ecand);
  free(z.chunks);
  product_free(&pr);
}

static int assign_blocked(Team *team, const float *x, const float *xnorm, const int32_t *nnz,
                          const uint8_t *mask, int64_t n, int d, const float *c,
                          const float *cnorm, int k, int32_t *labels, double *dist,
                          const KmeansConfig *cfg) {
  AssignJob j = {.x = x, .xnorm = xnorm, .nnz = nnz, .mask = mask, .n = n, .d = d, .k = k,
                 .c = c, .cnorm = cnorm, .labels = labels, .dist = dist, .cfg = cfg};
  atomic_init(&j.stop, 0);
  atomic_init(&j.rc, KMEANS_OK);
  team_run(team, assign_member, &j);
  return atomic_load(&j.rc);
}

int kmeans_assign(const float *x, int64_t n, int d, const float *c,
                  const float *cnorm, int k, int32_t *labels, double *dist) {
  if (n <= 0) return KMEANS_OK;
  return assign_blocked(NULL, x, NULL, NULL, NULL, n, d, c, cnorm, k, labels, dist, NULL);
}

/* k-means++ (one candidate per step), with the distances to new centres
** applied in batches.  d2[i] holds the squared distance from x_i to its
** nearest applied centre; the centres chosen since (pending, at most
** KM_PENDING) are applied all at once by one sgemm over the rows, so the
** rows are read once per batch rather than once per centre.  Meanwhile a
** draw proposes x_i with probability d2[i] / total (binary search in the
** prefix sums) and accepts it with probability d2'(i) / d2[i], d2'(i) being
** the distance to the nearest of the applied and pending centres (exact,
** against the pending ones): rejection sampling, so every accepted point
** has probability exactly proportional to d2', as plain k-means++ wants.
** A batch is applied early when its proposals grow costly. */
#define KM_PENDING 48

/* A team member's scratch for scanning its blocks of rows. */
typedef struct {
  float *dots; /* rows_per_block x KM_PENDING */
  Product pr;
  /* Pruned greedy scans (product_listed). */
  float *xg;    /* rows_per_block x (d, or KM_BLOCK for block-sparse rows) */
  float *tmp;   /* rows_per_block x KM_PENDING, one sgemm's product */
  int32_t *idx; /* rows_per_block: the rows listed (offsets in the block) */
  int32_t *pos; /* rows_per_block: a row's place among them, or -1 */
  int32_t *src; /* rows_per_block: the rows of one sgemm */
} ScanLane;

/* Pruned greedy scans.  A candidate c can only lower d2[i] if it is
** closer to x_i than x_i's nearest centre a so far: by the triangle
** inequality it cannot when |c - a| >= 2 |x_i - a|.  Both sides are
** bounded with KM_SLACK (|x|^2 + |c|^2), at least 8 times sgemm's
** rounding error of a distance, so a row is skipped only when its
** float distance to every candidate would come out >= d2[i], leaving
** d2 as it is: the rows computed get the very numbers of an unpruned
** scan, the rows skipped the numbers it would have kept.  The rows
** computed are gathered for sgemm in calls of at least KM_GATHER_MIN
** rows (product_listed): OpenBLAS multiplies small products with other
** kernels, whose float bits differ from a large product's. */
#define KM_SLACK(d) (8.0 * ((d) + 8) * 5.9604644775390625e-08)
#define KM_GATHER_MIN 1024

typedef struct {
  const float *x;
  int64_t n;
  int d;
  const float *xn2; /* |x_i|^2 */
  double *d2, *cum;
  float *cand_d2; /* greedy seeding: n x trials, d2 if each candidate were added */
  /* Pruned greedy scans (prune 0: every row scanned). */
  int prune;
  int32_t *near;     /* n: a centre within d2[i] (and rounding) of x_i */
  uint64_t *lowered; /* n: bit p set when candidate p lowered d2[i] */
  double *reach;     /* KM_PENDING x k: lower bounds of |c_p - centre a| */
  float *reach_dots; /* trials x k: c_p . centre a */
  int k;
  double xmax2;      /* max |x_i|^2 */
  _Atomic int64_t skipped; /* rows skipped, over all scans */
  int64_t rows_per_block;
  Team *team;     /* NULL: the caller alone */
  ScanLane *lane; /* one per member */
  /* the scan under way */
  const float *c;
  int np, want_pot;
  float cn[KM_PENDING];
} PlusPlus;

/* Member id's share of a scan: whole blocks of rows_per_block rows, the
** same blocks (so the same sgemm calls, whose float products can steer a
** draw) whatever the team size. */
/* Pruned scan: lists in ln->idx the rows of the block some candidate may
** bring closer (ln->pos[r]: row r's place in that list, or -1) and gives
** the others their unchanged d2 as every candidate's; returns the count. */
static int64_t select_rows(PlusPlus *pp, ScanLane *ln, int64_t r0, int64_t nb) {
  int np = pp->np, k = pp->k;
  double slack = KM_SLACK(pp->d);
  int64_t cnt = 0;
  for (int64_t r = 0; r < nb; r++) {
    int64_t i = r0 + r;
    double best = pp->d2[i];
    const double *reach = pp->reach + pp->near[i];
    double twice = 2.0 * sqrt(best * (1.0 + 0x1p-20) + slack * ((double)pp->xn2[i] + pp->xmax2));
    int p = 0;
    while (p < np && reach[(int64_t)p * k] >= twice) p++;
    if (p < np) {
      ln->pos[r] = (int32_t)cnt;
      ln->idx[cnt++] = (int32_t)r;
      continue;
    }
    ln->pos[r] = -1;
    for (p = 0; p < np; p++) pp->cand_d2[i * np + p] = (float)best;
    pp->lowered[i] = 0;
  }
  atomic_fetch_add(&pp->skipped, nb - cnt);
  return cnt;
}

/* g (cnt x np) = x c^T for the rows listed by select_rows.  Column block
** by column block as product_rows (one block of width d for dense rows),
** each sgemm on the listed rows holding a nonzero there, topped up in
** row order with unlisted ones (whose products are dropped) to the
** smaller of KM_GATHER_MIN and all the rows holding one: the very call of
** an unpruned scan when those are fewer, a call of regular size
** otherwise, so every product keeps the float bits of an unpruned scan. */
static void product_listed(PlusPlus *pp, ScanLane *ln, int64_t r0, int64_t nb, int64_t cnt,
                           float *g) {
  int d = pp->d, np = pp->np;
  const Product *pr = &ln->pr;
  int nbk = pr->nbk > 0 ? pr->nbk : 1;
  memset(g, 0, (size_t)cnt * (size_t)np * sizeof(float));
  for (int b = 0; b < nbk; b++) {
    int j0 = pr->nbk > 0 ? b * KM_BLOCK : 0;
    int w = pr->nbk > 0 ? (d - j0 < KM_BLOCK ? d - j0 : KM_BLOCK) : d;
    const uint8_t *m = pr->nbk > 0 ? pr->mask + r0 * nbk + b : NULL;
    int64_t holding = 0, seen = 0, used = 0;
    for (int64_t r = 0; r < nb; r++) holding += m == NULL || m[r * nbk];
    int64_t target = holding < KM_GATHER_MIN ? holding : KM_GATHER_MIN;
    for (int64_t r = 0; r < nb; r++) {
      if (m && !m[r * nbk]) continue;
      seen++;
      if (ln->pos[r] < 0 && holding - seen + 1 > target - used) continue;
      memcpy(ln->xg + used * w, pp->x + (r0 + r) * d + j0, (size_t)w * sizeof(float));
      ln->src[used++] = (int32_t)r;
    }
    if (used == 0) continue;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)used, np, w, 1.0f, ln->xg, w,
                pp->c + j0, d, 0.0f, ln->tmp, np);
    for (int64_t q = 0; q < used; q++) {
      int32_t at = ln->pos[ln->src[q]];
      if (at < 0) continue;
      for (int p = 0; p < np; p++) g[(int64_t)at * np + p] += ln->tmp[q * np + p];
    }
  }
}

static void scan_member(void *arg, int id, int nt) {
  PlusPlus *pp = arg;
  int d = pp->d, np = pp->np;
  const float *c = pp->c;
  const float *cn = pp->cn;
  ScanLane *ln = &pp->lane[id];
  int prune = pp->prune && pp->want_pot;
  size_t nblocks = (size_t)((pp->n + pp->rows_per_block - 1) / pp->rows_per_block), blo, bhi;
  team_share(nblocks, 1, id, nt, &blo, &bhi);
  for (size_t blk = blo; blk < bhi; blk++) {
    int64_t r0 = (int64_t)blk * pp->rows_per_block;
    int64_t nb = pp->n - r0 < pp->rows_per_block ? pp->n - r0 : pp->rows_per_block;
    const float *xb = pp->x + r0 * d;
    int64_t cnt = nb;
    if (prune) {
      cnt = select_rows(pp, ln, r0, nb);
      if (cnt > 0) product_listed(pp, ln, r0, nb, cnt, ln->dots);
    } else {
      product_rows(&ln->pr, pp->x, r0, nb, d, c, np, 1.0f, ln->dots);
    }
    for (int64_t q = 0; q < cnt; q++) {
      int64_t r = prune ? ln->idx[q] : q, i = r0 + r;
      double best = pp->d2[i];
      uint64_t lowered = 0;
      /* Float distances are off by about d 2^-24 (|x|^2 + |c|^2) at most;
      ** below that the exact one is taken, so coincident points get 0. */
      float xn = pp->xn2[i];
      for (int p = 0; p < np; p++) {
        float e = xn + cn[p] - 2.0f * ln->dots[q * np + p];
        double ed = e;
        if (ed <= 4.0 * (d + 4) * KM_U * ((double)xn + cn[p]))
          ed = kmeans_sqdist(xb + r * d, c + (int64_t)p * d, d);
        if (pp->want_pot) {
          pp->cand_d2[i * np + p] = (float)(ed < best ? ed : best);
          lowered |= (uint64_t)(ed < best) << p;
        } else if (ed < best) {
          best = ed;
        }
      }
      pp->d2[i] = best;
      if (pp->lowered) pp->lowered[i] = lowered;
    }
  }
}

/* reach[p k + a] = a lower bound of |c_p - centre a| for the np
** candidates c (rows cand_rows of x) and the j centres so far (rows rows),
** from one sgemm and the rounding bound KM_SLACK. */
static void candidate_reach(PlusPlus *pp, const float *c, const int64_t *cand_rows, int np,
                            const float *centroids, const int64_t *rows, int j) {
  int d = pp->d, k = pp->k;
  double slack = KM_SLACK(d);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, np, j, d, 1.0f, c, d, centroids, d,
              0.0f, pp->reach_dots, j);
  for (int p = 0; p < np; p++) {
    double cp = pp->xn2[cand_rows[p]];
    for (int a = 0; a < j; a++) {
      double ca = pp->xn2[rows[a]];
      double e = cp + ca - 2.0 * (double)pp->reach_dots[(int64_t)p * j + a] -
                 slack * (cp + ca);
      pp->reach[(int64_t)p * k + a] = e > 0.0 ? sqrt(e) * (1.0 - 1e-6) : 0.0;
    }
  }
}

/* Squared distances of the rows to the centres c[0 .. np-1], with one
** sgemm per block of rows, the blocks shared among the team.  pot ==
** NULL: the centres are applied, d2[i] becoming the distance to the
** nearest centre so far.  Otherwise d2 stays as it is, cand_d2[i np + p]
** gets min(d2[i], |x_i - c_p|^2) and pot[p] its sum over the rows, added
** in row order: the potential if c_p were added (the greedy seeding's
** candidates). */
static void scan_centres(PlusPlus *pp, const float *c, int np, double *pot) {
  int d = pp->d;
  for (int p = 0; p < np; p++) pp->cn[p] = (float)sqnorm(c + (int64_t)p * d, d);
  pp->c = c;
  pp->np = np;
  pp->want_pot = pot != NULL;
  team_run(pp->team, scan_member, pp);
  if (pot == NULL) return;
  for (int p = 0; p < np; p++) pot[p] = 0.0;
  for (int64_t i = 0; i < pp->n; i++)
    for (int p = 0; p < np; p++) pot[p] += pp->cand_d2[i * np + p];
}

/* Zeroes d2 at the rows of the np new centres and rebuilds the prefix
** sums; returns the total. */
static double settle_centres(PlusPlus *pp, const int64_t *rows, int np) {
  for (int p = 0; p < np; p++) pp->d2[rows[p]] = 0.0;
  double total = 0.0;
  for (int64_t i = 0; i < pp->n; i++) {
    total += pp->d2[i];
    pp->cum[i] = total;
  }
  return total;
}

/* Applies centres c[0 .. np-1] (rows rows[0 .. np-1] of x) to d2 and
** rebuilds the prefix sums; returns the total. */
static double apply_centres(PlusPlus *pp, const float *c, const int64_t *rows, int np) {
  scan_centres(pp, c, np, NULL);
  return settle_centres(pp, rows, np);
}

/* The first i with cum[i] > t; when rounding put t at the very end, the
** last point of positive weight. */
static int64_t search_cum(const double *cum, int64_t n, double t) {
  int end = !(t < cum[n - 1]);
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (end ? cum[mid] >= cum[n - 1] : cum[mid] > t)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

/* Plain k-means++ (one candidate per step), centres applied in batches
** with the rejection step described above PlusPlus. */
static int plain_steps(PlusPlus *pp, Rng *rng, const KmeansConfig *cfg, float *centroids,
                       int64_t *rows) {
  const float *x = pp->x;
  int64_t n = pp->n;
  int d = pp->d, k = cfg->k;
  int64_t pick = (int64_t)rng_below(rng, (uint64_t)n);
  int first = 0;        /* centres first .. j-1 are pending */
  double total = 0.0;   /* of d2, over the applied centres */
  int64_t effort = 0;   /* pending distances computed since the last apply */
  for (int j = 0; j < k; j++) {
    memcpy(centroids + (int64_t)j * d, x + pick * d, (size_t)d * sizeof(float));
    rows[j] = pick;
    if (j + 1 == k) break;
    if ((j & 7) == 0 && cfg->should_stop && cfg->should_stop(cfg->arg)) return KMEANS_ABORTED;
    for (;;) {
      int np = j + 1 - first;
      if (np > 0 && (j == 0 || np == KM_PENDING || effort > n / 16 + 64 || total <= 0.0)) {
        total = apply_centres(pp, centroids + (int64_t)first * d, rows + first, np);
        first = j + 1;
        np = 0;
        effort = 0;
      }
      if (total <= 0.0) {
        /* Every point sits on a centre (fewer distinct points than k). */
        pick = (int64_t)rng_below(rng, (uint64_t)n);
        break;
      }
      int64_t i = search_cum(pp->cum, n, rng_uniform(rng) * total);
      if (np == 0) {
        pick = i;
        break;
      }
      double w = pp->d2[i], e = w;
      const float *xi = x + i * d;
      for (int p = first; p <= j && e > 0.0; p++) {
        double t = rows[p] == i ? 0.0 : kmeans_sqdist(xi, centroids + (int64_t)p * d, d);
        e = t < e ? t : e;
      }
      effort += np;
      if (rng_uniform(rng) * w < e) {
        pick = i;
        break;
      }
    }
  }
  return KMEANS_OK;
}

/* Candidates per greedy step: 2 + floor(ln k), as scikit-learn. */
static int greedy_trials(int k) { return 2 + (int)log((double)k); }

/* Greedy k-means++ (scikit-learn's): the first centre uniform; each next
** one the best of greedy_trials(k) points drawn with probability
** proportional to d2, the one whose addition leaves the smallest
** potential sum_i d2[i] (ties to the earlier draw).  Every step scans the
** rows once for all candidates (one sgemm per block), keeping what d2
** would become with each (cand_d2: trials floats a row), so the winner's
** is taken from there rather than from a second scan. */
static int greedy_steps(PlusPlus *pp, Rng *rng, const KmeansConfig *cfg, float *centroids,
                        int64_t *rows, float *cand) {
  const float *x = pp->x;
  int64_t n = pp->n;
  int d = pp->d, k = cfg->k, trials = greedy_trials(k);
  int64_t cand_rows[KM_PENDING];
  double pot[KM_PENDING];
  int64_t pick = (int64_t)rng_below(rng, (uint64_t)n);
  memcpy(centroids, x + pick * d, (size_t)d * sizeof(float));
  rows[0] = pick;
  double total = apply_centres(pp, centroids, rows, 1);
  for (int j = 1; j < k; j++) {
    if (cfg->should_stop && cfg->should_stop(cfg->arg)) return KMEANS_ABORTED;
    if (total <= 0.0) {
      /* Every point sits on a centre (fewer distinct points than k). */
      pick = (int64_t)rng_below(rng, (uint64_t)n);
      memcpy(centroids + (int64_t)j * d, x + pick * d, (size_t)d * sizeof(float));
      rows[j] = pick;
      continue;
    }
    for (int t = 0; t < trials; t++) {
      cand_rows[t] = search_cum(pp->cum, n, rng_uniform(rng) * total);
      memcpy(cand + (int64_t)t * d, x + cand_rows[t] * d, (size_t)d * sizeof(float));
    }
    if (pp->prune) candidate_reach(pp, cand, cand_rows, trials, centroids, rows, j);
    scan_centres(pp, cand, trials, pot);
    int best = 0;
    for (int t = 1; t < trials; t++)
      if (pot[t] < pot[best]) best = t;
    memcpy(centroids + (int64_t)j * d, cand + (int64_t)best * d, (size_t)d * sizeof(float));
    rows[j] = cand_rows[best];
    for (int64_t i = 0; i < n; i++) pp->d2[i] = pp->cand_d2[i * trials + best];
    if (pp->prune)
      for (int64_t i = 0; i < n; i++)
        if (pp->lowered[i] >> best & 1) pp->near[i] = j;
    total = settle_centres(pp, rows + j, 1);
  }
  return KMEANS_OK;
}

static int init_plus_plus(Team *team, const float *x, int64_t n, int d, const float *xn2,
                          const uint8_t *mask, const KmeansConfig *cfg, uint64_t seed,
                          float *centroids, int64_t *skipped) {
  int k = cfg->k, nt = team_size(team);
  int greedy = cfg->seeding == KMEANS_SEED_GREEDY;
  PlusPlus pp = {.x = x, .n = n, .d = d, .xn2 = xn2, .team = team};
  pp.rows_per_block = KMEANS_BLOCK_FLOATS / KM_PENDING;
  if (pp.rows_per_block > n) pp.rows_per_block = n;
  pp.d2 = malloc((size_t)n * sizeof(double));
  pp.cum = malloc((size_t)n * sizeof(double));
  pp.lane = calloc((size_t)nt, sizeof *pp.lane);
  int64_t *rows = malloc((size_t)k * sizeof(int64_t));
  float *cand = greedy ? malloc((size_t)greedy_trials(k) * (size_t)d * sizeof(float)) : NULL;
  pp.cand_d2 = greedy ? malloc((size_t)n * (size_t)greedy_trials(k) * sizeof(float)) : NULL;
  int rc = pp.lane ? KMEANS_OK : KMEANS_NOMEM;
  pp.prune = greedy && !cfg->exhaustive;
  pp.k = k;
  if (pp.prune) {
    int trials = greedy_trials(k);
    pp.near = calloc((size_t)n, sizeof *pp.near); /* all near the first centre */
    pp.lowered = malloc((size_t)n * sizeof *pp.lowered);
    pp.reach = malloc((size_t)KM_PENDING * (size_t)k * sizeof *pp.reach);
    pp.reach_dots = malloc((size_t)trials * (size_t)k * sizeof *pp.reach_dots);
    if (!pp.near || !pp.lowered || !pp.reach || !pp.reach_dots) rc = KMEANS_NOMEM;
    for (int64_t i = 0; i < n; i++) pp.xmax2 = xn2[i] > pp.xmax2 ? xn2[i] : pp.xmax2;
  }
  for (int t = 0; t < nt && rc == KMEANS_OK; t++) {
    ScanLane *ln = &pp.lane[t];
    rc = product_init(&ln->pr, mask, d, pp.rows_per_block, KM_PENDING);
    ln->dots = malloc((size_t)pp.rows_per_block * KM_PENDING * sizeof(float));
    if (pp.prune) {
      int w = mask ? KM_BLOCK : d;
      ln->xg = malloc((size_t)pp.rows_per_block * (size_t)w * sizeof(float));
      ln->tmp = malloc((size_t)pp.rows_per_block * KM_PENDING * sizeof(float));
      ln->idx = malloc((size_t)pp.rows_per_block * sizeof(int32_t));
      ln->pos = malloc((size_t)pp.rows_per_block * sizeof(int32_t));
      ln->src = malloc((size_t)pp.rows_per_block * sizeof(int32_t));
    }
    if (!ln->dots || (pp.prune && (!ln->xg || !ln->tmp || !ln->idx || !ln->pos || !ln->src)))
      rc = KMEANS_NOMEM;
  }
  if (rc != KMEANS_OK || !pp.d2 || !pp.cum || !rows || (greedy && (!cand || !pp.cand_d2))) {
    rc = KMEANS_NOMEM;
    goto done;
  }
  for (int64_t i = 0; i < n; i++) pp.d2[i] = INFINITY;
  atomic_init(&pp.skipped, 0);
  Rng rng;
  rng_seed(&rng, seed, KMEANS_RNG_STREAM);
  rc = greedy ? greedy_steps(&pp, &rng, cfg, centroids, rows, cand)
              : plain_steps(&pp, &rng, cfg, centroids, rows);
  *skipped = atomic_load(&pp.skipped);
done:
  free(pp.d2);
  free(pp.cum);
  for (int t = 0; pp.lane && t < nt; t++) {
    free(pp.lane[t].dots);
    free(pp.lane[t].xg);
    free(pp.lane[t].tmp);
    free(pp.lane[t].idx);
    free(pp.lane[t].pos);
    free(pp.lane[t].src);
    product_free(&pp.lane[t].pr);
  }
  free(pp.near);
  free(pp.lowered);
  free(pp.reach);
  free(pp.reach_dots);
  free(pp.lane);
  free(rows);
  free(cand);
  free(pp.cand_d2);
  return rc;
}

/* Means of the clusters of labels; an empty cluster takes the point
** farthest from its own centroid (dist), moved out of its cluster. */
static int update_centroids(const float *x, const uint8_t *mask, int64_t n, int d, int k,
                            const int32_t *labels, double *dist,
                            float *centroids, int64_t *counts,
                            int64_t *reseeded) {
  double *sums = calloc((size_t)k * (size_t)d, sizeof(double));
  if (sums == NULL) return KMEANS_NOMEM;
  memset(counts, 0, (size_t)k * sizeof *counts);
  for (int64_t i = 0; i < n; i++) {
    const float *xi = x + i * d;
    double *s = sums + (int64_t)labels[i] * d;
    if (mask) {
      /* Adding a zero leaves a sum as it is: the empty blocks are skipped. */
      int nbk = (d + KM_BLOCK - 1) / KM_BLOCK;
      for (int b = 0; b < nbk; b++) {
        if (!mask[i * nbk + b]) continue;
        int e = (b + 1) * KM_BLOCK < d ? (b + 1) * KM_BLOCK : d;
        for (int j = b * KM_BLOCK; j < e; j++) s[j] += (double)xi[j];
      }
    } else {
      for (int j = 0; j < d; j++) s[j] += (double)xi[j];
    }
    counts[labels[i]]++;
  }
  for (int e = 0; e < k; e++) {
    if (counts[e] > 0) continue;
    int64_t far = -1;
    for (int64_t i = 0; i < n; i++) {
      if (dist[i] < 0.0 || counts[labels[i]] < 2) continue;
      if (far < 0 || dist[i] > dist[far]) far = i;
    }
    if (far < 0) break; /* k > n cannot happen; nothing left to move */
    const float *xf = x + far * d;
    double *from = sums + (int64_t)labels[far] * d;
    double *to = sums + (int64_t)e * d;
    for (int j = 0; j < d; j++) {
      from[j] -= (double)xf[j];
      to[j] = (double)xf[j];
    }
    counts[labels[far]]--;
    counts[e] = 1;
    dist[far] = -1.0; /* not twice */
    (*reseeded)++;
  }
  for (int c = 0; c < k; c++) {
    if (counts[c] == 0) continue; /* keep the old centroid */
    float *dst = centroids + (int64_t)c * d;
    const double *s = sums + (int64_t)c * d;
    for (int j = 0; j < d; j++) dst[j] = (float)(s[j] / (double)counts[c]);
  }
  free(sums);
  return KMEANS_OK;
}

uint64_t kmeans_restart_seed(uint64_t seed, int restart) {
  if (restart == 0) return seed;
  /* splitmix64's finaliser of seed + restart * golden ratio: restarts of
  ** nearby seeds draw unrelated streams. */
  uint64_t z = seed + (uint64_t)restart * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* What every start shares: the rows' norms, nonzero counts and block
** mask, computed once, and the scratch of the Lloyd iterations. */
typedef struct {
  float *xnorm;  /* |x_i|, rounded up */
  float *xn2;    /* |x_i|^2 */
  int32_t *nnz;  /* nonzero floats of x_i */
  uint8_t *mask; /* block mask, or NULL: rows multiplied whole */
  int32_t *lab, *prev;
  double *dist;
  float *cnorm;
  int64_t *counts;
  Team *team; /* the passes' threads (team.h); NULL: the caller alone */
} Fit;

/* One start: seeding from seed, then Lloyd iterations; centroids and
** f->lab get its result. */
static int fit_once(const float *x, int64_t n, int d, const KmeansConfig *cfg, uint64_t seed,
                    Fit *f, float *centroids, KmeansResult *res) {
  int k = cfg->k;
  memset(res, 0, sizeof *res);
  int rc = init_plus_plus(f->team, x, n, d, f->xn2, f->mask, cfg, seed, centroids,
                          &res->seed_skipped);
  if (rc != KMEANS_OK) return rc;
  kmeans_centroid_norms(centroids, k, d, f->cnorm);
  rc = assign_blocked(f->team, x, f->xnorm, f->nnz, f->mask, n, d, centroids, f->cnorm, k, f->lab,
                      f->dist, cfg);
  if (rc != KMEANS_OK) return rc;
  double inertia = 0.0;
  for (int64_t i = 0; i < n; i++) inertia += f->dist[i];
  res->inertia = inertia;
  if (cfg->progress && cfg->progress(cfg->arg, 0, inertia, n)) return KMEANS_ABORTED;
  for (int it = 1; it <= cfg->max_iter; it++) {
    rc = update_centroids(x, f->mask, n, d, k, f->lab, f->dist, centroids, f->counts,
                          &res->reseeded);
    if (rc != KMEANS_OK) return rc;
    kmeans_centroid_norms(centroids, k, d, f->cnorm);
    int32_t *t = f->prev;
    f->prev = f->lab;
    f->lab = t;
    rc = assign_blocked(f->team, x, f->xnorm, f->nnz, f->mask, n, d, centroids, f->cnorm, k, f->lab,
                        f->dist, cfg);
    if (rc != KMEANS_OK) return rc;
    int64_t changed = 0;
    inertia = 0.0;
    for (int64_t i = 0; i < n; i++) {
      changed += f->lab[i] != f->prev[i];
      inertia += f->dist[i];
    }
    res->iterations = it;
    res->inertia = inertia;
    res->converged = changed == 0;
    if (cfg->progress && cfg->progress(cfg->arg, it, inertia, changed)) return KMEANS_ABORTED;
    if (changed == 0) break;
  }
  return KMEANS_OK;
}

int kmeans_fit(const float *x, int64_t n, int d, const KmeansConfig *cfg,
               float *centroids, int32_t *labels, int64_t *sizes,
               KmeansResult *res) {
  memset(res, 0, sizeof *res);
  if (cfg->k < 1 || n < cfg->k || d < 1 || cfg->max_iter < 0 || cfg->n_init < 0 ||
      (cfg->seeding != KMEANS_SEED_GREEDY && cfg->seeding != KMEANS_SEED_PLAIN))
    return KMEANS_BADARG;
  int k = cfg->k, n_init = cfg->n_init > 0 ? cfg->n_init : 1;
  Fit f = {0};
  f.lab = malloc((size_t)n * sizeof *f.lab);
  f.prev = malloc((size_t)n * sizeof *f.prev);
  f.dist = malloc((size_t)n * sizeof *f.dist);
  f.cnorm = malloc((size_t)k * sizeof *f.cnorm);
  f.counts = malloc((size_t)k * sizeof *f.counts);
  f.xnorm = malloc((size_t)n * sizeof *f.xnorm);
  f.xn2 = malloc((size_t)n * sizeof *f.xn2);
  f.nnz = malloc((size_t)n * sizeof *f.nnz);
  int nbk = (d + KM_BLOCK - 1) / KM_BLOCK;
  f.mask = nbk >= 4 ? malloc((size_t)n * (size_t)nbk) : NULL;
  /* With restarts, each runs in its own buffers and the best is copied
  ** out; a single start writes straight into the caller's. */
  float *trial = n_init > 1 ? malloc((size_t)k * (size_t)d * sizeof(float)) : centroids;
  int32_t *best_lab = n_init > 1 ? malloc((size_t)n * sizeof *best_lab) : NULL;
  /* A team for the passes over the rows; without one (no thread could be
  ** started) the caller runs them alone, with the same results. */
  int threads = team_default_size();
  f.team = threads > 1 && n >= 2 * threads ? team_new(threads) : NULL;
  int rc = KMEANS_NOMEM;
  if (!f.lab || !f.prev || !f.dist || !f.cnorm || !f.counts || !f.xnorm || !f.xn2 ||
      !f.nnz || !trial || (n_init > 1 && !best_lab))
    goto done;
  int64_t blocks_nonzero = 0;
  for (int64_t i = 0; i < n; i++) {
    const float *xi = x + i * d;
    double q = sqnorm(xi, d);
    f.xn2[i] = (float)q;
    /* Rounded up a little: it only widens the shortlist tolerance. */
    f.xnorm[i] = (float)(sqrt(q) * (1 + 1e-6));
    int m = 0;
    for (int b = 0; b < nbk; b++) {
      int j0 = b * KM_BLOCK, w = d - j0 < KM_BLOCK ? d - j0 : KM_BLOCK;
      int mb = count_nonzero(xi + j0, w);
      m += mb;
      blocks_nonzero += mb > 0;
      if (f.mask) f.mask[i * nbk + b] = mb > 0;
    }
    f.nnz[i] = m;
  }
  /* Block by block only pays when most blocks are empty. */
  if (f.mask && blocks_nonzero > (int64_t)n * nbk / 2) {
    free(f.mask);
    f.mask = NULL;
  }

  for (int r = 0; r < n_init; r++) {
    KmeansResult one;
    rc = fit_once(x, n, d, cfg, kmeans_restart_seed(cfg->seed, r), &f, trial, &one);
    if (rc != KMEANS_OK) goto done;
    /* The lowest inertia wins; ties keep the earlier start. */
    if (r > 0 && !(one.inertia < res->inertia)) continue;
    *res = one;
    res->restart = r;
    if (n_init > 1) {
      memcpy(centroids, trial, (size_t)k * (size_t)d * sizeof(float));
      memcpy(best_lab, f.lab, (size_t)n * sizeof *best_lab);
    }
  }
  const int32_t *lab = n_init > 1 ? best_lab : f.lab;
  if (labels) memcpy(labels, lab, (size_t)n * sizeof *lab);
  if (sizes) {
    memset(sizes, 0, (size_t)k * sizeof *sizes);
    for (int64_t i = 0; i < n; i++) sizes[lab[i]]++;
  }
  rc = KMEANS_OK;
done:
  free(f.lab);
  free(f.prev);
  free(f.dist);
  free(f.cnorm);
  free(f.counts);
  free(f.xnorm);
  free(f.xn2);
  free(f.nnz);
  free(f.mask);
  if (n_init > 1) free(trial);
  free(best_lab);
  team_free(f.team);
  return rc;
}
