/*
** rng.h - the one seeded random generator of the project.  No SQLite.
**
** Contract: xoshiro256** seeded through splitmix64, so a (seed, stream)
** pair gives the same sequence on every platform and build.  Separate
** streams of one seed (rng_seed(&r, seed, STREAM)) are independent, so
** adding draws in one stage never shifts another stage's numbers.
*/
#ifndef SEMIPERSO_RNG_H
#define SEMIPERSO_RNG_H

#include <stdint.h>

typedef struct {
  uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_next(Rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform(Rng *r);
/* Uniform integer in [0, n), unbiased; n >= 1. */
uint64_t rng_below(Rng *r, uint64_t n);
/* Standard normal (Box-Muller, one value per call). */
double rng_normal(Rng *r);
/* Fisher-Yates shuffle of n indices. */
void rng_shuffle(Rng *r, uint32_t *idx, uint32_t n);

#endif
