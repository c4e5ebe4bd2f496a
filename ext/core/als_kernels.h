/*
** als_kernels.h - the vector kernels of the ALS row solves (als.c): a dot
** product, and the pass over a row's stored entries where the time goes.
** No SQLite.
**
** Contract: one version per instruction set (scalar, AVX2 + FMA,
** AVX-512F), picked at run time by als_kernels_level(); each is a fixed
** sequence of float operations, so it gives the same bits on every call.
** Versions differ from one another in rounding only.
*/
#ifndef SEMIPERSO_ALS_KERNELS_H
#define SEMIPERSO_ALS_KERNELS_H

#include <stdint.h>

enum { ALS_KERNELS_SCALAR = 1, ALS_KERNELS_AVX2 = 2, ALS_KERNELS_AVX512 = 3 };

/* The widest level this CPU runs, at most `at_most` (0: no limit). */
int als_kernels_level(int at_most);

float als_dot(int level, const float *a, const float *b, int d);

/* The stored entries of one row: fixed-side vectors y_e = y + idx[e] * d,
** weights w[e], confidence c_e = 1 + alpha w[e]. */
typedef struct {
  const float *y;
  int d;
  const int32_t *idx;
  const float *w;
  int64_t n;
  float alpha;
  float base, sign; /* the coefficient, below */
  /* Nonzero when the vectors are likely not in cache yet (a row's first
  ** pass): each entry's processing then asks the memory for the vectors
  ** of the next ALS_FETCH_AHEAD entries, so their misses overlap.
  ** Changes no result. */
  int cold;
} AlsRow;

#define ALS_FETCH_AHEAD 2

/* For each entry e in order: t_e = y_e . v, then
**   out += (base c_e + sign (c_e - 1) t_e) y_e,
** t_e kept in t[e] when t is not NULL.  With base 1, sign -1 and v = x
** this adds the stored entries' part of b - A x; with base 0, sign 1 and
** v = p, the stored entries' part of A p. */
void als_accumulate(int level, const AlsRow *row, const float *v, float *out, float *t);

#endif
