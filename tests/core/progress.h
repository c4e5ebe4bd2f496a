/*
** progress.h - training callbacks shared by the C unit tests of the
** trainable models: they record the epochs and losses reported and ask
** for a stop after a given number of polls.
*/
#ifndef SEMIPERSO_TEST_PROGRESS_H
#define SEMIPERSO_TEST_PROGRESS_H

typedef struct {
  int epochs;         /* last epoch reported */
  int stop_after;     /* > 0: should_stop answers yes at this poll */
  int polls;
  double first, last; /* losses of the first and last epochs reported */
} Progress;

static int on_progress(void *arg, int epoch, double loss, double seconds) {
  Progress *p = arg;
  p->epochs = epoch;
  if (epoch == 1) p->first = loss;
  p->last = loss;
  return seconds < 0; /* never: seconds are not negative */
}

static int should_stop(void *arg) {
  Progress *p = arg;
  return p->stop_after > 0 && ++p->polls >= p->stop_after;
}

#endif
