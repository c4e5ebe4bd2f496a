/*
** mlp_fit.h - training a network (mlp.h) for a number of epochs: the loop
** every caller runs, the SQL function train_embedder() and the benchmark
** alike.  Plain C11; no SQLite here.
**
** Contract: each epoch visits the n rows of X (against targets T) once in
** an order shuffled by rng.h stream MLP_FIT_RNG_STREAM of the seed, in
** batches of batch_size rows; a last batch of one row joins the one before
** (BatchNorm needs two rows).  Each batch is one mlp_train_step.  When the
** network declares block-sparse input (mlp_set_input_blocks) the row
** masks are computed once and the trainer is told which blocks are
** nonzero in every row (mlp_trainer_plan), so their columns are gathered
** as dense ones.  The same seed and data give bit-identical weights for
** any thread count.
** The fit stops early, returning:
**   MLP_FIT_STOPPED   should_stop() (polled after every batch) or
**                     epoch_done() returned nonzero
**   MLP_FIT_DIVERGED  a batch loss was not finite (res->diverged
**                     MLP_DIVERGED_LOSS, at res->epochs + 1), or after the
**                     last epoch a weight or a BatchNorm running statistic
**                     is not finite (MLP_DIVERGED_WEIGHT / _STATISTIC)
**   MLP_FIT_NOMEM     memory for the trainer, masks or order
**   MLP_FIT_BADARG    n < 2, epochs < 1, batch_size < 2 or threads out of
**                     range
** The network is left as the last step made it; callers keep a model
** only on MLP_FIT_OK.
*/
#ifndef SEMIPERSO_MLP_FIT_H
#define SEMIPERSO_MLP_FIT_H

#include <stdint.h>

#include "mlp.h"

#define MLP_FIT_RNG_STREAM 0x73687566u /* "shuf" */

enum { MLP_FIT_OK = 0, MLP_FIT_NOMEM = -1, MLP_FIT_STOPPED = -2, MLP_FIT_DIVERGED = -3,
       MLP_FIT_BADARG = -4 };

typedef enum { MLP_DIVERGED_LOSS = 1, MLP_DIVERGED_WEIGHT, MLP_DIVERGED_STATISTIC } MlpDivergence;

typedef struct {
  int epochs;
  int batch_size;
  float learning_rate, weight_decay; /* Adam, see mlp.h */
  uint64_t seed;                     /* the batch order */
  int threads;                       /* 0: the trainer's default */
  /* Both optional.  epoch_done is called after every epoch (1-based) with
  ** its mean loss over the rows and its seconds of training. */
  int (*should_stop)(void *arg);
  int (*epoch_done)(void *arg, const Mlp *net, int epoch, double loss, double seconds);
  void *arg;
} MlpFitConfig;

typedef struct {
  int epochs;             /* epochs completed */
  double loss;            /* mean loss of the last one; the bad batch loss
                          ** when it diverged on the loss */
  MlpDivergence diverged; /* with MLP_FIT_DIVERGED */
  int threads;            /* training threads used */
} MlpFitResult;

/* Trains net on the n rows of X (n x dims[0]) against T (n x dims[L]). */
int mlp_fit(Mlp *net, const float *X, const float *T, int64_t n, const MlpFitConfig *cfg,
            MlpFitResult *res);

#endif
