/* vec.c - dense float32 vector arithmetic (see vec.h). */
#include "vec.h"

#include <math.h>

int vec_all_finite(const float *x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(x[i])) return 0;
  }
  return 1;
}

double vec_dot(const float *a, const float *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
  return s;
}

double vec_norm(const float *x, size_t n) { return sqrt(vec_dot(x, x, n)); }

double vec_distance_l2(const float *a, const float *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - (double)b[i];
    s += d * d;
  }
  return sqrt(s);
}

double vec_distance_cosine(const float *a, const float *b, size_t n) {
  double na = vec_norm(a, n), nb = vec_norm(b, n);
  if (na == 0.0 || nb == 0.0) return 1.0;
  double c = vec_dot(a, b, n) / (na * nb);
  /* Rounding can push |c| a hair past 1. */
  if (c > 1.0) c = 1.0;
  if (c < -1.0) c = -1.0;
  return 1.0 - c;
}

double vec_normalize(float *x, size_t n) {
  double norm = vec_norm(x, n);
  if (norm > 0.0) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((double)x[i] / norm);
  }
  return norm;
}
