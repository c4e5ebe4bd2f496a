/* feature_layout.c - the user input feature layout (see feature_layout.h). */
#include "feature_layout.h"

#include <limits.h>
#include <string.h>

static int layout_dim(int d, int groups, int scalars) {
  if (d < 1 || d > (INT_MAX - scalars) / groups) return 0;
  return groups * d + scalars;
}

int feature_dim(int d) { return layout_dim(d, FEATURE_GROUPS, FEATURE_SCALARS); }

int feature_positive_dim(int d) {
  return layout_dim(d, FEATURE_POSITIVE_GROUPS, FEATURE_POSITIVE_SCALARS);
}

/* Groups 7..9 are skips, 13..15 bans (sql/features.sql, feature_groups). */
int feature_group_is_positive(int g) {
  return g >= 0 && g < FEATURE_GROUPS && !(g >= 7 && g <= 9) && !(g >= 13 && g <= 15);
}

void feature_keep_positive(const float *in, int64_t n, int d, float *out) {
  size_t full = (size_t)feature_dim(d), kept = (size_t)feature_positive_dim(d);
  for (int64_t i = 0; i < n; i++) {
    const float *x = in + (size_t)i * full;
    float *y = out + (size_t)i * kept;
    for (int g = 0; g < FEATURE_GROUPS; g++) {
      if (!feature_group_is_positive(g)) continue;
      memcpy(y, x + (size_t)g * d, (size_t)d * sizeof(float));
      y += d;
    }
    /* Count c belongs to group c + 2; the age (last scalar) is kept. */
    const float *sc = x + (size_t)FEATURE_GROUPS * d;
    for (int c = 0; c < FEATURE_SCALARS - 1; c++)
      if (feature_group_is_positive(c + 2)) *y++ = sc[c];
    *y = sc[FEATURE_SCALARS - 1];
  }
}
