/* adam.c - the Adam optimiser over flat parameter arrays (see adam.h). */
#include "adam.h"

/* sqrtf keeps its errno call under GCC's optimisation pragmas, so the
** vector lanes are spelled out; fp-contract=off keeps every multiply and
** add rounded on its own, as written. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno", "no-trapping-math", "fp-contract=off")
#endif

#include <math.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define X86_VECTORS 1
#endif

void adam_factors(double lr, int64_t t, float *step, float *rbc2) {
  double bc1 = 1.0 - pow(ADAM_BETA1, (double)t);
  double bc2 = 1.0 - pow(ADAM_BETA2, (double)t);
  *step = (float)(lr / bc1);
  *rbc2 = (float)(1.0 / sqrt(bc2));
}

/* One Adam step's operands. */
typedef struct {
  float *restrict p, *restrict m, *restrict v;
  const float *restrict g;
  float wd, step, rbc2;
} AdamArgs;

#define ADAM_B1 ((float)ADAM_BETA1)
#define ADAM_B2 ((float)ADAM_BETA2)

/* Adam on elements [i, hi) W at a time with vectors T and the intrinsics
** P##_*_ps (P: _mm, _mm256, _mm512), leaving i at the first element not
** done: the scalar loop's exact operations in its order (sqrtps and divps
** round as sqrtf and the division do). */
#define ADAM_VECTOR_LOOP(T, P, W, a, i, hi)                                                   \
  do {                                                                                        \
    /* The arrays in locals: the vector stores may alias anything, *a too. */                \
    float *p_ = (a)->p, *m_p = (a)->m, *v_p = (a)->v;                                         \
    const float *g_p = (a)->g;                                                                \
    const T wd_ = P##_set1_ps((a)->wd), b1_ = P##_set1_ps(ADAM_B1);                          \
    const T b2_ = P##_set1_ps(ADAM_B2), c1_ = P##_set1_ps(1.0f - ADAM_B1);                   \
    const T c2_ = P##_set1_ps(1.0f - ADAM_B2), step_ = P##_set1_ps((a)->step);               \
    const T rbc2_ = P##_set1_ps((a)->rbc2), eps_ = P##_set1_ps(ADAM_EPS);                    \
    for (; (i) + (W) <= (hi); (i) += (W)) {                                                   \
      T pv_ = P##_loadu_ps(p_ + (i));                                                         \
      T g_ = P##_add_ps(P##_loadu_ps(g_p + (i)), P##_mul_ps(wd_, pv_));                      \
      T m_ = P##_add_ps(P##_mul_ps(b1_, P##_loadu_ps(m_p + (i))), P##_mul_ps(c1_, g_));      \
      T v_ = P##_add_ps(P##_mul_ps(b2_, P##_loadu_ps(v_p + (i))),                            \
                        P##_mul_ps(P##_mul_ps(c2_, g_), g_));                                 \
      P##_storeu_ps(m_p + (i), m_);                                                           \
      P##_storeu_ps(v_p + (i), v_);                                                           \
      T den_ = P##_add_ps(P##_mul_ps(P##_sqrt_ps(v_), rbc2_), eps_);                         \
      P##_storeu_ps(p_ + (i), P##_sub_ps(pv_, P##_div_ps(P##_mul_ps(step_, m_), den_)));     \
    }                                                                                         \
  } while (0)

#if defined(X86_VECTORS)
__attribute__((target("avx512f"))) static size_t adam_avx512(const AdamArgs *a, size_t i,
                                                             size_t hi) {
  ADAM_VECTOR_LOOP(__m512, _mm512, 16, a, i, hi);
  return i;
}

__attribute__((target("avx"))) static size_t adam_avx(const AdamArgs *a, size_t i, size_t hi) {
  ADAM_VECTOR_LOOP(__m256, _mm256, 8, a, i, hi);
  return i;
}
#endif

/* Adam over elements [lo, hi), in the widest vectors the CPU has. */
void adam_range(float *restrict p, float *restrict m, float *restrict v,
                const float *restrict g, float wd, float step, float rbc2, size_t lo,
                size_t hi) {
  const float b1 = ADAM_B1, b2 = ADAM_B2;
  size_t i = lo;
#if defined(X86_VECTORS)
  AdamArgs a = {p, m, v, g, wd, step, rbc2};
  if (__builtin_cpu_supports("avx512f")) i = adam_avx512(&a, i, hi);
  else if (__builtin_cpu_supports("avx")) i = adam_avx(&a, i, hi);
  ADAM_VECTOR_LOOP(__m128, _mm, 4, &a, i, hi);
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
