/*
** scaler.h - column standardisation of float rows, as the public
** DropoutNet code prepares its inputs (scikit-learn's StandardScaler, then
** values clipped to +-SCALER_CLIP and those below SCALER_ZERO in magnitude
** set to 0).  No SQLite here.
**
** Contract: scaler_fit() computes, over the rows whose ncols columns
** [col0, col0 + ncols) are not all zero, each column's mean and population
** standard deviation (in double; a zero deviation becomes 1).  An
** all-zero row (a cold user's missing preference vector) is neither
** fitted nor transformed: scaler_apply() leaves it zero.
*/
#ifndef SEMIPERSO_SCALER_H
#define SEMIPERSO_SCALER_H

#include <stdint.h>

#define SCALER_CLIP 5.0f
#define SCALER_ZERO 1e-5f

/* Rows of X are ld floats apart; mean and scale get ncols floats.  With
** no nonzero row: mean 0 and scale 1 (the identity).  Returns 0, or -1
** when scratch memory cannot be had. */
int scaler_fit(const float *X, int64_t n, int64_t ld, int col0, int ncols, float *mean,
               float *scale);

/* Standardises the ncols floats of x in place (unless all zero). */
void scaler_apply(float *x, int ncols, const float *mean, const float *scale);

#endif
