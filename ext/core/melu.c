/* melu.c - MeLU for user cold start (see melu.h). */
#include "melu.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-trapping-math")
#endif

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "team.h"
#include "rng.h"
#include "scaler.h"
#include "tiles.h"
#include "topk.h"

#define MAX_WIDTH (1 << 16)
#define MAX_SET 65536      /* query items per user; support entries per user */
#define SCORE_BLOCK 2048   /* tracks scored per sgemm when serving */
#define PARAM_ALIGN 64

/* ---- model ------------------------------------------------------------- */

static int shape_ok(const MeluShape *s) {
  if (s->item_dim < 1 || s->item_dim > MAX_WIDTH || s->n_fields < 0 ||
      s->n_fields > MELU_MAX_FIELDS || s->field_dim < 0 || s->field_dim > MAX_WIDTH ||
      (s->n_fields > 0 && s->field_dim < 1) || s->n_scalars < 0 || s->n_scalars > MAX_WIDTH ||
      s->n_fields + s->n_scalars < 1 || s->embed_dim < 1 || s->embed_dim > 4096 ||
      s->n_hidden < 1 || s->n_hidden > MELU_MAX_HIDDEN)
    return 0;
  for (int l = 0; l < s->n_hidden; l++)
    if (s->hidden[l] < 1 || s->hidden[l] > MAX_WIDTH) return 0;
  return 1;
}

/* Static, so that a name reported by melu_load outlives the model. */
static const char *const field_names[MELU_MAX_FIELDS] = {
    "field.0", "field.1", "field.2", "field.3", "field.4", "field.5", "field.6", "field.7",
    "field.8", "field.9", "field.10", "field.11", "field.12", "field.13", "field.14",
    "field.15", "field.16", "field.17", "field.18", "field.19", "field.20", "field.21",
    "field.22", "field.23", "field.24", "field.25", "field.26", "field.27", "field.28",
    "field.29", "field.30", "field.31", "field.32", "field.33", "field.34", "field.35",
    "field.36", "field.37", "field.38", "field.39", "field.40", "field.41", "field.42",
    "field.43", "field.44", "field.45", "field.46", "field.47", "field.48", "field.49",
    "field.50", "field.51", "field.52", "field.53", "field.54", "field.55", "field.56",
    "field.57", "field.58", "field.59", "field.60", "field.61", "field.62", "field.63"};

static int input_dim(const MeluShape *s) { return s->n_fields * s->field_dim + s->n_scalars; }

/* Width of the user embedding: one embed_dim block per field and one for
** the scalars. */
static int user_embed_dim(const MeluShape *s) {
  return (s->n_fields + (s->n_scalars > 0)) * s->embed_dim;
}

/* dims[0] the decision input, dims[1..L] hidden, dims[L + 1] = 1. */
static void decision_dims(const MeluShape *s, int *dims) {
  dims[0] = user_embed_dim(s) + s->embed_dim;
  for (int l = 0; l < s->n_hidden; l++) dims[l + 1] = s->hidden[l];
  dims[s->n_hidden + 1] = 1;
}

static size_t n_decision(const Melu *m) { return m->n_params - m->decision; }

/* Embedding floats (*np) and decision-layer floats (*dec) of shape s. */
static void model_counts(const MeluShape *s, size_t *np, size_t *dec) {
  int dims[MELU_MAX_HIDDEN + 2];
  decision_dims(s, dims);
  *np = (size_t)s->embed_dim * ((size_t)s->n_fields * s->field_dim + s->n_scalars + s->item_dim);
  *dec = 0;
  for (int l = 0; l <= s->n_hidden; l++) *dec += ((size_t)dims[l] + 1) * dims[l + 1];
}

size_t melu_count_floats(const MeluShape *s) {
  if (!shape_ok(s)) return 0;
  size_t np, dec;
  model_counts(s, &np, &dec);
  return np + dec + 2 * (size_t)s->n_scalars;
}

int melu_init(Melu *m, const MeluShape *s, uint64_t seed) {
  memset(m, 0, sizeof *m);
  if (!shape_ok(s)) return TRAIN_BADARG;
  int e = s->embed_dim, dims[MELU_MAX_HIDDEN + 2];
  decision_dims(s, dims);
  size_t np, dec;
  model_counts(s, &np, &dec);
  m->params = malloc((np + dec) * sizeof(float));
  m->stats = malloc((2 * (size_t)s->n_scalars + 1) * sizeof(float));
  if (m->params == NULL || m->stats == NULL) {
    melu_free(m);
    return TRAIN_NOMEM;
  }
  m->shape = *s;
  m->n_params = np + dec;
  m->decision = np;
  Rng r;
  rng_seed(&r, seed, MELU_RNG_INIT);
  float *p = m->params;
  /* torch.nn.Linear: uniform in +-1/sqrt(fan_in), weights and biases. */
#define UNIFORM(dst, count, fan_in)                                             \
  do {                                                                          \
    double bound_ = 1.0 / sqrt((double)(fan_in));                               \
    for (size_t i_ = 0; i_ < (size_t)(count); i_++)                             \
      (dst)[i_] = (float)((2.0 * rng_uniform(&r) - 1.0) * bound_);              \
  } while (0)
  for (int f = 0; f < s->n_fields; f++) {
    m->E_field[f] = p;
    UNIFORM(p, (size_t)e * s->field_dim, s->field_dim);
    p += (size_t)e * s->field_dim;
  }
  if (s->n_scalars > 0) {
    m->E_scalar = p;
    UNIFORM(p, (size_t)e * s->n_scalars, s->n_scalars);
    p += (size_t)e * s->n_scalars;
  }
  m->E_item = p;
  UNIFORM(p, (size_t)e * s->item_dim, s->item_dim);
  p += (size_t)e * s->item_dim;
  for (int l = 0; l <= s->n_hidden; l++) {
    m->W[l] = p;
    UNIFORM(p, (size_t)dims[l] * dims[l + 1], dims[l]);
    p += (size_t)dims[l] * dims[l + 1];
    m->b[l] = p;
    UNIFORM(p, dims[l + 1], dims[l]);
    p += dims[l + 1];
  }
#undef UNIFORM
  m->scalar_mean = m->stats;
  m->scalar_scale = m->stats + s->n_scalars;
  for (int j = 0; j < s->n_scalars; j++) {
    m->scalar_mean[j] = 0.0f;
    m->scalar_scale[j] = 1.0f;
  }
  return TRAIN_OK;
}

void melu_free(Melu *m) {
  free(m->params);
  free(m->stats);
  memset(m, 0, sizeof *m);
}

int melu_max_tensors(void) { return MELU_MAX_FIELDS + 2 + 2 * (MELU_MAX_HIDDEN + 1) + 2; }

int melu_tensors(const Melu *m, ParamTensor *t) {
  static const char *const layer_names[MELU_MAX_HIDDEN + 1][2] = {
      {"fc.0.weight", "fc.0.bias"}, {"fc.1.weight", "fc.1.bias"}, {"fc.2.weight", "fc.2.bias"},
      {"fc.3.weight", "fc.3.bias"}, {"fc.4.weight", "fc.4.bias"}, {"fc.5.weight", "fc.5.bias"},
      {"fc.6.weight", "fc.6.bias"}, {"fc.7.weight", "fc.7.bias"}, {"fc.8.weight", "fc.8.bias"}};
  const MeluShape *s = &m->shape;
  int n = 0, e = s->embed_dim, dims[MELU_MAX_HIDDEN + 2];
  decision_dims(s, dims);
  for (int f = 0; f < s->n_fields; f++)
    t[n++] = (ParamTensor){field_names[f], e, s->field_dim, m->E_field[f]};
  if (s->n_scalars > 0) t[n++] = (ParamTensor){"scalars", e, s->n_scalars, m->E_scalar};
  t[n++] = (ParamTensor){"item", e, s->item_dim, m->E_item};
  for (int l = 0; l <= s->n_hidden; l++) {
    int last = l == s->n_hidden;
    t[n++] = (ParamTensor){last ? "out.weight" : layer_names[l][0], dims[l + 1], dims[l], m->W[l]};
    t[n++] = (ParamTensor){last ? "out.bias" : layer_names[l][1], dims[l + 1], 1, m->b[l]};
  }
  if (s->n_scalars > 0) {
    t[n++] = (ParamTensor){"scalars.mean", s->n_scalars, 1, m->scalar_mean};
    t[n++] = (ParamTensor){"scalars.scale", s->n_scalars, 1, m->scalar_scale};
  }
  return n;
}

int melu_load(Melu *m, const MeluShape *s, const ParamTensor *t, int n, const char **bad) {
  if (bad) *bad = NULL;
  int rc = melu_init(m, s, 0);
  if (rc != TRAIN_OK) return rc;
  ParamTensor own[MELU_MAX_FIELDS + 2 + 2 * (MELU_MAX_HIDDEN + 1) + 2];
  int nt = melu_tensors(m, own);
  rc = param_tensors_copy(own, nt, t, n, bad);
  for (int j = 0; j < s->n_scalars && rc == TRAIN_OK; j++) {
    if (!(m->scalar_scale[j] > 0.0f)) {
      if (bad) *bad = "scalars.scale";
      rc = TRAIN_BADARG;
    }
  }
  if (rc != TRAIN_OK) melu_free(m);
  return rc;
}

/* ---- one user ----------------------------------------------------------- */

/* A user's local weights are the decision layers minus the first layer's
** user columns W0u: the item columns W0i (hidden[0] x embed_dim), then b0
** and every later layer, packed ("the local part").  The local update's
** gradient for W0u is s ue^T (s the summed gradient of the first layer's
** outputs), so after any number of steps W0u - local_lr c ue^T with c the
** sum of those s: a user needs c, not a copy of W0u, and W0u ue becomes
** W0u ue - local_lr |ue|^2 c. */
static size_t n_local(const Melu *m) {
  const MeluShape *s = &m->shape;
  int dims[MELU_MAX_HIDDEN + 2];
  decision_dims(s, dims);
  return n_decision(m) - (size_t)dims[1] * user_embed_dim(s);
}

/* Where the local part keeps a global tensor of the decision layers that
** follows W0 (b0, W1, ...). */
static const float *local_at(const Melu *m, const float *loc, const float *global) {
  int dims[MELU_MAX_HIDDEN + 2];
  decision_dims(&m->shape, dims);
  return loc + (global - m->W[0]) - (size_t)dims[1] * dims[0] + (size_t)dims[1] * m->shape.embed_dim;
}

/* The run of the local part's elements from i (below hi) that is
** contiguous in the decision layers (a row of W0i, or the tail after W0):
** returns its length and sets *pos to where it starts there. */
static size_t local_run(const Melu *m, size_t i, size_t hi, size_t *pos) {
  size_t h0 = (size_t)m->shape.hidden[0], e = (size_t)m->shape.embed_dim;
  size_t in0 = (size_t)user_embed_dim(&m->shape) + e, run;
  if (i < h0 * e) {
    run = e - i % e;
    *pos = i / e * in0 + (in0 - e) + i % e;
  } else {
    run = hi - i;
    *pos = h0 * in0 + (i - h0 * e);
  }
  return run < hi - i ? run : hi - i;
}

/* Per-thread scratch for sets of up to P items. */
typedef struct {
  int P;
  float *xs;                   /* standardised scalars */
  const float *ue, *q0;        /* the user's embedding and W0u ue */
  double ue2;                  /* |ue|^2 */
  float *q, *c;                /* the first layer's user part; the sum of s */
  float *ue_own, *q_own;       /* storage for ue, and for q0, q, c */
  float *ie;                   /* P x embed_dim item embeddings */
  float *A[MELU_MAX_HIDDEN];   /* P x hidden[l] (ReLU outputs) */
  float *yhat;                 /* P */
  float *d1, *d2;              /* P x max hidden */
  float *loc, *g;              /* local part: weights, gradient */
  float *set, *labels;         /* P x item_dim gathered vectors, P labels */
} Work;

static void work_free(Work *w) {
  if (w == NULL) return;
  free(w->xs);
  free(w->ue_own);
  free(w->q_own);
  free(w->ie);
  for (int l = 0; l < MELU_MAX_HIDDEN; l++) free(w->A[l]);
  free(w->yhat);
  free(w->d1);
  free(w->d2);
  free(w->loc);
  free(w->g);
  free(w->set);
  free(w->labels);
  memset(w, 0, sizeof *w);
}

static int work_new(Work *w, const Melu *m, int P) {
  memset(w, 0, sizeof *w);
  const MeluShape *s = &m->shape;
  size_t Pz = (size_t)(P > 1 ? P : 1), mh = 1, h0 = (size_t)s->hidden[0];
  for (int l = 0; l < s->n_hidden; l++) mh = (size_t)s->hidden[l] > mh ? (size_t)s->hidden[l] : mh;
  w->P = P;
  w->xs = malloc(((size_t)s->n_scalars + 1) * sizeof(float));
  w->ue_own = malloc((size_t)user_embed_dim(s) * sizeof(float));
  w->q_own = malloc(3 * h0 * sizeof(float));
  w->ie = malloc(Pz * s->embed_dim * sizeof(float));
  int ok = w->xs && w->ue_own && w->q_own && w->ie;
  for (int l = 0; l < s->n_hidden && ok; l++) ok = (w->A[l] = malloc(Pz * s->hidden[l] * sizeof(float))) != NULL;
  w->yhat = malloc(Pz * sizeof(float));
  w->d1 = malloc(Pz * mh * sizeof(float));
  w->d2 = malloc(Pz * mh * sizeof(float));
  w->loc = malloc(n_local(m) * sizeof(float));
  w->g = malloc(n_local(m) * sizeof(float));
  w->set = malloc(Pz * s->item_dim * sizeof(float));
  w->labels = malloc(Pz * sizeof(float));
  ok = ok && w->yhat && w->d1 && w->d2 && w->loc && w->g && w->set && w->labels;
  if (!ok) {
    work_free(w);
    return -1;
  }
  w->q = w->q_own + h0;
  w->c = w->q + h0;
  return 0;
}

/* |ue|^2 in double. */
static double sq_norm(const float *x, int n) {
  double s = 0.0;
  for (int k = 0; k < n; k++) s += (double)x[k] * x[k];
  return s;
}

/* One block of the user embeddings of n feature rows (X, ld apart) into
** UE (n x user embedding): field f, or for f == n_fields the scalars,
** standardised into Xs (n x n_scalars) on the way. */
static void embed_map(const Melu *m, int f, const float *X, int n, int ld, float *Xs, float *UE) {
  const MeluShape *s = &m->shape;
  int e = s->embed_dim, fd = s->field_dim, ns = s->n_scalars, due = user_embed_dim(s);
  if (f < s->n_fields) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, e, fd, 1.0f, X + (size_t)f * fd, ld,
                m->E_field[f], fd, 0.0f, UE + (size_t)f * e, due);
    return;
  }
  for (int u = 0; u < n; u++) {
    float *xs = Xs + (size_t)u * ns;
    memcpy(xs, X + (size_t)u * ld + (size_t)s->n_fields * fd, (size_t)ns * sizeof(float));
    scaler_apply(xs, ns, m->scalar_mean, m->scalar_scale);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, e, ns, 1.0f, Xs, ns, m->E_scalar, ns,
              0.0f, UE + (size_t)s->n_fields * e, due);
}

/* Embedding maps: the fields, then the scalars when there are any. */
static int n_maps(const MeluShape *s) { return s->n_fields + (s->n_scalars > 0); }

/* One user's embedding from a feature row, its squared norm and W0u ue,
** into w's own storage. */
static void user_embed(const Melu *m, const float *x, Work *w) {
  const MeluShape *s = &m->shape;
  int due = user_embed_dim(s);
  for (int f = 0; f < n_maps(s); f++) embed_map(m, f, x, 1, input_dim(s), w->xs, w->ue_own);
  cblas_sgemv(CblasRowMajor, CblasNoTrans, s->hidden[0], due, 1.0f, m->W[0], due + s->embed_dim,
              w->ue_own, 1, 0.0f, w->q_own, 1);
  w->ue = w->ue_own;
  w->q0 = w->q_own;
  w->ue2 = sq_norm(w->ue, due);
}

/* The first layer's user part at the local weights:
** q = W0u ue - local_lr |ue|^2 c + b0. */
static void user_part(const Melu *m, Work *w, double local_lr) {
  const float *b0 = local_at(m, w->loc, m->b[0]);
  float k = (float)(local_lr * w->ue2);
  for (int j = 0; j < m->shape.hidden[0]; j++) w->q[j] = w->q0[j] - k * w->c[j] + b0[j];
}

/* ie (P x e) = V (P x item_dim) E_item^T. */
static void item_embed(const Melu *m, const float *V, int P, float *ie) {
  const MeluShape *s = &m->shape;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, P, s->embed_dim, s->item_dim, 1.0f, V,
              s->item_dim, m->E_item, s->item_dim, 0.0f, ie, s->embed_dim);
}

int melu_item_embeddings(const Melu *m, const MeluCatalog *cat, float *out) {
  if (cat->item_dim != m->shape.item_dim || cat->n_items < 1 || cat->n_items > INT32_MAX)
    return TRAIN_BADARG;
  item_embed(m, cat->items, (int)cat->n_items, out);
  return TRAIN_OK;
}

/* The decision layers, local part loc and user part w->q, on P item
** embeddings ie: predictions into w->yhat, and the sum of squared errors
** against y when y is not NULL.  With g: the gradient of scale * that sum
** w.r.t. the local part into g (its b0 part is s, the first layer's
** summed output gradient), and when d_ie is not NULL w.r.t. the item
** embeddings (P x e). */
static double decide(const Melu *m, const float *loc, const float *ie, int P, const float *y,
                     double scale, Work *w, float *g, float *d_ie) {
  const MeluShape *s = &m->shape;
  int L = s->n_hidden, e = s->embed_dim, dims[MELU_MAX_HIDDEN + 2];
  decision_dims(s, dims);
  int h0 = dims[1];
  const float *W[MELU_MAX_HIDDEN + 1], *b[MELU_MAX_HIDDEN + 1];
  float *dW[MELU_MAX_HIDDEN + 1], *db[MELU_MAX_HIDDEN + 1];
  W[0] = loc; /* the item columns, h0 x e */
  dW[0] = g;
  for (int l = 0; l <= L; l++) {
    if (l > 0) W[l] = local_at(m, loc, m->W[l]);
    b[l] = local_at(m, loc, m->b[l]);
    if (g) {
      if (l > 0) dW[l] = g + (W[l] - loc);
      db[l] = g + (b[l] - loc);
    }
  }
  for (int p = 0; p < P; p++) memcpy(w->A[0] + (size_t)p * h0, w->q, (size_t)h0 * sizeof(float));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, P, h0, e, 1.0f, ie, e, W[0], e, 1.0f,
              w->A[0], h0);
  for (size_t i = 0; i < (size_t)P * h0; i++) w->A[0][i] = w->A[0][i] > 0.0f ? w->A[0][i] : 0.0f;
  for (int l = 1; l < L; l++) {
    int din = dims[l], h = dims[l + 1];
    for (int p = 0; p < P; p++) memcpy(w->A[l] + (size_t)p * h, b[l], (size_t)h * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, P, h, din, 1.0f, w->A[l - 1], din, W[l],
                din, 1.0f, w->A[l], h);
    for (size_t i = 0; i < (size_t)P * h; i++) w->A[l][i] = w->A[l][i] > 0.0f ? w->A[l][i] : 0.0f;
  }
  int hl = dims[L];
  for (int p = 0; p < P; p++) w->yhat[p] = b[L][0];
  cblas_sgemv(CblasRowMajor, CblasNoTrans, P, hl, 1.0f, w->A[L - 1], hl, W[L], 1, 1.0f, w->yhat, 1);
  if (y == NULL) return 0.0;
  double sse = 0.0;
  for (int p = 0; p < P; p++) {
    double err = (double)w->yhat[p] - y[p];
    sse += err * err;
  }
  if (g == NULL) return sse;

  /* Backward.  yhat becomes dL/dyhat. */
  float *dy = w->yhat;
  double dsum = 0.0;
  for (int p = 0; p < P; p++) {
    dy[p] = (float)(2.0 * scale * ((double)dy[p] - y[p]));
    dsum += dy[p];
  }
  db[L][0] = (float)dsum;
  cblas_sgemv(CblasRowMajor, CblasTrans, P, hl, 1.0f, w->A[L - 1], hl, dy, 1, 0.0f, dW[L], 1);
  float *d = w->d1, *other = w->d2;
  for (int p = 0; p < P; p++)
    for (int j = 0; j < hl; j++) {
      size_t i = (size_t)p * hl + j;
      d[i] = w->A[L - 1][i] > 0.0f ? dy[p] * W[L][j] : 0.0f;
    }
  for (int l = L - 1; l >= 0; l--) {
    int din = l ? dims[l] : e, h = dims[l + 1];
    /* d: gradient w.r.t. layer l's linear output (P x h). */
    for (int j = 0; j < h; j++) db[l][j] = 0.0f;
    for (int p = 0; p < P; p++)
      for (int j = 0; j < h; j++) db[l][j] += d[(size_t)p * h + j];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, h, din, P, 1.0f, d, h,
                l ? w->A[l - 1] : ie, din, 0.0f, dW[l], din);
    if (l == 0) break;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, P, din, h, 1.0f, d, h, W[l], din, 0.0f,
                other, din);
    for (size_t i = 0; i < (size_t)P * din; i++) other[i] = w->A[l - 1][i] > 0.0f ? other[i] : 0.0f;
    float *t = d;
    d = other;
    other = t;
  }
  if (d_ie)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, P, e, h0, 1.0f, d, h0, W[0], e, 0.0f,
                d_ie, e);
  return sse;
}

/* The user's local part: the global one, then local_steps plain gradient
** steps of the support loss (item embeddings ie: S x embed_dim, labels
** y), c their summed s.  Needs w->ue, q0, ue2, c set; leaves user_part()
** computed. */
static void local_update(const Melu *m, const float *ie, const float *y, int S, double local_lr,
                         int steps, Work *w) {
  size_t nl = n_local(m);
  const float *dec = m->params + m->decision;
  for (size_t i = 0, len, pos; i < nl; i += len) {
    len = local_run(m, i, nl, &pos);
    memcpy(w->loc + i, dec + pos, len * sizeof(float));
  }
  int h0 = m->shape.hidden[0];
  for (int j = 0; j < h0; j++) w->c[j] = 0.0f;
  user_part(m, w, local_lr);
  if (S <= 0 || steps == 0) return;
  float lr = (float)local_lr;
  const float *s = local_at(m, w->g, m->b[0]);
  for (int t = 0; t < steps; t++) {
    decide(m, w->loc, ie, S, y, 1.0 / S, w, w->g, NULL);
    for (size_t i = 0; i < nl; i++) w->loc[i] -= lr * w->g[i];
    for (int j = 0; j < h0; j++) w->c[j] += s[j];
    user_part(m, w, local_lr);
  }
}

int melu_local_update(const Melu *m, const float *features, const float *support, const float *labels,
                      int S, double local_lr, int local_steps, float *fast) {
  if (S < 0 || S > MAX_SET || local_steps < 0) return TRAIN_BADARG;
  Work w;
  if (work_new(&w, m, S) != 0) return TRAIN_NOMEM;
  user_embed(m, features, &w);
  if (S > 0) item_embed(m, support, S, w.ie);
  local_update(m, w.ie, labels, S, local_lr, local_steps, &w);
  /* The full decision layers: W0u - local_lr c ue^T, then the local part. */
  const MeluShape *s = &m->shape;
  int due = user_embed_dim(s), in0 = due + s->embed_dim;
  for (int j = 0; j < s->hidden[0]; j++)
    for (int k = 0; k < due; k++)
      fast[(size_t)j * in0 + k] = m->W[0][(size_t)j * in0 + k] - (float)local_lr * w.c[j] * w.ue[k];
  for (size_t i = 0, len, pos, nl = n_local(m); i < nl; i += len) {
    len = local_run(m, i, nl, &pos);
    memcpy(fast + pos, w.loc + i, len * sizeof(float));
  }
  work_free(&w);
  return TRAIN_OK;
}

/* ---- the meta step ------------------------------------------------------- */

/* Scratch of one meta step over up to U users with sets of up to P items,
** Stot support and Qtot query items in all. */
typedef struct {
  int threads;
  Team *team;
  Work *work;         /* per member */
  float *gslot;       /* U x n_local: each user's gradient of its local part */
  float *UE;          /* U x user embedding: each user's ue */
  float *Q0;          /* U x hidden[0]: W0u ue */
  float *C;           /* U x hidden[0]: each user's c */
  double *UE2;        /* U: |ue|^2 */
  float *G;           /* U x user embedding: each user's d_ue */
  float *Sq;          /* U x hidden[0]: each user's query s */
  float *Xs;          /* U x n_scalars: standardised scalars */
  float *IEs, *IEq;   /* Stot, Qtot x embed_dim: item embeddings */
  float *Dq;          /* Qtot x embed_dim: query item embedding gradients */
  double *sse;        /* U: query squared errors (scaled by 1/Q_u) */
} Meta;

static void meta_free(Meta *mt) {
  if (mt->work)
    for (int i = 0; i < mt->threads; i++) work_free(&mt->work[i]);
  free(mt->work);
  team_free(mt->team);
  free(mt->gslot);
  free(mt->UE);
  free(mt->Q0);
  free(mt->UE2);
  free(mt->G);
  free(mt->Xs);
  free(mt->IEs);
  free(mt->Dq);
  free(mt->sse);
  memset(mt, 0, sizeof *mt);
}

static int meta_new(Meta *mt, const Melu *m, int U, int P, int64_t Stot, int64_t Qtot,
                    int threads) {
  memset(mt, 0, sizeof *mt);
  if (threads <= 0) threads = tiles_default_threads();
  mt->threads = threads;
  const MeluShape *s = &m->shape;
  size_t due = (size_t)user_embed_dim(s), h0 = (size_t)s->hidden[0], e = (size_t)s->embed_dim;
  mt->work = calloc((size_t)threads, sizeof(Work));
  mt->gslot = malloc((size_t)U * n_local(m) * sizeof(float));
  mt->UE = malloc((size_t)U * due * sizeof(float));
  mt->Q0 = malloc((size_t)U * 3 * h0 * sizeof(float));
  mt->UE2 = malloc((size_t)U * sizeof(double));
  mt->G = malloc((size_t)U * due * sizeof(float));
  mt->Xs = malloc(((size_t)U * s->n_scalars + 1) * sizeof(float));
  mt->IEs = malloc(((size_t)(Stot + Qtot) * e + 1) * sizeof(float));
  mt->Dq = malloc(((size_t)Qtot * e + 1) * sizeof(float));
  mt->sse = malloc((size_t)U * sizeof(double));
  int ok = mt->work && mt->gslot && mt->UE && mt->Q0 && mt->UE2 && mt->G && mt->Xs && mt->IEs &&
           mt->Dq && mt->sse;
  if (ok) {
    mt->C = mt->Q0 + (size_t)U * h0;
    mt->Sq = mt->C + (size_t)U * h0;
    mt->IEq = mt->IEs + (size_t)Stot * e;
  }
  for (int i = 0; i < threads && ok; i++) ok = work_new(&mt->work[i], m, P) == 0;
  if (ok && threads > 1) ok = (mt->team = team_new(threads)) != NULL;
  if (!ok) meta_free(mt);
  return ok ? 0 : -1;
}

typedef struct {
  const Melu *m;
  Melu *target; /* Adam applies to it (training); NULL: gradient only */
  const MeluBatch *b;
  Meta *mt;
  float *grad;
  double local_lr;
  int local_steps;
  /* Adam */
  float *am, *av, adam_step, adam_rbc2;
  double loss;
} MetaPass;

/* Phase 0 of a meta step: the batch's embeddings, one sgemm per map
** (fields, scalars, support items, query items) split among the members,
** then W0u ue of every user by fixed column tiles. */
static void meta_embed(MetaPass *ps, Team *team, int id, int n) {
  const Melu *m = ps->m;
  const MeluShape *s = &m->shape;
  const MeluBatch *b = ps->b;
  Meta *mt = ps->mt;
  int e = s->embed_dim, due = user_embed_dim(s), in = input_dim(s), U = b->n, h0 = s->hidden[0];
  int d = s->item_dim;
  int64_t St = b->s_off[U] - b->s_off[0], Qt = b->q_off[U] - b->q_off[0];
  int maps = n_maps(s) + 2;
  size_t lo, hi;
  team_share((size_t)maps, 1, id, n, &lo, &hi);
  for (size_t k = lo; k < hi; k++) {
    int f = (int)k;
    if (f < n_maps(s))
      embed_map(m, f, b->features, U, in, mt->Xs, mt->UE);
    else if (f == maps - 2 && St > 0)
      item_embed(m, b->s_vec + (size_t)b->s_off[0] * d, (int)St, mt->IEs);
    else if (f == maps - 1 && Qt > 0)
      item_embed(m, b->q_vec + (size_t)b->q_off[0] * d, (int)Qt, mt->IEq);
  }
  team_barrier(team);
  Tiles tl = member_tiles(h0, id, n);
  for (int t = tl.t0; t < tl.t1; t++) {
    int c0 = tile_edge(h0, t), nc = tile_edge(h0, t + 1) - c0;
    if (nc > 0)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, U, nc, due, 1.0f, mt->UE, due,
                  m->W[0] + (size_t)c0 * (due + e), due + e, 0.0f, mt->Q0 + c0, h0);
  }
  team_share((size_t)U, 1, id, n, &lo, &hi);
  for (size_t u = lo; u < hi; u++) mt->UE2[u] = sq_norm(mt->UE + u * due, due);
  team_barrier(team);
}

static void meta_member(void *arg, int id, int n) {
  MetaPass *ps = arg;
  const Melu *m = ps->m;
  const MeluShape *s = &m->shape;
  const MeluBatch *b = ps->b;
  Meta *mt = ps->mt;
  Team *team = n > 1 ? mt->team : NULL;
  Work *w = &mt->work[id];
  size_t nl = n_local(m);
  int e = s->embed_dim, due = user_embed_dim(s), in = input_dim(s), U = b->n, h0 = s->hidden[0];
  size_t lo, hi;
  meta_embed(ps, team, id, n);
  /* Phase 1, by users: local update, query loss and gradients. */
  team_share((size_t)U, 1, id, n, &lo, &hi);
  for (size_t u = lo; u < hi; u++) {
    w->ue = mt->UE + u * due;
    w->q0 = mt->Q0 + u * h0;
    w->c = mt->C + u * h0;
    w->ue2 = mt->UE2[u];
    int S = (int)(b->s_off[u + 1] - b->s_off[u]);
    local_update(m, mt->IEs + (size_t)(b->s_off[u] - b->s_off[0]) * e, b->s_lab + b->s_off[u], S,
                 ps->local_lr, ps->local_steps, w);
    int Q = (int)(b->q_off[u + 1] - b->q_off[u]);
    float *gs = mt->gslot + u * nl, *sq = mt->Sq + u * h0;
    if (Q == 0) {
      memset(gs, 0, nl * sizeof(float));
      memset(sq, 0, (size_t)h0 * sizeof(float));
      mt->sse[u] = 0.0;
      continue;
    }
    size_t q0 = (size_t)(b->q_off[u] - b->q_off[0]) * e;
    double scale = 1.0 / ((double)Q * U);
    mt->sse[u] = decide(m, w->loc, mt->IEq + q0, Q, b->q_lab + b->q_off[u], scale, w, gs,
                        mt->Dq + q0) / Q;
    memcpy(sq, local_at(m, gs, m->b[0]), (size_t)h0 * sizeof(float));
  }
  team_barrier(team);
  /* Phase 2: the user embeddings' gradients through each user's local W0u,
  ** W0u^T s - local_lr (c . s) ue, by fixed column tiles. */
  Tiles tl = member_tiles(due, id, n);
  for (int t = tl.t0; t < tl.t1; t++) {
    int c0 = tile_edge(due, t), nc = tile_edge(due, t + 1) - c0;
    if (nc <= 0) continue;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, U, nc, h0, 1.0f, mt->Sq, h0,
                m->W[0] + c0, due + e, 0.0f, mt->G + c0, due);
    for (int u = 0; u < U; u++) {
      double cs = 0.0;
      for (int j = 0; j < h0; j++) cs += (double)mt->C[(size_t)u * h0 + j] * mt->Sq[(size_t)u * h0 + j];
      float k = (float)(ps->local_lr * cs);
      float *gu = mt->G + (size_t)u * due + c0;
      const float *ue = mt->UE + (size_t)u * due + c0;
      for (int j = 0; j < nc; j++) gu[j] -= k * ue[j];
    }
  }
  team_barrier(team);
  /* Phase 3: the local parts' gradients summed over users in order, by
  ** ranges; W0u's (the sum of s ue^T) and the embeddings', one sgemm each. */
  float *g = ps->grad, *gd = g + m->decision;
  team_share(nl, PARAM_ALIGN, id, n, &lo, &hi);
  for (size_t i = lo, len, pos; i < hi; i += len) {
    len = local_run(m, i, hi, &pos);
    float *dst = gd + pos;
    memcpy(dst, mt->gslot + i, len * sizeof(float));
    for (int u = 1; u < U; u++) {
      const float *src = mt->gslot + (size_t)u * nl + i;
      for (size_t j = 0; j < len; j++) dst[j] += src[j];
    }
  }
  int maps = n_maps(s) + 2;
  team_share((size_t)maps, 1, id, n, &lo, &hi);
  for (size_t k = lo; k < hi; k++) {
    int f = (int)k;
    if (f < s->n_fields) {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, e, s->field_dim, U, 1.0f, mt->G + f * e,
                  due, b->features + (size_t)f * s->field_dim, in, 0.0f,
                  g + (m->E_field[f] - m->params), s->field_dim);
    } else if (f == s->n_fields && s->n_scalars > 0) {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, e, s->n_scalars, U, 1.0f,
                  mt->G + (size_t)s->n_fields * e, due, mt->Xs, s->n_scalars, 0.0f,
                  g + (m->E_scalar - m->params), s->n_scalars);
    } else if (f == maps - 2) {
      int64_t Qt = b->q_off[U] - b->q_off[0];
      float *gi = g + (m->E_item - m->params);
      if (Qt > 0)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, e, s->item_dim, (int)Qt, 1.0f, mt->Dq,
                    e, b->q_vec + (size_t)b->q_off[0] * s->item_dim, s->item_dim, 0.0f, gi,
                    s->item_dim);
      else
        memset(gi, 0, (size_t)e * s->item_dim * sizeof(float));
    } else {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, h0, due, U, 1.0f, mt->Sq, h0, mt->UE,
                  due, 0.0f, gd, due + e);
    }
  }
  if (id == 0) {
    double loss = 0.0;
    for (int u = 0; u < U; u++) loss += mt->sse[u];
    ps->loss = loss / U;
  }
  if (ps->target == NULL) return;
  /* Phase 4: Adam, by parameter ranges. */
  team_barrier(team);
  if (!isfinite(ps->loss)) return;
  team_share(m->n_params, PARAM_ALIGN, id, n, &lo, &hi);
  adam_range(ps->target->params, ps->am, ps->av, g, 0.0f, ps->adam_step, ps->adam_rbc2, lo, hi);
}

static int batch_ok(const MeluBatch *b) {
  if (b->n < 1 || b->features == NULL || b->s_off == NULL || b->q_off == NULL) return 0;
  for (int u = 0; u < b->n; u++) {
    int64_t S = b->s_off[u + 1] - b->s_off[u], Q = b->q_off[u + 1] - b->q_off[u];
    if (S < 0 || S > MAX_SET || Q < 0 || Q > MAX_SET) return 0;
  }
  return 1;
}

/* Largest support or query set of the batch. */
static int batch_max_set(const MeluBatch *b) {
  int64_t P = 1;
  for (int u = 0; u < b->n; u++) {
    int64_t S = b->s_off[u + 1] - b->s_off[u], Q = b->q_off[u + 1] - b->q_off[u];
    if (S > P) P = S;
    if (Q > P) P = Q;
  }
  return (int)P;
}

double melu_meta_grad(const Melu *m, const MeluBatch *b, double local_lr, int local_steps,
                      int threads, float *grad) {
  if (!batch_ok(b) || local_steps < 0 || threads < 0 || threads > MELU_MAX_THREADS) return NAN;
  Meta mt;
  if (meta_new(&mt, m, b->n, batch_max_set(b), b->s_off[b->n] - b->s_off[0],
               b->q_off[b->n] - b->q_off[0], threads) != 0)
    return NAN;
  MetaPass ps = {m, NULL, b, &mt, grad, local_lr, local_steps, NULL, NULL, 0, 0, 0.0};
  team_run(mt.team, meta_member, &ps);
  meta_free(&mt);
  return ps.loss;
}

/* ---- training ----------------------------------------------------------- */

void melu_default_options(MeluOptions *o) {
  memset(o, 0, sizeof *o);
  o->embed_dim = 32;
  o->n_hidden = 2;
  o->hidden[0] = 64;
  o->hidden[1] = 64;
  o->epochs = 20;
  o->batch_users = 32;
  o->local_lr = 5e-6;
  o->local_steps = 1;
  o->global_lr = 5e-5;
  o->top_items = 100;
  o->query_positives = 10;
  o->query_negatives = 10;
  o->support_negatives = 1.0;
  o->seed = 0;
  o->threads = 0;
}

const char *melu_check_options(const MeluOptions *o, int64_t n_users, int64_t n_items) {
  if (o->embed_dim < 1 || o->embed_dim > 4096) return "embed_dim must be between 1 and 4096";
  if (o->n_hidden < 1 || o->n_hidden > MELU_MAX_HIDDEN) return "hidden must list 1 to 8 widths";
  for (int l = 0; l < o->n_hidden; l++)
    if (o->hidden[l] < 1 || o->hidden[l] > MAX_WIDTH) return "hidden widths must be between 1 and 65536";
  if (o->epochs < 1 || o->epochs > 1000000) return "epochs must be between 1 and 1000000";
  if (o->batch_users < 1 || o->batch_users > 65536) return "batch_users must be between 1 and 65536";
  if (!(o->local_lr >= 0.0 && o->local_lr < 1e6)) return "local_lr must be a number >= 0";
  if (o->local_steps < 0 || o->local_steps > 1000) return "local_steps must be between 0 and 1000";
  if (!(o->global_lr > 0.0 && o->global_lr < 1e6)) return "global_lr must be positive";
  if (o->top_items < 1 || o->top_items > 65536) return "top_items must be between 1 and 65536";
  if (o->query_positives < 0 || o->query_positives > o->top_items)
    return "query_positives must be between 0 and top_items";
  if (o->query_negatives < 0 || o->query_negatives > 65536)
    return "query_negatives must be between 0 and 65536";
  if (o->query_positives + o->query_negatives < 1)
    return "query_positives + query_negatives must be at least 1";
  if (!(o->support_negatives >= 0.0 && o->support_negatives <= 100.0))
    return "support_negatives must be between 0 and 100";
  if (o->threads < 0 || o->threads > MELU_MAX_THREADS) return "threads must be between 0 and 64";
  if (n_users < 1) return "training needs at least 1 user";
  if (n_users > INT32_MAX) return "too many users";
  if (n_items < 1) return "the catalog is empty";
  if (n_items > INT32_MAX) return "too many items";
  return NULL;
}

/* A generator for one user (and epoch), independent of batches and
** threads. */
static void keyed_rng(Rng *r, uint64_t seed, uint64_t stream, uint64_t key) {
  Rng k;
  rng_seed(&k, key, stream);
  rng_seed(r, seed ^ rng_next(&k), stream);
}

/* Sampled negatives for a support set with pos positives. */
static int64_t sampled_negatives(double ratio, int64_t pos) { return (int64_t)floor(ratio * pos + 0.5); }

static int64_t count_positives(const MeluSupport *sp, int64_t u) {
  int64_t pos = 0;
  for (int64_t j = sp->offsets[u]; j < sp->offsets[u + 1]; j++) pos += sp->labels[j] > 0.5f;
  return pos;
}

/* User u's support set into V (rows of item_dim) and y: its entries, then
** the sampled negatives.  Returns its size. */
static int gather_support(const MeluSupport *sp, const MeluCatalog *cat, int64_t u, double ratio,
                          Rng *r, float *V, float *y) {
  int d = cat->item_dim, S = 0;
  for (int64_t j = sp->offsets[u]; j < sp->offsets[u + 1]; j++, S++) {
    memcpy(V + (size_t)S * d, sp->vectors + (size_t)sp->entries[j] * d, (size_t)d * sizeof(float));
    y[S] = sp->labels[j] > 0.5f ? 1.0f : 0.0f;
  }
  int64_t neg = sampled_negatives(ratio, count_positives(sp, u));
  for (int64_t j = 0; j < neg; j++, S++) {
    int64_t t = (int64_t)rng_below(r, (uint64_t)cat->n_items);
    memcpy(V + (size_t)S * d, cat->items + (size_t)t * d, (size_t)d * sizeof(float));
    y[S] = 0.0f;
  }
  return S;
}

/* The largest support set of the n users (entries plus sampled
** negatives), or -1 when an entry is out of range or a set is too big. */
static int64_t max_support(const MeluSupport *sp, int64_t n, double ratio) {
  int64_t P = 0;
  for (int64_t u = 0; u < n; u++) {
    int64_t c = sp->offsets[u + 1] - sp->offsets[u];
    if (c < 0) return -1;
    for (int64_t j = sp->offsets[u]; j < sp->offsets[u + 1]; j++)
      if (sp->entries[j] < 0 || sp->entries[j] >= sp->n_vectors) return -1;
    c += sampled_negatives(ratio, count_positives(sp, u));
    if (c > MAX_SET) return -1;
    if (c > P) P = c;
  }
  return P;
}

static int data_ok(const MeluUsers *us, const MeluCatalog *cat) {
  const MeluSupport *sp = &us->support;
  return us->features && cat->items && cat->item_dim >= 1 && sp->offsets &&
         (sp->offsets[us->n_users] == sp->offsets[0] || (sp->entries && sp->labels && sp->vectors));
}

int melu_train(const MeluUsers *us, const MeluCatalog *cat, const MeluOptions *o,
               const TrainCallbacks *cb, Melu *m, TrainReport *rep) {
  memset(m, 0, sizeof *m);
  if (melu_check_options(o, us->n_users, cat->n_items) || !data_ok(us, cat) || !us->user_pref)
    return TRAIN_BADARG;
  MeluShape shape = {cat->item_dim, cat->n_fields, cat->field_dim, cat->n_scalars,
                     o->embed_dim, o->n_hidden, {0}};
  memcpy(shape.hidden, o->hidden, sizeof shape.hidden);
  const MeluSupport *sp = &us->support;
  int64_t Smax = max_support(sp, us->n_users, o->support_negatives);
  if (Smax < 0) return TRAIN_BADARG;
  int rc = melu_init(m, &shape, o->seed);
  if (rc != TRAIN_OK) return rc;
  double t_start = train_now();
  int n = (int)us->n_users, in = input_dim(&shape), d = cat->item_dim;
  int U = o->batch_users < n ? o->batch_users : n;
  int K = o->top_items < cat->n_items ? o->top_items : (int)cat->n_items;
  int qp = o->query_positives < K ? o->query_positives : K, Q = qp + o->query_negatives;
  int P = (int)(Smax > Q ? Smax : Q);
  int32_t *top = malloc((size_t)n * K * sizeof(int32_t));
  uint32_t *order = malloc((size_t)n * sizeof(uint32_t));
  uint32_t *pick = malloc((size_t)K * sizeof(uint32_t));
  float *X = malloc((size_t)U * in * sizeof(float));
  int64_t *s_off = malloc(((size_t)U + 1) * sizeof(int64_t));
  int64_t *q_off = malloc(((size_t)U + 1) * sizeof(int64_t));
  float *s_vec = malloc(((size_t)U * Smax + 1) * d * sizeof(float));
  float *s_lab = malloc(((size_t)U * Smax + 1) * sizeof(float));
  float *q_vec = malloc((size_t)U * Q * d * sizeof(float));
  float *q_lab = malloc((size_t)U * Q * sizeof(float));
  float *grad = malloc(m->n_params * sizeof(float));
  float *am = calloc(m->n_params, sizeof(float)), *av = calloc(m->n_params, sizeof(float));
  Meta mt;
  memset(&mt, 0, sizeof mt);
  if (!top || !order || !pick || !X || !s_off || !q_off || !s_vec || !s_lab || !q_vec || !q_lab ||
      !grad || !am || !av || meta_new(&mt, m, U, P, (int64_t)U * Smax, (int64_t)U * Q, o->threads) != 0) {
    rc = TRAIN_NOMEM;
    goto done;
  }
  if (shape.n_scalars > 0 &&
      scaler_fit(us->features, n, in, shape.n_fields * shape.field_dim, shape.n_scalars,
                 m->scalar_mean, m->scalar_scale) != 0) {
    rc = TRAIN_NOMEM;
    goto done;
  }
  rc = train_top_items(us->user_pref, n, cat->items, cat->n_items, d, K, cb, top);
  if (rc != TRAIN_OK) goto done;
  double t_prep = train_now(), flops = 0.0, loss_mean = 0.0;
  for (int i = 0; i < n; i++) order[i] = (uint32_t)i;
  Rng shuffle;
  rng_seed(&shuffle, o->seed, MELU_RNG_TRAIN);
  int64_t step = 0;
  int epoch = 0;
  for (; epoch < o->epochs; epoch++) {
    double t_epoch = train_now(), loss_sum = 0.0;
    int64_t batches = 0;
    rng_shuffle(&shuffle, order, (uint32_t)n);
    for (int b0 = 0; b0 < n; b0 += U) {
      if (train_stop_requested(cb)) {
        rc = TRAIN_STOPPED;
        goto done;
      }
      int Ub = n - b0 < U ? n - b0 : U;
      s_off[0] = q_off[0] = 0;
      for (int i = 0; i < Ub; i++) {
        int64_t u = order[b0 + i];
        Rng r;
        keyed_rng(&r, o->seed, MELU_RNG_TRAIN, (uint64_t)epoch * (uint64_t)n + (uint64_t)u);
        memcpy(X + (size_t)i * in, us->features + (size_t)u * in, (size_t)in * sizeof(float));
        int S = gather_support(sp, cat, u, o->support_negatives, &r, s_vec + (size_t)s_off[i] * d,
                               s_lab + s_off[i]);
        s_off[i + 1] = s_off[i] + S;
        /* Query: qp of the user's top K tracks (label 1), then uniform
        ** tracks (label 0). */
        float *qv = q_vec + (size_t)q_off[i] * d, *ql = q_lab + q_off[i];
        const int32_t *ut = top + (size_t)u * K;
        for (int j = 0; j < K; j++) pick[j] = (uint32_t)j;
        for (int j = 0; j < Q; j++) {
          int64_t t;
          if (j < qp) {
            uint32_t s = (uint32_t)j + (uint32_t)rng_below(&r, (uint64_t)(K - j)), tmp = pick[j];
            pick[j] = pick[s];
            pick[s] = tmp;
            t = ut[pick[j]];
          } else {
            t = (int64_t)rng_below(&r, (uint64_t)cat->n_items);
          }
          memcpy(qv + (size_t)j * d, cat->items + (size_t)t * d, (size_t)d * sizeof(float));
          ql[j] = j < qp ? 1.0f : 0.0f;
        }
        q_off[i + 1] = q_off[i] + Q;
      }
      MeluBatch b = {Ub, X, s_off, s_vec, s_lab, q_off, q_vec, q_lab};
      MetaPass ps = {m, m, &b, &mt, grad, o->local_lr, o->local_steps, am, av, 0, 0, 0.0};
      adam_factors(o->global_lr, step + 1, &ps.adam_step, &ps.adam_rbc2);
      team_run(mt.team, meta_member, &ps);
      if (!isfinite(ps.loss)) {
        rc = TRAIN_DIVERGED;
        goto done;
      }
      step++;
      loss_sum += ps.loss;
      batches++;
      /* Products: embeddings, and per set a forward and a backward of
      ** the decision layers (local steps on the support, once on the
      ** query). */
      int dims[MELU_MAX_HIDDEN + 2];
      decision_dims(&shape, dims);
      double per_item = (double)shape.embed_dim * (d + 1) + dims[1] * (double)shape.embed_dim;
      for (int l = 1; l <= shape.n_hidden; l++) per_item += (double)dims[l] * dims[l + 1];
      double per_user = (double)shape.embed_dim * in + (double)dims[1] * user_embed_dim(&shape);
      flops += 2.0 * Ub * per_user * 2 +
               2.0 * 3 * per_item * ((double)s_off[Ub] * o->local_steps + q_off[Ub]);
    }
    loss_mean = loss_sum / (double)batches;
    if (train_epoch_done(cb, epoch + 1, loss_mean, t_epoch)) {
      rc = TRAIN_STOPPED;
      goto done;
    }
  }
  train_report(rep, epoch, loss_mean, t_start, t_prep, 2.0 * (double)n * (double)cat->n_items * (d + 1),
               flops);
done:
  meta_free(&mt);
  free(top);
  free(order);
  free(pick);
  free(X);
  free(s_off);
  free(q_off);
  free(s_vec);
  free(s_lab);
  free(q_vec);
  free(q_lab);
  free(grad);
  free(am);
  free(av);
  if (rc != TRAIN_OK) melu_free(m);
  return rc;
}

/* ---- serving ------------------------------------------------------------- */

typedef struct {
  const Melu *m;
  const MeluUsers *us;
  const MeluCatalog *cat;
  const MeluOptions *o;
  const float *ie_all; /* n_items x embed_dim */
  int k;
  int32_t *out_idx;
  float *out_score, *vecs;
  Work *work;
  float **scores;      /* per member: n_items */
  float **heap_s;
  int32_t **heap_i;
} Serve;

static void serve_member(void *arg, int id, int n) {
  Serve *sv = arg;
  const Melu *m = sv->m;
  const MeluShape *s = &m->shape;
  const MeluUsers *us = sv->us;
  Work *w = &sv->work[id];
  int in = input_dim(s), e = s->embed_dim, h0 = s->hidden[0];
  size_t lo, hi;
  team_share((size_t)us->n_users, 1, id, n, &lo, &hi);
  for (size_t u = lo; u < hi; u++) {
    user_embed(m, us->features + u * (size_t)in, w);
    Rng r;
    keyed_rng(&r, sv->o->seed, MELU_RNG_SERVE, us->keys ? us->keys[u] : (uint64_t)u);
    int S = gather_support(&us->support, sv->cat, (int64_t)u, sv->o->support_negatives, &r,
                           w->set, w->labels);
    if (S > 0) item_embed(m, w->set, S, w->ie);
    local_update(m, w->ie, w->labels, S, sv->o->local_lr, sv->o->local_steps, w);
    if (sv->vecs) memcpy(sv->vecs + u * (size_t)h0, w->q, (size_t)h0 * sizeof(float));
    if (sv->k == 0) continue;
    float *sc = sv->scores[id];
    for (int64_t t0 = 0; t0 < sv->cat->n_items; t0 += SCORE_BLOCK) {
      int P = (int)(sv->cat->n_items - t0 < SCORE_BLOCK ? sv->cat->n_items - t0 : SCORE_BLOCK);
      decide(m, w->loc, sv->ie_all + (size_t)t0 * e, P, NULL, 0.0, w, NULL, NULL);
      memcpy(sc + t0, w->yhat, (size_t)P * sizeof(float));
    }
    topk_select(sc, sv->cat->n_items, sv->k, sv->out_idx + u * (size_t)sv->k,
                sv->out_score ? sv->out_score + u * (size_t)sv->k : NULL, sv->heap_s[id],
                sv->heap_i[id]);
  }
}

int melu_recommend(const Melu *m, const MeluUsers *us, const MeluCatalog *cat,
                   const MeluOptions *o, int k, int32_t *out_idx, float *out_score, float *vecs) {
  const MeluShape *s = &m->shape;
  if (us->n_users < 0 || k < 0 || (k > 0 && out_idx == NULL) || !data_ok(us, cat) ||
      cat->item_dim != s->item_dim || cat->n_fields != s->n_fields ||
      cat->field_dim != s->field_dim || cat->n_scalars != s->n_scalars || cat->n_items < 1 ||
      cat->n_items > INT32_MAX || o->local_steps < 0 || !(o->local_lr >= 0.0) ||
      !(o->support_negatives >= 0.0 && o->support_negatives <= 100.0) || o->threads < 0 ||
      o->threads > MELU_MAX_THREADS)
    return TRAIN_BADARG;
  if (us->n_users == 0) return TRAIN_OK;
  int64_t Smax = max_support(&us->support, us->n_users, o->support_negatives);
  if (Smax < 0) return TRAIN_BADARG;
  int threads = o->threads ? o->threads : tiles_default_threads();
  if (threads > us->n_users) threads = (int)us->n_users;
  int km = k < cat->n_items ? k : (int)cat->n_items;
  int P = (int)(Smax > SCORE_BLOCK ? Smax : SCORE_BLOCK);
  Serve sv = {m, us, cat, o, cat->item_embeddings, k, out_idx, out_score, vecs,
              NULL, NULL, NULL, NULL};
  /* The catalog's item embeddings, unless the caller keeps them (or only
  ** vectors are asked for). */
  float *ie_all = k > 0 && sv.ie_all == NULL
                      ? malloc((size_t)cat->n_items * s->embed_dim * sizeof(float))
                      : NULL;
  sv.work = calloc((size_t)threads, sizeof(Work));
  sv.scores = calloc((size_t)threads, sizeof(float *));
  sv.heap_s = calloc((size_t)threads, sizeof(float *));
  sv.heap_i = calloc((size_t)threads, sizeof(int32_t *));
  Team *team = NULL;
  int rc = TRAIN_OK, made = 0;
  if ((k > 0 && !sv.ie_all && !ie_all) || !sv.work || !sv.scores || !sv.heap_s || !sv.heap_i)
    rc = TRAIN_NOMEM;
  for (; made < threads && rc == TRAIN_OK; made++) {
    if (work_new(&sv.work[made], m, P) != 0) rc = TRAIN_NOMEM;
    if (k == 0) continue;
    sv.scores[made] = malloc((size_t)cat->n_items * sizeof(float));
    sv.heap_s[made] = malloc(((size_t)km + 1) * sizeof(float));
    sv.heap_i[made] = malloc(((size_t)km + 1) * sizeof(int32_t));
    if (!sv.scores[made] || !sv.heap_s[made] || !sv.heap_i[made]) rc = TRAIN_NOMEM;
  }
  if (rc == TRAIN_OK && threads > 1 && (team = team_new(threads)) == NULL) rc = TRAIN_NOMEM;
  if (rc == TRAIN_OK) {
    if (ie_all) {
      item_embed(m, cat->items, (int)cat->n_items, ie_all);
      sv.ie_all = ie_all;
    }
    team_run(team, serve_member, &sv);
  }
  team_free(team);
  for (int i = 0; i < made && sv.work; i++) {
    work_free(&sv.work[i]);
    free(sv.scores[i]);
    free(sv.heap_s[i]);
    free(sv.heap_i[i]);
  }
  free(sv.work);
  free(sv.scores);
  free(sv.heap_s);
  free(sv.heap_i);
  free(ie_all);
  return rc;
}
