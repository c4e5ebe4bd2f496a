/* factors.c - sparse queries and stored factorisations (see factors.h). */
#include "factors.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "columns.h"
#include "common.h"
#include "query.h"
#include "store.h"

/* ---- reading ------------------------------------------------------------- */

void sp_pairs_free(SpPairs *p) {
  sqlite3_free(p->row_ids);
  sqlite3_free(p->item_ids);
  sparse_free(&p->m);
  memset(p, 0, sizeof *p);
}

static const char *type_name(int type) {
  return type == SQLITE_NULL ? "NULL" : type == SQLITE_TEXT ? "TEXT"
       : type == SQLITE_BLOB ? "a BLOB" : type == SQLITE_FLOAT ? "a REAL" : "an INTEGER";
}

/* The problem with column c of st's current row, or NULL (then *id or
** *weight holds its value). */
static char *check_cell(sqlite3_stmt *st, int c, SpWeights weights, sqlite3_int64 *id,
                        float *weight) {
  int type = sqlite3_column_type(st, c);
  if (c < 2) {
    if (type == SQLITE_INTEGER) {
      *id = sqlite3_column_int64(st, c);
      return NULL;
    }
    return sqlite3_mprintf("expected an INTEGER id, got %s", type_name(type));
  }
  const char *must = weights == SP_WEIGHTS_POSITIVE ? "a number > 0" : "a number >= 0";
  if (type != SQLITE_INTEGER && type != SQLITE_FLOAT)
    return sqlite3_mprintf("expected %s, got %s", must, type_name(type));
  double w = sqlite3_column_double(st, c);
  if (!(w >= 0) || (weights == SP_WEIGHTS_POSITIVE && !(w > 0)) || w > FLT_MAX)
    return sqlite3_mprintf("expected %s%s, got %g", must,
                           w > FLT_MAX ? " within float32 range" : "", w);
  *weight = (float)w;
  return NULL;
}

static int by_id(const void *a, const void *b) {
  sqlite3_int64 x = *(const sqlite3_int64 *)a, y = *(const sqlite3_int64 *)b;
  return (x > y) - (x < y);
}

/* *out = the distinct values of ids[0..n-1], increasing (sqlite3_malloc'd). */
static int distinct_ids(const sqlite3_int64 *ids, int64_t n, sqlite3_int64 **out, int64_t *count) {
  sqlite3_int64 *u = sqlite3_malloc64((sqlite3_uint64)n * sizeof *u);
  if (u == NULL) return SQLITE_NOMEM;
  memcpy(u, ids, (size_t)n * sizeof *u);
  int sorted = 1;
  for (int64_t k = 1; k < n && sorted; k++) sorted = u[k - 1] <= u[k];
  if (!sorted) qsort(u, (size_t)n, sizeof *u, by_id);
  int64_t m = 0;
  for (int64_t k = 0; k < n; k++)
    if (m == 0 || u[m - 1] != u[k]) u[m++] = u[k];
  *out = u;
  *count = m;
  return SQLITE_OK;
}

int64_t sp_pairs_find(const sqlite3_int64 *ids, int64_t n, sqlite3_int64 id) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (ids[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && ids[lo] == id ? lo : -1;
}

/* The query's rows, as read. */
typedef struct {
  sqlite3_int64 *row, *item;
  float *weight;
  int64_t n, cap_row, cap_item, cap_weight;
} Triplets;

static void triplets_free(Triplets *t) {
  sqlite3_free(t->row);
  sqlite3_free(t->item);
  sqlite3_free(t->weight);
}

static int read_rows(sqlite3 *db, const char *fn, const char *sql, SpWeights weights,
                     const char *const *names, Triplets *t, char **err) {
  const int n_cols = weights == SP_PAIRS_UNWEIGHTED ? 2 : 3;
  sqlite3_stmt *st = NULL;
  int rc = sp_prepare_user_query(db, fn, sql, n_cols, &st, err);
  if (rc != SQLITE_OK) return rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t k = t->n;
    if (sp_grow((void **)&t->row, &t->cap_row, k + 1, sizeof *t->row) ||
        sp_grow((void **)&t->item, &t->cap_item, k + 1, sizeof *t->item) ||
        (n_cols == 3 && sp_grow((void **)&t->weight, &t->cap_weight, k + 1, sizeof *t->weight))) {
      rc = SQLITE_NOMEM;
      break;
    }
    for (int c = 0; c < n_cols && rc == SQLITE_ROW; c++) {
      sqlite3_int64 *id = c == 0 ? &t->row[k] : &t->item[k];
      char *problem = check_cell(st, c, weights, id, n_cols == 3 ? &t->weight[k] : NULL);
      if (problem) {
        SpColumn col = {fn, NULL, c, c + 1, names[c]};
        *err = sp_column_error(&col, k + 1, problem);
        sqlite3_free(problem);
        rc = SQLITE_MISMATCH;
      }
    }
    if (rc != SQLITE_ROW) break;
    t->n++;
  }
  if (rc == SQLITE_DONE && t->n == 0) {
    *err = sqlite3_mprintf("%s(): the query returned no rows", fn);
    rc = SQLITE_ERROR;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_OK;
  } else if (*err == NULL && rc != SQLITE_NOMEM && rc != SQLITE_MISMATCH) {
    *err = rc == SQLITE_INTERRUPT ? sp_interrupted(fn, "the previous factorization is kept")
                                  : sqlite3_mprintf("%s(): the query failed: %s", fn,
                                                    sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  return rc == SQLITE_MISMATCH ? SQLITE_ERROR : rc;
}

/* index[k] = the number of ids[k] among the distinct ids. */
static int number_ids(const char *fn, const char *what, sqlite3_int64 *ids, int64_t n,
                      sqlite3_int64 **distinct, int32_t **index, int32_t *count, char **err) {
  int64_t m = 0;
  int rc = distinct_ids(ids, n, distinct, &m);
  if (rc != SQLITE_OK) return rc;
  if (m > INT32_MAX - 1) {
    *err = sqlite3_mprintf("%s(): more than %d distinct %s ids", fn, INT32_MAX - 1, what);
    return SQLITE_TOOBIG;
  }
  *count = (int32_t)m;
  *index = sqlite3_malloc64((sqlite3_uint64)n * sizeof **index + 1);
  if (*index == NULL) return SQLITE_NOMEM;
  for (int64_t k = 0; k < n; k++) (*index)[k] = (int32_t)sp_pairs_find(*distinct, m, ids[k]);
  return SQLITE_OK;
}

int sp_pairs_read(sqlite3 *db, const char *fn, const char *sql, SpWeights weights,
                  const char *const *names, SpPairs *p, char **err) {
  Triplets t;
  memset(&t, 0, sizeof t);
  memset(p, 0, sizeof *p);
  int32_t *row = NULL, *item = NULL, n_rows = 0, n_items = 0;
  int rc = read_rows(db, fn, sql, weights, names, &t, err);
  if (rc == SQLITE_OK)
    rc = number_ids(fn, names[0], t.row, t.n, &p->row_ids, &row, &n_rows, err);
  if (rc == SQLITE_OK)
    rc = number_ids(fn, names[1], t.item, t.n, &p->item_ids, &item, &n_items, err);
  if (rc == SQLITE_OK &&
      sparse_from_coo(n_rows, n_items, t.n, row, item, t.weight, &p->m) != SPARSE_OK)
    rc = SQLITE_NOMEM;
  p->query_rows = t.n;
  triplets_free(&t);
  sqlite3_free(row);
  sqlite3_free(item);
  if (rc != SQLITE_OK) sp_pairs_free(p);
  return rc;
}

/* ---- storing ------------------------------------------------------------- */

static const SpModelKind factorizations_kind = {
    "factorization",
    "CREATE TABLE IF NOT EXISTS semiperso_factorizations("
    " name TEXT PRIMARY KEY, method TEXT NOT NULL, dims INTEGER NOT NULL,"
    " users INTEGER NOT NULL, items INTEGER NOT NULL, entries INTEGER NOT NULL,"
    " iterations INTEGER NOT NULL, loss REAL, options TEXT NOT NULL, summary TEXT NOT NULL,"
    " seconds REAL NOT NULL, trained_at TEXT NOT NULL, generation INTEGER NOT NULL);"
    /* Rows of a kilobyte: a rowid table, its key an index. */
    "CREATE TABLE IF NOT EXISTS semiperso_factors("
    " model TEXT NOT NULL, side TEXT NOT NULL CHECK (side IN ('user', 'item')),"
    " id INTEGER NOT NULL, embedding BLOB NOT NULL, UNIQUE (model, side, id));"
    "CREATE TABLE IF NOT EXISTS semiperso_factorization_history("
    " model TEXT NOT NULL, iteration INTEGER NOT NULL, loss REAL, seconds REAL NOT NULL,"
    " PRIMARY KEY (model, iteration)) WITHOUT ROWID;",
    {{"semiperso_factorizations", "name"},
     {"semiperso_factors", "model"},
     {"semiperso_factorization_history", "model"}},
    3,
    NULL, /* no tensors: the vectors are rows of semiperso_factors */
};

typedef struct {
  const SpFactorization *f;
  sqlite3_int64 generation;
} HeadRow;

static int bind_head(sqlite3_stmt *st, int64_t i, const void *arg) {
  (void)i;
  const HeadRow *h = arg;
  const SpFactorization *f = h->f;
  sqlite3_bind_text(st, 2, f->method, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 3, f->dims);
  sqlite3_bind_int64(st, 4, f->users.n);
  sqlite3_bind_int64(st, 5, f->items.n);
  sqlite3_bind_int64(st, 6, f->entries);
  sqlite3_bind_int(st, 7, f->iterations);
  if (isnan(f->loss)) sqlite3_bind_null(st, 8);
  else sqlite3_bind_double(st, 8, f->loss);
  sqlite3_bind_text(st, 9, f->options, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 10, f->summary, -1, SQLITE_STATIC);
  sqlite3_bind_double(st, 11, f->seconds);
  return sqlite3_bind_int64(st, 12, h->generation);
}

typedef struct {
  const SpFactorSide *side;
  int dims;
} SideRows;

static int bind_vector(sqlite3_stmt *st, int64_t k, const void *arg) {
  const SideRows *s = arg;
  sqlite3_bind_int64(st, 2, s->side->ids[k]);
  return sqlite3_bind_blob64(st, 3, s->side->vectors + k * s->dims,
                             (sqlite3_uint64)s->dims * sizeof(float), SQLITE_STATIC);
}

static int bind_iteration(sqlite3_stmt *st, int64_t i, const void *arg) {
  const SpFactorization *f = arg;
  sqlite3_bind_int64(st, 2, i + 1);
  if (f->history_loss) sqlite3_bind_double(st, 3, f->history_loss[i]);
  else sqlite3_bind_null(st, 3);
  return sqlite3_bind_double(st, 4, f->history_seconds[i]);
}

int sp_factorization_save(sqlite3 *db, const char *fn, const SpFactorization *f, char **err) {
  SpStore s;
  sp_store_begin(&s, db, fn, &factorizations_kind, f->name);
  HeadRow head = {f, s.generation};
  sp_store_rows(&s,
                "INSERT INTO semiperso_factorizations VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                " ?10, ?11, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?12)",
                1, bind_head, &head);
  SideRows users = {&f->users, f->dims}, items = {&f->items, f->dims};
  sp_store_rows(&s, "INSERT INTO semiperso_factors VALUES (?1, 'user', ?2, ?3)", f->users.n,
                bind_vector, &users);
  sp_store_rows(&s, "INSERT INTO semiperso_factors VALUES (?1, 'item', ?2, ?3)", f->items.n,
                bind_vector, &items);
  sp_store_rows(&s, "INSERT INTO semiperso_factorization_history VALUES (?1, ?2, ?3, ?4)",
                f->n_history, bind_iteration, f);
  return sp_store_end(&s, err);
}

/* ---- training ------------------------------------------------------------ */

int sp_factorizing_args(SpFactorizing *b, int argc, sqlite3_value **argv, const char *query_is,
                        const SpOption *spec, int n_spec, const char **sql, char **err) {
  int rc = sp_read_text((SpArg){b->fn, 1, "name"}, argv[0], "a non-empty TEXT", 1, &b->name, err);
  if (rc == SQLITE_OK) rc = sp_read_text((SpArg){b->fn, 2, "query"}, argv[1], query_is, 0, sql, err);
  if (rc == SQLITE_OK)
    rc = sp_parse_options(b->db, b->fn, 3, argc > 2 ? argv[2] : NULL, spec, n_spec, err);
  if (rc == SQLITE_OK && (b->options = sp_options_json(b->db, spec, n_spec)) == NULL)
    rc = SQLITE_NOMEM;
  return rc;
}

int sp_factorizing_check_dim(const SpFactorizing *b, int dim, char **err) {
  if (dim <= b->pairs.m.cols) return SQLITE_OK;
  *err = sqlite3_mprintf("%s(): dim = %d is larger than the number of items (%d); lower option "
                         "\"dim\"", b->fn, dim, (int)b->pairs.m.cols);
  return SQLITE_ERROR;
}

int sp_factorizing_interrupted(void *b) {
  return sp_check_interrupt(((SpFactorizing *)b)->db) != SQLITE_OK;
}

void sp_factorize(sqlite3_context *ctx, int argc, sqlite3_value **argv, const SpFactorizer *f) {
  SpFactorizing *b = sqlite3_malloc64(f->size);
  if (b == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  memset(b, 0, f->size);
  b->db = sqlite3_context_db_handle(ctx);
  b->fn = f->fn;
  const char *sql = NULL;
  char *err = NULL, *summary = NULL;
  int rc = f->parse(b, argc, argv, &sql, &err);
  if (rc == SQLITE_OK) rc = f->load(b, sql, &err);
  if (rc == SQLITE_OK) rc = f->fit(b, &err);
  if (rc == SQLITE_OK) {
    summary = f->summary(b);
    rc = summary ? f->persist(b, summary, &err) : SQLITE_NOMEM;
  }
  if (rc == SQLITE_OK) sp_result_json_text(ctx, summary);
  else sp_result_error_rc(ctx, rc, err);
  sqlite3_free(summary);
  f->clear(b);
  sp_pairs_free(&b->pairs);
  sqlite3_free(b->options);
  sqlite3_free(b);
}
