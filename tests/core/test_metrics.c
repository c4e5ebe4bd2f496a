/* Unit tests of metrics.c against values worked out by hand. */
#include <stdint.h>

#include "check.h"
#include "metrics.h"

/* log2 gains by hand: 1/log2(2) = 1, 1/log2(3) = 0.6309297535714575,
** 1/log2(4) = 0.5, 1/log2(5) = 0.43067655807339306. */
#define G1 1.0
#define G2 0.6309297535714575
#define G3 0.5
#define G4 0.43067655807339306

static RankMetrics run(const int64_t *rec, size_t nrec, int64_t *rel, size_t nrel, size_t k) {
  unsigned char seen[16];
  RankMetrics m;
  nrel = metrics_make_set(rel, nrel);
  metrics_at_k(rec, nrec, rel, nrel, k, seen, &m);
  return m;
}

int main(void) {
  {
    /* Hits at ranks 2 and 3 of 4; |T| = 3, k = 4. */
    int64_t rec[] = {10, 20, 30, 40}, rel[] = {30, 20, 99};
    RankMetrics m = run(rec, 4, rel, 3, 4);
    CHECK_NEAR(m.precision, 2.0 / 3.0, 1e-12); /* min(|T|, k) = 3 */
    CHECK_NEAR(m.recall, 2.0 / 3.0, 1e-12);
    CHECK_NEAR(m.ndcg, (G2 + G3) / (G1 + G2 + G3), 1e-12);
  }
  {
    /* k = 2 truncates the list: only rank 2 hits. */
    int64_t rec[] = {10, 20, 30, 40}, rel[] = {30, 20, 99};
    RankMetrics m = run(rec, 4, rel, 3, 2);
    CHECK_NEAR(m.precision, 1.0 / 2.0, 1e-12);
    CHECK_NEAR(m.recall, 1.0 / 3.0, 1e-12);
    CHECK_NEAR(m.ndcg, G2 / (G1 + G2), 1e-12);
  }
  {
    /* A duplicate recommended id counts once but keeps its rank;
    ** duplicates in T collapse. */
    int64_t rec[] = {5, 5, 7}, rel[] = {5, 5, 7, 8};
    RankMetrics m = run(rec, 3, rel, 4, 10);
    CHECK_NEAR(m.precision, 2.0 / 3.0, 1e-12); /* |T| = 3 */
    CHECK_NEAR(m.recall, 2.0 / 3.0, 1e-12);
    CHECK_NEAR(m.ndcg, (G1 + G3) / (G1 + G2 + G3), 1e-12);
  }
  {
    /* k larger than the list; a perfect list scores 1. */
    int64_t rec[] = {1, 2, 3, 4}, rel[] = {4, 3, 2, 1};
    RankMetrics m = run(rec, 4, rel, 4, 50);
    CHECK_NEAR(m.precision, 1.0, 1e-12);
    CHECK_NEAR(m.recall, 1.0, 1e-12);
    CHECK_NEAR(m.ndcg, 1.0, 1e-12);
    (void)G4;
  }
  {
    /* Nothing recommended: all zero. */
    int64_t rel[] = {1};
    RankMetrics m = run(NULL, 0, rel, 1, 5);
    CHECK(m.precision == 0 && m.recall == 0 && m.ndcg == 0);
  }
  return check_report();
}
