/*
** check.h - the tiny assertion kit of the C unit tests.  Each test program
** includes it, calls the CHECK macros in main and returns check_report(), which
** prints the closing "N passed, M failed" line tests/run.sh reads.
*/
#ifndef SEMIPERSO_CHECK_H
#define SEMIPERSO_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (cond) check_passed++;                                              \
    else {                                                                 \
      check_failed++;                                                      \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);               \
    }                                                                      \
  } while (0)

/* CHECK with a printf-style explanation printed when it fails. */
#define CHECK_MSG(cond, ...)                                               \
  do {                                                                     \
    if (cond) check_passed++;                                              \
    else {                                                                 \
      check_failed++;                                                      \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);                          \
      printf(__VA_ARGS__);                                                 \
      printf("\n");                                                        \
    }                                                                      \
  } while (0)

/* |got - want| <= tol, printing both when it fails. */
#define CHECK_NEAR(got, want, tol)                                         \
  do {                                                                     \
    double g_ = (double)(got), w_ = (double)(want);                        \
    if (fabs(g_ - w_) <= (tol)) check_passed++;                            \
    else {                                                                 \
      check_failed++;                                                      \
      printf("FAIL %s:%d: %s = %.9g, want %.9g\n", __FILE__, __LINE__,     \
             #got, g_, w_);                                                \
    }                                                                      \
  } while (0)

static inline int check_report(void) {
  printf("%d passed, %d failed\n", check_passed, check_failed);
  return check_failed ? 1 : 0;
}

#endif
