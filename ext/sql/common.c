/* common.c - argument parsing, results and registration for the bindings. */
#include "common.h"

#include <stdarg.h>
#include <string.h>

#include "../core/json_array.h"
#include "../core/vec.h"

int sp_register_functions(sqlite3 *db, const SpFunction *fns, int n,
                          char **pzErrMsg) {
  for (int i = 0; i < n; i++) {
    const SpFunction *f = &fns[i];
    /* The entry itself is the user data, so errors can name the function;
    ** a binding's own data travels in f->user_data. */
    void *app = (void *)f;
    int rc;
    if (f->xValue) {
      rc = sqlite3_create_window_function(db, f->name, f->n_arg, f->flags, app,
                                          f->xStep, f->xFinal, f->xValue,
                                          f->xInverse, NULL);
    } else {
      rc = sqlite3_create_function_v2(db, f->name, f->n_arg, f->flags, app,
                                      f->xFunc, f->xStep, f->xFinal, NULL);
    }
    if (rc != SQLITE_OK) {
      if (pzErrMsg) {
        *pzErrMsg = sqlite3_mprintf("semiperso: error creating function %s: %s",
                                    f->name, sqlite3_errmsg(db));
      }
      return rc;
    }
  }
  return SQLITE_OK;
}

void sp_result_errorf(sqlite3_context *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  if (msg == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_error(ctx, msg, -1);
  sqlite3_free(msg);
}

const char *sp_function_name(sqlite3_context *ctx) {
  const SpFunction *f = sqlite3_user_data(ctx);
  return f ? f->name : "semiperso";
}

int sp_max_vector_len(sqlite3_context *ctx) {
  int bytes = sqlite3_limit(sqlite3_context_db_handle(ctx), SQLITE_LIMIT_LENGTH, -1);
  return bytes / (int)sizeof(float);
}

static const char *type_name(int t) {
  switch (t) {
    case SQLITE_INTEGER: return "an INTEGER";
    case SQLITE_FLOAT: return "a REAL";
    case SQLITE_TEXT: return "TEXT";
    case SQLITE_BLOB: return "a BLOB";
    default: return "NULL";
  }
}

int sp_vector_arg(sqlite3_context *ctx, sqlite3_value *v, int argno,
                  float **out, int *n) {
  const char *fn = sp_function_name(ctx);
  int type = sqlite3_value_type(v);
  float *buf = NULL;
  size_t count = 0;
  *out = NULL;
  *n = 0;
  if (type == SQLITE_BLOB) {
    int bytes = sqlite3_value_bytes(v);
    if (bytes == 0) {
      sp_result_errorf(ctx, "%s(): argument %d: zero-length vector", fn, argno);
      return SQLITE_ERROR;
    }
    if (bytes % (int)sizeof(float) != 0) {
      sp_result_errorf(ctx,
                       "%s(): argument %d: invalid float32 vector BLOB length %d "
                       "(must be a multiple of 4)", fn, argno, bytes);
      return SQLITE_ERROR;
    }
    count = (size_t)bytes / sizeof(float);
    buf = sqlite3_malloc64(bytes);
    if (buf == NULL) {
      sqlite3_result_error_nomem(ctx);
      return SQLITE_NOMEM;
    }
    /* Copy: the BLOB need not be 4-byte aligned. */
    memcpy(buf, sqlite3_value_blob(v), (size_t)bytes);
  } else if (type == SQLITE_TEXT) {
    const char *text = (const char *)sqlite3_value_text(v);
    size_t len = (size_t)sqlite3_value_bytes(v);
    const char *err = NULL;
    if (text == NULL) {
      sqlite3_result_error_nomem(ctx);
      return SQLITE_NOMEM;
    }
    if (json_array_floats(text, len, NULL, 0, &count, &err)) {
      sp_result_errorf(ctx, "%s(): argument %d: %s", fn, argno, err);
      return SQLITE_ERROR;
    }
    if (count == 0) {
      sp_result_errorf(ctx, "%s(): argument %d: zero-length vector", fn, argno);
      return SQLITE_ERROR;
    }
    if (count > (size_t)sp_max_vector_len(ctx)) {
      sp_result_errorf(ctx, "%s(): argument %d: vector too long", fn, argno);
      return SQLITE_TOOBIG;
    }
    buf = sqlite3_malloc64(count * sizeof(float));
    if (buf == NULL) {
      sqlite3_result_error_nomem(ctx);
      return SQLITE_NOMEM;
    }
    /* The counting pass checks syntax only; values are checked here. */
    if (json_array_floats(text, len, buf, count, &count, &err)) {
      sqlite3_free(buf);
      sp_result_errorf(ctx, "%s(): argument %d: %s", fn, argno, err);
      return SQLITE_ERROR;
    }
  } else {
    sp_result_errorf(ctx,
                     "%s(): argument %d must be a float32 vector (BLOB or JSON "
                     "text), not %s", fn, argno, type_name(type));
    return SQLITE_ERROR;
  }
  if (!vec_all_finite(buf, count)) {
    sqlite3_free(buf);
    sp_result_errorf(ctx, "%s(): argument %d: vector contains NaN or Inf", fn,
                     argno);
    return SQLITE_ERROR;
  }
  *out = buf;
  *n = (int)count;
  return SQLITE_OK;
}

int sp_ids_arg(sqlite3_context *ctx, sqlite3_value *v, int argno,
               int64_t **out, size_t *n) {
  const char *fn = sp_function_name(ctx);
  int type = sqlite3_value_type(v);
  const char *err = NULL;
  size_t count = 0;
  *out = NULL;
  *n = 0;
  if (type != SQLITE_TEXT) {
    sp_result_errorf(ctx, "%s(): argument %d must be a JSON array of ids, not %s",
                     fn, argno, type_name(type));
    return SQLITE_ERROR;
  }
  const char *text = (const char *)sqlite3_value_text(v);
  size_t len = (size_t)sqlite3_value_bytes(v);
  if (text == NULL) {
    sqlite3_result_error_nomem(ctx);
    return SQLITE_NOMEM;
  }
  if (json_array_ids(text, len, NULL, 0, &count, &err)) {
    sp_result_errorf(ctx, "%s(): argument %d: %s", fn, argno, err);
    return SQLITE_ERROR;
  }
  if (count == 0) return SQLITE_OK;
  int64_t *buf = sqlite3_malloc64(count * sizeof *buf);
  if (buf == NULL) {
    sqlite3_result_error_nomem(ctx);
    return SQLITE_NOMEM;
  }
  if (json_array_ids(text, len, buf, count, &count, &err)) {
    sqlite3_free(buf);
    sp_result_errorf(ctx, "%s(): argument %d: %s", fn, argno, err);
    return SQLITE_ERROR;
  }
  *out = buf;
  *n = count;
  return SQLITE_OK;
}

int sp_int_arg(sqlite3_context *ctx, sqlite3_value *v, int argno,
               sqlite3_int64 lo, sqlite3_int64 hi, sqlite3_int64 *out) {
  const char *fn = sp_function_name(ctx);
  int type = sqlite3_value_type(v);
  if (type != SQLITE_INTEGER) {
    sp_result_errorf(ctx, "%s(): argument %d must be an INTEGER, not %s", fn,
                     argno, type_name(type));
    return SQLITE_ERROR;
  }
  sqlite3_int64 x = sqlite3_value_int64(v);
  if (x < lo || x > hi) {
    sp_result_errorf(ctx, "%s(): argument %d must be between %lld and %lld, got %lld",
                     fn, argno, lo, hi, x);
    return SQLITE_RANGE;
  }
  *out = x;
  return SQLITE_OK;
}

void sp_result_vector(sqlite3_context *ctx, float *v, int n) {
  sqlite3_result_blob64(ctx, v, (sqlite3_uint64)n * sizeof(float), sqlite3_free);
  sqlite3_result_subtype(ctx, SP_SUBTYPE_FLOAT32);
}

void sp_result_json_str(sqlite3_context *ctx, sqlite3_str *s) {
  int rc = sqlite3_str_errcode(s);
  char *json = sqlite3_str_finish(s);
  if (rc != SQLITE_OK || json == NULL) {
    sqlite3_free(json);
    sqlite3_result_error_code(ctx, rc == SQLITE_OK ? SQLITE_NOMEM : rc);
    return;
  }
  sqlite3_result_text(ctx, json, -1, sqlite3_free);
  sqlite3_result_subtype(ctx, 'J');
}
