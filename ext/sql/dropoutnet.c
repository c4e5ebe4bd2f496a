/*
** dropoutnet.c - SQL bindings of DropoutNet (ext/core/dropoutnet.h), a
** baseline of the paper's Table 1.
**
**   train_dropoutnet(name, query [, options]) -> JSON summary
**     query: one read-only SELECT yielding (features BLOB, embedding BLOB)
**     of warm users: features in the layout of sql/features.sql (20 d + 19
**     floats; the model keeps the positive groups and counts, 14 d + 13),
**     embedding the user's preference vector of d floats.  At least 2 rows.
**     options: a JSON object, every key optional (the core's defaults):
**       hidden [800,400]  output_dim 200  epochs 10  batch_users 256
**       top_items 100  top_per_user 2  random_items 256  dropout 0.5
**       learning_rate 0.005  momentum 0.9  lr_decay 0.1  decay_users 50000
**       seed 0  quiet false
**       items 'tracks'  the catalog: a table with an INTEGER PRIMARY KEY and
**                       an `embedding` column of d floats
**     SQLITE_DIRECTONLY.  Re-training under the same name replaces the
**     model atomically once training succeeded; an error, a diverging loss
**     or sqlite3_interrupt() leave the previous one.
**
**   dropoutnet_user(name, features [, embedding]) -> float32 BLOB of
**     output_dim floats: the user tower's output (BatchNorm running
**     statistics).  Without an embedding (or NULL) the user is cold: the
**     preference input is zero, as dropout trained it to be.
**
**   dropoutnet_item(name, embedding) -> float32 BLOB of output_dim floats:
**     the item tower's output for a track vector of d floats (scores are
**     dot products of user and item outputs).
**
**   dropoutnet_recommend(name, features, k) -> JSON array of the k track
**     ids of the model's catalog with the largest score for a cold user
**     (user output . item output), best first, ties by catalog order.
**
** Stored by baseline.h (semiperso_baselines and friends, model
** 'dropoutnet'); served from the per-connection model cache of store.h,
** which also keeps the catalog's item outputs.
*/
#include <stdio.h>
#include <string.h>

#include "../core/dropoutnet.h"
#include "../core/feature_layout.h"
#include "../core/topk.h"
#include "args.h"
#include "baseline.h"
#include "common.h"
#include "modules.h"
#include "options.h"
#include "query.h"
#include "store.h"

#define TRAIN_FN "train_dropoutnet"
#define MODEL "dropoutnet"
#define MAX_WIDTH 65536
#define MAX_K 10000000

/* ---- options ------------------------------------------------------------------- */

typedef struct {
  int hidden[DNET_MAX_HIDDEN], n_hidden;
  sqlite3_int64 output_dim, epochs, batch_users, top_items, top_per_user, random_items,
      decay_users, seed;
  double dropout, learning_rate, momentum, lr_decay;
  int quiet;
  char *items; /* sqlite3_malloc'd */
} Options;

/* The core's defaults, then what json sets (argument argno of fn; the
** stored options of a model are read the same way). */
static int parse_options(sqlite3 *db, const char *fn, int argno, sqlite3_value *json, Options *o,
                         char **err) {
  DropoutNetOptions d;
  dropoutnet_default_options(&d);
  memset(o, 0, sizeof *o);
  memcpy(o->hidden, d.hidden, sizeof d.hidden);
  o->n_hidden = d.n_hidden;
  o->output_dim = d.output_dim;
  o->epochs = d.epochs;
  o->batch_users = d.batch_users;
  o->top_items = d.top_items;
  o->top_per_user = d.top_per_user;
  o->random_items = d.random_items;
  o->decay_users = d.decay_users;
  o->seed = (sqlite3_int64)d.seed;
  o->dropout = d.dropout;
  o->learning_rate = d.learning_rate;
  o->momentum = d.momentum;
  o->lr_decay = d.lr_decay;
  o->items = sqlite3_mprintf("tracks");
  if (o->items == NULL) return SQLITE_NOMEM;
  char *hidden = NULL;
  const SpOption spec[] = {
      {"hidden", SP_OPT_ARRAY, 0, 0, 0, &hidden, "a non-empty array of positive integers"},
      {"output_dim", SP_OPT_INT, 1, MAX_WIDTH, 0, &o->output_dim, NULL},
      {"epochs", SP_OPT_INT, 1, 1000000, 0, &o->epochs, NULL},
      {"batch_users", SP_OPT_INT, 2, 65536, 0, &o->batch_users, NULL},
      {"top_items", SP_OPT_INT, 1, 65536, 0, &o->top_items, NULL},
      {"top_per_user", SP_OPT_INT, 1, 65536, 0, &o->top_per_user, NULL},
      {"random_items", SP_OPT_INT, 0, 1 << 20, 0, &o->random_items, NULL},
      {"dropout", SP_OPT_REAL, 0, 1, 0, &o->dropout, "a number between 0 and 1"},
      {"learning_rate", SP_OPT_REAL, 0, 1e300, 1, &o->learning_rate, "a positive number"},
      {"momentum", SP_OPT_REAL, 0, 1, 0, &o->momentum, "a number between 0 and 1"},
      {"lr_decay", SP_OPT_REAL, 0, 1, 1, &o->lr_decay, "a number in (0, 1]"},
      {"decay_users", SP_OPT_INT, 1, 9.2e18, 0, &o->decay_users, "a positive integer"},
      {"seed", SP_OPT_INT, -9.2e18, 9.2e18, 0, &o->seed, "an integer"},
      {"quiet", SP_OPT_BOOL, 0, 0, 0, &o->quiet, NULL},
      {"items", SP_OPT_TEXT, 0, 0, 0, &o->items, "a table name"},
  };
  int rc = sp_parse_options(db, fn, argno, json, spec, SP_COUNT(spec), err);
  rc = sp_baseline_options_end(fn, rc, o->items, hidden, o->hidden, &o->n_hidden, DNET_MAX_HIDDEN,
                               MAX_WIDTH, err);
  sqlite3_free(hidden);
  return rc;
}

static void core_options(const Options *o, DropoutNetOptions *d) {
  dropoutnet_default_options(d);
  d->n_hidden = o->n_hidden;
  memcpy(d->hidden, o->hidden, sizeof d->hidden);
  d->output_dim = (int)o->output_dim;
  d->epochs = (int)o->epochs;
  d->batch_users = (int)o->batch_users;
  d->top_items = (int)o->top_items;
  d->top_per_user = (int)o->top_per_user;
  d->random_items = (int)o->random_items;
  d->dropout = o->dropout;
  d->learning_rate = o->learning_rate;
  d->momentum = o->momentum;
  d->lr_decay = o->lr_decay;
  d->decay_users = o->decay_users;
  d->seed = (uint64_t)o->seed;
}

static char *options_json(sqlite3 *db, const Options *o) {
  sqlite3_str *s = sqlite3_str_new(db);
  sp_json_open(s, '{');
  sp_json_ints(s, "hidden", o->hidden, o->n_hidden);
  sp_json_int(s, "output_dim", o->output_dim);
  sp_json_int(s, "epochs", o->epochs);
  sp_json_int(s, "batch_users", o->batch_users);
  sp_json_int(s, "top_items", o->top_items);
  sp_json_int(s, "top_per_user", o->top_per_user);
  sp_json_int(s, "random_items", o->random_items);
  sp_json_real(s, "dropout", o->dropout);
  sp_json_real(s, "learning_rate", o->learning_rate);
  sp_json_real(s, "momentum", o->momentum);
  sp_json_real(s, "lr_decay", o->lr_decay);
  sp_json_int(s, "decay_users", o->decay_users);
  sp_json_int(s, "seed", o->seed);
  sp_json_bool(s, "quiet", o->quiet);
  sp_json_text(s, "items", o->items);
  sp_json_close(s, '}');
  return sqlite3_str_finish(s);
}

/* The model's shape for preference vectors of d floats. */
static DropoutNetShape model_shape(const Options *o, int d) {
  DropoutNetOptions c;
  core_options(o, &c);
  DropoutNetShape s = {d, feature_positive_dim(d), c.content_scalars, o->n_hidden, {0},
                       (int)o->output_dim};
  memcpy(s.hidden, o->hidden, sizeof s.hidden);
  return s;
}

/* ---- train_dropoutnet ------------------------------------------------------------ */

typedef struct {
  SpTrainRun run; /* first: see SpBaselineTrainer */
  Options o;
  SpMatrix data[2]; /* features, embeddings */
  SpMatrix items;
  float *content;
  DropoutNet m;
  TrainReport rep;
} Training;

static void training_free(void *state) {
  Training *t = state;
  sqlite3_free(t->o.items);
  sp_matrix_free(&t->data[0]);
  sp_matrix_free(&t->data[1]);
  sp_matrix_free(&t->items);
  sqlite3_free(t->content);
  dropoutnet_free(&t->m);
}

static int parse_training(void *state, sqlite3_value *options, char **err) {
  Training *t = state;
  return parse_options(t->run.db, TRAIN_FN, 3, options, &t->o, err);
}

static int load_training(void *state, const char *sql, char **err) {
  static const char *const col_names[2] = {"features", "embedding"};
  Training *t = state;
  int rc = sp_query_matrices(t->run.db, TRAIN_FN, sql, 2, col_names, t->data, err);
  if (rc != SQLITE_OK) return rc;
  int64_t n = t->data[0].rows;
  int d = t->data[1].dims;
  if (n < 2) {
    *err = sqlite3_mprintf(TRAIN_FN "(): training needs at least 2 rows, the query returned %lld",
                           (long long)n);
    return SQLITE_ERROR;
  }
  if (t->data[0].dims != feature_dim(d)) {
    *err = sqlite3_mprintf(TRAIN_FN "(): column 1 (features) has %d floats, expected %d (20 x %d "
                           "+ 19, the layout of sql/features.sql for embeddings of %d floats)",
                           t->data[0].dims, feature_dim(d), d, d);
    return SQLITE_ERROR;
  }
  rc = sp_baseline_read_items(t->run.db, TRAIN_FN, t->o.items, d, &t->items, err);
  if (rc != SQLITE_OK) return rc;
  t->content = sqlite3_malloc64((sqlite3_uint64)n * feature_positive_dim(d) * sizeof(float));
  if (t->content == NULL) return SQLITE_NOMEM;
  feature_keep_positive(t->data[0].data, n, d, t->content);
  return SQLITE_OK;
}

static int train(void *state, char **err) {
  Training *t = state;
  DropoutNetOptions c;
  core_options(&t->o, &c);
  const char *bad = dropoutnet_check_options(&c, t->data[0].rows, t->items.rows);
  if (bad) {
    *err = sqlite3_mprintf(TRAIN_FN "(): options: %s", bad);
    return SQLITE_ERROR;
  }
  int rc = sp_train_run_begin(&t->run, c.epochs, t->o.quiet);
  if (rc != SQLITE_OK) return rc;
  int d = t->data[1].dims;
  DropoutNetData data = {t->data[0].rows, t->data[1].data, t->content, t->items.rows,
                         t->items.data, d, feature_positive_dim(d)};
  TrainCallbacks cb = sp_train_run_callbacks(&t->run);
  rc = dropoutnet_train(&data, &c, &cb, &t->m, &t->rep);
  return rc == TRAIN_OK ? SQLITE_OK : sp_train_run_error(&t->run, rc, err);
}

static int persist(void *state, char **err) {
  Training *t = state;
  char *options = options_json(t->run.db, &t->o);
  ParamTensor *tensors = sqlite3_malloc64((sqlite3_uint64)dropoutnet_max_tensors() *
                                          sizeof *tensors);
  int rc = SQLITE_NOMEM;
  if (options && tensors) {
    int d = t->data[1].dims;
    SpBaselineModel b = {MODEL, feature_dim(d), d, (int)t->o.output_dim, options,
                         t->data[0].rows, &t->items, tensors, dropoutnet_tensors(&t->m, tensors),
                         &t->run, t->rep.loss, t->rep.prep_seconds + t->rep.train_seconds};
    rc = sp_baseline_save(t->run.db, TRAIN_FN, t->run.name, &b, err);
  }
  sqlite3_free(options);
  sqlite3_free(tensors);
  return rc;
}

static void summarise(sqlite3_context *ctx, const void *state) {
  const Training *t = state;
  sqlite3_str *s = sqlite3_str_new(t->run.db);
  sp_json_open(s, '{');
  sp_json_text(s, "model", t->run.name);
  sp_json_int(s, "rows", t->data[0].rows);
  sp_json_int(s, "items", t->items.rows);
  sp_json_int(s, "input_dim", t->data[0].dims);
  sp_json_int(s, "output_dim", t->o.output_dim);
  sp_json_ints(s, "hidden", t->o.hidden, t->o.n_hidden);
  sp_json_int(s, "epochs", t->rep.epochs);
  sp_json_real(s, "final_loss", t->rep.loss);
  sp_json_seconds(s, "seconds", t->rep.prep_seconds + t->rep.train_seconds);
  sp_json_close(s, '}');
  sp_result_json(ctx, s);
}

static const SpBaselineTrainer trainer = {TRAIN_FN, sizeof(Training), parse_training,
                                          load_training, train, persist, summarise,
                                          training_free};

/* ---- serving ------------------------------------------------------------------- */

typedef struct {
  DropoutNet m;
  float *item_out; /* the catalog's item outputs, n_items x output_dim */
  double item_norm_max;
  sqlite3_int64 *ids; /* the catalog's track ids */
  int64_t n_items;
} Served;

static void free_served(void *p) {
  Served *s = p;
  if (s == NULL) return;
  dropoutnet_free(&s->m);
  sqlite3_free(s->item_out);
  sqlite3_free(s->ids);
  sqlite3_free(s);
}

static int load_served(sqlite3 *db, const char *fn, const char *name, void **model, char **err) {
  SpBaselineStored st;
  Options o;
  memset(&o, 0, sizeof o);
  int rc = sp_baseline_read_row(db, fn, name, MODEL, &st, err);
  if (rc == SQLITE_OK)
    rc = sp_baseline_options_read(parse_options(db, fn, 0, st.options, &o, err), fn, name, err);
  DropoutNetShape shape = model_shape(&o, st.item_dim);
  if (rc == SQLITE_OK && st.input_dim != feature_dim(st.item_dim))
    rc = sp_baseline_corrupt(fn, name, "bad sizes in semiperso_baselines", err);
  if (rc == SQLITE_OK)
    rc = sp_baseline_read_tensors(db, fn, name, dropoutnet_count_floats(&shape), &st, err);
  Served *s = rc == SQLITE_OK ? sqlite3_malloc(sizeof *s) : NULL;
  if (rc == SQLITE_OK && s == NULL) rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK) {
    memset(s, 0, sizeof *s);
    const char *bad = NULL;
    int lrc = dropoutnet_load(&s->m, &shape, st.tensors, st.n_tensors, &bad);
    rc = sp_baseline_load_error(lrc, bad, fn, name, err);
  }
  if (rc == SQLITE_OK) {
    s->n_items = st.n_items;
    s->item_out = sqlite3_malloc64((sqlite3_uint64)st.n_items * shape.output_dim * sizeof(float));
    if (s->item_out == NULL ||
        dropoutnet_item_vectors(&s->m, st.items.data, st.n_items, 0, s->item_out) != TRAIN_OK) {
      rc = SQLITE_NOMEM;
    } else {
      s->item_norm_max = topk_max_norm(s->item_out, st.n_items, shape.output_dim);
      s->ids = st.items.ids;
      st.items.ids = NULL;
    }
  }
  sqlite3_free(o.items);
  sp_baseline_stored_free(&st);
  if (rc != SQLITE_OK) {
    free_served(s);
    return rc;
  }
  *model = s;
  return SQLITE_OK;
}

static const SpModelLoader loader = {
    &sp_baselines_kind, "no DropoutNet model named \"%s\" (train one with train_dropoutnet())",
    load_served, free_served};

/* The user output of the features (and embedding, when given and not
** NULL) in argv: a new vector of output_dim floats, or NULL with the error
** set on ctx. */
static float *user_output(sqlite3_context *ctx, const Served *s, int argc, sqlite3_value **argv) {
  const char *fn = sp_function_name(ctx);
  int d = s->m.shape.pref_dim, n = 0, n_pref = 0;
  float *x = NULL, *pref = NULL, *content = NULL, *out = NULL;
  if (sp_vector_arg(ctx, argv[1], 2, &x, &n) != SQLITE_OK) return NULL;
  if (n != feature_dim(d)) {
    sp_result_errorf(ctx, "%s(): argument 2 (features) has %d floats, the model expects %d", fn, n,
                     feature_dim(d));
  } else if (argc > 2 && sqlite3_value_type(argv[2]) != SQLITE_NULL &&
             sp_vector_arg(ctx, argv[2], 3, &pref, &n_pref) != SQLITE_OK) {
    /* error set */
  } else if (pref && n_pref != d) {
    sp_result_errorf(ctx, "%s(): argument 3 (embedding) has %d floats, the model expects %d", fn,
                     n_pref, d);
  } else {
    content = sqlite3_malloc64((sqlite3_uint64)feature_positive_dim(d) * sizeof(float));
    out = sqlite3_malloc64((sqlite3_uint64)s->m.shape.output_dim * sizeof(float));
    if (content) feature_keep_positive(x, 1, d, content);
    if (!content || !out || dropoutnet_user_vectors(&s->m, pref, content, 1, 1, out) != TRAIN_OK) {
      sqlite3_free(out);
      out = NULL;
      sqlite3_result_error_nomem(ctx);
    }
  }
  sqlite3_free(x);
  sqlite3_free(pref);
  sqlite3_free(content);
  return out;
}

static const Served *served_arg(sqlite3_context *ctx, sqlite3_value **argv) {
  return sp_baseline_model_arg(ctx, argv, &loader);
}

static void dropoutnet_user_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const Served *s = served_arg(ctx, argv);
  float *out = s ? user_output(ctx, s, argc, argv) : NULL;
  if (out) sp_result_vector(ctx, out, s->m.shape.output_dim);
}

static void dropoutnet_item_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const Served *s = served_arg(ctx, argv);
  float *x = NULL, *out = NULL;
  int n = 0;
  if (s == NULL || sp_vector_arg(ctx, argv[1], 2, &x, &n) != SQLITE_OK) return;
  if (n != s->m.shape.pref_dim) {
    sp_result_errorf(ctx, "dropoutnet_item(): argument 2 (embedding) has %d floats, the model "
                     "expects %d", n, s->m.shape.pref_dim);
  } else if ((out = sqlite3_malloc64((sqlite3_uint64)s->m.shape.output_dim * sizeof(float))) &&
             dropoutnet_item_vectors(&s->m, x, 1, 1, out) == TRAIN_OK) {
    sp_result_vector(ctx, out, s->m.shape.output_dim);
    out = NULL;
  } else {
    sqlite3_result_error_nomem(ctx);
  }
  sqlite3_free(out);
  sqlite3_free(x);
}

static void dropoutnet_recommend_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  sqlite3_int64 k;
  const Served *s = served_arg(ctx, argv);
  if (s == NULL || sp_int_arg(ctx, argv[2], 3, 1, MAX_K, &k) != SQLITE_OK) return;
  float *u = user_output(ctx, s, 2, argv);
  if (u == NULL) return;
  int m = k < s->n_items ? (int)k : (int)s->n_items;
  int32_t *idx = sqlite3_malloc64((sqlite3_uint64)m * sizeof(int32_t));
  if (idx && topk_dot(u, 1, s->item_out, s->n_items, s->m.shape.output_dim, s->item_norm_max, m,
                      idx, NULL) == 0) {
    sp_baseline_result_ids(ctx, s->ids, idx, m);
  } else {
    sqlite3_result_error_nomem(ctx);
  }
  sqlite3_free(idx);
  sqlite3_free(u);
}

static void clear_served(void *state) { sp_cache_clear(state, &loader); }

static const SpFunction dropoutnet_functions[] = {
    {TRAIN_FN, 2, SP_DIRECT | SP_SUBTYPED, &trainer, sp_baseline_train_func, NULL, NULL, NULL,
     NULL},
    {TRAIN_FN, 3, SP_DIRECT | SP_SUBTYPED, &trainer, sp_baseline_train_func, NULL, NULL, NULL,
     NULL},
    /* These read tables, so they are not deterministic. */
    {"dropoutnet_user", 2, SQLITE_UTF8 | SP_SUBTYPED, NULL, dropoutnet_user_func, NULL, NULL, NULL,
     NULL},
    {"dropoutnet_user", 3, SQLITE_UTF8 | SP_SUBTYPED, NULL, dropoutnet_user_func, NULL, NULL, NULL,
     NULL},
    {"dropoutnet_item", 2, SQLITE_UTF8 | SP_SUBTYPED, NULL, dropoutnet_item_func, NULL, NULL, NULL,
     NULL},
    {"dropoutnet_recommend", 3, SQLITE_UTF8 | SP_SUBTYPED, NULL, dropoutnet_recommend_func, NULL,
     NULL, NULL, NULL},
};

const SpBinding sp_dropoutnet_binding = {dropoutnet_functions, SP_COUNT(dropoutnet_functions),
                                         NULL, 0, sizeof(SpModelCache), clear_served};
