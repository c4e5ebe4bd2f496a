/* topk.c - exact nearest items by cosine similarity or inner product (see topk.h). */
#include "topk.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "team.h"
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

/* Scores scanned per filter test. */
#define SCAN_LANES 16

/* Whether any of the SCAN_LANES scores at s reaches cut (an ">" test
** can only pass where this one does).  Independent lanes: the compiler
** turns it into a few packed compares. */
static int any_reaches(const float *s, float cut) {
  int any = 0;
  for (int l = 0; l < SCAN_LANES; l++) any |= s[l] >= cut;
  return any;
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
  for (; i + SCAN_LANES <= n; i += SCAN_LANES) {
    /* Most chunks of a large table hold nothing better than the k-th. */
    if (!any_reaches(scores + i, thr)) continue;
    for (int l = 0; l < SCAN_LANES; l++) {
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

/* The exact (double) dot products of q with the items listed in idx,
** rounded to the float the caller sees: equal visible scores then rank by
** smaller index, whatever sub-float digits the double carried.  Four
** items at a time in independent sums, each summed in index order as it
** would be alone (a float product is exact in double, so fused or not
** the sums are the same). */
static void exact_scores(const float *q, const float *items, int d, const int32_t *idx,
                         int64_t nc, double *out) {
  int64_t c = 0;
  for (; c + 4 <= nc; c += 4) {
    const float *x0 = items + (int64_t)idx[c] * d, *x1 = items + (int64_t)idx[c + 1] * d,
                *x2 = items + (int64_t)idx[c + 2] * d, *x3 = items + (int64_t)idx[c + 3] * d;
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
    for (int j = 0; j < d; j++) {
      double w = q[j];
      a0 += w * (double)x0[j];
      a1 += w * (double)x1[j];
      a2 += w * (double)x2[j];
      a3 += w * (double)x3[j];
    }
    out[c] = (double)(float)a0;
    out[c + 1] = (double)(float)a1;
    out[c + 2] = (double)(float)a2;
    out[c + 3] = (double)(float)a3;
  }
  for (; c < nc; c++) {
    const float *x = items + (int64_t)idx[c] * d;
    double dot = 0.0;
    for (int j = 0; j < d; j++) dot += (double)q[j] * (double)x[j];
    out[c] = (double)(float)dot;
  }
}

/* Scratch of one query's selection. */
typedef struct {
  float *hs;      /* k */
  int32_t *hi;    /* k, then reused for the exact heap */
  int32_t *cand;  /* n */
  double *exact;  /* n */
  float *block_max; /* 2 (n / FLOOR_BLOCK): the maxima, and a copy to select in */
} Scratch;

/* Scores per block whose maximum select_exact() takes. */
#define FLOOR_BLOCK 64

/* The largest of the FLOOR_BLOCK scores at s: independent lanes first,
** so the compiler uses packed max. */
static float block_max(const float *s) {
  float acc[16];
  for (int l = 0; l < 16; l++) acc[l] = s[l];
  for (int j = 16; j < FLOOR_BLOCK; j += 16)
    for (int l = 0; l < 16; l++) acc[l] = s[j + l] > acc[l] ? s[j + l] : acc[l];
  float mx = acc[0];
  for (int l = 1; l < 16; l++) mx = acc[l] > mx ? acc[l] : mx;
  return mx;
}

/* The m-th largest of the n values v (1 <= m <= n), reordering v:
** quickselect with a median-of-three pivot. */
static float mth_largest(float *v, int64_t n, int64_t m) {
  int64_t lo = 0, hi = n - 1, want = m - 1;
  while (lo < hi) {
    float a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi];
    float pivot = a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (v[i] > pivot) i++;
      while (v[j] < pivot) j--;
      if (i <= j) {
        float t = v[i];
        v[i++] = v[j];
        v[j--] = t;
      }
    }
    if (want <= j) hi = j;
    else if (want >= i) lo = i;
    else return v[want];
  }
  return v[want];
}

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
  /* A floor under the final m-th score: the m-th largest of the block
  ** maxima (m items, one per block, score at least that much).  Items
  ** below it can be neither among the best m nor within tol of the m-th,
  ** so blocks whose maximum is under floor - tol are skipped unread, and
  ** the heap takes in only items near the final threshold. */
  int64_t nb = n / FLOOR_BLOCK;
  float floor_score = -INFINITY, *pick = w->block_max + nb;
  if (nb >= m) {
    for (int64_t b = 0; b < nb; b++) pick[b] = w->block_max[b] = block_max(scores + b * FLOOR_BLOCK);
    floor_score = mth_largest(pick, nb, m);
  } else {
    nb = 0; /* too few blocks for a floor: none skipped */
  }
  float cut = (thr > floor_score ? thr : floor_score) - tol;
  for (int64_t i = m; i < n; i++) {
    if (i % FLOOR_BLOCK == 0 && i / FLOOR_BLOCK < nb && w->block_max[i / FLOOR_BLOCK] < cut) {
      i += FLOOR_BLOCK - 1;
      continue;
    }
    float sc = scores[i];
    if (sc >= cut) {
      w->cand[nc++] = (int32_t)i;
      if (sc > thr) {
        hs[0] = sc;
        hi[0] = (int32_t)i;
        sift_down(hs, hi, m, 0);
        thr = hs[0];
        cut = (thr > floor_score ? thr : floor_score) - tol;
      }
    }
  }
  /* Keep the candidates within tol of the final m-th score. */
  int64_t kept = 0;
  for (int64_t c = 0; c < nc; c++)
    if (scores[w->cand[c]] >= thr - tol) w->cand[kept++] = w->cand[c];
  nc = kept;
  exact_scores(q, items, d, w->cand, nc, w->exact);
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

/* One scoring job: the queries split among a team, each member scoring
** its contiguous share in blocks of its own (one sgemm per block) and
** selecting from them.  A query's answer is exact (select_exact), so it
** does not depend on the share or block it falls in. */
typedef struct {
  const float *queries, *items;
  int64_t nq, n;
  int d, k;
  double xmax; /* bound on the item norms; 0: cosine (unit vectors) */
  int32_t *out_idx;
  float *out_score;
  atomic_int failed; /* a member could not get its scratch */
} TopkJob;

static void topk_member(void *arg, int id, int nt) {
  TopkJob *j = arg;
  size_t lo, hi;
  team_share((size_t)j->nq, 1, id, nt, &lo, &hi);
  if (lo >= hi) return;
  int d = j->d, m = j->n < (int64_t)j->k ? (int)j->n : j->k;
  int64_t n = j->n, b = topk_block_rows((int64_t)(hi - lo), n);
  float *q = malloc((size_t)b * (size_t)d * sizeof(float));
  float *scores = malloc((size_t)b * (size_t)n * sizeof(float));
  Scratch w = {malloc((size_t)m * sizeof(float)), malloc((size_t)m * sizeof(int32_t)),
               malloc((size_t)n * sizeof(int32_t)), malloc((size_t)n * sizeof(double)),
               malloc(((size_t)(n / FLOOR_BLOCK) * 2 + 1) * sizeof(float))};
  if (!q || !scores || !w.hs || !w.hi || !w.cand || !w.exact || !w.block_max) {
    atomic_store(&j->failed, 1);
    goto done;
  }
  for (int64_t q0 = (int64_t)lo; q0 < (int64_t)hi; q0 += b) {
    int64_t nb = (int64_t)hi - q0 < b ? (int64_t)hi - q0 : b;
    memcpy(q, j->queries + q0 * d, (size_t)nb * (size_t)d * sizeof(float));
    if (j->xmax == 0.0) topk_normalize_rows(q, nb, d);
    if (nb == 1)
      score_one(q, j->items, n, d, scores);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)n, d, 1.0f, q, d,
                  j->items, d, 0.0f, scores, (int)n);
    for (int64_t r = 0; r < nb; r++) {
      int64_t o = (q0 + r) * (int64_t)j->k;
      const float *qr = q + r * d;
      float tol = j->xmax > 0.0 ? shortlist_tol(d, norm2(qr, d), j->xmax)
                                : shortlist_tol(d, 1.0, 1.0);
      select_exact(scores + r * n, qr, j->items, n, d, j->k, tol, j->out_idx + o,
                   j->out_score ? j->out_score + o : NULL, &w);
    }
  }
done:
  free(q);
  free(scores);
  free(w.hs);
  free(w.hi);
  free(w.cand);
  free(w.exact);
  free(w.block_max);
}

/* Both metrics: xmax 0 scores unit items against normalised copies of
** the queries (cosine), xmax > 0 raw items against the queries as given.
** A batch worth it (several queries, a million scores or more) is split
** among a team of team_default_size() threads. */
static int topk_scored(const float *queries, int64_t nq, const float *items, int64_t n,
                       int d, int k, double xmax, int32_t *out_idx, float *out_score) {
  if (nq <= 0 || n <= 0) return 0;
  TopkJob j = {.queries = queries, .items = items, .nq = nq, .n = n, .d = d, .k = k,
               .xmax = xmax, .out_idx = out_idx, .out_score = out_score};
  atomic_init(&j.failed, 0);
  int threads = team_default_size();
  if (threads > nq) threads = (int)nq;
  Team *team = threads > 1 && (double)nq * (double)n >= 1e6 ? team_new(threads) : NULL;
  team_run(team, topk_member, &j);
  team_free(team);
  return atomic_load(&j.failed) ? -1 : 0;
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
