/* test_topk.c - top-k selection, cosine and inner product scoring against brute force. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ranking.h"
#include "rng.h"
#include "topk.h"

/* topk_select on scores drawn from a few values (many ties) vs qsort. */
static void test_select(void) {
  Rng r;
  rng_seed(&r, 42, 1);
  int sizes[] = {1, 2, 15, 16, 17, 100, 1000};
  int ks[] = {1, 3, 16, 50, 2000};
  for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++) {
    for (size_t b = 0; b < sizeof ks / sizeof *ks; b++) {
      int n = sizes[a], k = ks[b];
      float *s = malloc(n * sizeof *s);
      Scored *ref = malloc(n * sizeof *ref);
      for (int i = 0; i < n; i++) {
        s[i] = (float)rng_below(&r, 7) - 3.0f;
        ref[i].s = s[i];
        ref[i].i = i;
      }
      qsort(ref, n, sizeof *ref, by_score);
      int bad = select_mismatches(s, n, k, ref);
      CHECK_MSG(bad == 0, "select n=%d k=%d: %d ranks differ from a sort", n, k, bad);
      free(s);
      free(ref);
    }
  }
}

/* rows x d standard normal floats. */
static float *normal_rows(Rng *r, int rows, int d, double scale) {
  float *m = malloc((size_t)rows * d * sizeof(float));
  for (int i = 0; i < rows * d; i++) m[i] = (float)(scale * rng_normal(r));
  return m;
}

/* Brute-force scores of query q against item x (the raw vectors). */
static double cosine_ref(const float *q, const float *x, int d) {
  double dot = 0, qn = 0, xn = 0;
  for (int j = 0; j < d; j++) {
    dot += (double)q[j] * x[j];
    qn += (double)q[j] * q[j];
    xn += (double)x[j] * x[j];
  }
  return (qn > 0 && xn > 0) ? dot / sqrt(qn * xn) : 0.0;
}

/* The inner product in long double, rounded to the float reported. */
static double dot_ref(const float *q, const float *x, int d) {
  long double dot = 0;
  for (int j = 0; j < d; j++) dot += (long double)q[j] * x[j];
  return (float)dot;
}

typedef struct {
  const char *name;
  double (*ref)(const float *q, const float *x, int d);
  double score_tol; /* reported score vs ref */
  double xmax;      /* 0: topk_cosine on unit items, else topk_dot */
} Metric;

static int run_topk(const Metric *mt, const float *q, int nq, const float *items, int n, int d,
                    int k, int32_t *idx, float *sc) {
  return mt->xmax == 0.0 ? topk_cosine(q, nq, items, n, d, k, idx, sc)
                         : topk_dot(q, nq, items, n, d, mt->xmax, k, idx, sc);
}

/* Scores the nq queries (query 0 zero) against items (raw: the same before
** normalisation, what ref scores) and checks every rank and score against
** a sort of the brute-force scores (ties by smaller id), the zero query's
** answer (ids 0 .. k-1, score 0), and one query at a time against the
** batch. */
static void check_topk(const Metric *mt, const float *q, int nq, const float *items,
                       const float *raw, int n, int d, int k) {
  int m = n < k ? n : k;
  int32_t *idx = malloc((size_t)nq * k * sizeof *idx);
  float *sc = malloc((size_t)nq * k * sizeof *sc);
  CHECK_MSG(run_topk(mt, q, nq, items, n, d, k, idx, sc) == 0, "%s: top-k failed", mt->name);
  Scored *ref = malloc((size_t)n * sizeof *ref);
  int bad_idx = 0, bad_score = 0;
  for (int a = 0; a < nq; a++) {
    for (int i = 0; i < n; i++) {
      ref[i].s = mt->ref(q + (size_t)a * d, raw + (size_t)i * d, d);
      ref[i].i = i;
    }
    qsort(ref, n, sizeof *ref, by_score);
    for (int j = 0; j < m; j++) {
      if (idx[(size_t)a * k + j] != ref[j].i) bad_idx++;
      if (fabs(sc[(size_t)a * k + j] - ref[j].s) > mt->score_tol) bad_score++;
    }
  }
  CHECK_MSG(bad_idx == 0, "%s n=%d d=%d nq=%d k=%d: %d ranks differ from brute force",
            mt->name, n, d, nq, k, bad_idx);
  CHECK_MSG(bad_score == 0, "%s n=%d k=%d: %d scores off by more than %g", mt->name, n, k,
            bad_score, mt->score_tol);
  int zero_ok = 1;
  for (int j = 0; j < m; j++) zero_ok &= idx[j] == j && sc[j] == 0.0f;
  CHECK_MSG(zero_ok, "%s: a zero query must return ids 0..k-1 with score 0", mt->name);
  int32_t *one = malloc((size_t)k * sizeof *one);
  int same = 1;
  for (int a = 0; a < nq; a += 1 + nq / 7) {
    run_topk(mt, q + (size_t)a * d, 1, items, n, d, k, one, NULL);
    same &= memcmp(one, idx + (size_t)a * k, (size_t)m * sizeof *one) == 0;
  }
  CHECK_MSG(same, "%s: one query at a time differs from the batch (n=%d k=%d)", mt->name, n, k);
  free(one);
  free(idx);
  free(sc);
  free(ref);
}

/* topk_cosine vs a double-precision sort.  Items are copies of a small
** pool of random vectors, so exact ties are many and near ties none. */
static void test_cosine(int n, int d, int nq, int k) {
  Rng r;
  rng_seed(&r, 7, (uint64_t)n * 31 + (uint64_t)k);
  int pool = 23;
  float *pv = normal_rows(&r, pool, d, 1.0);
  float *items = malloc((size_t)n * d * sizeof(float));
  float *raw = malloc((size_t)n * d * sizeof(float));
  for (int i = 0; i < n; i++) {
    int p = (int)rng_below(&r, (uint64_t)pool + 1);
    for (int j = 0; j < d; j++) raw[(size_t)i * d + j] = p == pool ? 0.0f : pv[p * d + j];
  }
  memcpy(items, raw, (size_t)n * d * sizeof(float));
  topk_normalize_rows(items, n, d);
  float *q = normal_rows(&r, nq, d, 1.0);
  for (int j = 0; j < d; j++) q[j] = 0.0f; /* query 0 is zero: all score 0 */
  Metric mt = {"cosine", cosine_ref, 1e-5, 0.0};
  check_topk(&mt, q, nq, items, raw, n, d, k);
  free(pv);
  free(items);
  free(raw);
  free(q);
}

/* topk_dot vs an independent ranking: the inner product of the raw
** vectors in long double, rounded to the float reported (scores must be
** equal), ties by smaller id.  Items are copies of a small pool scaled by
** powers of two from 2^-12 to 2^12 (exact ties among equal copies, exact
** 2x ratios between others, norms far from 1 so cosine would rank them
** otherwise), some of them nudged by one ulp in one component (near
** ties), and a few zero rows. */
static void test_dot(int n, int d, int nq, int k) {
  Rng r;
  rng_seed(&r, 11, (uint64_t)n * 17 + (uint64_t)k);
  int pool = 19;
  float *pv = normal_rows(&r, pool, d, 1.0);
  float *items = malloc((size_t)n * d * sizeof(float));
  for (int i = 0; i < n; i++) {
    int p = (int)rng_below(&r, (uint64_t)pool + 1);
    float scale = ldexpf(1.0f, (int)rng_below(&r, 25) - 12);
    float *x = items + (size_t)i * d;
    for (int j = 0; j < d; j++) x[j] = p == pool ? 0.0f : scale * pv[p * d + j];
    if (p < pool && rng_uniform(&r) < 0.3) {
      int j = (int)rng_below(&r, (uint64_t)d);
      x[j] = nextafterf(x[j], rng_uniform(&r) < 0.5 ? -INFINITY : INFINITY);
    }
  }
  float *q = normal_rows(&r, nq, d, 3.0);
  for (int j = 0; j < d; j++) q[j] = 0.0f; /* query 0 is zero: all score 0 */
  /* Query 1 is a pool vector scaled: its own copies score highest. */
  if (nq > 1)
    for (int j = 0; j < d; j++) q[d + j] = 0.25f * pv[j];
  Metric mt = {"dot", dot_ref, 0.0, topk_max_norm(items, n, d)};
  check_topk(&mt, q, nq, items, items, n, d, k);
  free(pv);
  free(items);
  free(q);
}

/* topk_max_norm against the norms worked out by hand. */
static void test_max_norm(void) {
  float m[] = {3, 4, 0, 0, -1, 0, 0, 0, 0};
  CHECK_NEAR(topk_max_norm(m, 3, 3), 5.0, 1e-12);
  CHECK_NEAR(topk_max_norm(m + 3, 2, 3), 1.0, 1e-12);
  CHECK(topk_max_norm(m, 0, 3) == 0.0);
}

int main(void) {
  test_select();
  test_cosine(50, 8, 10, 5);
  test_cosine(50, 8, 10, 80);  /* k > n: every item, sorted */
  test_cosine(997, 33, 40, 50);
  /* More queries than one block holds: the blocked path. */
  test_cosine(3000, 4, 1500, 3);
  test_max_norm();
  test_dot(50, 8, 10, 5);
  test_dot(50, 8, 10, 80);
  test_dot(997, 33, 40, 50);
  test_dot(3000, 4, 1500, 3);
  test_dot(2000, 128, 64, 50);
  /* Enough blocks of scores for the floor under the k-th (topk.c): at the
  ** edge (as many blocks as k), well past it, and k = 1. */
  test_cosine(6400, 8, 12, 100);
  test_cosine(20000, 16, 20, 100);
  test_cosine(20000, 16, 20, 1);
  test_dot(6400, 8, 12, 100);
  test_dot(20000, 16, 20, 100);
  CHECK_MSG(topk_block_rows(1000000, 50000) >= 1 &&
            topk_block_rows(1000000, 50000) * 50000 <= (1 << 22),
        "the score block must stay bounded");
  CHECK_MSG(topk_block_rows(3, 10) == 3, "a small batch is one block");
  return check_report();
}
