/*
** vec.h - dense float32 vector arithmetic.  No SQLite here.
**
** Contract: every function takes plain pointers and a length n >= 1 and
** never allocates.  Sums are accumulated in double so that results do not
** depend on summation order more than float rounding of the inputs does.
** vec_all_finite() is the one check callers use before trusting input.
*/
#ifndef SEMIPERSO_VEC_H
#define SEMIPERSO_VEC_H

#include <stddef.h>

/* 1 when every component is finite (no NaN, no +-Inf), else 0. */
int vec_all_finite(const float *x, size_t n);

double vec_dot(const float *a, const float *b, size_t n);
double vec_norm(const float *x, size_t n);

/* Euclidean distance |a - b|. */
double vec_distance_l2(const float *a, const float *b, size_t n);

/* Cosine distance 1 - a.b / (|a| |b|).  Returns 1 when either vector is
** zero (no direction: neither similar nor opposite), as sqlite-vec does
** not define it and a NaN would poison aggregates. */
double vec_distance_cosine(const float *a, const float *b, size_t n);

/* Scales x to unit length in place; a zero vector stays zero.
** Returns the original norm. */
double vec_normalize(float *x, size_t n);

#endif
