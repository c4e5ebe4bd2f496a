/* blas_threads.c - holding OpenBLAS to one thread (see blas_threads.h). */
#include "blas_threads.h"

/* Declared here too in case the cblas.h in use does not declare them. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

int blas_threads_hold_one(void) {
  int previous = openblas_get_num_threads();
  if (previous != 1) openblas_set_num_threads(1);
  return previous;
}

void blas_threads_restore(int previous) {
  if (previous != 1) openblas_set_num_threads(previous);
}
