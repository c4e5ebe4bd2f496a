/* test_mlp_fit.c - the epoch loop: the same weights and losses as the
** contract's loop written out by hand (order, batches, the last row joining
** the batch before), independent of threads, early stops, divergence and
** bad arguments. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mlp.h"
#include "mlp_fit.h"
#include "rng.h"

#define N 33     /* two batches of 16, the last row joining the second */
#define BATCH 16
#define EPOCHS 3

typedef struct {
  double loss[EPOCHS + 1];
  int calls, stop_at_epoch, stop_after_polls, polls;
} Seen;

static int epoch_done(void *arg, const Mlp *net, int epoch, double loss, double seconds) {
  (void)net;
  Seen *s = arg;
  s->calls++;
  if (epoch <= EPOCHS) s->loss[epoch] = loss;
  CHECK(seconds >= 0);
  return epoch == s->stop_at_epoch;
}

static int should_stop(void *arg) {
  Seen *s = arg;
  return ++s->polls == s->stop_after_polls;
}

static void data(float *X, float *T, int in, int out) {
  Rng r;
  rng_seed(&r, 7, 1);
  for (int i = 0; i < N * in; i++) X[i] = (float)(rng_uniform(&r) - 0.5);
  for (int i = 0; i < N; i++)
    for (int g = 0; g < 2; g++) /* block g of some rows is zero */
      if ((i + g) % 3 == 0) memset(X + i * in + g * 4, 0, 4 * sizeof(float));
  for (int i = 0; i < N * out; i++) T[i] = (float)rng_normal(&r);
}

static MlpFitConfig config(Seen *s) {
  MlpFitConfig c = {EPOCHS, BATCH, 0.01f, 0.001f, 42, 1, should_stop, epoch_done, s};
  return c;
}

int main(void) {
  enum { IN = 11, OUT = 3 };
  int dims[] = {IN, 6, 5, OUT};
  float *X = malloc(sizeof(float) * N * IN), *T = malloc(sizeof(float) * N * OUT);
  data(X, T, IN, OUT);

  /* The loop of the contract, written out: dense input, so the summation
  ** order is the same as mlp_fit's and the weights must be identical. */
  Mlp a, b;
  mlp_init(&a, 3, dims, 9);
  mlp_init(&b, 3, dims, 9);
  Seen seen = {{0}, 0, 0, 0, 0};
  MlpFitConfig cfg = config(&seen);
  MlpFitResult res;
  CHECK(mlp_fit(&a, X, T, N, &cfg, &res) == MLP_FIT_OK);
  CHECK(res.epochs == EPOCHS && seen.calls == EPOCHS && res.threads == 1);
  CHECK(seen.polls == EPOCHS * 2); /* polled after every batch */
  MlpTrainer *tr = mlp_trainer_new(&b, BATCH + 1, 0.01f, 0.001f);
  mlp_trainer_set_threads(tr, 1);
  uint32_t order[N];
  for (int i = 0; i < N; i++) order[i] = (uint32_t)i;
  Rng shuffle;
  rng_seed(&shuffle, 42, MLP_FIT_RNG_STREAM);
  for (int e = 1; e <= EPOCHS; e++) {
    rng_shuffle(&shuffle, order, N);
    double sum = mlp_train_step(tr, &b, X, NULL, T, order, 16) * 16;
    sum += mlp_train_step(tr, &b, X, NULL, T, order + 16, 17) * 17;
    CHECK_MSG(sum / N == seen.loss[e], "epoch %d: loss %.9g by hand, %.9g by mlp_fit", e,
              sum / N, seen.loss[e]);
  }
  CHECK(memcmp(a.params, b.params, a.n_params * sizeof(float)) == 0);
  CHECK(memcmp(a.stats, b.stats, a.n_stats * sizeof(float)) == 0);
  CHECK(res.loss == seen.loss[EPOCHS]);
  mlp_trainer_free(tr);
  mlp_free(&b);

  /* Block-sparse input (two blocks of 4, then a tail of 3): the same
  ** weights for any thread count, and the same function as dense up to
  ** summation order. */
  Mlp s1, s3;
  mlp_init(&s1, 3, dims, 9);
  mlp_init(&s3, 3, dims, 9);
  CHECK(mlp_set_input_blocks(&s1, 4, 2) == 0 && mlp_set_input_blocks(&s3, 4, 2) == 0);
  Seen q = {{0}, 0, 0, 0, 0};
  cfg = config(&q);
  CHECK(mlp_fit(&s1, X, T, N, &cfg, &res) == MLP_FIT_OK);
  cfg.threads = 3;
  CHECK(mlp_fit(&s3, X, T, N, &cfg, &res) == MLP_FIT_OK && res.threads == 3);
  CHECK(memcmp(s1.params, s3.params, s1.n_params * sizeof(float)) == 0);
  double worst = 0;
  for (size_t i = 0; i < a.n_params; i++)
    worst = fmax(worst, fabs((double)s1.params[i] - a.params[i]));
  CHECK_MSG(worst < 1e-4, "sparse and dense weights differ by %g", worst);
  mlp_free(&s1);
  mlp_free(&s3);

  /* Early stops: by the poll (within epoch 1), by the epoch callback. */
  Mlp c;
  mlp_init(&c, 3, dims, 9);
  Seen stop = {{0}, 0, 0, 1, 0};
  cfg = config(&stop);
  CHECK(mlp_fit(&c, X, T, N, &cfg, &res) == MLP_FIT_STOPPED && res.epochs == 0);
  CHECK(stop.calls == 0);
  Seen stop2 = {{0}, 0, 2, 0, 0};
  cfg = config(&stop2);
  CHECK(mlp_fit(&c, X, T, N, &cfg, &res) == MLP_FIT_STOPPED && res.epochs == 2);
  CHECK(stop2.calls == 2);

  /* Divergence: an absurd learning rate. */
  Seen div = {{0}, 0, 0, 0, 0};
  cfg = config(&div);
  cfg.learning_rate = 1e30f;
  cfg.epochs = 50;
  CHECK(mlp_fit(&c, X, T, N, &cfg, &res) == MLP_FIT_DIVERGED);
  CHECK(res.diverged == MLP_DIVERGED_LOSS ? !isfinite(res.loss) && res.epochs < 50
                                          : res.diverged != 0);

  /* Bad arguments. */
  cfg = config(&div);
  CHECK(mlp_fit(&c, X, T, 1, &cfg, &res) == MLP_FIT_BADARG);
  cfg.epochs = 0;
  CHECK(mlp_fit(&c, X, T, N, &cfg, &res) == MLP_FIT_BADARG);
  cfg = config(&div);
  cfg.batch_size = 1;
  CHECK(mlp_fit(&c, X, T, N, &cfg, &res) == MLP_FIT_BADARG);
  cfg = config(&div);
  cfg.threads = MLP_MAX_THREADS + 1;
  CHECK(mlp_fit(&c, X, T, N, &cfg, &res) == MLP_FIT_BADARG);
  mlp_free(&c);
  mlp_free(&a);
  free(X);
  free(T);
  return check_report();
}
