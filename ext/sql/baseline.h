/*
** baseline.h - what the bindings of the baseline models of Table 1
** (dropoutnet.c, melu.c) share: their tables in the model store, the
** catalog of tracks they rank, a training run's progress and history, and
** saving and reading a model.
**
** Tables (store.h kind sp_baselines_kind), written only through the store:
**   semiperso_baselines(name PRIMARY KEY, model 'dropoutnet' | 'melu',
**       input_dim, item_dim, output_dim, options JSON, train_rows, items,
**       epochs, final_loss, train_seconds, trained_at, generation)
**   semiperso_baseline_params(model, ordinal, layer, kind, rows, cols, data)
**       the core's tensors in its order (kind: the core's tensor name,
**       layer: the ordinal), then the catalog ("catalog", items x item_dim)
**   semiperso_baseline_items(model, position, track_id): the catalog's ids
**   semiperso_baseline_history(model, epoch, loss, seconds)
** A model carries the catalog it was trained on, so serving ranks exactly
** those tracks whatever happens to the tracks table later.
*/
#ifndef SEMIPERSO_SQL_BASELINE_H
#define SEMIPERSO_SQL_BASELINE_H

#include <stdint.h>

#include "../core/training.h"
#include "columns.h"
#include "sqlite3ext.h"
#include "store.h"

extern const SpModelKind sp_baselines_kind;

/* Every row of `table` (INTEGER PRIMARY KEY and an `embedding` column of
** float32 vectors of dims floats), by id, into items (ids set).  Messages
** name fn and the option "items".  An empty table is an error. */
int sp_baseline_read_items(sqlite3 *db, const char *fn, const char *table, int dims,
                           SpMatrix *items, char **err);

/* One training run: who trains what, the per-epoch history and the
** progress lines. */
typedef struct {
  sqlite3 *db;
  const char *fn, *name;
  int quiet, epochs;
  double *loss, *seconds; /* epochs each, sqlite3_malloc'd */
  double started, last_print;
} SpTrainRun;

/* Allocates the history of r (db, fn and name set); SQLITE_OK or
** SQLITE_NOMEM. */
int sp_train_run_begin(SpTrainRun *r, int epochs, int quiet);

/* Callbacks for the core: stop on sqlite3_interrupt(), record each epoch
** and print progress on stderr unless quiet. */
TrainCallbacks sp_train_run_callbacks(SpTrainRun *r);

/* The SQL result of a failed core training (TRAIN_* code rc). */
int sp_train_run_error(const SpTrainRun *r, int rc, char **err);

/* The steps of a training function train_X(name, query [, options]), on
** the binding's state: state_size bytes, zeroed, whose first member is an
** SpTrainRun with db, fn and name set.  Each step returns an SQLite code
** and sets *err on failure; free releases what the state holds. */
typedef struct {
  const char *fn;
  size_t state_size;
  int (*parse)(void *state, sqlite3_value *options, char **err);
  int (*load)(void *state, const char *query, char **err);
  int (*train)(void *state, char **err);
  int (*persist)(void *state, char **err);
  void (*summarise)(sqlite3_context *ctx, const void *state);
  void (*free)(void *state);
} SpBaselineTrainer;

/* The SQL function of a trainer (its SpFunction's user_data): reads the
** name and the query, runs the steps, returns the summary or the first
** error; a saved model voids the binding's SpModelCache answers. */
void sp_baseline_train_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);

/* A trained model, as saved. */
typedef struct {
  const char *model; /* "dropoutnet", "melu" */
  int input_dim, item_dim, output_dim;
  const char *options; /* JSON of the options in effect */
  int64_t train_rows;
  const SpMatrix *items; /* the catalog */
  const ParamTensor *tensors;
  int n_tensors;
  const SpTrainRun *run;
  double final_loss, train_seconds;
} SpBaselineModel;

/* Replaces model name by b, atomically (store.h). */
int sp_baseline_save(sqlite3 *db, const char *fn, const char *name, const SpBaselineModel *b,
                     char **err);

/* A stored model as read back: its sizes and options, its tensors (names
** and data owned here) and its catalog. */
typedef struct {
  int input_dim, item_dim, output_dim;
  int64_t n_items;
  sqlite3_value *options; /* the stored JSON (a protected copy) */
  ParamTensor *tensors;   /* the core's tensors, the catalog excluded */
  int n_tensors;
  SpMatrix items; /* the catalog, ids set; its data lies in block */
  char *names;    /* the tensors' names */
  float *block;   /* every tensor's data */
} SpBaselineStored;

/* Reads the row of model name (SQLITE_NOTFOUND when there is none): sizes
** and options.  A model of another kind than `model` is an error. */
int sp_baseline_read_row(sqlite3 *db, const char *fn, const char *name, const char *model,
                         SpBaselineStored *s, char **err);

/* Reads the tensors of model name once the caller knows the floats its
** shape needs (model_floats, 0 for a shape it refuses): checked against the
** bytes stored before anything is allocated; SQLITE_CORRUPT on mismatch. */
int sp_baseline_read_tensors(sqlite3 *db, const char *fn, const char *name, size_t model_floats,
                             SpBaselineStored *s, char **err);

/* "<fn>(): model "<name>" is corrupt (<why>)", SQLITE_CORRUPT. */
int sp_baseline_corrupt(const char *fn, const char *name, const char *why, char **err);

/* After sp_parse_options() returned rc for a baseline's options: the
** options every baseline has are checked, `items` (a table name, not null)
** and `hidden` (its JSON text, or NULL when not given: the widths are left
** as they are) parsed into widths[0..*n_hidden - 1], at most max_hidden
** widths up to max_width.  Returns the first error. */
int sp_baseline_options_end(const char *fn, int rc, const char *items, const char *hidden,
                            int *widths, int *n_hidden, int max_hidden, int max_width,
                            char **err);

/* The SQL code of a core model's load (TRAIN_* code rc, bad the tensor at
** fault): memory, or a corrupt model naming the tensor. */
int sp_baseline_load_error(int rc, const char *bad, const char *fn, const char *name,
                           char **err);

/* The code of reading a stored model's options: rc from the binding's
** option parser; any failure but memory is a corrupt model. */
int sp_baseline_options_read(int rc, const char *fn, const char *name, char **err);

/* ---- serving ------------------------------------------------------------- */

/* The model named by argument 1 of the running function, from the
** binding's SpModelCache; NULL with the error set on ctx. */
const void *sp_baseline_model_arg(sqlite3_context *ctx, sqlite3_value **argv,
                                  const SpModelLoader *loader);

/* Returns the JSON array of ids[idx[0..m-1]]: recommended track ids. */
void sp_baseline_result_ids(sqlite3_context *ctx, const sqlite3_int64 *ids, const int32_t *idx,
                            int m);

void sp_baseline_stored_free(SpBaselineStored *s);

#endif
