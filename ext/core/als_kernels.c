/* als_kernels.c - vector kernels of the ALS row solves (see als_kernels.h). */
#include "als_kernels.h"

#include <stddef.h>

/* The coefficient of entry e once its dot product t is known. */
static inline float coefficient(const AlsRow *s, int64_t e, float t) {
  float c1 = s->alpha * s->w[e];
  return s->base * (1.0f + c1) + s->sign * c1 * t;
}

/* With row->cold, starts fetching the vectors of entries e + 2 and e + 3
** (ALS_FETCH_AHEAD) into the first-level cache.  A vector of a random
** row arrives from memory in one miss per 64-byte line; issued this early,
** those misses overlap the two entries' arithmetic instead of stalling it,
** which the out-of-order core alone does not manage over a 1 KiB vector. */
static inline void fetch_ahead(const AlsRow *s, int64_t e) {
#if defined(__GNUC__)
  for (int64_t k = e + ALS_FETCH_AHEAD; k < e + 2 * ALS_FETCH_AHEAD && k < s->n; k++) {
    const char *v = (const char *)(s->y + (size_t)s->idx[k] * s->d);
    for (size_t b = 0; b < (size_t)s->d * sizeof(float); b += 64) __builtin_prefetch(v + b, 0, 3);
  }
#else
  (void)s;
  (void)e;
#endif
}

static float dot_scalar(const float *a, const float *b, int d) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int j = 0;
  for (; j + 4 <= d; j += 4) {
    s0 += a[j] * b[j];
    s1 += a[j + 1] * b[j + 1];
    s2 += a[j + 2] * b[j + 2];
    s3 += a[j + 3] * b[j + 3];
  }
  for (; j < d; j++) s0 += a[j] * b[j];
  return (s0 + s1) + (s2 + s3);
}

static void accumulate_scalar(const AlsRow *s, const float *v, float *out, float *t) {
  for (int64_t e = 0; e < s->n; e++) {
    if (s->cold && e % ALS_FETCH_AHEAD == 0) fetch_ahead(s, e);
    const float *y = s->y + (size_t)s->idx[e] * s->d;
    float te = dot_scalar(y, v, s->d), c = coefficient(s, e, te);
    if (t) t[e] = te;
    for (int j = 0; j < s->d; j++) out[j] += c * y[j];
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define ALS_X86 1

/* Entries go two at a time: two independent dot products keep the FMA
** units busy, and out is read and written once for both updates. */

__attribute__((target("avx2,fma"))) static float hsum256(__m256 s) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b,
                                                          int d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0;
  int j = 0;
  for (; j + 16 <= d; j += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 8), _mm256_loadu_ps(b + j + 8), s1);
  }
  for (; j + 8 <= d; j += 8)
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), s0);
  float r = hsum256(_mm256_add_ps(s0, s1));
  for (; j < d; j++) r += a[j] * b[j];
  return r;
}

__attribute__((target("avx2,fma"))) static void accumulate_avx2(const AlsRow *s,
                                                                const float *v,
                                                                float *out, float *t) {
  const int d = s->d;
  for (int64_t e = 0; e < s->n; e += 2) {
    const int two = e + 1 < s->n;
    const float *y1 = s->y + (size_t)s->idx[e] * d;
    const float *y2 = two ? s->y + (size_t)s->idx[e + 1] * d : y1;
    if (s->cold) fetch_ahead(s, e);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
    int j = 0;
    for (; j + 16 <= d; j += 16) {
      __m256 v0 = _mm256_loadu_ps(v + j), v1 = _mm256_loadu_ps(v + j + 8);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(y1 + j), v0, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(y1 + j + 8), v1, a1);
      b0 = _mm256_fmadd_ps(_mm256_loadu_ps(y2 + j), v0, b0);
      b1 = _mm256_fmadd_ps(_mm256_loadu_ps(y2 + j + 8), v1, b1);
    }
    for (; j + 8 <= d; j += 8) {
      __m256 v0 = _mm256_loadu_ps(v + j);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(y1 + j), v0, a0);
      b0 = _mm256_fmadd_ps(_mm256_loadu_ps(y2 + j), v0, b0);
    }
    float t1 = hsum256(_mm256_add_ps(a0, a1)), t2 = hsum256(_mm256_add_ps(b0, b1));
    for (; j < d; j++) {
      t1 += y1[j] * v[j];
      t2 += y2[j] * v[j];
    }
    /* A lone last entry pairs with itself at coefficient 0: adds 0. */
    float c1 = coefficient(s, e, t1), c2 = two ? coefficient(s, e + 1, t2) : 0.0f;
    if (t) {
      t[e] = t1;
      if (two) t[e + 1] = t2;
    }
    __m256 k1 = _mm256_set1_ps(c1), k2 = _mm256_set1_ps(c2);
    for (j = 0; j + 8 <= d; j += 8) {
      __m256 o = _mm256_fmadd_ps(k1, _mm256_loadu_ps(y1 + j), _mm256_loadu_ps(out + j));
      _mm256_storeu_ps(out + j, _mm256_fmadd_ps(k2, _mm256_loadu_ps(y2 + j), o));
    }
    for (; j < d; j++) out[j] = (out[j] + c1 * y1[j]) + c2 * y2[j];
  }
}

/* Lanes [0, left) of a 16-float vector, left >= 1. */
__attribute__((target("avx512f"))) static inline __mmask16 lanes(int left) {
  return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

__attribute__((target("avx512f"))) static float dot_avx512(const float *a, const float *b,
                                                           int d) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0;
  int j = 0;
  for (; j + 32 <= d; j += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 16), _mm512_loadu_ps(b + j + 16), s1);
  }
  for (; j < d; j += 16) {
    __mmask16 m = lanes(d - j);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + j), _mm512_maskz_loadu_ps(m, b + j), s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f"))) static void accumulate_avx512(const AlsRow *s,
                                                                 const float *v,
                                                                 float *out, float *t) {
  const int d = s->d;
  for (int64_t e = 0; e < s->n; e += 2) {
    const int two = e + 1 < s->n;
    const float *y1 = s->y + (size_t)s->idx[e] * d;
    const float *y2 = two ? s->y + (size_t)s->idx[e + 1] * d : y1;
    if (s->cold) fetch_ahead(s, e);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
    int j = 0;
    for (; j + 32 <= d; j += 32) {
      __m512 v0 = _mm512_loadu_ps(v + j), v1 = _mm512_loadu_ps(v + j + 16);
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(y1 + j), v0, a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(y1 + j + 16), v1, a1);
      b0 = _mm512_fmadd_ps(_mm512_loadu_ps(y2 + j), v0, b0);
      b1 = _mm512_fmadd_ps(_mm512_loadu_ps(y2 + j + 16), v1, b1);
    }
    for (; j < d; j += 16) {
      __mmask16 m = lanes(d - j);
      __m512 v0 = _mm512_maskz_loadu_ps(m, v + j);
      a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, y1 + j), v0, a0);
      b0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, y2 + j), v0, b0);
    }
    float t1 = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    float t2 = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
    float c1 = coefficient(s, e, t1), c2 = two ? coefficient(s, e + 1, t2) : 0.0f;
    if (t) {
      t[e] = t1;
      if (two) t[e + 1] = t2;
    }
    __m512 k1 = _mm512_set1_ps(c1), k2 = _mm512_set1_ps(c2);
    for (j = 0; j + 16 <= d; j += 16) {
      __m512 o = _mm512_fmadd_ps(k1, _mm512_loadu_ps(y1 + j), _mm512_loadu_ps(out + j));
      _mm512_storeu_ps(out + j, _mm512_fmadd_ps(k2, _mm512_loadu_ps(y2 + j), o));
    }
    if (j < d) {
      __mmask16 m = lanes(d - j);
      __m512 o = _mm512_fmadd_ps(k1, _mm512_maskz_loadu_ps(m, y1 + j),
                                 _mm512_maskz_loadu_ps(m, out + j));
      _mm512_mask_storeu_ps(out + j, m,
                            _mm512_fmadd_ps(k2, _mm512_maskz_loadu_ps(m, y2 + j), o));
    }
  }
}
#endif

int als_kernels_level(int at_most) {
  if (at_most == 0) at_most = ALS_KERNELS_AVX512;
#ifdef ALS_X86
  if (at_most >= ALS_KERNELS_AVX512 && __builtin_cpu_supports("avx512f"))
    return ALS_KERNELS_AVX512;
  if (at_most >= ALS_KERNELS_AVX2 && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma"))
    return ALS_KERNELS_AVX2;
#endif
  return ALS_KERNELS_SCALAR;
}

float als_dot(int level, const float *a, const float *b, int d) {
#ifdef ALS_X86
  if (level == ALS_KERNELS_AVX512) return dot_avx512(a, b, d);
  if (level == ALS_KERNELS_AVX2) return dot_avx2(a, b, d);
#endif
  (void)level;
  return dot_scalar(a, b, d);
}

void als_accumulate(int level, const AlsRow *row, const float *v, float *out, float *t) {
#ifdef ALS_X86
  if (level == ALS_KERNELS_AVX512) {
    accumulate_avx512(row, v, out, t);
    return;
  }
  if (level == ALS_KERNELS_AVX2) {
    accumulate_avx2(row, v, out, t);
    return;
  }
#endif
  (void)level;
  accumulate_scalar(row, v, out, t);
}
