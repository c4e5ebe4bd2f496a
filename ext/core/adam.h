/*
** adam.h - the Adam optimiser over flat parameter arrays (torch.optim.Adam:
** beta1 0.9, beta2 0.999, eps 1e-8, L2 weight decay added to the
** gradient).  Plain C11; no SQLite here.
**
** Contract: adam_factors() gives the bias-corrected step and 1/sqrt(bc2)
** of step number t (1, 2, ...); adam_range() applies one step to the
** elements [lo, hi) of p with moments m and v (zero before step 1), so a
** team can split the arrays into ranges.  The vectorised lanes perform
** the scalar loop's exact operations: results do not depend on how the
** arrays are split.
*/
#ifndef SEMIPERSO_ADAM_H
#define SEMIPERSO_ADAM_H

#include <stddef.h>
#include <stdint.h>

#define ADAM_BETA1 0.9
#define ADAM_BETA2 0.999
#define ADAM_EPS 1e-8f

void adam_factors(double lr, int64_t t, float *step, float *rbc2);

void adam_range(float *p, float *m, float *v, const float *g, float weight_decay, float step,
                float rbc2, size_t lo, size_t hi);

#endif
