/* baseline.c - what the baseline models' bindings share (see baseline.h). */
#include "baseline.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "common.h"
#include "options.h"
#include "query.h"

const SpModelKind sp_baselines_kind = {
    "model",
    "CREATE TABLE IF NOT EXISTS semiperso_baselines(\n"
    "  name TEXT PRIMARY KEY,\n"
    "  model TEXT NOT NULL,\n"
    "  input_dim INTEGER NOT NULL,\n"
    "  item_dim INTEGER NOT NULL,\n"
    "  output_dim INTEGER NOT NULL,\n"
    "  options TEXT NOT NULL,\n"
    "  train_rows INTEGER NOT NULL,\n"
    "  items INTEGER NOT NULL,\n"
    "  epochs INTEGER NOT NULL,\n"
    "  final_loss REAL,\n"
    "  train_seconds REAL,\n"
    "  trained_at TEXT NOT NULL,\n"
    "  generation INTEGER NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS semiperso_baseline_params(\n"
    "  model TEXT NOT NULL,\n"
    "  ordinal INTEGER NOT NULL,\n"
    "  layer INTEGER NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  rows INTEGER NOT NULL,\n"
    "  cols INTEGER NOT NULL,\n"
    "  data BLOB NOT NULL,\n"
    "  PRIMARY KEY (model, ordinal));\n"
    "CREATE TABLE IF NOT EXISTS semiperso_baseline_items(\n"
    "  model TEXT NOT NULL,\n"
    "  position INTEGER NOT NULL,\n"
    "  track_id INTEGER NOT NULL,\n"
    "  PRIMARY KEY (model, position)) WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS semiperso_baseline_history(\n"
    "  model TEXT NOT NULL,\n"
    "  epoch INTEGER NOT NULL,\n"
    "  loss REAL NOT NULL,\n"
    "  seconds REAL NOT NULL,\n"
    "  PRIMARY KEY (model, epoch));\n",
    {{"semiperso_baselines", "name"},
     {"semiperso_baseline_params", "model"},
     {"semiperso_baseline_items", "model"},
     {"semiperso_baseline_history", "model"}},
    4,
    "semiperso_baseline_params",
};

/* Tensors beyond this many are not a model of ours. */
#define MAX_TENSORS 1024

int sp_baseline_read_items(sqlite3 *db, const char *fn, const char *table, int dims,
                           SpMatrix *items, char **err) {
  sqlite3_stmt *st = NULL;
  char *sql = sqlite3_mprintf("SELECT rowid, embedding FROM \"%w\" ORDER BY rowid", table);
  char *source = sqlite3_mprintf("items table '%s'", table);
  int rc = sql && source ? sqlite3_prepare_v2(db, sql, -1, &st, NULL) : SQLITE_NOMEM;
  if (rc != SQLITE_OK && rc != SQLITE_NOMEM)
    *err = sqlite3_mprintf("%s(): option \"items\": %s", fn, sqlite3_errmsg(db));
  SpColumn embedding = {fn, source, 1, 0, "embedding"};
  int64_t row = 0;
  items->dims = dims;
  if (rc == SQLITE_OK) rc = sp_matrix_read(items, st, &embedding, INT64_MAX, &row, err);
  sqlite3_finalize(st);
  sqlite3_free(sql);
  sqlite3_free(source);
  if (rc == SQLITE_DONE && items->rows == 0) {
    *err = sqlite3_mprintf("%s(): items table \"%s\" is empty", fn, table);
    return SQLITE_ERROR;
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- a training run ---------------------------------------------------------- */

int sp_train_run_begin(SpTrainRun *r, int epochs, int quiet) {
  r->epochs = epochs;
  r->quiet = quiet;
  r->loss = sqlite3_malloc64((sqlite3_uint64)epochs * 2 * sizeof(double));
  if (r->loss == NULL) return SQLITE_NOMEM;
  r->seconds = r->loss + epochs;
  r->started = r->last_print = sp_now();
  return SQLITE_OK;
}

static int run_should_stop(void *arg) {
  return sp_check_interrupt(((SpTrainRun *)arg)->db) != SQLITE_OK;
}

static int run_epoch_done(void *arg, int epoch, double loss, double seconds) {
  SpTrainRun *r = arg;
  r->loss[epoch - 1] = loss;
  r->seconds[epoch - 1] = seconds;
  double now = sp_now();
  int last = epoch == r->epochs;
  if (!r->quiet && (now - r->last_print >= 1.0 || last || epoch == 1)) {
    double elapsed = now - r->started, eta = elapsed / epoch * (double)(r->epochs - epoch);
    fprintf(stderr, "%s(%s): epoch %d/%d  loss %.6g  elapsed %.1fs  ETA %.1fs\n", r->fn, r->name,
            epoch, r->epochs, loss, elapsed, eta);
    r->last_print = now;
  }
  return 0;
}

TrainCallbacks sp_train_run_callbacks(SpTrainRun *r) {
  return (TrainCallbacks){run_should_stop, run_epoch_done, r};
}

int sp_train_run_error(const SpTrainRun *r, int rc, char **err) {
  switch (rc) {
    case TRAIN_STOPPED:
      *err = sp_interrupted(r->fn, "the previous model is kept");
      return SQLITE_INTERRUPT;
    case TRAIN_DIVERGED:
      *err = sqlite3_mprintf("%s(): training diverged (the loss is not finite); the previous "
                             "model is kept; try a smaller learning rate", r->fn);
      return SQLITE_ERROR;
    case TRAIN_BADARG:
      *err = sqlite3_mprintf("%s(): the model's sizes are out of range", r->fn);
      return SQLITE_TOOBIG;
    default:
      return SQLITE_NOMEM;
  }
}

void sp_baseline_train_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const SpBaselineTrainer *tr = sp_user_data(ctx);
  SpTrainRun *run = sqlite3_malloc64(tr->state_size);
  if (run == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  memset(run, 0, tr->state_size);
  run->db = sqlite3_context_db_handle(ctx);
  run->fn = tr->fn;
  const char *sql = NULL;
  char *err = NULL;
  int rc = sp_read_text((SpArg){tr->fn, 1, "name"}, argv[0], "a non-empty TEXT model name", 1,
                        &run->name, &err);
  if (rc == SQLITE_OK)
    rc = sp_read_text((SpArg){tr->fn, 2, "query"}, argv[1], "the TEXT of a SELECT", 0, &sql, &err);
  if (rc == SQLITE_OK) rc = tr->parse(run, argc > 2 ? argv[2] : NULL, &err);
  if (rc == SQLITE_OK) rc = tr->load(run, sql, &err);
  if (rc == SQLITE_OK) rc = tr->train(run, &err);
  if (rc == SQLITE_OK) rc = tr->persist(run, &err);
  if (rc == SQLITE_OK) {
    sp_cache_saved(sp_state(ctx));
    tr->summarise(ctx, run);
  } else {
    sp_result_error_rc(ctx, rc, err);
  }
  tr->free(run);
  sqlite3_free(run->loss);
  sqlite3_free(run);
}

/* ---- saving ------------------------------------------------------------------- */

static int bind_model_row(sqlite3_stmt *st, int64_t i, const void *arg) {
  (void)i;
  const SpBaselineModel *b = arg;
  sqlite3_bind_text(st, 2, b->model, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 3, b->input_dim);
  sqlite3_bind_int(st, 4, b->item_dim);
  sqlite3_bind_int(st, 5, b->output_dim);
  sqlite3_bind_text(st, 6, b->options, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, b->train_rows);
  sqlite3_bind_int64(st, 8, b->items->rows);
  sqlite3_bind_int(st, 9, b->run->epochs);
  sqlite3_bind_double(st, 10, b->final_loss);
  return sqlite3_bind_double(st, 11, b->train_seconds);
}

typedef struct {
  const SpBaselineModel *b;
  sqlite3_int64 generation;
} ModelRow;

static int bind_generation_row(sqlite3_stmt *st, int64_t i, const void *arg) {
  const ModelRow *m = arg;
  int rc = bind_model_row(st, i, m->b);
  return rc == SQLITE_OK ? sqlite3_bind_int64(st, 12, m->generation) : rc;
}

static int bind_item_row(sqlite3_stmt *st, int64_t i, const void *arg) {
  const SpMatrix *items = arg;
  sqlite3_bind_int64(st, 2, i);
  return sqlite3_bind_int64(st, 3, items->ids[i]);
}

static int bind_epoch_row(sqlite3_stmt *st, int64_t e, const void *arg) {
  const SpTrainRun *r = arg;
  sqlite3_bind_int64(st, 2, e + 1);
  sqlite3_bind_double(st, 3, r->loss[e]);
  return sqlite3_bind_double(st, 4, r->seconds[e]);
}

int sp_baseline_save(sqlite3 *db, const char *fn, const char *name, const SpBaselineModel *b,
                     char **err) {
  SpTensor *t = sqlite3_malloc64((sqlite3_uint64)(b->n_tensors + 1) * sizeof *t);
  SpStore s;
  sp_store_begin(&s, db, fn, &sp_baselines_kind, name);
  if (t == NULL) {
    s.rc = SQLITE_NOMEM;
  } else {
    for (int i = 0; i < b->n_tensors; i++)
      t[i] = (SpTensor){i, b->tensors[i].name, b->tensors[i].data, b->tensors[i].rows,
                        b->tensors[i].cols};
    t[b->n_tensors] = (SpTensor){b->n_tensors, "catalog", b->items->data, (int)b->items->rows,
                                 b->items->dims};
  }
  ModelRow row = {b, s.generation};
  sp_store_rows(&s,
                "INSERT INTO semiperso_baselines(name, model, input_dim, item_dim, output_dim, "
                "options, train_rows, items, epochs, final_loss, train_seconds, trained_at, "
                "generation) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?12)",
                1, bind_generation_row, &row);
  sp_store_tensors(&s, t, b->n_tensors + 1);
  sp_store_rows(&s,
                "INSERT INTO semiperso_baseline_items(model, position, track_id) "
                "VALUES (?1, ?2, ?3)",
                b->items->rows, bind_item_row, b->items);
  sp_store_rows(&s,
                "INSERT INTO semiperso_baseline_history(model, epoch, loss, seconds) "
                "VALUES (?1, ?2, ?3, ?4)",
                b->run->epochs, bind_epoch_row, b->run);
  int rc = sp_store_end(&s, err);
  sqlite3_free(t);
  return rc;
}

/* ---- reading -------------------------------------------------------------------- */

int sp_baseline_corrupt(const char *fn, const char *name, const char *why, char **err) {
  *err = sqlite3_mprintf("%s(): model \"%s\" is corrupt (%s)", fn, name, why);
  return SQLITE_CORRUPT;
}

int sp_baseline_options_end(const char *fn, int rc, const char *items, const char *hidden,
                            int *widths, int *n_hidden, int max_hidden, int max_width,
                            char **err) {
  if (rc == SQLITE_OK && items == NULL) {
    *err = sqlite3_mprintf("%s(): option \"items\" must be a table name", fn);
    rc = SQLITE_ERROR;
  }
  if (rc == SQLITE_OK && hidden != NULL &&
      (*n_hidden = sp_parse_widths(hidden, widths, max_hidden, max_width)) < 0) {
    *err = sqlite3_mprintf("%s(): option \"hidden\" must be a non-empty array of at most %d "
                           "positive integers (widths up to %d)", fn, max_hidden, max_width);
    rc = SQLITE_ERROR;
  }
  return rc;
}

int sp_baseline_load_error(int rc, const char *bad, const char *fn, const char *name,
                           char **err) {
  if (rc == TRAIN_OK) return SQLITE_OK;
  if (rc == TRAIN_NOMEM) return SQLITE_NOMEM;
  char *why = sqlite3_mprintf("tensor %s does not fit", bad ? bad : "(shape)");
  rc = why ? sp_baseline_corrupt(fn, name, why, err) : SQLITE_NOMEM;
  sqlite3_free(why);
  return rc;
}

int sp_baseline_options_read(int rc, const char *fn, const char *name, char **err) {
  if (rc == SQLITE_OK || rc == SQLITE_NOMEM) return rc;
  sqlite3_free(*err);
  return sp_baseline_corrupt(fn, name, "bad options in semiperso_baselines", err);
}

/* Reading model name failed with rc: rc, with the database's message
** unless memory ran out. */
static int read_failed(sqlite3 *db, const char *fn, const char *name, int rc, char **err) {
  if (rc != SQLITE_NOMEM)
    *err = sqlite3_mprintf("%s(): cannot read model \"%s\": %s", fn, name, sqlite3_errmsg(db));
  return rc;
}

int sp_baseline_read_row(sqlite3 *db, const char *fn, const char *name, const char *model,
                         SpBaselineStored *s, char **err) {
  sqlite3_stmt *st = NULL;
  memset(s, 0, sizeof *s);
  int rc = sqlite3_prepare_v2(db, "SELECT model, input_dim, item_dim, output_dim, items, options "
                              "FROM semiperso_baselines WHERE name = ?1", -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
  }
  if (rc == SQLITE_ROW) {
    const char *kind = (const char *)sqlite3_column_text(st, 0);
    s->input_dim = sqlite3_column_int(st, 1);
    s->item_dim = sqlite3_column_int(st, 2);
    s->output_dim = sqlite3_column_int(st, 3);
    s->n_items = sqlite3_column_int64(st, 4);
    if (kind == NULL && sqlite3_column_type(st, 0) != SQLITE_NULL) {
      rc = SQLITE_NOMEM;
    } else if (kind == NULL || strcmp(kind, model) != 0) {
      *err = sqlite3_mprintf("%s(): model \"%s\" is a %s model, not %s", fn, name,
                             kind ? kind : "NULL", model);
      rc = SQLITE_ERROR;
    } else if (s->input_dim < 1 || s->item_dim < 1 || s->output_dim < 1 || s->n_items < 1 ||
               s->n_items > INT32_MAX) {
      rc = sp_baseline_corrupt(fn, name, "bad sizes in semiperso_baselines", err);
    } else {
      s->options = sqlite3_value_dup(sqlite3_column_value(st, 5));
      rc = s->options ? SQLITE_OK : SQLITE_NOMEM;
    }
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_NOTFOUND;
  } else {
    rc = read_failed(db, fn, name, rc, err);
  }
  sqlite3_finalize(st);
  return rc;
}

/* The shapes and names of the stored tensors (data left NULL). */
static int read_shapes(sqlite3 *db, const char *fn, const char *name, SpTensor **out, int *n,
                       char **names, char **err) {
  sqlite3_stmt *st = NULL;
  int64_t cap = 0;
  size_t name_bytes = 0;
  *out = NULL;
  *n = 0;
  int rc = sqlite3_prepare_v2(db, "SELECT rows, cols, kind FROM semiperso_baseline_params "
                              "WHERE model = ?1 ORDER BY ordinal", -1, &st, NULL);
  if (rc == SQLITE_OK) sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *kind = (const char *)sqlite3_column_text(st, 2);
    if (kind == NULL && sqlite3_column_type(st, 2) != SQLITE_NULL) {
      rc = SQLITE_NOMEM;
      break;
    }
    if (*n >= MAX_TENSORS || kind == NULL || sqlite3_column_int64(st, 0) < 1 ||
        sqlite3_column_int64(st, 1) < 1 || sqlite3_column_int64(st, 0) > INT32_MAX ||
        sqlite3_column_int64(st, 1) > INT32_MAX) {
      rc = sp_baseline_corrupt(fn, name, "bad tensor rows in semiperso_baseline_params", err);
      break;
    }
    if ((rc = sp_grow((void **)out, &cap, *n + 1, sizeof **out)) != SQLITE_OK) break;
    (*out)[*n] = (SpTensor){*n, NULL, NULL, sqlite3_column_int(st, 0), sqlite3_column_int(st, 1)};
    name_bytes += strlen(kind) + 1;
    (*n)++;
    rc = SQLITE_OK;
  }
  if (rc == SQLITE_DONE) {
    /* The names, in one block, read by a second pass. */
    *names = sqlite3_malloc64(name_bytes + 1);
    rc = *names ? SQLITE_OK : SQLITE_NOMEM;
    sqlite3_reset(st);
    char *p = *names;
    for (int i = 0; rc == SQLITE_OK && i < *n; i++) {
      if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        rc = rc == SQLITE_DONE
                 ? sp_baseline_corrupt(fn, name, "its tensors changed while read", err)
                 : read_failed(db, fn, name, rc, err);
        break;
      }
      const char *kind = (const char *)sqlite3_column_text(st, 2);
      if (kind == NULL) { /* TEXT in the first pass: memory */
        rc = SQLITE_NOMEM;
        break;
      }
      rc = SQLITE_OK;
      size_t len = strlen(kind);
      if (p + len + 1 > *names + name_bytes) { /* changed since the first pass */
        rc = sp_baseline_corrupt(fn, name, "its tensors changed while read", err);
        break;
      }
      memcpy(p, kind, len + 1);
      (*out)[i].kind = p;
      p += len + 1;
    }
  } else if (rc != SQLITE_CORRUPT && *err == NULL) {
    rc = read_failed(db, fn, name, rc, err);
  }
  sqlite3_finalize(st);
  return rc;
}

static int read_item_ids(sqlite3 *db, const char *fn, const char *name, SpMatrix *items,
                         char **err) {
  sqlite3_stmt *st = NULL;
  int64_t got = 0;
  int rc = sqlite3_prepare_v2(db, "SELECT position, track_id FROM semiperso_baseline_items "
                              "WHERE model = ?1 ORDER BY position", -1, &st, NULL);
  if (rc == SQLITE_OK) sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (got >= items->rows || sqlite3_column_int64(st, 0) != got) break;
    items->ids[got++] = sqlite3_column_int64(st, 1);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE && got == items->rows) return SQLITE_OK;
  if (rc == SQLITE_DONE || rc == SQLITE_ROW)
    return sp_baseline_corrupt(fn, name, "semiperso_baseline_items does not match its catalog",
                               err);
  return read_failed(db, fn, name, rc, err);
}

int sp_baseline_read_tensors(sqlite3 *db, const char *fn, const char *name, size_t model_floats,
                             SpBaselineStored *s, char **err) {
  sqlite3_int64 stored;
  int rc = sp_stored_tensor_bytes(db, &sp_baselines_kind, name, &stored);
  if (rc != SQLITE_OK) return read_failed(db, fn, name, rc, err);
  uint64_t catalog = (uint64_t)s->n_items * (uint64_t)s->item_dim;
  if (model_floats == 0 || stored < 0 ||
      (uint64_t)stored != ((uint64_t)model_floats + catalog) * sizeof(float))
    return sp_baseline_corrupt(fn, name, "its sizes do not match the tensors stored", err);
  /* Every float stored gets one place: the tensors' data in one block. */
  SpTensor *t = NULL;
  char *names = NULL;
  int n = 0;
  rc = read_shapes(db, fn, name, &t, &n, &names, err);
  uint64_t total = 0;
  for (int i = 0; rc == SQLITE_OK && i < n; i++) total += (uint64_t)t[i].rows * t[i].cols;
  if (rc == SQLITE_OK && (n < 2 || total * sizeof(float) != (uint64_t)stored ||
                          strcmp(t[n - 1].kind, "catalog") != 0 ||
                          t[n - 1].rows != s->n_items || t[n - 1].cols != s->item_dim))
    rc = sp_baseline_corrupt(fn, name, "semiperso_baseline_params does not match its sizes", err);
  float *data = NULL;
  if (rc == SQLITE_OK) {
    data = sqlite3_malloc64(total * sizeof(float));
    s->tensors = sqlite3_malloc64((sqlite3_uint64)n * sizeof *s->tensors);
    s->items.ids = sqlite3_malloc64((sqlite3_uint64)s->n_items * sizeof *s->items.ids);
    if (data == NULL || s->tensors == NULL || s->items.ids == NULL) rc = SQLITE_NOMEM;
  }
  if (rc == SQLITE_OK) {
    float *p = data;
    for (int i = 0; i < n; i++) {
      t[i].data = p;
      p += (size_t)t[i].rows * t[i].cols;
    }
    rc = sp_load_tensors(db, &sp_baselines_kind, name, t, n);
    if (rc == SQLITE_CORRUPT)
      sp_baseline_corrupt(fn, name, "semiperso_baseline_params holds bad rows, NaN or Inf", err);
    else if (rc != SQLITE_OK)
      rc = read_failed(db, fn, name, rc, err);
  }
  if (rc == SQLITE_OK) {
    /* The catalog is the last tensor; block owns every tensor's data. */
    for (int i = 0; i < n - 1; i++)
      s->tensors[i] = (ParamTensor){t[i].kind, t[i].rows, t[i].cols, t[i].data};
    s->n_tensors = n - 1;
    s->items.data = t[n - 1].data;
    s->items.rows = s->items.cap = s->n_items;
    s->items.dims = s->item_dim;
    s->names = names;
    s->block = data;
    data = NULL;
    names = NULL;
    rc = read_item_ids(db, fn, name, &s->items, err);
  }
  sqlite3_free(data);
  sqlite3_free(names);
  sqlite3_free(t);
  return rc;
}

void sp_baseline_stored_free(SpBaselineStored *s) {
  sqlite3_value_free(s->options);
  sqlite3_free(s->tensors);
  sqlite3_free(s->names);
  sqlite3_free(s->block);
  sqlite3_free(s->items.ids);
  memset(s, 0, sizeof *s);
}

/* ---- serving ----------------------------------------------------------------------- */

const void *sp_baseline_model_arg(sqlite3_context *ctx, sqlite3_value **argv,
                                  const SpModelLoader *loader) {
  const char *name;
  if (sp_text_arg(ctx, argv[0], 1, "model", "a TEXT model name", 0, &name) != SQLITE_OK)
    return NULL;
  return sp_cache_get(ctx, sp_state(ctx), loader, name);
}

void sp_baseline_result_ids(sqlite3_context *ctx, const sqlite3_int64 *ids, const int32_t *idx,
                            int m) {
  sqlite3_str *json = sqlite3_str_new(sqlite3_context_db_handle(ctx));
  sp_json_open(json, '[');
  for (int j = 0; j < m; j++) sp_json_int(json, NULL, ids[idx[j]]);
  sp_json_close(json, ']');
  sp_result_json(ctx, json);
}
