/* mlp_fit.c - the epoch loop (see mlp_fit.h). */
#include "mlp_fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rng.h"
#include "vec.h"

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The rows' block masks (NULL for a dense input), and the trainer told
** which blocks every row has. */
static int plan_blocks(const Mlp *net, MlpTrainer *tr, const float *X, int64_t n,
                       uint64_t **masks) {
  *masks = NULL;
  if (net->n_blocks == 0) return MLP_FIT_OK;
  *masks = malloc((size_t)n * sizeof **masks);
  if (*masks == NULL) return MLP_FIT_NOMEM;
  mlp_block_masks(net, X, n, *masks);
  mlp_trainer_plan(tr, net, mlp_always_blocks(net, *masks, n));
  return MLP_FIT_OK;
}

/* One epoch in the order of `order` (shuffled first); the mean loss, or the
** first batch loss that is not finite. */
static int run_epoch(MlpTrainer *tr, Mlp *net, const float *X, const uint64_t *masks,
                     const float *T, int64_t n, uint32_t *order, Rng *shuffle,
                     const MlpFitConfig *cfg, double *loss) {
  double sum = 0;
  rng_shuffle(shuffle, order, (uint32_t)n);
  for (int64_t b = 0; b < n;) {
    int B = (int)(n - b < cfg->batch_size ? n - b : cfg->batch_size);
    if (n - b - B == 1) B++; /* BatchNorm needs two rows per batch */
    double l = mlp_train_step(tr, net, X, masks, T, order + b, B);
    if (!isfinite(l)) {
      *loss = l;
      return MLP_FIT_DIVERGED;
    }
    sum += l * B;
    b += B;
    if (cfg->should_stop && cfg->should_stop(cfg->arg)) return MLP_FIT_STOPPED;
  }
  *loss = sum / (double)n;
  return MLP_FIT_OK;
}

int mlp_fit(Mlp *net, const float *X, const float *T, int64_t n, const MlpFitConfig *cfg,
            MlpFitResult *res) {
  memset(res, 0, sizeof *res);
  if (n < 2 || n > (int64_t)UINT32_MAX || cfg->epochs < 1 || cfg->batch_size < 2)
    return MLP_FIT_BADARG;
  int batch = cfg->batch_size < n ? cfg->batch_size : (int)n;
  MlpTrainer *tr = mlp_trainer_new(net, batch + 1, cfg->learning_rate, cfg->weight_decay);
  uint32_t *order = malloc((size_t)n * sizeof *order);
  uint64_t *masks = NULL;
  int rc = tr && order ? MLP_FIT_OK : MLP_FIT_NOMEM;
  if (rc == MLP_FIT_OK && cfg->threads && mlp_trainer_set_threads(tr, cfg->threads) != 0)
    rc = MLP_FIT_BADARG;
  if (rc == MLP_FIT_OK) rc = plan_blocks(net, tr, X, n, &masks);
  if (rc == MLP_FIT_OK) {
    res->threads = mlp_trainer_threads(tr);
    for (int64_t i = 0; i < n; i++) order[i] = (uint32_t)i;
    Rng shuffle;
    rng_seed(&shuffle, cfg->seed, MLP_FIT_RNG_STREAM);
    for (int e = 0; e < cfg->epochs && rc == MLP_FIT_OK; e++) {
      double t0 = now_seconds();
      rc = run_epoch(tr, net, X, masks, T, n, order, &shuffle, cfg, &res->loss);
      if (rc == MLP_FIT_DIVERGED) res->diverged = MLP_DIVERGED_LOSS;
      if (rc != MLP_FIT_OK) break;
      res->epochs = e + 1;
      if (cfg->epoch_done &&
          cfg->epoch_done(cfg->arg, net, e + 1, res->loss, now_seconds() - t0))
        rc = MLP_FIT_STOPPED;
    }
  }
  /* A finite loss can hide an overflowing weight or running variance. */
  if (rc == MLP_FIT_OK && !vec_all_finite(net->params, net->n_params)) {
    rc = MLP_FIT_DIVERGED;
    res->diverged = MLP_DIVERGED_WEIGHT;
  } else if (rc == MLP_FIT_OK && net->n_stats && !vec_all_finite(net->stats, net->n_stats)) {
    rc = MLP_FIT_DIVERGED;
    res->diverged = MLP_DIVERGED_STATISTIC;
  }
  mlp_trainer_free(tr);
  free(order);
  free(masks);
  return rc;
}
