/* dropoutnet.c - DropoutNet for user cold start (see dropoutnet.h). */
#include "dropoutnet.h"

/* The element-wise loops (BatchNorm, SGD) vectorise at O3;
** no-trapping-math changes no value. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-trapping-math")
#endif

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "feature_layout.h"
#include "team.h"
#include "rng.h"
#include "scaler.h"
#include "tiles.h"

#define MAX_WIDTH (1 << 16)
#define MAX_BATCH_PAIRS (1 << 20) /* B t + r: items of one batch */
#define INFER_CHUNK 256
#define PARAM_ALIGN 64
#define INIT_STD 0.01

/* ---- model ------------------------------------------------------------- */

static int shape_ok(const DropoutNetShape *s) {
  if (s->pref_dim < 1 || s->pref_dim > MAX_WIDTH || s->content_dim < 0 ||
      s->content_dim > MAX_WIDTH || s->content_scalars < 0 ||
      s->content_scalars > s->content_dim || s->n_hidden < 1 || s->n_hidden > DNET_MAX_HIDDEN ||
      s->output_dim < 1 || s->output_dim > MAX_WIDTH)
    return 0;
  for (int l = 0; l < s->n_hidden; l++)
    if (s->hidden[l] < 1 || s->hidden[l] > MAX_WIDTH) return 0;
  return 1;
}

/* Parameter and statistic floats of one tower with input width in. */
static void tower_counts(const DropoutNetShape *s, int in, size_t *np, size_t *ns) {
  size_t prev = (size_t)in;
  for (int l = 0; l < s->n_hidden; l++) {
    size_t h = (size_t)s->hidden[l];
    *np += prev * h + 2 * h;
    *ns += 2 * h;
    prev = h;
  }
  *np += prev * (size_t)s->output_dim + (size_t)s->output_dim;
}

/* Lays a tower's views over p (params) and q (stats); returns the floats
** used through *pp, *qq. */
static void tower_views(DnetTower *t, const DropoutNetShape *s, int in, float **pp, float **qq) {
  float *p = *pp, *q = *qq;
  t->n_hidden = s->n_hidden;
  t->dims[0] = in;
  for (int l = 0; l < s->n_hidden; l++) t->dims[l + 1] = s->hidden[l];
  t->dims[s->n_hidden + 1] = s->output_dim;
  for (int l = 0; l <= s->n_hidden; l++) {
    size_t din = (size_t)t->dims[l], dout = (size_t)t->dims[l + 1];
    t->W[l] = p;
    p += din * dout;
    if (l < s->n_hidden) {
      t->gamma[l] = p;
      p += dout;
      t->beta[l] = p;
      p += dout;
      t->run_mean[l] = q;
      q += dout;
      t->run_var[l] = q;
      q += dout;
    } else {
      t->bias = p;
      p += dout;
    }
  }
  *pp = p;
  *qq = q;
}

/* Weights from a normal of deviation INIT_STD truncated at 2 deviations
** (redrawn outside), as the original's init_weights. */
static void tower_init(DnetTower *t, Rng *r) {
  for (int l = 0; l <= t->n_hidden; l++) {
    size_t n = (size_t)t->dims[l] * (size_t)t->dims[l + 1];
    for (size_t i = 0; i < n; i++) {
      double z;
      do z = rng_normal(r);
      while (fabs(z) >= 2.0);
      t->W[l][i] = (float)(z * INIT_STD);
    }
    int h = t->dims[l + 1];
    if (l < t->n_hidden) {
      for (int j = 0; j < h; j++) {
        t->gamma[l][j] = 1.0f;
        t->beta[l][j] = 0.0f;
        t->run_mean[l][j] = 0.0f;
        t->run_var[l][j] = 1.0f;
      }
    } else {
      memset(t->bias, 0, (size_t)h * sizeof(float));
    }
  }
}

/* Trainable floats (*np) and statistics (*ns) of a model of shape s. */
static void model_counts(const DropoutNetShape *s, size_t *np, size_t *ns) {
  *np = *ns = 0;
  tower_counts(s, s->pref_dim + s->content_dim, np, ns);
  tower_counts(s, s->pref_dim, np, ns);
  *ns += 4 * (size_t)s->pref_dim + 2 * (size_t)s->content_scalars;
}

size_t dropoutnet_count_floats(const DropoutNetShape *s) {
  if (!shape_ok(s)) return 0;
  size_t np, ns;
  model_counts(s, &np, &ns);
  return np + ns;
}

int dropoutnet_init(DropoutNet *m, const DropoutNetShape *s, uint64_t seed) {
  memset(m, 0, sizeof *m);
  if (!shape_ok(s)) return TRAIN_BADARG;
  size_t np, ns;
  model_counts(s, &np, &ns);
  m->params = malloc(np * sizeof(float));
  m->stats = malloc(ns * sizeof(float));
  if (m->params == NULL || m->stats == NULL) {
    dropoutnet_free(m);
    return TRAIN_NOMEM;
  }
  m->shape = *s;
  m->n_params = np;
  m->n_stats = ns;
  float *p = m->params, *q = m->stats;
  tower_views(&m->user, s, s->pref_dim + s->content_dim, &p, &q);
  tower_views(&m->item, s, s->pref_dim, &p, &q);
  m->user_mean = q;
  m->user_scale = q + s->pref_dim;
  m->item_mean = q + 2 * (size_t)s->pref_dim;
  m->item_scale = q + 3 * (size_t)s->pref_dim;
  m->content_mean = q + 4 * (size_t)s->pref_dim;
  m->content_scale = m->content_mean + s->content_scalars;
  for (int j = 0; j < s->pref_dim; j++) {
    m->user_mean[j] = m->item_mean[j] = 0.0f;
    m->user_scale[j] = m->item_scale[j] = 1.0f;
  }
  for (int j = 0; j < s->content_scalars; j++) {
    m->content_mean[j] = 0.0f;
    m->content_scale[j] = 1.0f;
  }
  Rng r;
  rng_seed(&r, seed, DNET_RNG_INIT);
  tower_init(&m->user, &r);
  tower_init(&m->item, &r);
  return TRAIN_OK;
}

void dropoutnet_free(DropoutNet *m) {
  free(m->params);
  free(m->stats);
  memset(m, 0, sizeof *m);
}

/* ---- tensors ------------------------------------------------------------ */

static const char *const tensor_names[2][DNET_MAX_HIDDEN + 1][5] = {
#define LAYER(t, l)                                                                    \
  {t "." #l ".weight", t "." #l ".bn_weight", t "." #l ".bn_bias", t "." #l ".bn_running_mean", \
   t "." #l ".bn_running_var"}
#define TOWER(t) \
  {LAYER(t, 0), LAYER(t, 1), LAYER(t, 2), LAYER(t, 3), LAYER(t, 4), LAYER(t, 5), LAYER(t, 6), LAYER(t, 7), LAYER(t, 8)}
    TOWER("user"), TOWER("item")
#undef TOWER
#undef LAYER
};

int dropoutnet_max_tensors(void) { return 2 * (5 * DNET_MAX_HIDDEN + 2) + 6; }

static int tower_tensors(const DnetTower *t, int which, ParamTensor *out) {
  static const char *const out_names[2][2] = {{"user.out.weight", "user.out.bias"},
                                               {"item.out.weight", "item.out.bias"}};
  int n = 0;
  for (int l = 0; l < t->n_hidden; l++) {
    const char *const *nm = tensor_names[which][l];
    int h = t->dims[l + 1];
    out[n++] = (ParamTensor){nm[0], h, t->dims[l], t->W[l]};
    out[n++] = (ParamTensor){nm[1], h, 1, t->gamma[l]};
    out[n++] = (ParamTensor){nm[2], h, 1, t->beta[l]};
    out[n++] = (ParamTensor){nm[3], h, 1, t->run_mean[l]};
    out[n++] = (ParamTensor){nm[4], h, 1, t->run_var[l]};
  }
  int L = t->n_hidden;
  out[n++] = (ParamTensor){out_names[which][0], t->dims[L + 1], t->dims[L], t->W[L]};
  out[n++] = (ParamTensor){out_names[which][1], t->dims[L + 1], 1, t->bias};
  return n;
}

int dropoutnet_tensors(const DropoutNet *m, ParamTensor *t) {
  int n = tower_tensors(&m->user, 0, t);
  n += tower_tensors(&m->item, 1, t + n);
  int d = m->shape.pref_dim, cs = m->shape.content_scalars;
  t[n++] = (ParamTensor){"user_pref.mean", d, 1, m->user_mean};
  t[n++] = (ParamTensor){"user_pref.scale", d, 1, m->user_scale};
  t[n++] = (ParamTensor){"item_pref.mean", d, 1, m->item_mean};
  t[n++] = (ParamTensor){"item_pref.scale", d, 1, m->item_scale};
  if (cs > 0) {
    t[n++] = (ParamTensor){"content.mean", cs, 1, m->content_mean};
    t[n++] = (ParamTensor){"content.scale", cs, 1, m->content_scale};
  }
  return n;
}

int dropoutnet_load(DropoutNet *m, const DropoutNetShape *s, const ParamTensor *t, int n,
                    const char **bad) {
  if (bad) *bad = NULL;
  int rc = dropoutnet_init(m, s, 0);
  if (rc != TRAIN_OK) return rc;
  ParamTensor *own = malloc((size_t)dropoutnet_max_tensors() * sizeof *own);
  if (own == NULL) {
    dropoutnet_free(m);
    return TRAIN_NOMEM;
  }
  int nt = dropoutnet_tensors(m, own);
  rc = param_tensors_copy(own, nt, t, n, bad);
  /* A scale must be positive (it divides), a variance not negative. */
  for (int i = 0; i < nt && rc == TRAIN_OK; i++) {
    const char *nm = own[i].name;
    size_t len = strlen(nm);
    int is_scale = len > 6 && strcmp(nm + len - 6, ".scale") == 0;
    int is_var = len > 15 && strcmp(nm + len - 15, "bn_running_var") == 0;
    for (int j = 0; j < own[i].rows && (is_scale || is_var); j++) {
      if (is_scale ? !(own[i].data[j] > 0.0f) : own[i].data[j] < 0.0f) {
        if (bad) *bad = nm;
        rc = TRAIN_BADARG;
        break;
      }
    }
  }
  free(own);
  if (rc != TRAIN_OK) dropoutnet_free(m);
  return rc;
}

/* ---- inference ---------------------------------------------------------- */

static int tower_max_width(const DnetTower *t) {
  int w = 1;
  for (int l = 1; l <= t->n_hidden + 1; l++)
    if (t->dims[l] > w) w = t->dims[l];
  return w;
}

/* Inference pass of n <= INFER_CHUNK rows of X (dims[0] wide) into out;
** a and c are n x max width scratch. */
static void tower_forward_eval(const DnetTower *t, const float *X, int n, float *out, float *a,
                               float *c, float *scale) {
  const float *in = X;
  int L = t->n_hidden;
  for (int l = 0; l < L; l++) {
    int din = t->dims[l], h = t->dims[l + 1];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, h, din, 1.0f, in, din, t->W[l], din,
                0.0f, c, h);
    const float *g = t->gamma[l], *be = t->beta[l], *rm = t->run_mean[l], *rv = t->run_var[l];
    for (int j = 0; j < h; j++) scale[j] = g[j] / sqrtf(rv[j] + DNET_BN_EPS);
    for (int i = 0; i < n; i++) {
      float *r = c + (size_t)i * h;
      for (int j = 0; j < h; j++) r[j] = tanhf((r[j] - rm[j]) * scale[j] + be[j]);
    }
    float *tmp = a;
    a = c;
    c = tmp;
    in = a;
  }
  int h = t->dims[L], r = t->dims[L + 1];
  for (int i = 0; i < n; i++) memcpy(out + (size_t)i * r, t->bias, (size_t)r * sizeof(float));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, r, h, 1.0f, in, h, t->W[L], h, 1.0f,
              out, r);
}

/* The user tower's input row: standardised preference (zero when pref is
** NULL) and content with standardised trailing scalars. */
static void user_input(const DropoutNet *m, const float *pref, const float *content, float *x) {
  int d = m->shape.pref_dim, dc = m->shape.content_dim, cs = m->shape.content_scalars;
  if (pref) {
    memcpy(x, pref, (size_t)d * sizeof(float));
    scaler_apply(x, d, m->user_mean, m->user_scale);
  } else {
    memset(x, 0, (size_t)d * sizeof(float));
  }
  if (dc > 0) {
    memcpy(x + d, content, (size_t)dc * sizeof(float));
    if (cs > 0) scaler_apply(x + d + dc - cs, cs, m->content_mean, m->content_scale);
  }
}

static void item_input(const DropoutNet *m, const float *pref, float *x) {
  memcpy(x, pref, (size_t)m->shape.pref_dim * sizeof(float));
  scaler_apply(x, m->shape.pref_dim, m->item_mean, m->item_scale);
}

typedef struct {
  const DropoutNet *m;
  const DnetTower *t;
  const float *pref, *content;
  int64_t n;
  float *out;
  float *scratch; /* per member: chunk input, two activations, scale */
  size_t member_floats;
  int failed;
} Infer;

static void infer_member(void *arg, int id, int n) {
  Infer *in = arg;
  const DnetTower *t = in->t;
  int din = t->dims[0], w = tower_max_width(t), r = t->dims[t->n_hidden + 1];
  float *X = in->scratch + (size_t)id * in->member_floats;
  float *a = X + (size_t)INFER_CHUNK * din, *c = a + (size_t)INFER_CHUNK * w;
  float *scale = c + (size_t)INFER_CHUNK * w;
  int64_t chunks = (in->n + INFER_CHUNK - 1) / INFER_CHUNK;
  size_t lo, hi;
  team_share((size_t)chunks, 1, id, n, &lo, &hi);
  int dp = in->m->shape.pref_dim, dc = in->m->shape.content_dim;
  for (size_t ch = lo; ch < hi; ch++) {
    int64_t r0 = (int64_t)ch * INFER_CHUNK;
    int rows = (int)(in->n - r0 < INFER_CHUNK ? in->n - r0 : INFER_CHUNK);
    for (int i = 0; i < rows; i++) {
      int64_t u = r0 + i;
      if (t == &in->m->user)
        user_input(in->m, in->pref ? in->pref + u * dp : NULL,
                   dc ? in->content + u * dc : NULL, X + (size_t)i * din);
      else
        item_input(in->m, in->pref + u * dp, X + (size_t)i * din);
    }
    tower_forward_eval(t, X, rows, in->out + r0 * r, a, c, scale);
  }
}

static int run_inference(Infer *in, int threads) {
  if (in->n <= 0) return TRAIN_OK;
  int64_t chunks = (in->n + INFER_CHUNK - 1) / INFER_CHUNK;
  if (threads <= 0) threads = tiles_default_threads();
  if (threads > DNET_MAX_THREADS) threads = DNET_MAX_THREADS;
  if (threads > chunks) threads = (int)chunks;
  const DnetTower *t = in->t;
  int w = tower_max_width(t);
  in->member_floats = (size_t)INFER_CHUNK * ((size_t)t->dims[0] + 2 * (size_t)w) + (size_t)w;
  in->scratch = malloc((size_t)threads * in->member_floats * sizeof(float));
  Team *team = threads > 1 ? team_new(threads) : NULL;
  if (in->scratch == NULL || (threads > 1 && team == NULL)) {
    free(in->scratch);
    team_free(team);
    return TRAIN_NOMEM;
  }
  team_run(team, infer_member, in);
  team_free(team);
  free(in->scratch);
  return TRAIN_OK;
}

int dropoutnet_user_vectors(const DropoutNet *m, const float *pref, const float *content,
                            int64_t n, int threads, float *out) {
  Infer in = {m, &m->user, pref, content, n, out, NULL, 0, 0};
  return run_inference(&in, threads);
}

int dropoutnet_item_vectors(const DropoutNet *m, const float *pref, int64_t n, int threads,
                            float *out) {
  Infer in = {m, &m->item, pref, NULL, n, out, NULL, 0, 0};
  return run_inference(&in, threads);
}

/* ---- the training pass -------------------------------------------------- */

/* Training-mode activations of one tower for up to `rows` rows. */
typedef struct {
  int rows;                          /* rows of the current batch */
  const float *X;                    /* input, rows x dims[0] */
  float *A[DNET_MAX_HIDDEN];         /* linear output, then tanh output */
  float *xhat[DNET_MAX_HIDDEN];      /* normalised linear output */
  float *inv_std[DNET_MAX_HIDDEN];
  float *out;                        /* rows x output */
  float *dout;                       /* gradient of the loss w.r.t. out */
  float *d1, *d2;                    /* rows x max width */
} TowerState;

struct DnetTrainer {
  int max_users, max_items, threads;
  Team *team;
  float *grad, *mom;
  TowerState u, v;
  float *S;           /* B x M scores, then their gradient */
  const float *T;     /* B x M targets */
  double *row_loss;   /* B */
  double *acc1, *acc2; /* per-column sums of BatchNorm */
  double *acc_bias;    /* per-column sums of the output bias gradient */
  float *c1, *c2, *c3;
};

static void tower_state_free(TowerState *s) {
  for (int l = 0; l < DNET_MAX_HIDDEN; l++) {
    free(s->A[l]);
    free(s->xhat[l]);
    free(s->inv_std[l]);
  }
  free(s->out);
  free(s->dout);
  free(s->d1);
  free(s->d2);
}

static int tower_state_new(TowerState *s, const DnetTower *t, int rows) {
  memset(s, 0, sizeof *s);
  size_t R = (size_t)rows, w = (size_t)tower_max_width(t);
  int ok = 1;
  for (int l = 0; l < t->n_hidden && ok; l++) {
    size_t h = (size_t)t->dims[l + 1];
    s->A[l] = malloc(R * h * sizeof(float));
    s->xhat[l] = malloc(R * h * sizeof(float));
    s->inv_std[l] = malloc(h * sizeof(float));
    ok = s->A[l] && s->xhat[l] && s->inv_std[l];
  }
  size_t r = (size_t)t->dims[t->n_hidden + 1];
  s->out = malloc(R * r * sizeof(float));
  s->dout = malloc(R * r * sizeof(float));
  s->d1 = malloc(R * w * sizeof(float));
  s->d2 = malloc(R * w * sizeof(float));
  return ok && s->out && s->dout && s->d1 && s->d2;
}

void dnet_trainer_free(DnetTrainer *tr) {
  if (tr == NULL) return;
  team_free(tr->team);
  free(tr->grad);
  free(tr->mom);
  tower_state_free(&tr->u);
  tower_state_free(&tr->v);
  free(tr->S);
  free(tr->row_loss);
  free(tr->acc1);
  free(tr->acc2);
  free(tr->acc_bias);
  free(tr->c1);
  free(tr);
}

DnetTrainer *dnet_trainer_new(const DropoutNet *m, int max_users, int max_items, int threads) {
  if (max_users < 2 || max_items < 2 || threads < 0 || threads > DNET_MAX_THREADS) return NULL;
  DnetTrainer *tr = calloc(1, sizeof *tr);
  if (tr == NULL) return NULL;
  tr->max_users = max_users;
  tr->max_items = max_items;
  int ok = tower_state_new(&tr->u, &m->user, max_users);
  ok = tower_state_new(&tr->v, &m->item, max_items) && ok;
  int w = tower_max_width(&m->user);
  if (tower_max_width(&m->item) > w) w = tower_max_width(&m->item);
  tr->grad = calloc(m->n_params, sizeof(float));
  tr->mom = calloc(m->n_params, sizeof(float));
  tr->S = malloc((size_t)max_users * (size_t)max_items * sizeof(float));
  tr->row_loss = malloc((size_t)max_users * sizeof(double));
  tr->acc1 = malloc((size_t)w * sizeof(double));
  tr->acc2 = malloc((size_t)w * sizeof(double));
  tr->acc_bias = malloc((size_t)m->shape.output_dim * sizeof(double));
  tr->c1 = malloc(3 * (size_t)w * sizeof(float));
  ok = ok && tr->grad && tr->mom && tr->S && tr->row_loss && tr->acc1 && tr->acc2 &&
       tr->acc_bias && tr->c1;
  if (ok) {
    tr->c2 = tr->c1 + w;
    tr->c3 = tr->c2 + w;
    tr->threads = threads ? threads : tiles_default_threads();
    if (tr->threads > 1) {
      tr->team = team_new(tr->threads);
      if (tr->team == NULL) {
        if (threads > 1) ok = 0; /* asked for: fail; the default falls back to one */
        tr->threads = 1;
      }
    }
  }
  if (!ok) {
    dnet_trainer_free(tr);
    return NULL;
  }
  return tr;
}

int dnet_trainer_threads(const DnetTrainer *tr) { return tr->threads; }

const float *dnet_trainer_grad(const DnetTrainer *tr) { return tr->grad; }

/* BatchNorm (batch statistics) then tanh of columns [lo, hi) of hidden
** layer l: A[l] holds the linear output and receives the tanh output.
** Statistics in double, each column summed in row order. */
static void bn_tanh_forward(DnetTrainer *tr, const DnetTower *t, TowerState *s, int l,
                            int update_stats, int lo, int hi) {
  size_t h = (size_t)t->dims[l + 1];
  int B = s->rows;
  double *restrict mean = tr->acc1, *restrict var = tr->acc2;
  for (int j = lo; j < hi; j++) mean[j] = var[j] = 0.0;
  for (int i = 0; i < B; i++) {
    const float *restrict z = s->A[l] + (size_t)i * h;
    for (int j = lo; j < hi; j++) mean[j] += z[j];
  }
  for (int j = lo; j < hi; j++) mean[j] /= B;
  for (int i = 0; i < B; i++) {
    const float *restrict z = s->A[l] + (size_t)i * h;
    for (int j = lo; j < hi; j++) {
      double c = z[j] - mean[j];
      var[j] += c * c;
    }
  }
  float *restrict inv = s->inv_std[l], *restrict mf = tr->c1;
  for (int j = lo; j < hi; j++) {
    inv[j] = (float)(1.0 / sqrt(var[j] / B + DNET_BN_EPS));
    mf[j] = (float)mean[j];
    if (update_stats) {
      t->run_mean[l][j] = (1.0f - DNET_BN_MOMENTUM) * t->run_mean[l][j] +
                          DNET_BN_MOMENTUM * (float)mean[j];
      t->run_var[l][j] = (1.0f - DNET_BN_MOMENTUM) * t->run_var[l][j] +
                         DNET_BN_MOMENTUM * (float)(var[j] / (B - 1));
    }
  }
  const float *restrict g = t->gamma[l], *restrict be = t->beta[l];
  for (int i = 0; i < B; i++) {
    float *restrict z = s->A[l] + (size_t)i * h, *restrict x = s->xhat[l] + (size_t)i * h;
    for (int j = lo; j < hi; j++) {
      float xv = (z[j] - mf[j]) * inv[j];
      x[j] = xv;
      z[j] = tanhf(g[j] * xv + be[j]);
    }
  }
}

/* tanh then BatchNorm backward of columns [lo, hi) of hidden layer l: d
** holds the gradient w.r.t. the tanh output and receives the gradient
** w.r.t. the linear output; fills the gamma and beta gradients. */
static void bn_tanh_backward(DnetTrainer *tr, const DnetTower *t, TowerState *s, int l, float *d,
                             float *ggamma, float *gbeta, int lo, int hi) {
  size_t h = (size_t)t->dims[l + 1];
  int B = s->rows;
  double *restrict sdy = tr->acc1, *restrict sdyx = tr->acc2;
  for (int j = lo; j < hi; j++) sdy[j] = sdyx[j] = 0.0;
  for (int i = 0; i < B; i++) {
    float *restrict r = d + (size_t)i * h;
    const float *restrict a = s->A[l] + (size_t)i * h, *restrict x = s->xhat[l] + (size_t)i * h;
    for (int j = lo; j < hi; j++) {
      float dy = r[j] * (1.0f - a[j] * a[j]); /* through tanh */
      r[j] = dy;
      sdy[j] += dy;
      sdyx[j] += (double)dy * x[j];
    }
  }
  const float *restrict g = t->gamma[l], *restrict inv = s->inv_std[l];
  float *restrict c1 = tr->c1, *restrict c2 = tr->c2, *restrict c3 = tr->c3;
  for (int j = lo; j < hi; j++) {
    ggamma[j] = (float)sdyx[j];
    gbeta[j] = (float)sdy[j];
    c1[j] = g[j] * inv[j]; /* dz = c1 (dy - c2 - xhat c3) */
    c2[j] = (float)(sdy[j] / B);
    c3[j] = (float)(sdyx[j] / B);
  }
  for (int i = 0; i < B; i++) {
    float *restrict r = d + (size_t)i * h;
    const float *restrict x = s->xhat[l] + (size_t)i * h;
    for (int j = lo; j < hi; j++) r[j] = c1[j] * (r[j] - c2[j] - x[j] * c3[j]);
  }
}

/* Column sums of d (B x w) over [lo, hi) into gb.  Its own scratch: a
** member may reach the next layer's BatchNorm while another still sums. */
static void bias_grad(DnetTrainer *tr, const float *d, int B, int w, float *gb, int lo, int hi) {
  double *restrict acc = tr->acc_bias;
  for (int j = lo; j < hi; j++) acc[j] = 0.0;
  for (int i = 0; i < B; i++) {
    const float *restrict r = d + (size_t)i * w;
    for (int j = lo; j < hi; j++) acc[j] += r[j];
  }
  for (int j = lo; j < hi; j++) gb[j] = (float)acc[j];
}

typedef struct {
  DnetTrainer *tr;
  DropoutNet *m;
  int B, M, update_stats;
  double loss;
} Pass;

static float *grad_of(const DnetTrainer *tr, const DropoutNet *m, const float *p) {
  return tr->grad + (p - m->params);
}

/* The member's share of the backward pass of one tower from the gradient
** of its output (complete in s->dout); barriers between layers. */
static void tower_backward(DnetTrainer *tr, const DropoutNet *m, const DnetTower *t,
                           TowerState *s, Team *team, int id, int n) {
  int L = t->n_hidden, B = s->rows, r = t->dims[L + 1];
  Tiles tl = member_tiles(r, id, n);
  weight_grad_tiles(s->dout, B, r, s->A[L - 1], t->dims[L], grad_of(tr, m, t->W[L]), tl);
  bias_grad(tr, s->dout, B, r, grad_of(tr, m, t->bias), tl.lo, tl.hi);
  float *d = s->d1, *other = s->d2;
  tl = member_tiles(t->dims[L], id, n);
  input_grad_tiles(s->dout, B, r, t->W[L], t->dims[L], d, tl);
  for (int l = L - 1; l >= 0; l--) {
    int din = t->dims[l], h = t->dims[l + 1];
    bn_tanh_backward(tr, t, s, l, d, grad_of(tr, m, t->gamma[l]), grad_of(tr, m, t->beta[l]),
                     tl.lo, tl.hi);
    weight_grad_tiles(d, B, h, l ? s->A[l - 1] : s->X, din, grad_of(tr, m, t->W[l]), tl);
    if (l == 0) break;
    team_barrier(team);
    tl = member_tiles(din, id, n);
    input_grad_tiles(d, B, h, t->W[l], din, other, tl);
    float *tmp = d;
    d = other;
    other = tmp;
  }
}

static void pass_member(void *arg, int id, int n) {
  Pass *ps = arg;
  DnetTrainer *tr = ps->tr;
  DropoutNet *m = ps->m;
  Team *team = n > 1 ? tr->team : NULL;
  TowerState *su = &tr->u, *sv = &tr->v;
  const DnetTower *tu = &m->user, *tv = &m->item;
  int B = ps->B, M = ps->M, L = tu->n_hidden, r = m->shape.output_dim;
  /* Forward, both towers layer by layer, by output columns. */
  for (int l = 0; l <= L; l++) {
    for (int k = 0; k < 2; k++) {
      const DnetTower *t = k ? tv : tu;
      TowerState *s = k ? sv : su;
      int h = t->dims[l + 1];
      Tiles tl = member_tiles(h, id, n);
      const float *in = l ? s->A[l - 1] : s->X;
      if (l < L) {
        linear_tiles(in, s->rows, t->dims[l], t->W[l], NULL, h, s->A[l], tl);
        bn_tanh_forward(tr, t, s, l, ps->update_stats, tl.lo, tl.hi);
      } else {
        linear_tiles(in, s->rows, t->dims[l], t->W[l], t->bias, h, s->out, tl);
      }
    }
    team_barrier(team);
  }
  /* Scores S = U V^T by columns, then the loss and dS by rows. */
  linear_tiles(su->out, B, r, sv->out, NULL, M, tr->S, member_tiles(M, id, n));
  team_barrier(team);
  int lo, hi;
  tiles_share((size_t)B, 1, id, n, &lo, &hi);
  float scale = 2.0f / ((float)B * (float)M);
  for (int i = lo; i < hi; i++) {
    float *restrict s = tr->S + (size_t)i * M;
    const float *restrict t = tr->T + (size_t)i * M;
    double acc = 0.0;
    for (int j = 0; j < M; j++) {
      float e = s[j] - t[j];
      acc += (double)e * e;
      s[j] = scale * e;
    }
    tr->row_loss[i] = acc;
  }
  team_barrier(team);
  /* dU = dS V, dV = dS^T U. */
  input_grad_tiles(tr->S, B, M, sv->out, r, su->dout, member_tiles(r, id, n));
  weight_grad_tiles(tr->S, B, M, su->out, r, sv->dout, member_tiles(M, id, n));
  team_barrier(team);
  tower_backward(tr, m, tu, su, team, id, n);
  team_barrier(team); /* the towers' column scratch overlaps */
  tower_backward(tr, m, tv, sv, team, id, n);
  if (id == 0) {
    double loss = 0.0;
    for (int i = 0; i < B; i++) loss += tr->row_loss[i];
    ps->loss = loss / ((double)B * M);
  }
}

double dnet_loss_grad(DnetTrainer *tr, DropoutNet *m, const float *Xu, int B, const float *Xi,
                      int M, const float *T, int update_stats) {
  tr->u.X = Xu;
  tr->u.rows = B;
  tr->v.X = Xi;
  tr->v.rows = M;
  tr->T = T;
  Pass ps = {tr, m, B, M, update_stats, 0.0};
  team_run(tr->team, pass_member, &ps);
  return ps.loss;
}

typedef struct {
  DnetTrainer *tr;
  DropoutNet *m;
  float lr, momentum;
} Sgd;

static void sgd_member(void *arg, int id, int n) {
  Sgd *s = arg;
  size_t lo, hi;
  team_share(s->m->n_params, PARAM_ALIGN, id, n, &lo, &hi);
  float *restrict p = s->m->params, *restrict buf = s->tr->mom;
  const float *restrict g = s->tr->grad;
  const float mu = s->momentum, lr = s->lr;
  for (size_t i = lo; i < hi; i++) {
    buf[i] = mu * buf[i] + g[i];
    p[i] -= lr * buf[i];
  }
}

void dnet_sgd_step(DnetTrainer *tr, DropoutNet *m, double lr, double momentum) {
  Sgd s = {tr, m, (float)lr, (float)momentum};
  team_run(tr->team, sgd_member, &s);
}

/* ---- training ----------------------------------------------------------- */

void dropoutnet_default_options(DropoutNetOptions *o) {
  memset(o, 0, sizeof *o);
  o->n_hidden = 2;
  o->hidden[0] = 800;
  o->hidden[1] = 400;
  o->output_dim = 200;
  o->content_scalars = FEATURE_POSITIVE_SCALARS;
  o->epochs = 10;
  o->batch_users = 256;
  o->top_items = 100;
  o->top_per_user = 2;
  o->random_items = 256;
  o->dropout = 0.5;
  o->learning_rate = 0.005;
  o->momentum = 0.9;
  o->lr_decay = 0.1;
  o->decay_users = 50000;
  o->seed = 0;
  o->threads = 0;
}

const char *dropoutnet_check_options(const DropoutNetOptions *o, int64_t n_users,
                                     int64_t n_items) {
  if (o->n_hidden < 1 || o->n_hidden > DNET_MAX_HIDDEN) return "hidden must list 1 to 8 widths";
  for (int l = 0; l < o->n_hidden; l++)
    if (o->hidden[l] < 1 || o->hidden[l] > MAX_WIDTH) return "hidden widths must be between 1 and 65536";
  if (o->output_dim < 1 || o->output_dim > MAX_WIDTH) return "output_dim must be between 1 and 65536";
  if (o->content_scalars < 0) return "content_scalars must not be negative";
  if (o->epochs < 1 || o->epochs > 1000000) return "epochs must be between 1 and 1000000";
  if (o->batch_users < 2 || o->batch_users > 65536) return "batch_users must be between 2 and 65536";
  if (o->top_items < 1 || o->top_items > 65536) return "top_items must be between 1 and 65536";
  if (o->top_per_user < 1 || o->top_per_user > o->top_items)
    return "top_per_user must be between 1 and top_items";
  if (o->random_items < 0 || o->random_items > MAX_BATCH_PAIRS)
    return "random_items must be between 0 and 1048576";
  if ((int64_t)o->batch_users * o->top_per_user + o->random_items > MAX_BATCH_PAIRS)
    return "batch_users * top_per_user + random_items must be at most 1048576";
  if (!(o->dropout >= 0.0 && o->dropout <= 1.0)) return "dropout must be between 0 and 1";
  if (!(o->learning_rate > 0.0 && o->learning_rate < 1e6)) return "learning_rate must be positive";
  if (!(o->momentum >= 0.0 && o->momentum < 1.0)) return "momentum must be in [0, 1)";
  if (!(o->lr_decay > 0.0 && o->lr_decay <= 1.0)) return "lr_decay must be in (0, 1]";
  if (o->decay_users < 1) return "decay_users must be at least 1";
  if (o->threads < 0 || o->threads > DNET_MAX_THREADS) return "threads must be between 0 and 64";
  if (n_users < 2) return "training needs at least 2 users";
  if (n_users > INT32_MAX) return "too many users";
  if (n_items < 2) return "training needs at least 2 items";
  if (n_items > INT32_MAX) return "too many items";
  return NULL;
}

/* Floating-point operations of one tower pass (forward and backward) over
** rows rows. */
static double tower_flops(const DnetTower *t, int rows) {
  double f = 0.0;
  for (int l = 0; l <= t->n_hidden; l++) {
    double mac = (double)t->dims[l] * t->dims[l + 1];
    f += 2.0 * rows * mac * (l ? 3 : 2); /* forward, weight grad, input grad */
  }
  return f;
}

/* One batch's sampled rows, and where its tower inputs go. */
typedef struct {
  const DropoutNetData *data;
  const DropoutNet *m;
  DnetTrainer *tr;
  const uint32_t *users; /* B */
  const uint8_t *dropped;
  const int32_t *items;  /* M */
  int B, M;
  float *Xu, *Pu, *Xi, *Pi, *T;
} Batch;

/* Gathers the tower inputs by rows, then T = Pu Pi^T by columns. */
static void batch_member(void *arg, int id, int n) {
  Batch *b = arg;
  const DropoutNetData *dt = b->data;
  int d = dt->pref_dim, dc = dt->content_dim, lo, hi;
  size_t wu = (size_t)d + (size_t)dc;
  tiles_share((size_t)b->B, 1, id, n, &lo, &hi);
  for (int i = lo; i < hi; i++) {
    int64_t u = b->users[i];
    const float *pref = dt->user_pref + u * d;
    user_input(b->m, b->dropped[i] ? NULL : pref, dc ? dt->user_content + u * dc : NULL,
               b->Xu + (size_t)i * wu);
    memcpy(b->Pu + (size_t)i * d, pref, (size_t)d * sizeof(float));
  }
  tiles_share((size_t)b->M, 1, id, n, &lo, &hi);
  for (int j = lo; j < hi; j++) {
    const float *pref = dt->item_pref + (int64_t)b->items[j] * d;
    item_input(b->m, pref, b->Xi + (size_t)j * d);
    memcpy(b->Pi + (size_t)j * d, pref, (size_t)d * sizeof(float));
  }
  team_barrier(n > 1 ? b->tr->team : NULL);
  linear_tiles(b->Pu, b->B, d, b->Pi, NULL, b->M, b->T, member_tiles(b->M, id, n));
}

/* Adds item i to the batch's list unless it is there already. */
static void add_item(int32_t i, int64_t serial, int64_t *stamp, int32_t *items, int *M) {
  if (stamp[i] == serial) return;
  stamp[i] = serial;
  items[(*M)++] = i;
}

int dropoutnet_train(const DropoutNetData *dt, const DropoutNetOptions *o,
                     const TrainCallbacks *cb, DropoutNet *m, TrainReport *rep) {
  memset(m, 0, sizeof *m);
  if (dropoutnet_check_options(o, dt->n_users, dt->n_items) != NULL || dt->pref_dim < 1 ||
      dt->content_dim < 0 || o->content_scalars > dt->content_dim || dt->user_pref == NULL ||
      dt->item_pref == NULL || (dt->content_dim > 0 && dt->user_content == NULL))
    return TRAIN_BADARG;
  double t_start = train_now();
  DropoutNetShape shape = {dt->pref_dim, dt->content_dim, o->content_scalars, o->n_hidden, {0},
                           o->output_dim};
  memcpy(shape.hidden, o->hidden, sizeof shape.hidden);
  int rc = dropoutnet_init(m, &shape, o->seed);
  if (rc != TRAIN_OK) return rc;

  int d = dt->pref_dim, dc = dt->content_dim;
  int B = o->batch_users < dt->n_users ? o->batch_users : (int)dt->n_users;
  int K = o->top_items < dt->n_items ? o->top_items : (int)dt->n_items;
  int tk = o->top_per_user < K ? o->top_per_user : K;
  int64_t mm = (int64_t)(B + 1) * tk + o->random_items;
  int max_m = (int)(mm < dt->n_items ? mm : dt->n_items);
  if (max_m < 2) max_m = 2;
  size_t wu = (size_t)d + (size_t)dc;
  int32_t *top = malloc((size_t)dt->n_users * (size_t)K * sizeof(int32_t));
  uint32_t *order = malloc((size_t)dt->n_users * sizeof(uint32_t));
  int64_t *stamp = malloc((size_t)dt->n_items * sizeof(int64_t));
  int32_t *items = malloc((size_t)max_m * sizeof(int32_t));
  uint32_t *pick = malloc((size_t)(K > B + 1 ? K : B + 1) * sizeof(uint32_t));
  uint8_t *dropped = malloc((size_t)B + 1);
  float *Xu = malloc((size_t)(B + 1) * wu * sizeof(float));
  float *Pu = malloc((size_t)(B + 1) * (size_t)d * sizeof(float));
  float *Xi = malloc((size_t)max_m * (size_t)d * sizeof(float));
  float *Pi = malloc((size_t)max_m * (size_t)d * sizeof(float));
  float *T = malloc((size_t)(B + 1) * (size_t)max_m * sizeof(float));
  DnetTrainer *tr = NULL;
  if (!top || !order || !stamp || !items || !pick || !dropped || !Xu || !Pu || !Xi || !Pi || !T) {
    rc = TRAIN_NOMEM;
    goto done;
  }
  if (scaler_fit(dt->user_pref, dt->n_users, d, 0, d, m->user_mean, m->user_scale) ||
      scaler_fit(dt->item_pref, dt->n_items, d, 0, d, m->item_mean, m->item_scale) ||
      (o->content_scalars > 0 &&
       scaler_fit(dt->user_content, dt->n_users, dc, dc - o->content_scalars, o->content_scalars,
                  m->content_mean, m->content_scale))) {
    rc = TRAIN_NOMEM;
    goto done;
  }
  rc = train_top_items(dt->user_pref, dt->n_users, dt->item_pref, dt->n_items, d, K, cb, top);
  if (rc != TRAIN_OK) goto done;
  double t_prep = train_now();
  tr = dnet_trainer_new(m, B + 1, max_m, o->threads);
  if (tr == NULL) {
    rc = TRAIN_NOMEM;
    goto done;
  }
  for (int64_t i = 0; i < dt->n_users; i++) order[i] = (uint32_t)i;
  for (int64_t i = 0; i < dt->n_items; i++) stamp[i] = -1;
  Rng rng;
  rng_seed(&rng, o->seed, DNET_RNG_TRAIN);
  int64_t serial = 0, users_seen = 0;
  double flops = 0.0, loss_mean = 0.0;
  int epoch = 0;
  for (; epoch < o->epochs; epoch++) {
    double t_epoch = train_now(), loss_sum = 0.0;
    int64_t batches = 0;
    rng_shuffle(&rng, order, (uint32_t)dt->n_users);
    for (int64_t b0 = 0; b0 < dt->n_users; b0 += B) {
      if (train_stop_requested(cb)) {
        rc = TRAIN_STOPPED;
        goto done;
      }
      int Bb = dt->n_users - b0 < B ? (int)(dt->n_users - b0) : B;
      if (dt->n_users - b0 - Bb == 1) Bb++; /* BatchNorm needs two rows */
      const uint32_t *users = order + b0;
      /* Users whose preference vector is dropped: a random subset. */
      int n_drop = (int)floor(o->dropout * Bb);
      for (int i = 0; i < Bb; i++) {
        pick[i] = (uint32_t)i;
        dropped[i] = 0;
      }
      for (int i = 0; i < n_drop; i++) {
        uint32_t j = (uint32_t)i + (uint32_t)rng_below(&rng, (uint64_t)(Bb - i));
        uint32_t t = pick[i];
        pick[i] = pick[j];
        pick[j] = t;
        dropped[pick[i]] = 1;
      }
      /* Items: tk of each user's top K, then random ones, each once. */
      int M = 0;
      serial++;
      for (int i = 0; i < Bb; i++) {
        const int32_t *ut = top + (size_t)users[i] * K;
        for (int j = 0; j < K; j++) pick[j] = (uint32_t)j;
        for (int j = 0; j < tk; j++) {
          uint32_t s = (uint32_t)j + (uint32_t)rng_below(&rng, (uint64_t)(K - j));
          uint32_t t = pick[j];
          pick[j] = pick[s];
          pick[s] = t;
          add_item(ut[pick[j]], serial, stamp, items, &M);
        }
      }
      for (int j = 0; j < o->random_items && M < max_m; j++)
        add_item((int32_t)rng_below(&rng, (uint64_t)dt->n_items), serial, stamp, items, &M);
      while (M < 2) add_item((int32_t)rng_below(&rng, (uint64_t)dt->n_items), serial, stamp, items, &M);

      Batch bt = {dt, m, tr, users, dropped, items, Bb, M, Xu, Pu, Xi, Pi, T};
      team_run(tr->team, batch_member, &bt);
      double loss = dnet_loss_grad(tr, m, Xu, Bb, Xi, M, T, 1);
      if (!isfinite(loss)) {
        rc = TRAIN_DIVERGED;
        goto done;
      }
      double lr = o->learning_rate * pow(o->lr_decay, (double)(users_seen / o->decay_users));
      dnet_sgd_step(tr, m, lr, o->momentum);
      users_seen += Bb;
      loss_sum += loss;
      batches++;
      flops += tower_flops(&m->user, Bb) + tower_flops(&m->item, M) +
               2.0 * Bb * M * ((double)d + 3.0 * o->output_dim);
      b0 += Bb - B; /* a merged last row */
    }
    loss_mean = loss_sum / (double)batches;
    if (train_epoch_done(cb, epoch + 1, loss_mean, t_epoch)) {
      rc = TRAIN_STOPPED;
      goto done;
    }
  }
  train_report(rep, epoch, loss_mean, t_start, t_prep,
               2.0 * (double)dt->n_users * (double)dt->n_items * (d + 1), flops);
done:
  dnet_trainer_free(tr);
  free(top);
  free(order);
  free(stamp);
  free(items);
  free(pick);
  free(dropped);
  free(Xu);
  free(Pu);
  free(Xi);
  free(Pi);
  free(T);
  if (rc != TRAIN_OK) dropoutnet_free(m);
  return rc;
}
