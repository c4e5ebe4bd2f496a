/*
** feature_layout.h - the layout of a user's input feature vector, as
** sql/features.sql builds it for vectors of d floats: FEATURE_GROUPS groups
** of d floats (0 age class, 1 country, 2..19 the registration-day event
** groups in the order of its feature_groups table), then the 18 event
** counts in the same order, then the age: 20 d + 19 floats.  No SQLite.
**
** DropoutNet reads positive interactions only: the skip and ban groups
** (7..9 and 13..15) and their counts are dropped, leaving 14 groups and 13
** scalars (12 counts, the age): 14 d + 13 floats.
*/
#ifndef SEMIPERSO_FEATURE_LAYOUT_H
#define SEMIPERSO_FEATURE_LAYOUT_H

#include <stdint.h>

#define FEATURE_GROUPS 20
#define FEATURE_SCALARS 19       /* 18 counts, then the age */
#define FEATURE_POSITIVE_GROUPS 14
#define FEATURE_POSITIVE_SCALARS 13

/* 20 d + 19, or 0 when d < 1 or the result would overflow an int. */
int feature_dim(int d);
/* 14 d + 13, or 0 likewise. */
int feature_positive_dim(int d);

/* 1 when group g (0..19) is kept by the positive restriction. */
int feature_group_is_positive(int g);

/* Copies the positive part of the n feature rows in (feature_dim(d) wide)
** to out (feature_positive_dim(d) wide), groups and counts in order. */
void feature_keep_positive(const float *in, int64_t n, int d, float *out);

#endif
