/*
** training.h - what the trainable baseline models of the core (dropoutnet,
** melu) share: status codes, progress and stop callbacks, a summary of a
** run, and parameters as a list of named tensors.  No SQLite here.
**
** Contract: a model exposes its parameters as ParamTensor views (name,
** rows x cols floats, row-major) in a fixed order, so a binding can store
** them and rebuild the model from them (param_tensors_copy).
*/
#ifndef SEMIPERSO_TRAINING_H
#define SEMIPERSO_TRAINING_H

#include <stdint.h>

enum {
  TRAIN_OK = 0,
  TRAIN_NOMEM = -1,    /* memory (or a thread) could not be had */
  TRAIN_BADARG = -2,   /* an argument or option out of range; nothing done */
  TRAIN_STOPPED = -3,  /* should_stop() or progress() returned nonzero */
  TRAIN_DIVERGED = -4  /* the loss became NaN or infinite */
};

typedef struct {
  /* Both optional.  should_stop is polled before every batch (and between
  ** blocks of long preparations); progress is called after every epoch
  ** with the epoch (1-based), its mean batch loss and its seconds.  A
  ** nonzero return from either stops training with TRAIN_STOPPED. */
  int (*should_stop)(void *arg);
  int (*progress)(void *arg, int epoch, double loss, double seconds);
  void *arg;
} TrainCallbacks;

typedef struct {
  int epochs;           /* epochs completed */
  double loss;          /* mean batch loss of the last epoch */
  double prep_seconds;  /* before the first epoch (e.g. top items) */
  double train_seconds; /* the epochs */
  double prep_flops;    /* floating-point operations of the products */
  double train_flops;
} TrainReport;

typedef struct {
  const char *name;
  int rows, cols;
  float *data;
} ParamTensor;

/* Fills each of the n tensors of dst (a model's own views) from the
** tensor of src with the same name.  Every dst name must be found exactly
** once in src with the same rows and cols and only finite values, and src
** must hold nothing else; otherwise TRAIN_BADARG, *bad (when not NULL)
** names the first tensor at fault, and dst may be partly written. */
int param_tensors_copy(const ParamTensor *dst, int n, const ParamTensor *src, int n_src,
                       const char **bad);

/* Monotonic seconds. */
double train_now(void);

/* Nonzero when cb has a should_stop that returns nonzero. */
int train_stop_requested(const TrainCallbacks *cb);

/* The end of an epoch: calls cb->progress (when set) with the epoch
** (1-based), its loss and the seconds since t_epoch (train_now());
** returns nonzero when training must stop. */
int train_epoch_done(const TrainCallbacks *cb, int epoch, double loss, double t_epoch);

/* Fills rep (when not NULL) after epochs completed epochs: t_start, t_prep
** are train_now() at the start and after the preparation. */
void train_report(TrainReport *rep, int epochs, double loss, double t_start, double t_prep,
                  double prep_flops, double train_flops);

/* Each of the n user rows' k best items (n_items rows, d wide) by dot
** product (topk_dot), into top (n x k), in blocks of users with a stop
** check between them.  TRAIN_OK, TRAIN_STOPPED or TRAIN_NOMEM. */
int train_top_items(const float *users, int64_t n, const float *items, int64_t n_items, int d,
                    int k, const TrainCallbacks *cb, int32_t *top);

#endif
