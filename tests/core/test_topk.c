/* test_topk.c - top-k selection and cosine scoring against brute force. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rng.h"
#include "topk.h"


typedef struct {
  double s;
  int32_t i;
} Scored;

static int by_score(const void *a, const void *b) {
  const Scored *x = a, *y = b;
  if (x->s != y->s) return x->s > y->s ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* topk_select on scores drawn from a few values (many ties) vs qsort. */
static void test_select(void) {
  Rng r;
  rng_seed(&r, 42, 1);
  int sizes[] = {1, 2, 15, 16, 17, 100, 1000};
  int ks[] = {1, 3, 16, 50, 2000};
  for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++) {
    for (size_t b = 0; b < sizeof ks / sizeof *ks; b++) {
      int n = sizes[a], k = ks[b];
      int m = n < k ? n : k;
      float *s = malloc(n * sizeof *s);
      Scored *ref = malloc(n * sizeof *ref);
      int32_t *idx = malloc(m * sizeof *idx), *hi = malloc(m * sizeof *hi);
      float *sc = malloc(m * sizeof *sc), *hs = malloc(m * sizeof *hs);
      for (int i = 0; i < n; i++) {
        s[i] = (float)rng_below(&r, 7) - 3.0f;
        ref[i].s = s[i];
        ref[i].i = i;
      }
      qsort(ref, n, sizeof *ref, by_score);
      topk_select(s, n, k, idx, sc, hs, hi);
      int bad = 0;
      for (int j = 0; j < m; j++) {
        if (idx[j] != ref[j].i || sc[j] != (float)ref[j].s) bad++;
      }
      CHECK_MSG(bad == 0, "select n=%d k=%d: %d ranks differ from a sort", n, k, bad);
      free(s);
      free(ref);
      free(idx);
      free(hi);
      free(sc);
      free(hs);
    }
  }
}

/* topk_cosine vs a double-precision sort.  Items are copies of a small
** pool of random vectors, so exact ties are many and near ties none. */
static void test_cosine(int n, int d, int nq, int k) {
  Rng r;
  rng_seed(&r, 7, (uint64_t)n * 31 + (uint64_t)k);
  int pool = 23;
  float *pv = malloc((size_t)pool * d * sizeof(float));
  for (int i = 0; i < pool * d; i++) pv[i] = (float)rng_normal(&r);
  float *items = malloc((size_t)n * d * sizeof(float));
  float *raw = malloc((size_t)n * d * sizeof(float));
  for (int i = 0; i < n; i++) {
    int p = (int)rng_below(&r, (uint64_t)pool + 1);
    for (int j = 0; j < d; j++) raw[(size_t)i * d + j] = p == pool ? 0.0f : pv[p * d + j];
  }
  memcpy(items, raw, (size_t)n * d * sizeof(float));
  topk_normalize_rows(items, n, d);
  float *q = malloc((size_t)nq * d * sizeof(float));
  for (int i = 0; i < nq * d; i++) q[i] = (float)rng_normal(&r);
  for (int j = 0; j < d; j++) q[j] = 0.0f; /* query 0 is zero: all score 0 */
  int m = n < k ? n : k;
  int32_t *idx = malloc((size_t)nq * k * sizeof *idx);
  float *sc = malloc((size_t)nq * k * sizeof *sc);
  CHECK_MSG(topk_cosine(q, nq, items, n, d, k, idx, sc) == 0, "topk_cosine failed");
  Scored *ref = malloc((size_t)n * sizeof *ref);
  int bad_idx = 0, bad_score = 0;
  for (int a = 0; a < nq; a++) {
    const float *qa = q + (size_t)a * d;
    double qn = 0;
    for (int j = 0; j < d; j++) qn += (double)qa[j] * qa[j];
    for (int i = 0; i < n; i++) {
      const float *x = raw + (size_t)i * d;
      double dot = 0, xn = 0;
      for (int j = 0; j < d; j++) {
        dot += (double)qa[j] * x[j];
        xn += (double)x[j] * x[j];
      }
      ref[i].s = (qn > 0 && xn > 0) ? dot / sqrt(qn * xn) : 0.0;
      ref[i].i = i;
    }
    qsort(ref, n, sizeof *ref, by_score);
    for (int j = 0; j < m; j++) {
      if (idx[(size_t)a * k + j] != ref[j].i) bad_idx++;
      if (fabs(sc[(size_t)a * k + j] - ref[j].s) > 1e-5) bad_score++;
    }
  }
  CHECK_MSG(bad_idx == 0, "cosine n=%d d=%d nq=%d k=%d: %d ranks differ from brute force",
        n, d, nq, k, bad_idx);
  CHECK_MSG(bad_score == 0, "cosine n=%d k=%d: %d scores off by more than 1e-5", n, k,
        bad_score);
  /* Query 0 is zero: every item scores 0, so the first ids in order. */
  int zero_ok = 1;
  for (int j = 0; j < m; j++) zero_ok &= idx[j] == j && sc[j] == 0.0f;
  CHECK_MSG(zero_ok, "a zero query must return ids 0..k-1 with score 0");
  /* Scoring queries one at a time gives the same answer as in blocks. */
  int32_t *one = malloc((size_t)k * sizeof *one);
  int same = 1;
  for (int a = 0; a < nq; a += 1 + nq / 7) {
    topk_cosine(q + (size_t)a * d, 1, items, n, d, k, one, NULL);
    same &= memcmp(one, idx + (size_t)a * k, (size_t)m * sizeof *one) == 0;
  }
  CHECK_MSG(same, "one query at a time differs from the batch (n=%d k=%d)", n, k);
  free(one);
  free(pv);
  free(items);
  free(raw);
  free(q);
  free(idx);
  free(sc);
  free(ref);
}

/* topk_dot vs a double-precision sort by dot product.  Items are scaled
** copies of a small pool (norms differ, exact ties come from equal
** copies); one query is zero (every score 0: the first k indices). */
static void test_dot(int n, int d, int nq, int k) {
  Rng r;
  rng_seed(&r, 11, (uint64_t)n);
  int pool = 25;
  float *base = malloc((size_t)pool * d * sizeof(float)), *items = malloc((size_t)n * d * sizeof(float));
  float *q = malloc((size_t)nq * d * sizeof(float));
  for (int i = 0; i < pool * d; i++) base[i] = (float)rng_normal(&r);
  static const float scales[] = {0.25f, 1.0f, 3.0f};
  for (int i = 0; i < n; i++) {
    int b = (int)rng_below(&r, pool);
    float s = scales[rng_below(&r, 3)];
    for (int j = 0; j < d; j++) items[(size_t)i * d + j] = s * base[b * d + j];
  }
  for (int i = 0; i < nq * d; i++) q[i] = (float)rng_normal(&r);
  memset(q, 0, (size_t)d * sizeof(float));
  int m = n < k ? n : k;
  int32_t *idx = malloc((size_t)nq * k * sizeof(int32_t));
  float *sc = malloc((size_t)nq * k * sizeof(float));
  Scored *ref = malloc((size_t)n * sizeof(Scored));
  CHECK(topk_dot(q, nq, items, n, d, k, idx, sc) == 0);
  int bad_rank = 0, bad_score = 0;
  for (int a = 0; a < nq; a++) {
    for (int i = 0; i < n; i++) {
      double s = 0;
      for (int j = 0; j < d; j++) s += (double)q[a * d + j] * items[(size_t)i * d + j];
      ref[i].s = s;
      ref[i].i = i;
    }
    qsort(ref, n, sizeof *ref, by_score);
    for (int j = 0; j < m; j++) {
      bad_rank += idx[a * k + j] != ref[j].i;
      bad_score += fabs(sc[a * k + j] - ref[j].s) > 1e-5 * (1 + fabs(ref[j].s));
    }
  }
  CHECK_MSG(bad_rank == 0 && bad_score == 0, "dot n=%d k=%d: %d ranks, %d scores differ", n, k,
            bad_rank, bad_score);
  free(base);
  free(items);
  free(q);
  free(idx);
  free(sc);
  free(ref);
}

int main(void) {
  test_select();
  test_dot(400, 9, 7, 20);
  test_dot(30, 5, 3, 50); /* k > n */
  test_cosine(50, 8, 10, 5);
  test_cosine(50, 8, 10, 80);  /* k > n: every item, sorted */
  test_cosine(997, 33, 40, 50);
  /* More queries than one block holds: the blocked path. */
  test_cosine(3000, 4, 1500, 3);
  CHECK_MSG(topk_block_rows(1000000, 50000) >= 1 &&
            topk_block_rows(1000000, 50000) * 50000 <= (1 << 22),
        "the score block must stay bounded");
  CHECK_MSG(topk_block_rows(3, 10) == 3, "a small batch is one block");
  return check_report();
}
