/*
** common.h - what every SQL binding file shares: argument parsing with
** errors that name the function and the argument, vector results, and
** table-driven function registration.
*/
#ifndef SEMIPERSO_SQL_COMMON_H
#define SEMIPERSO_SQL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT3

/* sqlite-vec's subtype for float32 vectors, so its functions accept ours. */
#define SP_SUBTYPE_FLOAT32 223

/* Flags of a pure function of its arguments. */
#define SP_PURE (SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS)

/* One SQL function: scalar when xFunc is set, aggregate when xStep is,
** window aggregate when xValue and xInverse are set too. */
typedef struct {
  const char *name;
  int n_arg;
  int flags;
  void *user_data;
  void (*xFunc)(sqlite3_context *, int, sqlite3_value **);
  void (*xStep)(sqlite3_context *, int, sqlite3_value **);
  void (*xFinal)(sqlite3_context *);
  void (*xValue)(sqlite3_context *);
  void (*xInverse)(sqlite3_context *, int, sqlite3_value **);
} SpFunction;

/* Registers n functions; on failure sets *pzErrMsg naming the function. */
int sp_register_functions(sqlite3 *db, const SpFunction *fns, int n,
                          char **pzErrMsg);

/* sqlite3_result_error with a printf-style message. */
void sp_result_errorf(sqlite3_context *ctx, const char *fmt, ...);

/* The name of the SQL function being run (from its SpFunction entry). */
const char *sp_function_name(sqlite3_context *ctx);

/* Reads argument argno (1-based, for messages) as a float32 vector: a BLOB
** of little-endian float32 (length a positive multiple of 4) or JSON text
** '[1, 2.5, ...]'.  NULL, other types, zero length and NaN/Inf are errors.
** On success *out is an sqlite3_malloc'd copy (aligned) of *n floats and
** SQLITE_OK is returned; otherwise the error is set on ctx. */
int sp_vector_arg(sqlite3_context *ctx, sqlite3_value *v, int argno,
                  float **out, int *n);

/* Reads argument argno as a JSON array of integer ids (may be empty).
** On success *out is sqlite3_malloc'd (NULL when empty). */
int sp_ids_arg(sqlite3_context *ctx, sqlite3_value *v, int argno,
               int64_t **out, size_t *n);

/* Reads argument argno as an INTEGER within [lo, hi]. */
int sp_int_arg(sqlite3_context *ctx, sqlite3_value *v, int argno,
               sqlite3_int64 lo, sqlite3_int64 hi, sqlite3_int64 *out);

/* Returns v (n floats, sqlite3_malloc'd) as a float32 BLOB, taking
** ownership of v. */
void sp_result_vector(sqlite3_context *ctx, float *v, int n);

/* Finishes s and returns its text as the JSON result (subtype 'J', as
** SQLite's json functions mark theirs), or the error s ran into. */
void sp_result_json_str(sqlite3_context *ctx, sqlite3_str *s);

/* The largest vector (in floats) a BLOB may hold on this connection. */
int sp_max_vector_len(sqlite3_context *ctx);

#endif
