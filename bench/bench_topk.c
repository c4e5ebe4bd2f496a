/*
** bench_topk.c - top-50 by cosine for 10 000 users over 50 000 x 128 tracks
** (the paper's evaluation scale), next to this machine's sgemm rate.
**
**   make build/bench_topk && build/bench_topk [users tracks dim k]
*/
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "rng.h"
#include "topk.h"

int main(int argc, char **argv) {
  int nq = argc > 1 ? atoi(argv[1]) : 10000;
  int n = argc > 2 ? atoi(argv[2]) : 50000;
  int d = argc > 3 ? atoi(argv[3]) : 128;
  int k = argc > 4 ? atoi(argv[4]) : 50;
  Rng r;
  rng_seed(&r, 1, 0);
  float *items = malloc((size_t)n * d * sizeof(float));
  float *q = malloc((size_t)nq * d * sizeof(float));
  for (size_t i = 0; i < (size_t)n * d; i++) items[i] = (float)rng_normal(&r);
  for (size_t i = 0; i < (size_t)nq * d; i++) q[i] = (float)rng_normal(&r);
  int32_t *idx = malloc((size_t)nq * k * sizeof *idx);
  float *sc = malloc((size_t)nq * k * sizeof *sc);
  bench_print_blas(stdout);
  /* One large product of the scoring's shape: users x tracks x d. */
  double rate = bench_sgemm_rate(2000, 8000, d, 1, 3);
  double t0 = bench_now();
  topk_normalize_rows(items, n, d);
  double t1 = bench_now();
  if (topk_cosine(q, nq, items, n, d, k, idx, sc) != 0) return 1;
  double t2 = bench_now();
  double flops = 2.0 * nq * (double)n * d;
  printf("topk: %d queries x %d items x %d dims, k=%d\n", nq, n, d, k);
  printf("  sgemm rate on this machine: %.1f GFLOP/s\n", rate);
  printf("  normalize items: %.3f s\n", t1 - t0);
  printf("  score + select:  %.3f s  (%.1f GFLOP/s, %.0f%% of sgemm)\n", t2 - t1,
         flops / (t2 - t1) / 1e9, 100.0 * flops / (t2 - t1) / 1e9 / rate);
  printf("  check: best of query 0 = item %d score %.4f\n", idx[0], sc[0]);
  free(items);
  free(q);
  free(idx);
  free(sc);
  return 0;
}
