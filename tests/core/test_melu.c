/* test_melu.c - MeLU: the local update against values worked out by hand,
** finite-difference gradients of every parameter group (the query loss's
** and the support loss's), the first-order meta gradient, serving against
** a naive scorer, tensors round trip, determinism by seed and for any
** thread count, bad arguments, and a synthetic cold start that training
** must learn. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "progress.h"
#include "melu.h"
#include "rng.h"

static void fill_uniform(Rng *r, float *x, size_t n, double lo, double hi) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * rng_uniform(r));
}

/* ---- the local step by hand ---------------------------------------------- */

/* One field of width 1, no scalars, embedding width 1, one hidden unit:
**   ue = a x, ie = c v, z = wu ue + wi ie + b0, yhat = w1 relu(z) + b1.
** a = 0.5, c = 2, wu = 1, wi = 0.5, b0 = 0.1, w1 = 2, b1 = -0.3; x = 2
** (ue = 1); support: v = 1 (label 1), v = -0.25 (label 0), so ie = 2 and
** -0.5, z = 2.1 and 0.85, yhat = 3.9 and 1.4.  The support loss is the
** mean of (yhat - y)^2, so dL/dyhat = yhat - y = 2.9 and 1.4:
**   db1 = 4.3, dw1 = 2.9 * 2.1 + 1.4 * 0.85 = 7.28,
**   dz = dL/dyhat * w1 = 5.8 and 2.8 (both units active): db0 = 8.6,
**   dwu = 8.6 * ue = 8.6, dwi = 5.8 * 2 + 2.8 * -0.5 = 10.2.
** With local_lr 0.01: wu' = 0.914, wi' = 0.398, b0' = 0.014,
** w1' = 1.9272, b1' = -0.343.  A second step from there (the same
** arithmetic at the new weights) gives 0.8553857229, 0.3319351754,
** -0.0446142771, 1.8853320832, -0.3734142160. */
static void test_local_step_by_hand(void) {
  MeluShape s = {1, 1, 1, 0, 1, 1, {1}};
  Melu m;
  CHECK(melu_init(&m, &s, 0) == TRAIN_OK);
  m.E_field[0][0] = 0.5f;
  m.E_item[0] = 2.0f;
  m.W[0][0] = 1.0f;
  m.W[0][1] = 0.5f;
  m.b[0][0] = 0.1f;
  m.W[1][0] = 2.0f;
  m.b[1][0] = -0.3f;
  CHECK(m.n_params - m.decision == 5 && m.W[0] == m.params + m.decision);
  float x = 2.0f, sup[2] = {1.0f, -0.25f}, lab[2] = {1.0f, 0.0f}, fast[5];
  CHECK(melu_local_update(&m, &x, sup, lab, 2, 0.01, 1, fast) == TRAIN_OK);
  /* Layout: W0 (wu, wi), b0, W1, b1. */
  const double one[5] = {0.914, 0.398, 0.014, 1.9272, -0.343};
  const double two[5] = {0.8553857229, 0.3319351754, -0.0446142771, 1.8853320832, -0.3734142160};
  double worst = 0;
  for (int i = 0; i < 5; i++) worst = fmax(worst, fabs(fast[i] - one[i]));
  CHECK_MSG(worst < 1e-6, "one local step off by %g", worst);
  CHECK(melu_local_update(&m, &x, sup, lab, 2, 0.01, 2, fast) == TRAIN_OK);
  worst = 0;
  for (int i = 0; i < 5; i++) worst = fmax(worst, fabs(fast[i] - two[i]));
  CHECK_MSG(worst < 1e-6, "two local steps off by %g", worst);
  /* No support: the global weights. */
  CHECK(melu_local_update(&m, &x, sup, lab, 0, 0.01, 1, fast) == TRAIN_OK);
  CHECK(memcmp(fast, m.params + m.decision, sizeof fast) == 0);
  CHECK(melu_local_update(&m, &x, sup, lab, -1, 0.01, 1, fast) == TRAIN_BADARG);
  melu_free(&m);
}

/* ---- a naive double MeLU ---------------------------------------------------- */

/* Predictions of the decision layers dec (params' decision layout, or
** NULL: the model's) for one user row x and P item vectors. */
static void naive_predict(const Melu *m, const float *dec, const float *x, const float *V, int P,
                          double *yhat) {
  const MeluShape *s = &m->shape;
  int e = s->embed_dim, nf = s->n_fields, fd = s->field_dim, ns = s->n_scalars;
  int due = (nf + (ns > 0)) * e, in0 = due + e;
  const float *base = m->params + m->decision;
  if (dec == NULL) dec = base;
  double *in = calloc((size_t)in0, sizeof(double)), *h = calloc(256, sizeof(double)),
         *h2 = calloc(256, sizeof(double));
  for (int f = 0; f < nf; f++)
    for (int j = 0; j < e; j++)
      for (int k = 0; k < fd; k++) in[f * e + j] += (double)m->E_field[f][j * fd + k] * x[f * fd + k];
  for (int j = 0; j < e && ns; j++)
    for (int k = 0; k < ns; k++) {
      double z = (x[nf * fd + k] - m->scalar_mean[k]) / m->scalar_scale[k];
      z = fmax(-5, fmin(5, z));
      in[nf * e + j] += (double)m->E_scalar[j * ns + k] * z;
    }
  for (int p = 0; p < P; p++) {
    for (int j = 0; j < e; j++) {
      in[due + j] = 0;
      for (int k = 0; k < s->item_dim; k++) in[due + j] += (double)m->E_item[j * s->item_dim + k] * V[p * s->item_dim + k];
    }
    const double *cur = in;
    int din = in0;
    for (int l = 0; l <= s->n_hidden; l++) {
      int dn = l < s->n_hidden ? s->hidden[l] : 1;
      const float *W = dec + (m->W[l] - base), *b = dec + (m->b[l] - base);
      double *out = l % 2 ? h2 : h;
      for (int o = 0; o < dn; o++) {
        double z = b[o];
        for (int k = 0; k < din; k++) z += (double)W[o * din + k] * cur[k];
        out[o] = l < s->n_hidden ? fmax(z, 0) : z;
      }
      cur = out;
      din = dn;
    }
    yhat[p] = cur[0];
  }
  free(in);
  free(h);
  free(h2);
}

/* Mean over users of the mean squared error of their query sets at the
** given decision weights (NULL: the model's). */
static double naive_query_loss(const Melu *m, const MeluBatch *b, const float *dec) {
  int in = m->shape.n_fields * m->shape.field_dim + m->shape.n_scalars;
  double total = 0, yhat[64];
  for (int u = 0; u < b->n; u++) {
    int Q = (int)(b->q_off[u + 1] - b->q_off[u]);
    naive_predict(m, dec, b->features + (size_t)u * in, b->q_vec + b->q_off[u] * m->shape.item_dim, Q, yhat);
    double sse = 0;
    for (int q = 0; q < Q; q++) sse += (yhat[q] - b->q_lab[b->q_off[u] + q]) * (yhat[q] - b->q_lab[b->q_off[u] + q]);
    total += sse / Q;
  }
  return total / b->n;
}

/* A model with 3 fields of 4, 2 scalars, item vectors of 5, embeddings of
** 3, hidden 6 and 4; non-trivial scalar standardisation. */
static void small_melu(Melu *m, uint64_t seed) {
  MeluShape s = {5, 3, 4, 2, 3, 2, {6, 4}};
  CHECK(melu_init(m, &s, seed) == TRAIN_OK);
  Rng r;
  rng_seed(&r, seed, 8);
  fill_uniform(&r, m->params, m->n_params, -0.7, 0.7);
  m->scalar_mean[0] = 30;
  m->scalar_scale[0] = 10;
  m->scalar_mean[1] = 1;
  m->scalar_scale[1] = 2;
}

enum { NU = 3, IN = 3 * 4 + 2 };

typedef struct {
  float X[NU * IN];
  int64_t s_off[NU + 1], q_off[NU + 1];
  float s_vec[12 * 5], s_lab[12], q_vec[15 * 5], q_lab[15];
  MeluBatch b;
} SmallBatch;

/* Three users: supports of 4, 0 and 5 items, queries of 6, 5 and 4; user
** 1's second field is absent (zero). */
static void small_batch(SmallBatch *sb, uint64_t seed) {
  Rng r;
  rng_seed(&r, seed, 9);
  fill_uniform(&r, sb->X, NU * IN, -1, 1);
  for (int u = 0; u < NU; u++) sb->X[u * IN + 12] = (float)(15 + 40 * rng_uniform(&r));
  memset(sb->X + IN + 4, 0, 4 * sizeof(float));
  int64_t s[] = {0, 4, 4, 9}, q[] = {0, 6, 11, 15};
  memcpy(sb->s_off, s, sizeof s);
  memcpy(sb->q_off, q, sizeof q);
  fill_uniform(&r, sb->s_vec, 9 * 5, -1, 1);
  fill_uniform(&r, sb->q_vec, 15 * 5, -1, 1);
  for (int i = 0; i < 9; i++) sb->s_lab[i] = (float)(i % 3 == 0);
  for (int i = 0; i < 15; i++) sb->q_lab[i] = (float)(i % 2);
  sb->b = (MeluBatch){NU, sb->X, sb->s_off, sb->s_vec, sb->s_lab, sb->q_off, sb->q_vec, sb->q_lab};
}

/* Central differences of f over every trainable tensor of m whose name
** passes keep(); checks each group's worst relative error. */
typedef double (*LossFn)(const Melu *m, const void *ctx);

static void check_groups(Melu *m, const float *grad, LossFn f, const void *ctx, int decision_only,
                         const char *what) {
  ParamTensor t[128];
  int nt = melu_tensors(m, t), groups = 0;
  for (int k = 0; k < nt; k++) {
    if (t[k].data < m->params || t[k].data >= m->params + m->n_params) continue; /* statistics */
    if (decision_only && t[k].data < m->params + m->decision) continue;
    groups++;
    int len = t[k].rows * t[k].cols;
    double worst = 0, gmax = 0;
    for (int i = 0; i < len; i++) gmax = fmax(gmax, fabs(grad[t[k].data + i - m->params]));
    for (int i = 0; i < len; i++) {
      float *p = t[k].data + i, keep = *p;
      *p = keep + 3e-4f;
      double hp = (double)*p - keep, lp = f(m, ctx);
      *p = keep - 3e-4f;
      double hm = (double)keep - *p, lm = f(m, ctx);
      *p = keep;
      double fd = (lp - lm) / (hp + hm), an = grad[p - m->params];
      worst = fmax(worst, fabs(fd - an) / (1e-4 * gmax + fmax(fabs(fd), fabs(an)) + 1e-12));
    }
    CHECK_MSG(gmax > 1e-5 && worst < 1e-4, "%s %s: gradient relative error %g (max |g| %g)", what,
              t[k].name, worst, gmax);
  }
  CHECK_MSG(groups == (decision_only ? 6 : 3 + 1 + 1 + 6), "%s: %d groups checked", what, groups);
}

static double query_loss_fn(const Melu *m, const void *ctx) {
  return naive_query_loss(m, ctx, NULL);
}

/* The support loss of user 0 of the batch (its local update's objective). */
static double support_loss_fn(const Melu *m, const void *ctx) {
  const MeluBatch *b = ctx;
  double yhat[16], sse = 0;
  int S = (int)b->s_off[1];
  naive_predict(m, NULL, b->features, b->s_vec, S, yhat);
  for (int i = 0; i < S; i++) sse += (yhat[i] - b->s_lab[i]) * (yhat[i] - b->s_lab[i]);
  return sse / S;
}

static void test_gradients(void) {
  Melu m;
  small_melu(&m, 4);
  SmallBatch sb;
  small_batch(&sb, 4);
  float *grad = malloc(m.n_params * sizeof(float));
  /* Without a local step the meta gradient is the query loss's gradient. */
  double loss = melu_meta_grad(&m, &sb.b, 0.0, 1, 1, grad);
  double want = naive_query_loss(&m, &sb.b, NULL);
  CHECK_MSG(fabs(loss - want) < 1e-6 * want, "query loss %.9g, naive %.9g", loss, want);
  check_groups(&m, grad, query_loss_fn, &sb.b, 0, "query");

  /* The local update is one step down the support loss's gradient:
  ** (global - local) / lr, checked by finite differences. */
  size_t nd = m.n_params - m.decision;
  float *fast = malloc(nd * sizeof(float)), *g = calloc(m.n_params, sizeof(float));
  double lr = 1.0; /* one step: any rate, and 1 loses no digits */
  CHECK(melu_local_update(&m, sb.X, sb.s_vec, sb.s_lab, 4, lr, 1, fast) == TRAIN_OK);
  for (size_t i = 0; i < nd; i++)
    g[m.decision + i] = (float)(((double)m.params[m.decision + i] - fast[i]) / lr);
  check_groups(&m, g, support_loss_fn, &sb.b, 1, "support");

  /* First order: with a local step, the meta gradient of a one-user batch
  ** is the query gradient of a model holding that user's local weights. */
  MeluBatch one = sb.b;
  one.n = 1;
  lr = 0.05;
  CHECK(melu_local_update(&m, sb.X, sb.s_vec, sb.s_lab, 4, lr, 2, fast) == TRAIN_OK);
  double l1 = melu_meta_grad(&m, &one, lr, 2, 1, grad);
  Melu local;
  small_melu(&local, 4);
  memcpy(local.params + local.decision, fast, nd * sizeof(float));
  double l0 = melu_meta_grad(&local, &one, 0.0, 1, 1, g);
  double md = 0;
  for (size_t i = 0; i < m.n_params; i++) md = fmax(md, fabs(grad[i] - g[i]));
  CHECK_MSG(fabs(l1 - l0) < 1e-7 && md < 1e-6, "first-order meta gradient: loss %g vs %g, grad diff %g", l1,
            l0, md);
  CHECK_MSG(fabs(l1 - naive_query_loss(&m, &one, fast)) < 1e-6, "query loss at local weights");

  /* The same gradient for any thread count. */
  melu_meta_grad(&m, &sb.b, lr, 1, 1, grad);
  for (int th = 2; th <= 4; th++) {
    melu_meta_grad(&m, &sb.b, lr, 1, th, g);
    CHECK_MSG(memcmp(grad, g, m.n_params * sizeof(float)) == 0, "%d threads: gradient differs", th);
  }
  MeluBatch bad = sb.b;
  int64_t off[NU + 1] = {0, 4, 3, 9};
  bad.s_off = off;
  CHECK(isnan(melu_meta_grad(&m, &bad, lr, 1, 1, g)));
  melu_free(&local);
  free(fast);
  free(g);
  free(grad);
  melu_free(&m);
}

/* ---- training and serving ---------------------------------------------- */

/* A synthetic cold start: items are noisy copies of G genre directions; a
** user's preference is a mix of two genres; its features hold two fields
** (a noisy copy of its preference, and a country-like genre hint) and two
** scalars; its support set is 3 of its 10 best items (positives) and one
** item of a genre it avoids (label 0). */
typedef struct {
  int n_users, n_items, d;
  float *pref, *features, *items;
  int64_t *s_off;
  int32_t *s_idx;
  float *s_lab;
} Synth;

static void synth(Synth *s, int n_users, int n_items, uint64_t seed) {
  enum { G = 5, D = 6 };
  s->n_users = n_users;
  s->n_items = n_items;
  s->d = D;
  int in = 2 * D + 2;
  s->pref = malloc((size_t)n_users * D * sizeof(float));
  s->features = malloc((size_t)n_users * in * sizeof(float));
  s->items = malloc((size_t)n_items * D * sizeof(float));
  s->s_off = malloc(((size_t)n_users + 1) * sizeof(int64_t));
  s->s_idx = malloc((size_t)n_users * 4 * sizeof(int32_t));
  s->s_lab = malloc((size_t)n_users * 4 * sizeof(float));
  Rng r;
  rng_seed(&r, seed, 6);
  float genre[G * D];
  for (int i = 0; i < G * D; i++) genre[i] = (float)(rng_normal(&r) / sqrt(D));
  for (int i = 0; i < n_items; i++)
    for (int j = 0; j < D; j++) s->items[i * D + j] = genre[(i % G) * D + j] + 0.15f * (float)rng_normal(&r);
  s->s_off[0] = 0;
  double *score = malloc(n_items * sizeof(double));
  for (int u = 0; u < n_users; u++) {
    int g1 = (int)rng_below(&r, G), g2 = (int)rng_below(&r, G);
    double w = rng_uniform(&r);
    float *x = s->features + (size_t)u * in;
    for (int j = 0; j < D; j++) {
      float p = (float)(w * genre[g1 * D + j] + (1 - w) * genre[g2 * D + j]);
      s->pref[u * D + j] = p;
      x[j] = p + 0.2f * (float)rng_normal(&r);
      x[D + j] = genre[g1 * D + j];
    }
    x[2 * D] = (float)(20 + 30 * rng_uniform(&r));
    x[2 * D + 1] = (float)rng_below(&r, 10);
    /* Support: 3 of the 10 best items, and the worst item. */
    for (int i = 0; i < n_items; i++) {
      score[i] = 0;
      for (int j = 0; j < D; j++) score[i] += (double)s->pref[u * D + j] * s->items[i * D + j];
    }
    int best[10], worst = 0;
    for (int k = 0; k < 10; k++) {
      best[k] = -1;
      for (int i = 0; i < n_items; i++) {
        int taken = 0;
        for (int q = 0; q < k; q++) taken |= best[q] == i;
        if (!taken && (best[k] < 0 || score[i] > score[best[k]])) best[k] = i;
      }
    }
    for (int i = 0; i < n_items; i++) worst = score[i] < score[worst] ? i : worst;
    int64_t o = s->s_off[u];
    for (int k = 0; k < 3; k++) {
      s->s_idx[o + k] = best[rng_below(&r, 10)];
      s->s_lab[o + k] = 1;
    }
    s->s_idx[o + 3] = worst;
    s->s_lab[o + 3] = 0;
    s->s_off[u + 1] = o + 4;
  }
  free(score);
}

static void synth_free(Synth *s) {
  free(s->pref);
  free(s->features);
  free(s->items);
  free(s->s_off);
  free(s->s_idx);
  free(s->s_lab);
}

static MeluUsers synth_users(const Synth *s, int u0, int n) {
  MeluUsers us = {n, s->features + (size_t)u0 * (2 * s->d + 2), s->pref + (size_t)u0 * s->d,
                  {s->s_off + u0, s->s_idx, s->s_lab, s->items, s->n_items}, NULL};
  return us;
}

/* Mean over the users of the fraction of (top-10 item, other item) pairs
** that the served scores order right. */
static double served_auc(const Melu *m, const Synth *s, const MeluCatalog *cat, const MeluOptions *o,
                         int u0, int n) {
  MeluUsers us = synth_users(s, u0, n);
  int k = s->n_items;
  int32_t *idx = malloc((size_t)n * k * sizeof(int32_t));
  float *sc = malloc((size_t)n * k * sizeof(float));
  CHECK(melu_recommend(m, &us, cat, o, k, idx, sc, NULL) == TRAIN_OK);
  double auc = 0, *truth = malloc(k * sizeof(double));
  int *rank = malloc(k * sizeof(int));
  for (int u = 0; u < n; u++) {
    for (int r = 0; r < k; r++) rank[idx[(size_t)u * k + r]] = r;
    for (int i = 0; i < k; i++) {
      truth[i] = 0;
      for (int j = 0; j < s->d; j++) truth[i] += (double)s->pref[(u0 + u) * s->d + j] * s->items[i * s->d + j];
    }
    double thr = -1e300;
    for (int t = 0; t < 10; t++) {
      double best = -1e300;
      for (int i = 0; i < k; i++)
        if (truth[i] > best && (t == 0 || truth[i] < thr)) best = truth[i];
      thr = best;
    }
    long right = 0, pairs = 0;
    for (int i = 0; i < k; i++) {
      if (truth[i] < thr) continue;
      for (int j = 0; j < k; j++) {
        if (truth[j] >= thr) continue;
        pairs++;
        right += rank[i] < rank[j];
      }
    }
    auc += (double)right / pairs;
  }
  free(idx);
  free(sc);
  free(truth);
  free(rank);
  return auc / n;
}

static void small_options(MeluOptions *o) {
  melu_default_options(o);
  o->embed_dim = 8;
  o->hidden[0] = 16;
  o->hidden[1] = 16;
  o->global_lr = 5e-3;
  o->local_lr = 1e-2;
  o->top_items = 10;
  o->query_positives = 5;
  o->query_negatives = 5;
  o->threads = 1;
}

static void test_training(void) {
  Synth s;
  synth(&s, 500, 150, 2);
  int n_train = 400;
  MeluUsers us = synth_users(&s, 0, n_train);
  MeluCatalog cat = {2, s.d, 2, s.d, s.n_items, s.items, NULL};
  MeluOptions o;
  small_options(&o);
  o.epochs = 25;
  Progress pr = {0};
  TrainCallbacks cb = {NULL, on_progress, &pr};
  Melu a, b;
  TrainReport rep;
  int rc = melu_train(&us, &cat, &o, &cb, &a, &rep);
  CHECK_MSG(rc == TRAIN_OK, "train: %d", rc);
  if (rc != TRAIN_OK) return;
  CHECK_MSG(pr.epochs == 25 && rep.epochs == 25 && rep.loss == pr.last && rep.train_flops > 0,
            "progress per epoch");
  CHECK_MSG(pr.last < pr.first * 0.7, "query loss %g after, %g first epoch", pr.last, pr.first);
  double auc = served_auc(&a, &s, &cat, &o, n_train, s.n_users - n_train);
  Melu init;
  CHECK(melu_init(&init, &a.shape, 0) == TRAIN_OK);
  memcpy(init.stats, a.stats, 2 * 2 * sizeof(float));
  double auc0 = served_auc(&init, &s, &cat, &o, n_train, s.n_users - n_train);
  CHECK_MSG(auc > 0.85 && auc > auc0 + 0.2, "held-out cold users: AUC %.3f trained, %.3f untrained", auc, auc0);
  melu_free(&init);

  /* Serving: scores are the naive predictions at the local weights, the
  ** user vector is W0u ue + b0 there, threads change nothing. */
  MeluUsers cold = synth_users(&s, n_train, 7);
  uint64_t keys[7] = {11, 12, 13, 14, 15, 16, 17};
  cold.keys = keys;
  int k = 20, h0 = o.hidden[0];
  int32_t idx1[7 * 20], idx3[7 * 20];
  float sc1[7 * 20], sc3[7 * 20], v1[7 * 16], v3[7 * 16];
  o.support_negatives = 0; /* support sets exactly as given: naive check */
  CHECK(melu_recommend(&a, &cold, &cat, &o, k, idx1, sc1, v1) == TRAIN_OK);
  size_t nd = a.n_params - a.decision;
  float *fast = malloc(nd * sizeof(float)), sv[4 * 6];
  double yhat[150], md = 0, mv = 0;
  int in = 2 * s.d + 2;
  for (int u = 0; u < 7; u++) {
    int64_t o0 = s.s_off[n_train + u];
    float lab[4];
    for (int j = 0; j < 4; j++) {
      memcpy(sv + j * 6, s.items + (size_t)s.s_idx[o0 + j] * 6, 6 * sizeof(float));
      lab[j] = s.s_lab[o0 + j];
    }
    const float *x = s.features + (size_t)(n_train + u) * in;
    melu_local_update(&a, x, sv, lab, 4, o.local_lr, o.local_steps, fast);
    naive_predict(&a, fast, x, s.items, s.n_items, yhat);
    for (int r = 0; r < k; r++) {
      md = fmax(md, fabs(sc1[u * k + r] - yhat[idx1[u * k + r]]));
      if (r > 0) md = fmax(md, sc1[u * k + r] - sc1[u * k + r - 1]); /* best first */
    }
    int better = 0; /* no unlisted item scores above the 20th */
    for (int i = 0; i < s.n_items; i++) better += yhat[i] > sc1[u * k + k - 1] + 1e-5;
    md = fmax(md, better > k ? 1 : 0);
    /* The user vector: W0u ue + b0 at the local weights, i.e. the first
    ** layer's pre-activation for a zero item embedding. */
    const float *W0 = fast, *b0 = fast + h0 * (3 * 8 + 8);
    for (int j = 0; j < h0; j++) {
      double z = b0[j];
      double ue[24] = {0};
      for (int f = 0; f < 2; f++)
        for (int t = 0; t < 8; t++)
          for (int q = 0; q < 6; q++) ue[f * 8 + t] += (double)a.E_field[f][t * 6 + q] * x[f * 6 + q];
      for (int t = 0; t < 8; t++)
        for (int q = 0; q < 2; q++)
          ue[16 + t] += (double)a.E_scalar[t * 2 + q] *
                        fmax(-5, fmin(5, (x[12 + q] - a.scalar_mean[q]) / a.scalar_scale[q]));
      for (int t = 0; t < 24; t++) z += (double)W0[j * 32 + t] * ue[t];
      mv = fmax(mv, fabs(v1[u * h0 + j] - z));
    }
  }
  CHECK_MSG(md < 1e-4 && mv < 1e-4, "served scores off by %g, user vectors by %g", md, mv);
  o.threads = 3;
  CHECK(melu_recommend(&a, &cold, &cat, &o, k, idx3, sc3, v3) == TRAIN_OK);
  CHECK(memcmp(idx1, idx3, sizeof idx1) == 0 && memcmp(sc1, sc3, sizeof sc1) == 0 &&
        memcmp(v1, v3, sizeof v1) == 0);
  /* Item embeddings kept by the caller, and vectors alone (k = 0): the same. */
  float *ie = malloc((size_t)cat.n_items * a.shape.embed_dim * sizeof(float));
  CHECK(melu_item_embeddings(&a, &cat, ie) == TRAIN_OK);
  MeluCatalog kept = cat;
  kept.item_embeddings = ie;
  CHECK(melu_recommend(&a, &cold, &kept, &o, k, idx3, sc3, v3) == TRAIN_OK);
  CHECK(memcmp(idx1, idx3, sizeof idx1) == 0 && memcmp(sc1, sc3, sizeof sc1) == 0 &&
        memcmp(v1, v3, sizeof v1) == 0);
  memset(v3, 0, sizeof v3);
  CHECK(melu_recommend(&a, &cold, &cat, &o, 0, NULL, NULL, v3) == TRAIN_OK);
  CHECK(memcmp(v1, v3, sizeof v1) == 0);
  free(ie);
  /* Sampled negatives follow the keys, not the position in the batch. */
  o.support_negatives = 2;
  o.threads = 1;
  CHECK(melu_recommend(&a, &cold, &cat, &o, k, idx1, sc1, NULL) == TRAIN_OK);
  MeluUsers last = synth_users(&s, n_train + 6, 1);
  last.keys = keys + 6;
  int32_t idx_one[20];
  float sc_one[20];
  CHECK(melu_recommend(&a, &last, &cat, &o, k, idx_one, sc_one, NULL) == TRAIN_OK);
  CHECK(memcmp(idx_one, idx1 + 6 * k, sizeof idx_one) == 0 && memcmp(sc_one, sc1 + 6 * k, sizeof sc_one) == 0);
  keys[6] = 99;
  CHECK(melu_recommend(&a, &last, &cat, &o, k, idx_one, sc_one, NULL) == TRAIN_OK);
  CHECK_MSG(memcmp(sc_one, sc1 + 6 * k, sizeof sc_one) != 0, "another key, the same negatives");
  free(fast);

  /* Tensors round trip. */
  ParamTensor t[128];
  int nt = melu_tensors(&a, t);
  CHECK_MSG(nt == 2 + 1 + 1 + 6 + 2 && nt <= melu_max_tensors(), "%d tensors", nt);
  /* The count a stored model is checked against: every float of the tensors. */
  size_t floats = 0;
  for (int i = 0; i < nt; i++) floats += (size_t)t[i].rows * t[i].cols;
  CHECK_MSG(melu_count_floats(&a.shape) == floats, "count %zu, tensors %zu",
            melu_count_floats(&a.shape), floats);
  MeluShape bad_shape = a.shape;
  bad_shape.embed_dim = 0;
  CHECK(melu_count_floats(&bad_shape) == 0);
  const char *bad = "unset";
  CHECK(melu_load(&b, &a.shape, t, nt, &bad) == TRAIN_OK && bad == NULL);
  CHECK(memcmp(a.params, b.params, a.n_params * sizeof(float)) == 0 &&
        memcmp(a.stats, b.stats, 4 * sizeof(float)) == 0);
  melu_free(&b);
  CHECK(melu_load(&b, &a.shape, t, nt - 1, &bad) == TRAIN_BADARG && strcmp(bad, "scalars.scale") == 0 &&
        b.params == NULL);
  float keep = a.scalar_scale[1];
  a.scalar_scale[1] = -1;
  CHECK(melu_load(&b, &a.shape, t, nt, &bad) == TRAIN_BADARG && strcmp(bad, "scalars.scale") == 0);
  a.scalar_scale[1] = keep;
  keep = a.W[1][3];
  a.W[1][3] = INFINITY;
  CHECK(melu_load(&b, &a.shape, t, nt, &bad) == TRAIN_BADARG && strcmp(bad, "fc.1.weight") == 0);
  a.W[1][3] = keep;
  MeluShape other = a.shape;
  other.embed_dim = 7;
  rc = melu_load(&b, &other, t, nt, &bad);
  CHECK_MSG(rc == TRAIN_BADARG && bad && strcmp(bad, "field.0") == 0, "other shape: %d %s", rc, bad ? bad : "-");

  /* Determinism: the same seed gives the same weights for any thread
  ** count; another seed does not. */
  o = (MeluOptions){0};
  small_options(&o);
  o.epochs = 2;
  melu_free(&a);
  CHECK(melu_train(&us, &cat, &o, NULL, &a, NULL) == TRAIN_OK);
  for (int th = 2; th <= 3; th++) {
    o.threads = th;
    CHECK(melu_train(&us, &cat, &o, NULL, &b, NULL) == TRAIN_OK);
    CHECK_MSG(memcmp(a.params, b.params, a.n_params * sizeof(float)) == 0, "%d threads: weights differ", th);
    melu_free(&b);
  }
  o.seed = 5;
  CHECK(melu_train(&us, &cat, &o, NULL, &b, NULL) == TRAIN_OK);
  CHECK_MSG(memcmp(a.params, b.params, a.n_params * sizeof(float)) != 0, "seed ignored");
  melu_free(&b);
  melu_free(&a);

  /* A stop request. */
  Progress stop = {0};
  stop.stop_after = 4;
  TrainCallbacks scb = {should_stop, on_progress, &stop};
  o.threads = 1;
  CHECK(melu_train(&us, &cat, &o, &scb, &a, NULL) == TRAIN_STOPPED && a.params == NULL);
  CHECK(stop.polls == 4 && stop.epochs == 0);
  synth_free(&s);
}

static void test_bad_arguments(void) {
  MeluOptions o;
  melu_default_options(&o);
  CHECK(o.embed_dim == 32 && o.n_hidden == 2 && o.hidden[0] == 64 && o.hidden[1] == 64 &&
        o.local_lr == 5e-6 && o.global_lr == 5e-5 && o.batch_users == 32 && o.local_steps == 1);
  CHECK(melu_check_options(&o, 100, 100) == NULL);
  CHECK(strstr(melu_check_options(&o, 0, 100), "1 user") != NULL);
  CHECK(strstr(melu_check_options(&o, 10, 0), "empty") != NULL);
  MeluOptions b = o;
  b.query_positives = b.top_items + 1;
  CHECK(strstr(melu_check_options(&b, 10, 10), "query_positives") != NULL);
  b = o;
  b.query_positives = b.query_negatives = 0;
  CHECK(strstr(melu_check_options(&b, 10, 10), "at least 1") != NULL);
  b = o;
  b.local_lr = NAN;
  CHECK(strstr(melu_check_options(&b, 10, 10), "local_lr") != NULL);
  b = o;
  b.global_lr = 0;
  CHECK(strstr(melu_check_options(&b, 10, 10), "global_lr") != NULL);
  b = o;
  b.support_negatives = -1;
  CHECK(strstr(melu_check_options(&b, 10, 10), "support_negatives") != NULL);
  b = o;
  b.hidden[1] = -3;
  CHECK(strstr(melu_check_options(&b, 10, 10), "hidden") != NULL);

  MeluShape s = {4, 2, 4, 1, 3, 1, {5}};
  Melu m;
  MeluShape z = s;
  z.embed_dim = 0;
  CHECK(melu_init(&m, &z, 0) == TRAIN_BADARG && m.params == NULL);
  z = s;
  z.n_fields = MELU_MAX_FIELDS + 1;
  CHECK(melu_init(&m, &z, 0) == TRAIN_BADARG);
  z = s;
  z.n_fields = 0;
  z.n_scalars = 0;
  CHECK(melu_init(&m, &z, 0) == TRAIN_BADARG);

  /* A support entry outside the vectors: refused, nothing allocated. */
  float feat[2 * 9] = {0}, pref[2 * 4] = {0}, items[3 * 4] = {0};
  int64_t off[3] = {0, 1, 2};
  int32_t idx[2] = {0, 3};
  float lab[2] = {1, 1};
  MeluUsers us = {2, feat, pref, {off, idx, lab, items, 3}, NULL};
  MeluCatalog cat = {2, 4, 1, 4, 3, items, NULL};
  memset(&m, 1, sizeof m);
  CHECK(melu_train(&us, &cat, &o, NULL, &m, NULL) == TRAIN_BADARG && m.params == NULL);
  idx[1] = 2;
  us.user_pref = NULL;
  CHECK(melu_train(&us, &cat, &o, NULL, &m, NULL) == TRAIN_BADARG);
  /* Serving with a catalog of another shape, or a negative k. */
  CHECK(melu_init(&m, &s, 0) == TRAIN_OK);
  int32_t out[6];
  MeluCatalog wrong = cat;
  wrong.field_dim = 3;
  CHECK(melu_recommend(&m, &us, &wrong, &o, 2, out, NULL, NULL) == TRAIN_BADARG);
  CHECK(melu_recommend(&m, &us, &cat, &o, -1, out, NULL, NULL) == TRAIN_BADARG);
  CHECK(melu_recommend(&m, &us, &cat, &o, 2, NULL, NULL, NULL) == TRAIN_BADARG);
  CHECK(melu_recommend(&m, &us, &cat, &o, 2, out, NULL, NULL) == TRAIN_OK);
  melu_free(&m);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  test_local_step_by_hand();
  test_gradients();
  test_training();
  test_bad_arguments();
  return check_report();
}
