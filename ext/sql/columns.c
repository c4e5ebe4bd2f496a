/* columns.c - the float32 vector column reader (see columns.h). */
#include "columns.h"

#include <string.h>

#include "../core/vec.h"
#include "common.h"

int sp_grow(void **p, int64_t *cap, int64_t need, size_t elem) {
  if (need <= *cap) return SQLITE_OK;
  int64_t c = *cap ? *cap : 256;
  while (c < need) c *= 2;
  void *q = sqlite3_realloc64(*p, (sqlite3_uint64)c * elem);
  if (q == NULL) return SQLITE_NOMEM;
  *p = q;
  *cap = c;
  return SQLITE_OK;
}

void sp_matrix_free(SpMatrix *m) {
  sqlite3_free(m->data);
  sqlite3_free(m->ids);
  m->data = NULL;
  m->ids = NULL;
  m->rows = m->cap = 0;
}

/* "<fn>(): [<source>, ]row <row>, column <column>: <problem>". */
static char *column_error(const SpColumn *c, int64_t row, const char *problem) {
  char *column = c->number ? sqlite3_mprintf("%d (%s)", c->number, c->name)
                           : sqlite3_mprintf("%s", c->name);
  char *msg = column ? sqlite3_mprintf("%s(): %s%srow %lld, column %s: %s", c->fn,
                                       c->source ? c->source : "", c->source ? ", " : "",
                                       (long long)row, column, problem)
                     : NULL;
  sqlite3_free(column);
  return msg;
}

int sp_column_vector(sqlite3_stmt *st, const SpColumn *c, int64_t row, float *dst, int n,
                     char **err) {
  char *problem = NULL;
  int type = sqlite3_column_type(st, c->col);
  int bytes = sqlite3_column_bytes(st, c->col);
  if (type != SQLITE_BLOB) {
    problem = sqlite3_mprintf("expected a float32 vector BLOB, got %s",
                              type == SQLITE_NULL ? "NULL" : type == SQLITE_TEXT ? "TEXT"
                                                                              : "a number");
  } else if (bytes == 0 || bytes % (int)sizeof(float)) {
    problem = sqlite3_mprintf("BLOB of %d bytes is not a float32 vector", bytes);
  } else if (bytes != n * (int)sizeof(float)) {
    problem = sqlite3_mprintf("vector has %d floats, expected %d", bytes / (int)sizeof(float), n);
  } else {
    /* Copied: the BLOB need not be aligned. */
    memcpy(dst, sqlite3_column_blob(st, c->col), (size_t)bytes);
    if (vec_all_finite(dst, (size_t)n)) return SQLITE_OK;
    problem = sqlite3_mprintf("vector contains NaN or Inf");
  }
  if (err) *err = problem ? column_error(c, row, problem) : NULL;
  sqlite3_free(problem);
  return SQLITE_MISMATCH;
}

int sp_matrix_append(SpMatrix *m, sqlite3_stmt *st, const SpColumn *c, int64_t row, char **err) {
  int bytes = sqlite3_column_bytes(st, c->col);
  /* The first usable row sets the width; a bad one is refused below. */
  if (m->dims == 0 && sqlite3_column_type(st, c->col) == SQLITE_BLOB &&
      bytes % (int)sizeof(float) == 0)
    m->dims = bytes / (int)sizeof(float);
  if (m->dims > 0 &&
      sp_grow((void **)&m->data, &m->cap, m->rows + 1, (size_t)m->dims * sizeof(float)))
    return SQLITE_NOMEM;
  float *dst = m->dims > 0 ? m->data + m->rows * (int64_t)m->dims : NULL;
  int rc = sp_column_vector(st, c, row, dst, m->dims, err);
  if (rc == SQLITE_OK) m->rows++;
  return rc;
}

int sp_matrix_read(SpMatrix *m, sqlite3_stmt *st, const SpColumn *c, int64_t max_rows,
                   int64_t *row, char **err) {
  int rc = SQLITE_ROW;
  for (int64_t got = 0; got < max_rows; got++) {
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) return rc;
    ++*row;
    if (sqlite3_column_type(st, 0) != SQLITE_INTEGER) {
      SpColumn id = {c->fn, c->source, 0, 1, "id"};
      if (err) *err = column_error(&id, *row, "expected an INTEGER id");
      return SQLITE_MISMATCH;
    }
    /* The ids grow with the rows; their capacity is the data's. */
    int64_t cap = m->cap;
    rc = sp_matrix_append(m, st, c, *row, err);
    if (rc == SQLITE_OK && m->cap != cap) {
      sqlite3_int64 *ids = sqlite3_realloc64(m->ids, (sqlite3_uint64)m->cap * sizeof *ids);
      if (ids == NULL) rc = SQLITE_NOMEM;
      else m->ids = ids;
    }
    if (rc != SQLITE_OK) return rc;
    m->ids[m->rows - 1] = sqlite3_column_int64(st, 0);
  }
  return SQLITE_ROW;
}
