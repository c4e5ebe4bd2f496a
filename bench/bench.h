/*
** bench.h - what every benchmark program of bench/ shares: the clock, the
** BLAS in use (printed as semiperso_info() shows it) and this machine's
** sgemm rate, the yardstick each stage is reported against.
**
** The sgemm rate is that of the BLAS kernel the extension uses, on all
** the CPUs the process may run on (the BLAS's own threads, raised for
** the measurement and put back to one after: the numeric core runs its
** sgemm calls single-threaded, on its own teams; see ext/core/blas.h).
*/
#ifndef SEMIPERSO_BENCH_H
#define SEMIPERSO_BENCH_H

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "blas.h"

static inline double bench_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Prints the BLAS description (library, kernel and how it was chosen,
** threads, CPU) to out; exits when there is no usable BLAS. */
static inline void bench_print_blas(FILE *out) {
  char *info = blas_info_json();
  if (info == NULL) {
    fprintf(stderr, "bench: %s\n", blas_error() ? blas_error() : "out of memory");
    exit(1);
  }
  fprintf(out, "blas: %s\n", info);
  free(info);
}

/* Best GFLOP/s of reps calls C (m x n) = A (m x k) op(B), op(B) = B^T
** when b_trans (B is n x k), B otherwise (k x n), on every CPU. */
static inline double bench_sgemm_rate(int m, int n, int k, int b_trans, int reps) {
  float *a = malloc((size_t)m * k * sizeof(float));
  float *b = malloc((size_t)n * k * sizeof(float));
  float *c = malloc((size_t)m * n * sizeof(float));
  if (a == NULL || b == NULL || c == NULL) exit(1);
  for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)(i % 7) * 0.1f;
  for (size_t i = 0; i < (size_t)n * k; i++) b[i] = (float)(i % 5) * 0.1f;
  blas_set_threads(blas_team_threads());
  double best = 0;
  for (int rep = 0; rep < reps; rep++) {
    double t = bench_now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, b_trans ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
                a, k, b, b_trans ? k : n, 0.0f, c, n);
    double rate = 2.0 * m * (double)n * k / (bench_now() - t) / 1e9;
    if (rate > best) best = rate;
  }
  blas_set_threads(1);
  free(a);
  free(b);
  free(c);
  return best;
}

#endif
