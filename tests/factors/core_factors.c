/*
** core_factors.c - the numeric core's factorisations run directly, for
** tests/scripts/factors_persist.sh to compare train_als / train_pmi_svd
** with: same input, same options, the floats must be the same.
**
**   core_factors als ROWS COLS DIM ITERATIONS REGULARIZATION ALPHA CG_STEPS SEED
**       stdin: "row col weight" lines (0-based indices); stdout: the user
**       factors then the item factors, raw float32
**   core_factors pmi_svd ROWS COLS DIM OVERSAMPLING POWER_ITERATIONS SHIFT POWER SEED
**       stdin: "row col" lines; stdout: the item vectors, raw float32
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "als.h"
#include "pmi_svd.h"
#include "sparse.h"

static int read_triplets(int weighted, int64_t *n, int32_t **row, int32_t **col, float **val) {
  int64_t cap = 1024;
  *n = 0;
  *row = malloc(cap * sizeof **row);
  *col = malloc(cap * sizeof **col);
  *val = malloc(cap * sizeof **val);
  int r, c;
  float w = 1;
  while (*row && *col && *val &&
         (weighted ? scanf("%d %d %f", &r, &c, &w) == 3 : scanf("%d %d", &r, &c) == 2)) {
    if (*n == cap) {
      cap *= 2;
      *row = realloc(*row, cap * sizeof **row);
      *col = realloc(*col, cap * sizeof **col);
      *val = realloc(*val, cap * sizeof **val);
      if (!*row || !*col || !*val) return -1;
    }
    (*row)[*n] = r;
    (*col)[*n] = c;
    (*val)[*n] = w;
    ++*n;
  }
  return *row && *col && *val ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc != 10) {
    fprintf(stderr, "usage: see core_factors.c\n");
    return 2;
  }
  int als = strcmp(argv[1], "als") == 0;
  int32_t rows = atoi(argv[2]), cols = atoi(argv[3]);
  int dim = atoi(argv[4]);
  int64_t n;
  int32_t *row, *col;
  float *val;
  SparseMatrix m;
  if (read_triplets(als, &n, &row, &col, &val) != 0 ||
      sparse_from_coo(rows, cols, n, row, col, als ? val : NULL, &m) != SPARSE_OK) {
    fprintf(stderr, "core_factors: bad input\n");
    return 1;
  }
  int rc;
  if (als) {
    AlsOptions o;
    als_default_options(&o);
    o.dim = dim;
    o.iterations = atoi(argv[5]);
    o.regularization = atof(argv[6]);
    o.alpha = atof(argv[7]);
    o.cg_steps = atoi(argv[8]);
    o.seed = strtoull(argv[9], NULL, 10);
    float *users = malloc((size_t)rows * dim * sizeof *users);
    float *items = malloc((size_t)cols * dim * sizeof *items);
    als_init(&o, rows, cols, users, items);
    rc = als_fit(&m, &o, users, items, NULL);
    fwrite(users, sizeof *users, (size_t)rows * dim, stdout);
    fwrite(items, sizeof *items, (size_t)cols * dim, stdout);
    free(users);
    free(items);
  } else {
    PmiSvdOptions o;
    pmi_svd_default_options(&o);
    o.dim = dim;
    o.oversampling = atoi(argv[5]);
    o.power_iterations = atoi(argv[6]);
    o.shift = atof(argv[7]);
    o.power = atof(argv[8]);
    o.seed = strtoull(argv[9], NULL, 10);
    float *items = malloc((size_t)cols * dim * sizeof *items);
    float sigma[4096];
    rc = pmi_svd_fit(&m, &o, items, sigma, NULL);
    fwrite(items, sizeof *items, (size_t)cols * dim, stdout);
    free(items);
  }
  sparse_free(&m);
  free(row);
  free(col);
  free(val);
  if (rc != 0) fprintf(stderr, "core_factors: error %d\n", rc);
  return rc != 0;
}
