/* mlp.c - the user embedder network, its training pass and Adam (see mlp.h). */
#include "mlp.h"

/* The element-wise loops (BatchNorm, Adam) are a sizeable share of an
** epoch; let GCC vectorise them.  no-trapping-math lets it turn the
** ReLU's comparisons into vector selects (no value changes: it only
** stops caring about floating-point exception flags); fp-contract=off
** keeps every multiply and add rounded on its own, as written.  sqrtf
** keeps its errno call under this pragma, so Adam spells out its vectors. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno", "no-trapping-math", "fp-contract=off")
#endif

#include <cblas.h>
#include <math.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define X86_VECTORS 1
#endif
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "blas.h"
#include "team.h"
#include "rng.h"
#include "tiles.h"

/* The element-wise passes also come compiled for AVX-512 and AVX2, the
** CPU picking one at load time (GCC's function multi-versioning).  Every
** version gives the same floats: a vector lane runs the scalar loop's own
** operations on its own column or element, in the same order. */
#if defined(X86_VECTORS) && !defined(__clang__)
#define SIMD_VERSIONS __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SIMD_VERSIONS
#endif

#define NORM_FLOOR 1e-12f
#define INFER_CHUNK 256
/* Up to this many rows, inference skips zero input blocks row by row
** (embed_user is one row); larger batches are one sgemm. */
#define SPARSE_INFER_ROWS 8
#define GATHER_AHEAD 8 /* rows */
#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

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
SIMD_VERSIONS static void normalize_rows(float *z, int n, int d, float *norms) {
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

/* The first layer for a few rows of block-sparse input: one matrix-vector
** product per nonzero block (and the dense tail), so a single user reads
** only the weight columns their data touches.  Same function as linear(). */
static void first_layer_sparse(const Mlp *net, const float *X, int n, float *out) {
  int din = net->dims[0], dout = net->dims[1], bs = net->block_size;
  int tail = net->n_blocks * bs;
  for (int i = 0; i < n; i++) {
    const float *x = X + (size_t)i * (size_t)din;
    float *y = out + (size_t)i * (size_t)dout;
    uint64_t mask = row_mask(x, bs, net->n_blocks);
    memcpy(y, net->b[0], (size_t)dout * sizeof(float));
    for (int g = 0; g < net->n_blocks; g++) {
      if (!(mask >> g & 1)) continue;
      cblas_sgemv(CblasRowMajor, CblasNoTrans, dout, bs, 1.0f, net->W[0] + (size_t)g * bs,
                  din, x + (size_t)g * bs, 1, 1.0f, y, 1);
    }
    if (tail < din) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, dout, din - tail, 1.0f, net->W[0] + tail, din,
                  x + tail, 1, 1.0f, y, 1);
    }
  }
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
      if (l == 0 && net->n_blocks > 0 && m <= SPARSE_INFER_ROWS)
        first_layer_sparse(net, in, m, dst);
      else
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

/* A pass is split among the members of a team.  Every product is cut
** into TILES_SPLIT fixed tiles (tiles.h) of output columns (forward, input
** gradients) or weight-gradient rows, whatever the team size, and each
** tile is one sgemm call; a member takes a contiguous run of tiles and
** does the element-wise work (ReLU, BatchNorm, bias gradients) of the same
** columns, so a layer needs no barrier between its product and its
** BatchNorm.  Row-wise steps (normalisation, loss) are split by rows, the
** gathered input by segments, Adam by parameter ranges.  Every float is
** thus computed by the same calls and operations in the same order for
** any number of threads, which keeps results bit-identical across thread
** counts (an sgemm's rounding may depend on the shape of the call, not
** on who calls it).  Each sgemm runs on the member that calls it (see
** blas.h: the BLAS does not thread its calls). */
#define PARAM_ALIGN 64

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
  float *mean[MLP_MAX_LAYERS]; /* hidden: batch means (as floats) */
  float *Y[MLP_MAX_LAYERS];    /* layer output (last: unit rows) */
  float *inv_std[MLP_MAX_LAYERS];
  float *norm;                 /* output row norms */
  float *d1, *d2;              /* backprop buffers, B x max width */
  float *ptmp;                 /* B x dims[1] scratch, by column shares */
  double *acc1, *acc2;         /* per-column sums */
  float *c1, *c2, *c3;         /* per-column coefficients */
  double *row_loss;            /* per batch row */
  uint64_t *bmask;             /* block mask of each batch row */
  float *xin;                  /* the gathered input segments */
  int *seg_rows;
  int n_seg;
  Segment seg[MLP_MAX_BLOCKS + 1];
  int threads;
  Team *team;                  /* NULL when single-threaded */
};

void mlp_trainer_free(MlpTrainer *tr) {
  if (tr == NULL) return;
  team_free(tr->team);
  free(tr->grad);
  free(tr->m);
  free(tr->v);
  for (int l = 0; l < MLP_MAX_LAYERS; l++) {
    free(tr->A[l]);
    free(tr->mean[l]);
    free(tr->Y[l]);
    free(tr->inv_std[l]);
  }
  free(tr->norm);
  free(tr->d1);
  free(tr->d2);
  free(tr->ptmp);
  free(tr->acc1);
  free(tr->acc2);
  free(tr->c1);
  free(tr->row_loss);
  free(tr->bmask);
  free(tr->xin);
  free(tr->seg_rows);
  free(tr);
}

int mlp_trainer_set_threads(MlpTrainer *tr, int threads) {
  if (threads < 0 || threads > MLP_MAX_THREADS) return -2;
  if (threads == 0) threads = tiles_default_threads();
  if (threads == tr->threads) return 0;
  Team *team = NULL;
  if (threads > 1) {
    team = team_new(threads);
    if (team == NULL) return -1;
  }
  team_free(tr->team);
  tr->team = team;
  tr->threads = threads;
  return 0;
}

int mlp_trainer_threads(const MlpTrainer *tr) { return tr->threads; }

MlpTrainer *mlp_trainer_new(const Mlp *net, int max_batch, float lr, float weight_decay) {
  if (max_batch < 2) return NULL;
  MlpTrainer *tr = calloc(1, sizeof *tr);
  if (tr == NULL) return NULL;
  tr->max_batch = max_batch;
  tr->lr = lr;
  tr->wd = weight_decay;
  tr->threads = 1;
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
      tr->mean[l] = malloc(w * sizeof(float));
      tr->inv_std[l] = malloc(w * sizeof(float));
      ok = tr->A[l] && tr->mean[l] && tr->inv_std[l];
    }
  }
  if (ok) {
    tr->norm = malloc(B * sizeof(float));
    tr->d1 = malloc(B * (size_t)mw * sizeof(float));
    tr->d2 = malloc(B * (size_t)mw * sizeof(float));
    tr->ptmp = malloc(B * (size_t)net->dims[1] * sizeof(float));
    tr->acc1 = malloc((size_t)mw * sizeof(double));
    tr->acc2 = malloc((size_t)mw * sizeof(double));
    tr->c1 = malloc(3 * (size_t)mw * sizeof(float));
    tr->row_loss = malloc(B * sizeof(double));
    tr->bmask = malloc(B * sizeof(uint64_t));
    tr->xin = malloc(B * (size_t)in * sizeof(float));
    ok = tr->norm && tr->d1 && tr->d2 && tr->ptmp && tr->acc1 && tr->acc2 && tr->c1 &&
         tr->row_loss && tr->bmask && tr->xin;
  }
  if (ok) {
    tr->c2 = tr->c1 + mw;
    tr->c3 = tr->c1 + 2 * (size_t)mw;
    tr->seg_rows = malloc((size_t)(MLP_MAX_BLOCKS + 1) * B * sizeof(int));
    ok = tr->seg_rows != NULL;
  }
  /* Without threads to be had, training still works on one. */
  if (ok && mlp_trainer_set_threads(tr, 0) == -1) mlp_trainer_set_threads(tr, 1);
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

/* One training pass, shared by the members of the team. */
typedef struct {
  MlpTrainer *tr;
  Mlp *net;
  const float *X;
  const uint64_t *masks;
  const float *T;
  const uint32_t *rows;
  int B, update_stats;
  int grad;            /* forward and backward */
  int adam;            /* Adam step (skipped when grad gives a non-finite loss) */
  float adam_step, adam_rbc2;
  double loss;
} Pass;

/* Whether batch row i has segment sg (is not all zeros there). */
static inline int row_has_segment(const MlpTrainer *tr, const Pass *ps, const Segment *sg, int i) {
  uint64_t mask = ps->masks ? ps->masks[ps->rows[i]] : tr->bmask[i];
  return sg->block < 0 || ((mask >> sg->block) & 1);
}

/* Gathers segment s of the batch's input rows, skipping zero blocks.  The
** rows are scattered over X (shuffled), which the CPU cannot guess: the
** one GATHER_AHEAD rows on is fetched while this one is copied. */
static void gather_segment(MlpTrainer *tr, const Mlp *net, const Pass *ps, int s) {
  size_t in = (size_t)net->dims[0];
  Segment *sg = &tr->seg[s];
  size_t w = (size_t)sg->ncols;
  int count = 0;
  for (int i = 0; i < ps->B; i++) {
    if (i + GATHER_AHEAD < ps->B && row_has_segment(tr, ps, sg, i + GATHER_AHEAD)) {
      const char *ahead = (const char *)(ps->X + (size_t)ps->rows[i + GATHER_AHEAD] * in + sg->col0);
      for (size_t b = 0; b < w * sizeof(float); b += 64) PREFETCH(ahead + b);
    }
    if (!row_has_segment(tr, ps, sg, i)) continue;
    uint32_t row = ps->rows[i];
    memcpy(sg->buf + (size_t)count * w, ps->X + (size_t)row * in + sg->col0, w * sizeof(float));
    sg->rows[count++] = i;
  }
  sg->count = count;
}

/* First layer forward, the member's columns of out (B x dims[1]) =
** X W0^T + b0 over the segments; tile [c0, c1) uses tmp + B c0. */
SIMD_VERSIONS static void first_forward(MlpTrainer *tr, const Mlp *net, int B, float *out,
                                        Tiles tl) {
  int in = net->dims[0], dout = net->dims[1];
  if (tl.hi <= tl.lo) return;
  for (int i = 0; i < B; i++) {
    memcpy(out + (size_t)i * dout + tl.lo, net->b[0] + tl.lo, (size_t)(tl.hi - tl.lo) * sizeof(float));
  }
  for (int s = 0; s < tr->n_seg; s++) {
    Segment *sg = &tr->seg[s];
    if (sg->count == 0) continue;
    for (int t = tl.t0; t < tl.t1; t++) {
      int c0 = tile_edge(dout, t), nc = tile_edge(dout, t + 1) - c0;
      if (nc <= 0) continue;
      const float *W = net->W[0] + (size_t)c0 * in + sg->col0;
      if (sg->count == B) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, nc, sg->ncols, 1.0f, sg->buf,
                    sg->ncols, W, in, 1.0f, out + c0, dout);
        continue;
      }
      float *tmp = tr->ptmp + (size_t)B * c0;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, sg->count, nc, sg->ncols, 1.0f,
                  sg->buf, sg->ncols, W, in, 0.0f, tmp, nc);
      for (int k = 0; k < sg->count; k++) {
        float *dst = out + (size_t)sg->rows[k] * dout + c0;
        const float *src = tmp + (size_t)k * nc;
        for (int j = 0; j < nc; j++) dst[j] += src[j];
      }
    }
  }
}

/* First layer weight gradient, the member's rows of gW (dims[1] x in),
** from dZ (B x dims[1]); tile [c0, c1) uses tmp + B c0.  With adam, each
** tile's rows of W0 then take their Adam step while their gradient is
** still in cache (W0 is most of the parameters, and nothing reads it
** after this point of the pass). */
static void first_backward(MlpTrainer *tr, Mlp *net, const Pass *ps, int adam,
                           const float *dZ, float *gW, Tiles tl) {
  int B = ps->B;
  int in = net->dims[0], dout = net->dims[1];
  for (int t = tl.t0; t < tl.t1; t++) {
    int c0 = tile_edge(dout, t), nc = tile_edge(dout, t + 1) - c0;
    if (nc <= 0) continue;
    float *g = gW + (size_t)c0 * in, *tmp = tr->ptmp + (size_t)B * c0;
    for (int s = 0; s < tr->n_seg; s++) {
      Segment *sg = &tr->seg[s];
      if (sg->count == 0) {
        for (int r = 0; r < nc; r++) memset(g + (size_t)r * in + sg->col0, 0, (size_t)sg->ncols * sizeof(float));
        continue;
      }
      const float *dz = dZ + c0;
      int ld = dout;
      if (sg->count < B) {
        for (int k = 0; k < sg->count; k++) {
          memcpy(tmp + (size_t)k * nc, dZ + (size_t)sg->rows[k] * dout + c0, (size_t)nc * sizeof(float));
        }
        dz = tmp;
        ld = nc;
      }
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nc, sg->ncols, sg->count, 1.0f, dz, ld,
                  sg->buf, sg->ncols, 0.0f, g + sg->col0, in);
    }
    if (adam) {
      size_t at = (size_t)c0 * in; /* W0 leads the parameters */
      adam_range(net->params, tr->m, tr->v, tr->grad, tr->wd, ps->adam_step, ps->adam_rbc2, at,
                 at + (size_t)nc * in);
    }
  }
}

/* The normalised activation x = (a - mean) inv: BatchNorm's output y =
** gamma x + beta in the forward pass, computed again (the same floats) in
** the backward pass rather than stored and read back.  The row helpers
** take restrict parameters so that GCC vectorises their loops (it does
** not for restrict locals, having more pointer pairs to check than it
** versions for). */
static inline float normalized(float a, float mean, float inv) { return (a - mean) * inv; }

/* BatchNorm's output of columns [lo, hi) of one row a into y. */
static inline void normalize_columns(const float *restrict a, const float *restrict mean,
                                     const float *restrict inv, const float *restrict g,
                                     const float *restrict be, float *restrict y, int lo,
                                     int hi) {
  for (int j = lo; j < hi; j++) y[j] = g[j] * normalized(a[j], mean[j], inv[j]) + be[j];
}

/* ReLU then BatchNorm (batch statistics) of columns [lo, hi) of layer l:
** A[l] holds the linear output and keeps the ReLU output.  Statistics in
** double, each column summed in row order. */
SIMD_VERSIONS static void hidden_forward(MlpTrainer *tr, Mlp *net, int l, int B, int update_stats,
                                         int lo, int hi) {
  size_t d = (size_t)net->dims[l + 1];
  float *restrict inv = tr->inv_std[l];
  double *restrict mean = tr->acc1, *restrict var = tr->acc2;
  for (int j = lo; j < hi; j++) mean[j] = var[j] = 0.0;
  for (int i = 0; i < B; i++) {
    float *restrict r = tr->A[l] + (size_t)i * d;
    for (int j = lo; j < hi; j++) {
      float a = r[j] > 0.0f ? r[j] : 0.0f;
      r[j] = a;
      mean[j] += a;
    }
  }
  for (int j = lo; j < hi; j++) mean[j] /= B;
  for (int i = 0; i < B; i++) {
    const float *restrict r = tr->A[l] + (size_t)i * d;
    for (int j = lo; j < hi; j++) {
      double c = r[j] - mean[j];
      var[j] += c * c;
    }
  }
  const float *restrict g = net->gamma[l], *restrict be = net->beta[l];
  float *restrict mf = tr->mean[l];
  for (int j = lo; j < hi; j++) {
    double v = var[j] / B;
    inv[j] = (float)(1.0 / sqrt(v + MLP_BN_EPS));
    mf[j] = (float)mean[j];
    if (update_stats) {
      net->run_mean[l][j] = (1.0f - MLP_BN_MOMENTUM) * net->run_mean[l][j] + MLP_BN_MOMENTUM * (float)mean[j];
      net->run_var[l][j] = (1.0f - MLP_BN_MOMENTUM) * net->run_var[l][j] +
                           MLP_BN_MOMENTUM * (float)(var[j] / (B - 1));
    }
  }
  for (int i = 0; i < B; i++) {
    size_t at = (size_t)i * d;
    normalize_columns(tr->A[l] + at, mf, inv, g, be, tr->Y[l] + at, lo, hi);
  }
}

/* One row's terms of the BatchNorm gradient sums: dY (r) and dY x. */
static inline void backward_sums(const float *restrict r, const float *restrict a,
                                 const float *restrict mean, const float *restrict inv,
                                 double *restrict sdy, double *restrict sdyx, int lo, int hi) {
  for (int j = lo; j < hi; j++) {
    sdy[j] += r[j];
    sdyx[j] += (double)r[j] * normalized(a[j], mean[j], inv[j]);
  }
}

/* One row of dY (r) becomes dZ in place: dA = c1 (dY - c2 - x c3), zero
** where the ReLU was; dZ is added to the bias gradient's sums sb. */
static inline void backward_row(float *restrict r, const float *restrict a,
                                const float *restrict mean, const float *restrict inv,
                                const float *restrict c1, const float *restrict c2,
                                const float *restrict c3, double *restrict sb, int lo, int hi) {
  for (int j = lo; j < hi; j++) {
    float da = c1[j] * (r[j] - c2[j] - normalized(a[j], mean[j], inv[j]) * c3[j]);
    r[j] = a[j] > 0.0f ? da : 0.0f;
    sb[j] += r[j];
  }
}

/* BatchNorm then ReLU backward of columns [lo, hi) of layer l: dY (in d)
** becomes dZ in place; fills the gamma/beta gradients of those columns
** and the gradient of the layer's bias (gbias: dZ's column sums, which
** bias_grad would compute). */
SIMD_VERSIONS static void hidden_backward(MlpTrainer *tr, const Mlp *net, int l, int B,
                                          float *d, float *ggamma, float *gbeta, float *gbias,
                                          int lo, int hi) {
  size_t w = (size_t)net->dims[l + 1];
  const float *inv = tr->inv_std[l], *g = net->gamma[l], *mf = tr->mean[l];
  const float *A = tr->A[l];
  double *sdy = tr->acc1, *sdyx = tr->acc2;
  for (int j = lo; j < hi; j++) sdy[j] = sdyx[j] = 0.0;
  for (int i = 0; i < B; i++) {
    size_t at = (size_t)i * w;
    backward_sums(d + at, A + at, mf, inv, sdy, sdyx, lo, hi);
  }
  float *c1 = tr->c1, *c2 = tr->c2, *c3 = tr->c3;
  for (int j = lo; j < hi; j++) {
    ggamma[j] = (float)sdyx[j];
    gbeta[j] = (float)sdy[j];
    c1[j] = g[j] * inv[j];
    c2[j] = (float)(sdy[j] / B);
    c3[j] = (float)(sdyx[j] / B);
  }
  double *sb = tr->acc1; /* sdy is spent */
  for (int j = lo; j < hi; j++) sb[j] = 0.0;
  for (int i = 0; i < B; i++) {
    size_t at = (size_t)i * w;
    backward_row(d + at, A + at, mf, inv, c1, c2, c3, sb, lo, hi);
  }
  for (int j = lo; j < hi; j++) gbias[j] = (float)sb[j];
}

/* Bias gradient of columns [lo, hi): column sums of d (B x w). */
SIMD_VERSIONS static void bias_grad(MlpTrainer *tr, const float *d, int B, int w, float *gb,
                                    int lo, int hi) {
  double *restrict acc = tr->acc1;
  for (int j = lo; j < hi; j++) acc[j] = 0.0;
  for (int i = 0; i < B; i++) {
    const float *restrict r = d + (size_t)i * w;
    for (int j = lo; j < hi; j++) acc[j] += r[j];
  }
  for (int j = lo; j < hi; j++) gb[j] = (float)acc[j];
}

/* Output rows i .. i+R-1: normalisation, loss terms and the gradient
** with respect to the linear output, into d.  Each row is summed in
** column order as ever; R rows side by side only give the CPU independent
** sums to overlap. */
static inline void output_group(MlpTrainer *tr, const Mlp *net, const float *T,
                                const uint32_t *rows, int B, float *d, int i, const int R) {
  int dout = net->dims[net->n_layers];
  float scale = 2.0f / ((float)B * (float)dout);
  float *y[4], *di[4];
  const float *t[4];
  double ss[4], loss[4], dot[4];
  float invn[4];
  for (int q = 0; q < R; q++) {
    y[q] = tr->Y[net->n_layers - 1] + (size_t)(i + q) * dout;
    di[q] = d + (size_t)(i + q) * dout;
    t[q] = T + (size_t)rows[i + q] * dout;
    ss[q] = loss[q] = dot[q] = 0.0;
  }
  for (int j = 0; j < dout; j++) {
    for (int q = 0; q < R; q++) ss[q] += (double)y[q][j] * y[q][j];
  }
  for (int q = 0; q < R; q++) {
    float nrm = (float)sqrt(ss[q]);
    if (nrm < NORM_FLOOR) nrm = NORM_FLOOR;
    tr->norm[i + q] = nrm;
    invn[q] = 1.0f / nrm;
    for (int j = 0; j < dout; j++) y[q][j] *= invn[q];
  }
  for (int j = 0; j < dout; j++) {
    for (int q = 0; q < R; q++) {
      float e = y[q][j] - t[q][j];
      loss[q] += (double)e * e;
      di[q][j] = scale * e;
      dot[q] += (double)di[q][j] * y[q][j];
    }
  }
  for (int q = 0; q < R; q++) {
    tr->row_loss[i + q] = loss[q];
    /* Through the normalisation: dz = (dy - y (y . dy)) / |z|. */
    float inv = invn[q], fdot = (float)dot[q];
    float *restrict dq = di[q];
    const float *restrict yq = y[q];
    for (int j = 0; j < dout; j++) dq[j] = (dq[j] - yq[j] * fdot) * inv;
  }
}

/* Output rows [r0, r1), see output_group. */
SIMD_VERSIONS static void output_rows(MlpTrainer *tr, const Mlp *net, const float *T,
                                      const uint32_t *rows, int B, float *d, int r0, int r1) {
  int i = r0;
  for (; i + 4 <= r1; i += 4) output_group(tr, net, T, rows, B, d, i, 4);
  for (; i < r1; i++) output_group(tr, net, T, rows, B, d, i, 1);
}

static void pass_member(void *arg, int id, int n) {
  Pass *ps = arg;
  MlpTrainer *tr = ps->tr;
  Mlp *net = ps->net;
  Team *team = n > 1 ? tr->team : NULL;
  int L = ps->net->n_layers, B = ps->B, lo, hi;
  int adam_w0 = 0; /* W0's Adam step taken in first_backward */
  double loss = 0.0;
  if (ps->grad) {
    /* Input: block masks by rows (unless the caller has them), then
    ** segments in turn. */
    if (net->n_blocks && ps->masks == NULL) {
      tiles_share((size_t)B, 1, id, n, &lo, &hi);
      for (int i = lo; i < hi; i++) {
        const float *x = ps->X + (size_t)ps->rows[i] * (size_t)net->dims[0];
        tr->bmask[i] = row_mask(x, net->block_size, net->n_blocks);
      }
      team_barrier(team);
    }
    for (int s = id; s < tr->n_seg; s += n) gather_segment(tr, net, ps, s);
    team_barrier(team);
    /* Forward, by output columns. */
    for (int l = 0; l < L; l++) {
      float *z = l < L - 1 ? tr->A[l] : tr->Y[l];
      Tiles tl = member_tiles(net->dims[l + 1], id, n);
      if (l == 0) {
        first_forward(tr, net, B, z, tl);
      } else {
        linear_tiles(tr->Y[l - 1], B, net->dims[l], net->W[l], net->b[l], net->dims[l + 1], z, tl);
      }
      if (l < L - 1) hidden_forward(tr, net, l, B, ps->update_stats, tl.lo, tl.hi);
      team_barrier(team);
    }
    /* Loss and its gradient with respect to the output, by rows. */
    float *d = tr->d1, *other = tr->d2;
    tiles_share((size_t)B, 1, id, n, &lo, &hi);
    output_rows(tr, net, ps->T, ps->rows, B, d, lo, hi);
    team_barrier(team);
    for (int i = 0; i < B; i++) loss += tr->row_loss[i];
    loss /= (double)B * net->dims[L];
    adam_w0 = ps->adam && isfinite(loss);
    /* Backward; d holds dZ of layer l, complete after each barrier. */
    for (int l = L - 1; l >= 0; l--) {
      int din = net->dims[l], dn = net->dims[l + 1];
      float *gW = tr->grad + (net->W[l] - net->params);
      float *gb = tr->grad + (net->b[l] - net->params);
      Tiles tl = member_tiles(dn, id, n);
      /* Hidden layers' bias gradients come with their dZ (hidden_backward). */
      if (l == L - 1) bias_grad(tr, d, B, dn, gb, tl.lo, tl.hi);
      if (l == 0) {
        first_backward(tr, net, ps, adam_w0, d, gW, tl);
        break;
      }
      weight_grad_tiles(d, B, dn, tr->Y[l - 1], din, gW, tl);
      team_barrier(team);
      tl = member_tiles(din, id, n);
      input_grad_tiles(d, B, dn, net->W[l], din, other, tl);
      hidden_backward(tr, net, l - 1, B, other, tr->grad + (net->gamma[l - 1] - net->params),
                      tr->grad + (net->beta[l - 1] - net->params),
                      tr->grad + (net->b[l - 1] - net->params), tl.lo, tl.hi);
      float *t = d;
      d = other;
      other = t;
    }
    if (id == 0) ps->loss = loss;
  }
  if (ps->adam && (!ps->grad || isfinite(loss))) {
    /* The parameters after W0 (which leads them), or all of them. */
    size_t plo, phi, from = adam_w0 ? (size_t)net->dims[0] * (size_t)net->dims[1] : 0;
    team_barrier(team);
    team_share(net->n_params - from, PARAM_ALIGN, id, n, &plo, &phi);
    adam_range(net->params, tr->m, tr->v, tr->grad, tr->wd, ps->adam_step, ps->adam_rbc2,
               from + plo, from + phi);
  }
}

static void run_pass(MlpTrainer *tr, Pass *ps) { team_run(tr->team, pass_member, ps); }

static double train_pass(MlpTrainer *tr, Mlp *net, const float *X, const uint64_t *masks,
                         const float *T, const uint32_t *rows, int B, int update_stats,
                         int adam) {
  Pass ps = {tr, net, X, masks, T, rows, B, update_stats, 1, adam, 0.0f, 0.0f, 0.0};
  if (adam) adam_factors(tr->lr, tr->step + 1, &ps.adam_step, &ps.adam_rbc2);
  run_pass(tr, &ps);
  if (adam && isfinite(ps.loss)) tr->step++;
  return ps.loss;
}

double mlp_loss_grad(MlpTrainer *tr, Mlp *net, const float *X, const uint64_t *masks,
                     const float *T, const uint32_t *rows, int B, int update_stats) {
  return train_pass(tr, net, X, masks, T, rows, B, update_stats, 0);
}

void mlp_adam_step(MlpTrainer *tr, Mlp *net) {
  Pass ps = {tr, net, NULL, NULL, NULL, NULL, 0, 0, 0, 1, 0.0f, 0.0f, 0.0};
  adam_factors(tr->lr, ++tr->step, &ps.adam_step, &ps.adam_rbc2);
  run_pass(tr, &ps);
}

double mlp_train_step(MlpTrainer *tr, Mlp *net, const float *X, const uint64_t *masks,
                      const float *T, const uint32_t *rows, int B) {
  return train_pass(tr, net, X, masks, T, rows, B, 1, 1);
}
