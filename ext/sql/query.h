/*
** query.h - running the queries users hand to training functions, and
** polling for sqlite3_interrupt() during long C work.
**
** A user query must be exactly one read-only statement (a SELECT or a
** read-only WITH) with the expected number of columns.  Its rows are read
** into dense row-major float matrices, one per column, by the column
** reader of columns.h: every bad row (NULL, wrong type, wrong length,
** NaN/Inf) is an error naming the function, the row number (1-based) and
** the column.
*/
#ifndef SEMIPERSO_SQL_QUERY_H
#define SEMIPERSO_SQL_QUERY_H

#include <stdint.h>

#include "columns.h"
#include "sqlite3ext.h"

/* Prepares sql as a user query of fn; on error returns non-OK with *err
** (sqlite3_mprintf'd) saying what is wrong with it. */
int sp_prepare_user_query(sqlite3 *db, const char *fn, const char *sql,
                          int n_cols, sqlite3_stmt **out, char **err);

/* Most vector columns one user query may have. */
#define SP_MAX_QUERY_COLS 8

/* Runs sql and fills mats[0..n_cols-1] from its columns (names used in
** messages; each mats[c].dims is the width required, or 0 for the first
** row's); 1 <= n_cols <= SP_MAX_QUERY_COLS.  An empty result is an error;
** sqlite3_interrupt() stops it (the query reports it). */
int sp_query_matrices(sqlite3 *db, const char *fn, const char *sql,
                      int n_cols, const char *const *col_names, SpMatrix *mats,
                      char **err);

/* SQLITE_INTERRUPT when sqlite3_interrupt() was called on db during the
** running statement, else SQLITE_OK.  Cheap enough to call per batch. */
int sp_check_interrupt(sqlite3 *db);

#endif
