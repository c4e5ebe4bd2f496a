/* metrics.c - precision, recall and NDCG at k (see metrics.h). */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int compare_ids(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

size_t metrics_make_set(int64_t *ids, size_t n) {
  if (n == 0) return 0;
  qsort(ids, n, sizeof *ids, compare_ids);
  size_t m = 1;
  for (size_t i = 1; i < n; i++) {
    if (ids[i] != ids[m - 1]) ids[m++] = ids[i];
  }
  return m;
}

/* Index of id in the sorted set, or -1. */
static long find_id(const int64_t *set, size_t n, int64_t id) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (set[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return (lo < n && set[lo] == id) ? (long)lo : -1;
}

void metrics_at_k(const int64_t *recommended, size_t n_recommended,
                  const int64_t *relevant, size_t n_relevant, size_t k,
                  unsigned char *seen, RankMetrics *out) {
  size_t depth = n_recommended < k ? n_recommended : k;
  size_t ideal = n_relevant < k ? n_relevant : k;
  size_t hits = 0;
  double dcg = 0.0, idcg = 0.0;
  memset(seen, 0, n_relevant);
  for (size_t i = 0; i < depth; i++) {
    long j = find_id(relevant, n_relevant, recommended[i]);
    if (j < 0 || seen[j]) continue;
    seen[j] = 1;
    hits++;
    dcg += 1.0 / log2((double)i + 2.0);
  }
  for (size_t i = 0; i < ideal; i++) idcg += 1.0 / log2((double)i + 2.0);
  out->precision = (double)hits / (double)ideal;
  out->recall = (double)hits / (double)n_relevant;
  out->ndcg = dcg / idcg;
}
