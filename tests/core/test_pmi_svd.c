/* test_pmi_svd.c - co-occurrence counts and shifted positive PMI against a
** brute-force dense computation; the randomized SVD against a dense
** symmetric eigendecomposition of the same PMI matrix (LAPACK dsyev, the
** QR algorithm, in double, from the system's LAPACK); determinism; bad input.
** link: -llapack
*/
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pmi_svd.h"
#include "rng.h"
#include "rsvd.h"

void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
            double *w, double *work, const int *lwork, int *info, size_t, size_t);

/* Collections as (collection, item) pairs, kept densely too. */
typedef struct {
  int collections, items;
  char *in; /* collections x items */
  SparseMatrix a;
} Sets;

/* Collections mostly from one of `groups` blocks of items, by a skewed
** popularity inside the block, a few items from anywhere; repeated pairs
** in the input on purpose. */
static void sets_random(Sets *s, int collections, int items, int groups, uint64_t seed) {
  Rng r;
  rng_seed(&r, seed, 3);
  s->collections = collections;
  s->items = items;
  s->in = calloc((size_t)collections * items, 1);
  int64_t cap = (int64_t)collections * 60, n = 0;
  int32_t *row = malloc(sizeof(int32_t) * cap), *col = malloc(sizeof(int32_t) * cap);
  int per = items / groups;
  for (int c = 0; c < collections; c++) {
    int g = (int)rng_below(&r, (uint64_t)groups), len = 3 + (int)rng_below(&r, 20);
    for (int k = 0; k < len; k++) {
      int item = rng_uniform(&r) < 0.9
                     ? g * per + (int)(per * rng_uniform(&r) * rng_uniform(&r))
                     : (int)rng_below(&r, (uint64_t)items);
      int times = rng_uniform(&r) < 0.1 ? 2 : 1;
      for (int t = 0; t < times; t++) {
        row[n] = c;
        col[n++] = item;
      }
      s->in[(size_t)c * items + item] = 1;
    }
  }
  CHECK(sparse_from_coo(collections, items, n, row, col, NULL, &s->a) == SPARSE_OK);
  free(row);
  free(col);
}

static void sets_free(Sets *s) {
  free(s->in);
  sparse_free(&s->a);
}

/* Dense counts and shifted positive PMI, straight from the definitions. */
static void dense_pmi(const Sets *s, double shift, double *count, double *pmi) {
  const int n = s->items;
  memset(count, 0, sizeof(double) * n * n);
  for (int c = 0; c < s->collections; c++)
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++)
        if (i != j && s->in[(size_t)c * n + i] && s->in[(size_t)c * n + j])
          count[(size_t)i * n + j] += 1;
  double *row = calloc((size_t)n, sizeof *row), total = 0;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < n; j++) row[i] += count[(size_t)i * n + j];
    total += row[i];
  }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double c = count[(size_t)i * n + j];
      double v = c > 0 ? log(c * total / (row[i] * row[j])) - log(shift) : 0;
      pmi[(size_t)i * n + j] = v > 0 ? v : 0;
    }
  free(row);
}

/* |sparse - dense| over every cell, and whether the sparse one stores
** exactly the positive cells. */
static double sparse_vs_dense(const SparseMatrix *m, const double *dense, int *same_cells) {
  const int n = m->rows;
  double worst = 0;
  int64_t positive = 0;
  *same_cells = 1;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < n; j++) positive += dense[(size_t)i * n + j] > 0;
    for (int64_t e = m->start[i]; e < m->start[i + 1]; e++) {
      double err = fabs(m->val[e] - dense[(size_t)i * n + m->col[e]]);
      if (err > worst) worst = err;
      *same_cells &= dense[(size_t)i * n + m->col[e]] > 0;
    }
  }
  *same_cells &= positive == m->nnz;
  return worst;
}

/* Eigenpairs of the dense symmetric n x n a (destroyed): eigenvalues by
** decreasing magnitude in lam, eigenvectors as columns of vec (n x n
** row-major), same order. */
static void dense_eigen(double *a, int n, double *lam, double *vec) {
  int lwork = 3 * n * n + 64, info;
  double *w = malloc(sizeof(double) * n), *work = malloc(sizeof(double) * lwork);
  dsyev_("V", "U", &n, a, &n, w, work, &lwork, &info, 1, 1);
  CHECK(info == 0);
  int *order = malloc(sizeof(int) * n);
  for (int k = 0; k < n; k++) order[k] = k;
  for (int k = 0; k < n; k++) /* selection sort by |w|, small n */
    for (int q = k + 1; q < n; q++)
      if (fabs(w[order[q]]) > fabs(w[order[k]])) {
        int t = order[k];
        order[k] = order[q];
        order[q] = t;
      }
  for (int k = 0; k < n; k++) {
    lam[k] = w[order[k]];
    for (int i = 0; i < n; i++) vec[(size_t)i * n + k] = a[(size_t)order[k] * n + i];
  }
  free(w);
  free(work);
  free(order);
}

/* Cosine of the largest principal angle between span(u) (n x r, float,
** row-major) and the first r columns of vec (n x n): the smallest
** singular value of u^T vec_r, via the eigenvalues of its Gram matrix. */
static double min_principal_cosine(const float *u, const double *vec, int n, int r) {
  double *p = calloc((size_t)r * r, sizeof *p), *g = calloc((size_t)r * r, sizeof *g);
  for (int a = 0; a < r; a++)
    for (int b = 0; b < r; b++)
      for (int i = 0; i < n; i++) p[a * r + b] += (double)u[(size_t)i * r + a] * vec[(size_t)i * n + b];
  for (int a = 0; a < r; a++)
    for (int b = 0; b < r; b++)
      for (int k = 0; k < r; k++) g[a * r + b] += p[k * r + a] * p[k * r + b];
  int lwork = 3 * r * r + 64, info;
  double *w = malloc(sizeof(double) * r), *work = malloc(sizeof(double) * lwork);
  dsyev_("N", "U", &r, g, &r, w, work, &lwork, &info, 1, 1);
  double c = sqrt(w[0] > 0 ? w[0] : 0);
  free(p);
  free(g);
  free(w);
  free(work);
  return c;
}

int main(void) {
  /* ---- counts and PMI on a tiny case ---- */
  Sets t;
  sets_random(&t, 12, 15, 3, 1);
  double *count = malloc(sizeof(double) * 15 * 15), *pmi = malloc(sizeof(double) * 15 * 15);
  SparseMatrix c, m;
  for (int threads = 1; threads <= 2; threads++) {
    CHECK(pmi_cooccurrence(&t.a, threads, &c) == PMI_SVD_OK);
    for (int shift = 1; shift <= 2; shift++) {
      dense_pmi(&t, shift, count, pmi);
      int cells;
      CHECK(sparse_vs_dense(&c, count, &cells) == 0 && cells);
      CHECK(pmi_shifted_positive(&c, shift, &m) == PMI_SVD_OK);
      CHECK_NEAR(sparse_vs_dense(&m, pmi, &cells), 0, 1e-5);
      CHECK(cells && m.nnz > 0);
      sparse_free(&m);
    }
    sparse_free(&c);
  }
  free(count);
  free(pmi);
  sets_free(&t);

  /* ---- the SVD against a dense eigendecomposition ---- */
  enum { N = 240, R = 8 };
  Sets s;
  sets_random(&s, 400, N, 8, 2);
  double *dense = malloc(sizeof(double) * N * N), *cnt = malloc(sizeof(double) * N * N);
  double *lam = malloc(sizeof(double) * N), *vec = malloc(sizeof(double) * N * N);
  dense_pmi(&s, 1, cnt, dense);
  CHECK(pmi_cooccurrence(&s.a, 0, &c) == PMI_SVD_OK);
  CHECK(pmi_shifted_positive(&c, 1, &m) == PMI_SVD_OK);
  dense_eigen(dense, N, lam, vec);
  /* A clear gap after the R-th singular value: the subspace is defined. */
  CHECK_MSG(fabs(lam[R]) < 0.8 * fabs(lam[R - 1]), "sigma_%d %g, sigma_%d %g", R, fabs(lam[R - 1]),
            R + 1, fabs(lam[R]));
  float *u = malloc(sizeof(float) * N * R), sigma[R];
  RsvdOptions ro = {.rank = R, .oversampling = 10, .power_iterations = 8, .seed = 3};
  CHECK(rsvd_symmetric(&m, &ro, u, sigma, NULL) == RSVD_OK);
  double worst_sigma = 0;
  for (int k = 0; k < R; k++) {
    double rel = fabs(sigma[k] - fabs(lam[k])) / fabs(lam[k]);
    if (rel > worst_sigma) worst_sigma = rel;
  }
  CHECK_MSG(worst_sigma < 1e-4, "singular values off by %g (relative)", worst_sigma);
  double cosine = min_principal_cosine(u, vec, N, R);
  CHECK_MSG(cosine > 1 - 1e-6, "largest principal angle %g rad", acos(cosine < 1 ? cosine : 1));
  /* Orthonormal columns, each with its largest entry positive. */
  double ortho = 0;
  int signs = 1;
  for (int a = 0; a < R; a++) {
    float big = 0;
    for (int i = 0; i < N; i++)
      if (fabsf(u[i * R + a]) > fabsf(big)) big = u[i * R + a];
    signs &= big > 0;
    for (int b = 0; b < R; b++) {
      double dot = 0;
      for (int i = 0; i < N; i++) dot += (double)u[i * R + a] * u[i * R + b];
      ortho = fmax(ortho, fabs(dot - (a == b)));
    }
  }
  CHECK_NEAR(ortho, 0, 1e-5);
  CHECK(signs);
  /* Without power iterations the same range is only roughly right. */
  RsvdOptions rough = ro;
  rough.power_iterations = 0;
  rough.oversampling = 2;
  CHECK(rsvd_symmetric(&m, &rough, u, sigma, NULL) == RSVD_OK);
  CHECK(min_principal_cosine(u, vec, N, R) < 1 - 1e-6);

  /* A range wider than the rank: collections {0, 1, 2}, {0, 3}, {4}, {5}
  ** give a PMI matrix of rank 4 (items 4 and 5 meet no one) on 6 items;
  ** with rank 4 + oversampling 2 the basis must cope with a range of
  ** dimension 4 in 6 columns. */
  {
    Sets k = {4, 6, calloc(24, 1), {0}};
    int32_t kr[7] = {0, 0, 0, 1, 1, 2, 3}, kc[7] = {0, 1, 2, 0, 3, 4, 5};
    for (int q = 0; q < 7; q++) k.in[kr[q] * 6 + kc[q]] = 1;
    CHECK(sparse_from_coo(4, 6, 7, kr, kc, NULL, &k.a) == SPARSE_OK);
    double kd[36], kcount[36], klam[6], kvec[36];
    dense_pmi(&k, 1, kcount, kd);
    dense_eigen(kd, 6, klam, kvec);
    SparseMatrix kcnt, km;
    CHECK(pmi_cooccurrence(&k.a, 1, &kcnt) == PMI_SVD_OK);
    CHECK(pmi_shifted_positive(&kcnt, 1, &km) == PMI_SVD_OK);
    RsvdOptions tiny = {.rank = 4, .oversampling = 2, .power_iterations = 3, .seed = 1};
    float ku[24], ks[4];
    CHECK(rsvd_symmetric(&km, &tiny, ku, ks, NULL) == RSVD_OK);
    double err = 0;
    for (int q = 0; q < 4; q++) err = fmax(err, fabs(ks[q] - fabs(klam[q])));
    CHECK_MSG(err < 1e-5 && fabs(klam[4]) < 1e-12, "sigma off by %g", err);
    CHECK(min_principal_cosine(ku, kvec, 6, 4) > 1 - 1e-6);
    sparse_free(&kcnt);
    sparse_free(&km);
    sets_free(&k);
  }

  /* The whole chain: vectors = U sigma^power, so v v^T = U Sigma U^T
  ** for power 0.5 (signs and order do not matter there). */
  PmiSvdOptions po;
  pmi_svd_default_options(&po);
  CHECK(po.dim == 128 && po.power == 0.5 && po.shift == 1 && pmi_svd_check_options(&po) == NULL);
  po.dim = R;
  po.power_iterations = 8;
  po.seed = 5;
  float *v = malloc(sizeof(float) * N * R), *v2 = malloc(sizeof(float) * N * R), sig[R];
  PmiSvdResult res;
  CHECK(pmi_svd_fit(&s.a, &po, v, sig, &res) == PMI_SVD_OK);
  CHECK(res.cooccurrences == c.nnz && res.pmi_entries == m.nnz && res.flops > 0);
  double worst = 0, scale = fabs(lam[0]);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double got = 0, want = 0;
      for (int k = 0; k < R; k++) {
        got += (double)v[i * R + k] * v[j * R + k];
        want += vec[(size_t)i * N + k] * fabs(lam[k]) * vec[(size_t)j * N + k];
      }
      worst = fmax(worst, fabs(got - want));
    }
  CHECK_MSG(worst < 1e-4 * scale, "v v^T off by %g (sigma_1 %g)", worst, scale);
  /* Items in no shared collection: zero vectors. */
  int zero_ok = 1;
  for (int i = 0; i < N; i++) {
    int empty = m.start[i] == m.start[i + 1];
    for (int k = 0; k < R; k++) zero_ok &= !empty || v[i * R + k] == 0.0f;
  }
  CHECK(zero_ok);

  /* Bit-identical for any thread count; the seed matters. */
  for (int threads = 1; threads <= 3; threads++) {
    po.threads = threads;
    CHECK(pmi_svd_fit(&s.a, &po, v2, sig, NULL) == PMI_SVD_OK);
    CHECK(memcmp(v, v2, sizeof(float) * N * R) == 0);
  }
  po.seed = 6;
  CHECK(pmi_svd_fit(&s.a, &po, v2, sig, NULL) == PMI_SVD_OK);
  CHECK(memcmp(v, v2, sizeof(float) * N * R) != 0);
  po.seed = 5;
  po.threads = 0;

  /* Bad input. */
  PmiSvdOptions bad = po;
  bad.dim = N + 1;
  CHECK(pmi_svd_fit(&s.a, &bad, v, sig, NULL) == PMI_SVD_BADARG);
  bad = po;
  bad.shift = 0.5;
  CHECK(pmi_svd_check_options(&bad) && strstr(pmi_svd_check_options(&bad), "\"shift\""));
  bad = po;
  bad.power = NAN;
  CHECK(pmi_svd_check_options(&bad) && strstr(pmi_svd_check_options(&bad), "\"power\""));
  bad = po;
  bad.power_iterations = -1;
  CHECK(pmi_svd_check_options(&bad) && strstr(pmi_svd_check_options(&bad), "\"power_iterations\""));
  /* Every collection a single item: nothing co-occurs. */
  int32_t lone_row[3] = {0, 1, 2}, lone_col[3] = {0, 1, 2};
  SparseMatrix lone;
  CHECK(sparse_from_coo(3, 3, 3, lone_row, lone_col, NULL, &lone) == SPARSE_OK);
  po.dim = 2;
  CHECK(pmi_svd_fit(&lone, &po, v, sig, NULL) == PMI_SVD_EMPTY);
  sparse_free(&lone);

  free(u);
  free(v);
  free(v2);
  free(dense);
  free(cnt);
  free(lam);
  free(vec);
  sparse_free(&c);
  sparse_free(&m);
  sets_free(&s);
  return check_report();
}
