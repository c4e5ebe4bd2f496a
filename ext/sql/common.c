/* common.c - registration, results and JSON output for the bindings (see common.h). */
#include "common.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

/* ---- registration -------------------------------------------------------- */

typedef struct SpConnection SpConnection;

/* The user data of one registration (a function or a module). */
typedef struct {
  SpConnection *conn;
  const SpFunction *fn; /* NULL for a module */
} SpEntry;

/* One binding on one connection.  SQLite calls the destructor of every
** registration exactly once (when it is replaced, when the connection
** closes, or when registering it failed); the state goes with the last. */
struct SpConnection {
  const SpBinding *binding;
  int live; /* registrations not yet destroyed, plus one while registering */
  void *state;
  SpEntry entries[];
};

static void connection_release(SpConnection *c) {
  if (--c->live > 0) return;
  if (c->state && c->binding->state_clear) c->binding->state_clear(c->state);
  sqlite3_free(c->state);
  sqlite3_free(c);
}

static void entry_release(void *p) { connection_release(((SpEntry *)p)->conn); }

int sp_register(sqlite3 *db, const SpBinding *b, char **pzErrMsg) {
  int n = b->n_functions + b->n_modules;
  SpConnection *c = sqlite3_malloc64(sizeof *c + (sqlite3_uint64)n * sizeof(SpEntry));
  if (c == NULL) return SQLITE_NOMEM;
  c->binding = b;
  c->live = 1;
  c->state = NULL;
  if (b->state_size > 0) {
    c->state = sqlite3_malloc64(b->state_size);
    if (c->state == NULL) {
      sqlite3_free(c);
      return SQLITE_NOMEM;
    }
    memset(c->state, 0, b->state_size);
  }
  int rc = SQLITE_OK;
  const char *name = NULL;
  for (int i = 0; i < n && rc == SQLITE_OK; i++) {
    SpEntry *e = &c->entries[i];
    e->conn = c;
    e->fn = i < b->n_functions ? &b->functions[i] : NULL;
    c->live++; /* released by SQLite through entry_release, even on failure */
    if (e->fn == NULL) {
      const SpModule *m = &b->modules[i - b->n_functions];
      name = m->name;
      rc = sqlite3_create_module_v2(db, m->name, m->module, e, entry_release);
    } else if (e->fn->xValue) {
      name = e->fn->name;
      rc = sqlite3_create_window_function(db, name, e->fn->n_arg, e->fn->flags, e,
                                          e->fn->xStep, e->fn->xFinal, e->fn->xValue,
                                          e->fn->xInverse, entry_release);
    } else {
      name = e->fn->name;
      rc = sqlite3_create_function_v2(db, name, e->fn->n_arg, e->fn->flags, e, e->fn->xFunc,
                                      e->fn->xStep, e->fn->xFinal, entry_release);
    }
  }
  if (rc != SQLITE_OK && pzErrMsg) {
    *pzErrMsg = sqlite3_mprintf("semiperso: error registering %s: %s", name, sqlite3_errmsg(db));
  }
  connection_release(c);
  return rc;
}

const char *sp_function_name(sqlite3_context *ctx) {
  const SpEntry *e = sqlite3_user_data(ctx);
  return e && e->fn ? e->fn->name : "semiperso";
}

const void *sp_user_data(sqlite3_context *ctx) {
  const SpEntry *e = sqlite3_user_data(ctx);
  return e->fn->user_data;
}

void *sp_state(sqlite3_context *ctx) {
  const SpEntry *e = sqlite3_user_data(ctx);
  return e->conn->state;
}

void *sp_module_state(void *pAux) { return ((SpEntry *)pAux)->conn->state; }

/* ---- results --------------------------------------------------------------- */

void sp_result_errorf(sqlite3_context *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  sp_result_error_rc(ctx, SQLITE_ERROR, msg);
}

int sp_error_code(int rc) {
  switch (rc & 0xff) {
    case SQLITE_INTERRUPT:
    case SQLITE_TOOBIG:
    case SQLITE_NOMEM:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
      return rc;
    default:
      return SQLITE_ERROR;
  }
}

void sp_result_error_rc(sqlite3_context *ctx, int rc, char *err) {
  if (err == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_error(ctx, err, -1);
  sqlite3_free(err);
  if (sp_error_code(rc) != SQLITE_ERROR) sqlite3_result_error_code(ctx, rc);
}

char *sp_interrupted(const char *fn, const char *kept) {
  return sqlite3_mprintf("%s(): interrupted; %s", fn, kept);
}

void sp_result_vector(sqlite3_context *ctx, float *v, int n) {
  sqlite3_result_blob64(ctx, v, (sqlite3_uint64)n * sizeof(float), sqlite3_free);
  sqlite3_result_subtype(ctx, SP_SUBTYPE_FLOAT32);
}

void sp_result_json(sqlite3_context *ctx, sqlite3_str *s) {
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

/* ---- JSON output ------------------------------------------------------------ */

void sp_json_open(sqlite3_str *s, char bracket) { sqlite3_str_appendchar(s, 1, bracket); }

void sp_json_close(sqlite3_str *s, char bracket) { sqlite3_str_appendchar(s, 1, bracket); }

/* A JSON string literal. */
static void append_string(sqlite3_str *s, const char *text) {
  sqlite3_str_appendchar(s, 1, '"');
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    if (*p == '"' || *p == '\\') sqlite3_str_appendf(s, "\\%c", *p);
    else if (*p < 0x20) sqlite3_str_appendf(s, "\\u%04x", *p);
    else sqlite3_str_appendchar(s, 1, (char)*p);
  }
  sqlite3_str_appendchar(s, 1, '"');
}

void sp_json_key(sqlite3_str *s, const char *key) {
  int len = sqlite3_str_length(s);
  const char *text = sqlite3_str_value(s);
  if (len > 0 && text && text[len - 1] != '{' && text[len - 1] != '[') {
    sqlite3_str_appendchar(s, 1, ',');
  }
  if (key) {
    append_string(s, key);
    sqlite3_str_appendchar(s, 1, ':');
  }
}

void sp_json_text(sqlite3_str *s, const char *key, const char *value) {
  sp_json_key(s, key);
  if (value) append_string(s, value);
  else sqlite3_str_appendall(s, "null");
}

void sp_json_int(sqlite3_str *s, const char *key, sqlite3_int64 value) {
  sp_json_key(s, key);
  sqlite3_str_appendf(s, "%lld", value);
}

void sp_json_real(sqlite3_str *s, const char *key, double value) {
  sp_json_key(s, key);
  /* What SQLite's json_object() writes for a REAL. */
  if (isfinite(value)) sqlite3_str_appendf(s, "%!0.15g", value);
  else sqlite3_str_appendall(s, "null");
}

void sp_json_bool(sqlite3_str *s, const char *key, int value) {
  sp_json_key(s, key);
  sqlite3_str_appendall(s, value ? "true" : "false");
}

void sp_json_ints(sqlite3_str *s, const char *key, const int *values, int n) {
  sp_json_key(s, key);
  sp_json_open(s, '[');
  for (int i = 0; i < n; i++) sp_json_int(s, NULL, values[i]);
  sp_json_close(s, ']');
}

void sp_json_seconds(sqlite3_str *s, const char *key, double seconds) {
  sp_json_key(s, key);
  sqlite3_str_appendf(s, "%.3f", seconds);
}

/* ---- limits and clocks -------------------------------------------------------- */

int sp_max_vector_len(sqlite3 *db) {
  return sqlite3_limit(db, SQLITE_LIMIT_LENGTH, -1) / (int)sizeof(float);
}

double sp_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
