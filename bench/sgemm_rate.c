/*
** sgemm_rate.c - this machine's own single-precision GEMM throughput, the
** yardstick every numeric stage of the benchmark is reported against.
** Prints one number: the best GFLOP/s of a few square sgemm calls.
*/
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 2048;
  float *a = malloc(sizeof(float) * (size_t)n * (size_t)n);
  float *b = malloc(sizeof(float) * (size_t)n * (size_t)n);
  float *c = malloc(sizeof(float) * (size_t)n * (size_t)n);
  if (!a || !b || !c) return 1;
  for (size_t i = 0; i < (size_t)n * (size_t)n; i++) {
    a[i] = (float)((i * 7) % 13) / 13.0f;
    b[i] = (float)((i * 5) % 11) / 11.0f;
  }
  double best = 0;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n,
                b, n, 0.0f, c, n);
    double rate = 2.0 * n * (double)n * n / (now() - t0) / 1e9;
    if (rate > best) best = rate;
  }
  printf("%.1f\n", best);
  free(a);
  free(b);
  free(c);
  return 0;
}
