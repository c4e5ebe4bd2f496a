/* args.c - reading SQL function arguments (see args.h). */
#include "args.h"

#include <stdarg.h>
#include <string.h>

#include "../core/json_array.h"
#include "../core/vec.h"
#include "common.h"

static const char *type_name(int t) {
  switch (t) {
    case SQLITE_INTEGER: return "an INTEGER";
    case SQLITE_FLOAT: return "a REAL";
    case SQLITE_TEXT: return "TEXT";
    case SQLITE_BLOB: return "a BLOB";
    default: return "NULL";
  }
}

/* "<fn>(): argument <n>[ (<name>)]<sep><detail>"; sep is ": " before a
** finding, " " before "must be". */
static char *arg_error(SpArg a, const char *sep, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *detail = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  char *msg = NULL;
  if (detail) {
    msg = sqlite3_mprintf("%s(): argument %d%s%s%s%s%s", a.fn, a.argno, a.name ? " (" : "",
                          a.name ? a.name : "", a.name ? ")" : "", sep, detail);
  }
  sqlite3_free(detail);
  return msg;
}

/* The text of a TEXT value, or NULL when out of memory. */
static const char *text_of(sqlite3_value *v, size_t *len) {
  const char *text = (const char *)sqlite3_value_text(v);
  *len = (size_t)sqlite3_value_bytes(v);
  return text;
}

int sp_read_vector(SpArg a, sqlite3_value *v, int max_len, float **out, int *n, char **err) {
  int type = sqlite3_value_type(v);
  float *buf = NULL;
  size_t count = 0;
  const char *jerr = NULL;
  *out = NULL;
  *n = 0;
  if (type == SQLITE_BLOB) {
    int bytes = sqlite3_value_bytes(v);
    if (bytes == 0) {
      *err = arg_error(a, ": ", "zero-length vector");
      return SQLITE_ERROR;
    }
    if (bytes % (int)sizeof(float) != 0) {
      *err = arg_error(a, ": ", "invalid float32 vector BLOB length %d (must be a multiple of 4)",
                       bytes);
      return SQLITE_ERROR;
    }
    count = (size_t)bytes / sizeof(float);
    buf = sqlite3_malloc64((sqlite3_uint64)bytes);
    if (buf == NULL) return SQLITE_NOMEM;
    /* Copy: the BLOB need not be 4-byte aligned. */
    memcpy(buf, sqlite3_value_blob(v), (size_t)bytes);
  } else if (type == SQLITE_TEXT) {
    size_t len;
    const char *text = text_of(v, &len);
    if (text == NULL) return SQLITE_NOMEM;
    if (json_array_floats(text, len, NULL, 0, &count, &jerr)) {
      *err = arg_error(a, ": ", "%s", jerr);
      return SQLITE_ERROR;
    }
    if (count == 0) {
      *err = arg_error(a, ": ", "zero-length vector");
      return SQLITE_ERROR;
    }
    if (count > (size_t)max_len) {
      *err = arg_error(a, ": ", "vector too long");
      return SQLITE_TOOBIG;
    }
    buf = sqlite3_malloc64(count * sizeof(float));
    if (buf == NULL) return SQLITE_NOMEM;
    /* The counting pass checks syntax only; values are checked here. */
    if (json_array_floats(text, len, buf, count, &count, &jerr)) {
      sqlite3_free(buf);
      *err = arg_error(a, ": ", "%s", jerr);
      return SQLITE_ERROR;
    }
  } else {
    *err = arg_error(a, " ", "must be a float32 vector (BLOB or JSON text), not %s",
                     type_name(type));
    return SQLITE_ERROR;
  }
  if (!vec_all_finite(buf, count)) {
    sqlite3_free(buf);
    *err = arg_error(a, ": ", "vector contains NaN or Inf");
    return SQLITE_ERROR;
  }
  *out = buf;
  *n = (int)count;
  return SQLITE_OK;
}

int sp_read_ids(SpArg a, sqlite3_value *v, int64_t **out, size_t *n, char **err) {
  int type = sqlite3_value_type(v);
  const char *jerr = NULL;
  size_t count = 0, len;
  *out = NULL;
  *n = 0;
  if (type != SQLITE_TEXT) {
    *err = arg_error(a, " ", "must be a JSON array of ids, not %s", type_name(type));
    return SQLITE_ERROR;
  }
  const char *text = text_of(v, &len);
  if (text == NULL) return SQLITE_NOMEM;
  if (json_array_ids(text, len, NULL, 0, &count, &jerr)) {
    *err = arg_error(a, ": ", "%s", jerr);
    return SQLITE_ERROR;
  }
  if (count == 0) return SQLITE_OK;
  int64_t *buf = sqlite3_malloc64(count * sizeof *buf);
  if (buf == NULL) return SQLITE_NOMEM;
  if (json_array_ids(text, len, buf, count, &count, &jerr)) {
    sqlite3_free(buf);
    *err = arg_error(a, ": ", "%s", jerr);
    return SQLITE_ERROR;
  }
  *out = buf;
  *n = count;
  return SQLITE_OK;
}

int sp_read_int(SpArg a, sqlite3_value *v, sqlite3_int64 lo, sqlite3_int64 hi,
                sqlite3_int64 *out, char **err) {
  int type = sqlite3_value_type(v);
  if (type != SQLITE_INTEGER) {
    *err = arg_error(a, " ", "must be an INTEGER, not %s", type_name(type));
    return SQLITE_ERROR;
  }
  sqlite3_int64 x = sqlite3_value_int64(v);
  if (x < lo || x > hi) {
    *err = arg_error(a, " ", "must be between %lld and %lld, got %lld", lo, hi, x);
    return SQLITE_RANGE;
  }
  *out = x;
  return SQLITE_OK;
}

int sp_read_text(SpArg a, sqlite3_value *v, const char *must_be, int non_empty,
                 const char **out, char **err) {
  *out = NULL;
  if (sqlite3_value_type(v) != SQLITE_TEXT || (non_empty && sqlite3_value_bytes(v) == 0)) {
    *err = arg_error(a, " ", "must be %s", must_be);
    return SQLITE_ERROR;
  }
  *out = (const char *)sqlite3_value_text(v);
  return *out ? SQLITE_OK : SQLITE_NOMEM;
}

/* ---- with a function context ---------------------------------------------- */

static SpArg arg_of(sqlite3_context *ctx, int argno, const char *name) {
  return (SpArg){sp_function_name(ctx), argno, name};
}

/* Sets a reader's failure on ctx; returns rc. */
static int routed(sqlite3_context *ctx, int rc, char *err) {
  if (rc != SQLITE_OK) sp_result_error_rc(ctx, rc, err);
  return rc;
}

int sp_vector_arg(sqlite3_context *ctx, sqlite3_value *v, int argno, float **out, int *n) {
  char *err = NULL;
  int max_len = sp_max_vector_len(sqlite3_context_db_handle(ctx));
  int rc = sp_read_vector(arg_of(ctx, argno, NULL), v, max_len, out, n, &err);
  return routed(ctx, rc, err);
}

int sp_ids_arg(sqlite3_context *ctx, sqlite3_value *v, int argno, int64_t **out, size_t *n) {
  char *err = NULL;
  int rc = sp_read_ids(arg_of(ctx, argno, NULL), v, out, n, &err);
  return routed(ctx, rc, err);
}

int sp_int_arg(sqlite3_context *ctx, sqlite3_value *v, int argno, sqlite3_int64 lo,
               sqlite3_int64 hi, sqlite3_int64 *out) {
  char *err = NULL;
  int rc = sp_read_int(arg_of(ctx, argno, NULL), v, lo, hi, out, &err);
  return routed(ctx, rc, err);
}

int sp_text_arg(sqlite3_context *ctx, sqlite3_value *v, int argno, const char *name,
                const char *must_be, int non_empty, const char **out) {
  char *err = NULL;
  int rc = sp_read_text(arg_of(ctx, argno, name), v, must_be, non_empty, out, &err);
  return routed(ctx, rc, err);
}
