/* training.c - what the trainable baseline models share (see training.h). */
#include "training.h"

#include <string.h>
#include <time.h>

#include "topk.h"
#include "vec.h"

#define TOP_CHUNK 4096 /* users per topk_dot call: a stop request waits for one */

int param_tensors_copy(const ParamTensor *dst, int n, const ParamTensor *src, int n_src,
                       const char **bad) {
  const char *fault = NULL;
  for (int j = 0; j < n_src && !fault; j++) {
    int found = 0;
    for (int i = 0; i < n; i++) found += strcmp(src[j].name, dst[i].name) == 0;
    if (found != 1) fault = src[j].name; /* unknown to the model */
    for (int k = 0; k < j && !fault; k++)
      if (strcmp(src[k].name, src[j].name) == 0) fault = src[j].name; /* twice */
  }
  for (int i = 0; i < n && !fault; i++) {
    const ParamTensor *s = NULL;
    for (int j = 0; j < n_src && !s; j++)
      if (strcmp(src[j].name, dst[i].name) == 0) s = &src[j];
    size_t len = (size_t)dst[i].rows * (size_t)dst[i].cols;
    if (s == NULL || s->rows != dst[i].rows || s->cols != dst[i].cols || s->data == NULL ||
        !vec_all_finite(s->data, len)) {
      fault = dst[i].name;
      break;
    }
    memcpy(dst[i].data, s->data, len * sizeof(float));
  }
  if (bad) *bad = fault;
  return fault ? TRAIN_BADARG : TRAIN_OK;
}

double train_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int train_stop_requested(const TrainCallbacks *cb) {
  return cb && cb->should_stop && cb->should_stop(cb->arg);
}

int train_epoch_done(const TrainCallbacks *cb, int epoch, double loss, double t_epoch) {
  return cb && cb->progress && cb->progress(cb->arg, epoch, loss, train_now() - t_epoch);
}

void train_report(TrainReport *rep, int epochs, double loss, double t_start, double t_prep,
                  double prep_flops, double train_flops) {
  if (rep == NULL) return;
  rep->epochs = epochs;
  rep->loss = loss;
  rep->prep_seconds = t_prep - t_start;
  rep->train_seconds = train_now() - t_prep;
  rep->prep_flops = prep_flops;
  rep->train_flops = train_flops;
}

int train_top_items(const float *users, int64_t n, const float *items, int64_t n_items, int d,
                    int k, const TrainCallbacks *cb, int32_t *top) {
  double item_norm_max = topk_max_norm(items, n_items, d);
  for (int64_t u0 = 0; u0 < n; u0 += TOP_CHUNK) {
    if (train_stop_requested(cb)) return TRAIN_STOPPED;
    int64_t nb = n - u0 < TOP_CHUNK ? n - u0 : TOP_CHUNK;
    if (topk_dot(users + u0 * d, nb, items, n_items, d, item_norm_max, k, top + u0 * k, NULL) != 0)
      return TRAIN_NOMEM;
  }
  return TRAIN_OK;
}
