/* store.c - the model store: atomic replacement and the serving cache (see store.h). */
#include "store.h"

#include <limits.h>
#include <string.h>

#include "columns.h"
#include "common.h"

const SpModelKind sp_models_kind = {
    "model",
    "CREATE TABLE IF NOT EXISTS semiperso_models(\n"
    "  name TEXT PRIMARY KEY,\n"
    "  input_dim INTEGER NOT NULL,\n"
    "  output_dim INTEGER NOT NULL,\n"
    "  hidden TEXT NOT NULL,\n"
    "  options TEXT NOT NULL,\n"
    "  train_rows INTEGER NOT NULL,\n"
    "  epochs INTEGER NOT NULL,\n"
    "  final_loss REAL,\n"
    "  validation_precision REAL,\n"
    "  train_seconds REAL,\n"
    "  trained_at TEXT NOT NULL,\n"
    "  generation INTEGER NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS semiperso_model_params(\n"
    "  model TEXT NOT NULL,\n"
    "  ordinal INTEGER NOT NULL,\n"
    "  layer INTEGER NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  rows INTEGER NOT NULL,\n"
    "  cols INTEGER NOT NULL,\n"
    "  data BLOB NOT NULL,\n"
    "  PRIMARY KEY (model, ordinal));\n"
    "CREATE TABLE IF NOT EXISTS semiperso_model_history(\n"
    "  model TEXT NOT NULL,\n"
    "  epoch INTEGER NOT NULL,\n"
    "  loss REAL NOT NULL,\n"
    "  seconds REAL NOT NULL,\n"
    "  validation_precision REAL,\n"
    "  PRIMARY KEY (model, epoch));\n",
    {{"semiperso_models", "name"},
     {"semiperso_model_params", "model"},
     {"semiperso_model_history", "model"}},
    3,
    "semiperso_model_params",
};

/* ---- saving ----------------------------------------------------------------- */

/* Records the first failure of a step (rc, with the database's message). */
static int store_failed(SpStore *s, int rc) {
  if (s->rc != SQLITE_OK) return s->rc;
  s->rc = rc;
  if ((rc & 0xff) == SQLITE_INTERRUPT) {
    char *kept = sqlite3_mprintf("the previous %s is kept", s->kind->what);
    s->err = kept ? sp_interrupted(s->fn, kept) : NULL;
    sqlite3_free(kept);
  } else if ((rc & 0xff) != SQLITE_NOMEM) {
    s->err = sqlite3_mprintf("%s(): cannot store %s \"%s\": %s", s->fn, s->kind->what, s->name,
                             sqlite3_errmsg(s->db));
  }
  return rc;
}

static int store_exec(SpStore *s, const char *sql) {
  int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? rc : store_failed(s, rc);
}

/* Binds nothing beyond the name: the deletes. */
static int bind_nothing(sqlite3_stmt *st, int64_t i, const void *arg) {
  (void)st;
  (void)i;
  (void)arg;
  return SQLITE_OK;
}

int sp_store_begin(SpStore *s, sqlite3 *db, const char *fn, const SpModelKind *kind,
                   const char *name) {
  memset(s, 0, sizeof *s);
  s->db = db;
  s->fn = fn;
  s->kind = kind;
  s->name = name;
  sqlite3_randomness(sizeof s->generation, &s->generation);
  s->generation &= INT64_MAX;
  if (store_exec(s, "SAVEPOINT semiperso_store") != SQLITE_OK) return s->rc;
  store_exec(s, kind->schema);
  for (int i = 0; i < kind->n_tables; i++) {
    char *sql = sqlite3_mprintf("DELETE FROM \"%w\" WHERE \"%w\" = ?1", kind->tables[i].table,
                                kind->tables[i].key);
    if (sql == NULL) return store_failed(s, SQLITE_NOMEM);
    sp_store_rows(s, sql, 1, bind_nothing, NULL);
    sqlite3_free(sql);
  }
  return s->rc;
}

int sp_store_rows(SpStore *s, const char *sql, int64_t n, SpBindRow bind, const void *arg) {
  sqlite3_stmt *st = NULL;
  if (s->rc != SQLITE_OK) return s->rc;
  int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
  for (int64_t i = 0; i < n && rc == SQLITE_OK; i++) {
    sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
    rc = bind(st, i, arg);
    if (rc == SQLITE_OK) rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(s->db);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? rc : store_failed(s, rc);
}

int sp_store_end(SpStore *s, char **err) {
  if (s->rc == SQLITE_OK) store_exec(s, "RELEASE semiperso_store");
  if (s->rc != SQLITE_OK) {
    /* An interrupted write may have rolled the transaction back already;
    ** then these fail harmlessly. */
    sqlite3_exec(s->db, "ROLLBACK TO semiperso_store; RELEASE semiperso_store", NULL, NULL,
                 NULL);
  }
  *err = s->err;
  s->err = NULL;
  return s->rc;
}

/* ---- parameter tensors -------------------------------------------------------- */

static int bind_tensor(sqlite3_stmt *st, int64_t i, const void *arg) {
  const SpTensor *t = (const SpTensor *)arg + i;
  sqlite3_bind_int64(st, 2, i);
  sqlite3_bind_int(st, 3, t->layer);
  sqlite3_bind_text(st, 4, t->kind, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 5, t->rows);
  sqlite3_bind_int(st, 6, t->cols);
  return sqlite3_bind_blob64(st, 7, t->data,
                             (sqlite3_uint64)t->rows * (sqlite3_uint64)t->cols * sizeof(float),
                             SQLITE_STATIC);
}

int sp_store_tensors(SpStore *s, const SpTensor *t, int n) {
  char *sql = sqlite3_mprintf("INSERT INTO \"%w\"(model, ordinal, layer, kind, rows, cols, data) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", s->kind->params);
  if (sql == NULL) return store_failed(s, SQLITE_NOMEM);
  int rc = sp_store_rows(s, sql, n, bind_tensor, t);
  sqlite3_free(sql);
  return rc;
}

int sp_stored_tensor_bytes(sqlite3 *db, const SpModelKind *kind, const char *name,
                           sqlite3_int64 *bytes) {
  sqlite3_stmt *st = NULL;
  *bytes = -1;
  char *sql = sqlite3_mprintf("SELECT sum(length(data)) FROM \"%w\" WHERE model = ?1",
                              kind->params);
  int rc = sql ? sqlite3_prepare_v2(db, sql, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      if (sqlite3_column_type(st, 0) != SQLITE_NULL) *bytes = sqlite3_column_int64(st, 0);
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(st);
  return rc;
}

int sp_load_tensors(sqlite3 *db, const SpModelKind *kind, const char *name, SpTensor *t, int n) {
  const SpColumn data = {"semiperso", kind->params, 3, 0, "data"};
  sqlite3_stmt *st = NULL;
  int got = 0, bad = 0;
  char *sql = sqlite3_mprintf("SELECT ordinal, rows, cols, data FROM \"%w\" WHERE model = ?1 "
                              "ORDER BY ordinal", kind->params);
  int rc = sql ? sqlite3_prepare_v2(db, sql, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
      /* A BLOB holds at most INT_MAX bytes: a larger shape cannot match. */
      bad = got >= n || sqlite3_column_int(st, 0) != got ||
            sqlite3_column_int(st, 1) != t[got].rows || sqlite3_column_int(st, 2) != t[got].cols ||
            (int64_t)t[got].rows * t[got].cols > INT_MAX / (int)sizeof(float) ||
            sp_column_vector(st, &data, got, t[got].data, t[got].rows * t[got].cols, NULL);
      got++;
    }
  }
  sqlite3_finalize(st);
  if (bad || (rc == SQLITE_DONE && got != n)) return SQLITE_CORRUPT;
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- serving -------------------------------------------------------------------- */

/* The stored generation of model name; SQLITE_NOTFOUND when there is no
** such model (or no table yet). */
static int stored_generation(sqlite3 *db, const SpModelKind *kind, const char *name,
                             sqlite3_int64 *generation) {
  sqlite3_stmt *st = NULL;
  char *sql = sqlite3_mprintf("SELECT generation FROM \"%w\" WHERE \"%w\" = ?1",
                              kind->tables[0].table, kind->tables[0].key);
  if (sql == NULL) return SQLITE_NOMEM;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(st);
    /* No table: no model was ever trained here (out of memory is not that). */
    return rc == SQLITE_NOMEM ? SQLITE_NOMEM : SQLITE_NOTFOUND;
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *generation = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_NOTFOUND;
  }
  sqlite3_finalize(st);
  return rc;
}

static void slot_clear(SpCacheSlot *s, const SpModelLoader *l) {
  if (s->model) l->free(s->model);
  sqlite3_free(s->name);
  memset(s, 0, sizeof *s);
}

void sp_cache_clear(SpModelCache *c, const SpModelLoader *l) {
  for (int i = 0; i < SP_CACHE_SLOTS; i++) slot_clear(&c->slot[i], l);
}

void sp_cache_saved(SpModelCache *c) { c->saves++; }

/* What a statement learnt at its first row (auxiliary data of argument 1):
** the slot, valid while nothing was saved on this connection since. */
typedef struct {
  uint64_t saves, serial;
  int slot;
} StatementCheck;

/* The slot holding (name, generation), loading it into the least recently
** used slot when needed. */
static int slot_for(sqlite3 *db, const char *fn, SpModelCache *c, const SpModelLoader *l,
                    const char *name, sqlite3_int64 generation, SpCacheSlot **out, char **err) {
  SpCacheSlot *victim = &c->slot[0];
  for (int i = 0; i < SP_CACHE_SLOTS; i++) {
    SpCacheSlot *s = &c->slot[i];
    if (s->name && strcmp(s->name, name) == 0) {
      if (s->generation == generation) {
        *out = s;
        return SQLITE_OK;
      }
      slot_clear(s, l); /* stale */
    }
    if (victim->name && (s->name == NULL || s->last_use < victim->last_use)) victim = s;
  }
  slot_clear(victim, l);
  void *model = NULL;
  int rc = l->load(db, fn, name, &model, err);
  if (rc != SQLITE_OK) return rc;
  victim->name = sqlite3_mprintf("%s", name);
  if (victim->name == NULL) {
    l->free(model);
    return SQLITE_NOMEM;
  }
  victim->model = model;
  victim->generation = generation;
  victim->serial = ++c->next_serial;
  *out = victim;
  return SQLITE_OK;
}

void *sp_cache_get(sqlite3_context *ctx, SpModelCache *c, const SpModelLoader *l,
                   const char *name) {
  StatementCheck *check = sqlite3_get_auxdata(ctx, 0);
  if (check && check->saves == c->saves && c->slot[check->slot].serial == check->serial &&
      c->slot[check->slot].name) {
    return c->slot[check->slot].model;
  }
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  const char *fn = sp_function_name(ctx);
  sqlite3_int64 generation = 0;
  SpCacheSlot *slot = NULL;
  char *err = NULL;
  int rc = stored_generation(db, l->kind, name, &generation);
  if (rc == SQLITE_OK) rc = slot_for(db, fn, c, l, name, generation, &slot, &err);
  if (rc == SQLITE_NOTFOUND) {
    char *missing = sqlite3_mprintf(l->missing, name);
    err = missing ? sqlite3_mprintf("%s(): %s", fn, missing) : NULL;
    sqlite3_free(missing);
  } else if (rc != SQLITE_OK && rc != SQLITE_NOMEM && err == NULL) {
    err = sqlite3_mprintf("%s(): %s", fn, sqlite3_errmsg(db));
  }
  if (rc != SQLITE_OK) {
    sp_result_error_rc(ctx, rc, err);
    return NULL;
  }
  slot->last_use = ++c->clock;
  check = sqlite3_malloc(sizeof *check);
  if (check) {
    check->saves = c->saves;
    check->serial = slot->serial;
    check->slot = (int)(slot - c->slot);
    sqlite3_set_auxdata(ctx, 0, check, sqlite3_free);
  }
  return slot->model;
}
