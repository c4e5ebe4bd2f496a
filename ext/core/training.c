/* training.c - what the trainable baseline models share (see training.h). */
#include "training.h"

#include <string.h>

#include "vec.h"

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
