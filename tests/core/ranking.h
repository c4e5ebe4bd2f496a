/*
** ranking.h - the reference order of the top-k tests: scores best first,
** equal scores by smaller index (topk.h's contract), by qsort.
*/
#ifndef SEMIPERSO_TEST_RANKING_H
#define SEMIPERSO_TEST_RANKING_H

#include <stdint.h>

typedef struct {
  double s;
  int32_t i;
} Scored;

static inline int by_score(const void *a, const void *b) {
  const Scored *x = a, *y = b;
  if (x->s != y->s) return x->s > y->s ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

#endif
