/* Unit tests of stats.c against values of the standard normal distribution
** from an independent implementation (scipy.stats.norm 1.10; the leading
** digits are those of printed tables). */
#include <math.h>

#include "check.h"
#include "stats.h"

int main(void) {
  /* The CDF: exact at 0, symmetric, accurate deep in the lower tail. */
  CHECK(stats_normal_cdf(0.0) == 0.5);
  CHECK_NEAR(stats_normal_cdf(1.0), 0.8413447460685429, 1e-15);
  CHECK_NEAR(stats_normal_cdf(-1.0), 0.15865525393145707, 1e-15);
  CHECK_NEAR(stats_normal_cdf(1.959963984540054), 0.975, 1e-15);
  CHECK_NEAR(stats_normal_cdf(-5.0) / 2.866515718791933e-07, 1.0, 1e-13);
  CHECK_NEAR(stats_normal_cdf(-10.0) / 7.61985302416047e-24, 1.0, 1e-13);
  CHECK_NEAR(stats_normal_cdf(-37.5) / 4.605353009581954e-308, 1.0, 1e-12);
  CHECK(stats_normal_cdf(INFINITY) == 1.0 && stats_normal_cdf(-INFINITY) == 0.0);

  /* The quantile at the levels tests use. */
  CHECK(stats_normal_quantile(0.5) == 0.0);
  CHECK_NEAR(stats_normal_quantile(0.975), 1.959963984540054, 1e-14);
  CHECK_NEAR(stats_normal_quantile(0.995), 2.5758293035489004, 1e-14);
  CHECK_NEAR(stats_normal_quantile(0.8), 0.8416212335729143, 1e-14);
  CHECK_NEAR(stats_normal_quantile(0.025), -1.959963984540054, 1e-14);
  CHECK_NEAR(stats_normal_quantile(1e-10), -6.361340902404056, 1e-12);
  CHECK_NEAR(stats_normal_quantile(0.02425), -1.972961051311885, 1e-13); /* region edge */

  /* Outside (0, 1): NaN. */
  CHECK(isnan(stats_normal_quantile(0.0)) && isnan(stats_normal_quantile(1.0)));
  CHECK(isnan(stats_normal_quantile(-0.5)) && isnan(stats_normal_quantile(NAN)));
  CHECK(isnan(stats_normal_cdf(NAN)));

  /* Round trip over 300 decades of the lower tail and the whole body: the
  ** quantile inverts the CDF to rounding, i.e. to a relative error growing
  ** like |x| (an ulp of x moves log cdf(x) by about |x| ulps). */
  int bad = 0;
  for (double p = 1e-300; p < 0.5; p *= 1.37) {
    double x = stats_normal_quantile(p);
    if (fabs(stats_normal_cdf(x) / p - 1.0) > 1e-14 * (1.0 + fabs(x))) bad++;
  }
  for (int i = 1; i < 1000; i++) {
    double p = i / 1000.0;
    double back = stats_normal_cdf(stats_normal_quantile(p));
    if (fabs(back - p) > 1e-15) bad++;
    /* Symmetry: the two sides of 1/2 mirror each other. */
    if (fabs(stats_normal_quantile(p) + stats_normal_quantile(1.0 - p)) > 1e-13) bad++;
  }
  CHECK_MSG(bad == 0, "%d round-trip or symmetry failures", bad);
  return check_report();
}
