/*
** topk.c - nearest tracks by cosine similarity or inner product, as
** table-valued functions, on ext/core/topk.h.
**
**   SELECT rank, track_id, score
**     FROM topk_tracks(embedding, k [, table [, metric]]);
**       the k rows of `table` (default 'tracks') whose `embedding` scores
**       highest against the argument, best first, ties by smaller id;
**       every row when k exceeds the table.  `table` names a table of the
**       database with an INTEGER PRIMARY KEY and an `embedding` column of
**       float32 vectors (tracks, playlists, ...).  `metric` is 'cosine'
**       (the default: cosine similarity) or 'dot' (the raw inner product
**       with the vectors as stored, as the paper's reference code ranks).
**
**   SELECT user_id, rank, track_id, score
**     FROM topk_tracks_batch(query, k [, table [, metric]]);
**       the same for every row of query, a read-only SELECT yielding
**       (user_id INTEGER, embedding); users are scored in blocks, one sgemm
**       per block, in the order the query yields them.  It runs user SQL,
**       so it is SQLITE_VTAB_DIRECTONLY (not usable from views/triggers).
**
**   SELECT user_id, tracks
**     FROM topk_tracks_lists(query, k [, table [, metric]]);
**       the same as topk_tracks_batch, one row per user: tracks is the
**       JSON array of the track ids best first (steps/recommend.sql stores
**       lists, not one row per rank).
**
** Both are exact (see core/topk.h).  Per connection and metric, the item
** matrix of the last table used is cached (for cosine its rows
** L2-normalised, for dot as stored with their largest norm, which bounds
** sgemm's rounding) and validated on every call with a key that costs no
** table scan:
**   - SQLITE_FCNTL_DATA_VERSION of the table's database: changes at every
**     commit to it, by this connection or another;
**   - sqlite3_total_changes64(): rows changed by this connection's finished
**     statements, so uncommitted writes inside a transaction count too.
**     It moves only when a statement ends, so an
**     INSERT INTO recs SELECT ... FROM users, topk_tracks(users.embedding, 50)
**     keeps one matrix for its whole run;
**   - the schema versions of temp, main and the table's database: DDL
**     (a table dropped, recreated, altered, or shadowed in temp).
** Any difference rebuilds the matrix (one scan of the table).  Known gap:
** rows changed only by triggers or foreign-key actions inside a transaction
** not yet committed, of a statement that itself changed no row.  A running
** topk_tracks_batch() keeps the matrix it started with.
*/
#include <string.h>

#include "../core/team.h"
#include "../core/topk.h"
#include "args.h"
#include "columns.h"
#include "common.h"
#include "modules.h"
#include "query.h"

#define TOPK_MAX_K 10000000

/* ---- the item matrix, shared by reference ------------------------------ */

/* How items are scored; also the slot of the cache. */
enum { METRIC_COSINE, METRIC_DOT, N_METRICS };
static const char *const metric_names[N_METRICS] = {"cosine", "dot"};

/* A cursor keeps the matrix it started with while the cache may move on
** to a newer one: whoever drops the last reference frees it. */
typedef struct {
  int refs;
  SpMatrix m;      /* n x d rows, ids ascending: unit rows for cosine, as stored for dot */
  double max_norm; /* dot: the largest row norm */
} ItemSet;

static void itemset_unref(ItemSet *s) {
  if (s && --s->refs == 0) {
    sp_matrix_free(&s->m);
    sqlite3_free(s);
  }
}

typedef struct {
  sqlite3_int64 changes;
  unsigned int data_version;
  sqlite3_int64 sv_temp, sv_main, sv_table;
} CacheKey;

/* The last table used with one metric. */
typedef struct {
  char *arg;    /* the table argument as given */
  char *schema; /* where it resolved */
  CacheKey key;
  ItemSet *set;
} ItemSlot;

/* Per connection, shared by both modules (the binding's state): a slot
** per metric, so calls alternating metrics do not reload each other. */
typedef struct {
  ItemSlot slot[N_METRICS];
} ItemCache;

static void item_cache_clear(void *p) {
  ItemCache *c = p;
  for (int m = 0; m < N_METRICS; m++) {
    sqlite3_free(c->slot[m].arg);
    sqlite3_free(c->slot[m].schema);
    itemset_unref(c->slot[m].set);
  }
}

typedef struct {
  sqlite3_vtab base;
  sqlite3 *db;
  ItemCache *cache;
  int batch; /* topk_tracks_batch or topk_tracks_lists: users from a query */
  int lists; /* topk_tracks_lists: a row per user */
  sqlite3_stmt *sv[3]; /* schema_version of temp, main, the table's schema */
  char *sv_schema;     /* the schema sv[2] was prepared for */
} TopkVtab;

static sqlite3_int64 schema_version(TopkVtab *v, int slot, const char *schema) {
  if (slot == 2 && (v->sv_schema == NULL || strcmp(v->sv_schema, schema) != 0)) {
    sqlite3_finalize(v->sv[2]);
    v->sv[2] = NULL;
    sqlite3_free(v->sv_schema);
    v->sv_schema = sqlite3_mprintf("%s", schema);
  }
  if (v->sv[slot] == NULL) {
    char *sql = sqlite3_mprintf("PRAGMA \"%w\".schema_version", schema);
    if (sql == NULL) return -1;
    sqlite3_prepare_v2(v->db, sql, -1, &v->sv[slot], NULL);
    sqlite3_free(sql);
    if (v->sv[slot] == NULL) return -1;
  }
  sqlite3_int64 r = -1;
  if (sqlite3_step(v->sv[slot]) == SQLITE_ROW) r = sqlite3_column_int64(v->sv[slot], 0);
  sqlite3_reset(v->sv[slot]);
  return r;
}

static void cache_key(TopkVtab *v, const char *schema, CacheKey *k) {
  memset(k, 0, sizeof *k);
  k->changes = sqlite3_total_changes64(v->db);
  sqlite3_file_control(v->db, schema, SQLITE_FCNTL_DATA_VERSION, &k->data_version);
  k->sv_temp = schema_version(v, 0, "temp");
  k->sv_main = schema_version(v, 1, "main");
  k->sv_table = schema_version(v, 2, schema);
}

static int same_key(const CacheKey *a, const CacheKey *b) {
  return a->changes == b->changes && a->data_version == b->data_version &&
         a->sv_temp == b->sv_temp && a->sv_main == b->sv_main &&
         a->sv_table == b->sv_table;
}

/* Finds table (any case) in temp, main, then attached databases, and checks
** it has an INTEGER PRIMARY KEY and an embedding column.  On success
** *schema and *pk are sqlite3_malloc'd. */
static int resolve_table(sqlite3 *db, const char *fn, const char *table,
                         char **schema, char **pk, char **err) {
  sqlite3_stmt *st = NULL;
  *schema = *pk = NULL;
  int rc = sqlite3_prepare_v2(
      db, "SELECT schema, type, wr FROM pragma_table_list WHERE name = ?1 COLLATE NOCASE"
          " ORDER BY schema <> 'temp', schema <> 'main'", -1, &st, NULL);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("%s(): %s", fn, sqlite3_errmsg(db));
    return rc;
  }
  sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    *err = sqlite3_mprintf("%s(): argument 3: no table named '%s'", fn, table);
    sqlite3_finalize(st);
    return SQLITE_ERROR;
  }
  const char *type = (const char *)sqlite3_column_text(st, 1);
  if (type == NULL || strcmp(type, "table") != 0) {
    *err = sqlite3_mprintf("%s(): argument 3: '%s' is a %s, not a table", fn, table,
                           type ? type : "?");
    sqlite3_finalize(st);
    return SQLITE_ERROR;
  }
  if (sqlite3_column_int(st, 2)) {
    *err = sqlite3_mprintf("%s(): argument 3: table '%s' is WITHOUT ROWID; it needs an "
                           "INTEGER PRIMARY KEY", fn, table);
    sqlite3_finalize(st);
    return SQLITE_ERROR;
  }
  *schema = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  st = NULL;
  if (*schema == NULL) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, "SELECT name, upper(type), pk FROM pragma_table_info(?1, ?2)",
                          -1, &st, NULL);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("%s(): %s", fn, sqlite3_errmsg(db));
    goto fail;
  }
  sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, *schema, -1, SQLITE_STATIC);
  int n_pk = 0, has_embedding = 0, int_pk = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *col = (const char *)sqlite3_column_text(st, 0);
    const char *ctype = (const char *)sqlite3_column_text(st, 1);
    if (col && sqlite3_stricmp(col, "embedding") == 0) has_embedding = 1;
    if (sqlite3_column_int(st, 2) > 0) {
      n_pk++;
      if (ctype && strcmp(ctype, "INTEGER") == 0) {
        int_pk = 1;
        sqlite3_free(*pk);
        *pk = sqlite3_mprintf("%s", col);
      }
    }
  }
  sqlite3_finalize(st);
  if (n_pk != 1 || !int_pk || *pk == NULL) {
    *err = sqlite3_mprintf("%s(): argument 3: table '%s' has no INTEGER PRIMARY KEY", fn,
                           table);
    goto fail;
  }
  if (!has_embedding) {
    *err = sqlite3_mprintf("%s(): argument 3: table '%s' has no column named embedding",
                           fn, table);
    goto fail;
  }
  return SQLITE_OK;
fail:
  sqlite3_free(*schema);
  sqlite3_free(*pk);
  *schema = *pk = NULL;
  return SQLITE_ERROR;
}

/* Reads the embeddings of table, rows in id order, prepared for metric. */
static int load_items(sqlite3 *db, const char *fn, const char *schema, const char *table,
                      const char *pk, int metric, ItemSet **out, char **err) {
  char *sql = sqlite3_mprintf("SELECT \"%w\", embedding FROM \"%w\".\"%w\" ORDER BY 1",
                              pk, schema, table);
  char *source = sqlite3_mprintf("table '%s'", table);
  ItemSet *s = sqlite3_malloc(sizeof *s);
  sqlite3_stmt *st = NULL;
  int64_t row = 0;
  int rc = sql && source && s ? sqlite3_prepare_v2(db, sql, -1, &st, NULL) : SQLITE_NOMEM;
  if (rc != SQLITE_OK && rc != SQLITE_NOMEM)
    *err = sqlite3_mprintf("%s(): cannot read table '%s': %s", fn, table, sqlite3_errmsg(db));
  if (s) memset(s, 0, sizeof *s);
  SpColumn embedding = {fn, source, 1, 0, "embedding"};
  if (rc == SQLITE_OK)
    rc = sp_matrix_read(&s->m, st, &embedding, (int64_t)INT32_MAX + 1, &row, err);
  if (rc == SQLITE_ROW) {
    *err = sqlite3_mprintf("%s(): table '%s' has too many rows", fn, table);
    rc = SQLITE_TOOBIG;
  } else if (rc != SQLITE_DONE && rc != SQLITE_OK && *err == NULL && rc != SQLITE_NOMEM) {
    *err = sqlite3_mprintf("%s(): cannot read table '%s': %s", fn, table, sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  sqlite3_free(sql);
  sqlite3_free(source);
  if (rc != SQLITE_DONE) {
    if (s) sp_matrix_free(&s->m);
    sqlite3_free(s);
    return rc;
  }
  if (metric == METRIC_COSINE)
    topk_normalize_rows(s->m.data, s->m.rows, s->m.dims);
  else
    s->max_norm = topk_max_norm(s->m.data, s->m.rows, s->m.dims);
  s->refs = 1;
  *out = s;
  return SQLITE_OK;
}

/* The valid item matrix of table for metric, from the cache or rebuilt; a
** new reference in *out. */
static int get_items(TopkVtab *v, const char *fn, const char *table, int metric,
                     ItemSet **out, char **err) {
  ItemSlot *c = &v->cache->slot[metric];
  if (c->set && c->arg && strcmp(c->arg, table) == 0) {
    CacheKey k;
    cache_key(v, c->schema, &k);
    if (same_key(&k, &c->key)) {
      c->set->refs++;
      *out = c->set;
      return SQLITE_OK;
    }
  }
  char *schema = NULL, *pk = NULL, *arg = NULL;
  ItemSet *s = NULL;
  int rc = resolve_table(v->db, fn, table, &schema, &pk, err);
  if (rc == SQLITE_OK) rc = load_items(v->db, fn, schema, table, pk, metric, &s, err);
  if (rc == SQLITE_OK && (arg = sqlite3_mprintf("%s", table)) == NULL) rc = SQLITE_NOMEM;
  sqlite3_free(pk);
  if (rc != SQLITE_OK) {
    sqlite3_free(schema);
    itemset_unref(s);
    return rc;
  }
  itemset_unref(c->set);
  sqlite3_free(c->arg);
  sqlite3_free(c->schema);
  c->set = s;
  c->arg = arg;
  c->schema = schema;
  cache_key(v, schema, &c->key);
  s->refs++;
  *out = s;
  return SQLITE_OK;
}

/* ---- the virtual tables ------------------------------------------------ */

/* Columns: topk_tracks     rank, track_id, score, | embedding, k, tbl, metric
**          topk_tracks_batch user_id, rank, track_id, score, | query, k, tbl, metric */
enum { ARG_VEC, ARG_K, ARG_TABLE, ARG_METRIC, N_ARGS };

typedef struct {
  sqlite3_vtab_cursor base;
  int64_t rowid;
  /* results of the current block: nq queries x m ranks */
  int k, m, nq;
  int32_t *idx;
  float *score;
  int q, r; /* position */
  int metric;
  ItemSet *set;
  /* batch only: the block of users read from the query, with their ids */
  sqlite3_stmt *query;
  int64_t query_row;
  SpMatrix users;
  int64_t block;
  int done;
} TopkCursor;

static int n_visible(const TopkVtab *v) { return v->lists ? 2 : v->batch ? 4 : 3; }

static const char *fn_name(const TopkVtab *v) {
  return v->lists ? "topk_tracks_lists" : v->batch ? "topk_tracks_batch" : "topk_tracks";
}

static int topk_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                        sqlite3_vtab **out, char **pzErr) {
  (void)argc;
  (void)argv;
  (void)pzErr;
  int lists = strcmp(argv[0], "topk_tracks_lists") == 0;
  int batch = lists || strcmp(argv[0], "topk_tracks_batch") == 0;
  int rc = sqlite3_declare_vtab(
      db, lists   ? "CREATE TABLE x(user_id, tracks,"
                    " query HIDDEN, k HIDDEN, tbl HIDDEN, metric HIDDEN)"
          : batch ? "CREATE TABLE x(user_id, rank, track_id, score,"
                    " query HIDDEN, k HIDDEN, tbl HIDDEN, metric HIDDEN)"
                  : "CREATE TABLE x(rank, track_id, score,"
                    " embedding HIDDEN, k HIDDEN, tbl HIDDEN, metric HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  if (batch) {
    /* It runs the SQL it is given: never from a view or trigger. */
    sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  } else {
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  }
  TopkVtab *v = sqlite3_malloc(sizeof *v);
  if (v == NULL) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->db = db;
  v->cache = sp_module_state(aux);
  v->batch = batch;
  v->lists = lists;
  *out = &v->base;
  return SQLITE_OK;
}

static int topk_disconnect(sqlite3_vtab *p) {
  TopkVtab *v = (TopkVtab *)p;
  for (int i = 0; i < 3; i++) sqlite3_finalize(v->sv[i]);
  sqlite3_free(v->sv_schema);
  sqlite3_free(v);
  return SQLITE_OK;
}

static int topk_best_index(sqlite3_vtab *p, sqlite3_index_info *info) {
  TopkVtab *v = (TopkVtab *)p;
  int first = n_visible(v);
  int where[N_ARGS] = {-1, -1, -1, -1}, unusable = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    int arg = c->iColumn - first;
    if (arg < 0 || arg >= N_ARGS) continue;
    if (c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!c->usable) {
      unusable |= 1 << arg;
      continue;
    }
    where[arg] = i;
  }
  if (where[ARG_VEC] < 0 || where[ARG_K] < 0) {
    if (unusable) return SQLITE_CONSTRAINT;
    sqlite3_free(p->zErrMsg);
    p->zErrMsg = sqlite3_mprintf(
        v->batch ? "%s(query, k [, table [, metric]]): the query and k arguments are required"
                 : "%s(embedding, k [, table [, metric]]): the embedding and k arguments are "
                   "required",
        fn_name(v));
    return SQLITE_ERROR;
  }
  for (int a = ARG_TABLE; a < N_ARGS; a++)
    if ((unusable & (1 << a)) && where[a] < 0) return SQLITE_CONSTRAINT;
  int argi = 1, mask = 0;
  for (int a = 0; a < N_ARGS; a++) {
    if (where[a] < 0) continue;
    info->aConstraintUsage[where[a]].argvIndex = argi++;
    info->aConstraintUsage[where[a]].omit = 1;
    mask |= 1 << a;
  }
  info->idxNum = mask;
  /* Rows come out by rank (per user for the batch form). */
  if (!v->batch && info->nOrderBy == 1 && info->aOrderBy[0].iColumn == 0 &&
      !info->aOrderBy[0].desc)
    info->orderByConsumed = 1;
  info->estimatedCost = v->batch ? 1e6 : 1000.0;
  info->estimatedRows = v->batch ? 100000 : 50;
  return SQLITE_OK;
}

static int topk_open(sqlite3_vtab *p, sqlite3_vtab_cursor **out) {
  (void)p;
  TopkCursor *c = sqlite3_malloc(sizeof *c);
  if (c == NULL) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *out = &c->base;
  return SQLITE_OK;
}

static void cursor_reset(TopkCursor *c) {
  sqlite3_free(c->idx);
  sqlite3_free(c->score);
  sp_matrix_free(&c->users);
  sqlite3_finalize(c->query);
  itemset_unref(c->set);
  sqlite3_vtab *vtab = c->base.pVtab; /* set by SQLite after xOpen */
  memset(c, 0, sizeof *c);
  c->base.pVtab = vtab;
}

static int topk_close(sqlite3_vtab_cursor *cur) {
  cursor_reset((TopkCursor *)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* The best c->m items for each of the nq queries, by the cursor's metric,
** into c->idx and c->score.  0, or -1 when out of memory. */
static int score_items(TopkCursor *c, const float *queries, int nq) {
  const SpMatrix *items = &c->set->m;
  if (c->metric == METRIC_DOT)
    return topk_dot(queries, nq, items->data, items->rows, items->dims, c->set->max_norm, c->m,
                    c->idx, c->score);
  return topk_cosine(queries, nq, items->data, items->rows, items->dims, c->m, c->idx,
                     c->score);
}

static int set_error(sqlite3_vtab_cursor *cur, char *err, int rc) {
  sqlite3_free(cur->pVtab->zErrMsg);
  cur->pVtab->zErrMsg = err;
  return rc == SQLITE_OK ? SQLITE_ERROR : sp_error_code(rc);
}

/* Batch: reads up to c->block users from the query and scores them. */
static int batch_fill(TopkCursor *c, TopkVtab *v) {
  const SpColumn embedding = {fn_name(v), NULL, 1, 2, "embedding"};
  c->q = c->r = 0;
  c->users.rows = 0;
  c->nq = 0;
  if (c->done) return SQLITE_OK;
  if (sp_check_interrupt(v->db) != SQLITE_OK) return SQLITE_INTERRUPT;
  char *err = NULL;
  int rc = sp_matrix_read(&c->users, c->query, &embedding, c->block, &c->query_row, &err);
  if (rc == SQLITE_DONE) {
    c->done = 1;
  } else if (rc != SQLITE_ROW) {
    if (err == NULL && rc != SQLITE_NOMEM)
      err = sqlite3_mprintf("%s(): the query failed: %s", fn_name(v), sqlite3_errmsg(v->db));
    sqlite3_free(v->base.zErrMsg);
    v->base.zErrMsg = err;
    return sp_error_code(rc);
  }
  c->nq = (int)c->users.rows;
  if (c->nq > 0 && score_items(c, c->users.data, c->nq) != 0) return SQLITE_NOMEM;
  return SQLITE_OK;
}

static int topk_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr,
                       int argc, sqlite3_value **argv) {
  (void)idxStr;
  TopkCursor *c = (TopkCursor *)cur;
  TopkVtab *v = (TopkVtab *)cur->pVtab;
  const char *fn = fn_name(v);
  cursor_reset(c);
  char *err = NULL;
  /* The optional arguments given, in order after embedding/query and k. */
  sqlite3_value *opt[N_ARGS] = {NULL};
  for (int a = ARG_TABLE, i = 2; a < N_ARGS; a++)
    if ((idxNum & (1 << a)) && i < argc) opt[a] = argv[i++];
  const char *table = "tracks", *query = NULL, *metric = metric_names[METRIC_COSINE];
  sqlite3_int64 k;
  float *q = NULL;
  int d = 0;
  int rc = sp_read_int((SpArg){fn, 2, "k"}, argv[1], 1, TOPK_MAX_K, &k, &err);
  if (rc == SQLITE_OK && opt[ARG_TABLE])
    rc = sp_read_text((SpArg){fn, 3, "table"}, opt[ARG_TABLE], "the TEXT name of a table", 0,
                      &table, &err);
  if (rc == SQLITE_OK && opt[ARG_METRIC])
    rc = sp_read_text((SpArg){fn, 4, "metric"}, opt[ARG_METRIC], "'cosine' or 'dot'", 0, &metric,
                      &err);
  c->metric = -1;
  for (int m = 0; rc == SQLITE_OK && m < N_METRICS; m++)
    if (strcmp(metric, metric_names[m]) == 0) c->metric = m;
  if (rc == SQLITE_OK && c->metric < 0) {
    err = sqlite3_mprintf("%s(): argument 4 (metric) must be 'cosine' or 'dot', got '%s'", fn,
                          metric);
    rc = SQLITE_ERROR;
  }
  if (rc == SQLITE_OK && v->batch)
    rc = sp_read_text((SpArg){fn, 1, "query"}, argv[0], "TEXT, a SELECT of (user_id, embedding)",
                      0, &query, &err);
  if (rc == SQLITE_OK && v->batch)
    rc = sp_prepare_user_query(v->db, fn, query, 2, &c->query, &err);
  if (rc == SQLITE_OK && !v->batch)
    rc = sp_read_vector((SpArg){fn, 1, "embedding"}, argv[0], sp_max_vector_len(v->db), &q, &d,
                        &err);
  if (rc == SQLITE_OK) rc = get_items(v, fn, table, c->metric, &c->set, &err);
  const SpMatrix *items = c->set ? &c->set->m : NULL;
  if (rc == SQLITE_OK && !v->batch && items->rows > 0 && d != items->dims) {
    err = sqlite3_mprintf("%s(): argument 1 has %d floats, the embeddings of '%s' have %d", fn, d,
                          table, items->dims);
    rc = SQLITE_ERROR;
  }
  if (rc != SQLITE_OK) {
    sqlite3_free(q);
    return err ? set_error(cur, err, rc) : rc;
  }
  c->k = (int)k;
  c->m = items->rows < k ? (int)items->rows : (int)k;
  if (!v->batch) {
    c->nq = items->rows > 0 ? 1 : 0;
    c->idx = sqlite3_malloc64((sqlite3_uint64)(c->m + 1) * sizeof *c->idx);
    c->score = sqlite3_malloc64((sqlite3_uint64)(c->m + 1) * sizeof *c->score);
    if (!c->idx || !c->score) rc = SQLITE_NOMEM;
    if (rc == SQLITE_OK && c->nq && score_items(c, q, 1) != 0) rc = SQLITE_NOMEM;
    sqlite3_free(q);
    return rc;
  }
  if (items->rows == 0) {
    c->done = 1;
    return SQLITE_OK;
  }
  /* A block per member of the core's team, so each member's sgemm is as
  ** tall as one thread's would be (each packs the items once). */
  c->block = topk_block_rows(1024, items->rows) * team_default_size();
  c->users.dims = items->dims;
  c->idx = sqlite3_malloc64((sqlite3_uint64)c->block * c->m * sizeof *c->idx);
  c->score = sqlite3_malloc64((sqlite3_uint64)c->block * c->m * sizeof *c->score);
  if (!c->idx || !c->score) return SQLITE_NOMEM;
  return batch_fill(c, v);
}

static int topk_next(sqlite3_vtab_cursor *cur) {
  TopkCursor *c = (TopkCursor *)cur;
  TopkVtab *v = (TopkVtab *)cur->pVtab;
  c->rowid++;
  if (v->lists) c->r = c->m - 1; /* a row per user: on to the next one */
  if (++c->r < c->m) return SQLITE_OK;
  c->r = 0;
  if (++c->q < c->nq) return SQLITE_OK;
  if (!v->batch) return SQLITE_OK;
  return batch_fill(c, v);
}

static int topk_eof(sqlite3_vtab_cursor *cur) {
  TopkCursor *c = (TopkCursor *)cur;
  return c->q >= c->nq || c->m == 0;
}

/* The current user's track ids best first, as a JSON array. */
static void list_result(sqlite3_context *ctx, const TopkCursor *c) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  const int32_t *idx = c->idx + (int64_t)c->q * c->m;
  sp_json_open(s, '[');
  for (int r = 0; r < c->m; r++) sp_json_int(s, NULL, c->set->m.ids[idx[r]]);
  sp_json_close(s, ']');
  sp_result_json(ctx, s);
}

static int topk_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  TopkCursor *c = (TopkCursor *)cur;
  TopkVtab *v = (TopkVtab *)cur->pVtab;
  int64_t at = (int64_t)c->q * c->m + c->r;
  if (v->batch) {
    if (col == 0) {
      sqlite3_result_int64(ctx, c->users.ids[c->q]);
      return SQLITE_OK;
    }
    col--;
  }
  if (v->lists) {
    if (col == 0) list_result(ctx, c);
    return SQLITE_OK;
  }
  switch (col) {
    case 0: sqlite3_result_int(ctx, c->r + 1); break;
    case 1: sqlite3_result_int64(ctx, c->set->m.ids[c->idx[at]]); break;
    case 2: sqlite3_result_double(ctx, (double)c->score[at]); break;
    default: break; /* hidden arguments read back as NULL */
  }
  return SQLITE_OK;
}

static int topk_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = ((TopkCursor *)cur)->rowid + 1;
  return SQLITE_OK;
}

static const sqlite3_module topk_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only */
    .xConnect = topk_connect,
    .xBestIndex = topk_best_index,
    .xDisconnect = topk_disconnect,
    .xOpen = topk_open,
    .xClose = topk_close,
    .xFilter = topk_filter,
    .xNext = topk_next,
    .xEof = topk_eof,
    .xColumn = topk_column,
    .xRowid = topk_rowid,
};

static const SpModule topk_modules[] = {
    {"topk_tracks", &topk_module},
    {"topk_tracks_batch", &topk_module},
    {"topk_tracks_lists", &topk_module},
};

const SpBinding sp_topk_binding = {NULL, 0, topk_modules, SP_COUNT(topk_modules),
                                   sizeof(ItemCache), item_cache_clear};
