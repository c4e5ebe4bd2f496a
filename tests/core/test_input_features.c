/* Unit tests of input_features.c: the layout filled by hand, age class bounds,
** the summation order of the means. */
#include <string.h>

#include "check.h"
#include "input_features.h"

int main(void) {
  /* Age classes: <18, 18-24, 25-34, 35-49, 50+. */
  const double ages[] = {0, 17.99, 18, 24.99, 25, 34, 35, 49.5, 50, 150};
  const int classes[] = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4};
  for (int i = 0; i < 10; i++) CHECK(features_age_class(ages[i]) == classes[i]);
  CHECK(features_width(128) == 2579);
  CHECK(features_width(2) == 59);

  /* d = 2: stream/track (group 10) 1, 2, 1 with vectors (1,0) (0,1) (1,0);
  ** skip/album (group 9) without a vector; search/playlist (group 19) (4,-2). */
  FeatureSums s;
  CHECK(features_begin(&s, 2) == 0);
  const float t1[] = {1, 0}, t2[] = {0, 1}, p[] = {4, -2};
  features_add(&s, 10, t1);
  features_add(&s, 10, t2);
  features_add(&s, 10, t1);
  features_add(&s, 9, NULL);
  features_add(&s, 19, p);
  const float age_vec[] = {0.5f, 0.25f}, country_vec[] = {-1, 3};
  float out[59];
  memset(out, 0xff, sizeof out);
  features_finish(&s, age_vec, country_vec, 27, out);
  CHECK(out[0] == 0.5f && out[1] == 0.25f);  /* group 0: the age class */
  CHECK(out[2] == -1 && out[3] == 3);        /* group 1: the country */
  for (int g = 2; g < 20; g++) {
    float want0 = g == 10 ? (float)(2.0 / 3.0) : g == 19 ? 4 : 0;
    float want1 = g == 10 ? (float)(1.0 / 3.0) : g == 19 ? -2 : 0;
    CHECK_MSG(out[2 * g] == want0 && out[2 * g + 1] == want1, "group %d: %g %g", g,
              out[2 * g], out[2 * g + 1]);
  }
  /* The 18 counts (group 9's event counts without a vector), then the age. */
  for (int e = 0; e < 18; e++) {
    float want = e == 8 ? 3 : e == 7 || e == 17 ? 1 : 0;
    CHECK_MSG(out[40 + e] == want, "count %d: %g", e, out[40 + e]);
  }
  CHECK(out[58] == 27);
  features_free(&s);

  /* Missing parts are zeros; an unknown age is 0. */
  CHECK(features_begin(&s, 2) == 0);
  memset(out, 0xff, sizeof out);
  features_finish(&s, NULL, NULL, 0, out);
  for (int i = 0; i < 59; i++) CHECK(out[i] == 0);
  features_free(&s);

  /* Means are summed in double in the order given, rounded once: 1e8, 1,
  ** -1e8 sum to 1 exactly in double (in float the 1 would be lost), so the
  ** mean is 1/3 as a float. */
  CHECK(features_begin(&s, 1) == 0);
  const float big[] = {1e8f}, one[] = {1}, minus[] = {-1e8f};
  features_add(&s, 2, big);
  features_add(&s, 2, one);
  features_add(&s, 2, minus);
  float o1[39];
  features_finish(&s, NULL, NULL, 0, o1);
  CHECK(o1[2] == (float)(1.0 / 3.0));
  features_free(&s);
  return check_report();
}
