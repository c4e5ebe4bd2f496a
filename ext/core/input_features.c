/* input_features.c - one user's input vector in the reference layout (see input_features.h). */
#include "input_features.h"

#include <stdlib.h>
#include <string.h>

int64_t features_width(int d) { return (int64_t)FEATURE_GROUPS * d + FEATURE_SCALARS; }

int features_age_class(double age) {
  return age < 18 ? 0 : age < 25 ? 1 : age < 35 ? 2 : age < 50 ? 3 : 4;
}

int features_begin(FeatureSums *s, int d) {
  memset(s, 0, sizeof *s);
  s->sum = calloc((size_t)FEATURE_EVENT_GROUPS * (size_t)d, sizeof *s->sum);
  if (s->sum == NULL) return -1;
  s->d = d;
  return 0;
}

void features_add(FeatureSums *s, int g, const float *v) {
  int e = g - FEATURE_FIRST_EVENT;
  s->events[e]++;
  if (v == NULL) return;
  double *sum = s->sum + (size_t)e * s->d;
  for (int j = 0; j < s->d; j++) sum[j] += v[j];
  s->with_vector[e]++;
}

void features_finish(const FeatureSums *s, const float *age_vec, const float *country_vec,
                     double age, float *out) {
  int d = s->d;
  if (age_vec) memcpy(out, age_vec, (size_t)d * sizeof *out);
  else memset(out, 0, (size_t)d * sizeof *out);
  if (country_vec) memcpy(out + d, country_vec, (size_t)d * sizeof *out);
  else memset(out + d, 0, (size_t)d * sizeof *out);
  for (int e = 0; e < FEATURE_EVENT_GROUPS; e++) {
    float *dst = out + (size_t)(FEATURE_FIRST_EVENT + e) * d;
    const double *sum = s->sum + (size_t)e * d;
    double n = (double)s->with_vector[e];
    for (int j = 0; j < d; j++) dst[j] = s->with_vector[e] ? (float)(sum[j] / n) : 0.0f;
  }
  float *scalars = out + (size_t)FEATURE_GROUPS * d;
  for (int e = 0; e < FEATURE_EVENT_GROUPS; e++) scalars[e] = (float)s->events[e];
  scalars[FEATURE_EVENT_GROUPS] = (float)age;
}

void features_free(FeatureSums *s) {
  free(s->sum);
  s->sum = NULL;
}
