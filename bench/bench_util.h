/*
** bench_util.h - what the component benchmarks of the factorisations
** share beyond bench.h (the clock, the BLAS in use): laps, processor time,
** peak memory, the load average, this machine's sgemm rate
** (bench/sgemm_rate.c, run in the same session), and the paper-scale
** synthetic dataset's options.
*/
#ifndef SEMIPERSO_BENCH_UTIL_H
#define SEMIPERSO_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"
#include "synth.h"

/* Seconds since the previous call (the first: since the program began
** timing with lap_start). */
static double lap_last;

static inline void lap_start(void) { lap_last = bench_now(); }

static inline double lap(void) {
  double t = bench_now(), d = t - lap_last;
  lap_last = t;
  return d;
}

/* User + system seconds of the whole process so far (all threads): on a
** shared machine, the work done, whatever the wait for a processor. */
static inline double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
         1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static inline double peak_rss_mib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;
}

static inline void print_load(const char *when) {
  double l[3];
  if (getloadavg(l, 3) == 3) printf("load average %s: %.2f %.2f %.2f\n", when, l[0], l[1], l[2]);
}

/* GFLOP/s printed by the sgemm_rate program (path), or 0 if it cannot run. */
static inline double machine_sgemm_rate(const char *path) {
  FILE *p = popen(path, "r");
  double rate = 0;
  if (p) {
    if (fscanf(p, "%lf", &rate) != 1) rate = 0;
    pclose(p);
  }
  return rate;
}

/* Prints the load, the BLAS kernel in use and the sgemm rate of this
** machine measured now; returns the rate. */
static inline double print_machine(const char *rate_program) {
  print_load("before");
  double rate = machine_sgemm_rate(rate_program);
  bench_print_blas(stdout);
  printf("sgemm rate (%s): %.1f GFLOP/s\n", rate_program, rate);
  return rate;
}

/* The closing lines: seconds, processor seconds, peak memory, and the
** executed rate against the sgemm rate. */
static inline void print_result(double secs, double cpu, double flops, double rate) {
  double gflops = flops / secs / 1e9;
  print_load("after");
  printf("fit: %.2f s, %.2f s of processor time, peak RSS %.0f MiB\n", secs, cpu,
         peak_rss_mib());
  printf("executed: %.1f GFLOP -> %.1f GFLOP/s = %.2f of the sgemm rate\n", flops / 1e9,
         gflops, rate > 0 ? gflops / rate : 0);
}

/* The paper's scale, as bench/run.py generates it. */
static inline void paper_options(SynthOptions *o) {
  synth_default_options(o);
  o->tracks = 50000;
  o->warm = 70000;
  o->validation = 20000;
  o->test = 10000;
  o->dim = 128;
}

#endif
