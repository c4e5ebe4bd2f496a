/*
** common.h - what every SQL binding file shares: how its functions and
** virtual-table modules are registered (with per-connection state), the
** flags they carry, and how results and errors are returned.
**
** A binding file describes itself in one SpBinding (its function table,
** its modules, the size of its per-connection state) and ext/semiperso.c
** registers every SpBinding through sp_register().  See
** docs/ARCHITECTURE.md, "Adding a SQL function".
*/
#ifndef SEMIPERSO_SQL_COMMON_H
#define SEMIPERSO_SQL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT3

/* sqlite-vec's subtype for float32 vectors, so its functions accept ours. */
#define SP_SUBTYPE_FLOAT32 223

/* SQLite 3.45 added SQLITE_RESULT_SUBTYPE: a function that may set a
** result subtype must say so (builds with SQLITE_STRICT_SUBTYPE refuse the
** subtype otherwise).  Older SQLite keeps only the flag bits it knows
** (sqlite3CreateFunc masks the rest away), so passing it is harmless. */
#ifndef SQLITE_RESULT_SUBTYPE
#define SQLITE_RESULT_SUBTYPE 0x001000000
#endif

/* A pure function of its arguments. */
#define SP_PURE (SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS)
/* Its result carries a subtype: every function that returns through
** sp_result_vector() or sp_result_json() has it, and no other. */
#define SP_SUBTYPED SQLITE_RESULT_SUBTYPE
/* Runs SQL it is given or writes the database: never from a view or
** trigger. */
#define SP_DIRECT (SQLITE_UTF8 | SQLITE_DIRECTONLY)

/* One SQL function: scalar when xFunc is set, aggregate when xStep is,
** window aggregate when xValue and xInverse are set too.  user_data is the
** binding's own constant data (sp_user_data()). */
typedef struct {
  const char *name;
  int n_arg;
  int flags;
  const void *user_data;
  void (*xFunc)(sqlite3_context *, int, sqlite3_value **);
  void (*xStep)(sqlite3_context *, int, sqlite3_value **);
  void (*xFinal)(sqlite3_context *);
  void (*xValue)(sqlite3_context *);
  void (*xInverse)(sqlite3_context *, int, sqlite3_value **);
} SpFunction;

/* One eponymous virtual-table module; its xConnect reads the binding's
** per-connection state with sp_module_state(pAux). */
typedef struct {
  const char *name;
  const sqlite3_module *module;
} SpModule;

/* What one binding file registers.  When state_size > 0, each connection
** gets one zeroed block of that size, shared by all the binding's
** functions and modules (sp_state(), sp_module_state()); state_clear
** (optional) releases what it holds, exactly once, when the connection
** closes or the last of them is replaced. */
typedef struct {
  const SpFunction *functions;
  int n_functions;
  const SpModule *modules;
  int n_modules;
  size_t state_size;
  void (*state_clear)(void *state);
} SpBinding;

#define SP_COUNT(array) ((int)(sizeof(array) / sizeof *(array)))

/* Registers everything b describes on db; on failure sets *pzErrMsg
** naming the function or module. */
int sp_register(sqlite3 *db, const SpBinding *b, char **pzErrMsg);

/* The running function's name, its SpFunction's user_data, and its
** binding's per-connection state. */
const char *sp_function_name(sqlite3_context *ctx);
const void *sp_user_data(sqlite3_context *ctx);
void *sp_state(sqlite3_context *ctx);

/* The per-connection state of the binding of a module (pAux of xConnect). */
void *sp_module_state(void *pAux);

/* sqlite3_result_error with a printf-style message. */
void sp_result_errorf(sqlite3_context *ctx, const char *fmt, ...);

/* Returns a failure: err (sqlite3_mprintf'd, freed here) as the message,
** or "out of memory" when err is NULL, with sp_error_code(rc). */
void sp_result_error_rc(sqlite3_context *ctx, int rc, char *err);

/* The error code to report for rc: rc itself where callers can act on it,
** SQLITE_ERROR for bad input (mismatch, range, corrupt model, ...). */
int sp_error_code(int rc);

/* "<fn>(): interrupted; <kept>": the message of every long function
** stopped by sqlite3_interrupt() (sqlite3_mprintf'd). */
char *sp_interrupted(const char *fn, const char *kept);

/* Returns v (n floats, sqlite3_malloc'd) as a float32 BLOB with
** sqlite-vec's subtype, taking ownership of v. */
void sp_result_vector(sqlite3_context *ctx, float *v, int n);

/* Finishes s and returns its text as the JSON result (subtype 'J', as
** SQLite's json functions mark theirs), or the error s ran into. */
void sp_result_json(sqlite3_context *ctx, sqlite3_str *s);

/* JSON written into an sqlite3_str (summaries, stored options): a comma
** goes before every member but the first of an object or array.  Numbers
** that are not finite are written as null, text is escaped. */
void sp_json_open(sqlite3_str *s, char bracket); /* '{' or '[' */
void sp_json_close(sqlite3_str *s, char bracket); /* '}' or ']' */
void sp_json_key(sqlite3_str *s, const char *key);
void sp_json_text(sqlite3_str *s, const char *key, const char *value);
void sp_json_int(sqlite3_str *s, const char *key, sqlite3_int64 value);
void sp_json_real(sqlite3_str *s, const char *key, double value);
void sp_json_bool(sqlite3_str *s, const char *key, int value);
void sp_json_ints(sqlite3_str *s, const char *key, const int *values, int n);
/* Seconds rounded to the millisecond. */
void sp_json_seconds(sqlite3_str *s, const char *key, double seconds);

/* The largest vector (in floats) a BLOB may hold on this connection. */
int sp_max_vector_len(sqlite3 *db);

/* CLOCK_MONOTONIC in seconds, for durations. */
double sp_now(void);

#endif
