/* mlp.c - the user embedder network, its training pass and Adam (see mlp.h). */
#include "mlp.h"

/* The element-wise loops (BatchNorm, Adam) are a sizeable share of an
** epoch; let GCC vectorise them, with sqrtf as one instruction. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno")
#endif

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define ADAM_BETA1 0.9
#define ADAM_BETA2 0.999
#define ADAM_EPS 1e-8f
#define NORM_FLOOR 1e-12f
#define INFER_CHUNK 256

/* Parameter and statistic counts, with overflow checks (0 when invalid). */
size_t mlp_count_params(int n_layers, const int *dims, size_t *n_stats) {
  size_t np = 0, ns = 0;
  if (n_layers < 1 || n_layers > MLP_MAX_LAYERS) return 0;
  for (int l = 0; l <= n_layers; l++) {
    if (dims[l] < 1) return 0;
  }
  for (int l = 0; l < n_layers; l++) {
    size_t in = (size_t)dims[l], out = (size_t)dims[l + 1];
    if (in > SIZE_MAX / 4 / out) return 0;
    size_t layer = in * out + out;
    if (l < n_layers - 1) {
      layer += 2 * out;
      ns += 2 * out;
    }
    if (np > SIZE_MAX / 8 - layer) return 0;
    np += layer;
  }
  if (n_stats) *n_stats = ns;
  return np;
}

int mlp_init(Mlp *net, int n_layers, const int *dims, uint64_t seed) {
  memset(net, 0, sizeof *net);
  size_t ns = 0;
  size_t np = mlp_count_params(n_layers, dims, &ns);
  if (np == 0) return -2;
  net->n_layers = n_layers;
  memcpy(net->dims, dims, (size_t)(n_layers + 1) * sizeof *dims);
  net->params = malloc(np * sizeof(float));
  net->stats = malloc((ns ? ns : 1) * sizeof(float));
  if (net->params == NULL || net->stats == NULL) {
    mlp_free(net);
    return -1;
  }
  net->n_params = np;
  net->n_stats = ns;
  Rng rng;
  rng_seed(&rng, seed, MLP_RNG_STREAM);
  float *p = net->params, *s = net->stats;
  for (int l = 0; l < n_layers; l++) {
    size_t in = (size_t)dims[l], out = (size_t)dims[l + 1];
    /* nn.Linear: kaiming_uniform(a = sqrt(5)) gives bound 1/sqrt(fan_in)
    ** for the weights; the bias uses the same bound. */
    double bound = 1.0 / sqrt((double)in);
    net->W[l] = p;
    for (size_t i = 0; i < in * out; i++) p[i] = (float)((2.0 * rng_uniform(&rng) - 1.0) * bound);
    p += in * out;
    net->b[l] = p;
    for (size_t i = 0; i < out; i++) p[i] = (float)((2.0 * rng_uniform(&rng) - 1.0) * bound);
    p += out;
    if (l < n_layers - 1) {
      net->gamma[l] = p;
      for (size_t i = 0; i < out; i++) p[i] = 1.0f;
      p += out;
      net->beta[l] = p;
      for (size_t i = 0; i < out; i++) p[i] = 0.0f;
      p += out;
      net->run_mean[l] = s;
      for (size_t i = 0; i < out; i++) s[i] = 0.0f;
      s += out;
      net->run_var[l] = s;
      for (size_t i = 0; i < out; i++) s[i] = 1.0f;
      s += out;
    }
  }
  return 0;
}

void mlp_free(Mlp *net) {
  free(net->params);
  free(net->stats);
  memset(net, 0, sizeof *net);
}

int mlp_set_input_blocks(Mlp *net, int block_size, int n_blocks) {
  if (block_size <= 0 || n_blocks <= 0) {
    net->block_size = net->n_blocks = 0;
    return 0;
  }
  if (n_blocks > MLP_MAX_BLOCKS || (int64_t)block_size * n_blocks > net->dims[0]) {
    net->block_size = net->n_blocks = 0;
    return -2;
  }
  net->block_size = block_size;
  net->n_blocks = n_blocks;
  return 0;
}

static uint64_t row_mask(const float *x, int block_size, int n_blocks) {
  uint64_t mask = 0;
  for (int g = 0; g < n_blocks; g++) {
    const float *blk = x + (size_t)g * (size_t)block_size;
    for (int j = 0; j < block_size; j++) {
      if (blk[j] != 0.0f) {
        mask |= (uint64_t)1 << g;
        break;
      }
    }
  }
  return mask;
}

void mlp_block_masks(const Mlp *net, const float *X, int64_t n, uint64_t *masks) {
  size_t in = (size_t)net->dims[0];
  for (int64_t i = 0; i < n; i++) {
    masks[i] = net->n_blocks ? row_mask(X + (size_t)i * in, net->block_size, net->n_blocks) : 0;
  }
}

static int max_width(const Mlp *net) {
  int m = 1;
  for (int l = 1; l <= net->n_layers; l++) {
    if (net->dims[l] > m) m = net->dims[l];
  }
  return m;
}

/* Scales each of the n rows of z (d wide) to unit length, storing the
** (floored) norms in norms when not NULL. */
static void normalize_rows(float *z, int n, int d, float *norms) {
  for (int i = 0; i < n; i++) {
    float *r = z + (size_t)i * (size_t)d;
    double ss = 0.0;
    for (int j = 0; j < d; j++) ss += (double)r[j] * r[j];
    float nrm = (float)sqrt(ss);
    if (nrm < NORM_FLOOR) nrm = NORM_FLOOR;
    float inv = 1.0f / nrm;
    for (int j = 0; j < d; j++) r[j] *= inv;
    if (norms) norms[i] = nrm;
  }
}

/* out (n x dout) = in (n x din) W^T + b. */
static void linear(const float *in, int n, int din, const float *W, const float *b,
                   int dout, float *out) {
  for (int i = 0; i < n; i++) memcpy(out + (size_t)i * dout, b, (size_t)dout * sizeof(float));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, dout, din, 1.0f, in, din,
              W, din, 1.0f, out, dout);
}

int mlp_forward(const Mlp *net, const float *X, int64_t n, float *out) {
  int mw = max_width(net);
  size_t chunk = n < INFER_CHUNK ? (size_t)(n > 0 ? n : 1) : INFER_CHUNK;
  float *a = malloc(chunk * mw * sizeof(float));
  float *c = malloc(chunk * mw * sizeof(float));
  float *scale = malloc((size_t)mw * sizeof(float));
  if (a == NULL || c == NULL || scale == NULL) {
    free(a);
    free(c);
    free(scale);
    return -1;
  }
  int L = net->n_layers, din0 = net->dims[0], dout = net->dims[L];
  for (int64_t r0 = 0; r0 < n; r0 += INFER_CHUNK) {
    int m = (int)(n - r0 < INFER_CHUNK ? n - r0 : INFER_CHUNK);
    const float *in = X + (size_t)r0 * (size_t)din0;
    for (int l = 0; l < L; l++) {
      int di = net->dims[l], dn = net->dims[l + 1];
      float *dst = l == L - 1 ? out + (size_t)r0 * (size_t)dout : c;
      linear(in, m, di, net->W[l], net->b[l], dn, dst);
      if (l < L - 1) {
        const float *g = net->gamma[l], *be = net->beta[l];
        const float *rm = net->run_mean[l], *rv = net->run_var[l];
        for (int j = 0; j < dn; j++) scale[j] = g[j] / sqrtf(rv[j] + MLP_BN_EPS);
        for (int i = 0; i < m; i++) {
          float *r = dst + (size_t)i * dn;
          for (int j = 0; j < dn; j++) {
            float v = r[j] > 0.0f ? r[j] : 0.0f;
            r[j] = (v - rm[j]) * scale[j] + be[j];
          }
        }
        float *t = a;
        a = c;
        c = t;
        in = a;
      }
    }
    normalize_rows(out + (size_t)r0 * (size_t)dout, m, dout, NULL);
  }
  free(a);
  free(c);
  free(scale);
  return 0;
}

/* ---- training ---------------------------------------------------------- */

/* A column range of the input, gathered compactly for the rows of the
** batch where it is nonzero (all rows when it is dense). */
typedef struct {
  int col0, ncols, block; /* block -1: dense, always gathered */
  float *buf;             /* count x ncols */
  int *rows;              /* batch positions of the gathered rows */
  int count;
} Segment;

struct MlpTrainer {
  int max_batch;
  float lr, wd;
  int64_t step;
  float *grad, *m, *v;
  float *A[MLP_MAX_LAYERS];    /* hidden: ReLU output */
  float *xhat[MLP_MAX_LAYERS]; /* hidden: normalised activations */
  float *Y[MLP_MAX_LAYERS];    /* layer output (last: unit rows) */
  float *inv_std[MLP_MAX_LAYERS];
  float *norm;                 /* output row norms */
  float *d1, *d2;              /* backprop buffers, B x max width */
  float *ptmp;                 /* B x dims[1] (>= 3 max width) scratch */
  double *acc1, *acc2;         /* per-column sums */
  float *xin;                  /* the gathered input segments */
  int *seg_rows;
  int n_seg;
  Segment seg[MLP_MAX_BLOCKS + 1];
};

void mlp_trainer_free(MlpTrainer *tr) {
  if (tr == NULL) return;
  free(tr->grad);
  free(tr->m);
  free(tr->v);
  for (int l = 0; l < MLP_MAX_LAYERS; l++) {
    free(tr->A[l]);
    free(tr->xhat[l]);
    free(tr->Y[l]);
    free(tr->inv_std[l]);
  }
  free(tr->norm);
  free(tr->d1);
  free(tr->d2);
  free(tr->ptmp);
  free(tr->acc1);
  free(tr->acc2);
  free(tr->xin);
  free(tr->seg_rows);
  free(tr);
}

MlpTrainer *mlp_trainer_new(const Mlp *net, int max_batch, float lr, float weight_decay) {
  if (max_batch < 2) return NULL;
  MlpTrainer *tr = calloc(1, sizeof *tr);
  if (tr == NULL) return NULL;
  tr->max_batch = max_batch;
  tr->lr = lr;
  tr->wd = weight_decay;
  size_t B = (size_t)max_batch, np = net->n_params;
  int L = net->n_layers, mw = max_width(net), in = net->dims[0];
  int ok = 1;
  tr->grad = calloc(np, sizeof(float));
  tr->m = calloc(np, sizeof(float));
  tr->v = calloc(np, sizeof(float));
  ok = tr->grad && tr->m && tr->v;
  for (int l = 0; l < L && ok; l++) {
    size_t w = (size_t)net->dims[l + 1];
    tr->Y[l] = malloc(B * w * sizeof(float));
    ok = tr->Y[l] != NULL;
    if (l < L - 1 && ok) {
      tr->A[l] = malloc(B * w * sizeof(float));
      tr->xhat[l] = malloc(B * w * sizeof(float));
      tr->inv_std[l] = malloc(w * sizeof(float));
      ok = tr->A[l] && tr->xhat[l] && tr->inv_std[l];
    }
  }
  if (ok) {
    tr->norm = malloc(B * sizeof(float));
    tr->d1 = malloc(B * (size_t)mw * sizeof(float));
    tr->d2 = malloc(B * (size_t)mw * sizeof(float));
    size_t pt = B * (size_t)net->dims[1];
    if (pt < 3 * (size_t)mw) pt = 3 * (size_t)mw;
    tr->ptmp = malloc(pt * sizeof(float));
    tr->acc1 = malloc((size_t)mw * sizeof(double));
    tr->acc2 = malloc((size_t)mw * sizeof(double));
    tr->xin = malloc(B * (size_t)in * sizeof(float));
    ok = tr->norm && tr->d1 && tr->d2 && tr->ptmp && tr->acc1 && tr->acc2 && tr->xin;
  }
  if (ok) {
    tr->seg_rows = malloc((size_t)(MLP_MAX_BLOCKS + 1) * B * sizeof(int));
    ok = tr->seg_rows != NULL;
  }
  if (!ok) {
    mlp_trainer_free(tr);
    return NULL;
  }
  mlp_trainer_plan(tr, net, 0);
  return tr;
}

void mlp_trainer_plan(MlpTrainer *tr, const Mlp *net, uint64_t always) {
  /* Input segments: one per block that may be zero; runs of columns that
  ** are always gathered (dense blocks, the tail) merge into one segment so
  ** their product is one wider sgemm. */
  int bs = net->block_size, nb = net->n_blocks, in = net->dims[0];
  size_t B = (size_t)tr->max_batch;
  tr->n_seg = 0;
  for (int c = 0; c < in;) {
    int g = c / (bs ? bs : 1);
    int sparse = nb && g < nb && !((always >> g) & 1);
    int end = sparse ? c + bs : (nb && g < nb ? c + bs : in);
    if (!sparse && tr->n_seg > 0 && tr->seg[tr->n_seg - 1].block < 0) {
      tr->seg[tr->n_seg - 1].ncols += end - c;
    } else {
      tr->seg[tr->n_seg++] = (Segment){c, end - c, sparse ? g : -1, NULL, NULL, 0};
    }
    c = end;
  }
  float *p = tr->xin;
  for (int s = 0; s < tr->n_seg; s++) {
    tr->seg[s].buf = p;
    p += B * (size_t)tr->seg[s].ncols;
    tr->seg[s].rows = tr->seg_rows + (size_t)s * B;
  }
}

uint64_t mlp_always_blocks(const Mlp *net, const uint64_t *masks, int64_t n) {
  if (net->n_blocks == 0) return 0;
  uint64_t all = net->n_blocks >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << net->n_blocks) - 1);
  for (int64_t i = 0; i < n && all; i++) all &= masks[i];
  return all;
}

const float *mlp_trainer_grad(const MlpTrainer *tr) { return tr->grad; }

/* Gathers the batch's input rows into the segments, skipping zero blocks. */
static void gather_input(MlpTrainer *tr, const Mlp *net, const float *X,
                         const uint64_t *masks, const uint32_t *rows, int B) {
  size_t in = (size_t)net->dims[0];
  for (int s = 0; s < tr->n_seg; s++) tr->seg[s].count = 0;
  for (int i = 0; i < B; i++) {
    const float *x = X + (size_t)rows[i] * in;
    uint64_t mk = 0;
    if (net->n_blocks) mk = masks ? masks[rows[i]] : row_mask(x, net->block_size, net->n_blocks);
    for (int s = 0; s < tr->n_seg; s++) {
      Segment *sg = &tr->seg[s];
      if (sg->block >= 0 && !((mk >> sg->block) & 1)) continue;
      memcpy(sg->buf + (size_t)sg->count * sg->ncols, x + sg->col0,
             (size_t)sg->ncols * sizeof(float));
      sg->rows[sg->count++] = i;
    }
  }
}

/* First layer forward: out (B x dims[1]) = X W0^T + b0 over the segments. */
static void first_forward(MlpTrainer *tr, const Mlp *net, int B, float *out) {
  int in = net->dims[0], dout = net->dims[1];
  const float *W = net->W[0];
  for (int i = 0; i < B; i++) memcpy(out + (size_t)i * dout, net->b[0], (size_t)dout * sizeof(float));
  for (int s = 0; s < tr->n_seg; s++) {
    Segment *sg = &tr->seg[s];
    if (sg->count == 0) continue;
    if (sg->count == B) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, dout, sg->ncols, 1.0f,
                  sg->buf, sg->ncols, W + sg->col0, in, 1.0f, out, dout);
      continue;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, sg->count, dout, sg->ncols, 1.0f,
                sg->buf, sg->ncols, W + sg->col0, in, 0.0f, tr->ptmp, dout);
    for (int k = 0; k < sg->count; k++) {
      float *dst = out + (size_t)sg->rows[k] * dout;
      const float *src = tr->ptmp + (size_t)k * dout;
      for (int j = 0; j < dout; j++) dst[j] += src[j];
    }
  }
}

/* First layer weight gradient from dZ (B x dims[1]) into gW (dims[1] x in). */
static void first_backward(MlpTrainer *tr, const Mlp *net, int B, const float *dZ, float *gW) {
  int in = net->dims[0], dout = net->dims[1];
  for (int s = 0; s < tr->n_seg; s++) {
    Segment *sg = &tr->seg[s];
    if (sg->count == 0) {
      for (int r = 0; r < dout; r++) memset(gW + (size_t)r * in + sg->col0, 0, (size_t)sg->ncols * sizeof(float));
      continue;
    }
    const float *dz = dZ;
    if (sg->count < B) {
      for (int k = 0; k < sg->count; k++) {
        memcpy(tr->ptmp + (size_t)k * dout, dZ + (size_t)sg->rows[k] * dout, (size_t)dout * sizeof(float));
      }
      dz = tr->ptmp;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dout, sg->ncols, sg->count, 1.0f,
                dz, dout, sg->buf, sg->ncols, 0.0f, gW + sg->col0, in);
  }
}

static void column_sums(const float *M, int n, int d, double *acc) {
  for (int j = 0; j < d; j++) acc[j] = 0.0;
  for (int i = 0; i < n; i++) {
    const float *r = M + (size_t)i * d;
    for (int j = 0; j < d; j++) acc[j] += r[j];
  }
}

/* ReLU then BatchNorm (batch statistics) of layer l, in place in A[l]. */
static void hidden_forward(MlpTrainer *tr, Mlp *net, int l, int B, int update_stats) {
  int d = net->dims[l + 1];
  float *A = tr->A[l], *xh = tr->xhat[l], *Y = tr->Y[l], *inv = tr->inv_std[l];
  double *mean = tr->acc1, *var = tr->acc2;
  size_t n = (size_t)B * d;
  for (size_t i = 0; i < n; i++) A[i] = A[i] > 0.0f ? A[i] : 0.0f;
  column_sums(A, B, d, mean);
  for (int j = 0; j < d; j++) {
    mean[j] /= B;
    var[j] = 0.0;
  }
  for (int i = 0; i < B; i++) {
    const float *r = A + (size_t)i * d;
    for (int j = 0; j < d; j++) {
      double c = r[j] - mean[j];
      var[j] += c * c;
    }
  }
  const float *g = net->gamma[l], *be = net->beta[l];
  for (int j = 0; j < d; j++) {
    double v = var[j] / B;
    inv[j] = (float)(1.0 / sqrt(v + MLP_BN_EPS));
    if (update_stats) {
      net->run_mean[l][j] = (1.0f - MLP_BN_MOMENTUM) * net->run_mean[l][j] + MLP_BN_MOMENTUM * (float)mean[j];
      net->run_var[l][j] = (1.0f - MLP_BN_MOMENTUM) * net->run_var[l][j] +
                           MLP_BN_MOMENTUM * (float)(var[j] / (B - 1));
    }
  }
  float *mf = tr->ptmp; /* means as floats, for a vectorisable loop */
  for (int j = 0; j < d; j++) mf[j] = (float)mean[j];
  for (int i = 0; i < B; i++) {
    const float *r = A + (size_t)i * d;
    float *x = xh + (size_t)i * d, *y = Y + (size_t)i * d;
    for (int j = 0; j < d; j++) {
      x[j] = (r[j] - mf[j]) * inv[j];
      y[j] = g[j] * x[j] + be[j];
    }
  }
}

/* BatchNorm then ReLU backward of layer l: dY (in d) becomes dZ in place;
** fills the gamma/beta gradients. */
static void hidden_backward(MlpTrainer *tr, const Mlp *net, int l, int B, float *d,
                            float *ggamma, float *gbeta) {
  int w = net->dims[l + 1];
  const float *xh = tr->xhat[l], *A = tr->A[l], *inv = tr->inv_std[l], *g = net->gamma[l];
  double *sdy = tr->acc1, *sdyx = tr->acc2;
  column_sums(d, B, w, sdy);
  for (int j = 0; j < w; j++) sdyx[j] = 0.0;
  for (int i = 0; i < B; i++) {
    const float *r = d + (size_t)i * w, *x = xh + (size_t)i * w;
    for (int j = 0; j < w; j++) sdyx[j] += (double)r[j] * x[j];
  }
  float *c1 = tr->ptmp, *c2 = tr->ptmp + w, *c3 = tr->ptmp + 2 * w;
  for (int j = 0; j < w; j++) {
    ggamma[j] = (float)sdyx[j];
    gbeta[j] = (float)sdy[j];
    c1[j] = g[j] * inv[j];            /* dA = c1 (dY - c2 - xhat c3) */
    c2[j] = (float)(sdy[j] / B);
    c3[j] = (float)(sdyx[j] / B);
  }
  for (int i = 0; i < B; i++) {
    float *r = d + (size_t)i * w;
    const float *x = xh + (size_t)i * w, *a = A + (size_t)i * w;
    for (int j = 0; j < w; j++) {
      float da = c1[j] * (r[j] - c2[j] - x[j] * c3[j]);
      r[j] = a[j] > 0.0f ? da : 0.0f;
    }
  }
}

double mlp_loss_grad(MlpTrainer *tr, Mlp *net, const float *X, const uint64_t *masks,
                     const float *T, const uint32_t *rows, int B, int update_stats) {
  int L = net->n_layers, dout = net->dims[L];
  gather_input(tr, net, X, masks, rows, B);
  /* Forward. */
  for (int l = 0; l < L; l++) {
    float *z = l < L - 1 ? tr->A[l] : tr->Y[l];
    if (l == 0) {
      first_forward(tr, net, B, z);
    } else {
      linear(tr->Y[l - 1], B, net->dims[l], net->W[l], net->b[l], net->dims[l + 1], z);
    }
    if (l < L - 1) hidden_forward(tr, net, l, B, update_stats);
  }
  float *y = tr->Y[L - 1];
  normalize_rows(y, B, dout, tr->norm);
  /* Loss and its gradient with respect to the output rows. */
  double loss = 0.0;
  float *d = tr->d1, *other = tr->d2;
  float scale = 2.0f / ((float)B * (float)dout);
  for (int i = 0; i < B; i++) {
    const float *t = T + (size_t)rows[i] * dout, *yi = y + (size_t)i * dout;
    float *di = d + (size_t)i * dout;
    double dot = 0.0;
    for (int j = 0; j < dout; j++) {
      float e = yi[j] - t[j];
      loss += (double)e * e;
      di[j] = scale * e;
      dot += (double)di[j] * yi[j];
    }
    /* Through the normalisation: dz = (dy - y (y . dy)) / |z|. */
    float inv = 1.0f / tr->norm[i], fdot = (float)dot;
    for (int j = 0; j < dout; j++) di[j] = (di[j] - yi[j] * fdot) * inv;
  }
  loss /= (double)B * dout;
  /* Backward, layer by layer; d holds dZ of layer l. */
  for (int l = L - 1; l >= 0; l--) {
    int din = net->dims[l], dn = net->dims[l + 1];
    float *gW = tr->grad + (net->W[l] - net->params);
    float *gb = tr->grad + (net->b[l] - net->params);
    column_sums(d, B, dn, tr->acc1);
    for (int j = 0; j < dn; j++) gb[j] = (float)tr->acc1[j];
    if (l == 0) {
      first_backward(tr, net, B, d, gW);
      break;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dn, din, B, 1.0f, d, dn,
                tr->Y[l - 1], din, 0.0f, gW, din);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, din, dn, 1.0f, d, dn,
                net->W[l], din, 0.0f, other, din);
    hidden_backward(tr, net, l - 1, B, other, tr->grad + (net->gamma[l - 1] - net->params),
                    tr->grad + (net->beta[l - 1] - net->params));
    float *t = d;
    d = other;
    other = t;
  }
  return loss;
}

void mlp_adam_step(MlpTrainer *tr, Mlp *net) {
  tr->step++;
  const float b1 = (float)ADAM_BETA1, b2 = (float)ADAM_BETA2;
  double bc1 = 1.0 - pow(ADAM_BETA1, (double)tr->step);
  double bc2 = 1.0 - pow(ADAM_BETA2, (double)tr->step);
  const float step = (float)(tr->lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2));
  const float wd = tr->wd;
  float *p = net->params, *m = tr->m, *v = tr->v;
  const float *g = tr->grad;
  size_t n = net->n_params;
  for (size_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step * mi / (sqrtf(vi) * rbc2 + ADAM_EPS);
  }
}

double mlp_train_step(MlpTrainer *tr, Mlp *net, const float *X, const uint64_t *masks,
                      const float *T, const uint32_t *rows, int B) {
  double loss = mlp_loss_grad(tr, net, X, masks, T, rows, B, 1);
  if (isfinite(loss)) mlp_adam_step(tr, net);
  return loss;
}
