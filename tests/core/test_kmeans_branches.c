/* test_kmeans_branches.c - the documented branches of k-means (kmeans.h)
** that ordinary data never takes, each against an independent reference:
**   - empty-cluster reseeding: an empty cluster takes the point farthest
**     from its own centroid (largest distance first, ties by smaller
**     index), moved out of its cluster; a point alone in its cluster is
**     never taken; a point is taken once; how many clusters were reseeded;
**   - k-means++ with fewer distinct points than k: every distinct point
**     becomes a centre, the other centres are copies drawn uniformly.
** The reference is one Lloyd iteration written here from that contract:
** the fit stopped after t iterations, then one more update (with
** reseeding) and assignment by plain double distances, must give what the
** fit stopped after t + 1 iterations gives (same seed: same start).
**
** Empty clusters need a poor start (k-means++ on distinct points almost
** never empties one), so some fits pin k-means++'s draws: rng_below and
** rng_uniform are wrapped at link time (see the link line below) to
** return 0 while `pinned` is set.  Every draw at the bottom of its range
** makes k-means++ take the first k distinct points in order (the first
** centre is point 0; each later draw lands on the first point of positive
** weight), then, once every point sits on a centre, copies of point 0;
** the test checks that before relying on it.
** link: -Wl,--wrap=rng_below,--wrap=rng_uniform
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kmeans.h"
#include "rng.h"

static int pinned;

uint64_t __real_rng_below(Rng *r, uint64_t n);
double __real_rng_uniform(Rng *r);
uint64_t __wrap_rng_below(Rng *r, uint64_t n);
double __wrap_rng_uniform(Rng *r);
uint64_t __wrap_rng_below(Rng *r, uint64_t n) { return pinned ? 0 : __real_rng_below(r, n); }
double __wrap_rng_uniform(Rng *r) { return pinned ? 0.0 : __real_rng_uniform(r); }

enum { D = 2, MAXN = 64, MAXK = 16 };

static double sqdist(const float *a, const float *b) {
  double s = 0;
  for (int j = 0; j < D; j++) s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
  return s;
}

/* Nearest centroid, ties by smaller id. */
static int nearest(const float *x, const float *c, int k) {
  int best = 0;
  double bd = sqdist(x, c);
  for (int j = 1; j < k; j++) {
    double e = sqdist(x, c + j * D);
    if (e < bd) {
      best = j;
      bd = e;
    }
  }
  return best;
}

/* What happened in the reference iterations. */
typedef struct {
  int reseeded;     /* empty clusters given a point */
  int most_in_one;  /* the most reseeded in one iteration */
  int far_not_near; /* the farthest candidate was not the nearest one */
  int alone_skipped; /* a candidate by distance sat alone in its cluster */
  int near_tie;     /* two candidates within rounding of each other */
} Events;

/* One Lloyd iteration from centroids c (k x D) and labels lab: update
** with reseeding, then assignment.  Writes the new centroids and labels. */
static void reference_iteration(const float *x, int n, int k, const float *c, const int32_t *lab,
                                float *c_out, int32_t *lab_out, Events *ev) {
  double dist[MAXN], sums[MAXK][D];
  int count[MAXK];
  memset(sums, 0, sizeof sums);
  memset(count, 0, sizeof count);
  for (int i = 0; i < n; i++) {
    dist[i] = sqdist(x + i * D, c + lab[i] * D);
    for (int j = 0; j < D; j++) sums[lab[i]][j] += x[i * D + j];
    count[lab[i]]++;
  }
  int here = 0;
  for (int e = 0; e < k; e++) {
    if (count[e] > 0) continue;
    int far = -1, near = -1;
    for (int i = 0; i < n; i++) {
      if (dist[i] < 0) continue;
      if (count[lab[i]] < 2) {
        if (far < 0 || dist[i] > dist[far]) ev->alone_skipped = 1;
        continue;
      }
      if (far >= 0 && dist[i] != dist[far] && fabs(dist[i] - dist[far]) <= 1e-12 * dist[far])
        ev->near_tie = 1;
      if (far < 0 || dist[i] > dist[far]) far = i;
      if (near < 0 || dist[i] < dist[near]) near = i;
    }
    if (far < 0) break;
    if (dist[near] < dist[far]) ev->far_not_near = 1;
    for (int j = 0; j < D; j++) {
      sums[lab[far]][j] -= x[far * D + j];
      sums[e][j] = x[far * D + j];
    }
    count[lab[far]]--;
    count[e] = 1;
    dist[far] = -1;
    ev->reseeded++;
    here++;
  }
  if (here > ev->most_in_one) ev->most_in_one = here;
  for (int e = 0; e < k; e++)
    for (int j = 0; j < D; j++)
      c_out[e * D + j] = count[e] ? (float)(sums[e][j] / count[e]) : c[e * D + j];
  for (int i = 0; i < n; i++) lab_out[i] = nearest(x + i * D, c_out, k);
}

typedef struct {
  float c[MAXK * D];
  int32_t lab[MAXN];
  int64_t sizes[MAXK];
  KmeansResult res;
  int rc;
} Fit;

/* The seeding every fit uses: the default (greedy), or plain k-means++ for
** the cases whose draws differ between the two. */
static int seeding = KMEANS_SEED_GREEDY;

static void fit(const float *x, int n, int k, int max_iter, uint64_t seed, Fit *f) {
  KmeansConfig cfg = {.k = k, .max_iter = max_iter, .seed = seed, .seeding = seeding};
  f->rc = kmeans_fit(x, n, D, &cfg, f->c, f->lab, f->sizes, &f->res);
}

/* Steps the fit of (x, k, seed) one iteration at a time against the
** reference, adding up the events; *last gets the final fit.  Returns
** the number of iterations that differ. */
static int check_steps(const float *x, int n, int k, uint64_t seed, Events *ev, Fit *last) {
  Fit a, b;
  int bad = 0;
  fit(x, n, k, 0, seed, &a);
  if (a.rc != KMEANS_OK) return 1;
  for (int t = 0; t < 20; t++) {
    fit(x, n, k, t + 1, seed, &b);
    if (b.rc != KMEANS_OK) return bad + 1;
    if (b.res.iterations == t) break; /* converged at t */
    float c_ref[MAXK * D];
    int32_t lab_ref[MAXN];
    reference_iteration(x, n, k, a.c, a.lab, c_ref, lab_ref, ev);
    double cd = 0;
    for (int i = 0; i < k * D; i++) cd = fmax(cd, fabs(c_ref[i] - b.c[i]));
    int lab_diff = 0, changed = 0;
    for (int i = 0; i < n; i++) {
      lab_diff += lab_ref[i] != b.lab[i];
      changed += lab_ref[i] != a.lab[i];
    }
    int64_t cnt[MAXK] = {0};
    for (int i = 0; i < n; i++) cnt[b.lab[i]]++;
    /* converged: the last iteration changed no assignment. */
    if (cd > 1e-4 || lab_diff || memcmp(cnt, b.sizes, (size_t)k * sizeof *cnt) != 0 ||
        b.res.iterations != t + 1 || b.res.converged != (changed == 0)) {
      bad++;
      printf("  seed %llu, iteration %d: centroids off by %g, %d labels differ, %d iterations, "
             "converged %d after %d changes\n", (unsigned long long)seed, t + 1, cd, lab_diff,
             b.res.iterations, b.res.converged, changed);
    }
    a = b;
  }
  /* Reseeded clusters, counted by the fit, as the reference counted. */
  if (a.res.reseeded != ev->reseeded) {
    bad++;
    printf("  seed %llu: %lld clusters reseeded, the reference %d\n", (unsigned long long)seed,
           (long long)a.res.reseeded, ev->reseeded);
  }
  *last = a;
  return bad;
}

/* The pinned start is the first k points, as the header says. */
static int starts_at_first_points(const float *x, int n, int k) {
  Fit f;
  pinned = 1;
  fit(x, n, k, 0, 0, &f);
  pinned = 0;
  return f.rc == KMEANS_OK && memcmp(f.c, x, (size_t)k * D * sizeof(float)) == 0;
}

/* A block where a cluster empties at the second update, with distances
** far from equal: centres A (0, 0), B (-3, .1), C (22, -.1), then points
** (-1, .2) and (10.5, .05) (nearer A than C), (16, -.2) and (15, .15).
** A's mean (3.17, .08) is dragged off by (10.5, .05): (0, 0) and (-1, .2)
** are now nearer B (-3, .1), and (10.5, .05) nearer C's mean (17.67,
** -.05), so A is left empty and takes (10.5, .05), at 51.37 the farthest
** point from its centroid (the nearest candidate sits at 0). */
static const float block_centres[3][D] = {{0, 0}, {-3, 0.1f}, {22, -0.1f}};
static const float block_points[4][D] = {{-1, 0.2f}, {10.5f, 0.05f}, {16, -0.2f}, {15, 0.15f}};

/* One block as it stands, or two: the block moved right by 1000 and its
** mirror image through the origin.  Negated coordinates round exactly as
** the originals do, so mirrored points are at exactly equal distances:
** ties, to be broken by the smaller index.  Centres first. */
static int blocks(int copies, float *x) {
  int n = 0;
  float shift = copies > 1 ? 1000.0f : 0.0f;
  for (int part = 0; part < 2; part++)
    for (int b = 0; b < copies; b++)
      for (int i = 0; i < (part ? 4 : 3); i++, n++) {
        const float *p = part ? block_points[i] : block_centres[i];
        float sign = b ? -1.0f : 1.0f;
        x[n * D] = sign * (p[0] + shift);
        x[n * D + 1] = sign * p[1];
      }
  return n;
}

static void test_reseeding_farthest(void) {
  for (int copies = 1; copies <= 2; copies++) {
    float x[MAXN * D];
    int n = blocks(copies, x), k = 3 * copies;
    CHECK_MSG(starts_at_first_points(x, n, k), "pinned draws no longer start at the first %d points", k);
    Events ev = {0, 0, 0, 0, 0};
    Fit last;
    pinned = 1;
    int bad = check_steps(x, n, k, 0, &ev, &last);
    pinned = 0;
    CHECK_MSG(bad == 0, "%d block(s): %d iterations differ from the reference", copies, bad);
    /* By hand (see block_centres): one cluster empties per block, at the
    ** second update, and takes the block's far point (10.5, .05) (51.37;
    ** the nearest candidate is at 0).  With the mirrored pair, cluster 0
    ** (A of the first block) meets a tie between (1010.5, .05) and its
    ** mirror and takes the first, by index; cluster 3 (A of the mirror)
    ** then the mirror point, not (1010.5, .05) again. */
    CHECK_MSG(ev.reseeded == copies && ev.most_in_one == copies && ev.far_not_near && !ev.near_tie,
              "%d block(s): reseeded %d, at most %d at once, far_not_near %d, near tie %d", copies,
              ev.reseeded, ev.most_in_one, ev.far_not_near, ev.near_tie);
    int far = 3 * copies + 1; /* (10.5, .05) of the first block */
    CHECK_MSG(last.c[0] == x[far * D] && last.c[1] == x[far * D + 1] && last.sizes[0] == 1 &&
                  last.lab[far] == 0,
              "%d block(s): cluster 0 is (%g, %g), not the far point alone", copies, last.c[0],
              last.c[1]);
    if (copies == 2)
      CHECK_MSG(last.c[3 * D] == -x[far * D] && last.c[3 * D + 1] == -x[far * D + 1] &&
                    last.sizes[3] == 1,
                "mirrored blocks: cluster 3 is (%g, %g), not the mirrored far point", last.c[3 * D],
                last.c[3 * D + 1]);
  }
}

static void test_reseeding_alone_and_ties(void) {
  const float x[5 * D] = {5, 5, 0, 0, 0, 0, 0, 0, 9, 1};
  const float want[5 * D] = {5, 5, 0, 0, 9, 1, 0, 0, 0, 0};
  const int64_t sizes[5] = {1, 3, 1, 0, 0};
  Fit f;
  pinned = 1;
  fit(x, 5, 5, 0, 0, &f);
  const float start[5 * D] = {5, 5, 0, 0, 9, 1, 5, 5, 5, 5};
  CHECK_MSG(f.rc == KMEANS_OK && memcmp(f.c, start, sizeof start) == 0,
            "pinned draws: the start is not the distinct points then copies of point 0");
  Events ev = {0, 0, 0, 0, 0};
  Fit last;
  int bad = check_steps(x, 5, 5, 0, &ev, &last);
  fit(x, 5, 5, 10, 0, &f);
  pinned = 0;
  CHECK_MSG(bad == 0, "fewer distinct points: %d iterations differ from the reference", bad);
  CHECK_MSG(ev.alone_skipped, "the lone point 0 was never the first candidate");
  CHECK_MSG(f.rc == KMEANS_OK && memcmp(f.c, want, sizeof want) == 0 &&
                memcmp(f.sizes, sizes, sizeof sizes) == 0 && f.res.reseeded == 2 &&
                f.res.converged && f.res.iterations == 1 && f.res.inertia == 0.0,
            "fewer distinct points: centroids, sizes, reseeded %lld, iterations %d or inertia %g "
            "differ from the hand-worked fit", (long long)f.res.reseeded, f.res.iterations,
            f.res.inertia);
}

/* Fewer distinct points than k with real draws, over 30 seeds: three
** places, held by 3, 2 and 1 points, k = 5.  k-means++ must put a centre
** on each place first (a point on a centre has weight 0 while any point
** has weight), then draw the other two uniformly among the 6 points: so
** the copies are not always of the same place.  Each fit follows the
** reference iteration, reseeds exactly the k - 3 copies (at the first
** update), and ends with inertia 0.  Both seedings have this branch of
** their own, so both are checked. */
static void test_fewer_distinct_draws(void) {
  const float x[6 * D] = {1, 1, 4, 0, 1, 1, 0, 4, 4, 0, 1, 1};
  const float places[3][D] = {{1, 1}, {4, 0}, {0, 4}};
  int bad = 0, cover = 1, reseeds = 1, zero = 1, copies_of[3] = {0, 0, 0};
  for (uint64_t seed = 0; seed < 30; seed++) {
    Fit f;
    fit(x, 6, 5, 0, seed, &f);
    int on[3] = {0, 0, 0};
    for (int e = 0; e < 5; e++)
      for (int p = 0; p < 3; p++)
        on[p] += f.c[e * D] == places[p][0] && f.c[e * D + 1] == places[p][1];
    for (int p = 0; p < 3; p++) {
      cover &= on[p] >= 1;
      copies_of[p] += on[p] - 1;
    }
    cover &= on[0] + on[1] + on[2] == 5;
    Events ev = {0, 0, 0, 0, 0};
    Fit last;
    bad += check_steps(x, 6, 5, seed, &ev, &last);
    reseeds &= last.res.reseeded == 2;
    zero &= last.res.inertia == 0.0;
  }
  const char *name = seeding == KMEANS_SEED_PLAIN ? "plain" : "greedy";
  CHECK_MSG(bad == 0, "%s, fewer distinct points, real draws: %d iterations differ", name, bad);
  CHECK_MSG(cover, "%s k-means++ left a distinct point without a centre", name);
  CHECK_MSG(reseeds && zero, "%s, fewer distinct points: reseeded or inertia wrong", name);
  /* Uniform copies: P(place of 3 points) = 1/2 per copy; over 60 copies
  ** every place is copied (each is missed with probability < 1e-4). */
  CHECK_MSG(copies_of[0] > 0 && copies_of[1] > 0 && copies_of[2] > 0,
            "%s: copies are not drawn among all points: %d %d %d", name, copies_of[0],
            copies_of[1], copies_of[2]);
}

int main(void) {
  test_reseeding_farthest();
  test_reseeding_alone_and_ties();
  test_fewer_distinct_draws();
  seeding = KMEANS_SEED_PLAIN;
  test_fewer_distinct_draws();
  return check_report();
}
