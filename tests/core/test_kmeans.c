/* test_kmeans.c - k-means: blobs, monotone inertia, seeds, assignment. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kmeans.h"
#include "rng.h"


/* Independent nearest centroid: plain double sum, ties by smaller id. */
static int brute_nearest(const float *x, const float *c, int k, int d) {
  int best = -1;
  double bd = 0;
  for (int j = 0; j < k; j++) {
    double s = 0;
    for (int t = 0; t < d; t++) {
      double e = (double)x[t] - c[j * d + t];
      s += e * e;
    }
    if (best < 0 || s < bd) {
      best = j;
      bd = s;
    }
  }
  return best;
}

static float *random_data(int64_t n, int d, uint64_t seed) {
  Rng r;
  rng_seed(&r, seed, 99);
  float *x = malloc((size_t)n * d * sizeof(float));
  for (int64_t i = 0; i < n * d; i++) x[i] = (float)rng_normal(&r);
  return x;
}

static void test_blobs(void) {
  int k = 6, d = 5, per = 80, n = k * per;
  Rng r;
  rng_seed(&r, 5, 0);
  float *mu = malloc((size_t)k * d * sizeof(float));
  for (int i = 0; i < k * d; i++) mu[i] = (float)(40.0 * rng_normal(&r));
  float *x = malloc((size_t)n * d * sizeof(float));
  int *truth = malloc((size_t)n * sizeof(int));
  /* Interleaved, so blob membership is not the row order. */
  for (int i = 0; i < n; i++) {
    truth[i] = i % k;
    for (int t = 0; t < d; t++) x[i * d + t] = mu[truth[i] * d + t] + (float)rng_normal(&r);
  }
  for (uint64_t seed = 0; seed < 5; seed++) {
    float *c = malloc((size_t)k * d * sizeof(float));
    int32_t *lab = malloc((size_t)n * sizeof(int32_t));
    int64_t sizes[6];
    KmeansConfig cfg = {.k = k, .max_iter = 50, .seed = seed};
    KmeansResult res;
    int rc = kmeans_fit(x, n, d, &cfg, c, lab, sizes, &res);
    CHECK_MSG(rc == KMEANS_OK, "blobs seed %llu: rc %d", (unsigned long long)seed, rc);
    /* The partition must be the blobs': one label per blob, all distinct. */
    int map[6], ok = 1;
    for (int b = 0; b < k; b++) map[b] = -1;
    for (int i = 0; i < n; i++) {
      if (map[truth[i]] < 0) map[truth[i]] = lab[i];
      ok &= map[truth[i]] == lab[i];
    }
    for (int a = 0; a < k; a++)
      for (int b = a + 1; b < k; b++) ok &= map[a] != map[b];
    CHECK_MSG(ok, "blobs seed %llu: partition differs from the blobs", (unsigned long long)seed);
    int sizes_ok = 1;
    for (int j = 0; j < k; j++) sizes_ok &= sizes[j] == per;
    CHECK_MSG(sizes_ok, "blobs: every segment must hold %d points", per);
    CHECK_MSG(res.converged && res.iterations <= 3, "blobs: converged=%d after %d iterations",
          res.converged, res.iterations);
    /* Centroids are the blob means. */
    double err = 0;
    for (int b = 0; b < k; b++) {
      for (int t = 0; t < d; t++) {
        double m = 0;
        for (int i = b; i < n; i += k) m += x[i * d + t];
        m /= per;
        err = fmax(err, fabs(m - c[map[b] * d + t]));
      }
    }
    CHECK_MSG(err < 1e-4, "blobs: centroid off the blob mean by %g", err);
    free(c);
    free(lab);
  }
  free(mu);
  free(x);
  free(truth);
}

typedef struct {
  int n;
  double inertia[128];
  int64_t changed[128];
} History;

static int record(void *arg, int it, double inertia, int64_t changed) {
  History *h = arg;
  if (it < 128) {
    h->inertia[it] = inertia;
    h->changed[it] = changed;
    h->n = it + 1;
  }
  return 0;
}

static void test_monotone_and_assign(int64_t n, int d, int k, int max_iter) {
  float *x = random_data(n, d, (uint64_t)n + (uint64_t)k);
  float *c = malloc((size_t)k * d * sizeof(float));
  int32_t *lab = malloc((size_t)n * sizeof(int32_t));
  int64_t *sizes = malloc((size_t)k * sizeof(int64_t));
  History h = {0};
  KmeansConfig cfg = {.k = k, .max_iter = max_iter, .seed = 11, .progress = record, .arg = &h};
  KmeansResult res;
  CHECK_MSG(kmeans_fit(x, n, d, &cfg, c, lab, sizes, &res) == KMEANS_OK, "fit failed");
  CHECK_MSG(h.n == res.iterations + 1, "progress called %d times for %d iterations", h.n,
        res.iterations);
  int mono = 1;
  for (int t = 1; t < h.n; t++) mono &= h.inertia[t] <= h.inertia[t - 1] * (1 + 1e-12);
  CHECK_MSG(mono, "inertia increased between iterations (n=%lld k=%d)", (long long)n, k);
  CHECK_MSG(h.n > 2 && h.inertia[h.n - 1] < h.inertia[0], "inertia did not decrease");
  CHECK_MSG(fabs(h.inertia[h.n - 1] - res.inertia) <= 1e-9 * res.inertia,
        "reported inertia is not the last iteration's");
  /* Labels and inertia agree with brute force over the final centroids. */
  int bad = 0, bad1 = 0;
  double inertia = 0;
  int64_t count = 0;
  float *cn = malloc((size_t)k * sizeof(float));
  kmeans_centroid_norms(c, k, d, cn);
  for (int64_t i = 0; i < n; i++) {
    int b = brute_nearest(x + i * d, c, k, d);
    bad += b != lab[i];
    int32_t one = -1;
    bad1 += kmeans_assign(x + i * d, 1, d, c, cn, k, &one, NULL) != KMEANS_OK || one != lab[i];
    for (int t = 0; t < d; t++) {
      double e = (double)x[i * d + t] - c[lab[i] * d + t];
      inertia += e * e;
    }
  }
  for (int j = 0; j < k; j++) count += sizes[j];
  CHECK_MSG(bad == 0, "%d labels differ from brute force (n=%lld k=%d)", bad, (long long)n, k);
  CHECK_MSG(bad1 == 0, "%d single-point assignments differ from the fit's labels", bad1);
  CHECK_MSG(fabs(inertia - res.inertia) <= 1e-9 * inertia, "inertia %.10g, brute force %.10g",
        res.inertia, inertia);
  CHECK_MSG(count == n, "sizes sum to %lld, not %lld", (long long)count, (long long)n);
  free(cn);
  free(x);
  free(c);
  free(lab);
  free(sizes);
}

static void test_seeds(void) {
  int64_t n = 600;
  int d = 7, k = 12;
  float *x = random_data(n, d, 3);
  float *a = malloc((size_t)k * d * sizeof(float)), *b = malloc((size_t)k * d * sizeof(float));
  KmeansConfig cfg = {.k = k, .max_iter = 5, .seed = 42};
  KmeansResult ra, rb;
  int rc = kmeans_fit(x, n, d, &cfg, a, NULL, NULL, &ra);
  rc |= kmeans_fit(x, n, d, &cfg, b, NULL, NULL, &rb);
  CHECK_MSG(rc == KMEANS_OK && memcmp(a, b, (size_t)k * d * sizeof(float)) == 0 &&
                ra.inertia == rb.inertia,
        "the same seed must give the same centroids");
  cfg.seed = 43;
  CHECK_MSG(kmeans_fit(x, n, d, &cfg, b, NULL, NULL, &rb) == KMEANS_OK &&
                memcmp(a, b, (size_t)k * d * sizeof(float)) != 0,
        "another seed should give other centroids");
  free(x);
  free(a);
  free(b);
}

/* Canonical nearest centroid by brute force: kmeans_sqdist over all, ties
** by smaller id. */
static int canon_nearest(const float *x, const float *c, int k, int d, double *dist) {
  int best = -1;
  double bd = 0;
  for (int j = 0; j < k; j++) {
    double s = kmeans_sqdist(x, c + (int64_t)j * d, d);
    if (best < 0 || s < bd) {
      best = j;
      bd = s;
    }
  }
  if (dist) *dist = bd;
  return best;
}

/* Rows like the input features: 128-float blocks, most of them zero, then
** a few scalars, L2-normalised. */
static float *block_sparse_data(int64_t n, int d, int centres, uint64_t seed) {
  Rng r;
  rng_seed(&r, seed, 7);
  float *mu = malloc((size_t)centres * d * sizeof(float));
  for (int64_t i = 0; i < (int64_t)centres * d; i++) mu[i] = (float)(2.0 * rng_normal(&r));
  float *x = malloc((size_t)n * d * sizeof(float));
  for (int64_t i = 0; i < n; i++) {
    int c = (int)rng_below(&r, (uint64_t)centres);
    for (int t = 0; t < d; t++) x[i * d + t] = mu[c * d + t] + (float)rng_normal(&r);
    for (int b = 0; b < d / 128; b++)
      if (rng_uniform(&r) >= 0.35)
        for (int t = 0; t < 128; t++) x[i * d + b * 128 + t] = 0.0f;
    double s = 0;
    for (int t = 0; t < d; t++) s += (double)x[i * d + t] * x[i * d + t];
    for (int t = 0; t < d; t++) x[i * d + t] = (float)(x[i * d + t] / sqrt(s));
  }
  free(mu);
  return x;
}

/* The block-sparse path (sgemm per column block, empty blocks skipped):
** labels, single-point assignments and inertia against brute force. */
static void test_block_sparse_fit(void) {
  int64_t n = 2000;
  int d = 5 * 128 + 7, k = 15;
  float *x = block_sparse_data(n, d, 4, 21);
  float *c = malloc((size_t)k * d * sizeof(float));
  int32_t *lab = malloc((size_t)n * sizeof(int32_t));
  float *cn = malloc((size_t)k * sizeof(float));
  KmeansConfig cfg = {.k = k, .max_iter = 8, .seed = 3};
  KmeansResult res;
  CHECK_MSG(kmeans_fit(x, n, d, &cfg, c, lab, NULL, &res) == KMEANS_OK, "sparse fit failed");
  kmeans_centroid_norms(c, k, d, cn);
  int bad = 0, bad1 = 0;
  double inertia = 0;
  for (int64_t i = 0; i < n; i++) {
    double e;
    bad += canon_nearest(x + i * d, c, k, d, &e) != lab[i];
    bad += brute_nearest(x + i * d, c, k, d) != lab[i];
    inertia += e;
    int32_t one = -1;
    bad1 += kmeans_assign(x + i * d, 1, d, c, cn, k, &one, NULL) != KMEANS_OK || one != lab[i];
  }
  CHECK_MSG(bad == 0, "block-sparse: %d labels differ from brute force", bad);
  CHECK_MSG(bad1 == 0, "block-sparse: %d single-point assignments differ from the fit", bad1);
  CHECK_MSG(fabs(inertia - res.inertia) <= 1e-9 * inertia, "block-sparse inertia %.10g vs %.10g",
        res.inertia, inertia);
  free(x);
  free(c);
  free(lab);
  free(cn);
}

/* Clear winners (a point near one centroid: one candidate after sgemm)
** and near-ties (midpoints of two centroids, nudged by an ulp or not at
** all, and a duplicated centroid: exact ties to the smaller id), each
** checked against brute force, as a batch and one by one. */
static void test_near_ties(void) {
  int d = 4 * 128 + 3, k = 24, n = 3 * k * k;
  float *c = block_sparse_data(k, d, k, 31);
  memcpy(c + 17 * d, c + 5 * d, (size_t)d * sizeof(float)); /* 5 and 17 tie */
  float *x = malloc((size_t)n * d * sizeof(float));
  Rng r;
  rng_seed(&r, 77, 1);
  int64_t i = 0;
  for (int a = 0; a < k; a++)
    for (int b = 0; b < k; b++, i += 3) {
      float *p = x + i * d;
      for (int t = 0; t < d; t++) {
        p[t] = c[a * d + t] + (float)(0.01 * rng_normal(&r)); /* clear */
        p[d + t] = 0.5f * (c[a * d + t] + c[b * d + t]);      /* tie or nearly */
        p[2 * d + t] = p[d + t];
      }
      int t = (int)rng_below(&r, (uint64_t)d);
      p[2 * d + t] = nextafterf(p[2 * d + t], rng_uniform(&r) < 0.5 ? -1.0f : 1.0f);
    }
  float *cn = malloc((size_t)k * sizeof(float));
  kmeans_centroid_norms(c, k, d, cn);
  int32_t *lab = malloc((size_t)n * sizeof(int32_t));
  double *dist = malloc((size_t)n * sizeof(double));
  CHECK_MSG(kmeans_assign(x, n, d, c, cn, k, lab, dist) == KMEANS_OK, "assign failed");
  int bad = 0, bad1 = 0, badd = 0, dup = 0;
  for (i = 0; i < n; i++) {
    double e;
    int b = canon_nearest(x + i * d, c, k, d, &e);
    bad += b != lab[i];
    badd += e != dist[i];
    dup += lab[i] == 17;
    int32_t one = -1;
    double e1 = -1;
    bad1 += kmeans_assign(x + i * d, 1, d, c, cn, k, &one, &e1) != KMEANS_OK || one != b || e1 != e;
  }
  CHECK_MSG(bad == 0, "near ties: %d labels differ from brute force", bad);
  CHECK_MSG(badd == 0, "near ties: %d distances differ from kmeans_sqdist", badd);
  CHECK_MSG(bad1 == 0, "near ties: %d single-point assignments differ", bad1);
  CHECK_MSG(dup == 0, "near ties: the duplicated centroid 17 won %d ties over 5", dup);
  free(c);
  free(x);
  free(cn);
  free(lab);
  free(dist);
}

static int stop_now(void *arg) {
  (void)arg;
  return 1;
}

static void test_edges(void) {
  int64_t n = 20;
  int d = 3;
  float *x = random_data(n, d, 8);
  float *c = malloc((size_t)(n + 1) * d * sizeof(float));
  int64_t sizes[21];
  KmeansResult res;
  KmeansConfig cfg = {.k = (int)n, .max_iter = 10, .seed = 1};
  CHECK_MSG(kmeans_fit(x, n, d, &cfg, c, NULL, sizes, &res) == KMEANS_OK && res.inertia == 0.0,
        "k = n must put every point in its own segment (inertia %g)", res.inertia);
  int ones = 1;
  for (int j = 0; j < n; j++) ones &= sizes[j] == 1;
  CHECK_MSG(ones, "k = n: every size must be 1");
  cfg.k = (int)n + 1;
  CHECK_MSG(kmeans_fit(x, n, d, &cfg, c, NULL, NULL, &res) == KMEANS_BADARG, "k > n accepted");
  cfg.k = 0;
  CHECK_MSG(kmeans_fit(x, n, d, &cfg, c, NULL, NULL, &res) == KMEANS_BADARG, "k = 0 accepted");
  cfg.k = 3;
  cfg.should_stop = stop_now;
  CHECK_MSG(kmeans_fit(x, n, d, &cfg, c, NULL, NULL, &res) == KMEANS_ABORTED,
        "should_stop must abort the fit");
  /* max_iter 0: k-means++ only, labels still consistent. */
  cfg.should_stop = NULL;
  cfg.max_iter = 0;
  int32_t lab[20];
  CHECK_MSG(kmeans_fit(x, n, d, &cfg, c, lab, NULL, &res) == KMEANS_OK && res.iterations == 0,
        "max_iter 0 must run no iteration");
  int bad = 0;
  for (int i = 0; i < n; i++) bad += brute_nearest(x + i * d, c, 3, d) != lab[i];
  CHECK_MSG(bad == 0, "max_iter 0: labels must match the initial centroids");
  free(x);
  free(c);
}

/* n_init: the fit keeps the start of lowest inertia, and start r is the
** single-start fit seeded with kmeans_restart_seed(seed, r). */
static void test_restarts(int seeding) {
  int64_t n = 1500;
  int d = 6, k = 25, n_init = 4;
  float *x = random_data(n, d, 123);
  float *c = malloc((size_t)k * d * sizeof(float)), *c1 = malloc((size_t)k * d * sizeof(float));
  float *cbest = malloc((size_t)k * d * sizeof(float));
  int32_t *lab = malloc((size_t)n * sizeof(int32_t)), *lab1 = malloc((size_t)n * sizeof(int32_t));
  int32_t *labbest = malloc((size_t)n * sizeof(int32_t));
  KmeansConfig cfg = {.k = k, .max_iter = 30, .seed = 9, .n_init = n_init, .seeding = seeding};
  KmeansResult res, one;
  CHECK_MSG(kmeans_fit(x, n, d, &cfg, c, lab, NULL, &res) == KMEANS_OK, "n_init fit failed");
  double best = INFINITY, worst = 0;
  int arg = -1;
  for (int r = 0; r < n_init; r++) {
    KmeansConfig c1cfg = cfg;
    c1cfg.n_init = 1;
    c1cfg.seed = kmeans_restart_seed(cfg.seed, r);
    CHECK(kmeans_fit(x, n, d, &c1cfg, c1, lab1, NULL, &one) == KMEANS_OK);
    worst = fmax(worst, one.inertia);
    if (one.inertia < best) {
      best = one.inertia;
      arg = r;
      memcpy(cbest, c1, (size_t)k * d * sizeof(float));
      memcpy(labbest, lab1, (size_t)n * sizeof(int32_t));
    }
  }
  CHECK_MSG(res.inertia == best && res.restart == arg,
            "seeding %d: kept start %d (inertia %.9g), the best single start is %d (%.9g)",
            seeding, res.restart, res.inertia, arg, best);
  CHECK_MSG(memcmp(c, cbest, (size_t)k * d * sizeof(float)) == 0 &&
                memcmp(lab, labbest, (size_t)n * sizeof(int32_t)) == 0,
            "seeding %d: centroids or labels are not those of the start kept", seeding);
  CHECK_MSG(worst > best, "seeding %d: the %d starts should not all end alike", seeding, n_init);
  CHECK(kmeans_restart_seed(9, 0) == 9 && kmeans_restart_seed(9, 1) != kmeans_restart_seed(9, 2));
  free(x);
  free(c);
  free(c1);
  free(cbest);
  free(lab);
  free(lab1);
  free(labbest);
}

/* Fewer distinct points than k: greedy seeding runs out of weight and must
** still end (inertia 0, every distinct point a centre). */
static void test_greedy_duplicates(void) {
  int n = 40, d = 3, k = 12;
  float *x = malloc((size_t)n * d * sizeof(float));
  for (int i = 0; i < n; i++)
    for (int t = 0; t < d; t++) x[i * d + t] = (float)((i % 5) * 10 + t);
  float *c = malloc((size_t)k * d * sizeof(float));
  KmeansConfig cfg = {.k = k, .max_iter = 10, .seed = 4};
  KmeansResult res;
  CHECK_MSG(kmeans_fit(x, n, d, &cfg, c, NULL, NULL, &res) == KMEANS_OK && res.inertia == 0.0,
            "5 distinct points, k = 12: inertia %g, want 0", res.inertia);
  cfg.seeding = 7;
  CHECK_MSG(kmeans_fit(x, n, d, &cfg, c, NULL, NULL, &res) == KMEANS_BADARG,
            "an unknown seeding must be refused");
  cfg.seeding = KMEANS_SEED_PLAIN;
  cfg.n_init = -1;
  CHECK_MSG(kmeans_fit(x, n, d, &cfg, c, NULL, NULL, &res) == KMEANS_BADARG,
            "n_init < 0 must be refused");
  free(x);
  free(c);
}

int main(void) {
  test_blobs();
  test_monotone_and_assign(3000, 16, 40, 100);
  test_monotone_and_assign(2500, 300, 9, 4); /* wide rows: K split in sgemm */
  test_seeds();
  test_block_sparse_fit();
  test_near_ties();
  test_edges();
  test_restarts(KMEANS_SEED_GREEDY);
  test_restarts(KMEANS_SEED_PLAIN);
  test_greedy_duplicates();
  return check_report();
}
