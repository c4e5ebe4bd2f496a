/* adam.c - the Adam optimiser over flat parameter arrays (see adam.h). */
#include "adam.h"

/* Let GCC vectorise; sqrtf keeps its errno call under this pragma, so the
** SSE2 lanes are spelled out. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno", "no-trapping-math")
#endif

#include <math.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void adam_factors(double lr, int64_t t, float *step, float *rbc2) {
  double bc1 = 1.0 - pow(ADAM_BETA1, (double)t);
  double bc2 = 1.0 - pow(ADAM_BETA2, (double)t);
  *step = (float)(lr / bc1);
  *rbc2 = (float)(1.0 / sqrt(bc2));
}

/* The scalar loop's exact operations, four lanes at a time where SSE2 is
** there (sqrtps and divps round as sqrtf and the division do). */
void adam_range(float *restrict p, float *restrict m, float *restrict v,
                const float *restrict g, float wd, float step, float rbc2, size_t lo,
                size_t hi) {
  const float b1 = (float)ADAM_BETA1, b2 = (float)ADAM_BETA2;
  size_t i = lo;
#if defined(__SSE2__)
  const __m128 vwd = _mm_set1_ps(wd), vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2);
  const __m128 vc1 = _mm_set1_ps(1.0f - b1), vc2 = _mm_set1_ps(1.0f - b2);
  const __m128 vstep = _mm_set1_ps(step), vrbc2 = _mm_set1_ps(rbc2), veps = _mm_set1_ps(ADAM_EPS);
  for (; i + 4 <= hi; i += 4) {
    __m128 pi = _mm_loadu_ps(p + i);
    __m128 gi = _mm_add_ps(_mm_loadu_ps(g + i), _mm_mul_ps(vwd, pi));
    __m128 mi = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + i)), _mm_mul_ps(vc1, gi));
    __m128 vi = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + i)), _mm_mul_ps(_mm_mul_ps(vc2, gi), gi));
    _mm_storeu_ps(m + i, mi);
    _mm_storeu_ps(v + i, vi);
    __m128 den = _mm_add_ps(_mm_mul_ps(_mm_sqrt_ps(vi), vrbc2), veps);
    _mm_storeu_ps(p + i, _mm_sub_ps(pi, _mm_div_ps(_mm_mul_ps(vstep, mi), den)));
  }
#endif
  for (; i < hi; i++) {
    float gi = g[i] + wd * p[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step * mi / (sqrtf(vi) * rbc2 + ADAM_EPS);
  }
}
