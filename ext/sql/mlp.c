/*
** mlp.c - SQL bindings of the user embedder, the network of ext/core/mlp.h
** trained by ext/core/mlp_fit.h (docs/ARCHITECTURE.md, "Training").
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
** Stored in the neural model tables of store.h (sp_models_kind):
**   semiperso_models: one row per model (sizes, options, final loss, ...)
**   semiperso_model_params: kind weight (rows = out, cols = in), bias,
**     bn_weight, bn_bias, bn_running_mean, bn_running_var (rows = out,
**     cols = 1) per layer, in that order; data float32.
**   semiperso_model_history: one row per epoch; validation_precision NULL
**     when not scored.
** Models are served from the per-connection cache of store.h.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/input_features.h"
#include "../core/json_array.h"
#include "../core/metrics.h"
#include "../core/mlp.h"
#include "../core/mlp_fit.h"
#include "../core/topk.h"
#include "args.h"
#include "common.h"
#include "embedder.h"
#include "modules.h"
#include "options.h"
#include "query.h"
#include "store.h"

#define TRAIN_FN "train_embedder"
#define MAX_PARAMS ((size_t)1 << 28) /* 4 GiB of training state */
#define MAX_WIDTH 1000000

/* Tells the network the input has the reference feature layout (20 groups
** of d floats, then 19 scalars) when its width fits it, so all-zero groups
** can be skipped; the function computed is the same. */
static void declare_feature_layout(Mlp *net) {
  int in = net->dims[0];
  if (in > FEATURE_SCALARS && (in - FEATURE_SCALARS) % FEATURE_GROUPS == 0)
    mlp_set_input_blocks(net, (in - FEATURE_SCALARS) / FEATURE_GROUPS, FEATURE_GROUPS);
}

/* The stored tensors of net, in ordinal order; returns their count. */
static int net_tensors(const Mlp *net, SpTensor *t) {
  int n = 0;
  for (int l = 0; l < net->n_layers; l++) {
    int in = net->dims[l], out = net->dims[l + 1];
    t[n++] = (SpTensor){l, "weight", net->W[l], out, in};
    t[n++] = (SpTensor){l, "bias", net->b[l], out, 1};
    if (l < net->n_layers - 1) {
      t[n++] = (SpTensor){l, "bn_weight", net->gamma[l], out, 1};
      t[n++] = (SpTensor){l, "bn_bias", net->beta[l], out, 1};
      t[n++] = (SpTensor){l, "bn_running_mean", net->run_mean[l], out, 1};
      t[n++] = (SpTensor){l, "bn_running_var", net->run_var[l], out, 1};
    }
  }
  return n;
}

/* ---- options ------------------------------------------------------------- */

typedef struct {
  int hidden[MLP_MAX_LAYERS];
  int n_hidden;
  sqlite3_int64 epochs, batch_size, seed, validation_every, validation_k;
  double learning_rate, weight_decay;
  int quiet, sparse_input;
  char *validation, *validation_table; /* sqlite3_malloc'd */
} Options;

static void options_free(Options *o) {
  sqlite3_free(o->validation);
  sqlite3_free(o->validation_table);
  o->validation = o->validation_table = NULL;
}

/* Fills o with the defaults, then what the options JSON sets. */
static int parse_options(sqlite3 *db, sqlite3_value *arg, Options *o, char **err) {
  static const int default_hidden[] = {400, 300, 200};
  memset(o, 0, sizeof *o);
  memcpy(o->hidden, default_hidden, sizeof default_hidden);
  o->n_hidden = 3;
  o->epochs = 130;
  o->batch_size = 512;
  o->learning_rate = 1e-5;
  o->sparse_input = 1;
  o->validation_every = 10;
  o->validation_k = 50;
  o->validation_table = sqlite3_mprintf("tracks");
  if (o->validation_table == NULL) return SQLITE_NOMEM;
  char *hidden = NULL;
  const SpOption spec[] = {
      {"hidden", SP_OPT_ARRAY, 0, 0, 0, &hidden, "a non-empty array of positive integers"},
      {"epochs", SP_OPT_INT, 1, 1000000, 0, &o->epochs, "a positive integer (at most 1000000)"},
      {"batch_size", SP_OPT_INT, 2, 1 << 20, 0, &o->batch_size, "an integer between 2 and 1048576"},
      {"learning_rate", SP_OPT_REAL, 0, 1e300, 1, &o->learning_rate, "a positive number"},
      {"weight_decay", SP_OPT_REAL, 0, 1e300, 0, &o->weight_decay, "a non-negative number"},
      {"seed", SP_OPT_INT, -9.2e18, 9.2e18, 0, &o->seed, "an integer"},
      {"quiet", SP_OPT_BOOL, 0, 0, 0, &o->quiet, NULL},
      {"sparse_input", SP_OPT_BOOL, 0, 0, 0, &o->sparse_input, NULL},
      {"validation", SP_OPT_TEXT, 0, 0, 0, &o->validation, "a SELECT query (text) or null"},
      {"validation_every", SP_OPT_INT, 1, 1000000, 0, &o->validation_every, "a positive integer"},
      {"validation_table", SP_OPT_TEXT, 0, 0, 0, &o->validation_table, "a table name"},
      {"validation_k", SP_OPT_INT, 1, 100000, 0, &o->validation_k, "an integer between 1 and 100000"},
  };
  int rc = sp_parse_options(db, TRAIN_FN, 3, arg, spec, SP_COUNT(spec), err);
  if (rc == SQLITE_OK && o->validation_table == NULL) {
    *err = sqlite3_mprintf(TRAIN_FN "(): option \"validation_table\" must be a table name");
    rc = SQLITE_ERROR;
  }
  if (rc == SQLITE_OK && hidden != NULL &&
      (o->n_hidden = sp_parse_widths(hidden, o->hidden, MLP_MAX_LAYERS - 1, MAX_WIDTH)) < 0) {
    *err = sqlite3_mprintf(TRAIN_FN "(): option \"hidden\" must be a non-empty array of at "
                           "most %d positive integers (layer widths up to %d)",
                           MLP_MAX_LAYERS - 1, MAX_WIDTH);
    rc = SQLITE_ERROR;
  }
  sqlite3_free(hidden);
  return rc;
}

/* The options in effect as JSON (stored with the model). */
static char *options_json(sqlite3 *db, const Options *o) {
  sqlite3_str *s = sqlite3_str_new(db);
  sp_json_open(s, '{');
  sp_json_ints(s, "hidden", o->hidden, o->n_hidden);
  sp_json_int(s, "epochs", o->epochs);
  sp_json_int(s, "batch_size", o->batch_size);
  sp_json_real(s, "learning_rate", o->learning_rate);
  sp_json_real(s, "weight_decay", o->weight_decay);
  sp_json_int(s, "seed", o->seed);
  sp_json_bool(s, "quiet", o->quiet);
  sp_json_bool(s, "sparse_input", o->sparse_input);
  sp_json_text(s, "validation", o->validation);
  sp_json_int(s, "validation_every", o->validation_every);
  sp_json_text(s, "validation_table", o->validation_table);
  sp_json_int(s, "validation_k", o->validation_k);
  sp_json_close(s, '}');
  return sqlite3_str_finish(s);
}

/* ---- validation ------------------------------------------------------------ */

typedef struct {
  SpMatrix features;  /* users x input_dim */
  int64_t *relevant;  /* all users' relevant ids, each user's run a set */
  int64_t *offsets;   /* users + 1 */
  SpMatrix items;     /* n_items x output_dim, unit rows, with their ids */
  int k;
} Validation;

static void validation_free(Validation *v) {
  sp_matrix_free(&v->features);
  sp_matrix_free(&v->items);
  sqlite3_free(v->relevant);
  sqlite3_free(v->offsets);
  memset(v, 0, sizeof *v);
}

/* The validation users: features and the set of their relevant ids. */
static int load_validation_users(sqlite3 *db, const Options *o, Validation *v, char **err) {
  sqlite3_stmt *st = NULL;
  int64_t rcap = 0, ocap = 0, n_rel = 0, row = 0;
  int rc = sp_prepare_user_query(db, TRAIN_FN, o->validation, 2, &st, err);
  const SpColumn features = {TRAIN_FN, "validation query", 0, 1, "features"};
  while (rc == SQLITE_OK) {
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) break;
    row++;
    const char *json = (const char *)sqlite3_column_text(st, 1);
    size_t len = (size_t)sqlite3_column_bytes(st, 1), count = 0;
    const char *jerr = NULL;
    if ((rc = sp_matrix_append(&v->features, st, &features, row, err)) != SQLITE_OK) break;
    if (sqlite3_column_type(st, 1) != SQLITE_TEXT || json == NULL ||
        json_array_ids(json, len, NULL, 0, &count, &jerr)) {
      *err = sqlite3_mprintf(TRAIN_FN "(): validation query, row %lld, column 2 (relevant): "
                             "expected a JSON array of ids%s%s", (long long)row,
                             jerr ? ": " : "", jerr ? jerr : "");
      rc = SQLITE_MISMATCH;
      break;
    }
    if ((rc = sp_grow((void **)&v->relevant, &rcap, n_rel + (int64_t)count, sizeof(int64_t))) ||
        (rc = sp_grow((void **)&v->offsets, &ocap, row + 1, sizeof(int64_t))))
      break;
    if (count) json_array_ids(json, len, v->relevant + n_rel, count, &count, &jerr);
    v->offsets[row - 1] = n_rel;
    n_rel += (int64_t)metrics_make_set(v->relevant + n_rel, count);
    v->offsets[row] = n_rel;
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE && row == 0) {
    *err = sqlite3_mprintf(TRAIN_FN "(): the validation query returned no rows");
    return SQLITE_ERROR;
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The items ranked for validation: every row of the table, by rowid. */
static int load_validation_items(sqlite3 *db, const Options *o, Validation *v, char **err) {
  sqlite3_stmt *st = NULL;
  char *sql = sqlite3_mprintf("SELECT rowid, embedding FROM \"%w\" ORDER BY rowid",
                              o->validation_table);
  char *source = sqlite3_mprintf("validation table '%s'", o->validation_table);
  int rc = sql && source ? sqlite3_prepare_v2(db, sql, -1, &st, NULL) : SQLITE_NOMEM;
  if (rc != SQLITE_OK && rc != SQLITE_NOMEM)
    *err = sqlite3_mprintf(TRAIN_FN "(): option \"validation_table\": %s", sqlite3_errmsg(db));
  SpColumn embedding = {TRAIN_FN, source, 1, 0, "embedding"};
  int64_t row = 0;
  if (rc == SQLITE_OK) rc = sp_matrix_read(&v->items, st, &embedding, INT64_MAX, &row, err);
  sqlite3_finalize(st);
  sqlite3_free(sql);
  sqlite3_free(source);
  if (rc == SQLITE_DONE && v->items.rows == 0) {
    *err = sqlite3_mprintf(TRAIN_FN "(): validation table \"%s\" is empty", o->validation_table);
    return SQLITE_ERROR;
  }
  if (rc != SQLITE_DONE) return rc;
  topk_normalize_rows(v->items.data, v->items.rows, v->items.dims);
  return SQLITE_OK;
}

static int load_validation(sqlite3 *db, const Options *o, int in_dim, int out_dim,
                           Validation *v, char **err) {
  v->k = (int)o->validation_k;
  v->features.dims = in_dim;
  v->items.dims = out_dim;
  int rc = load_validation_users(db, o, v, err);
  if (rc == SQLITE_OK) rc = load_validation_items(db, o, v, err);
  if (rc != SQLITE_OK && *err == NULL && rc != SQLITE_NOMEM)
    *err = sqlite3_mprintf(TRAIN_FN "(): validation: %s", sqlite3_errmsg(db));
  return rc;
}

/* Mean precision@k over validation users with a non-empty relevant set;
** NAN when there is none, -1 on allocation failure. */
static double validation_score(const Mlp *net, const Validation *v) {
  int64_t n = v->features.rows, n_items = v->items.rows;
  int d = net->dims[net->n_layers];
  int k = v->k < n_items ? v->k : (int)n_items;
  int64_t max_rel = 1;
  for (int64_t u = 0; u < n; u++) {
    if (v->offsets[u + 1] - v->offsets[u] > max_rel) max_rel = v->offsets[u + 1] - v->offsets[u];
  }
  float *pred = sqlite3_malloc64((sqlite3_uint64)n * d * sizeof(float));
  int32_t *idx = sqlite3_malloc64((sqlite3_uint64)n * k * sizeof(int32_t));
  int64_t *rec = sqlite3_malloc64((sqlite3_uint64)k * sizeof(int64_t));
  unsigned char *seen = sqlite3_malloc64((sqlite3_uint64)max_rel);
  double result = -1;
  if (pred && idx && rec && seen && mlp_forward(net, v->features.data, n, pred) == 0 &&
      topk_cosine(pred, n, v->items.data, n_items, d, k, idx, NULL) == 0) {
    double sum = 0;
    int64_t users = 0;
    for (int64_t u = 0; u < n; u++) {
      size_t nr = (size_t)(v->offsets[u + 1] - v->offsets[u]);
      if (nr == 0) continue;
      for (int r = 0; r < k; r++) rec[r] = v->items.ids[idx[u * k + r]];
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

/* ---- train_embedder: parse, load, train, persist, summarise -------------- */

/* One training run: its inputs, its network and what each epoch left. */
typedef struct {
  sqlite3 *db;
  const char *name;
  Options o;
  SpMatrix data[2]; /* features, targets */
  Validation val;
  Mlp net;
  double *loss, *seconds, *precision; /* per epoch; precision NAN: not scored */
  double started, last_print, train_seconds;
  int scoring_failed;
} Training;

static void training_free(Training *t) {
  options_free(&t->o);
  sp_matrix_free(&t->data[0]);
  sp_matrix_free(&t->data[1]);
  validation_free(&t->val);
  mlp_free(&t->net);
  sqlite3_free(t->loss);
}

/* Arguments and options. */
static int parse_training(int argc, sqlite3_value **argv, Training *t, const char **sql,
                          char **err) {
  int rc = sp_read_text((SpArg){TRAIN_FN, 1, "name"}, argv[0], "a non-empty TEXT model name", 1,
                        &t->name, err);
  if (rc == SQLITE_OK)
    rc = sp_read_text((SpArg){TRAIN_FN, 2, "query"}, argv[1], "the TEXT of a SELECT", 0, sql, err);
  if (rc != SQLITE_OK) return rc;
  return parse_options(t->db, argc > 2 ? argv[2] : NULL, &t->o, err);
}

/* The training rows and the validation set. */
static int load_training(Training *t, const char *sql, char **err) {
  static const char *const col_names[2] = {"features", "target"};
  int rc = sp_query_matrices(t->db, TRAIN_FN, sql, 2, col_names, t->data, err);
  if (rc != SQLITE_OK) return rc;
  if (t->data[0].rows < 2) {
    *err = sqlite3_mprintf(TRAIN_FN "(): training needs at least 2 rows, the query returned %lld",
                           (long long)t->data[0].rows);
    return SQLITE_ERROR;
  }
  if (t->data[0].rows > (int64_t)UINT32_MAX) {
    *err = sqlite3_mprintf(TRAIN_FN "(): too many training rows");
    return SQLITE_TOOBIG;
  }
  if (t->o.validation == NULL) return SQLITE_OK;
  return load_validation(t->db, &t->o, t->data[0].dims, t->data[1].dims, &t->val, err);
}

static int training_should_stop(void *arg) {
  return sp_check_interrupt(((Training *)arg)->db) != SQLITE_OK;
}

/* After each epoch: the history, the validation score when due, progress. */
static int training_epoch_done(void *arg, const Mlp *net, int epoch, double loss, double seconds) {
  Training *t = arg;
  int e = epoch - 1, last = epoch == t->o.epochs;
  double scoring = sp_now();
  t->loss[e] = loss;
  t->precision[e] = NAN;
  if (t->o.validation && (epoch % t->o.validation_every == 0 || last)) {
    t->precision[e] = validation_score(net, &t->val);
    if (t->precision[e] < 0) {
      t->scoring_failed = 1;
      return 1;
    }
  }
  double now = sp_now();
  t->seconds[e] = seconds + (now - scoring);
  if (!t->o.quiet && (now - t->last_print >= 1.0 || last || epoch == 1)) {
    double elapsed = now - t->started, eta = elapsed / epoch * (double)(t->o.epochs - epoch);
    fprintf(stderr, TRAIN_FN "(%s): epoch %d/%d  loss %.6g", t->name, epoch, (int)t->o.epochs,
            loss);
    if (!isnan(t->precision[e]))
      fprintf(stderr, "  precision@%d %.4f", (int)t->o.validation_k, t->precision[e]);
    fprintf(stderr, "  elapsed %.1fs  ETA %.1fs\n", elapsed, eta);
    t->last_print = now;
  }
  return 0;
}

/* Builds the network and fits it. */
static int train(Training *t, char **err) {
  int L = t->o.n_hidden + 1, dims[MLP_MAX_LAYERS + 1];
  dims[0] = t->data[0].dims;
  memcpy(dims + 1, t->o.hidden, (size_t)t->o.n_hidden * sizeof(int));
  dims[L] = t->data[1].dims;
  /* Parameters, gradient and two Adam moments: 16 bytes a parameter. */
  size_t n_params = mlp_count_params(L, dims, NULL);
  if (n_params == 0 || n_params > MAX_PARAMS) {
    *err = sqlite3_mprintf(TRAIN_FN "(): option \"hidden\": the network would have more than "
                           "%lld parameters", (long long)MAX_PARAMS);
    return SQLITE_TOOBIG;
  }
  int rc = mlp_init(&t->net, L, dims, (uint64_t)t->o.seed);
  if (rc == -2) {
    *err = sqlite3_mprintf(TRAIN_FN "(): option \"hidden\": the network is too large");
    return SQLITE_TOOBIG;
  }
  if (rc != 0) return SQLITE_NOMEM;
  if (t->o.sparse_input) declare_feature_layout(&t->net);
  t->loss = sqlite3_malloc64((sqlite3_uint64)t->o.epochs * 3 * sizeof(double));
  if (t->loss == NULL) return SQLITE_NOMEM;
  t->seconds = t->loss + t->o.epochs;
  t->precision = t->loss + 2 * t->o.epochs;
  MlpFitConfig cfg = {(int)t->o.epochs, (int)t->o.batch_size, (float)t->o.learning_rate,
                      (float)t->o.weight_decay, (uint64_t)t->o.seed, 0,
                      training_should_stop, training_epoch_done, t};
  MlpFitResult res;
  t->started = t->last_print = sp_now();
  rc = mlp_fit(&t->net, t->data[0].data, t->data[1].data, t->data[0].rows, &cfg, &res);
  t->train_seconds = sp_now() - t->started;
  switch (rc) {
    case MLP_FIT_OK:
      return SQLITE_OK;
    case MLP_FIT_STOPPED:
      if (t->scoring_failed) return SQLITE_NOMEM;
      *err = sp_interrupted(TRAIN_FN, "the previous model is kept");
      return SQLITE_INTERRUPT;
    case MLP_FIT_DIVERGED:
      if (res.diverged == MLP_DIVERGED_LOSS)
        *err = sqlite3_mprintf(TRAIN_FN "(): training diverged (loss is %s at epoch %d); the "
                               "previous model is kept; try a smaller learning_rate",
                               isnan(res.loss) ? "NaN" : "infinite", res.epochs + 1);
      else if (res.diverged == MLP_DIVERGED_WEIGHT)
        *err = sqlite3_mprintf(TRAIN_FN "(): training diverged (a weight is not finite); the "
                               "previous model is kept; try a smaller learning_rate");
      else
        *err = sqlite3_mprintf(TRAIN_FN "(): training diverged (a BatchNorm statistic is not "
                               "finite); the previous model is kept");
      return SQLITE_ERROR;
    default:
      return SQLITE_NOMEM;
  }
}

/* The last validation score of the run (NAN when never scored). */
static double last_precision(const Training *t) {
  double p = NAN;
  for (int e = 0; e < t->o.epochs; e++)
    if (!isnan(t->precision[e])) p = t->precision[e];
  return p;
}

typedef struct {
  const Training *t;
  const char *hidden, *options; /* JSON */
  sqlite3_int64 generation;
} ModelRow;

static int bind_model_row(sqlite3_stmt *st, int64_t i, const void *arg) {
  (void)i;
  const ModelRow *m = arg;
  const Training *t = m->t;
  sqlite3_bind_int(st, 2, t->net.dims[0]);
  sqlite3_bind_int(st, 3, t->net.dims[t->net.n_layers]);
  sqlite3_bind_text(st, 4, m->hidden, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, m->options, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, t->data[0].rows);
  sqlite3_bind_int64(st, 7, t->o.epochs);
  sqlite3_bind_double(st, 8, t->loss[t->o.epochs - 1]);
  sqlite3_bind_double(st, 9, last_precision(t)); /* NaN binds as NULL */
  sqlite3_bind_double(st, 10, t->train_seconds);
  return sqlite3_bind_int64(st, 11, m->generation);
}

static int bind_epoch_row(sqlite3_stmt *st, int64_t e, const void *arg) {
  const Training *t = arg;
  sqlite3_bind_int64(st, 2, e + 1);
  sqlite3_bind_double(st, 3, t->loss[e]);
  sqlite3_bind_double(st, 4, t->seconds[e]);
  return sqlite3_bind_double(st, 5, t->precision[e]);
}

/* Replaces the stored model of that name by the trained one. */
static int persist(Training *t, char **err) {
  sqlite3_str *h = sqlite3_str_new(t->db);
  sp_json_ints(h, NULL, t->o.hidden, t->o.n_hidden);
  char *hidden = sqlite3_str_finish(h), *options = options_json(t->db, &t->o);
  SpTensor tensors[6 * MLP_MAX_LAYERS];
  int n_tensors = net_tensors(&t->net, tensors);
  SpStore s;
  sp_store_begin(&s, t->db, TRAIN_FN, &sp_models_kind, t->name);
  ModelRow row = {t, hidden, options, s.generation};
  if (hidden == NULL || options == NULL) s.rc = SQLITE_NOMEM;
  sp_store_rows(&s,
                "INSERT INTO semiperso_models(name, input_dim, output_dim, hidden, options, "
                "train_rows, epochs, final_loss, validation_precision, train_seconds, trained_at, "
                "generation) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?11)",
                1, bind_model_row, &row);
  sp_store_tensors(&s, tensors, n_tensors);
  sp_store_rows(&s,
                "INSERT INTO semiperso_model_history(model, epoch, loss, seconds, "
                "validation_precision) VALUES (?1, ?2, ?3, ?4, ?5)",
                t->o.epochs, bind_epoch_row, t);
  int rc = sp_store_end(&s, err);
  sqlite3_free(hidden);
  sqlite3_free(options);
  return rc;
}

static void summarise(sqlite3_context *ctx, const Training *t) {
  sqlite3_str *s = sqlite3_str_new(t->db);
  sp_json_open(s, '{');
  sp_json_text(s, "model", t->name);
  sp_json_int(s, "rows", t->data[0].rows);
  sp_json_int(s, "input_dim", t->net.dims[0]);
  sp_json_int(s, "output_dim", t->net.dims[t->net.n_layers]);
  sp_json_ints(s, "hidden", t->o.hidden, t->o.n_hidden);
  sp_json_int(s, "epochs", t->o.epochs);
  sp_json_real(s, "final_loss", t->loss[t->o.epochs - 1]);
  sp_json_real(s, "validation_precision", last_precision(t));
  sp_json_seconds(s, "seconds", t->train_seconds);
  sp_json_close(s, '}');
  sp_result_json(ctx, s);
}

static void train_embedder_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  SpModelCache *cache = sp_state(ctx);
  Training t;
  memset(&t, 0, sizeof t);
  t.db = sqlite3_context_db_handle(ctx);
  const char *sql = NULL;
  char *err = NULL;
  int rc = parse_training(argc, argv, &t, &sql, &err);
  if (rc == SQLITE_OK) rc = load_training(&t, sql, &err);
  if (rc == SQLITE_OK) rc = train(&t, &err);
  if (rc == SQLITE_OK) rc = persist(&t, &err);
  if (rc == SQLITE_OK) {
    sp_cache_saved(cache);
    summarise(ctx, &t);
  } else {
    sp_result_error_rc(ctx, rc, err);
  }
  training_free(&t);
}

/* ---- embed_user -------------------------------------------------------------- */

/* Reads model name into a new network (the loader of the model cache). */
static int load_model(sqlite3 *db, const char *fn, const char *name, void **model, char **err) {
  sqlite3_stmt *st = NULL;
  int dims[MLP_MAX_LAYERS + 1], n_layers = -1;
  int rc = sqlite3_prepare_v2(db, "SELECT input_dim, output_dim, hidden FROM semiperso_models "
                              "WHERE name = ?1", -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
  }
  if (rc == SQLITE_ROW) {
    n_layers = sp_parse_widths((const char *)sqlite3_column_text(st, 2), dims + 1,
                               MLP_MAX_LAYERS - 1, MAX_WIDTH) + 1;
    dims[0] = sqlite3_column_int(st, 0);
    if (n_layers > 0) dims[n_layers] = sqlite3_column_int(st, 1);
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) return SQLITE_NOTFOUND;
  if (rc != SQLITE_ROW) {
    *err = sqlite3_mprintf("%s(): cannot read model \"%s\": %s", fn, name, sqlite3_errmsg(db));
    return rc;
  }
  /* The sizes must account for exactly the floats stored, checked before
  ** allocating: a tampered row must not make us allocate gigabytes. */
  size_t n_stats = 0, n_params = n_layers > 0 ? mlp_count_params(n_layers, dims, &n_stats) : 0;
  sqlite3_int64 stored;
  rc = sp_stored_tensor_bytes(db, &sp_models_kind, name, &stored);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("%s(): cannot read model \"%s\": %s", fn, name, sqlite3_errmsg(db));
    return rc;
  }
  uint64_t need = (uint64_t)(n_params + n_stats) * sizeof(float);
  if (n_params != 0 && (stored < 0 || (uint64_t)stored != need)) {
    *err = sqlite3_mprintf("%s(): model \"%s\" is corrupt (its sizes in semiperso_models "
                           "need %llu bytes of parameters, semiperso_model_params holds %lld)",
                           fn, name, (unsigned long long)need, stored < 0 ? 0 : stored);
    return SQLITE_CORRUPT;
  }
  Mlp *net = sqlite3_malloc(sizeof *net);
  if (net == NULL) return SQLITE_NOMEM;
  int init = n_params == 0 ? -2 : mlp_init(net, n_layers, dims, 0);
  if (init == -1) { /* out of memory, not a bad size */
    sqlite3_free(net);
    return SQLITE_NOMEM;
  }
  if (init != 0) {
    sqlite3_free(net);
    *err = sqlite3_mprintf("%s(): model \"%s\" is corrupt (bad sizes in semiperso_models)", fn,
                           name);
    return SQLITE_CORRUPT;
  }
  declare_feature_layout(net); /* one user reads only the weights of their groups */
  SpTensor t[6 * MLP_MAX_LAYERS];
  rc = sp_load_tensors(db, &sp_models_kind, name, t, net_tensors(net, t));
  if (rc == SQLITE_CORRUPT) {
    *err = sqlite3_mprintf("%s(): model \"%s\" is corrupt (semiperso_model_params does not "
                           "match its sizes, or holds NaN or Inf)", fn, name);
  } else if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("%s(): cannot read model \"%s\": %s", fn, name, sqlite3_errmsg(db));
  }
  if (rc != SQLITE_OK) {
    mlp_free(net);
    sqlite3_free(net);
    return rc;
  }
  *model = net;
  return SQLITE_OK;
}

static void free_model(void *model) {
  mlp_free(model);
  sqlite3_free(model);
}

const SpModelLoader sp_embedder_loader = {
    &sp_models_kind, "no model named \"%s\" (train one with train_embedder())", load_model,
    free_model};

static void embed_user_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const char *name;
  float *x = NULL, *out = NULL;
  int n = 0;
  if (sp_text_arg(ctx, argv[0], 1, "model", "a TEXT model name", 0, &name) != SQLITE_OK) return;
  if (sp_vector_arg(ctx, argv[1], 2, &x, &n) != SQLITE_OK) return;
  const Mlp *net = sp_cache_get(ctx, sp_state(ctx), &sp_embedder_loader, name);
  if (net && n != net->dims[0]) {
    sp_result_errorf(ctx, "embed_user(): argument 2 (features) has %d floats, model \"%s\" "
                     "expects %d", n, name, net->dims[0]);
  } else if (net) {
    int d = net->dims[net->n_layers];
    out = sqlite3_malloc64((sqlite3_uint64)d * sizeof(float));
    if (out && mlp_forward(net, x, 1, out) == 0) {
      sp_result_vector(ctx, out, d);
      out = NULL;
    } else {
      sqlite3_result_error_nomem(ctx);
    }
  }
  sqlite3_free(out);
  sqlite3_free(x);
}

static void clear_models(void *state) { sp_cache_clear(state, &sp_embedder_loader); }

static const SpFunction mlp_functions[] = {
    {TRAIN_FN, 2, SP_DIRECT | SP_SUBTYPED, NULL, train_embedder_func, NULL, NULL, NULL, NULL},
    {TRAIN_FN, 3, SP_DIRECT | SP_SUBTYPED, NULL, train_embedder_func, NULL, NULL, NULL, NULL},
    /* Reads tables, so not deterministic. */
    {"embed_user", 2, SQLITE_UTF8 | SP_SUBTYPED, NULL, embed_user_func, NULL, NULL, NULL, NULL},
};

const SpBinding sp_mlp_binding = {mlp_functions, SP_COUNT(mlp_functions), NULL, 0,
                                  sizeof(SpModelCache), clear_models};
