/*
** sgemm_rate.c - this machine's own single-precision GEMM throughput, the
** yardstick every numeric stage of the benchmark is reported against:
** the best GFLOP/s of a few square sgemm calls (n = 2048 by default) with
** the BLAS and kernel the extension uses, on all CPUs.  Prints that one
** number on stdout; the BLAS description (bench.h) goes to stderr.
*/
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 2048;
  bench_print_blas(stderr);
  printf("%.1f\n", bench_sgemm_rate(n, n, n, 0, 5));
  return 0;
}
