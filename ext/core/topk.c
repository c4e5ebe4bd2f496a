/* topk.c - exact nearest items by cosine similarity or inner product (see topk.h). */
#include "topk.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

/* Scratch for one block of scores: 4 Mi floats (16 MiB) whatever nq. */
#define TOPK_SCRATCH_FLOATS ((int64_t)1 << 22)

void topk_normalize_rows(float *m, int64_t n, int d) {
  for (int64_t i = 0; i < n; i++) vec_normalize(m + i * (int64_t)d, (size_t)d);
}

/* |v| in double. */
static double norm2(const float *v, int d) {
  double s = 0.0;
  for (int j = 0; j < d; j++) s += (double)v[j] * (double)v[j];
  return sqrt(s);
}

double topk_max_norm(const float *items, int64_t n, int d) {
  double mx = 0.0;
  for (int64_t i = 0; i < n; i++) {
    double e = norm2(items + i * (int64_t)d, d);
    mx = e > mx ? e : mx;
  }
  return mx;
}

/* How far an sgemm score can be from the exact dot product of the same
** float vectors, plus one float ulp of the largest score, for a query of
** norm qn against items of norm at most xmax.  sgemm sums d products in
** some order (blocked, FMA or not): |float - exact| <= gamma_d sum_j
** |q_j x_j| <= gamma_d |q| |x| (Cauchy-Schwarz; gamma_d = d u / (1 - d u),
** u = 2^-24), and an underflowing product adds at most 2^-150.  The
** shortlist keeps every item whose float score is within twice that of
** the k-th (its own error and the k-th's), with room for the rounding of
** the bound and of the comparison; the ulp covers the exact scores being
** ranked once rounded to float.  Unit vectors (cosine) give the bound
** 2 (d + 4) u + 2^-23. */
static float shortlist_tol(int d, double qn, double xmax) {
  double scale = qn * xmax * (1.0 + 1e-6);
  return (float)((2.0 * (d + 4) / 16777216.0 + 1.0 / 8388608.0) * scale +
                 2.0 * (d + 4) * 0x1p-149);
}

int64_t topk_block_rows(int64_t nq, int64_t n) {
  int64_t b = TOPK_SCRATCH_FLOATS / (n > 0 ? n : 1);
  if (b < 1) b = 1;
  if (b > nq) b = nq;
  return b;
}

/* Heap order: a is worse than b when it scores lower, or the same with a
** larger index.  The root of the heap is the worst item kept. */
static int worse(float sa, int32_t ia, float sb, int32_t ib) {
  return sa < sb || (sa == sb && ia > ib);
}

static void sift_down(float *hs, int32_t *hi, int m, int p) {
  float s = hs[p];
  int32_t i = hi[p];
  for (;;) {
    int c = 2 * p + 1;
    if (c >= m) break;
    if (c + 1 < m && worse(hs[c + 1], hi[c + 1], hs[c], hi[c])) c++;
    if (!worse(hs[c], hi[c], s, i)) break;
    hs[p] = hs[c];
    hi[p] = hi[c];
    p = c;
  }
  hs[p] = s;
  hi[p] = i;
}

void topk_select(const float *scores, int64_t n, int k, int32_t *out_idx,
                 float *out_score, float *heap_s, int32_t *heap_i) {
  int m = n < (int64_t)k ? (int)n : k;
  if (m <= 0) return;
  for (int j = 0; j < m; j++) {
    heap_s[j] = scores[j];
    heap_i[j] = j;
  }
  for (int p = m / 2 - 1; p >= 0; p--) sift_down(heap_s, heap_i, m, p);
  /* Items come in increasing index order, so one that only ties the root
  ** is worse than it: a strict comparison is the whole test. */
  float thr = heap_s[0];
  int64_t i = m;
  for (; i + 16 <= n; i += 16) {
    /* Sixteen independent lanes: compiles to packed max, and most chunks
    ** of a large table hold nothing better than the current k-th. */
    float mx[16];
    for (int l = 0; l < 16; l++) mx[l] = scores[i + l];
    for (int w = 8; w >= 1; w /= 2)
      for (int l = 0; l < w; l++) mx[l] = mx[l] > mx[l + w] ? mx[l] : mx[l + w];
    if (!(mx[0] > thr)) continue;
    for (int l = 0; l < 16; l++) {
      float s = scores[i + l];
      if (s > thr) {
        heap_s[0] = s;
        heap_i[0] = (int32_t)(i + l);
        sift_down(heap_s, heap_i, m, 0);
        thr = heap_s[0];
      }
    }
  }
  for (; i < n; i++) {
    float s = scores[i];
    if (s > thr) {
      heap_s[0] = s;
      heap_i[0] = (int32_t)i;
      sift_down(heap_s, heap_i, m, 0);
      thr = heap_s[0];
    }
  }
  /* Pop the worst into the last free slot: best first. */
  for (int r = m - 1; r >= 0; r--) {
    out_idx[r] = heap_i[0];
    if (out_score) out_score[r] = heap_s[0];
    heap_s[0] = heap_s[r];
    heap_i[0] = heap_i[r];
    sift_down(heap_s, heap_i, r, 0);
  }
}

/* Like sift_down, over exact (double) scores. */
static void sift_down_d(double *hs, int32_t *hi, int m, int p) {
  double s = hs[p];
  int32_t i = hi[p];
  for (;;) {
    int c = 2 * p + 1;
    if (c >= m) break;
    if (c + 1 < m && (hs[c + 1] < hs[c] || (hs[c + 1] == hs[c] && hi[c + 1] > hi[c]))) c++;
    if (!(hs[c] < s || (hs[c] == s && hi[c] > i))) break;
    hs[p] = hs[c];
    hi[p] = hi[c];
    p = c;
  }
  hs[p] = s;
  hi[p] = i;
}

/* Scratch of one query's selection. */
typedef struct {
  float *hs;      /* k */
  int32_t *hi;    /* k, then reused for the exact heap */
  int32_t *cand;  /* n */
  double *exact;  /* n */
} Scratch;

/* The best m of one row.  sgemm's rounding depends on where a row falls in
** its kernel's tiles, so equal items need not get equal float scores: the
** float scores only shortlist every item within the rounding bound of the
** k-th, and the shortlist is ranked by the exact (double) dot product of
** the same float vectors, rounded once to float.  Equal vectors, and any
** items whose reported scores are equal, then rank by smaller index, and
** the answer does not depend on the batch the query came in. */
static void select_exact(const float *scores, const float *q, const float *items,
                         int64_t n, int d, int k, float tol, int32_t *out_idx,
                         float *out_score, Scratch *w) {
  int m = n < (int64_t)k ? (int)n : k;
  /* One pass: a float heap of the m best gives a threshold that only rises,
  ** so every item within tol of the final m-th score is within tol of the
  ** threshold when it is seen; those are kept as candidates. */
  float *hs = w->hs;
  int32_t *hi = w->hi;
  int64_t nc = 0;
  for (int j = 0; j < m; j++) {
    hs[j] = scores[j];
    hi[j] = j;
    w->cand[nc++] = j;
  }
  for (int p = m / 2 - 1; p >= 0; p--) sift_down(hs, hi, m, p);
  float thr = hs[0];
  int64_t i = m;
  for (; i < n; i++) {
    if (((i & 15) == 0) && i + 16 <= n) {
      float mx[16];
      for (int l = 0; l < 16; l++) mx[l] = scores[i + l];
      for (int t = 8; t >= 1; t /= 2)
        for (int l = 0; l < t; l++) mx[l] = mx[l] > mx[l + t] ? mx[l] : mx[l + t];
      if (!(mx[0] >= thr - tol)) {
        i += 15;
        continue;
      }
    }
    float sc = scores[i];
    if (sc >= thr - tol) {
      w->cand[nc++] = (int32_t)i;
      if (sc > thr) {
        hs[0] = sc;
        hi[0] = (int32_t)i;
        sift_down(hs, hi, m, 0);
        thr = hs[0];
      }
    }
  }
  /* Keep the candidates within tol of the final m-th score. */
  int64_t kept = 0;
  for (int64_t c = 0; c < nc; c++)
    if (scores[w->cand[c]] >= thr - tol) w->cand[kept++] = w->cand[c];
  nc = kept;
  for (int64_t c = 0; c < nc; c++) {
    const float *x = items + (int64_t)w->cand[c] * d;
    double dot = 0.0;
    for (int j = 0; j < d; j++) dot += (double)q[j] * (double)x[j];
    /* Rounded to the float the caller sees: equal visible scores rank by
    ** smaller index, whatever sub-float digits the double carried. */
    w->exact[c] = (double)(float)dot;
  }
  /* Heap-select the best m candidates by exact score (ids ascending, so a
  ** tie with the root is worse than it), then pop best first. */
  double *es = w->exact; /* the first m exact scores become the heap */
  for (int j = 0; j < m; j++) hi[j] = w->cand[j];
  for (int p = m / 2 - 1; p >= 0; p--) sift_down_d(es, hi, m, p);
  for (int64_t c = m; c < nc; c++) {
    if (w->exact[c] > es[0]) {
      es[0] = w->exact[c];
      hi[0] = w->cand[c];
      sift_down_d(es, hi, m, 0);
    }
  }
  for (int r = m - 1; r >= 0; r--) {
    out_idx[r] = hi[0];
    if (out_score) out_score[r] = (float)es[0];
    es[0] = es[r];
    hi[0] = hi[r];
    sift_down_d(es, hi, r, 0);
  }
}

/* One selection worker: rows [r0, r1) of the current block. */
typedef struct {
  const float *scores, *q, *items;
  int64_t n, r0, r1, q0;
  int d, k;
  double xmax; /* bound on the item norms; 0: cosine (unit vectors) */
  int32_t *out_idx;
  float *out_score;
  Scratch w;
} Worker;

static void *select_rows(void *arg) {
  Worker *t = arg;
  for (int64_t r = t->r0; r < t->r1; r++) {
    int64_t o = (t->q0 + r) * (int64_t)t->k;
    const float *q = t->q + r * t->d;
    float tol = t->xmax > 0.0 ? shortlist_tol(t->d, norm2(q, t->d), t->xmax)
                              : shortlist_tol(t->d, 1.0, 1.0);
    select_exact(t->scores + r * t->n, q, t->items, t->n, t->d, t->k, tol,
                 t->out_idx + o, t->out_score ? t->out_score + o : NULL, &t->w);
  }
  return NULL;
}

/* One query against every item, the shape of an online request.  sgemm
** would pack the whole item matrix for that one row, and OpenBLAS has no
** fast kernel for it; this reads the matrix once, four items at a time in
** independent sums the compiler vectorises (cloned for AVX-512 and AVX2
** where the toolchain can dispatch at run time).  Its rounding differs
** from sgemm's only within the bound select_exact() allows for any
** summation order, so the answer is the same. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void score_one(const float *q, const float *items, int64_t n, int d, float *scores) {
  enum { LANES = 16 };
  int64_t i = 0;
  int body = d / LANES * LANES;
  for (; i + 4 <= n; i += 4) {
    const float *x0 = items + i * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
    float a0[LANES] = {0}, a1[LANES] = {0}, a2[LANES] = {0}, a3[LANES] = {0};
    for (int j = 0; j < body; j += LANES) {
      for (int l = 0; l < LANES; l++) {
        float w = q[j + l];
        a0[l] += x0[j + l] * w;
        a1[l] += x1[j + l] * w;
        a2[l] += x2[j + l] * w;
        a3[l] += x3[j + l] * w;
      }
    }
    for (int j = body; j < d; j++) {
      a0[0] += x0[j] * q[j];
      a1[0] += x1[j] * q[j];
      a2[0] += x2[j] * q[j];
      a3[0] += x3[j] * q[j];
    }
    for (int w = LANES / 2; w >= 1; w /= 2) {
      for (int l = 0; l < w; l++) {
        a0[l] += a0[l + w];
        a1[l] += a1[l + w];
        a2[l] += a2[l + w];
        a3[l] += a3[l + w];
      }
    }
    scores[i] = a0[0];
    scores[i + 1] = a1[0];
    scores[i + 2] = a2[0];
    scores[i + 3] = a3[0];
  }
  for (; i < n; i++) {
    float t = 0;
    for (int j = 0; j < d; j++) t += items[i * d + j] * q[j];
    scores[i] = t;
  }
}

#define TOPK_THREADS 2

/* Both metrics: xmax 0 scores unit items against normalised copies of
** the queries (cosine), xmax > 0 raw items against the queries as given. */
static int topk_scored(const float *queries, int64_t nq, const float *items, int64_t n,
                       int d, int k, double xmax, int32_t *out_idx, float *out_score) {
  if (nq <= 0 || n <= 0) return 0;
  int m = n < (int64_t)k ? (int)n : k;
  int64_t b = topk_block_rows(nq, n);
  /* Selection is split over threads only when there is enough of it. */
  int nt = (b >= 2 && (double)b * (double)n >= 1e6) ? TOPK_THREADS : 1;
  float *q = malloc((size_t)b * (size_t)d * sizeof(float));
  float *scores = malloc((size_t)b * (size_t)n * sizeof(float));
  Worker wk[TOPK_THREADS];
  int rc = 0;
  memset(wk, 0, sizeof wk);
  for (int t = 0; t < nt; t++) {
    wk[t].w.hs = malloc((size_t)m * sizeof(float));
    wk[t].w.hi = malloc((size_t)m * sizeof(int32_t));
    wk[t].w.cand = malloc((size_t)n * sizeof(int32_t));
    wk[t].w.exact = malloc((size_t)n * sizeof(double));
    if (!wk[t].w.hs || !wk[t].w.hi || !wk[t].w.cand || !wk[t].w.exact) rc = -1;
  }
  if (!q || !scores || rc) {
    rc = -1;
    goto done;
  }
  for (int64_t q0 = 0; q0 < nq; q0 += b) {
    int64_t nb = nq - q0 < b ? nq - q0 : b;
    memcpy(q, queries + q0 * d, (size_t)nb * (size_t)d * sizeof(float));
    if (xmax == 0.0) topk_normalize_rows(q, nb, d);
    if (nb == 1)
      score_one(q, items, n, d, scores);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)n, d,
                  1.0f, q, d, items, d, 0.0f, scores, (int)n);
    pthread_t th[TOPK_THREADS];
    int started[TOPK_THREADS] = {0};
    for (int t = 0; t < nt; t++) {
      Worker *w = &wk[t];
      w->scores = scores;
      w->q = q;
      w->items = items;
      w->n = n;
      w->d = d;
      w->k = k;
      w->xmax = xmax;
      w->q0 = q0;
      w->r0 = nb * t / nt;
      w->r1 = nb * (t + 1) / nt;
      w->out_idx = out_idx;
      w->out_score = out_score;
      /* The last share runs here; a thread that fails to start too. */
      if (t + 1 < nt && pthread_create(&th[t], NULL, select_rows, w) == 0) started[t] = 1;
    }
    for (int t = 0; t < nt; t++)
      if (!started[t]) select_rows(&wk[t]);
    for (int t = 0; t < nt; t++)
      if (started[t]) pthread_join(th[t], NULL);
  }
done:
  free(q);
  free(scores);
  for (int t = 0; t < TOPK_THREADS; t++) {
    free(wk[t].w.hs);
    free(wk[t].w.hi);
    free(wk[t].w.cand);
    free(wk[t].w.exact);
  }
  return rc;
}

int topk_cosine(const float *queries, int64_t nq, const float *items, int64_t n, int d,
                int k, int32_t *out_idx, float *out_score) {
  return topk_scored(queries, nq, items, n, d, k, 0.0, out_idx, out_score);
}

int topk_dot(const float *queries, int64_t nq, const float *items, int64_t n, int d,
             double item_norm_max, int k, int32_t *out_idx, float *out_score) {
  /* All-zero items: every score is 0, and any positive bound holds. */
  double xmax = item_norm_max > 0.0 ? item_norm_max : 1.0;
  return topk_scored(queries, nq, items, n, d, k, xmax, out_idx, out_score);
}
