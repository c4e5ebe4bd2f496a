/* test_metrics_deep.c - precision, recall and NDCG at k = 50, the
** pipeline's k, with hits deep in the list, hits past k, duplicates and
** more relevant items than k, against an independent evaluation of the
** definitions of metrics.h: gains ln 2 / ln(rank + 1) (natural logs, not
** log2), summed from the deepest rank up, and a small case by hand. */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "metrics.h"

/* 1 / log2(rank + 1) by another road. */
static double gain(int rank) { return log(2.0) / log(rank + 1.0); }

static RankMetrics run(const int64_t *rec, size_t nrec, int64_t *rel, size_t nrel, size_t k) {
  static unsigned char seen[256];
  RankMetrics m;
  nrel = metrics_make_set(rel, nrel);
  metrics_at_k(rec, nrec, rel, nrel, k, seen, &m);
  return m;
}

/* Hits at ranks 4 and 6 of 6, |T| = 2: by hand, DCG = 1/log2(5) +
** 1/log2(7) = 0.43067655807339306 + 0.35620718710802218, IDCG = 1 +
** 1/log2(3) = 1.6309297535714575; precision and recall 2/2. */
static void test_by_hand(void) {
  int64_t rec[] = {11, 12, 13, 14, 15, 16}, rel[] = {16, 14};
  RankMetrics m = run(rec, 6, rel, 2, 10);
  CHECK_NEAR(m.ndcg, (0.43067655807339306 + 0.35620718710802218) / 1.6309297535714575, 1e-15);
  CHECK_NEAR(m.precision, 1.0, 0);
  CHECK_NEAR(m.recall, 1.0, 0);
}

/* 80 recommended ids 1000 + r (rank r = 1..80); the relevant set holds
** the ids of every rank r with r % 3 == 1 or r % 7 == 0 (34 of them, from
** rank 1 to rank 79: hits at ranks 4 to 49 and past k = 50), filled up to
** |T| = 70 > k with ids nobody recommended.  Rank 60 repeats rank 1's id,
** which must not count twice. */
static void test_k50(void) {
  enum { N = 80, K = 50, T = 70 };
  int64_t rec[N], rel[T];
  int is_hit[N + 1] = {0};
  size_t nrel = 0;
  for (int r = 1; r <= N; r++) {
    rec[r - 1] = 1000 + r;
    if (r % 3 == 1 || r % 7 == 0) {
      rel[nrel++] = 1000 + r;
      is_hit[r] = 1;
    }
  }
  rec[59] = 1001; /* rank 60 (no hit of its own) repeats rank 1's id */
  for (int64_t id = 5000; nrel < T; id++) rel[nrel++] = id; /* never recommended */
  double dcg = 0, idcg = 0;
  int hits = 0;
  for (int r = K; r >= 1; r--) {
    if (is_hit[r]) {
      dcg += gain(r);
      hits++;
    }
    idcg += gain(r); /* |T| = 70 > k: the ideal list is 50 hits */
  }
  /* The fixture is what it claims. */
  CHECK(nrel == T && is_hit[4] && is_hit[49] && is_hit[52] && is_hit[77] && !is_hit[50]);
  RankMetrics m = run(rec, N, rel, T, K);
  CHECK_NEAR(m.precision, hits / 50.0, 1e-15);
  CHECK_NEAR(m.recall, hits / 70.0, 1e-15);
  CHECK_NEAR(m.ndcg, dcg / idcg, 1e-13);
  /* k = 80: the hits past 50 count, the repeated id at rank 60 does not,
  ** and the ideal list is min(|T|, k) = 70 long. */
  dcg = idcg = 0;
  hits = 0;
  for (int r = N; r >= 1; r--) {
    if (is_hit[r]) {
      dcg += gain(r);
      hits++;
    }
    if (r <= T) idcg += gain(r);
  }
  m = run(rec, N, rel, T, N);
  CHECK_NEAR(m.precision, hits / 70.0, 1e-15);
  CHECK_NEAR(m.recall, hits / 70.0, 1e-15);
  CHECK_NEAR(m.ndcg, dcg / idcg, 1e-13);
  /* A shorter list than k: precision still over min(|T|, k) = 50. */
  m = run(rec, 20, rel, T, K);
  hits = 0;
  for (int r = 1; r <= 20; r++) hits += is_hit[r];
  CHECK_NEAR(m.precision, hits / 50.0, 1e-15);
}

int main(void) {
  test_by_hand();
  test_k50();
  return check_report();
}
