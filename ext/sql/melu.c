/*
** melu.c - SQL bindings of MeLU (ext/core/melu.h), a baseline of the
** paper's Table 1.
**
**   melu_support(vector, label) -> BLOB   aggregate
**     a user's support set (registration-day events): one row per event,
**     the vector of the entity clicked (d floats) and its label in [0, 1]
**     (1 a positive, 0 a skip or ban), packed as float32 rows (label,
**     vector); rows with a NULL vector are skipped, no row gives NULL.
**
**   train_melu(name, query [, options]) -> JSON summary
**     query: one read-only SELECT yielding (user_id INTEGER, features BLOB,
**     embedding BLOB, support BLOB or NULL) of warm users: features in the
**     layout of sql/features.sql (20 d + 19 floats: 20 fields and the
**     scalars), embedding the user's preference vector (d floats), support
**     a melu_support() value.  At least 2 rows.
**     options: a JSON object, every key optional (the core's defaults):
**       embed_dim 32  hidden [64,64]  epochs 20  batch_users 32
**       local_lr 5e-6  local_steps 1  global_lr 5e-5  top_items 100
**       query_positives 10  query_negatives 10  support_negatives 1
**       seed 0  quiet false
**       items 'tracks'  the catalog: a table with an INTEGER PRIMARY KEY and
**                       an `embedding` column of d floats
**     SQLITE_DIRECTONLY; replaced atomically, interruptible, as
**     train_embedder.
**
**   melu_recommend(name, user_id, features, support, k) -> JSON array of
**     the k track ids of the model's catalog MeLU predicts the cold user
**     prefers, best first (ties by catalog order), after the local update
**     on their support set (its sampled negatives keyed by user_id and the
**     model's seed, so the answer is reproducible).
**   melu_user(name, user_id, features, support) -> float32 BLOB: the
**     user's vector in the model's own space, the first decision layer's
**     user part at the locally updated weights (hidden[0] floats).
**
** Stored by baseline.h (model 'melu'); served from the per-connection
** model cache of store.h.
*/
#include <math.h>
#include <string.h>

#include "../core/feature_layout.h"
#include "../core/melu.h"
#include "args.h"
#include "baseline.h"
#include "common.h"
#include "modules.h"
#include "options.h"
#include "query.h"
#include "store.h"

#define TRAIN_FN "train_melu"
#define MODEL "melu"
#define MAX_WIDTH 65536
#define MAX_K 10000000

/* ---- support sets ------------------------------------------------------------- */

typedef struct {
  float *rows; /* n x (1 + d): label, vector */
  int64_t n, cap;
  int d;
} SupportAgg;

static void melu_support_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  SupportAgg *a = sqlite3_aggregate_context(ctx, sizeof *a);
  float *v = NULL;
  int d = 0;
  if (a == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  if (sp_vector_arg(ctx, argv[0], 1, &v, &d) != SQLITE_OK) return;
  int lt = sqlite3_value_numeric_type(argv[1]);
  double label = sqlite3_value_double(argv[1]);
  if (a->d != 0 && d != a->d) {
    sp_result_errorf(ctx, "melu_support(): argument 1 (vector) has %d floats, the group's "
                     "earlier rows have %d", d, a->d);
  } else if ((lt != SQLITE_INTEGER && lt != SQLITE_FLOAT) || !(label >= 0.0 && label <= 1.0)) {
    sp_result_errorf(ctx, "melu_support(): argument 2 (label) must be a number between 0 and 1");
  } else if (sp_grow((void **)&a->rows, &a->cap, (a->n + 1) * (1 + (int64_t)d), sizeof(float)) !=
             SQLITE_OK) {
    sqlite3_result_error_nomem(ctx);
  } else {
    a->d = d;
    float *row = a->rows + a->n * (1 + (int64_t)d);
    row[0] = (float)label;
    memcpy(row + 1, v, (size_t)d * sizeof(float));
    a->n++;
  }
  sqlite3_free(v);
}

static void melu_support_final(sqlite3_context *ctx) {
  SupportAgg *a = sqlite3_aggregate_context(ctx, 0);
  if (a && a->n > 0)
    sqlite3_result_blob64(ctx, a->rows, (sqlite3_uint64)a->n * (1 + a->d) * sizeof(float),
                          sqlite3_free);
  else if (a)
    sqlite3_free(a->rows);
}

/* The events of a support BLOB for vectors of d floats: NULL gives 0;
** otherwise the count of (label, vector) rows, or -1 when the BLOB is
** not such rows with finite values and labels in [0, 1]. */
static int64_t support_count(sqlite3_value *v, int d) {
  if (sqlite3_value_type(v) == SQLITE_NULL) return 0;
  if (sqlite3_value_type(v) != SQLITE_BLOB) return -1;
  int bytes = sqlite3_value_bytes(v);
  const unsigned char *b = sqlite3_value_blob(v);
  size_t row = (1 + (size_t)d) * sizeof(float);
  if (bytes <= 0 || (size_t)bytes % row != 0) return -1;
  int64_t n = (int64_t)((size_t)bytes / row);
  for (int64_t i = 0; i < n * (1 + (int64_t)d); i++) {
    float x;
    memcpy(&x, b + (size_t)i * sizeof(float), sizeof x);
    if (!isfinite(x) || (i % (1 + d) == 0 && !(x >= 0.0f && x <= 1.0f))) return -1;
  }
  return n;
}

/* Appends the n rows of support BLOB v to labels and vectors (d floats
** each), at position at. */
static void support_unpack(sqlite3_value *v, int64_t n, int d, int64_t at, float *labels,
                           float *vectors) {
  const unsigned char *b = sqlite3_value_blob(v);
  for (int64_t i = 0; i < n; i++) {
    const unsigned char *row = b + (size_t)i * (1 + (size_t)d) * sizeof(float);
    memcpy(labels + at + i, row, sizeof(float));
    memcpy(vectors + (size_t)(at + i) * d, row + sizeof(float), (size_t)d * sizeof(float));
  }
}

/* ---- options -------------------------------------------------------------------- */

typedef struct {
  int hidden[MELU_MAX_HIDDEN], n_hidden;
  sqlite3_int64 embed_dim, epochs, batch_users, local_steps, top_items, query_positives,
      query_negatives, seed;
  double local_lr, global_lr, support_negatives;
  int quiet;
  char *items;
} Options;

static int parse_options(sqlite3 *db, const char *fn, int argno, sqlite3_value *json, Options *o,
                         char **err) {
  MeluOptions d;
  melu_default_options(&d);
  memset(o, 0, sizeof *o);
  memcpy(o->hidden, d.hidden, sizeof d.hidden);
  o->n_hidden = d.n_hidden;
  o->embed_dim = d.embed_dim;
  o->epochs = d.epochs;
  o->batch_users = d.batch_users;
  o->local_steps = d.local_steps;
  o->top_items = d.top_items;
  o->query_positives = d.query_positives;
  o->query_negatives = d.query_negatives;
  o->seed = (sqlite3_int64)d.seed;
  o->local_lr = d.local_lr;
  o->global_lr = d.global_lr;
  o->support_negatives = d.support_negatives;
  o->items = sqlite3_mprintf("tracks");
  if (o->items == NULL) return SQLITE_NOMEM;
  char *hidden = NULL;
  const SpOption spec[] = {
      {"embed_dim", SP_OPT_INT, 1, 4096, 0, &o->embed_dim, NULL},
      {"hidden", SP_OPT_ARRAY, 0, 0, 0, &hidden, "a non-empty array of positive integers"},
      {"epochs", SP_OPT_INT, 1, 1000000, 0, &o->epochs, NULL},
      {"batch_users", SP_OPT_INT, 1, 65536, 0, &o->batch_users, NULL},
      {"local_lr", SP_OPT_REAL, 0, 1e300, 0, &o->local_lr, "a non-negative number"},
      {"local_steps", SP_OPT_INT, 0, 1000, 0, &o->local_steps, NULL},
      {"global_lr", SP_OPT_REAL, 0, 1e300, 1, &o->global_lr, "a positive number"},
      {"top_items", SP_OPT_INT, 1, 65536, 0, &o->top_items, NULL},
      {"query_positives", SP_OPT_INT, 0, 65536, 0, &o->query_positives, NULL},
      {"query_negatives", SP_OPT_INT, 0, 65536, 0, &o->query_negatives, NULL},
      {"support_negatives", SP_OPT_REAL, 0, 100, 0, &o->support_negatives,
       "a number between 0 and 100"},
      {"seed", SP_OPT_INT, -9.2e18, 9.2e18, 0, &o->seed, "an integer"},
      {"quiet", SP_OPT_BOOL, 0, 0, 0, &o->quiet, NULL},
      {"items", SP_OPT_TEXT, 0, 0, 0, &o->items, "a table name"},
  };
  int rc = sp_parse_options(db, fn, argno, json, spec, SP_COUNT(spec), err);
  rc = sp_baseline_options_end(fn, rc, o->items, hidden, o->hidden, &o->n_hidden, MELU_MAX_HIDDEN,
                               MAX_WIDTH, err);
  sqlite3_free(hidden);
  return rc;
}

static void core_options(const Options *o, MeluOptions *m) {
  melu_default_options(m);
  m->embed_dim = (int)o->embed_dim;
  m->n_hidden = o->n_hidden;
  memcpy(m->hidden, o->hidden, sizeof m->hidden);
  m->epochs = (int)o->epochs;
  m->batch_users = (int)o->batch_users;
  m->local_lr = o->local_lr;
  m->local_steps = (int)o->local_steps;
  m->global_lr = o->global_lr;
  m->top_items = (int)o->top_items;
  m->query_positives = (int)o->query_positives;
  m->query_negatives = (int)o->query_negatives;
  m->support_negatives = o->support_negatives;
  m->seed = (uint64_t)o->seed;
}

static char *options_json(sqlite3 *db, const Options *o) {
  sqlite3_str *s = sqlite3_str_new(db);
  sp_json_open(s, '{');
  sp_json_int(s, "embed_dim", o->embed_dim);
  sp_json_ints(s, "hidden", o->hidden, o->n_hidden);
  sp_json_int(s, "epochs", o->epochs);
  sp_json_int(s, "batch_users", o->batch_users);
  sp_json_real(s, "local_lr", o->local_lr);
  sp_json_int(s, "local_steps", o->local_steps);
  sp_json_real(s, "global_lr", o->global_lr);
  sp_json_int(s, "top_items", o->top_items);
  sp_json_int(s, "query_positives", o->query_positives);
  sp_json_int(s, "query_negatives", o->query_negatives);
  sp_json_real(s, "support_negatives", o->support_negatives);
  sp_json_int(s, "seed", o->seed);
  sp_json_bool(s, "quiet", o->quiet);
  sp_json_text(s, "items", o->items);
  sp_json_close(s, '}');
  return sqlite3_str_finish(s);
}

/* The model's shape for track vectors of d floats. */
static MeluShape model_shape(const Options *o, int d) {
  MeluShape s = {d, FEATURE_GROUPS, d, FEATURE_SCALARS, (int)o->embed_dim, o->n_hidden, {0}};
  memcpy(s.hidden, o->hidden, sizeof s.hidden);
  return s;
}

/* The catalog of items; ie: their item embeddings when kept, or NULL. */
static MeluCatalog catalog(const SpMatrix *items, const float *ie) {
  return (MeluCatalog){FEATURE_GROUPS, items->dims, FEATURE_SCALARS, items->dims, items->rows,
                       items->data, ie};
}

/* ---- train_melu --------------------------------------------------------------------- */

typedef struct {
  SpTrainRun run; /* first: see SpBaselineTrainer */
  Options o;
  SpMatrix features, prefs, items;
  sqlite3_int64 *user_ids;
  int64_t *s_off;   /* users + 1 */
  int32_t *s_entry; /* support rows, each its own vector */
  float *s_label, *s_vec;
  int64_t n_support;
  int64_t id_cap, off_cap, entry_cap, label_cap, vec_cap; /* of the arrays above */
  Melu m;
  TrainReport rep;
} Training;

static void training_free(void *state) {
  Training *t = state;
  sqlite3_free(t->o.items);
  sp_matrix_free(&t->features);
  sp_matrix_free(&t->prefs);
  sp_matrix_free(&t->items);
  sqlite3_free(t->user_ids);
  sqlite3_free(t->s_off);
  sqlite3_free(t->s_entry);
  sqlite3_free(t->s_label);
  sqlite3_free(t->s_vec);
  melu_free(&t->m);
}

static int parse_training(void *state, sqlite3_value *options, char **err) {
  Training *t = state;
  return parse_options(t->run.db, TRAIN_FN, 3, options, &t->o, err);
}

/* One row of the training query: the user, their vectors, their support. */
static int read_training_row(Training *t, sqlite3_stmt *st, int64_t row, char **err) {
  static const SpColumn features = {TRAIN_FN, NULL, 1, 2, "features"};
  static const SpColumn embedding = {TRAIN_FN, NULL, 2, 3, "embedding"};
  if (sqlite3_column_type(st, 0) != SQLITE_INTEGER) {
    *err = sqlite3_mprintf(TRAIN_FN "(): row %lld, column 1 (user_id): expected an INTEGER",
                           (long long)row);
    return SQLITE_MISMATCH;
  }
  int rc = sp_matrix_append(&t->features, st, &features, row, err);
  if (rc == SQLITE_OK) rc = sp_matrix_append(&t->prefs, st, &embedding, row, err);
  if (rc != SQLITE_OK) return rc;
  int d = t->prefs.dims;
  sqlite3_value *support = sqlite3_column_value(st, 3);
  int64_t n = support_count(support, d), need = t->n_support + n;
  if (n < 0) {
    *err = sqlite3_mprintf(TRAIN_FN "(): row %lld, column 4 (support): expected NULL or a "
                           "melu_support() BLOB (rows of a label in [0, 1] and %d finite "
                           "floats)", (long long)row, d);
    return SQLITE_MISMATCH;
  }
  if (need > INT32_MAX) return SQLITE_TOOBIG;
  if ((rc = sp_grow((void **)&t->user_ids, &t->id_cap, row, sizeof *t->user_ids)) ||
      (rc = sp_grow((void **)&t->s_off, &t->off_cap, row + 1, sizeof *t->s_off)) ||
      (rc = sp_grow((void **)&t->s_label, &t->label_cap, need, sizeof(float))) ||
      (rc = sp_grow((void **)&t->s_entry, &t->entry_cap, need, sizeof(int32_t))) ||
      (rc = sp_grow((void **)&t->s_vec, &t->vec_cap, need * d, sizeof(float))))
    return rc;
  t->user_ids[row - 1] = sqlite3_column_int64(st, 0);
  support_unpack(support, n, d, t->n_support, t->s_label, t->s_vec);
  for (int64_t i = t->n_support; i < need; i++) t->s_entry[i] = (int32_t)i;
  t->s_off[row - 1] = t->n_support;
  t->s_off[row] = t->n_support = need;
  return SQLITE_OK;
}

static int load_training(void *state, const char *sql, char **err) {
  Training *t = state;
  sqlite3_stmt *st = NULL;
  int64_t row = 0;
  int rc = sp_prepare_user_query(t->run.db, TRAIN_FN, sql, 4, &st, err);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
    rc = read_training_row(t, st, ++row, err);
  if (rc != SQLITE_DONE && rc != SQLITE_OK && *err == NULL && rc != SQLITE_NOMEM &&
      rc != SQLITE_TOOBIG)
    *err = sqlite3_mprintf(TRAIN_FN "(): query: %s", sqlite3_errmsg(t->run.db));
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return rc;
  int d = t->prefs.dims;
  if (row < 2) {
    *err = sqlite3_mprintf(TRAIN_FN "(): training needs at least 2 rows, the query returned %lld",
                           (long long)row);
    return SQLITE_ERROR;
  }
  if (t->features.dims != feature_dim(d)) {
    *err = sqlite3_mprintf(TRAIN_FN "(): column 2 (features) has %d floats, expected %d (20 x %d "
                           "+ 19, the layout of sql/features.sql for embeddings of %d floats)",
                           t->features.dims, feature_dim(d), d, d);
    return SQLITE_ERROR;
  }
  return sp_baseline_read_items(t->run.db, TRAIN_FN, t->o.items, d, &t->items, err);
}

static int train(void *state, char **err) {
  Training *t = state;
  MeluOptions c;
  core_options(&t->o, &c);
  const char *bad = melu_check_options(&c, t->features.rows, t->items.rows);
  if (bad) {
    *err = sqlite3_mprintf(TRAIN_FN "(): options: %s", bad);
    return SQLITE_ERROR;
  }
  int rc = sp_train_run_begin(&t->run, c.epochs, t->o.quiet);
  if (rc != SQLITE_OK) return rc;
  MeluUsers users = {t->features.rows, t->features.data, t->prefs.data,
                     {t->s_off, t->s_entry, t->s_label, t->s_vec, t->n_support},
                     (const uint64_t *)t->user_ids};
  MeluCatalog cat = catalog(&t->items, NULL);
  TrainCallbacks cb = sp_train_run_callbacks(&t->run);
  rc = melu_train(&users, &cat, &c, &cb, &t->m, &t->rep);
  return rc == TRAIN_OK ? SQLITE_OK : sp_train_run_error(&t->run, rc, err);
}

static int persist(void *state, char **err) {
  Training *t = state;
  char *options = options_json(t->run.db, &t->o);
  ParamTensor *tensors = sqlite3_malloc64((sqlite3_uint64)melu_max_tensors() * sizeof *tensors);
  int rc = SQLITE_NOMEM;
  if (options && tensors) {
    SpBaselineModel b = {MODEL, t->features.dims, t->prefs.dims, t->o.hidden[0], options,
                         t->features.rows, &t->items, tensors, melu_tensors(&t->m, tensors),
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
  sp_json_int(s, "rows", t->features.rows);
  sp_json_int(s, "support_events", t->n_support);
  sp_json_int(s, "items", t->items.rows);
  sp_json_int(s, "input_dim", t->features.dims);
  sp_json_int(s, "embed_dim", t->o.embed_dim);
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

/* ---- serving ---------------------------------------------------------------------- */

typedef struct {
  Melu m;
  MeluOptions o;
  SpBaselineStored st;     /* the catalog */
  float *item_embeddings; /* the catalog's, computed once at load */
} Served;

static void free_served(void *p) {
  Served *s = p;
  if (s == NULL) return;
  melu_free(&s->m);
  sp_baseline_stored_free(&s->st);
  sqlite3_free(s->item_embeddings);
  sqlite3_free(s);
}

static int load_served(sqlite3 *db, const char *fn, const char *name, void **model, char **err) {
  Served *s = sqlite3_malloc(sizeof *s);
  if (s == NULL) return SQLITE_NOMEM;
  memset(s, 0, sizeof *s);
  Options o;
  memset(&o, 0, sizeof o);
  int rc = sp_baseline_read_row(db, fn, name, MODEL, &s->st, err);
  if (rc == SQLITE_OK)
    rc = sp_baseline_options_read(parse_options(db, fn, 0, s->st.options, &o, err), fn, name,
                                  err);
  MeluShape shape = model_shape(&o, s->st.item_dim);
  if (rc == SQLITE_OK &&
      (s->st.input_dim != feature_dim(s->st.item_dim) || s->st.output_dim != o.hidden[0]))
    rc = sp_baseline_corrupt(fn, name, "bad sizes in semiperso_baselines", err);
  if (rc == SQLITE_OK)
    rc = sp_baseline_read_tensors(db, fn, name, melu_count_floats(&shape), &s->st, err);
  if (rc == SQLITE_OK) {
    const char *bad = NULL;
    int lrc = melu_load(&s->m, &shape, s->st.tensors, s->st.n_tensors, &bad);
    rc = sp_baseline_load_error(lrc, bad, fn, name, err);
  }
  if (rc == SQLITE_OK) {
    MeluCatalog cat = catalog(&s->st.items, NULL);
    s->item_embeddings = sqlite3_malloc64((sqlite3_uint64)s->st.n_items * shape.embed_dim *
                                          sizeof(float));
    if (s->item_embeddings == NULL || melu_item_embeddings(&s->m, &cat, s->item_embeddings))
      rc = SQLITE_NOMEM;
  }
  core_options(&o, &s->o);
  s->o.threads = 1; /* one user a call */
  sqlite3_free(o.items);
  if (rc != SQLITE_OK) {
    free_served(s);
    return rc;
  }
  *model = s;
  return SQLITE_OK;
}

static const SpModelLoader loader = {
    &sp_baselines_kind, "no MeLU model named \"%s\" (train one with train_melu())", load_served,
    free_served};

static const Served *served_arg(sqlite3_context *ctx, sqlite3_value **argv) {
  return sp_baseline_model_arg(ctx, argv, &loader);
}

/* Serves the user of argv (name, user_id, features, support) with model
** s: k tracks into idx and/or the user's vector into vec.  SQLITE_OK, or
** the error set on ctx. */
static int serve(sqlite3_context *ctx, const Served *s, sqlite3_value **argv, int k, int32_t *idx,
                 float *vec) {
  const char *fn = sp_function_name(ctx);
  float *x = NULL;
  int n = 0;
  if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER) {
    sp_result_errorf(ctx, "%s(): argument 2 (user_id) must be an INTEGER", fn);
    return SQLITE_ERROR;
  }
  uint64_t key = (uint64_t)sqlite3_value_int64(argv[1]);
  if (sp_vector_arg(ctx, argv[2], 3, &x, &n) != SQLITE_OK) return SQLITE_ERROR;
  int d = s->st.item_dim, rc = SQLITE_ERROR;
  int64_t S = support_count(argv[3], d);
  float *labels = NULL, *vectors = NULL;
  int32_t *entries = NULL;
  if (n != s->st.input_dim) {
    sp_result_errorf(ctx, "%s(): argument 3 (features) has %d floats, the model expects %d", fn,
                     n, s->st.input_dim);
  } else if (S < 0) {
    sp_result_errorf(ctx, "%s(): argument 4 (support) must be NULL or a melu_support() BLOB "
                     "(rows of a label in [0, 1] and %d finite floats)", fn, d);
  } else {
    labels = sqlite3_malloc64((sqlite3_uint64)(S + 1) * sizeof(float));
    vectors = sqlite3_malloc64((sqlite3_uint64)(S + 1) * d * sizeof(float));
    entries = sqlite3_malloc64((sqlite3_uint64)(S + 1) * sizeof(int32_t));
    rc = SQLITE_NOMEM;
    if (labels && vectors && entries) {
      support_unpack(argv[3], S, d, 0, labels, vectors);
      for (int64_t i = 0; i < S; i++) entries[i] = (int32_t)i;
      int64_t off[2] = {0, S};
      MeluUsers u = {1, x, NULL, {off, entries, labels, vectors, S}, &key};
      MeluCatalog cat = catalog(&s->st.items, s->item_embeddings);
      if (melu_recommend(&s->m, &u, &cat, &s->o, k, idx, NULL, vec) == TRAIN_OK) rc = SQLITE_OK;
    }
    if (rc == SQLITE_NOMEM) sqlite3_result_error_nomem(ctx);
  }
  sqlite3_free(x);
  sqlite3_free(labels);
  sqlite3_free(vectors);
  sqlite3_free(entries);
  return rc;
}

static void melu_user_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const Served *s = served_arg(ctx, argv);
  if (s == NULL) return;
  float *vec = sqlite3_malloc64((sqlite3_uint64)s->m.shape.hidden[0] * sizeof(float));
  if (vec == NULL) {
    sqlite3_result_error_nomem(ctx);
  } else if (serve(ctx, s, argv, 0, NULL, vec) == SQLITE_OK) {
    sp_result_vector(ctx, vec, s->m.shape.hidden[0]);
    return;
  }
  sqlite3_free(vec);
}

static void melu_recommend_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  sqlite3_int64 k;
  const Served *s = served_arg(ctx, argv);
  if (s == NULL || sp_int_arg(ctx, argv[4], 5, 1, MAX_K, &k) != SQLITE_OK) return;
  int m = k < s->st.n_items ? (int)k : (int)s->st.n_items;
  int32_t *idx = sqlite3_malloc64((sqlite3_uint64)m * sizeof(int32_t));
  if (idx == NULL) {
    sqlite3_result_error_nomem(ctx);
  } else if (serve(ctx, s, argv, m, idx, NULL) == SQLITE_OK) {
    sp_baseline_result_ids(ctx, s->st.items.ids, idx, m);
  }
  sqlite3_free(idx);
}

static void clear_served(void *state) { sp_cache_clear(state, &loader); }

static const SpFunction melu_functions[] = {
    {"melu_support", 2, SP_PURE, NULL, NULL, melu_support_step, melu_support_final, NULL, NULL},
    {TRAIN_FN, 2, SP_DIRECT | SP_SUBTYPED, &trainer, sp_baseline_train_func, NULL, NULL, NULL,
     NULL},
    {TRAIN_FN, 3, SP_DIRECT | SP_SUBTYPED, &trainer, sp_baseline_train_func, NULL, NULL, NULL,
     NULL},
    /* These read tables, so they are not deterministic. */
    {"melu_user", 4, SQLITE_UTF8 | SP_SUBTYPED, NULL, melu_user_func, NULL, NULL, NULL, NULL},
    {"melu_recommend", 5, SQLITE_UTF8 | SP_SUBTYPED, NULL, melu_recommend_func, NULL, NULL, NULL,
     NULL},
};

const SpBinding sp_melu_binding = {melu_functions, SP_COUNT(melu_functions), NULL, 0,
                                   sizeof(SpModelCache), clear_served};
