/* test_topk.c - top-k selection and cosine scoring against brute force. */
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
    same &= topk_cosine(q + (size_t)a * d, 1, items, n, d, k, one, NULL) == 0 &&
            memcmp(one, idx + (size_t)a * k, (size_t)m * sizeof *one) == 0;
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

int main(void) {
  test_select();
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
