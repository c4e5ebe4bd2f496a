/*
** ranking.h - what the top-k tests share: the reference order (scores
** best first, equal scores by smaller index, topk.h's contract, by qsort)
** and topk_select checked against it.
*/
#ifndef SEMIPERSO_TEST_RANKING_H
#define SEMIPERSO_TEST_RANKING_H

#include <stdint.h>
#include <stdlib.h>

#include "topk.h"

typedef struct {
  double s;
  int32_t i;
} Scored;

static inline int by_score(const void *a, const void *b) {
  const Scored *x = a, *y = b;
  if (x->s != y->s) return x->s > y->s ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

/* The ranks (of min(n, k)) where topk_select on scores differs, in index
** or score, from ref, the scores sorted by by_score; -1 without memory. */
static inline int select_mismatches(const float *scores, int n, int k, const Scored *ref) {
  int m = n < k ? n : k, bad = 0;
  int32_t *idx = malloc((size_t)m * sizeof *idx), *hi = malloc((size_t)m * sizeof *hi);
  float *sc = malloc((size_t)m * sizeof *sc), *hs = malloc((size_t)m * sizeof *hs);
  if (!idx || !hi || !sc || !hs) {
    bad = -1;
  } else {
    topk_select(scores, n, k, idx, sc, hs, hi);
    for (int j = 0; j < m; j++) bad += idx[j] != ref[j].i || sc[j] != (float)ref[j].s;
  }
  free(idx);
  free(hi);
  free(sc);
  free(hs);
  return bad;
}

#endif
