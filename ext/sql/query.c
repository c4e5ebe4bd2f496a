/* query.c - user queries into matrices, and interrupt polling (see query.h). */
#include <string.h>

#include "common.h"
#include "query.h"

int sp_prepare_user_query(sqlite3 *db, const char *fn, const char *sql,
                          int n_cols, sqlite3_stmt **out, char **err) {
  const char *tail = NULL;
  sqlite3_stmt *stmt = NULL;
  *out = NULL;
  if (sql == NULL) {
    *err = sqlite3_mprintf("%s(): the query argument is NULL", fn);
    return SQLITE_ERROR;
  }
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, &tail);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("%s(): the query does not compile: %s", fn, sqlite3_errmsg(db));
    return rc;
  }
  if (stmt == NULL) {
    *err = sqlite3_mprintf("%s(): the query is empty", fn);
    return SQLITE_ERROR;
  }
  while (tail && (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == '\r' || *tail == ';')) tail++;
  if (tail && *tail) {
    *err = sqlite3_mprintf("%s(): the query must be a single statement", fn);
    rc = SQLITE_ERROR;
  } else if (!sqlite3_stmt_readonly(stmt)) {
    *err = sqlite3_mprintf("%s(): the query must be a read-only SELECT", fn);
    rc = SQLITE_ERROR;
  } else if (sqlite3_column_count(stmt) != n_cols) {
    *err = sqlite3_mprintf("%s(): the query must return %d column%s, it returns %d",
                           fn, n_cols, n_cols == 1 ? "" : "s",
                           sqlite3_column_count(stmt));
    rc = SQLITE_ERROR;
  }
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return rc;
  }
  *out = stmt;
  return SQLITE_OK;
}

int sp_query_matrices(sqlite3 *db, const char *fn, const char *sql,
                      int n_cols, const char *const *col_names, SpMatrix *mats,
                      char **err) {
  sqlite3_stmt *stmt;
  if (n_cols < 1 || n_cols > SP_MAX_QUERY_COLS) {
    *err = sqlite3_mprintf("%s(): internal error: %d vector columns requested", fn, n_cols);
    return SQLITE_MISUSE;
  }
  int rc = sp_prepare_user_query(db, fn, sql, n_cols, &stmt, err);
  if (rc != SQLITE_OK) return rc;
  int64_t row = 0;
  for (int c = 0; c < n_cols; c++) {
    mats[c].data = NULL;
    mats[c].ids = NULL;
    mats[c].rows = mats[c].cap = 0;
  }
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    row++;
    for (int c = 0; c < n_cols && rc == SQLITE_ROW; c++) {
      SpColumn col = {fn, NULL, c, c + 1, col_names[c]};
      int arc = sp_matrix_append(&mats[c], stmt, &col, row, err);
      if (arc != SQLITE_OK) rc = arc;
    }
    if (rc != SQLITE_ROW) break;
  }
  if (rc == SQLITE_DONE && row == 0) {
    *err = sqlite3_mprintf("%s(): the query returned no rows", fn);
    rc = SQLITE_ERROR;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_OK;
  } else if (*err == NULL && rc != SQLITE_NOMEM) {
    *err = sqlite3_mprintf("%s(): the query failed: %s", fn, sqlite3_errmsg(db));
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_OK) {
    for (int c = 0; c < n_cols; c++) sp_matrix_free(&mats[c]);
  }
  return rc;
}

int sp_check_interrupt(sqlite3 *db) {
  /* SQLite 3.40 has no sqlite3_is_interrupted(); stepping a trivial
  ** statement reports the pending interrupt of the running statement. */
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT 1", -1, &stmt, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  return rc == SQLITE_INTERRUPT ? SQLITE_INTERRUPT : SQLITE_OK;
}
