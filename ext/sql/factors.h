/*
** factors.h - what the two factorisations (als.c: train_als, pmi_svd.c:
** train_pmi_svd) share: reading a query of (row id, item id[, weight])
** into a sparse matrix, and storing the vectors they learn.
**
** Reading: ids are any INTEGERs; the distinct ids of each column are
** numbered 0, 1, ... in increasing id order (so the numbering, and with it
** every result, depends on the set of pairs, not on the order of the
** rows), and repeated (row, item) pairs are summed in row order.  A bad
** row is an error naming the function, the row and the column:
**   "<fn>(): row 7, column 3 (weight): expected a number >= 0, got NULL"
** An empty result is an error; sqlite3_interrupt() stops the reading.
**
** Training: both functions are the same five steps (parse, load, fit,
** persist, summarise) around a state whose first member is SpFactorizing;
** sp_factorize() runs them and returns the summary or the error.
**
** Storing, as one model of the store (store.h), replaced atomically:
**   semiperso_factorizations(name PRIMARY KEY, method, dims, users, items,
**       entries, iterations, loss, options JSON, summary JSON, seconds,
**       trained_at, generation)
**   semiperso_factors(model, side, id, embedding)   side 'user' or 'item',
**       embedding a float32 BLOB of dims floats
**   semiperso_factorization_history(model, iteration, loss, seconds)
*/
#ifndef SEMIPERSO_SQL_FACTORS_H
#define SEMIPERSO_SQL_FACTORS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/sparse.h"
#include "options.h"
#include "sqlite3ext.h"

/* What must hold of the third column. */
typedef enum {
  SP_PAIRS_UNWEIGHTED, /* two columns: every pair counts 1 */
  SP_WEIGHTS_NONNEGATIVE, /* a finite number >= 0 */
  SP_WEIGHTS_POSITIVE     /* a finite number > 0 */
} SpWeights;

typedef struct {
  sqlite3_int64 *row_ids, *item_ids; /* the distinct ids, increasing */
  SparseMatrix m;                    /* row_ids x item_ids, summed weights */
  int64_t query_rows;                /* rows the query returned */
} SpPairs;

/* Runs sql (argument argno of fn, a read-only query of 2 columns, or 3
** with weights) and fills *p.  names[] names the columns in messages.
** Returns SQLITE_OK, or an error with *err set (NULL when out of memory);
** *p is then empty. */
int sp_pairs_read(sqlite3 *db, const char *fn, const char *sql, SpWeights weights,
                  const char *const *names, SpPairs *p, char **err);
void sp_pairs_free(SpPairs *p);

/* The index of id in the n increasing ids, or -1. */
int64_t sp_pairs_find(const sqlite3_int64 *ids, int64_t n, sqlite3_int64 id);

/* One side's vectors: n rows of dims floats, row k for ids[k]. */
typedef struct {
  const sqlite3_int64 *ids;
  int64_t n;
  const float *vectors;
} SpFactorSide;

/* What every factorisation's state starts with. */
typedef struct {
  sqlite3 *db;
  const char *fn, *name;
  char *options; /* as stored: every option's value, JSON */
  int quiet;
  SpPairs pairs; /* the query's rows */
  double last;   /* when the last progress line was due */
  double seconds; /* of the fit */
} SpFactorizing;

/* The steps of one training function; t is its zeroed state of size
** bytes, b = (SpFactorizing *)t with db and fn set. */
typedef struct {
  const char *fn;
  size_t size;
  /* Arguments and options (through sp_factorizing_args); *sql is the query. */
  int (*parse)(void *t, int argc, sqlite3_value **argv, const char **sql, char **err);
  int (*load)(void *t, const char *sql, char **err); /* sql: argument 2 */
  int (*fit)(void *t, char **err);
  char *(*summary)(const void *t); /* JSON, sqlite3_malloc'd; NULL: out of memory */
  int (*persist)(const void *t, const char *summary, char **err);
  void (*clear)(void *t); /* frees what the binding's own members hold */
} SpFactorizer;

/* Runs f for the SQL call (name, query [, options]) and sets its result. */
void sp_factorize(sqlite3_context *ctx, int argc, sqlite3_value **argv, const SpFactorizer *f);

/* For parse: arguments 1 (name) and 2 (query, what it must be), then the
** options (argument 3, over the defaults in spec), stored as JSON in
** b->options. */
int sp_factorizing_args(SpFactorizing *b, int argc, sqlite3_value **argv, const char *query_is,
                        const SpOption *spec, int n_spec, const char **sql, char **err);

/* For load: SQLITE_OK when dim is at most the number of items read, else
** an error naming option "dim". */
int sp_factorizing_check_dim(const SpFactorizing *b, int dim, char **err);

/* The core's should_stop: whether sqlite3_interrupt() was called on b->db. */
int sp_factorizing_interrupted(void *b);

/* A trained factorisation, as stored. */
typedef struct {
  const char *name, *method; /* method: "als" or "pmi_svd" */
  int dims;
  SpFactorSide users, items; /* users.n may be 0 */
  int64_t entries;           /* distinct (row, item) pairs of the query */
  int iterations;            /* completed: ALS iterations, SVD passes */
  double loss;               /* NaN: none (stored as NULL) */
  const char *options, *summary;
  double seconds;
  int n_history; /* iterations 1 .. n_history */
  const double *history_loss, *history_seconds; /* history_loss may be NULL */
} SpFactorization;

/* Replaces the stored factorisation f->name (store.h).  SQLITE_OK or the
** error, *err set; an interrupt keeps the previous one. */
int sp_factorization_save(sqlite3 *db, const char *fn, const SpFactorization *f, char **err);

#endif
