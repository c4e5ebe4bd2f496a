/*
** columns.h - reading float32 vector BLOB columns of a statement's rows:
** the one reader (its checks and messages) and the growable matrix it
** fills, used for user queries, item tables and stored models alike.
**
** A bad value is an error naming the function, the row and the column:
**   "<fn>(): [<source>, ]row <row>, column <column>: <problem>"
** where <problem> is one of
**   expected a float32 vector BLOB, got NULL | TEXT | a number
**   BLOB of <b> bytes is not a float32 vector
**   vector has <n> floats, expected <d>
**   vector contains NaN or Inf
*/
#ifndef SEMIPERSO_SQL_COLUMNS_H
#define SEMIPERSO_SQL_COLUMNS_H

#include <stddef.h>
#include <stdint.h>

#include "sqlite3ext.h"

/* Rows of float32 vectors (row-major, sqlite3_malloc'd), each with an id
** when read by sp_matrix_read(); grown by doubling. */
typedef struct {
  float *data;         /* rows x dims */
  sqlite3_int64 *ids;  /* rows ids (sp_matrix_read only) */
  int64_t rows, cap;
  int dims;            /* the width every row must have; 0: the first row sets it */
} SpMatrix;

/* A vector column, for messages. */
typedef struct {
  const char *fn;     /* the SQL function */
  const char *source; /* NULL for the function's own query, else e.g. "table 'tracks'" */
  int col;            /* 0-based column of the statement */
  int number;         /* the column's number as the user sees it, 0: not shown */
  const char *name;   /* what the column holds: "features", "embedding" */
} SpColumn;

/* Reads c's column of st's current row (number row, for messages): a
** vector of exactly n floats, into dst.  *err is set unless err is NULL
** (callers with their own message). */
int sp_column_vector(sqlite3_stmt *st, const SpColumn *c, int64_t row, float *dst, int n,
                     char **err);

/* Appends c's column of st's current row to m, read by sp_column_vector. */
int sp_matrix_append(SpMatrix *m, sqlite3_stmt *st, const SpColumn *c, int64_t row, char **err);

/* Steps st and appends up to max_rows rows to m, each with the INTEGER of
** column 0 as its id; *row counts the rows read from st so far.  Returns
** SQLITE_ROW when max_rows were read, SQLITE_DONE when st is exhausted,
** else an error with *err set. */
int sp_matrix_read(SpMatrix *m, sqlite3_stmt *st, const SpColumn *c, int64_t max_rows,
                   int64_t *row, char **err);

void sp_matrix_free(SpMatrix *m);

/* Makes room for need elements of elem bytes in the sqlite3_malloc'd
** array *p of *cap elements (doubling); SQLITE_OK or SQLITE_NOMEM. */
int sp_grow(void **p, int64_t *cap, int64_t need, size_t elem);

#endif
