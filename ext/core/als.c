/* als.c - implicit ALS with conjugate-gradient row solves (see als.h). */
/* The short per-row vector updates are plain loops: O3 vectorises them. */
#pragma GCC optimize("O3")
#include "als.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "rng.h"
#include "sym_eigen.h"
#include "team.h"

/* Results depend on these three: keep them fixed. */
#define GRAM_TILE 64      /* columns per tile of a Gram matrix */
#define ROTATE_CHUNK 1024 /* rows per product of a change of basis */
#define CG_EPS 1e-20      /* a row's CG stops once |r|^2 is below (as `implicit`) */
#define LOSS_BLOCK 256    /* rows per partial sum of the loss */
/* Blocks per team run of a half-iteration; should_stop is polled between
** runs, so how often depends on the sizes alone (never on timing). */
#define ROUND_BLOCKS 32

/* ---- options ----------------------------------------------------------- */

void als_default_options(AlsOptions *o) {
  memset(o, 0, sizeof *o);
  o->dim = 256;
  o->iterations = 15;
  o->regularization = 0.01;
  o->alpha = 1.0;
  o->cg_steps = 3;
}

const char *als_check_options(const AlsOptions *o) {
  if (o->dim < 1 || o->dim > ALS_MAX_DIM)
    return "option \"dim\" must be between 1 and 4096";
  if (o->iterations < 0 || o->iterations > 100000)
    return "option \"iterations\" must be between 0 and 100000";
  if (!(o->regularization >= 0) || !isfinite(o->regularization))
    return "option \"regularization\" must be a finite number >= 0";
  if (!(o->alpha >= 0) || !isfinite(o->alpha))
    return "option \"alpha\" must be a finite number >= 0";
  if (o->cg_steps < 1 || o->cg_steps > 100000)
    return "option \"cg_steps\" must be between 1 and 100000";
  if (o->threads < 0 || o->threads > TEAM_MAX)
    return "option \"threads\" must be between 0 and 64";
  if (o->kernels < 0 || o->kernels > ALS_KERNELS_AVX512)
    return "option \"kernels\" must be between 0 and 3";
  return NULL;
}

void als_init(const AlsOptions *o, int32_t n_users, int32_t n_items, float *users,
              float *items) {
  Rng r;
  rng_seed(&r, o->seed, ALS_RNG_STREAM);
  for (int64_t k = 0; k < (int64_t)n_users * o->dim; k++)
    users[k] = (float)(0.01 * rng_normal(&r));
  for (int64_t k = 0; k < (int64_t)n_items * o->dim; k++)
    items[k] = (float)(0.01 * rng_normal(&r));
}

/* ---- per-member scratch ------------------------------------------------- */

typedef struct {
  float *r, *p, *ap; /* d: one row's CG vectors */
  float *t, *s;      /* a row's entries: dots of a step, x.y so far */
  float *chunk;      /* ROTATE_CHUNK x d */
  double flops;
} Scratch;

/* ---- Gram matrices: a^T a, one sgemm per tile of the upper triangle ---- */

typedef struct {
  const float *a; /* n x d */
  int64_t n;
  int d;
  float *g; /* d x d */
  Scratch *scratch;
} Gram;

static int tile_width(int d, int t) {
  return d - t * GRAM_TILE < GRAM_TILE ? d - t * GRAM_TILE : GRAM_TILE;
}

static void gram_member(void *arg, int id, int n_members) {
  const Gram *gm = arg;
  const int d = gm->d, nt = (d + GRAM_TILE - 1) / GRAM_TILE;
  int tile = 0;
  for (int ti = 0; ti < nt; ti++)
    for (int tj = ti; tj < nt; tj++, tile++) {
      if (tile % n_members != id) continue;
      int i0 = ti * GRAM_TILE, j0 = tj * GRAM_TILE, wi = tile_width(d, ti),
          wj = tile_width(d, tj);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, wi, wj, (int)gm->n, 1.0f,
                  gm->a + i0, d, gm->a + j0, d, 0.0f, gm->g + (size_t)i0 * d + j0, d);
      gm->scratch[id].flops += 2.0 * (double)gm->n * wi * wj;
    }
}

static void gram(Team *team, Scratch *scratch, const float *a, int64_t n, int d, float *g) {
  Gram gm = {a, n, d, g, scratch};
  if (n == 0) {
    memset(g, 0, (size_t)d * d * sizeof *g);
    return;
  }
  team_run(team, gram_member, &gm);
  for (int i = 0; i < d; i++)
    for (int j = 0; j < i; j++) g[(size_t)i * d + j] = g[(size_t)j * d + i];
}

/* ---- change of basis: to = from v, chunk by chunk (in place if equal) --- */

typedef struct {
  const float *from; /* n x d */
  float *to;         /* n x d */
  int64_t n;
  int d;
  const float *v; /* d x d */
  Scratch *scratch;
} Rotate;

static void rotate_member(void *arg, int id, int n_members) {
  const Rotate *rt = arg;
  Scratch *sc = &rt->scratch[id];
  const int d = rt->d;
  for (int64_t r0 = (int64_t)id * ROTATE_CHUNK; r0 < rt->n;
       r0 += (int64_t)n_members * ROTATE_CHUNK) {
    int rows = rt->n - r0 < ROTATE_CHUNK ? (int)(rt->n - r0) : ROTATE_CHUNK;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d, d, 1.0f,
                rt->from + (size_t)r0 * d, d, rt->v, d, 0.0f, sc->chunk, d);
    memcpy(rt->to + (size_t)r0 * d, sc->chunk, (size_t)rows * d * sizeof *sc->chunk);
    sc->flops += 2.0 * rows * d * (double)d;
  }
}

static void rotate(Team *team, Scratch *scratch, const float *from, float *to, int64_t n, int d,
                   const float *v) {
  Rotate rt = {from, to, n, d, v, scratch};
  if (n > 0) team_run(team, rotate_member, &rt);
}

/* ---- one half-iteration: solve every row of one side -------------------- */

typedef struct {
  const SparseMatrix *m; /* rows solved x rows fixed, weights */
  const float *fixed;
  float *solved;
  const float *diag;  /* d: the fixed side's Gram matrix (diagonal) + reg */
  double *block_loss; /* per LOSS_BLOCK rows, or NULL: no loss tracking */
  int d, cg_steps, level;
  float alpha;
  int64_t end;              /* blocks of this round: [next, end) */
  _Atomic int64_t next;
  Scratch *scratch; /* per member */
} Solve;

static void add_scaled(float *x, float a, const float *v, int d) {
  for (int j = 0; j < d; j++) x[j] += a * v[j];
}

/* CG on row u's system (diag + Y_u^T (C_u - I) Y_u) x = Y_u^T C_u p_u from
** the current x.  Returns the row's share of the loss beyond its sum of
** s^2 (when tracking), sum over its entries of c (1 - s)^2 - s^2. */
static double solve_row(const Solve *h, Scratch *sc, int32_t u) {
  const int d = h->d, level = h->level, track = h->block_loss != NULL;
  const int64_t lo = h->m->start[u], n = h->m->start[u + 1] - lo;
  AlsRow row = {h->fixed, d, h->m->col + lo, h->m->val + lo, n, h->alpha, 1.0f, -1.0f, 1};
  float *x = h->solved + (size_t)u * d, *r = sc->r, *p = sc->p, *ap = sc->ap;
  /* r = b - A x: the dense part is -diag x; the entries add the rest. */
  for (int j = 0; j < d; j++) r[j] = -h->diag[j] * x[j];
  als_accumulate(level, &row, x, r, track ? sc->s : NULL);
  memcpy(p, r, (size_t)d * sizeof *p);
  double rs = als_dot(level, r, r, d);
  double flops = (4.0 * d + 4) * n + 4.0 * d;
  /* From now on: the products A p. */
  row.base = 0.0f;
  row.sign = 1.0f;
  row.cold = 0;
  for (int step = 0; step < h->cg_steps && rs >= CG_EPS; step++) {
    for (int j = 0; j < d; j++) ap[j] = h->diag[j] * p[j];
    als_accumulate(level, &row, p, ap, track ? sc->t : NULL);
    double pap = als_dot(level, p, ap, d);
    flops += (4.0 * d + 4) * n + 11.0 * d;
    if (!(pap > 0)) break; /* A is positive definite; rounding says stop */
    float a = (float)(rs / pap);
    add_scaled(x, a, p, d);
    add_scaled(r, -a, ap, d);
    if (track)
      for (int64_t e = 0; e < n; e++) sc->s[e] += a * sc->t[e];
    double rs_new = als_dot(level, r, r, d);
    float beta = (float)(rs_new / rs);
    for (int j = 0; j < d; j++) p[j] = r[j] + beta * p[j];
    rs = rs_new;
  }
  sc->flops += flops;
  double part = 0;
  for (int64_t e = 0; track && e < n; e++) {
    double s = sc->s[e], c = 1.0 + (double)h->alpha * row.w[e];
    part += c * (1.0 - s) * (1.0 - s) - s * s;
  }
  return part;
}

static void solve_member(void *arg, int id, int n_members) {
  (void)n_members;
  Solve *h = arg;
  Scratch *sc = &h->scratch[id];
  for (;;) {
    int64_t b = atomic_fetch_add(&h->next, 1);
    if (b >= h->end) return;
    int32_t u0 = (int32_t)(b * LOSS_BLOCK), u1 = u0 + LOSS_BLOCK;
    if (u1 > h->m->rows) u1 = h->m->rows;
    double part = 0;
    for (int32_t u = u0; u < u1; u++) part += solve_row(h, sc, u);
    if (h->block_loss) h->block_loss[b] = part;
  }
}

/* ---- the fit ------------------------------------------------------------ */

static int64_t longest_row(const SparseMatrix *m) {
  int64_t most = 0;
  for (int32_t u = 0; u < m->rows; u++)
    if (m->start[u + 1] - m->start[u] > most) most = m->start[u + 1] - m->start[u];
  return most;
}

typedef struct {
  Team *team;
  int threads, d;
  SparseMatrix rt; /* items x users */
  Scratch *scratch;
  float *g;        /* d x d: the Gram matrix of one side */
  double *eig;     /* d x d: its eigenvectors (sym_eigen layout) */
  SymEigen eigen;
  float *v;        /* d x d: the eigenvectors as a change of basis */
  double *q, *q2;  /* d x d: the product of every change of basis so far */
  float *diag;     /* d */
  double *block_loss;
  float *x, *y; /* the factors while they are fitted (big_alloc), rotated */
} Fit;

/* Memory for the factors being fitted, in huge pages where the system
** gives them on request (Linux: transparent huge pages in madvise mode).
** The row solves read the fixed side's vectors from all over it; with
** 4 KiB pages nearly every read also misses the TLB, whose page walk
** (nested under virtualisation) costs as much as the read. */
static float *big_alloc(size_t bytes) {
  const size_t huge = (size_t)2 << 20;
  size_t size = (bytes + huge - 1) / huge * huge;
  float *p = aligned_alloc(huge, size > 0 ? size : huge);
#ifdef MADV_HUGEPAGE
  if (p) madvise(p, size, MADV_HUGEPAGE);
#endif
  return p;
}

static void fit_free(Fit *f) {
  team_free(f->team);
  sparse_free(&f->rt);
  for (int k = 0; f->scratch && k < f->threads; k++) {
    free(f->scratch[k].r);
    free(f->scratch[k].p);
    free(f->scratch[k].ap);
    free(f->scratch[k].t);
    free(f->scratch[k].s);
    free(f->scratch[k].chunk);
  }
  free(f->scratch);
  free(f->g);
  free(f->eig);
  sym_eigen_free(&f->eigen);
  free(f->v);
  free(f->q);
  free(f->q2);
  free(f->diag);
  free(f->block_loss);
  free(f->x);
  free(f->y);
}

static int fit_alloc(Fit *f, const SparseMatrix *r, const AlsOptions *o) {
  const int d = f->d = o->dim;
  const size_t dd = (size_t)d * d;
  f->threads = o->threads ? o->threads : team_default_size();
  if (f->threads > 1 && (f->team = team_new(f->threads)) == NULL) return ALS_NOMEM;
  if (sparse_transpose(r, &f->rt) != SPARSE_OK) return ALS_NOMEM;
  int64_t most = longest_row(r), most_t = longest_row(&f->rt);
  if (most_t > most) most = most_t;
  f->scratch = calloc((size_t)f->threads, sizeof *f->scratch);
  f->g = malloc(dd * sizeof *f->g);
  f->eig = malloc(dd * sizeof *f->eig);
  int eigen_ok = sym_eigen_alloc(&f->eigen, d) == 0;
  f->v = malloc(dd * sizeof *f->v);
  f->q = calloc(dd, sizeof *f->q);
  f->q2 = malloc(dd * sizeof *f->q2);
  f->diag = malloc((size_t)d * sizeof *f->diag);
  f->block_loss = malloc(((size_t)r->cols / LOSS_BLOCK + 1) * sizeof *f->block_loss);
  f->x = big_alloc((size_t)r->rows * d * sizeof *f->x);
  f->y = big_alloc((size_t)r->cols * d * sizeof *f->y);
  if (!f->scratch || !f->g || !f->eig || !eigen_ok || !f->v || !f->q || !f->q2 || !f->diag ||
      !f->block_loss || !f->x || !f->y)
    return ALS_NOMEM;
  for (int j = 0; j < d; j++) f->q[(size_t)j * d + j] = 1.0;
  for (int k = 0; k < f->threads; k++) {
    Scratch *sc = &f->scratch[k];
    sc->r = malloc((size_t)d * sizeof *sc->r);
    sc->p = malloc((size_t)d * sizeof *sc->p);
    sc->ap = malloc((size_t)d * sizeof *sc->ap);
    sc->t = malloc((size_t)(most > 0 ? most : 1) * sizeof *sc->t);
    sc->s = malloc((size_t)(most > 0 ? most : 1) * sizeof *sc->s);
    sc->chunk = malloc((size_t)ROTATE_CHUNK * d * sizeof *sc->chunk);
    if (!sc->r || !sc->p || !sc->ap || !sc->t || !sc->s || !sc->chunk) return ALS_NOMEM;
  }
  return ALS_OK;
}

/* Turns both sides to the eigenvectors of f->g (the Gram matrix of the
** side about to stay fixed), so that this Gram matrix becomes diagonal:
** f->eigen.lambda.  Orthogonal, so every x_u.y_i, norm and CG iterate is the
** same as in the old basis (up to rounding).  ALS_NUMERIC when LAPACK
** fails (non-finite factors). */
static int change_basis(Fit *f, const float *users, int64_t n_users, const float *items,
                        int64_t n_items) {
  const int d = f->d;
  for (size_t k = 0; k < (size_t)d * d; k++) f->eig[k] = f->g[k];
  if (sym_eigen(&f->eigen, f->eig) != 0) return ALS_NUMERIC;
  double *lambda = f->eigen.lambda;
  for (int j = 0; j < d; j++)
    if (lambda[j] < 0) lambda[j] = 0; /* a Gram matrix; rounding made it < 0 */
  /* Eigenvector j is eig[j d + i], i = 0 .. d-1: v[i][j] = eig[j d + i]. */
  for (int i = 0; i < d; i++)
    for (int j = 0; j < d; j++) f->v[(size_t)i * d + j] = (float)f->eig[(size_t)j * d + i];
  rotate(f->team, f->scratch, users, f->x, n_users, d, f->v);
  rotate(f->team, f->scratch, items, f->y, n_items, d, f->v);
  /* q = q v, with v exactly as applied (rounded to float). */
  for (size_t k = 0; k < (size_t)d * d; k++) f->eig[k] = f->v[k];
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, f->q, d, f->eig, d,
              0.0, f->q2, d);
  double *t = f->q;
  f->q = f->q2;
  f->q2 = t;
  return ALS_OK;
}

/* Solves every row of m into solved with the fixed side's Gram matrix
** diagonal (f->eigen.lambda); ALS_OK or ALS_ABORTED. */
static int solve_side(Fit *f, const AlsOptions *o, const SparseMatrix *m, const float *fixed,
                      float *solved, double *block_loss) {
  for (int j = 0; j < f->d; j++) f->diag[j] = (float)(f->eigen.lambda[j] + o->regularization);
  Solve h = {.m = m, .fixed = fixed, .solved = solved, .diag = f->diag,
             .block_loss = block_loss, .d = f->d, .cg_steps = o->cg_steps,
             .level = als_kernels_level(o->kernels), .alpha = (float)o->alpha,
             .scratch = f->scratch};
  const int64_t n_blocks = ((int64_t)m->rows + LOSS_BLOCK - 1) / LOSS_BLOCK;
  for (int64_t b0 = 0; b0 < n_blocks; b0 += ROUND_BLOCKS) {
    if (o->should_stop && o->should_stop(o->arg)) return ALS_ABORTED;
    atomic_init(&h.next, b0);
    h.end = b0 + ROUND_BLOCKS < n_blocks ? b0 + ROUND_BLOCKS : n_blocks;
    team_run(f->team, solve_member, &h);
  }
  return ALS_OK;
}

static int weights_valid(const SparseMatrix *r) {
  for (int64_t k = 0; k < r->nnz; k++)
    if (!(r->val[k] >= 0.0f) || !isfinite(r->val[k])) return 0;
  return 1;
}

/* One iteration: users, then items, into f->x and f->y, starting from
** users and items (f->x and f->y themselves after the first).  Returns the
** loss through *loss. */
static int iterate(Fit *f, const AlsOptions *o, const SparseMatrix *r, const float *users,
                   const float *items, double *loss) {
  const int d = f->d;
  /* f->g holds the items' Gram matrix. */
  int rc = change_basis(f, users, r->rows, items, r->cols);
  if (rc == ALS_OK) rc = solve_side(f, o, r, f->y, f->x, NULL);
  if (rc != ALS_OK) return rc;
  gram(f->team, f->scratch, f->x, r->rows, d, f->g);
  rc = change_basis(f, f->x, r->rows, f->y, r->cols);
  if (rc == ALS_OK) rc = solve_side(f, o, &f->rt, f->x, f->y, f->block_loss);
  if (rc != ALS_OK) return rc;
  gram(f->team, f->scratch, f->y, r->cols, d, f->g);
  /* L = sum over all pairs of s^2 = <X^T X, Y^T Y> (X^T X is diagonal in
  ** this basis), the stored entries' correction, and the regularisation
  ** (the traces are the squared norms). */
  double all_pairs = 0, norms = 0;
  for (int j = 0; j < d; j++) {
    all_pairs += f->eigen.lambda[j] * f->g[(size_t)j * d + j];
    norms += f->eigen.lambda[j] + f->g[(size_t)j * d + j];
  }
  double entries = 0;
  for (int64_t b = 0; b < ((int64_t)r->cols + LOSS_BLOCK - 1) / LOSS_BLOCK; b++)
    entries += f->block_loss[b];
  *loss = all_pairs + entries + o->regularization * norms;
  return isfinite(*loss) ? ALS_OK : ALS_NUMERIC;
}

int als_fit(const SparseMatrix *r, const AlsOptions *o, float *users, float *items,
            AlsResult *res) {
  AlsResult out = {0, 0, 0};
  if (res) *res = out;
  if (als_check_options(o) || !weights_valid(r)) return ALS_BADARG;
  if (o->iterations == 0) return ALS_OK;
  const int d = o->dim;
  Fit f;
  memset(&f, 0, sizeof f);
  int rc = fit_alloc(&f, r, o);
  if (rc == ALS_OK) gram(f.team, f.scratch, items, r->cols, d, f.g);
  for (int it = 1; rc == ALS_OK && it <= o->iterations; it++) {
    double loss;
    rc = iterate(&f, o, r, it == 1 ? users : f.x, it == 1 ? items : f.y, &loss);
    if (rc != ALS_OK) break;
    out.iterations = it;
    out.loss = loss;
    if (o->progress && o->progress(o->arg, it, loss)) rc = ALS_ABORTED;
  }
  if (rc == ALS_OK) {
    /* Back to the starting basis: x = x' q^T. */
    for (int i = 0; i < d; i++)
      for (int j = 0; j < d; j++) f.v[(size_t)i * d + j] = (float)f.q[(size_t)j * d + i];
    rotate(f.team, f.scratch, f.x, users, r->rows, d, f.v);
    rotate(f.team, f.scratch, f.y, items, r->cols, d, f.v);
  }
  for (int k = 0; f.scratch && k < f.threads; k++) out.flops += f.scratch[k].flops;
  fit_free(&f);
  if (res) *res = out;
  return rc;
}
