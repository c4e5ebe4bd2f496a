/*
** metrics.h - ranking metrics of the reference code (definitions in docs/ARCHITECTURE.md).
** No SQLite here.
**
** For one user, R = the first k recommended ids (fewer if the list is
** shorter), T = the set of relevant ids:
**   precision@k = |R n T| / min(|T|, k)
**   recall@k    = |R n T| / |T|
**   ndcg@k      = DCG / IDCG, DCG = sum_i [R_i in T] / log2(i + 1),
**                 IDCG = sum_{i=1..min(|T|,k)} 1 / log2(i + 1)
** A recommended id repeated in R counts once (its later copies gain
** nothing but still take their rank).  Values are fractions in [0, 1].
*/
#ifndef SEMIPERSO_METRICS_H
#define SEMIPERSO_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  double precision, recall, ndcg;
} RankMetrics;

/* Sorts ids in place and removes duplicates; returns the distinct count. */
size_t metrics_make_set(int64_t *ids, size_t n);

/* Computes the three metrics.  relevant must come from metrics_make_set
** with n_relevant >= 1; seen is caller scratch of n_relevant bytes (its
** content on entry does not matter).  k >= 1. */
void metrics_at_k(const int64_t *recommended, size_t n_recommended,
                  const int64_t *relevant, size_t n_relevant, size_t k,
                  unsigned char *seen, RankMetrics *out);

#endif
