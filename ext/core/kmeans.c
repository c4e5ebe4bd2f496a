/* kmeans.c - k-means++ and Lloyd iterations on OpenBLAS (see kmeans.h). */
#include "kmeans.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* Scratch of one block of distances: 1 Mi floats (4 MiB). */
#define KMEANS_BLOCK_FLOATS ((int64_t)1 << 20)

double kmeans_sqdist(const float *a, const float *b, int d) {
  /* Four partial sums, always combined the same way: a fixed function of
  ** its inputs, and not bound by the latency of one chain of additions. */
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int j = 0;
  for (; j + 4 <= d; j += 4) {
    double t0 = (double)a[j] - (double)b[j];
    double t1 = (double)a[j + 1] - (double)b[j + 1];
    double t2 = (double)a[j + 2] - (double)b[j + 2];
    double t3 = (double)a[j + 3] - (double)b[j + 3];
    s0 += t0 * t0;
    s1 += t1 * t1;
    s2 += t2 * t2;
    s3 += t3 * t3;
  }
  for (; j < d; j++) {
    double t = (double)a[j] - (double)b[j];
    s0 += t * t;
  }
  return (s0 + s1) + (s2 + s3);
}

static double sqnorm(const float *a, int d) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int j = 0;
  for (; j + 4 <= d; j += 4) {
    s0 += (double)a[j] * (double)a[j];
    s1 += (double)a[j + 1] * (double)a[j + 1];
    s2 += (double)a[j + 2] * (double)a[j + 2];
    s3 += (double)a[j + 3] * (double)a[j + 3];
  }
  for (; j < d; j++) s0 += (double)a[j] * (double)a[j];
  return (s0 + s1) + (s2 + s3);
}

void kmeans_centroid_norms(const float *c, int k, int d, float *cnorm) {
  for (int j = 0; j < k; j++) cnorm[j] = (float)sqnorm(c + (int64_t)j * d, d);
}

/* Decides one row from g[j] = -2 x.c_j (sgemm): the float distances
** less |x|^2 are f_j = g[j] + cnorm[j], each within tol / 2 of the exact
** value, so every centroid within tol of the float best is a candidate and
** the candidates are decided in double. */
static int32_t decide_row(const float *x, const float *g, const float *cnorm,
                          const float *c, int k, int d, float tol,
                          double *dist) {
  float lane[16];
  int j = 0;
  for (int l = 0; l < 16; l++) lane[l] = INFINITY;
  for (; j + 16 <= k; j += 16)
    for (int l = 0; l < 16; l++) {
      float f = g[j + l] + cnorm[j + l];
      lane[l] = f < lane[l] ? f : lane[l];
    }
  for (int s = 8; s >= 1; s /= 2)
    for (int l = 0; l < s; l++) lane[l] = lane[l + s] < lane[l] ? lane[l + s] : lane[l];
  float best = lane[0];
  for (; j < k; j++) {
    float f = g[j] + cnorm[j];
    best = f < best ? f : best;
  }
  float lim = best + tol;
  int32_t arg = -1;
  double argd = 0.0;
  for (j = 0; j < k; j++) {
    if (g[j] + cnorm[j] <= lim) {
      double e = kmeans_sqdist(x, c + (int64_t)j * d, d);
      if (arg < 0 || e < argd) {
        arg = j;
        argd = e;
      }
    }
  }
  if (arg < 0) { /* unreachable with finite input; stay defined anyway */
    arg = 0;
    argd = kmeans_sqdist(x, c, d);
  }
  if (dist) *dist = argd;
  return arg;
}

/* xnorm (optional): |x_i| of each row, if the caller has them. */
static int assign_blocked(const float *x, const float *xnorm, int64_t n, int d,
                          const float *c, const float *cnorm, int k,
                          int32_t *labels, double *dist, const KmeansConfig *cfg) {
  int64_t b = KMEANS_BLOCK_FLOATS / k;
  if (b < 1) b = 1;
  if (b > n) b = n;
  float *g = malloc((size_t)b * (size_t)k * sizeof(float));
  if (g == NULL) return KMEANS_NOMEM;
  float cmax = 0.0f;
  for (int j = 0; j < k; j++) cmax = cnorm[j] > cmax ? cnorm[j] : cmax;
  cmax = sqrtf(cmax);
  /* sgemm and the two additions after it: |error| <= (d + 3) u (|x| + |c|)^2
  ** for any summation order; tol is twice that, with room. */
  double rel = 2.0 * (d + 4) / 16777216.0 * 1.0001;
  for (int64_t r0 = 0; r0 < n; r0 += b) {
    int64_t nb = n - r0 < b ? n - r0 : b;
    if (cfg && cfg->should_stop && cfg->should_stop(cfg->arg)) {
      free(g);
      return KMEANS_ABORTED;
    }
    const float *xb = x + r0 * d;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, k, d, -2.0f,
                xb, d, c, d, 0.0f, g, k);
    for (int64_t r = 0; r < nb; r++) {
      const float *xr = xb + r * d;
      double s = (xnorm ? (double)xnorm[r0 + r] : sqrt(sqnorm(xr, d))) + cmax;
      float tol = (float)(rel * s * s) + 1e-30f;
      labels[r0 + r] = decide_row(xr, g + r * k, cnorm, c, k, d, tol,
                                  dist ? dist + r0 + r : NULL);
    }
  }
  free(g);
  return KMEANS_OK;
}

int kmeans_assign(const float *x, int64_t n, int d, const float *c,
                  const float *cnorm, int k, int32_t *labels, double *dist) {
  if (n <= 0) return KMEANS_OK;
  return assign_blocked(x, NULL, n, d, c, cnorm, k, labels, dist, NULL);
}

/* k-means++.  Each point keeps its nearest centre so far (near) and the
** squared distance to it (d2).  A new centre c cannot come closer to x than
** x's current centre a when |c - a|^2 >= 4 d2(x) (triangle inequality), so
** only the other points are measured: exactly, one by one, when they are
** few; with one sgemv over all rows when they are many. */
static int init_plus_plus(const float *x, int64_t n, int d,
                          const KmeansConfig *cfg, float *centroids) {
  int k = cfg->k;
  float *xn = malloc((size_t)n * sizeof(float));
  float *dots = malloc((size_t)n * sizeof(float));
  double *d2 = malloc((size_t)n * sizeof(double));
  int32_t *near = malloc((size_t)n * sizeof(int32_t));
  int64_t *cand = malloc((size_t)n * sizeof(int64_t));
  double *cc = malloc((size_t)k * sizeof(double));
  int rc = KMEANS_OK;
  if (!xn || !dots || !d2 || !near || !cand || !cc) {
    rc = KMEANS_NOMEM;
    goto done;
  }
  Rng rng;
  rng_seed(&rng, cfg->seed, KMEANS_RNG_STREAM);
  for (int64_t i = 0; i < n; i++) xn[i] = (float)sqnorm(x + i * d, d);
  int64_t pick = (int64_t)rng_below(&rng, (uint64_t)n);
  for (int j = 0; j < k; j++) {
    const float *cj = x + pick * d;
    memcpy(centroids + (int64_t)j * d, cj, (size_t)d * sizeof(float));
    if (j + 1 == k) break;
    if ((j & 7) == 0 && cfg->should_stop && cfg->should_stop(cfg->arg)) {
      rc = KMEANS_ABORTED;
      break;
    }
    double total = 0.0;
    if (j == 0) {
      for (int64_t i = 0; i < n; i++) {
        d2[i] = i == pick ? 0.0 : kmeans_sqdist(x + i * d, cj, d);
        near[i] = 0;
        total += d2[i];
      }
    } else {
      for (int a = 0; a < j; a++) cc[a] = kmeans_sqdist(centroids + (int64_t)a * d, cj, d);
      int64_t nc = 0;
      for (int64_t i = 0; i < n; i++)
        if (cc[near[i]] < 4.0 * d2[i]) cand[nc++] = i;
      if (nc > n / 8) {
        float cn = xn[pick];
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, d, 1.0f, x, d, cj, 1,
                    0.0f, dots, 1);
        for (int64_t c = 0; c < nc; c++) {
          int64_t i = cand[c];
          double e = i == pick ? 0.0 : (double)(xn[i] + cn - 2.0f * dots[i]);
          if (e < 0.0) e = 0.0;
          if (e < d2[i]) {
            d2[i] = e;
            near[i] = j;
          }
        }
      } else {
        for (int64_t c = 0; c < nc; c++) {
          int64_t i = cand[c];
          double e = i == pick ? 0.0 : kmeans_sqdist(x + i * d, cj, d);
          if (e < d2[i]) {
            d2[i] = e;
            near[i] = j;
          }
        }
      }
      for (int64_t i = 0; i < n; i++) total += d2[i];
    }
    if (total > 0.0) {
      double target = rng_uniform(&rng) * total, acc = 0.0;
      int64_t last = -1;
      pick = -1;
      for (int64_t i = 0; i < n; i++) {
        if (d2[i] <= 0.0) continue;
        last = i;
        acc += d2[i];
        if (acc > target) {
          pick = i;
          break;
        }
      }
      if (pick < 0) pick = last; /* rounding at the very end */
    } else {
      /* Every point sits on a centre (fewer distinct points than k). */
      pick = (int64_t)rng_below(&rng, (uint64_t)n);
    }
  }
done:
  free(xn);
  free(dots);
  free(d2);
  free(near);
  free(cand);
  free(cc);
  return rc;
}

/* Means of the clusters of labels; an empty cluster takes the point
** farthest from its own centroid (dist), moved out of its cluster. */
static int update_centroids(const float *x, int64_t n, int d, int k,
                            const int32_t *labels, double *dist,
                            float *centroids, int64_t *counts,
                            int64_t *reseeded) {
  double *sums = calloc((size_t)k * (size_t)d, sizeof(double));
  if (sums == NULL) return KMEANS_NOMEM;
  memset(counts, 0, (size_t)k * sizeof *counts);
  for (int64_t i = 0; i < n; i++) {
    const float *xi = x + i * d;
    double *s = sums + (int64_t)labels[i] * d;
    for (int j = 0; j < d; j++) s[j] += (double)xi[j];
    counts[labels[i]]++;
  }
  for (int e = 0; e < k; e++) {
    if (counts[e] > 0) continue;
    int64_t far = -1;
    for (int64_t i = 0; i < n; i++) {
      if (dist[i] < 0.0 || counts[labels[i]] < 2) continue;
      if (far < 0 || dist[i] > dist[far]) far = i;
    }
    if (far < 0) break; /* k > n cannot happen; nothing left to move */
    const float *xf = x + far * d;
    double *from = sums + (int64_t)labels[far] * d;
    double *to = sums + (int64_t)e * d;
    for (int j = 0; j < d; j++) {
      from[j] -= (double)xf[j];
      to[j] = (double)xf[j];
    }
    counts[labels[far]]--;
    counts[e] = 1;
    dist[far] = -1.0; /* not twice */
    (*reseeded)++;
  }
  for (int c = 0; c < k; c++) {
    if (counts[c] == 0) continue; /* keep the old centroid */
    float *dst = centroids + (int64_t)c * d;
    const double *s = sums + (int64_t)c * d;
    for (int j = 0; j < d; j++) dst[j] = (float)(s[j] / (double)counts[c]);
  }
  free(sums);
  return KMEANS_OK;
}

int kmeans_fit(const float *x, int64_t n, int d, const KmeansConfig *cfg,
               float *centroids, int32_t *labels, int64_t *sizes,
               KmeansResult *res) {
  memset(res, 0, sizeof *res);
  if (cfg->k < 1 || n < cfg->k || d < 1 || cfg->max_iter < 0) return KMEANS_BADARG;
  int k = cfg->k;
  int32_t *lab = malloc((size_t)n * sizeof *lab);
  int32_t *prev = malloc((size_t)n * sizeof *prev);
  double *dist = malloc((size_t)n * sizeof *dist);
  float *cnorm = malloc((size_t)k * sizeof *cnorm);
  int64_t *counts = malloc((size_t)k * sizeof *counts);
  float *xnorm = malloc((size_t)n * sizeof *xnorm);
  int rc = KMEANS_NOMEM;
  if (!lab || !prev || !dist || !cnorm || !counts || !xnorm) goto done;
  /* Rounded up a little: it only widens the shortlist tolerance. */
  for (int64_t i = 0; i < n; i++) xnorm[i] = (float)(sqrt(sqnorm(x + i * d, d)) * (1 + 1e-6));

  rc = init_plus_plus(x, n, d, cfg, centroids);
  if (rc != KMEANS_OK) goto done;
  kmeans_centroid_norms(centroids, k, d, cnorm);
  rc = assign_blocked(x, xnorm, n, d, centroids, cnorm, k, lab, dist, cfg);
  if (rc != KMEANS_OK) goto done;
  double inertia = 0.0;
  for (int64_t i = 0; i < n; i++) inertia += dist[i];
  res->inertia = inertia;
  if (cfg->progress && cfg->progress(cfg->arg, 0, inertia, n)) {
    rc = KMEANS_ABORTED;
    goto done;
  }
  for (int it = 1; it <= cfg->max_iter; it++) {
    rc = update_centroids(x, n, d, k, lab, dist, centroids, counts, &res->reseeded);
    if (rc != KMEANS_OK) goto done;
    kmeans_centroid_norms(centroids, k, d, cnorm);
    int32_t *t = prev;
    prev = lab;
    lab = t;
    rc = assign_blocked(x, xnorm, n, d, centroids, cnorm, k, lab, dist, cfg);
    if (rc != KMEANS_OK) goto done;
    int64_t changed = 0;
    inertia = 0.0;
    for (int64_t i = 0; i < n; i++) {
      changed += lab[i] != prev[i];
      inertia += dist[i];
    }
    res->iterations = it;
    res->inertia = inertia;
    res->converged = changed == 0;
    if (cfg->progress && cfg->progress(cfg->arg, it, inertia, changed)) {
      rc = KMEANS_ABORTED;
      goto done;
    }
    if (changed == 0) break;
  }
  if (labels) memcpy(labels, lab, (size_t)n * sizeof *lab);
  if (sizes) {
    memset(sizes, 0, (size_t)k * sizeof *sizes);
    for (int64_t i = 0; i < n; i++) sizes[lab[i]]++;
  }
  rc = KMEANS_OK;
done:
  free(lab);
  free(prev);
  free(dist);
  free(cnorm);
  free(counts);
  free(xnorm);
  return rc;
}
