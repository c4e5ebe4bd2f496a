/*
** bench_kmeans.c - k-means at the paper's scale: k = 1000 on 70 000 x 128
** (k-means++ and 20 Lloyd iterations), next to this machine's sgemm rate.
** Arguments: [n d k max_iter normalize seeding]; e.g. 70000 2579 100 20 2
** for the input features clustering baseline.  normalize 1: L2-normalised
** rows; 2: block-sparse like the input features (d = 128-float blocks,
** then scalars; each block of a row nonzero with probability 0.35), then
** L2-normalised.  seeding: greedy (default, 2 + ln k candidates a step)
** or plain k-means++.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "kmeans.h"
#include "rng.h"

static double t_start, t_last;

static int progress(void *arg, int it, double inertia, int64_t changed) {
  (void)arg;
  double t = bench_now();
  printf("  iteration %2d  inertia %.6e  changed %7lld  %.3f s\n", it, inertia,
         (long long)changed, t - t_last);
  t_last = t;
  return 0;
}

int main(int argc, char **argv) {
  int64_t n = argc > 1 ? atoll(argv[1]) : 70000;
  int d = argc > 2 ? atoi(argv[2]) : 128;
  int k = argc > 3 ? atoi(argv[3]) : 1000;
  int iters = argc > 4 ? atoi(argv[4]) : 20;
  int normalize = argc > 5 ? atoi(argv[5]) : 0;
  /* Gaussian blobs around k/10 random centres: structure, but not trivial. */
  Rng r;
  rng_seed(&r, 3, 0);
  int nc = k / 10 > 1 ? k / 10 : 2;
  float *mu = malloc((size_t)nc * d * sizeof(float));
  for (int64_t i = 0; i < (int64_t)nc * d; i++) mu[i] = (float)(3.0 * rng_normal(&r));
  float *x = malloc((size_t)n * d * sizeof(float));
  for (int64_t i = 0; i < n; i++) {
    int c = (int)rng_below(&r, (uint64_t)nc);
    for (int j = 0; j < d; j++) x[i * d + j] = mu[c * d + j] + (float)rng_normal(&r);
  }
  if (normalize == 2) {
    int blocks = d / 128;
    for (int64_t i = 0; i < n; i++)
      for (int b = 0; b < blocks; b++)
        if (rng_uniform(&r) >= 0.35)
          for (int j = 0; j < 128; j++) x[i * d + b * 128 + j] = 0.0f;
  }
  if (normalize) {
    for (int64_t i = 0; i < n; i++) {
      double s = 0;
      for (int j = 0; j < d; j++) s += (double)x[i * d + j] * x[i * d + j];
      for (int j = 0; j < d; j++) x[i * d + j] = (float)(x[i * d + j] / sqrt(s));
    }
  }
  float *cent = malloc((size_t)k * d * sizeof(float));
  int64_t *sizes = malloc((size_t)k * sizeof *sizes);
  bench_print_blas(stdout);
  /* The shape of one Lloyd block: rows x k x d. */
  double rate = bench_sgemm_rate((int)(((int64_t)1 << 20) / k), k, d, 1, 4);
  const char *seeding = argc > 6 ? argv[6] : "greedy";
  int greedy = strcmp(seeding, "plain") != 0;
  KmeansConfig cfg = {.k = k, .max_iter = iters, .seed = 0, .progress = progress,
                      .seeding = greedy ? KMEANS_SEED_GREEDY : KMEANS_SEED_PLAIN};
  KmeansResult res;
  printf("kmeans: n=%lld d=%d k=%d max_iter=%d, %s seeding%s\n", (long long)n, d, k, iters,
         greedy ? "greedy" : "plain",
         normalize == 2 ? " (block-sparse rows, L2-normalised)"
         : normalize ? " (rows L2-normalised)" : "");
  t_start = t_last = bench_now();
  printf("  (iteration 0 includes k-means++)\n");
  int rc = kmeans_fit(x, n, d, &cfg, cent, NULL, sizes, &res);
  double total = bench_now() - t_start;
  if (rc != KMEANS_OK) return 1;
  /* One sgemm pass per assignment: the initial one and one per iteration;
  ** plain k-means++ costs about k passes of n x d, greedy seeding
  ** 1 + 2 + floor(ln k) (the candidates, then the winner). */
  double flops = 2.0 * n * (double)k * d * (res.iterations + 1);
  double init_flops = 2.0 * n * (double)d * k * (greedy ? 3 + (int)log((double)k) : 1);
  printf("  iterations %d, converged %d, inertia %.6e, reseeded %lld\n",
         res.iterations, res.converged, res.inertia, (long long)res.reseeded);
  printf("  sgemm rate on this machine: %.1f GFLOP/s\n", rate);
  printf("  total %.3f s for %.1f GFLOP (%.1f GFLOP/s, %.0f%% of sgemm)\n", total,
         (flops + init_flops) / 1e9, (flops + init_flops) / total / 1e9,
         100.0 * (flops + init_flops) / total / 1e9 / rate);
  free(mu);
  free(x);
  free(cent);
  free(sizes);
  return 0;
}
