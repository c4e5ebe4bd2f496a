/*
** input_features.h - one user's input vector in the reference layout
** (docs/ARCHITECTURE.md, "Input features") from the vectors its parts
** name.  No SQLite: the caller looks the vectors up (ext/sql/serve.c).
**
** Layout, for vectors of d floats (features_width(d) = 20 d + 19 floats):
**   group 0       the vector of the user's age class     (zeros: none)
**   group 1       the vector of the user's country       (zeros: none)
**   groups 2..19  per interaction group, the mean vector of the user's
**                 events of that group that have a vector (zeros: none)
**   18 scalars    the number of events of each interaction group, with or
**                 without a vector
**   1 scalar      the age (0 when unknown)
** Each mean is summed in double, in the order the events are added, and
** rounded to float once: (float)(sum / count).  So the result is the same
** bits for the same events in the same order.  Age classes: <18, 18-24,
** 25-34, 35-49, 50+ (0..4).
*/
#ifndef SEMIPERSO_INPUT_FEATURES_H
#define SEMIPERSO_INPUT_FEATURES_H

#include <stdint.h>

#define FEATURE_GROUPS 20       /* vector groups: age, country, 18 interactions */
#define FEATURE_FIRST_EVENT 2   /* index of the first interaction group */
#define FEATURE_EVENT_GROUPS 18
#define FEATURE_SCALARS 19      /* the 18 counts and the age */
#define FEATURE_AGE_CLASSES 5
#define FEATURE_MAX_AGE 150     /* ages are refused outside [0, FEATURE_MAX_AGE] */

/* Floats of the input vector for vectors of d floats. */
int64_t features_width(int d);

/* The age class (0..4) of an age in [0, FEATURE_MAX_AGE]. */
int features_age_class(double age);

/* The events of one user, as they are added. */
typedef struct {
  int d;
  double *sum;                              /* FEATURE_EVENT_GROUPS x d */
  int64_t events[FEATURE_EVENT_GROUPS];     /* events of each group */
  int64_t with_vector[FEATURE_EVENT_GROUPS]; /* of which have a vector */
} FeatureSums;

/* Starts an empty user with vectors of d >= 1 floats: 0, or -1 when
** memory is short. */
int features_begin(FeatureSums *s, int d);

/* One event of interaction group g (FEATURE_FIRST_EVENT .. 19) whose
** entity has vector v (d floats), or none (v NULL: it counts, adds no
** vector). */
void features_add(FeatureSums *s, int g, const float *v);

/* Writes the user's features_width(d) floats to out.  age_vec and
** country_vec are d floats or NULL (zeros); age is the scalar (0 for an
** unknown age). */
void features_finish(const FeatureSums *s, const float *age_vec, const float *country_vec,
                     double age, float *out);

void features_free(FeatureSums *s);

#endif
