/* test_kmeans_prune.c - greedy k-means++ with pruned scans (kmeans.c skips
** the rows no candidate can bring closer) must seed exactly as the
** exhaustive scan (KmeansConfig.exhaustive) does: the same centroids and
** labels bit for bit, the same inertia, on data made to trip the bounds:
**   - duplicates: every point repeated, so many rows sit on a centre;
**   - ties: points of an integer lattice, equal distances everywhere;
**   - far out: the blobs shifted by 300, and points of a line 3000 away
**     from the origin, so sgemm's rounding of |x|^2 + |c|^2 - 2 x.c is
**     large, which the pruning bounds must allow for (on the line, points
**     midway between a centre and a candidate sit right on the bound);
**   - block-sparse rows, multiplied column block by column block.
** Each case also checks that the scans did skip rows (the comparison
** would prove nothing otherwise) and that the exhaustive fit skipped none.
** The rows exceed the 1024 a pruned sgemm takes at least, so skipping is
** possible at all.
*/
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kmeans.h"
#include "rng.h"

/* 1 when sgemm gives a row's products the same bits in a call of 2000
** rows and in a call of 1100 of them, as kmeans.h requires for pruned
** seeding to keep every centre (OpenBLAS's generic Prescott kernel does
** not: a sanitizer build runs it, OpenBLAS loaded before the kernel
** choice of blas.c). */
static int products_row_independent(void) {
  enum { M = 3000, SUB = 1100, N = 8, KMAX = 128 };
  static float x[M * KMAX], sub[2 * SUB * KMAX], c[N * KMAX], g[M * N], h[2 * SUB * N];
  Rng r;
  rng_seed(&r, 9, 0);
  for (int i = 0; i < M * KMAX; i++) x[i] = (float)(300.0 + rng_normal(&r));
  for (int i = 0; i < N * KMAX; i++) c[i] = (float)(300.0 + rng_normal(&r));
  for (int K = 16; K <= KMAX; K *= 8) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, c, K, 0.0f, g,
                N);
    /* Every row once, in calls of SUB rows (the last one larger), shuffled. */
    for (int q0 = 0; q0 + SUB <= M; q0 += SUB) {
      int m = M - q0 < 2 * SUB ? M - q0 : SUB;
      for (int q = 0; q < m; q++)
        memcpy(sub + q * K, x + ((q0 + q) * 7 % M) * K, K * sizeof(float));
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, N, K, 1.0f, sub, K, c, K, 0.0f,
                  h, N);
      for (int q = 0; q < m; q++)
        if (memcmp(h + q * N, g + ((q0 + q) * 7 % M) * N, N * sizeof(float)) != 0) return 0;
    }
  }
  return 1;
}

static int identical_expected;

/* Fits x both ways (seeding alone, then 3 Lloyd iterations) and compares. */
static void compare(const char *name, const float *x, int64_t n, int d, int k) {
  float *c0 = malloc((size_t)k * d * sizeof(float)), *c1 = malloc((size_t)k * d * sizeof(float));
  int32_t *l0 = malloc((size_t)n * sizeof(int32_t)), *l1 = malloc((size_t)n * sizeof(int32_t));
  for (int iters = 0; iters <= 3; iters += 3) {
    KmeansConfig cfg = {.k = k, .max_iter = iters, .seed = 11};
    KmeansResult r0, r1;
    cfg.exhaustive = 1;
    CHECK(kmeans_fit(x, n, d, &cfg, c0, l0, NULL, &r0) == KMEANS_OK);
    cfg.exhaustive = 0;
    CHECK(kmeans_fit(x, n, d, &cfg, c1, l1, NULL, &r1) == KMEANS_OK);
    CHECK_MSG(r1.seed_skipped > 0, "%s: the pruned scans skipped no row", name);
    CHECK_MSG(r0.seed_skipped == 0, "%s: the exhaustive scan skipped %lld rows", name,
              (long long)r0.seed_skipped);
    if (!identical_expected) continue;
    CHECK_MSG(memcmp(c0, c1, (size_t)k * d * sizeof(float)) == 0,
              "%s, %d iterations: pruned seeding gave other centroids", name, iters);
    CHECK_MSG(memcmp(l0, l1, (size_t)n * sizeof(int32_t)) == 0,
              "%s, %d iterations: pruned seeding gave other labels", name, iters);
    CHECK_MSG(r0.inertia == r1.inertia, "%s: inertia %.17g exhaustive, %.17g pruned", name,
              r0.inertia, r1.inertia);
  }
  free(c0);
  free(c1);
  free(l0);
  free(l1);
}

int main(void) {
  identical_expected = products_row_independent();
  if (!identical_expected)
    printf("note: sgemm's products depend on the call here, so pruned seeding may draw "
           "otherwise (kmeans.h); only the pruning itself is checked\n");
  Rng r;
  rng_seed(&r, 5, 0);

  /* Duplicates: 3000 points of 60 Gaussian blobs, each stored twice. */
  enum { DD = 16, NB = 3000 };
  float *x = malloc((size_t)2 * NB * DD * sizeof(float));
  float mu[60][DD];
  for (int c = 0; c < 60; c++)
    for (int j = 0; j < DD; j++) mu[c][j] = (float)(4.0 * rng_normal(&r));
  for (int i = 0; i < NB; i++) {
    int c = (int)rng_below(&r, 60);
    for (int j = 0; j < DD; j++) {
      float v = mu[c][j] + (float)(0.5 * rng_normal(&r));
      x[(2 * i) * DD + j] = v;
      x[(2 * i + 1) * DD + j] = v;
    }
  }
  compare("duplicates", x, 2 * NB, DD, 80);

  /* Ties: the 16^3 points of an integer lattice, each twice. */
  enum { G = 16, NL = G * G * G };
  float *y = malloc((size_t)2 * NL * 3 * sizeof(float));
  for (int i = 0; i < 2 * NL; i++) {
    int p = i % NL;
    y[i * 3] = (float)(p % G);
    y[i * 3 + 1] = (float)(p / G % G);
    y[i * 3 + 2] = (float)(p / (G * G));
  }
  compare("lattice ties", y, 2 * NL, 3, 50);

  /* A far offset: the blobs again, 300 away from the origin. */
  for (int64_t i = 0; i < (int64_t)2 * NB * DD; i++) x[i] += 300.0f;
  compare("far offset", x, 2 * NB, DD, 80);
  /* Collinear ties far out: x = (3000 + t, 3000), t = 0 .. NL-1, twice.
  ** On a line the triangle inequality is tight, so a point midway
  ** between a centre and a candidate sits right on the pruning bound
  ** while sgemm rounds its two distances by several units. */
  for (int i = 0; i < 2 * NL; i++) {
    y[i * 2] = 3000.0f + (float)(i % NL);
    y[i * 2 + 1] = 3000.0f;
  }
  compare("far line", y, 2 * NL, 2, 50);

  /* Block-sparse rows (kmeans.c multiplies them 128-column block by
  ** block): 6 blocks, each nonzero with probability 0.3, every row twice. */
  enum { DS = 6 * 128, NS = 3000 };
  float *z = calloc((size_t)2 * NS * DS, sizeof(float));
  for (int i = 0; i < NS; i++) {
    int c = (int)rng_below(&r, 60);
    for (int b = 0; b < 6; b++) {
      if (rng_uniform(&r) >= 0.3 && b != i % 6) continue;
      for (int j = b * 128; j < (b + 1) * 128; j++) {
        float v = mu[c][j % DD] + (float)(0.5 * rng_normal(&r));
        z[(int64_t)(2 * i) * DS + j] = v;
        z[(int64_t)(2 * i + 1) * DS + j] = v;
      }
    }
  }
  compare("block-sparse", z, 2 * NS, DS, 40);

  free(x);
  free(y);
  free(z);
  return check_report();
}
