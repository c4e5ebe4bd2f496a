/* pmi_svd.c - co-occurrence counts, shifted positive PMI, truncated SVD
** (see pmi_svd.h). */
#include "pmi_svd.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rsvd.h"
#include "team.h"

/* Items per share of the counting, handed out in order. */
#define COUNT_ROWS 256

void pmi_svd_default_options(PmiSvdOptions *o) {
  memset(o, 0, sizeof *o);
  o->dim = 128;
  o->oversampling = 10;
  o->power_iterations = 4;
  o->shift = 1.0;
  o->power = 0.5;
}

const char *pmi_svd_check_options(const PmiSvdOptions *o) {
  if (o->dim < 1 || o->dim > 4096) return "option \"dim\" must be between 1 and 4096";
  if (o->oversampling < 0 || o->oversampling > 4096)
    return "option \"oversampling\" must be between 0 and 4096";
  if (o->power_iterations < 0 || o->power_iterations > 100)
    return "option \"power_iterations\" must be between 0 and 100";
  if (!(o->shift >= 1) || !isfinite(o->shift))
    return "option \"shift\" must be a finite number >= 1";
  if (!(o->power >= 0 && o->power <= 4)) return "option \"power\" must be between 0 and 4";
  if (o->threads < 0 || o->threads > TEAM_MAX)
    return "option \"threads\" must be between 0 and 64";
  return NULL;
}

/* ---- co-occurrence counts: row i of A^T A, diagonal left out ------------- */

typedef struct {
  int32_t *mark;  /* items: row + 1 when the item was met in this row */
  int32_t *count; /* items: its count in this row (valid when marked) */
  int32_t *list;  /* items met in this row */
} Counter;

typedef struct {
  const SparseMatrix *a, *at; /* collections x items, items x collections */
  SparseMatrix *c;
  int fill; /* 0: row lengths into c->start[i + 1]; 1: columns and values */
  _Atomic int64_t next;
  Counter *counters;
} Count;

static int by_int32(const void *pa, const void *pb) {
  int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
  return (a > b) - (a < b);
}

/* The items sharing a collection with item i, into k->list (sorted when
** the counts are wanted); returns how many. */
static int64_t count_row(const Count *cn, Counter *k, int32_t i) {
  int64_t met = 0;
  for (int64_t e = cn->at->start[i]; e < cn->at->start[i + 1]; e++) {
    int32_t coll = cn->at->col[e];
    for (int64_t f = cn->a->start[coll]; f < cn->a->start[coll + 1]; f++) {
      int32_t j = cn->a->col[f];
      if (j == i) continue;
      if (k->mark[j] != i + 1) {
        k->mark[j] = i + 1;
        k->count[j] = 0;
        k->list[met++] = j;
      }
      k->count[j]++;
    }
  }
  if (cn->fill) qsort(k->list, (size_t)met, sizeof *k->list, by_int32);
  return met;
}

static void count_member(void *arg, int id, int n_members) {
  (void)n_members;
  Count *cn = arg;
  Counter *k = &cn->counters[id];
  const int32_t items = cn->a->cols;
  for (;;) {
    int64_t i0 = atomic_fetch_add(&cn->next, COUNT_ROWS);
    if (i0 >= items) return;
    int64_t i1 = items - i0 < COUNT_ROWS ? items : i0 + COUNT_ROWS;
    for (int32_t i = (int32_t)i0; i < i1; i++) {
      int64_t met = count_row(cn, k, i);
      if (!cn->fill) {
        cn->c->start[i + 1] = met;
        continue;
      }
      int64_t at = cn->c->start[i];
      for (int64_t q = 0; q < met; q++) {
        cn->c->col[at + q] = k->list[q];
        cn->c->val[at + q] = (float)k->count[k->list[q]];
      }
    }
  }
}

int pmi_cooccurrence(const SparseMatrix *a, int threads, SparseMatrix *counts) {
  memset(counts, 0, sizeof *counts);
  if (threads < 0 || threads > TEAM_MAX) return PMI_SVD_BADARG;
  if (threads == 0) threads = team_default_size();
  const int32_t items = a->cols;
  SparseMatrix at;
  Team *team = threads > 1 ? team_new(threads) : NULL;
  Counter *counters = calloc((size_t)threads, sizeof *counters);
  int rc = (threads == 1 || team) && counters && sparse_transpose(a, &at) == SPARSE_OK
               ? PMI_SVD_OK
               : PMI_SVD_NOMEM;
  if (rc != PMI_SVD_OK) memset(&at, 0, sizeof at);
  for (int t = 0; rc == PMI_SVD_OK && t < threads; t++) {
    Counter *k = &counters[t];
    k->mark = calloc((size_t)items + 1, sizeof *k->mark);
    k->count = malloc(((size_t)items + 1) * sizeof *k->count);
    k->list = malloc(((size_t)items + 1) * sizeof *k->list);
    if (!k->mark || !k->count || !k->list) rc = PMI_SVD_NOMEM;
  }
  counts->rows = counts->cols = items;
  counts->start = rc == PMI_SVD_OK ? calloc((size_t)items + 1, sizeof *counts->start) : NULL;
  if (rc == PMI_SVD_OK && counts->start == NULL) rc = PMI_SVD_NOMEM;
  Count cn = {.a = a, .at = &at, .c = counts, .counters = counters};
  if (rc == PMI_SVD_OK) {
    /* Pass 1: row lengths; then offsets; pass 2: the rows themselves. */
    atomic_init(&cn.next, 0);
    team_run(team, count_member, &cn);
    for (int32_t i = 0; i < items; i++) counts->start[i + 1] += counts->start[i];
    counts->nnz = counts->start[items];
    counts->col = malloc((size_t)(counts->nnz > 0 ? counts->nnz : 1) * sizeof *counts->col);
    counts->val = malloc((size_t)(counts->nnz > 0 ? counts->nnz : 1) * sizeof *counts->val);
    if (!counts->col || !counts->val) rc = PMI_SVD_NOMEM;
  }
  if (rc == PMI_SVD_OK) {
    cn.fill = 1;
    atomic_store(&cn.next, 0);
    for (int t = 0; t < threads; t++) /* marks are row + 1: clear pass 1's */
      memset(counters[t].mark, 0, ((size_t)items + 1) * sizeof *counters[t].mark);
    team_run(team, count_member, &cn);
  }
  for (int t = 0; counters && t < threads; t++) {
    free(counters[t].mark);
    free(counters[t].count);
    free(counters[t].list);
  }
  free(counters);
  sparse_free(&at);
  team_free(team);
  if (rc != PMI_SVD_OK) sparse_free(counts);
  return rc;
}

/* ---- shifted positive PMI ------------------------------------------------ */

int pmi_shifted_positive(const SparseMatrix *counts, double shift, SparseMatrix *pmi) {
  memset(pmi, 0, sizeof *pmi);
  if (!(shift >= 1) || counts->rows != counts->cols) return PMI_SVD_BADARG;
  const int32_t n = counts->rows;
  double *total = malloc(((size_t)n + 1) * sizeof *total);
  pmi->rows = pmi->cols = n;
  pmi->start = calloc((size_t)n + 1, sizeof *pmi->start);
  pmi->col = malloc((size_t)(counts->nnz > 0 ? counts->nnz : 1) * sizeof *pmi->col);
  pmi->val = malloc((size_t)(counts->nnz > 0 ? counts->nnz : 1) * sizeof *pmi->val);
  if (!total || !pmi->start || !pmi->col || !pmi->val) {
    free(total);
    sparse_free(pmi);
    return PMI_SVD_NOMEM;
  }
  double d = 0;
  for (int32_t i = 0; i < n; i++) {
    double row = 0;
    for (int64_t e = counts->start[i]; e < counts->start[i + 1]; e++) row += counts->val[e];
    total[i] = row;
    d += row;
  }
  const double log_shift = log(shift);
  int64_t kept = 0;
  for (int32_t i = 0; i < n; i++) {
    for (int64_t e = counts->start[i]; e < counts->start[i + 1]; e++) {
      int32_t j = counts->col[e];
      double v = log((double)counts->val[e] * d / (total[i] * total[j])) - log_shift;
      if (v > 0) {
        pmi->col[kept] = j;
        pmi->val[kept++] = (float)v;
      }
    }
    pmi->start[i + 1] = kept;
  }
  pmi->nnz = kept;
  free(total);
  return PMI_SVD_OK;
}

/* ---- the chain ------------------------------------------------------------ */

/* order[k] = the item numbered k: items in the order of their first
** collection, then those in none.  Items of one collection get
** neighbouring numbers, so a row of the PMI matrix (the items sharing
** collections with one item) touches a few contiguous stretches of the
** dense factors instead of scattered rows: the sparse products then run
** from cache.  A symmetric renumbering: the SVD is the same, up to the
** order of U's rows. */
static int32_t *first_seen_order(const SparseMatrix *a) {
  int32_t *order = malloc(((size_t)a->cols + 1) * sizeof *order);
  char *seen = calloc((size_t)a->cols + 1, 1);
  if (!order || !seen) {
    free(order);
    free(seen);
    return NULL;
  }
  int32_t k = 0;
  for (int64_t e = 0; e < a->nnz; e++)
    if (!seen[a->col[e]]) {
      seen[a->col[e]] = 1;
      order[k++] = a->col[e];
    }
  for (int32_t i = 0; i < a->cols; i++)
    if (!seen[i]) order[k++] = i;
  free(seen);
  return order;
}

/* *b = a with item order[k] renamed k. */
static int renumber(const SparseMatrix *a, const int32_t *order, SparseMatrix *b) {
  int32_t *name = malloc(((size_t)a->cols + 1) * sizeof *name);
  int32_t *row = malloc((size_t)(a->nnz > 0 ? a->nnz : 1) * sizeof *row);
  int32_t *col = malloc((size_t)(a->nnz > 0 ? a->nnz : 1) * sizeof *col);
  int rc = name && row && col ? PMI_SVD_OK : PMI_SVD_NOMEM;
  if (rc == PMI_SVD_OK) {
    for (int32_t k = 0; k < a->cols; k++) name[order[k]] = k;
    for (int32_t r = 0; r < a->rows; r++)
      for (int64_t e = a->start[r]; e < a->start[r + 1]; e++) {
        row[e] = r;
        col[e] = name[a->col[e]];
      }
    if (sparse_from_coo(a->rows, a->cols, a->nnz, row, col, NULL, b) != SPARSE_OK)
      rc = PMI_SVD_NOMEM;
  }
  free(name);
  free(row);
  free(col);
  return rc;
}

static int rsvd_status(int rc) {
  return rc == RSVD_OK ? PMI_SVD_OK
       : rc == RSVD_NOMEM ? PMI_SVD_NOMEM
       : rc == RSVD_ABORTED ? PMI_SVD_ABORTED
       : rc == RSVD_NUMERIC ? PMI_SVD_NUMERIC : PMI_SVD_BADARG;
}

int pmi_svd_fit(const SparseMatrix *a, const PmiSvdOptions *o, float *vectors, float *sigma,
                PmiSvdResult *res) {
  PmiSvdResult out = {0, 0, 0};
  if (res) *res = out;
  if (pmi_svd_check_options(o) || o->dim > a->cols) return PMI_SVD_BADARG;
  const int dim = o->dim;
  SparseMatrix b, counts, pmi;
  memset(&pmi, 0, sizeof pmi);
  float *u = malloc((size_t)a->cols * dim * sizeof *u);
  int32_t *order = first_seen_order(a);
  int rc = u && order ? renumber(a, order, &b) : PMI_SVD_NOMEM;
  if (rc == PMI_SVD_OK) {
    rc = pmi_cooccurrence(&b, o->threads, &counts);
    sparse_free(&b);
  }
  if (rc == PMI_SVD_OK) {
    out.cooccurrences = counts.nnz;
    rc = pmi_shifted_positive(&counts, o->shift, &pmi);
    sparse_free(&counts);
  }
  if (rc == PMI_SVD_OK) {
    out.pmi_entries = pmi.nnz;
    if (pmi.nnz == 0) rc = PMI_SVD_EMPTY;
  }
  if (rc == PMI_SVD_OK) {
    RsvdOptions ro = {.rank = dim, .oversampling = o->oversampling,
                      .power_iterations = o->power_iterations, .seed = o->seed,
                      .threads = o->threads, .should_stop = o->should_stop,
                      .progress = o->progress, .arg = o->arg};
    rc = rsvd_status(rsvd_symmetric(&pmi, &ro, u, sigma, &out.flops));
  }
  if (rc == PMI_SVD_OK) {
    /* Item order[k] gets row k of U diag(sigma^power); zero when its PMI
    ** row is empty. */
    float scale[4096];
    for (int c = 0; c < dim; c++) scale[c] = (float)pow(sigma[c], o->power);
    for (int32_t k = 0; k < a->cols; k++) {
      float *v = vectors + (size_t)order[k] * dim;
      const float *uk = u + (size_t)k * dim;
      int empty = pmi.start[k] == pmi.start[k + 1];
      for (int c = 0; c < dim; c++) v[c] = empty ? 0.0f : uk[c] * scale[c];
    }
  }
  sparse_free(&pmi);
  free(u);
  free(order);
  if (res) *res = out;
  return rc;
}
