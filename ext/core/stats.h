/*
** stats.h - the standard normal distribution, for p-values, confidence
** intervals and sample sizes of A/B tests.  No SQLite.
**
** stats_normal_cdf(x)      P(Z <= x), from the C library's erfc (accurate
**                          in both tails: 1e-300 is not rounded to 0).
** stats_normal_quantile(p) x with P(Z <= x) = p, for 0 < p < 1: Acklam's
**                          rational approximation (relative error 1.2e-9)
**                          polished by one Halley step on stats_normal_cdf,
**                          which brings it to a few ulps.
** Both return NaN for a NaN argument; the quantile returns NaN outside
** (0, 1).
*/
#ifndef SEMIPERSO_STATS_H
#define SEMIPERSO_STATS_H

double stats_normal_cdf(double x);
double stats_normal_quantile(double p);

#endif
