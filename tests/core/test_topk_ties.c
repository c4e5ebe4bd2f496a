/* test_topk_ties.c - ties at the cutoff: when the k-th and (k+1)-th best
** items score the same, the smaller indices are kept, in index order, for
** the selection alone (topk_select) and for cosine scoring (topk_cosine,
** whose rescoring is exact).  Expected lists come from a stable sort by
** (score descending, index ascending) written here, and the tie groups
** sit at scattered indices: among the first k (the initial heap), in the
** 16-wide scan, and in the tail.  Near ties too: items whose exact scores
** differ by less than sgemm's rounding rank by the exact score rounded to
** float (topk.h), not by the order sgemm's float scores happen to give. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "check.h"
#include "ranking.h"
#include "rng.h"
#include "topk.h"

/* n scores: distinct ones, except a tie group of `group` items at score
** `tie` placed at the indices of `at`, and (boost >= 0) a best score of
** all at index boost; k chosen so that the cutoff falls inside the group. */
static void check_select(int n, int k, const int *at, int group, int boost, uint64_t seed) {
  Rng r;
  rng_seed(&r, seed, 4);
  float *s = malloc((size_t)n * sizeof *s);
  Scored *ref = malloc((size_t)n * sizeof *ref);
  for (int i = 0; i < n; i++) s[i] = (float)(rng_uniform(&r) * 2.0 - 1.0); /* distinct w.p. 1 */
  /* The tie sits between the (k - 2)-th and (k - 1)-th best others, so
  ** the group straddles rank k. */
  for (int i = 0; i < n; i++) ref[i] = (Scored){s[i], i};
  qsort(ref, (size_t)n, sizeof *ref, by_score);
  float tie = (float)((ref[k - 3].s + ref[k - 2].s) / 2);
  for (int g = 0; g < group; g++) s[at[g]] = tie;
  if (boost >= 0) s[boost] = 2.0f;
  for (int i = 0; i < n; i++) ref[i] = (Scored){s[i], i};
  qsort(ref, (size_t)n, sizeof *ref, by_score);
  int in_group_before = 0, in_group_after = 0;
  for (int j = 0; j < n; j++) {
    if (ref[j].s != tie) continue;
    if (j < k) in_group_before++;
    else in_group_after++;
  }
  int bad = select_mismatches(s, n, k, ref);
  CHECK_MSG(in_group_before >= 1 && in_group_after >= 1, "n=%d k=%d: the tie does not straddle rank k",
            n, k);
  CHECK_MSG(bad == 0, "select n=%d k=%d: %d ranks differ at a tie across the cutoff", n, k, bad);
  free(s);
  free(ref);
}

/* The cosine of q with each raw row, in double, in index order. */
static void raw_cosines(const float *q, const float *raw, int n, int d, Scored *ref) {
  double qn = 0;
  for (int j = 0; j < d; j++) qn += (double)q[j] * q[j];
  for (int i = 0; i < n; i++) {
    double dot = 0, xn = 0;
    for (int j = 0; j < d; j++) {
      dot += (double)q[j] * raw[i * d + j];
      xn += (double)raw[i * d + j] * raw[i * d + j];
    }
    ref[i] = (Scored){dot / sqrt(qn * xn), i};
  }
}

/* topk_cosine: items are random vectors, except a tie group of copies of
** one vector scaled by powers of two (so the raw rows differ but their
** unit vectors are bit for bit the same), at the indices of `at`; the
** query is chosen so that the group straddles rank k. */
static void check_cosine(int n, int d, int k, const int *at, int group) {
  Rng r;
  rng_seed(&r, (uint64_t)n * 7 + (uint64_t)k, 8);
  float *raw = malloc((size_t)n * d * sizeof *raw), *items = malloc((size_t)n * d * sizeof *items);
  float *q = malloc((size_t)d * sizeof *q), *base = malloc((size_t)d * sizeof *base);
  for (int i = 0; i < n * d; i++) raw[i] = (float)rng_normal(&r);
  for (int j = 0; j < d; j++) q[j] = (float)rng_normal(&r);
  Scored *ref = malloc((size_t)n * sizeof *ref);
  double qn = 0;
  for (int j = 0; j < d; j++) qn += (double)q[j] * q[j];
  raw_cosines(q, raw, n, d, ref);
  qsort(ref, (size_t)n, sizeof *ref, by_score);
  /* The group's vector: cosine t, halfway between the (k - 2)-th and
  ** (k - 1)-th best, as t q/|q| + sqrt(1 - t^2) u with u a unit vector
  ** orthogonal to q. */
  double t = (ref[k - 3].s + ref[k - 2].s) / 2, un = 0;
  for (int j = 0; j < d; j++) base[j] = (float)rng_normal(&r);
  double uq = 0;
  for (int j = 0; j < d; j++) uq += (double)base[j] * q[j];
  double u[64];
  for (int j = 0; j < d; j++) {
    u[j] = base[j] - uq / qn * q[j];
    un += u[j] * u[j];
  }
  for (int j = 0; j < d; j++) base[j] = (float)(t * q[j] / sqrt(qn) + sqrt(1 - t * t) * u[j] / sqrt(un));
  for (int g = 0; g < group; g++)
    for (int j = 0; j < d; j++) raw[(size_t)at[g] * d + j] = ldexpf(base[j], g % 5 - 2);
  memcpy(items, raw, (size_t)n * d * sizeof *raw);
  topk_normalize_rows(items, n, d);
  int same = 1;
  for (int g = 1; g < group; g++)
    same &= memcmp(items + (size_t)at[g] * d, items + (size_t)at[0] * d, (size_t)d * sizeof *items) == 0;
  CHECK_MSG(same, "scaled copies did not normalise to the same vector");
  /* Reference: the group's members tie exactly; the others by the double
  ** cosine of their raw rows. */
  double gdot = 0, gn = 0;
  for (int j = 0; j < d; j++) {
    gdot += (double)q[j] * base[j];
    gn += (double)base[j] * base[j];
  }
  raw_cosines(q, raw, n, d, ref);
  for (int g = 0; g < group; g++) ref[at[g]].s = gdot / sqrt(qn * gn);
  qsort(ref, (size_t)n, sizeof *ref, by_score);
  int32_t *idx = malloc((size_t)k * sizeof *idx);
  float *sc = malloc((size_t)k * sizeof *sc);
  CHECK_MSG(topk_cosine(q, 1, items, n, d, k, idx, sc) == 0, "topk_cosine failed");
  int bad = 0, straddle_lo = 0, straddle_hi = 0;
  for (int j = 0; j < k; j++) bad += idx[j] != ref[j].i;
  for (int g = 0; g < group; g++) {
    int pos = 0;
    while (ref[pos].i != at[g]) pos++;
    straddle_lo |= pos < k;
    straddle_hi |= pos >= k;
  }
  /* Scores next to the cutoff are well apart from the group's, so only
  ** the tie decides the order there. */
  double gap = INFINITY;
  for (int j = 1; j < n; j++)
    if (ref[j].s != ref[j - 1].s) gap = fmin(gap, ref[j - 1].s - ref[j].s);
  CHECK_MSG(straddle_lo && straddle_hi && gap > 1e-5,
            "cosine n=%d k=%d: the tie does not straddle rank k, or a near tie (%g)", n, k, gap);
  CHECK_MSG(bad == 0, "cosine n=%d d=%d k=%d: %d ranks differ at a tie across the cutoff", n, d, k,
            bad);
  /* The group's members kept report one score. */
  float gscore = NAN;
  int eq = 1;
  for (int j = 0; j < k; j++)
    for (int g = 0; g < group; g++)
      if (idx[j] == at[g]) {
        if (isnan(gscore)) gscore = sc[j];
        eq &= sc[j] == gscore;
      }
  CHECK_MSG(eq, "cosine n=%d k=%d: tied items report different scores", n, k);
  free(raw);
  free(items);
  free(q);
  free(base);
  free(ref);
  free(idx);
  free(sc);
}

/* 10 items clearly best, then 54 near ties: copies of one vector with
** each float moved by a few ulps, so the exact scores differ by less than
** sgemm's rounding for d = 64.  k = 11 cuts through them.  The reference:
** the double dot product of the unit float vectors (from
** topk_normalize_rows, as topk_cosine uses), rounded to float, stable
** sorted.  The case only means something when sgemm's own float scores
** (the product topk_cosine computes) would put another item at rank k: the
** first of up to 200 seeds where they do is used. */
static int near_tie_case(uint64_t seed, float *items, float *q, float *qn, Scored *ref) {
  enum { N = 64, D = 64, K = 11 };
  Rng r;
  rng_seed(&r, seed, 3);
  float base[D];
  for (int j = 0; j < D; j++) {
    q[j] = (float)rng_normal(&r);
    base[j] = (float)(q[j] * 0.3 + rng_normal(&r));
  }
  for (int i = 0; i < N; i++)
    for (int j = 0; j < D; j++) {
      float v = i < 10 ? (float)(q[j] * (2.0 + i) + 0.1 * rng_normal(&r)) : base[j];
      for (int u = (int)rng_below(&r, 4); i >= 10 && u > 0; u--)
        v = nextafterf(v, rng_uniform(&r) < 0.5 ? -INFINITY : INFINITY);
      items[i * D + j] = v;
    }
  topk_normalize_rows(items, N, D);
  memcpy(qn, q, D * sizeof *q);
  topk_normalize_rows(qn, 1, D);
  for (int i = 0; i < N; i++) {
    double dot = 0;
    for (int j = 0; j < D; j++) dot += (double)qn[j] * items[i * D + j];
    ref[i] = (Scored){(double)(float)dot, i};
  }
  qsort(ref, N, sizeof *ref, by_score);
  float scores[N];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 1, N, D, 1.0f, qn, D, items, D, 0.0f,
              scores, N);
  int best = 10; /* sgemm's pick for rank k among the near ties */
  for (int i = 11; i < N; i++)
    if (scores[i] > scores[best]) best = i;
  return best != ref[K - 1].i;
}

static void check_near_ties(void) {
  enum { N = 64, D = 64, K = 11 };
  static float items[N * D], q[D], qn[D];
  Scored ref[N];
  uint64_t seed = 0;
  while (seed < 200 && !near_tie_case(seed, items, q, qn, ref)) seed++;
  CHECK_MSG(seed < 200, "near ties: sgemm's float scores never disagreed with the exact ranking");
  int32_t idx[K];
  CHECK_MSG(topk_cosine(q, 1, items, N, D, K, idx, NULL) == 0, "topk_cosine failed");
  int bad = 0;
  for (int j = 0; j < K; j++) bad += idx[j] != ref[j].i;
  CHECK_MSG(bad == 0, "near ties (seed %llu): %d of the top %d differ from the exact ranking",
            (unsigned long long)seed, bad, K);
}

int main(void) {
  /* Group members in the initial heap (index < k), in 16-wide chunks and
  ** in the scalar tail. */
  const int at_small[] = {1, 3, 9, 14, 15};
  const int at_large[] = {2, 7, 40, 41, 77, 100, 198};
  /* The heap starts full of the tie: later members meet it as the
  ** threshold itself (in 16-wide chunks: 20, 33; in the tail: 63). */
  const int at_heap[] = {0, 1, 2, 3, 20, 33, 63};
  check_select(16, 8, at_small, 5, -1, 1);
  check_select(200, 10, at_large, 7, -1, 2);
  check_select(200, 3, at_large, 7, -1, 3);
  check_select(200, 50, at_large, 7, -1, 4);
  /* A best score in the chunk of 20 (items 20-35), so the chunk is
  ** scanned item by item; with k = 6 kept ties survive to the end. */
  check_select(64, 4, at_heap, 7, 25, 5);
  check_select(64, 6, at_heap, 7, 25, 6);
  check_cosine(16, 5, 8, at_small, 5);
  check_cosine(200, 7, 10, at_large, 7);
  check_cosine(200, 33, 50, at_large, 7);
  check_cosine(64, 9, 4, at_heap, 7);
  check_near_ties();
  return check_report();
}
