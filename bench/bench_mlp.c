/*
** bench_mlp.c - training epochs of the user embedder at the paper's
** scale (70 000 warm users x 2579 inputs -> 400 -> 300 -> 200 -> 128,
** batch 512), next to this machine's own sgemm rate measured in the same
** run.  The epochs run through mlp_fit(), the very loop train_embedder()
** runs, so this times what users get.  The inputs have the reference
** layout (20 groups of 128 floats, then 19 scalars) and are block-sparse
** like registration-day features: age and country always set, each
** interaction group present with its own probability (streams ~77 % of
** users, bans ~8 %).
**
**   make build/bench_mlp && build/bench_mlp [rows epochs dense threads]
**     dense = 1 turns the block skipping off; threads 0 (default) = one
**     per CPU.  Per epoch it prints wall and CPU seconds; the load average
**     is printed before and after, since a shared machine skews both.
**     The trained weights' hash (hash.h) tells whether a change to the
**     trainer kept its floats bit for bit.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/resource.h>

#include "bench.h"
#include "hash.h"
#include "mlp.h"
#include "mlp_fit.h"
#include "rng.h"

#define GROUPS 20
#define DIM 128
#define SCALARS 19

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
         1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void print_load(const char *when) {
  double l[3];
  if (getloadavg(l, 3) == 3) printf("load average %s: %.2f %.2f %.2f\n", when, l[0], l[1], l[2]);
}

/* Per-epoch figures, printed as each epoch ends. */
typedef struct {
  double best, sum, cpu;
} Epochs;

static int epoch_done(void *arg, const Mlp *net, int epoch, double loss, double seconds) {
  (void)net;
  Epochs *ep = arg;
  double cpu = cpu_seconds();
  printf("epoch %d: %.3f s (cpu %.3f s)  loss %.6f\n", epoch, seconds, cpu - ep->cpu, loss);
  ep->cpu = cpu;
  ep->sum += seconds;
  if (seconds < ep->best) ep->best = seconds;
  return 0;
}

int main(int argc, char **argv) {
  int64_t rows = argc > 1 ? atoll(argv[1]) : 70000;
  int epochs = argc > 2 ? atoi(argv[2]) : 3;
  int dense = argc > 3 ? atoi(argv[3]) : 0;
  int threads = argc > 4 ? atoi(argv[4]) : 0;
  /* Presence probability of each group (in the order of
  ** docs/ARCHITECTURE.md, "Input features"). */
  static const double presence[GROUPS] = {1, 1, .15, .15, .15, .15, .3, .35, .35, .35,
                                          .77, .77, .77, .08, .08, .08, .2, .2, .2, .2};
  int in = GROUPS * DIM + SCALARS, out = DIM;
  int dims[] = {in, 400, 300, 200, out};
  print_load("before");
  bench_print_blas(stdout);
  double rate = bench_sgemm_rate(2048, 2048, 2048, 0, 4);
  printf("sgemm: %.1f GFLOP/s (2048 x 2048 x 2048, all CPUs)\n", rate);

  float *X = malloc((size_t)rows * in * sizeof(float));
  float *T = malloc((size_t)rows * out * sizeof(float));
  if (X == NULL || T == NULL) return 1;
  Rng r;
  rng_seed(&r, 1, 1);
  double present = 0;
  for (int64_t i = 0; i < rows; i++) {
    float *x = X + (size_t)i * in;
    for (int g = 0; g < GROUPS; g++) {
      int on = rng_uniform(&r) < presence[g];
      present += on;
      for (int j = 0; j < DIM; j++) x[g * DIM + j] = on ? (float)(rng_uniform(&r) - 0.5) : 0.0f;
    }
    for (int j = 0; j < SCALARS; j++) x[GROUPS * DIM + j] = (float)(rng_uniform(&r) * 3);
    double ss = 0;
    float *t = T + (size_t)i * out;
    for (int j = 0; j < out; j++) {
      t[j] = (float)rng_normal(&r);
      ss += (double)t[j] * t[j];
    }
    for (int j = 0; j < out; j++) t[j] /= (float)sqrt(ss);
  }
  double density = present / ((double)rows * GROUPS);

  Mlp net;
  if (mlp_init(&net, 4, dims, 0) != 0) return 1;
  if (!dense) mlp_set_input_blocks(&net, DIM, GROUPS);

  /* Dense FLOPs of one epoch: forward and weight gradient of every layer,
  ** input gradient of every layer but the first. */
  double flops = 0;
  for (int l = 0; l < 4; l++) flops += 2.0 * rows * dims[l] * dims[l + 1] * (l == 0 ? 2 : 3);
  double dense_first = 4.0 * rows * in * 400;
  double executed = flops - dense_first * (1 - ((density * GROUPS * DIM + SCALARS) / in));

  Epochs ep = {1e30, 0, cpu_seconds()};
  MlpFitConfig cfg = {epochs, 512, 1e-5f, 0.0f, 0, threads, NULL, epoch_done, &ep};
  MlpFitResult res;
  int rc = mlp_fit(&net, X, T, rows, &cfg, &res);
  if (rc != MLP_FIT_OK) {
    fprintf(stderr, "mlp_fit failed: %d\n", rc);
    return 1;
  }
  double best = ep.best, sum = ep.sum;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  print_load("after");
  printf("mode: %s, group density %.3f, training threads %d\n",
         dense ? "dense" : "block-sparse", density, res.threads);
  printf("per epoch: best %.3f s, mean %.3f s\n", best, sum / epochs);
  printf("dense-equivalent: %.0f GFLOP/epoch -> %.1f GFLOP/s = %.2f x sgemm rate\n", flops / 1e9,
         flops / best / 1e9, flops / best / 1e9 / rate);
  printf("executed: %.0f GFLOP/epoch -> %.1f GFLOP/s = %.2f of sgemm rate\n", executed / 1e9,
         executed / best / 1e9, executed / best / 1e9 / rate);
  printf("weights: hash %016llx (parameters), %016llx (running statistics)\n",
         (unsigned long long)hash_bytes(net.params, net.n_params * sizeof(float)),
         (unsigned long long)hash_bytes(net.stats, net.n_stats * sizeof(float)));
  printf("dense limit at sgemm rate: %.3f s/epoch; peak RSS %.0f MiB\n", flops / 1e9 / rate,
         ru.ru_maxrss / 1024.0);
  mlp_free(&net);
  free(X);
  free(T);
  return 0;
}
