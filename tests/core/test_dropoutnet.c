/* test_dropoutnet.c - DropoutNet: the training loss against a naive double
** implementation, finite-difference gradients of every parameter group of
** both towers, BatchNorm running statistics, the SGD-with-momentum rule,
** inference against the naive forward, tensors round trip, determinism by
** seed and for any thread count, bad arguments, stop requests, and a
** synthetic cold start that training must learn. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "progress.h"
#include "dropoutnet.h"
#include "feature_layout.h"
#include "rng.h"
#include "scaler.h"

/* Naive double forward of one tower over rows x (rows x dims[0]):
** training mode (batch statistics) or inference (running statistics).
** Writes rows x output into out. */
static void naive_tower(const DnetTower *t, const double *x, int rows, int train, double *out) {
  int L = t->n_hidden, w = 0;
  for (int l = 0; l <= L + 1; l++) w = t->dims[l] > w ? t->dims[l] : w;
  double *h = calloc((size_t)rows * w, sizeof(double)), *z = calloc((size_t)rows * w, sizeof(double));
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < t->dims[0]; j++) h[(size_t)i * w + j] = x[(size_t)i * t->dims[0] + j];
  for (int l = 0; l <= L; l++) {
    int din = t->dims[l], dn = t->dims[l + 1];
    for (int i = 0; i < rows; i++)
      for (int o = 0; o < dn; o++) {
        double s = l == L ? t->bias[o] : 0.0;
        for (int k = 0; k < din; k++) s += (double)t->W[l][(size_t)o * din + k] * h[(size_t)i * w + k];
        z[(size_t)i * w + o] = s;
      }
    if (l == L) {
      for (int i = 0; i < rows; i++)
        for (int o = 0; o < dn; o++) out[(size_t)i * dn + o] = z[(size_t)i * w + o];
      break;
    }
    for (int o = 0; o < dn; o++) {
      double mean = 0, var = 0;
      for (int i = 0; i < rows; i++) mean += z[(size_t)i * w + o];
      mean /= rows;
      for (int i = 0; i < rows; i++) var += (z[(size_t)i * w + o] - mean) * (z[(size_t)i * w + o] - mean);
      var /= rows;
      if (!train) {
        mean = t->run_mean[l][o];
        var = t->run_var[l][o];
      }
      for (int i = 0; i < rows; i++)
        h[(size_t)i * w + o] =
            tanh(t->gamma[l][o] * (z[(size_t)i * w + o] - mean) / sqrt(var + 1e-3) + t->beta[l][o]);
    }
  }
  free(h);
  free(z);
}

/* The training loss of a batch given as tower inputs, in double. */
static double naive_loss(const DropoutNet *m, const float *Xu, int B, const float *Xi, int M,
                         const float *T) {
  int du = m->user.dims[0], di = m->item.dims[0], r = m->shape.output_dim;
  double *xu = malloc((size_t)B * du * sizeof(double)), *xi = malloc((size_t)M * di * sizeof(double));
  double *U = malloc((size_t)B * r * sizeof(double)), *V = malloc((size_t)M * r * sizeof(double));
  for (int i = 0; i < B * du; i++) xu[i] = Xu[i];
  for (int i = 0; i < M * di; i++) xi[i] = Xi[i];
  naive_tower(&m->user, xu, B, 1, U);
  naive_tower(&m->item, xi, M, 1, V);
  double loss = 0;
  for (int i = 0; i < B; i++)
    for (int j = 0; j < M; j++) {
      double s = 0;
      for (int k = 0; k < r; k++) s += U[i * r + k] * V[j * r + k];
      loss += (s - T[i * M + j]) * (s - T[i * M + j]);
    }
  free(xu);
  free(xi);
  free(U);
  free(V);
  return loss / ((double)B * M);
}

static void fill_uniform(Rng *r, float *x, size_t n, double lo, double hi) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * rng_uniform(r));
}

/* A small model with weights large enough for every gradient to matter. */
static void small_model(DropoutNet *m, uint64_t seed) {
  DropoutNetShape s = {3, 4, 2, 2, {6, 5}, 4};
  CHECK_MSG(dropoutnet_init(m, &s, seed) == TRAIN_OK, "dropoutnet_init");
  Rng r;
  rng_seed(&r, seed, 77);
  fill_uniform(&r, m->params, m->n_params, -0.6, 0.6);
  for (int k = 0; k < 2; k++) {
    DnetTower *t = k ? &m->item : &m->user;
    for (int l = 0; l < t->n_hidden; l++) {
      fill_uniform(&r, t->gamma[l], (size_t)t->dims[l + 1], 0.5, 1.5);
      fill_uniform(&r, t->run_mean[l], (size_t)t->dims[l + 1], -0.3, 0.3);
      fill_uniform(&r, t->run_var[l], (size_t)t->dims[l + 1], 0.5, 1.5);
    }
  }
}

static void test_gradients(void) {
  DropoutNet m;
  small_model(&m, 3);
  enum { B = 5, M = 6 };
  float Xu[B * 7], Xi[M * 3], T[B * M];
  Rng r;
  rng_seed(&r, 9, 1);
  fill_uniform(&r, Xu, B * 7, -1.5, 1.5);
  fill_uniform(&r, Xi, M * 3, -1.5, 1.5);
  fill_uniform(&r, T, B * M, -1, 1);
  memset(Xu + 7, 0, 3 * sizeof(float)); /* user 1: preference dropped */

  DnetTrainer *tr = dnet_trainer_new(&m, 8, 8, 1);
  CHECK_MSG(tr != NULL, "trainer");
  float *stats = malloc(m.n_stats * sizeof(float));
  memcpy(stats, m.stats, m.n_stats * sizeof(float));
  double loss = dnet_loss_grad(tr, &m, Xu, B, Xi, M, T, 0);
  CHECK_MSG(memcmp(stats, m.stats, m.n_stats * sizeof(float)) == 0, "stats changed without update_stats");
  double want = naive_loss(&m, Xu, B, Xi, M, T);
  CHECK_MSG(fabs(loss - want) < 1e-6 * want, "loss %.9g, naive %.9g", loss, want);
  float *grad = malloc(m.n_params * sizeof(float));
  memcpy(grad, dnet_trainer_grad(tr), m.n_params * sizeof(float));

  /* Central differences of the naive loss, every trainable tensor. */
  ParamTensor t[64];
  int nt = dropoutnet_tensors(&m, t), groups = 0;
  for (int k = 0; k < nt; k++) {
    if (t[k].data < m.params || t[k].data >= m.params + m.n_params) continue; /* not trained */
    groups++;
    int len = t[k].rows * t[k].cols;
    double worst = 0, gmax = 0;
    for (int i = 0; i < len; i++) gmax = fmax(gmax, fabs(grad[t[k].data + i - m.params]));
    for (int i = 0; i < len; i++) {
      float *p = t[k].data + i, keep = *p;
      *p = keep + 3e-4f;
      double hp = (double)*p - keep, lp = naive_loss(&m, Xu, B, Xi, M, T);
      *p = keep - 3e-4f;
      double hm = (double)keep - *p, lm = naive_loss(&m, Xu, B, Xi, M, T);
      *p = keep;
      double fd = (lp - lm) / (hp + hm), an = grad[p - m.params];
      worst = fmax(worst, fabs(fd - an) / (1e-4 * gmax + fmax(fabs(fd), fabs(an)) + 1e-12));
    }
    CHECK_MSG(gmax > 1e-4 && worst < 2e-4, "%s: gradient relative error %g (max |g| %g)", t[k].name,
              worst, gmax);
  }
  CHECK_MSG(groups == 2 * (3 * 2 + 2), "trainable tensors: %d", groups);

  /* Running statistics: momentum 0.01, unbiased variance (BatchNorm1d). */
  dnet_loss_grad(tr, &m, Xu, B, Xi, M, T, 1);
  double md = 0;
  for (int o = 0; o < 6; o++) {
    double z[B], mean = 0, var = 0;
    for (int i = 0; i < B; i++) {
      z[i] = 0;
      for (int k = 0; k < 7; k++) z[i] += (double)m.user.W[0][o * 7 + k] * Xu[i * 7 + k];
      mean += z[i];
    }
    mean /= B;
    for (int i = 0; i < B; i++) var += (z[i] - mean) * (z[i] - mean);
    var /= B - 1;
    md = fmax(md, fabs(m.user.run_mean[0][o] - (0.99 * stats[o] + 0.01 * mean)));
    md = fmax(md, fabs(m.user.run_var[0][o] - (0.99 * stats[6 + o] + 0.01 * var)));
  }
  CHECK_MSG(md < 1e-6, "running statistics off by %g", md);

  /* SGD with momentum, torch's rule: buf = mu buf + g, p -= lr buf. */
  float *p0 = malloc(m.n_params * sizeof(float)), *g1 = malloc(m.n_params * sizeof(float));
  memcpy(p0, m.params, m.n_params * sizeof(float));
  dnet_loss_grad(tr, &m, Xu, B, Xi, M, T, 0);
  memcpy(g1, dnet_trainer_grad(tr), m.n_params * sizeof(float));
  dnet_sgd_step(tr, &m, 0.05, 0.9);
  int bad = 0;
  for (size_t i = 0; i < m.n_params; i++) bad += m.params[i] != p0[i] - 0.05f * g1[i];
  CHECK_MSG(bad == 0, "first SGD step: %d parameters off", bad);
  memcpy(p0, m.params, m.n_params * sizeof(float));
  dnet_loss_grad(tr, &m, Xu, B, Xi, M, T, 0);
  const float *g2 = dnet_trainer_grad(tr);
  bad = 0;
  float *expect = malloc(m.n_params * sizeof(float));
  for (size_t i = 0; i < m.n_params; i++) expect[i] = p0[i] - 0.05f * (0.9f * g1[i] + g2[i]);
  dnet_sgd_step(tr, &m, 0.05, 0.9);
  for (size_t i = 0; i < m.n_params; i++) bad += m.params[i] != expect[i];
  CHECK_MSG(bad == 0, "second SGD step (momentum): %d parameters off", bad);

  free(expect);
  free(p0);
  free(g1);
  free(grad);
  free(stats);
  dnet_trainer_free(tr);
  dropoutnet_free(&m);
}

/* Inference: standardisation, running statistics, cold users. */
static void test_inference(void) {
  DropoutNet m;
  small_model(&m, 5);
  Rng r;
  rng_seed(&r, 2, 3);
  fill_uniform(&r, m.user_mean, 3, -0.2, 0.2);
  fill_uniform(&r, m.user_scale, 3, 0.5, 2);
  fill_uniform(&r, m.item_mean, 3, -0.2, 0.2);
  fill_uniform(&r, m.item_scale, 3, 0.5, 2);
  fill_uniform(&r, m.content_mean, 2, 10, 20);
  fill_uniform(&r, m.content_scale, 2, 1, 3);
  enum { N = 300 }; /* more than one inference chunk */
  float *pref = malloc(N * 3 * sizeof(float)), *content = malloc(N * 4 * sizeof(float));
  fill_uniform(&r, pref, N * 3, -1, 1);
  fill_uniform(&r, content, N * 4, -1, 1);
  for (int i = 0; i < N; i++) content[i * 4 + 3] = (float)(15 + 30 * rng_uniform(&r)); /* an age */
  float *U = malloc(N * 4 * sizeof(float)), *C = malloc(N * 4 * sizeof(float)), *V = malloc(N * 4 * sizeof(float));
  CHECK(dropoutnet_user_vectors(&m, pref, content, N, 2, U) == TRAIN_OK);
  CHECK(dropoutnet_user_vectors(&m, NULL, content, N, 1, C) == TRAIN_OK);
  CHECK(dropoutnet_item_vectors(&m, pref, N, 3, V) == TRAIN_OK);
  double *x = malloc(N * 7 * sizeof(double)), *xc = malloc(N * 7 * sizeof(double));
  double *xi = malloc(N * 3 * sizeof(double)), *ou = malloc(N * 4 * sizeof(double));
  double *oc = malloc(N * 4 * sizeof(double)), *ov = malloc(N * 4 * sizeof(double));
  for (int i = 0; i < N; i++) {
    for (int j = 0; j < 3; j++) {
      double u = (pref[i * 3 + j] - m.user_mean[j]) / m.user_scale[j];
      double v = (pref[i * 3 + j] - m.item_mean[j]) / m.item_scale[j];
      x[i * 7 + j] = fmax(-5, fmin(5, u));
      xi[i * 3 + j] = fmax(-5, fmin(5, v));
      xc[i * 7 + j] = 0;
    }
    for (int j = 0; j < 4; j++) {
      double c = content[i * 4 + j];
      if (j >= 2) c = fmax(-5, fmin(5, (c - m.content_mean[j - 2]) / m.content_scale[j - 2]));
      x[i * 7 + 3 + j] = xc[i * 7 + 3 + j] = c;
    }
  }
  naive_tower(&m.user, x, N, 0, ou);
  naive_tower(&m.user, xc, N, 0, oc);
  naive_tower(&m.item, xi, N, 0, ov);
  double du = 0, dc = 0, dv = 0;
  for (int i = 0; i < N * 4; i++) {
    du = fmax(du, fabs(U[i] - ou[i]));
    dc = fmax(dc, fabs(C[i] - oc[i]));
    dv = fmax(dv, fabs(V[i] - ov[i]));
  }
  CHECK_MSG(du < 1e-5 && dc < 1e-5 && dv < 1e-5, "inference vs naive: user %g cold %g item %g", du, dc, dv);

  /* Tensors round trip: a loaded copy infers the same. */
  ParamTensor t[64];
  int nt = dropoutnet_tensors(&m, t);
  CHECK_MSG(nt <= dropoutnet_max_tensors() && nt == 2 * (5 * 2 + 2) + 6, "%d tensors", nt);
  /* The count a stored model is checked against: every float of the tensors. */
  size_t floats = 0;
  for (int i = 0; i < nt; i++) floats += (size_t)t[i].rows * t[i].cols;
  CHECK_MSG(dropoutnet_count_floats(&m.shape) == floats, "count %zu, tensors %zu",
            dropoutnet_count_floats(&m.shape), floats);
  DropoutNetShape wide = m.shape;
  wide.output_dim = 0;
  CHECK(dropoutnet_count_floats(&wide) == 0);
  DropoutNet copy;
  const char *bad = "unset";
  CHECK_MSG(dropoutnet_load(&copy, &m.shape, t, nt, &bad) == TRAIN_OK && bad == NULL, "load");
  float *U2 = malloc(N * 4 * sizeof(float));
  dropoutnet_user_vectors(&copy, pref, content, N, 1, U2);
  CHECK_MSG(memcmp(U, U2, N * 4 * sizeof(float)) == 0, "loaded model differs");
  dropoutnet_free(&copy);
  /* A missing tensor, a wrong shape, a NaN, a zero scale, an extra name. */
  ParamTensor t2[64];
  memcpy(t2, t, sizeof t);
  CHECK_MSG(dropoutnet_load(&copy, &m.shape, t2, nt - 1, &bad) == TRAIN_BADARG &&
                strcmp(bad, t[nt - 1].name) == 0 && copy.params == NULL,
            "missing tensor: %s", bad ? bad : "(null)");
  t2[0].cols++;
  CHECK(dropoutnet_load(&copy, &m.shape, t2, nt, &bad) == TRAIN_BADARG && strcmp(bad, "user.0.weight") == 0);
  t2[0] = t[0];
  float keep = t[1].data[2];
  t[1].data[2] = NAN;
  CHECK(dropoutnet_load(&copy, &m.shape, t, nt, &bad) == TRAIN_BADARG && strcmp(bad, "user.0.bn_weight") == 0);
  t[1].data[2] = keep;
  keep = m.item_scale[1];
  m.item_scale[1] = 0;
  CHECK(dropoutnet_load(&copy, &m.shape, t, nt, &bad) == TRAIN_BADARG && strcmp(bad, "item_pref.scale") == 0);
  m.item_scale[1] = keep;
  t2[nt] = t2[0];
  t2[nt].name = "user.9.weight";
  CHECK(dropoutnet_load(&copy, &m.shape, t2, nt + 1, &bad) == TRAIN_BADARG && strcmp(bad, "user.9.weight") == 0);
  DropoutNetShape other = m.shape;
  other.hidden[1] = 7;
  CHECK(dropoutnet_load(&copy, &other, t, nt, &bad) == TRAIN_BADARG && strcmp(bad, "user.1.weight") == 0);

  free(U2);
  free(x);
  free(xc);
  free(xi);
  free(ou);
  free(oc);
  free(ov);
  free(U);
  free(C);
  free(V);
  free(pref);
  free(content);
  dropoutnet_free(&m);
}

/* A synthetic cold start: items are noisy copies of G genre directions;
** a user's preference vector is the mean of items of its two genres; its
** content holds the genre mix (a noisy copy of the preference) and two
** scalars (an age-like number and a count).  Users past n_train are held
** out: cold users, scored from content alone. */
typedef struct {
  int n_users, n_items, d, dc;
  float *user_pref, *content, *item_pref;
} Synthetic;

static void synthetic(Synthetic *s, int n_users, int n_items, uint64_t seed) {
  enum { G = 6 };
  int d = 8;
  s->n_users = n_users;
  s->n_items = n_items;
  s->d = d;
  s->dc = d + 2;
  s->user_pref = calloc((size_t)n_users * d, sizeof(float));
  s->content = calloc((size_t)n_users * s->dc, sizeof(float));
  s->item_pref = calloc((size_t)n_items * d, sizeof(float));
  Rng r;
  rng_seed(&r, seed, 5);
  float genre[G * 8];
  for (int i = 0; i < G * d; i++) genre[i] = (float)(rng_normal(&r) / sqrt(d));
  for (int i = 0; i < n_items; i++)
    for (int j = 0; j < d; j++)
      s->item_pref[i * d + j] = genre[(i % G) * d + j] + 0.15f * (float)rng_normal(&r);
  for (int u = 0; u < n_users; u++) {
    int g1 = (int)rng_below(&r, G), g2 = (int)rng_below(&r, G);
    double w = rng_uniform(&r);
    for (int j = 0; j < d; j++) {
      float p = (float)(w * genre[g1 * d + j] + (1 - w) * genre[g2 * d + j] + 0.05 * rng_normal(&r));
      s->user_pref[u * d + j] = p;
      s->content[u * s->dc + j] = p + 0.1f * (float)rng_normal(&r);
    }
    s->content[u * s->dc + d] = (float)(20 + 40 * rng_uniform(&r));
    s->content[u * s->dc + d + 1] = (float)rng_below(&r, 30);
  }
}

static void synthetic_free(Synthetic *s) {
  free(s->user_pref);
  free(s->content);
  free(s->item_pref);
}

static void small_options(DropoutNetOptions *o) {
  dropoutnet_default_options(o);
  o->hidden[0] = 32;
  o->hidden[1] = 16;
  o->output_dim = 8;
  o->content_scalars = 2;
  o->batch_users = 32;
  o->top_items = 10;
  o->top_per_user = 2;
  o->random_items = 32;
  o->learning_rate = 0.05;
  o->decay_users = 100000;
}

/* Mean over held-out users of the fraction of (positive, random item)
** pairs ranked right by the cold user vectors: positives are the user's
** 10 best items by true preference score. */
static double cold_auc(const DropoutNet *m, const Synthetic *s, int n_train) {
  int nh = s->n_users - n_train, r = m->shape.output_dim;
  float *U = malloc((size_t)nh * r * sizeof(float)), *V = malloc((size_t)s->n_items * r * sizeof(float));
  dropoutnet_user_vectors(m, NULL, s->content + (size_t)n_train * s->dc, nh, 1, U);
  dropoutnet_item_vectors(m, s->item_pref, s->n_items, 1, V);
  double *truth = malloc(s->n_items * sizeof(double)), *score = malloc(s->n_items * sizeof(double));
  double auc = 0;
  for (int u = 0; u < nh; u++) {
    const float *p = s->user_pref + (size_t)(n_train + u) * s->d;
    for (int i = 0; i < s->n_items; i++) {
      truth[i] = score[i] = 0;
      for (int j = 0; j < s->d; j++) truth[i] += (double)p[j] * s->item_pref[i * s->d + j];
      for (int j = 0; j < r; j++) score[i] += (double)U[u * r + j] * V[i * r + j];
    }
    /* The 10th best true score: positives are at or above it. */
    double thr = -1e300;
    for (int k = 0; k < 10; k++) {
      double best = -1e300;
      for (int i = 0; i < s->n_items; i++)
        if (truth[i] > best && (k == 0 || truth[i] < thr)) best = truth[i];
      thr = best;
    }
    long right = 0, pairs = 0;
    for (int i = 0; i < s->n_items; i++) {
      if (truth[i] < thr) continue;
      for (int j = 0; j < s->n_items; j++) {
        if (truth[j] >= thr) continue;
        pairs++;
        right += score[i] > score[j];
      }
    }
    auc += (double)right / pairs;
  }
  free(U);
  free(V);
  free(truth);
  free(score);
  return auc / nh;
}

static void test_training(void) {
  Synthetic s;
  synthetic(&s, 700, 240, 1);
  int n_train = 600;
  DropoutNetData data = {n_train, s.user_pref, s.content, s.n_items, s.item_pref, s.d, s.dc};
  DropoutNetOptions o;
  small_options(&o);
  o.epochs = 30;
  o.threads = 1; /* tiny batches: threads would only wait at barriers */
  Progress pr = {0};
  TrainCallbacks cb = {NULL, on_progress, &pr};
  DropoutNet a, b, c;
  TrainReport rep;
  int trc = dropoutnet_train(&data, &o, &cb, &a, &rep);
  CHECK_MSG(trc == TRAIN_OK, "train: %d", trc);
  if (trc != TRAIN_OK) return;
  CHECK_MSG(pr.epochs == 30 && rep.epochs == 30 && rep.loss == pr.last, "progress per epoch");
  CHECK_MSG(pr.last < pr.first / 3, "loss %g after, %g first epoch", pr.last, pr.first);
  CHECK_MSG(rep.train_flops > 0 && rep.prep_flops > 0, "flops counted");
  double auc = cold_auc(&a, &s, n_train);
  CHECK_MSG(auc > 0.85, "held-out cold users: positives ranked above others in %.3f of pairs", auc);
  /* Untrained (initial) model ranks no better than chance. */
  DropoutNet init;
  DropoutNetShape shape = a.shape;
  dropoutnet_init(&init, &shape, 0);
  memcpy(init.stats + (init.n_stats - (4 * 8 + 4)), a.stats + (a.n_stats - (4 * 8 + 4)), (4 * 8 + 4) * sizeof(float));
  double auc0 = cold_auc(&init, &s, n_train);
  CHECK_MSG(auc0 < 0.7 && auc > auc0 + 0.2, "untrained AUC %.3f vs trained %.3f", auc0, auc);
  dropoutnet_free(&init);

  /* Same seed: same weights, whatever the thread count; other seed: not. */
  o.epochs = 2;
  o.batch_users = 100;
  o.threads = 1;
  dropoutnet_free(&a);
  CHECK(dropoutnet_train(&data, &o, NULL, &a, NULL) == TRAIN_OK);
  for (int th = 2; th <= 3; th++) {
    o.threads = th;
    CHECK(dropoutnet_train(&data, &o, NULL, &b, NULL) == TRAIN_OK);
    CHECK_MSG(memcmp(a.params, b.params, a.n_params * sizeof(float)) == 0 &&
                  memcmp(a.stats, b.stats, a.n_stats * sizeof(float)) == 0,
              "%d threads: weights differ from one thread", th);
    dropoutnet_free(&b);
  }
  o.seed = 1;
  CHECK(dropoutnet_train(&data, &o, NULL, &c, NULL) == TRAIN_OK);
  CHECK_MSG(memcmp(a.params, c.params, a.n_params * sizeof(float)) != 0, "seed ignored");
  dropoutnet_free(&c);
  dropoutnet_free(&a);

  /* A stop request: TRAIN_STOPPED, nothing left allocated. */
  Progress stop = {0};
  stop.stop_after = 5;
  TrainCallbacks scb = {should_stop, on_progress, &stop};
  o.epochs = 50;
  o.threads = 1;
  CHECK(dropoutnet_train(&data, &o, &scb, &a, NULL) == TRAIN_STOPPED && a.params == NULL);
  CHECK_MSG(stop.polls == 5 && stop.epochs == 0, "stopped after %d polls, %d epochs", stop.polls,
            stop.epochs);
  synthetic_free(&s);
}

/* The learning rate falls by lr_decay for every decay_users users seen:
** with decay_users one batch and lr_decay 1e-30, only the first batch
** moves the weights (later steps are far below a float's resolution), so
** one epoch and two give the same weights; without decay they differ. */
static void test_learning_rate_decay(void) {
  Synthetic s;
  synthetic(&s, 200, 120, 3);
  DropoutNetData data = {200, s.user_pref, s.content, s.n_items, s.item_pref, s.d, s.dc};
  DropoutNetOptions o;
  small_options(&o);
  o.threads = 1;
  o.decay_users = o.batch_users;
  DropoutNet one, two, still;
  for (int decays = 1; decays >= 0; decays--) {
    o.lr_decay = decays ? 1e-30 : 1.0;
    o.epochs = 1;
    CHECK(dropoutnet_train(&data, &o, NULL, &one, NULL) == TRAIN_OK);
    o.epochs = 2;
    CHECK(dropoutnet_train(&data, &o, NULL, &two, NULL) == TRAIN_OK);
    int same = memcmp(one.params, two.params, one.n_params * sizeof(float)) == 0;
    CHECK_MSG(same == decays, "lr_decay %g: one and two epochs give %s weights", o.lr_decay,
              same ? "the same" : "different");
    if (decays) { /* the first batch did train: not what a rate that small from the start gives */
      DropoutNetOptions still_o = o;
      still_o.epochs = 1;
      still_o.learning_rate = o.learning_rate * o.lr_decay;
      still_o.lr_decay = 1.0;
      CHECK(dropoutnet_train(&data, &still_o, NULL, &still, NULL) == TRAIN_OK);
      /* Zero-initialised parameters move by about 1e-31 at that rate. */
      double moved = 0;
      for (size_t i = 0; i < one.n_params; i++)
        moved = fmax(moved, fabs((double)one.params[i] - still.params[i]));
      CHECK_MSG(moved > 1e-6, "the first batch trained at the decayed rate (moved %g)", moved);
      dropoutnet_free(&still);
    }
    dropoutnet_free(&one);
    dropoutnet_free(&two);
  }
  synthetic_free(&s);
}

static void test_bad_arguments(void) {
  DropoutNetOptions o;
  dropoutnet_default_options(&o);
  CHECK(o.n_hidden == 2 && o.hidden[0] == 800 && o.hidden[1] == 400 && o.output_dim == 200 &&
        o.dropout == 0.5 && o.learning_rate == 0.005 && o.momentum == 0.9 &&
        o.content_scalars == FEATURE_POSITIVE_SCALARS);
  CHECK(dropoutnet_check_options(&o, 1000, 1000) == NULL);
  CHECK(strstr(dropoutnet_check_options(&o, 1, 1000), "2 users") != NULL);
  CHECK(strstr(dropoutnet_check_options(&o, 10, 1), "2 items") != NULL);
  DropoutNetOptions b = o;
  b.dropout = 1.5;
  CHECK(strstr(dropoutnet_check_options(&b, 10, 10), "dropout") != NULL);
  b = o;
  b.dropout = NAN;
  CHECK(strstr(dropoutnet_check_options(&b, 10, 10), "dropout") != NULL);
  b = o;
  b.top_per_user = b.top_items + 1;
  CHECK(strstr(dropoutnet_check_options(&b, 10, 10), "top_per_user") != NULL);
  b = o;
  b.batch_users = 1;
  CHECK(strstr(dropoutnet_check_options(&b, 10, 10), "batch_users") != NULL);
  b = o;
  b.hidden[1] = 0;
  CHECK(strstr(dropoutnet_check_options(&b, 10, 10), "hidden") != NULL);
  b = o;
  b.momentum = 1;
  CHECK(strstr(dropoutnet_check_options(&b, 10, 10), "momentum") != NULL);
  b = o;
  b.learning_rate = -1;
  CHECK(strstr(dropoutnet_check_options(&b, 10, 10), "learning_rate") != NULL);
  b = o;
  b.threads = 65;
  CHECK(strstr(dropoutnet_check_options(&b, 10, 10), "threads") != NULL);

  float pref[3 * 4] = {0}, content[3 * 2] = {0};
  DropoutNetData one = {1, pref, content, 4, pref, 3, 2};
  DropoutNet m;
  memset(&m, 1, sizeof m);
  b = o;
  b.content_scalars = 0;
  CHECK(dropoutnet_train(&one, &b, NULL, &m, NULL) == TRAIN_BADARG && m.params == NULL);
  DropoutNetData no_content = {3, pref, NULL, 4, pref, 3, 2};
  CHECK(dropoutnet_train(&no_content, &b, NULL, &m, NULL) == TRAIN_BADARG);
  DropoutNetData ok = {3, pref, content, 4, pref, 3, 2};
  b.content_scalars = 3; /* more than the content columns */
  CHECK(dropoutnet_train(&ok, &b, NULL, &m, NULL) == TRAIN_BADARG);

  DropoutNetShape s = {3, 2, 0, 1, {0}, 4};
  CHECK(dropoutnet_init(&m, &s, 0) == TRAIN_BADARG && m.params == NULL);
  s.hidden[0] = 5;
  s.content_scalars = 3;
  CHECK(dropoutnet_init(&m, &s, 0) == TRAIN_BADARG);
  s.content_scalars = 1;
  s.n_hidden = DNET_MAX_HIDDEN + 1;
  CHECK(dropoutnet_init(&m, &s, 0) == TRAIN_BADARG);
  s.n_hidden = 1;
  CHECK(dropoutnet_init(&m, &s, 0) == TRAIN_OK);
  CHECK(dnet_trainer_new(&m, 1, 4, 1) == NULL && dnet_trainer_new(&m, 4, 1, 1) == NULL &&
        dnet_trainer_new(&m, 4, 4, -1) == NULL && dnet_trainer_new(&m, 4, 4, DNET_MAX_THREADS + 1) == NULL);
  dropoutnet_free(&m);
}

/* The project's feature layout restricted to positive interactions. */
static void test_positive_features(void) {
  int d = 2, full = feature_dim(d), kept = feature_positive_dim(d);
  CHECK(full == 59 && kept == 41 && feature_dim(128) == 2579 && feature_positive_dim(128) == 1805);
  CHECK(feature_dim(0) == 0 && feature_dim(1 << 30) == 0);
  float in[59], out[41];
  for (int i = 0; i < full; i++) in[i] = (float)i;
  feature_keep_positive(in, 1, d, out);
  /* Groups 0-6, 10-12, 16-19 (skips 7-9 and bans 13-15 out), then the
  ** counts of groups 2-6, 10-12, 16-19 and the age. */
  static const int groups[] = {0, 1, 2, 3, 4, 5, 6, 10, 11, 12, 16, 17, 18, 19};
  int bad = 0, k = 0;
  for (int g = 0; g < 14; g++)
    for (int j = 0; j < d; j++) bad += out[k++] != (float)(groups[g] * d + j);
  for (int g = 2; g < 14; g++) bad += out[k++] != (float)(40 + groups[g] - 2);
  bad += out[k++] != 58.0f;
  CHECK_MSG(bad == 0 && k == kept, "positive restriction: %d values misplaced", bad);
}

/* The scaler: statistics over nonzero rows only, population deviation,
** a constant column left unscaled, clipping at 5, zero rows untouched. */
static void test_scaler(void) {
  /* Rows of 3 (ld 4, columns 1..3 fitted): column 1 is 1, 3; column 2
  ** constant 7; column 3 is 0, 40. The third row is zero and skipped. */
  float X[4 * 4] = {9, 1, 7, 0, 9, 3, 7, 40, 9, 0, 0, 0, 9, 2, 7, 20};
  float mean[3], scale[3];
  CHECK(scaler_fit(X, 4, 4, 1, 3, mean, scale) == 0);
  CHECK_MSG(fabs(mean[0] - 2) < 1e-6 && fabs(scale[0] - sqrt(2.0 / 3)) < 1e-6 && mean[1] == 7 &&
                scale[1] == 1 && fabs(mean[2] - 20) < 1e-5 && fabs(scale[2] - sqrt(800.0 / 3)) < 1e-4,
            "fit: %g %g %g / %g %g %g", mean[0], mean[1], mean[2], scale[0], scale[1], scale[2]);
  float x[3] = {2 + 10 * scale[0], 7, 20 + 1e-7f}, z[3] = {0, 0, 0};
  scaler_apply(x, 3, mean, scale);
  scaler_apply(z, 3, mean, scale);
  CHECK_MSG(x[0] == 5.0f && x[1] == 0.0f && x[2] == 0.0f, "apply: %g %g %g", x[0], x[1], x[2]);
  CHECK(z[0] == 0 && z[1] == 0 && z[2] == 0);
  CHECK(scaler_fit(X + 8, 1, 4, 1, 3, mean, scale) == 0 && mean[0] == 0 && scale[0] == 1);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  test_gradients();
  test_inference();
  test_training();
  test_learning_rate_decay();
  test_bad_arguments();
  test_positive_features();
  test_scaler();
  return check_report();
}
