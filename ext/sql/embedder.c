/*
** embedder.c - SQL bindings of the user embedder (DESIGN.md sections 1, 4).
**
**   train_embedder(name, query [, options]) -> JSON summary
**     query: one read-only SELECT yielding (features BLOB, target BLOB)
**     rows of float32 vectors, e.g.
**       SELECT f.features, u.embedding FROM user_features f
**       JOIN users u USING (user_id) WHERE u.split = 'warm'
**     Every row must be usable (a NULL, non-BLOB, wrong-length or NaN row
**     is an error naming the row); at least 2 rows.
**     options: a JSON object, every key optional:
**       hidden           [400,300,200]  hidden layer widths (1..15 layers)
**       epochs           130
**       batch_size       512    (a last batch of one row joins the one before:
**                                BatchNorm needs two rows)
**       learning_rate    1e-5   Adam
**       weight_decay     0      L2 term added to the gradient, as torch
**       seed             0      initial weights and batch order
**       quiet            false  no progress lines on stderr
**       sparse_input     true   skip all-zero feature groups in the first
**                               layer when the input has the reference
**                               layout (20 groups of d floats + 19 scalars)
**       validation       NULL   a SELECT yielding (features BLOB, relevant
**                               JSON array of item ids)
**       validation_every 10     score every N epochs (and after the last)
**       validation_table 'tracks'  items: rowid and `embedding` column
**       validation_k     50     precision@k of the nearest items by cosine
**     Re-training under the same name replaces the model atomically, once
**     training has succeeded; an error, a NaN loss or sqlite3_interrupt()
**     leave the previous model untouched.
**
**   embed_user(name, features) -> float32 BLOB of output_dim floats, unit
**     length: the inference-mode forward pass (BatchNorm running statistics).
**
** Tables (created on first training):
**   semiperso_models(name TEXT PRIMARY KEY, input_dim, output_dim,
**     hidden JSON, options JSON, train_rows, epochs, final_loss,
**     validation_precision, train_seconds, trained_at, generation)
**   semiperso_model_params(model, ordinal, layer, kind, rows, cols, data)
**     kind: weight (rows = out, cols = in), bias, bn_weight, bn_bias,
**     bn_running_mean, bn_running_var (rows = out, cols = 1); data float32.
**   semiperso_model_history(model, epoch, loss, seconds,
**     validation_precision)  one row per epoch; precision NULL when not
**     scored.
** Models are cached per connection; each embed_user statement re-reads the
** model's generation (a random 63-bit number drawn at every training), so
** a model retrained or deleted by any connection is never served stale.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../core/json_array.h"
#include "../core/metrics.h"
#include "../core/mlp.h"
#include "../core/rng.h"
#include "../core/topk.h"
#include "../core/vec.h"
#include "common.h"
#include "modules.h"
#include "options.h"
#include "query.h"

#define TRAIN_FN "train_embedder"
#define EMBED_FN "embed_user"
#define SHUFFLE_STREAM 0x73687566u /* "shuf" */
#define CACHE_SLOTS 4
#define MAX_PARAMS ((size_t)1 << 28) /* 4 GiB of training state */
/* The reference feature layout: FEATURE_GROUPS vectors, then scalars. */
#define FEATURE_GROUPS 20
#define FEATURE_SCALARS 19

/* ---- per-connection state ---------------------------------------------- */

typedef struct {
  char *name; /* sqlite3_malloc'd; NULL when the slot is free */
  sqlite3_int64 generation;
  uint64_t serial; /* unique per load, so statement tokens can spot reuse */
  uint64_t last_use;
  Mlp net;
} CachedModel;

typedef struct {
  SpFunction fn_train, fn_embed;
  int refs; /* registrations still holding this */
  uint64_t trains; /* trainings run on this connection */
  uint64_t clock;
  uint64_t next_serial;
  CachedModel slot[CACHE_SLOTS];
} EmbedderConn;

/* Per-statement token (auxdata of the name argument): the model checked
** at the statement's first row, valid while nothing was trained since. */
typedef struct {
  uint64_t trains, serial;
  int slot;
} StmtToken;

static void slot_clear(CachedModel *s) {
  sqlite3_free(s->name);
  mlp_free(&s->net);
  memset(s, 0, sizeof *s);
}

static void conn_release(void *p) {
  EmbedderConn *c = p;
  if (--c->refs > 0) return;
  for (int i = 0; i < CACHE_SLOTS; i++) slot_clear(&c->slot[i]);
  sqlite3_free(c);
}

/* Destructor of each registration; its user data is an SpFunction. */
static void fn_release(void *p) { conn_release(((SpFunction *)p)->user_data); }

static EmbedderConn *conn_of(sqlite3_context *ctx) {
  return ((const SpFunction *)sqlite3_user_data(ctx))->user_data;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Runs sql (no rows expected); returns the rc, and *err on failure. */
static int exec_sql(sqlite3 *db, const char *sql, char **err) {
  int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK && *err == NULL) {
    *err = sqlite3_mprintf(TRAIN_FN "(): cannot store the model: %s", sqlite3_errmsg(db));
  }
  return rc;
}

/* Tells the network the input has the reference feature layout (20 groups
** of d floats, then 19 scalars) when its width fits it, so all-zero groups
** can be skipped; the function computed is the same. */
static void declare_feature_layout(Mlp *net) {
  int in = net->dims[0];
  if (in > FEATURE_SCALARS && (in - FEATURE_SCALARS) % FEATURE_GROUPS == 0)
    mlp_set_input_blocks(net, (in - FEATURE_SCALARS) / FEATURE_GROUPS, FEATURE_GROUPS);
}

/* ---- options ------------------------------------------------------------ */

typedef struct {
  int hidden[MLP_MAX_LAYERS];
  int n_hidden;
  int epochs, batch_size;
  double learning_rate, weight_decay;
  sqlite3_int64 seed;
  int quiet, sparse_input;
  char *validation, *validation_table; /* sqlite3_malloc'd */
  int validation_every, validation_k;
} Options;

static void options_free(Options *o) {
  sqlite3_free(o->validation);
  sqlite3_free(o->validation_table);
  o->validation = o->validation_table = NULL;
}

/* The layer widths of option "hidden" (a JSON array). */
static int parse_hidden(sqlite3 *db, const char *json, Options *o, char **err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT value, type FROM json_each(?1)", -1, &st, NULL);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf(TRAIN_FN "(): %s", sqlite3_errmsg(db));
    return rc;
  }
  sqlite3_bind_text(st, 1, json, -1, SQLITE_TRANSIENT);
  o->n_hidden = 0;
  int bad = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *type = (const char *)sqlite3_column_text(st, 1);
    sqlite3_int64 w = sqlite3_column_int64(st, 0);
    if (type == NULL) { /* out of memory: not the option's fault */
      rc = SQLITE_NOMEM;
      break;
    }
    if (o->n_hidden >= MLP_MAX_LAYERS - 1 || strcmp(type, "integer") != 0 || w < 1 ||
        w > 1000000) {
      bad = 1;
      break;
    }
    o->hidden[o->n_hidden++] = (int)w;
  }
  sqlite3_finalize(st);
  /* A failed step would otherwise pass for a short (or empty) list. */
  if (!bad && rc != SQLITE_DONE) return rc;
  if (bad || o->n_hidden == 0) {
    *err = sqlite3_mprintf(TRAIN_FN "(): option \"hidden\" must be a non-empty array of at "
                           "most %d positive integers (layer widths up to 1000000)",
                           MLP_MAX_LAYERS - 1);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/* Fills o with the defaults, then what the options JSON sets. */
static int parse_options(sqlite3 *db, sqlite3_value *arg, Options *o, char **err) {
  static const int default_hidden[] = {400, 300, 200};
  memset(o, 0, sizeof *o);
  memcpy(o->hidden, default_hidden, sizeof default_hidden);
  o->n_hidden = 3;
  o->learning_rate = 1e-5;
  o->sparse_input = 1;
  o->validation_table = sqlite3_mprintf("tracks");
  if (o->validation_table == NULL) return SQLITE_NOMEM;
  sqlite3_int64 epochs = 130, batch_size = 512, validation_every = 10, validation_k = 50;
  char *hidden = NULL;
  const SpOption spec[] = {
      {"hidden", SP_OPT_ARRAY, 0, 0, 0, &hidden, "a non-empty array of positive integers"},
      {"epochs", SP_OPT_INT, 1, 1000000, 0, &epochs, "a positive integer (at most 1000000)"},
      {"batch_size", SP_OPT_INT, 2, 1 << 20, 0, &batch_size, "an integer between 2 and 1048576"},
      {"learning_rate", SP_OPT_REAL, 0, 1e300, 1, &o->learning_rate, "a positive number"},
      {"weight_decay", SP_OPT_REAL, 0, 1e300, 0, &o->weight_decay, "a non-negative number"},
      {"seed", SP_OPT_INT, -9.2e18, 9.2e18, 0, &o->seed, "an integer"},
      {"quiet", SP_OPT_BOOL, 0, 0, 0, &o->quiet, NULL},
      {"sparse_input", SP_OPT_BOOL, 0, 0, 0, &o->sparse_input, NULL},
      {"validation", SP_OPT_TEXT, 0, 0, 0, &o->validation, "a SELECT query (text) or null"},
      {"validation_every", SP_OPT_INT, 1, 1000000, 0, &validation_every, "a positive integer"},
      {"validation_table", SP_OPT_TEXT, 0, 0, 0, &o->validation_table, "a table name"},
      {"validation_k", SP_OPT_INT, 1, 100000, 0, &validation_k, "an integer between 1 and 100000"},
  };
  int rc = sp_parse_options(db, TRAIN_FN, 3, arg, spec, (int)(sizeof spec / sizeof *spec), err);
  if (rc == SQLITE_OK && o->validation_table == NULL) {
    *err = sqlite3_mprintf(TRAIN_FN "(): option \"validation_table\" must be a table name");
    rc = SQLITE_ERROR;
  }
  if (rc == SQLITE_OK && hidden != NULL) rc = parse_hidden(db, hidden, o, err);
  sqlite3_free(hidden);
  o->epochs = (int)epochs;
  o->batch_size = (int)batch_size;
  o->validation_every = (int)validation_every;
  o->validation_k = (int)validation_k;
  return rc;
}

/* The options in effect as canonical JSON (sqlite3_malloc'd). */
static char *options_json(sqlite3 *db, const Options *o) {
  sqlite3_str *h = sqlite3_str_new(db);
  sqlite3_str_appendchar(h, 1, '[');
  for (int i = 0; i < o->n_hidden; i++) sqlite3_str_appendf(h, "%s%d", i ? "," : "", o->hidden[i]);
  sqlite3_str_appendchar(h, 1, ']');
  char *hidden = sqlite3_str_finish(h);
  char *out = NULL;
  sqlite3_stmt *st = NULL;
  if (hidden && sqlite3_prepare_v2(
                    db,
                    "SELECT json_object('hidden', json(?1), 'epochs', ?2, 'batch_size', ?3, "
                    "'learning_rate', ?4, 'weight_decay', ?5, 'seed', ?6, 'quiet', "
                    "json(?7), 'sparse_input', json(?8), 'validation', ?9, "
                    "'validation_every', ?10, 'validation_table', ?11, 'validation_k', ?12)",
                    -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, hidden, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, o->epochs);
    sqlite3_bind_int(st, 3, o->batch_size);
    sqlite3_bind_double(st, 4, o->learning_rate);
    sqlite3_bind_double(st, 5, o->weight_decay);
    sqlite3_bind_int64(st, 6, o->seed);
    sqlite3_bind_text(st, 7, o->quiet ? "true" : "false", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, o->sparse_input ? "true" : "false", -1, SQLITE_STATIC);
    if (o->validation) sqlite3_bind_text(st, 9, o->validation, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 10, o->validation_every);
    sqlite3_bind_text(st, 11, o->validation_table, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 12, o->validation_k);
    if (sqlite3_step(st) == SQLITE_ROW) out = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  sqlite3_free(hidden);
  return out;
}

/* ---- validation --------------------------------------------------------- */

typedef struct {
  SpMatrix features;  /* users x input_dim */
  int64_t *relevant;  /* all users' relevant ids, each user's run a set */
  int64_t *offsets;   /* users + 1 */
  float *items;       /* n_items x output_dim, unit rows */
  int64_t *item_ids;
  int64_t n_items;
  int k;
} Validation;

static void validation_free(Validation *v) {
  sp_matrix_free(&v->features);
  sqlite3_free(v->relevant);
  sqlite3_free(v->offsets);
  sqlite3_free(v->items);
  sqlite3_free(v->item_ids);
  memset(v, 0, sizeof *v);
}

/* Appends to a growable sqlite3_malloc'd array. */
static int grow(void **p, int64_t *cap, int64_t need, size_t elem) {
  if (need <= *cap) return SQLITE_OK;
  int64_t c = *cap ? *cap : 256;
  while (c < need) c *= 2;
  void *q = sqlite3_realloc64(*p, (sqlite3_uint64)c * elem);
  if (q == NULL) return SQLITE_NOMEM;
  *p = q;
  *cap = c;
  return SQLITE_OK;
}

static int load_validation(sqlite3 *db, const Options *o, int in_dim, int out_dim,
                           Validation *v, char **err) {
  sqlite3_stmt *st = NULL;
  int64_t fcap = 0, rcap = 0, ocap = 0, n_rel = 0, row = 0;
  int rc = sp_prepare_user_query(db, TRAIN_FN, o->validation, 2, &st, err);
  if (rc != SQLITE_OK) goto fail;
  v->k = o->validation_k;
  v->features.dims = in_dim;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    row++;
    int bytes = sqlite3_column_bytes(st, 0);
    if (sqlite3_column_type(st, 0) != SQLITE_BLOB || bytes != in_dim * (int)sizeof(float)) {
      *err = sqlite3_mprintf(TRAIN_FN "(): validation row %lld: features must be a float32 "
                             "BLOB of %d floats", (long long)row, in_dim);
      rc = SQLITE_MISMATCH;
      break;
    }
    const char *json = (const char *)sqlite3_column_text(st, 1);
    size_t len = (size_t)sqlite3_column_bytes(st, 1), count = 0;
    const char *jerr = NULL;
    if (sqlite3_column_type(st, 1) != SQLITE_TEXT || json == NULL ||
        json_array_ids(json, len, NULL, 0, &count, &jerr)) {
      *err = sqlite3_mprintf(TRAIN_FN "(): validation row %lld: relevant must be a JSON "
                             "array of ids%s%s", (long long)row, jerr ? ": " : "", jerr ? jerr : "");
      rc = SQLITE_MISMATCH;
      break;
    }
    if ((rc = grow((void **)&v->features.data, &fcap, row, (size_t)in_dim * sizeof(float))) ||
        (rc = grow((void **)&v->relevant, &rcap, n_rel + (int64_t)count, sizeof(int64_t))) ||
        (rc = grow((void **)&v->offsets, &ocap, row + 1, sizeof(int64_t)))) {
      break;
    }
    float *dst = v->features.data + (row - 1) * (int64_t)in_dim;
    memcpy(dst, sqlite3_column_blob(st, 0), (size_t)bytes);
    if (count) json_array_ids(json, len, v->relevant + n_rel, count, &count, &jerr);
    count = metrics_make_set(v->relevant + n_rel, count);
    v->offsets[row - 1] = n_rel;
    n_rel += (int64_t)count;
    v->offsets[row] = n_rel;
    v->features.rows = row;
  }
  sqlite3_finalize(st);
  st = NULL;
  if (rc != SQLITE_DONE) goto fail;
  if (row == 0) {
    *err = sqlite3_mprintf(TRAIN_FN "(): the validation query returned no rows");
    rc = SQLITE_ERROR;
    goto fail;
  }
  /* Items: every row of the table, by rowid. */
  char *sql = sqlite3_mprintf("SELECT rowid, embedding FROM \"%w\" ORDER BY rowid",
                              o->validation_table);
  if (sql == NULL) {
    rc = SQLITE_NOMEM;
    goto fail;
  }
  rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf(TRAIN_FN "(): option \"validation_table\": %s", sqlite3_errmsg(db));
    goto fail;
  }
  int64_t icap = 0, idcap = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (sqlite3_column_type(st, 1) != SQLITE_BLOB ||
        sqlite3_column_bytes(st, 1) != out_dim * (int)sizeof(float)) {
      *err = sqlite3_mprintf(TRAIN_FN "(): validation table \"%s\", rowid %lld: embedding must "
                             "be a float32 BLOB of %d floats", o->validation_table,
                             (long long)sqlite3_column_int64(st, 0), out_dim);
      rc = SQLITE_MISMATCH;
      break;
    }
    if ((rc = grow((void **)&v->items, &icap, v->n_items + 1, (size_t)out_dim * sizeof(float))) ||
        (rc = grow((void **)&v->item_ids, &idcap, v->n_items + 1, sizeof(int64_t)))) {
      break;
    }
    memcpy(v->items + v->n_items * out_dim, sqlite3_column_blob(st, 1),
           (size_t)out_dim * sizeof(float));
    v->item_ids[v->n_items++] = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  st = NULL;
  if (rc != SQLITE_DONE) goto fail;
  if (v->n_items == 0) {
    *err = sqlite3_mprintf(TRAIN_FN "(): validation table \"%s\" is empty", o->validation_table);
    rc = SQLITE_ERROR;
    goto fail;
  }
  topk_normalize_rows(v->items, v->n_items, out_dim);
  return SQLITE_OK;
fail:
  sqlite3_finalize(st);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_ERROR;
  if (*err == NULL && rc != SQLITE_NOMEM) {
    *err = sqlite3_mprintf(TRAIN_FN "(): validation: %s", sqlite3_errmsg(db));
  }
  validation_free(v);
  return rc;
}

/* Mean precision@k over validation users with a non-empty relevant set;
** NAN when there is none, -1 on allocation failure. */
static double validation_score(const Mlp *net, const Validation *v) {
  int64_t n = v->features.rows;
  int d = net->dims[net->n_layers];
  int k = v->k < v->n_items ? v->k : (int)v->n_items;
  float *pred = sqlite3_malloc64((sqlite3_uint64)n * d * sizeof(float));
  int32_t *idx = sqlite3_malloc64((sqlite3_uint64)n * k * sizeof(int32_t));
  int64_t *rec = sqlite3_malloc64((sqlite3_uint64)k * sizeof(int64_t));
  unsigned char *seen = NULL;
  int64_t max_rel = 1;
  for (int64_t u = 0; u < n; u++) {
    if (v->offsets[u + 1] - v->offsets[u] > max_rel) max_rel = v->offsets[u + 1] - v->offsets[u];
  }
  seen = sqlite3_malloc64((sqlite3_uint64)max_rel);
  double result = -1;
  if (pred && idx && rec && seen && mlp_forward(net, v->features.data, n, pred) == 0 &&
      topk_cosine(pred, n, v->items, v->n_items, d, k, idx, NULL) == 0) {
    double sum = 0;
    int64_t users = 0;
    for (int64_t u = 0; u < n; u++) {
      size_t nr = (size_t)(v->offsets[u + 1] - v->offsets[u]);
      if (nr == 0) continue;
      for (int r = 0; r < k; r++) rec[r] = v->item_ids[idx[u * k + r]];
      RankMetrics m;
      metrics_at_k(rec, (size_t)k, v->relevant + v->offsets[u], nr, (size_t)v->k, seen, &m);
      sum += m.precision;
      users++;
    }
    result = users ? sum / (double)users : NAN;
  }
  sqlite3_free(pred);
  sqlite3_free(idx);
  sqlite3_free(rec);
  sqlite3_free(seen);
  return result;
}

/* ---- persistence -------------------------------------------------------- */

static const char create_tables_sql[] =
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
    "  PRIMARY KEY (model, epoch));\n";

typedef struct {
  int layer;
  const char *kind;
  float *data;
  int rows, cols;
} Tensor;

/* The stored tensors of net, in ordinal order; returns their count. */
static int net_tensors(const Mlp *net, Tensor *t) {
  int n = 0;
  for (int l = 0; l < net->n_layers; l++) {
    int in = net->dims[l], out = net->dims[l + 1];
    t[n++] = (Tensor){l, "weight", net->W[l], out, in};
    t[n++] = (Tensor){l, "bias", net->b[l], out, 1};
    if (l < net->n_layers - 1) {
      t[n++] = (Tensor){l, "bn_weight", net->gamma[l], out, 1};
      t[n++] = (Tensor){l, "bn_bias", net->beta[l], out, 1};
      t[n++] = (Tensor){l, "bn_running_mean", net->run_mean[l], out, 1};
      t[n++] = (Tensor){l, "bn_running_var", net->run_var[l], out, 1};
    }
  }
  return n;
}

typedef struct {
  const double *loss, *seconds, *valp; /* valp NAN: not scored */
  int epochs;
  int64_t rows;
  double train_seconds;
} History;

static int save_model(sqlite3 *db, const char *name, const Mlp *net, const char *hidden_json,
                      const char *opts_json, const History *h, sqlite3_int64 generation,
                      char **err) {
  sqlite3_stmt *st = NULL;
  int rc = exec_sql(db, "SAVEPOINT semiperso_train_embedder", err);
  if (rc != SQLITE_OK) return rc;
  rc = exec_sql(db, create_tables_sql, err);
  if (rc != SQLITE_OK) goto rollback;
  static const char *const deletes[] = {
      "DELETE FROM semiperso_model_params WHERE model = ?1",
      "DELETE FROM semiperso_model_history WHERE model = ?1",
      "DELETE FROM semiperso_models WHERE name = ?1",
  };
  for (int i = 0; i < 3 && rc == SQLITE_OK; i++) {
    rc = sqlite3_prepare_v2(db, deletes[i], -1, &st, NULL);
    if (rc == SQLITE_OK) {
      sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
      rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    }
    sqlite3_finalize(st);
    st = NULL;
  }
  if (rc != SQLITE_OK) goto fail;
  double final_loss = h->loss[h->epochs - 1], last_valp = NAN;
  for (int e = 0; e < h->epochs; e++) {
    if (!isnan(h->valp[e])) last_valp = h->valp[e];
  }
  rc = sqlite3_prepare_v2(
      db,
      "INSERT INTO semiperso_models(name, input_dim, output_dim, hidden, options, train_rows, "
      "epochs, final_loss, validation_precision, train_seconds, trained_at, generation) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?11)",
      -1, &st, NULL);
  if (rc != SQLITE_OK) goto fail;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, net->dims[0]);
  sqlite3_bind_int(st, 3, net->dims[net->n_layers]);
  sqlite3_bind_text(st, 4, hidden_json, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, opts_json, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, h->rows);
  sqlite3_bind_int(st, 7, h->epochs);
  sqlite3_bind_double(st, 8, final_loss);
  if (!isnan(last_valp)) sqlite3_bind_double(st, 9, last_valp);
  sqlite3_bind_double(st, 10, h->train_seconds);
  sqlite3_bind_int64(st, 11, generation);
  rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
  sqlite3_finalize(st);
  st = NULL;
  if (rc != SQLITE_OK) goto fail;

  Tensor t[6 * MLP_MAX_LAYERS];
  int nt = net_tensors(net, t);
  rc = sqlite3_prepare_v2(db,
                          "INSERT INTO semiperso_model_params(model, ordinal, layer, kind, rows, "
                          "cols, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                          -1, &st, NULL);
  for (int i = 0; i < nt && rc == SQLITE_OK; i++) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, i);
    sqlite3_bind_int(st, 3, t[i].layer);
    sqlite3_bind_text(st, 4, t[i].kind, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, t[i].rows);
    sqlite3_bind_int(st, 6, t[i].cols);
    sqlite3_bind_blob64(st, 7, t[i].data,
                        (sqlite3_uint64)t[i].rows * (sqlite3_uint64)t[i].cols * sizeof(float),
                        SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  st = NULL;
  if (rc != SQLITE_OK) goto fail;

  rc = sqlite3_prepare_v2(db,
                          "INSERT INTO semiperso_model_history(model, epoch, loss, seconds, "
                          "validation_precision) VALUES (?1, ?2, ?3, ?4, ?5)",
                          -1, &st, NULL);
  for (int e = 0; e < h->epochs && rc == SQLITE_OK; e++) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, e + 1);
    sqlite3_bind_double(st, 3, h->loss[e]);
    sqlite3_bind_double(st, 4, h->seconds[e]);
    if (isnan(h->valp[e])) sqlite3_bind_null(st, 5);
    else sqlite3_bind_double(st, 5, h->valp[e]);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  st = NULL;
  if (rc != SQLITE_OK) goto fail;
  return exec_sql(db, "RELEASE semiperso_train_embedder", err);
fail:
  if (*err == NULL) {
    *err = sqlite3_mprintf(TRAIN_FN "(): cannot store the model: %s", sqlite3_errmsg(db));
  }
rollback:
  sqlite3_exec(db, "ROLLBACK TO semiperso_train_embedder; RELEASE semiperso_train_embedder",
               NULL, NULL, NULL);
  return rc;
}

/* ---- train_embedder ----------------------------------------------------- */

static void train_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  EmbedderConn *conn = conn_of(ctx);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  static const char *const col_names[2] = {"features", "target"};
  char *err = NULL, *opts_json = NULL, *summary = NULL;
  Options o;
  SpMatrix mats[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
  Validation val;
  memset(&val, 0, sizeof val);
  Mlp net;
  memset(&net, 0, sizeof net);
  MlpTrainer *tr = NULL;
  uint64_t *masks = NULL;
  uint32_t *order = NULL;
  double *hist = NULL;
  int rc = SQLITE_OK;

  memset(&o, 0, sizeof o);
  const char *name = (const char *)sqlite3_value_text(argv[0]);
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT || name == NULL || name[0] == 0) {
    err = sqlite3_mprintf(TRAIN_FN "(): argument 1 (name) must be a non-empty TEXT model name");
    rc = SQLITE_ERROR;
    goto done;
  }
  if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
    err = sqlite3_mprintf(TRAIN_FN "(): argument 2 (query) must be the TEXT of a SELECT");
    rc = SQLITE_ERROR;
    goto done;
  }
  rc = parse_options(db, argc > 2 ? argv[2] : NULL, &o, &err);
  if (rc != SQLITE_OK) goto done;
  const char *sql = (const char *)sqlite3_value_text(argv[1]);
  rc = sp_query_matrices(db, TRAIN_FN, sql, 2, col_names, mats, &err);
  if (rc != SQLITE_OK) goto done;
  int64_t n = mats[0].rows;
  if (n < 2) {
    err = sqlite3_mprintf(TRAIN_FN "(): training needs at least 2 rows, the query returned %lld",
                          (long long)n);
    rc = SQLITE_ERROR;
    goto done;
  }
  if (n > (int64_t)UINT32_MAX) {
    err = sqlite3_mprintf(TRAIN_FN "(): too many training rows");
    rc = SQLITE_TOOBIG;
    goto done;
  }
  int dims[MLP_MAX_LAYERS + 1];
  dims[0] = mats[0].dims;
  for (int i = 0; i < o.n_hidden; i++) dims[i + 1] = o.hidden[i];
  dims[o.n_hidden + 1] = mats[1].dims;
  int L = o.n_hidden + 1;
  /* Parameters, gradient and two Adam moments: 16 bytes a parameter. */
  size_t n_params = mlp_count_params(L, dims, NULL);
  if (n_params == 0 || n_params > MAX_PARAMS) {
    err = sqlite3_mprintf(TRAIN_FN "(): option \"hidden\": the network would have more than "
                          "%lld parameters", (long long)MAX_PARAMS);
    rc = SQLITE_TOOBIG;
    goto done;
  }
  rc = mlp_init(&net, L, dims, (uint64_t)o.seed);
  if (rc == -2) {
    err = sqlite3_mprintf(TRAIN_FN "(): option \"hidden\": the network is too large");
    rc = SQLITE_TOOBIG;
    goto done;
  } else if (rc != 0) {
    rc = SQLITE_NOMEM;
    goto done;
  }
  if (o.sparse_input) declare_feature_layout(&net);
  if (o.validation) {
    rc = load_validation(db, &o, dims[0], dims[L], &val, &err);
    if (rc != SQLITE_OK) goto done;
  }
  int batch = o.batch_size < n ? o.batch_size : (int)n;
  tr = mlp_trainer_new(&net, batch + 1, (float)o.learning_rate, (float)o.weight_decay);
  order = sqlite3_malloc64((sqlite3_uint64)n * sizeof *order);
  hist = sqlite3_malloc64((sqlite3_uint64)o.epochs * 3 * sizeof *hist);
  if (net.n_blocks) masks = sqlite3_malloc64((sqlite3_uint64)n * sizeof *masks);
  if (tr == NULL || order == NULL || hist == NULL || (net.n_blocks && masks == NULL)) {
    rc = SQLITE_NOMEM;
    goto done;
  }
  if (masks) mlp_block_masks(&net, mats[0].data, n, masks);
  for (int64_t i = 0; i < n; i++) order[i] = (uint32_t)i;
  double *h_loss = hist, *h_sec = hist + o.epochs, *h_val = hist + 2 * o.epochs;
  Rng shuffle;
  rng_seed(&shuffle, (uint64_t)o.seed, SHUFFLE_STREAM);
  double t0 = now_seconds(), last_print = t0;
  for (int e = 0; e < o.epochs; e++) {
    double te = now_seconds(), sum = 0;
    rng_shuffle(&shuffle, order, (uint32_t)n);
    for (int64_t b = 0; b < n;) {
      int B = (int)(n - b < batch ? n - b : batch);
      if (n - b - B == 1) B++; /* BatchNorm needs two rows per batch */
      double loss = mlp_train_step(tr, &net, mats[0].data, masks, mats[1].data, order + b, B);
      if (!isfinite(loss)) {
        err = sqlite3_mprintf(TRAIN_FN "(): training diverged (loss is %s at epoch %d); the "
                              "previous model is kept; try a smaller learning_rate",
                              isnan(loss) ? "NaN" : "infinite", e + 1);
        rc = SQLITE_ERROR;
        goto done;
      }
      sum += loss * B;
      b += B;
      if (sp_check_interrupt(db) == SQLITE_INTERRUPT) {
        err = sqlite3_mprintf(TRAIN_FN "(): interrupted; the previous model is kept");
        rc = SQLITE_INTERRUPT;
        goto done;
      }
    }
    h_loss[e] = sum / (double)n;
    h_val[e] = NAN;
    if (o.validation && ((e + 1) % o.validation_every == 0 || e == o.epochs - 1)) {
      double p = validation_score(&net, &val);
      if (p < 0) {
        rc = SQLITE_NOMEM;
        goto done;
      }
      h_val[e] = p;
    }
    double now = now_seconds();
    h_sec[e] = now - te;
    if (!o.quiet && (now - last_print >= 1.0 || e == o.epochs - 1 || e == 0)) {
      double elapsed = now - t0, eta = elapsed / (e + 1) * (o.epochs - e - 1);
      fprintf(stderr, TRAIN_FN "(%s): epoch %d/%d  loss %.6g", name, e + 1, o.epochs, h_loss[e]);
      if (!isnan(h_val[e])) fprintf(stderr, "  precision@%d %.4f", o.validation_k, h_val[e]);
      fprintf(stderr, "  elapsed %.1fs  ETA %.1fs\n", elapsed, eta);
      last_print = now;
    }
  }
  double train_seconds = now_seconds() - t0;
  /* Weights must be finite to be stored (a finite loss can hide an
  ** overflowing running variance). */
  for (size_t i = 0; i < net.n_params; i++) {
    if (!isfinite(net.params[i])) {
      err = sqlite3_mprintf(TRAIN_FN "(): training diverged (a weight is not finite); the "
                            "previous model is kept; try a smaller learning_rate");
      rc = SQLITE_ERROR;
      goto done;
    }
  }
  for (size_t i = 0; i < net.n_stats; i++) {
    if (!isfinite(net.stats[i])) {
      err = sqlite3_mprintf(TRAIN_FN "(): training diverged (a BatchNorm statistic is not "
                            "finite); the previous model is kept");
      rc = SQLITE_ERROR;
      goto done;
    }
  }
  opts_json = options_json(db, &o);
  if (opts_json == NULL) {
    rc = SQLITE_NOMEM;
    goto done;
  }
  sqlite3_stmt *st = NULL;
  char *hidden_json = NULL;
  if (sqlite3_prepare_v2(db, "SELECT json_extract(?1, '$.hidden')", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, opts_json, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) hidden_json = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  if (hidden_json == NULL) {
    rc = SQLITE_NOMEM;
    goto done;
  }
  sqlite3_int64 generation;
  sqlite3_randomness(sizeof generation, &generation);
  generation &= INT64_MAX;
  History h = {h_loss, h_sec, h_val, o.epochs, n, train_seconds};
  rc = save_model(db, name, &net, hidden_json, opts_json, &h, generation, &err);
  sqlite3_free(hidden_json);
  if (rc != SQLITE_OK) goto done;
  conn->trains++;
  /* The summary, built by SQLite's JSON functions. */
  double last_valp = NAN;
  for (int e = 0; e < o.epochs; e++) {
    if (!isnan(h_val[e])) last_valp = h_val[e];
  }
  if (sqlite3_prepare_v2(db,
                         "SELECT json_object('model', ?1, 'rows', ?2, 'input_dim', ?3, "
                         "'output_dim', ?4, 'hidden', json_extract(?5, '$.hidden'), 'epochs', ?6, "
                         "'final_loss', ?7, 'validation_precision', ?8, 'seconds', ?9)",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, n);
    sqlite3_bind_int(st, 3, dims[0]);
    sqlite3_bind_int(st, 4, dims[L]);
    sqlite3_bind_text(st, 5, opts_json, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, o.epochs);
    sqlite3_bind_double(st, 7, h_loss[o.epochs - 1]);
    if (!isnan(last_valp)) sqlite3_bind_double(st, 8, last_valp);
    sqlite3_bind_double(st, 9, train_seconds);
    if (sqlite3_step(st) == SQLITE_ROW) summary = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  if (summary == NULL) rc = SQLITE_NOMEM;

done:
  if (rc == SQLITE_OK) {
    sqlite3_result_text(ctx, summary, -1, sqlite3_free);
    summary = NULL;
  } else if (rc == SQLITE_NOMEM && err == NULL) {
    sqlite3_result_error_nomem(ctx);
  } else {
    sqlite3_result_error(ctx, err ? err : sqlite3_errstr(rc), -1);
    if (rc == SQLITE_INTERRUPT || rc == SQLITE_TOOBIG) sqlite3_result_error_code(ctx, rc);
  }
  sqlite3_free(err);
  sqlite3_free(summary);
  sqlite3_free(opts_json);
  options_free(&o);
  sp_matrix_free(&mats[0]);
  sp_matrix_free(&mats[1]);
  validation_free(&val);
  mlp_trainer_free(tr);
  mlp_free(&net);
  sqlite3_free(masks);
  sqlite3_free(order);
  sqlite3_free(hist);
}

/* ---- embed_user --------------------------------------------------------- */

/* Reads model `name` into net; SQLITE_NOTFOUND when there is no such model. */
static int load_model(sqlite3 *db, const char *name, Mlp *net, sqlite3_int64 *generation,
                      char **err) {
  sqlite3_stmt *st = NULL;
  int dims[MLP_MAX_LAYERS + 1], n_layers = 0;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT m.input_dim, m.output_dim, m.generation, j.value, j.type "
                              "FROM semiperso_models m LEFT JOIN json_each(m.hidden) j "
                              "WHERE m.name = ?1 ORDER BY j.key",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(st);
    /* No table: no model was ever trained here (out of memory is not that). */
    return rc == SQLITE_NOMEM ? SQLITE_NOMEM : SQLITE_NOTFOUND;
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int rows = 0, bad = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (rows++ == 0) {
      dims[0] = sqlite3_column_int(st, 0);
      *generation = sqlite3_column_int64(st, 2);
    }
    if (sqlite3_column_type(st, 3) == SQLITE_NULL) continue;
    if (n_layers >= MLP_MAX_LAYERS - 1 || sqlite3_column_type(st, 3) != SQLITE_INTEGER) {
      bad = 1;
      break;
    }
    dims[++n_layers] = sqlite3_column_int(st, 3);
    dims[n_layers + 1] = sqlite3_column_int(st, 1);
  }
  if (rows > 0 && n_layers == 0) dims[1] = sqlite3_column_int(st, 1);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    *err = sqlite3_mprintf(EMBED_FN "(): cannot read model \"%s\": %s", name, sqlite3_errmsg(db));
    return rc;
  }
  if (rows == 0) return SQLITE_NOTFOUND;
  n_layers++;
  /* The sizes must account for exactly the floats stored, checked before
  ** allocating: a tampered row must not make us allocate gigabytes. */
  size_t n_stats = 0, n_params = bad ? 0 : mlp_count_params(n_layers, dims, &n_stats);
  sqlite3_int64 stored = -1;
  rc = sqlite3_prepare_v2(db, "SELECT sum(length(data)) FROM semiperso_model_params "
                          "WHERE model = ?1", -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      stored = sqlite3_column_int64(st, 0);
      rc = SQLITE_OK;
    }
  }
  if (rc != SQLITE_OK) { /* a failed read is not a corrupt model */
    *err = sqlite3_mprintf(EMBED_FN "(): cannot read model \"%s\": %s", name, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
  }
  sqlite3_finalize(st);
  uint64_t need = (uint64_t)(n_params + n_stats) * sizeof(float);
  if (n_params != 0 && (stored < 0 || (uint64_t)stored != need)) {
    *err = sqlite3_mprintf(EMBED_FN "(): model \"%s\" is corrupt (its sizes in semiperso_models "
                           "need %llu bytes of parameters, semiperso_model_params holds %lld)",
                           name, (unsigned long long)need, stored);
    return SQLITE_CORRUPT;
  }
  int init = n_params == 0 ? -2 : mlp_init(net, n_layers, dims, 0);
  if (init == -1) return SQLITE_NOMEM;
  if (init != 0) {
    *err = sqlite3_mprintf(EMBED_FN "(): model \"%s\" is corrupt (bad sizes in semiperso_models)", name);
    return SQLITE_CORRUPT;
  }
  declare_feature_layout(net); /* one user reads only the weights of their groups */
  Tensor t[6 * MLP_MAX_LAYERS];
  int nt = net_tensors(net, t), got = 0;
  rc = sqlite3_prepare_v2(db,
                          "SELECT ordinal, rows, cols, data FROM semiperso_model_params "
                          "WHERE model = ?1 ORDER BY ordinal",
                          -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      int i = got;
      size_t bytes = i < nt ? (size_t)t[i].rows * (size_t)t[i].cols * sizeof(float) : 0;
      if (i >= nt || sqlite3_column_int(st, 0) != i || sqlite3_column_int(st, 1) != t[i].rows ||
          sqlite3_column_int(st, 2) != t[i].cols || sqlite3_column_type(st, 3) != SQLITE_BLOB ||
          (size_t)sqlite3_column_bytes(st, 3) != bytes) {
        bad = 1;
        break;
      }
      memcpy(t[i].data, sqlite3_column_blob(st, 3), bytes);
      if (!vec_all_finite(t[i].data, bytes / sizeof(float))) {
        bad = 1;
        break;
      }
      got++;
    }
  }
  if (rc != SQLITE_DONE && !bad) {
    *err = sqlite3_mprintf(EMBED_FN "(): cannot read model \"%s\": %s", name, sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  if (*err) {
    mlp_free(net);
    return SQLITE_ERROR;
  }
  if (bad || got != nt) {
    mlp_free(net);
    *err = sqlite3_mprintf(EMBED_FN "(): model \"%s\" is corrupt (semiperso_model_params "
                           "does not match its sizes, or holds NaN or Inf)", name);
    return SQLITE_CORRUPT;
  }
  return SQLITE_OK;
}

/* The current generation of model name, or SQLITE_NOTFOUND. */
static int model_generation(sqlite3 *db, const char *name, sqlite3_int64 *generation) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT generation FROM semiperso_models WHERE name = ?1", -1,
                              &st, NULL);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(st);
    return SQLITE_NOTFOUND;
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

/* The up-to-date cached model of that name, loading it when needed. */
static CachedModel *find_model(sqlite3_context *ctx, EmbedderConn *conn, const char *name) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  StmtToken *tok = sqlite3_get_auxdata(ctx, 0);
  if (tok && tok->trains == conn->trains && conn->slot[tok->slot].serial == tok->serial &&
      conn->slot[tok->slot].name) {
    return &conn->slot[tok->slot];
  }
  sqlite3_int64 gen = 0;
  char *err = NULL;
  int rc = model_generation(db, name, &gen);
  CachedModel *found = NULL;
  if (rc == SQLITE_OK) {
    for (int i = 0; i < CACHE_SLOTS; i++) {
      CachedModel *s = &conn->slot[i];
      if (s->name && strcmp(s->name, name) == 0) {
        if (s->generation == gen) found = s;
        else slot_clear(s); /* stale */
      }
    }
  }
  if (rc == SQLITE_OK && found == NULL) {
    CachedModel *s = &conn->slot[0];
    for (int i = 0; i < CACHE_SLOTS; i++) {
      if (conn->slot[i].name == NULL) {
        s = &conn->slot[i];
        break;
      }
      if (conn->slot[i].last_use < s->last_use) s = &conn->slot[i];
    }
    slot_clear(s);
    Mlp net;
    rc = load_model(db, name, &net, &gen, &err);
    if (rc == SQLITE_OK) {
      s->name = sqlite3_mprintf("%s", name);
      if (s->name == NULL) {
        mlp_free(&net);
        rc = SQLITE_NOMEM;
      } else {
        s->net = net;
        s->generation = gen;
        s->serial = ++conn->next_serial;
        found = s;
      }
    }
  }
  if (rc == SQLITE_NOTFOUND) {
    sp_result_errorf(ctx, EMBED_FN "(): no model named \"%s\" (train one with train_embedder())",
                     name);
    return NULL;
  }
  if (rc != SQLITE_OK) {
    if (err) sqlite3_result_error(ctx, err, -1);
    else if (rc == SQLITE_NOMEM) sqlite3_result_error_nomem(ctx);
    else sp_result_errorf(ctx, EMBED_FN "(): %s", sqlite3_errmsg(db));
    sqlite3_free(err);
    return NULL;
  }
  found->last_use = ++conn->clock;
  StmtToken *nt = sqlite3_malloc(sizeof *nt);
  if (nt) {
    nt->trains = conn->trains;
    nt->serial = found->serial;
    nt->slot = (int)(found - conn->slot);
    sqlite3_set_auxdata(ctx, 0, nt, sqlite3_free);
  }
  return found;
}

static void embed_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  EmbedderConn *conn = conn_of(ctx);
  const char *name = (const char *)sqlite3_value_text(argv[0]);
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT || name == NULL) {
    sp_result_errorf(ctx, EMBED_FN "(): argument 1 (model) must be a TEXT model name");
    return;
  }
  float *x = NULL;
  int n = 0;
  if (sp_vector_arg(ctx, argv[1], 2, &x, &n) != SQLITE_OK) return;
  CachedModel *m = find_model(ctx, conn, name);
  if (m == NULL) {
    sqlite3_free(x);
    return;
  }
  if (n != m->net.dims[0]) {
    sp_result_errorf(ctx, EMBED_FN "(): argument 2 (features) has %d floats, model \"%s\" "
                     "expects %d", n, name, m->net.dims[0]);
    sqlite3_free(x);
    return;
  }
  int d = m->net.dims[m->net.n_layers];
  float *out = sqlite3_malloc64((sqlite3_uint64)d * sizeof(float));
  if (out == NULL || mlp_forward(&m->net, x, 1, out) != 0) {
    sqlite3_free(out);
    sqlite3_free(x);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_free(x);
  sp_result_vector(ctx, out, d);
}

int sp_register_embedder(sqlite3 *db, char **pzErrMsg) {
  EmbedderConn *conn = sqlite3_malloc(sizeof *conn);
  if (conn == NULL) return SQLITE_NOMEM;
  memset(conn, 0, sizeof *conn);
  conn->fn_train = (SpFunction){TRAIN_FN, 3, SQLITE_UTF8 | SQLITE_DIRECTONLY, conn, train_func,
                                NULL, NULL, NULL, NULL};
  conn->fn_embed = (SpFunction){EMBED_FN, 2, SQLITE_UTF8, conn, embed_func, NULL, NULL, NULL, NULL};
  struct {
    SpFunction *f;
    int n_arg;
  } regs[] = {{&conn->fn_train, 2}, {&conn->fn_train, 3}, {&conn->fn_embed, 2}};
  conn->refs = 1; /* ours, until every registration holds its own */
  int rc = SQLITE_OK;
  for (size_t i = 0; i < sizeof regs / sizeof *regs && rc == SQLITE_OK; i++) {
    conn->refs++;
    rc = sqlite3_create_function_v2(db, regs[i].f->name, regs[i].n_arg, regs[i].f->flags, regs[i].f,
                                    regs[i].f->xFunc, NULL, NULL, fn_release);
    /* On failure SQLite has already called the destructor once. */
    if (rc != SQLITE_OK && pzErrMsg) {
      *pzErrMsg = sqlite3_mprintf("semiperso: error creating function %s: %s", regs[i].f->name,
                                  sqlite3_errmsg(db));
    }
  }
  conn_release(conn);
  return rc;
}
