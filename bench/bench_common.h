/*
** bench_common.h - what the baselines' benchmarks share beyond bench.h
** (the clock, the BLAS, the sgemm rate): the peak resident memory, the
** load average, and a synthetic catalog with warm users shaped like the
** paper's data for the baseline models.  Header only: each benchmark is
** one program.
*/
#ifndef SEMIPERSO_BENCH_COMMON_H
#define SEMIPERSO_BENCH_COMMON_H

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"
#include "feature_layout.h"
#include "rng.h"
#include "training.h"

static inline double bench_peak_mib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

static inline void bench_print_load(const char *when) {
  double l[3];
  if (getloadavg(l, 3) == 3) printf("load average %s: %.2f %.2f %.2f\n", when, l[0], l[1], l[2]);
}

/* A catalog of unit track vectors around 50 genre directions and warm
** users whose preference vector is the mean of 30 tracks, with input
** features in the project's layout (feature_layout.h): age and country
** groups always set, each event group present with its own probability
** (streams ~77 % of users, bans ~8 %), group vectors near the user's
** preference, counts 0..5, an age 15..64.  With positive, the features
** are kept restricted to positive interactions (feature_keep_positive). */
typedef struct {
  int64_t users, items;
  int d, width;     /* width: feature_dim(d), or feature_positive_dim(d) */
  float *item_pref; /* items x d */
  float *user_pref; /* users x d */
  float *features;  /* users x width */
} BenchData;

static inline void bench_unit(float *x, int d) {
  double s = 0;
  for (int j = 0; j < d; j++) s += (double)x[j] * x[j];
  for (int j = 0; j < d; j++) x[j] /= (float)sqrt(s);
}

static inline void bench_data(BenchData *b, int64_t users, int64_t items, int d, int positive) {
  static const double presence[FEATURE_GROUPS] = {1, 1, .15, .15, .15, .15, .3, .35, .35, .35,
                                                  .77, .77, .77, .08, .08, .08, .2, .2, .2, .2};
  enum { GENRES = 50 };
  int full = feature_dim(d);
  b->users = users;
  b->items = items;
  b->d = d;
  b->width = positive ? feature_positive_dim(d) : full;
  float *genre = malloc((size_t)GENRES * d * sizeof(float)), *row = malloc((size_t)full * sizeof(float));
  b->item_pref = malloc((size_t)items * d * sizeof(float));
  b->user_pref = malloc((size_t)users * d * sizeof(float));
  b->features = malloc((size_t)users * b->width * sizeof(float));
  if (!genre || !row || !b->item_pref || !b->user_pref || !b->features) exit(1);
  Rng r;
  rng_seed(&r, 1, 1);
  for (int g = 0; g < GENRES; g++) {
    for (int j = 0; j < d; j++) genre[g * d + j] = (float)rng_normal(&r);
    bench_unit(genre + g * d, d);
  }
  for (int64_t i = 0; i < items; i++) {
    float *x = b->item_pref + i * d;
    int g = (int)rng_below(&r, GENRES);
    for (int j = 0; j < d; j++) x[j] = genre[g * d + j] + 0.6f * (float)rng_normal(&r) / sqrtf((float)d);
    bench_unit(x, d);
  }
  for (int64_t u = 0; u < users; u++) {
    float *p = b->user_pref + u * d;
    memset(p, 0, (size_t)d * sizeof(float));
    for (int k = 0; k < 30; k++) {
      const float *x = b->item_pref + (int64_t)rng_below(&r, (uint64_t)items) * d;
      for (int j = 0; j < d; j++) p[j] += x[j] / 30.0f;
    }
    for (int g = 0; g < FEATURE_GROUPS; g++) {
      int on = rng_uniform(&r) < presence[g];
      for (int j = 0; j < d; j++) row[g * d + j] = on ? p[j] + 0.05f * (float)rng_normal(&r) : 0.0f;
    }
    for (int j = 0; j < FEATURE_SCALARS - 1; j++) row[FEATURE_GROUPS * d + j] = (float)rng_below(&r, 6);
    row[full - 1] = (float)(15 + rng_below(&r, 50));
    if (positive) feature_keep_positive(row, 1, d, b->features + u * b->width);
    else memcpy(b->features + u * full, row, (size_t)full * sizeof(float));
  }
  free(genre);
  free(row);
}

/* A baseline model's benchmark run: [users items epochs threads] from the
** command line (epochs 0: the model's default schedule), the load and
** the sgemm rate printed. */
typedef struct {
  int64_t users, items;
  int epochs, threads;
  double rate;
} BenchRun;

static inline BenchRun bench_start(int argc, char **argv) {
  BenchRun r;
  r.users = argc > 1 ? atoll(argv[1]) : 70000;
  r.items = argc > 2 ? atoll(argv[2]) : 50000;
  r.epochs = argc > 3 ? atoi(argv[3]) : 0;
  r.threads = argc > 4 ? atoi(argv[4]) : 0;
  bench_print_load("before");
  bench_print_blas(stdout);
  r.rate = bench_sgemm_rate(2048, 2048, 2048, 0, 4);
  printf("sgemm: %.1f GFLOP/s (2048 x 2048 x 2048)\n", r.rate);
  return r;
}

/* Training progress, one line per epoch. */
static inline int bench_on_epoch(void *arg, int epoch, double loss, double seconds) {
  (void)arg;
  printf("epoch %d: %.2f s  loss %.6f\n", epoch, seconds, loss);
  fflush(stdout);
  return 0;
}

/* The training summary (preparation, epochs, the whole schedule of total
** seconds, peak memory beside the inputs' size), or the failure; returns
** nonzero when training failed. */
static inline int bench_training_report(const BenchRun *r, int rc, const TrainReport *rep,
                                        double total, const BenchData *b) {
  if (rc != TRAIN_OK) {
    printf("training failed: %d\n", rc);
    return 1;
  }
  double inputs = ((double)b->users * (b->d + b->width) + (double)b->items * b->d) * 4;
  printf("top items: %.2f s, %.0f GFLOP -> %.1f GFLOP/s = %.2f of sgemm rate\n", rep->prep_seconds,
         rep->prep_flops / 1e9, rep->prep_flops / rep->prep_seconds / 1e9,
         rep->prep_flops / rep->prep_seconds / 1e9 / r->rate);
  printf("epochs: %.2f s (%.2f s/epoch), %.1f GFLOP/epoch -> %.1f GFLOP/s = %.3f of sgemm rate\n",
         rep->train_seconds, rep->train_seconds / rep->epochs, rep->train_flops / rep->epochs / 1e9,
         rep->train_flops / rep->train_seconds / 1e9,
         rep->train_flops / rep->train_seconds / 1e9 / r->rate);
  printf("training: %.2f s for the schedule; peak RSS %.0f MiB (inputs %.0f MiB)\n", total,
         bench_peak_mib(), inputs / 1048576.0);
  return 0;
}

static inline void bench_data_free(BenchData *b) {
  free(b->item_pref);
  free(b->user_pref);
  free(b->features);
}

#endif
