/*
** store.h - the model store: how trained models are written to the
** database, replaced atomically, and served back from a per-connection
** cache that is never stale.
**
** A model kind (SpModelKind) names the tables that hold one kind of model:
** the first has one row per model, with a TEXT key column and an INTEGER
** `generation` column; the others hold the model's rows under its name.
** Saving one model:
**   SpStore s;
**   sp_store_begin(&s, db, fn, &kind, name);  SAVEPOINT, CREATE TABLE IF NOT
**                                             EXISTS, delete the rows of
**                                             that name, draw s.generation
**   sp_store_rows(&s, "INSERT ... VALUES (?1, ...)", n, bind, arg);
**                                             n rows: ?1 is the name, bind()
**                                             binds the rest of row i
**   sp_store_tensors(&s, tensors, n);         parameter tensors
**   rc = sp_store_end(&s, &err);              RELEASE, or ROLLBACK TO on any
**                                             failure: the previous model
**                                             stays, whole
** Each step is skipped once one has failed, so callers check only the end.
** Generations are random non-negative 63-bit numbers drawn at every save;
** an interrupt gives "<fn>(): interrupted; the previous <what> is kept".
**
** Serving: an SpModelCache (per-connection state of a binding) keeps up to
** SP_CACHE_SLOTS loaded models.  sp_cache_get() checks the stored
** generation once per statement (SQLite's auxiliary data of the name
** argument keeps the answer for the statement's later rows) and reloads
** when it changed, so a model retrained or dropped by any connection is
** never served stale.
*/
#ifndef SEMIPERSO_SQL_STORE_H
#define SEMIPERSO_SQL_STORE_H

#include <stdint.h>

#include "sqlite3ext.h"

#define SP_KIND_MAX_TABLES 4

typedef struct {
  const char *what;   /* "model", "segmentation": for messages */
  const char *schema; /* CREATE TABLE IF NOT EXISTS of every table */
  struct {
    const char *table, *key; /* a table and its column holding the name */
  } tables[SP_KIND_MAX_TABLES];
  int n_tables; /* tables[0] has one row per model */
  /* The table of parameter tensors (one of tables[], keyed by column
  ** `model`, columns as semiperso_model_params), or NULL. */
  const char *params;
} SpModelKind;

/* The neural models: semiperso_models (one row per model),
** semiperso_model_params (its tensors, see sp_store_tensors) and
** semiperso_model_history (one row per epoch). */
extern const SpModelKind sp_models_kind;

typedef struct {
  sqlite3 *db;
  const char *fn;
  const SpModelKind *kind;
  const char *name;
  sqlite3_int64 generation;
  int rc;
  char *err;
} SpStore;

typedef int (*SpBindRow)(sqlite3_stmt *st, int64_t i, const void *arg);

int sp_store_begin(SpStore *s, sqlite3 *db, const char *fn, const SpModelKind *kind,
                   const char *name);
int sp_store_rows(SpStore *s, const char *sql, int64_t n, SpBindRow bind, const void *arg);
/* Returns the first error (its message in *err, sqlite3_mprintf'd, NULL
** when out of memory) or SQLITE_OK. */
int sp_store_end(SpStore *s, char **err);

/* One parameter tensor of a model: rows x cols floats, row-major. */
typedef struct {
  int layer;
  const char *kind; /* "weight", "bias", ... */
  float *data;
  int rows, cols;
} SpTensor;

/* Writes t[0..n-1] as rows (model, ordinal, layer, kind, rows, cols, data)
** of the kind's params table, ordinal i for t[i]. */
int sp_store_tensors(SpStore *s, const SpTensor *t, int n);

/* Sets *bytes to the bytes of tensor data stored for model name of kind
** (-1 when none): checked against the sizes a model claims before
** allocating for it.  Returns SQLITE_OK, or the error reading failed with
** (not a corrupt model). */
int sp_stored_tensor_bytes(sqlite3 *db, const SpModelKind *kind, const char *name,
                           sqlite3_int64 *bytes);

/* Reads the tensors of model name of kind into t[i].data (the caller
** allocates t[i].rows * t[i].cols floats).  SQLITE_CORRUPT when the rows
** are not exactly these shapes in ordinal order, or hold NaN or Inf. */
int sp_load_tensors(sqlite3 *db, const SpModelKind *kind, const char *name, SpTensor *t, int n);

/* ---- serving ------------------------------------------------------------ */

#define SP_CACHE_SLOTS 4

/* How a binding reads one of its models. */
typedef struct {
  const SpModelKind *kind;
  const char *missing; /* message for an unknown name; one %s, the name */
  /* Reads model name; SQLITE_NOTFOUND when it is not there; otherwise an
  ** error with *err set (SQLITE_CORRUPT for a damaged model). */
  int (*load)(sqlite3 *db, const char *fn, const char *name, void **model, char **err);
  void (*free)(void *model);
} SpModelLoader;

typedef struct {
  char *name; /* NULL: free slot */
  sqlite3_int64 generation;
  uint64_t serial, last_use;
  void *model;
} SpCacheSlot;

typedef struct {
  SpCacheSlot slot[SP_CACHE_SLOTS];
  uint64_t clock, next_serial;
  uint64_t saves; /* models saved on this connection */
} SpModelCache;

/* The current model `name`, which is argument 1 of the running function;
** NULL with the error set on ctx. */
void *sp_cache_get(sqlite3_context *ctx, SpModelCache *c, const SpModelLoader *l,
                   const char *name);

/* After a save on this connection: the statements' checks are stale. */
void sp_cache_saved(SpModelCache *c);

void sp_cache_clear(SpModelCache *c, const SpModelLoader *l);

#endif
