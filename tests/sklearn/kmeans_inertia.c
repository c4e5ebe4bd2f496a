/*
** kmeans_inertia.c - runs kmeans_fit on a float32 file and prints the
** inertia, for tests/scripts/kmeans_sklearn.sh to compare with
** scikit-learn.
**
**   kmeans_inertia FILE N D K MAX_ITER SEEDING N_INIT SEED
**
** FILE holds N x D little-endian float32 rows; SEEDING is greedy or
** plain.  Prints "inertia <value>" (%.17g) and exits 0, or a message and 1.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmeans.h"

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: %s FILE N D K MAX_ITER greedy|plain N_INIT SEED\n", argv[0]);
    return 1;
  }
  long long n = atoll(argv[2]);
  int d = atoi(argv[3]);
  KmeansConfig cfg = {.k = atoi(argv[4]), .max_iter = atoi(argv[5]),
                      .n_init = atoi(argv[7]), .seed = strtoull(argv[8], NULL, 10)};
  if (strcmp(argv[6], "greedy") == 0)
    cfg.seeding = KMEANS_SEED_GREEDY;
  else if (strcmp(argv[6], "plain") == 0)
    cfg.seeding = KMEANS_SEED_PLAIN;
  else {
    fprintf(stderr, "seeding must be greedy or plain, not %s\n", argv[6]);
    return 1;
  }
  if (n < 1 || d < 1) {
    fprintf(stderr, "N and D must be positive\n");
    return 1;
  }
  float *x = malloc((size_t)n * (size_t)d * sizeof(float));
  float *c = malloc((size_t)(cfg.k > 0 ? cfg.k : 1) * (size_t)d * sizeof(float));
  FILE *fp = fopen(argv[1], "rb");
  int ok = x && c && fp && fread(x, sizeof(float), (size_t)n * (size_t)d, fp) == (size_t)n * (size_t)d;
  if (fp) fclose(fp);
  if (!ok) {
    fprintf(stderr, "cannot read %lld x %d floats from %s\n", n, d, argv[1]);
    free(x);
    free(c);
    return 1;
  }
  KmeansResult res;
  int rc = kmeans_fit(x, n, d, &cfg, c, NULL, NULL, &res);
  if (rc == KMEANS_OK) printf("inertia %.17g\n", res.inertia);
  else fprintf(stderr, "kmeans_fit failed: %d\n", rc);
  free(x);
  free(c);
  return rc == KMEANS_OK ? 0 : 1;
}
