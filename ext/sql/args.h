/*
** args.h - reading SQL function arguments, one way for every binding.
**
** Each sp_read_* reads one argument and needs no function context, so
** virtual tables (whose arguments arrive in xFilter) read theirs the same
** way as scalar functions: on failure it returns an SQLite error code and
** sets *err to a message naming the function and the argument
** ("topk_tracks(): argument 2 (k) must be ..."), sqlite3_mprintf'd, or
** NULL when memory ran out.  The sp_*_arg wrappers do the same for a
** scalar or aggregate function and set the error on its context.
*/
#ifndef SEMIPERSO_SQL_ARGS_H
#define SEMIPERSO_SQL_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "sqlite3ext.h"

/* Which argument: of function fn, number argno (1-based), and what it is
** (NULL: messages say "argument 2" alone). */
typedef struct {
  const char *fn;
  int argno;
  const char *name;
} SpArg;

/* A float32 vector: a BLOB of little-endian float32 (a positive multiple
** of 4 bytes) or JSON text '[1, 2.5, ...]' of at most max_len numbers.
** NULL, other types, zero length, floats out of range and NaN/Inf are
** errors.  *out is an sqlite3_malloc'd (aligned) copy of *n floats. */
int sp_read_vector(SpArg a, sqlite3_value *v, int max_len, float **out, int *n, char **err);

/* A JSON array of integer ids (may be empty: *out NULL).  *out is
** sqlite3_malloc'd. */
int sp_read_ids(SpArg a, sqlite3_value *v, int64_t **out, size_t *n, char **err);

/* An INTEGER within [lo, hi]. */
int sp_read_int(SpArg a, sqlite3_value *v, sqlite3_int64 lo, sqlite3_int64 hi,
                sqlite3_int64 *out, char **err);

/* TEXT (non-empty when non_empty is set); else "<argument> must be
** <must_be>".  *out points into v. */
int sp_read_text(SpArg a, sqlite3_value *v, const char *must_be, int non_empty,
                 const char **out, char **err);

/* The same for the running function of ctx (name NULL), the error set on
** ctx. */
int sp_vector_arg(sqlite3_context *ctx, sqlite3_value *v, int argno, float **out, int *n);
int sp_ids_arg(sqlite3_context *ctx, sqlite3_value *v, int argno, int64_t **out, size_t *n);
int sp_int_arg(sqlite3_context *ctx, sqlite3_value *v, int argno, sqlite3_int64 lo,
               sqlite3_int64 hi, sqlite3_int64 *out);
int sp_text_arg(sqlite3_context *ctx, sqlite3_value *v, int argno, const char *name,
                const char *must_be, int non_empty, const char **out);

#endif
