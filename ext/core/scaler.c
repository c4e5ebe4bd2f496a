/* scaler.c - column standardisation of float rows (see scaler.h). */
#include "scaler.h"

#include <math.h>
#include <stdlib.h>

static int all_zero(const float *x, int n) {
  for (int j = 0; j < n; j++)
    if (x[j] != 0.0f) return 0;
  return 1;
}

int scaler_fit(const float *X, int64_t n, int64_t ld, int col0, int ncols, float *mean,
               float *scale) {
  double *sum = calloc((size_t)ncols * 2, sizeof(double));
  int64_t rows = 0;
  if (sum == NULL) return -1;
  /* Two passes (mean, then squared deviations): exact enough in double
  ** whatever the offset of the data. */
  for (int64_t i = 0; i < n; i++) {
    const float *x = X + i * ld + col0;
    if (all_zero(x, ncols)) continue;
    rows++;
    for (int j = 0; j < ncols; j++) sum[j] += x[j];
  }
  for (int j = 0; j < ncols && rows; j++) sum[j] /= (double)rows;
  for (int64_t i = 0; i < n && rows; i++) {
    const float *x = X + i * ld + col0;
    if (all_zero(x, ncols)) continue;
    for (int j = 0; j < ncols; j++) {
      double c = x[j] - sum[j];
      sum[ncols + j] += c * c;
    }
  }
  for (int j = 0; j < ncols; j++) {
    double sd = rows ? sqrt(sum[ncols + j] / (double)rows) : 0.0;
    mean[j] = rows ? (float)sum[j] : 0.0f;
    scale[j] = sd > 0.0 ? (float)sd : 1.0f;
  }
  free(sum);
  return 0;
}

void scaler_apply(float *x, int ncols, const float *mean, const float *scale) {
  if (all_zero(x, ncols)) return;
  for (int j = 0; j < ncols; j++) {
    float v = (x[j] - mean[j]) / scale[j];
    if (v > SCALER_CLIP) v = SCALER_CLIP;
    if (v < -SCALER_CLIP) v = -SCALER_CLIP;
    if (fabsf(v) < SCALER_ZERO) v = 0.0f;
    x[j] = v;
  }
}
