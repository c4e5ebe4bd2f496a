/* options.c - JSON options objects, read once for every function (see options.h). */
#include <math.h>
#include <string.h>

#include "../core/json_array.h"
#include "common.h"
#include "options.h"

/* Stores one option's value, or says what it must be. */
static int set_option(const SpOption *o, const char *fn, const char *type,
                      sqlite3_value *v, char **err) {
  int is_int = strcmp(type, "integer") == 0;
  int is_num = is_int || strcmp(type, "real") == 0;
  switch (o->type) {
    case SP_OPT_INT: {
      sqlite3_int64 x = sqlite3_value_int64(v);
      if (!is_int) {
        *err = sqlite3_mprintf("%s(): option \"%s\" must be %s, not %s", fn, o->key,
                               o->expect ? o->expect : "an integer", type);
      } else if ((double)x < o->min || (double)x > o->max) {
        *err = o->expect
                   ? sqlite3_mprintf("%s(): option \"%s\" must be %s, got %lld", fn,
                                     o->key, o->expect, x)
                   : sqlite3_mprintf("%s(): option \"%s\" must be between %lld and "
                                     "%lld, got %lld", fn, o->key, (sqlite3_int64)o->min,
                                     (sqlite3_int64)o->max, x);
      } else {
        *(sqlite3_int64 *)o->value = x;
        return SQLITE_OK;
      }
      return SQLITE_ERROR;
    }
    case SP_OPT_REAL: {
      double x = sqlite3_value_double(v);
      if (is_num && isfinite(x) && (o->min_exclusive ? x > o->min : x >= o->min) &&
          x <= o->max) {
        *(double *)o->value = x;
        return SQLITE_OK;
      }
      *err = sqlite3_mprintf("%s(): option \"%s\" must be %s", fn, o->key,
                             o->expect ? o->expect : "a number in range");
      return SQLITE_ERROR;
    }
    case SP_OPT_BOOL: {
      int is_true = strcmp(type, "true") == 0;
      if (is_true || strcmp(type, "false") == 0) {
        *(int *)o->value = is_true;
        return SQLITE_OK;
      }
      /* 0 and 1 too, so scripts can pass settings stored as integers. */
      if (is_int && (sqlite3_value_int64(v) == 0 || sqlite3_value_int64(v) == 1)) {
        *(int *)o->value = (int)sqlite3_value_int64(v);
        return SQLITE_OK;
      }
      *err = sqlite3_mprintf("%s(): option \"%s\" must be true or false, not %s", fn,
                             o->key, type);
      return SQLITE_ERROR;
    }
    case SP_OPT_TEXT:
    case SP_OPT_ARRAY: {
      char **dst = o->value;
      const char *text = (const char *)sqlite3_value_text(v);
      int ok = o->type == SP_OPT_ARRAY ? strcmp(type, "array") == 0
                                       : strcmp(type, "null") == 0 ||
                                             (strcmp(type, "text") == 0 && text && *text);
      if (!ok) {
        *err = sqlite3_mprintf("%s(): option \"%s\" must be %s", fn, o->key,
                               o->expect ? o->expect
                               : o->type == SP_OPT_ARRAY ? "a JSON array"
                                                         : "a non-empty string or null");
        return SQLITE_ERROR;
      }
      sqlite3_free(*dst);
      *dst = NULL;
      if (strcmp(type, "null") == 0) return SQLITE_OK;
      *dst = sqlite3_mprintf("%s", text ? text : "");
      return *dst ? SQLITE_OK : SQLITE_NOMEM;
    }
  }
  return SQLITE_ERROR;
}

char *sp_options_json(sqlite3 *db, const SpOption *opts, int n_opts) {
  sqlite3_str *s = sqlite3_str_new(db);
  sp_json_open(s, '{');
  for (int i = 0; i < n_opts; i++) {
    const SpOption *o = &opts[i];
    switch (o->type) {
      case SP_OPT_INT:
        sp_json_int(s, o->key, *(sqlite3_int64 *)o->value);
        break;
      case SP_OPT_REAL:
        sp_json_real(s, o->key, *(double *)o->value);
        break;
      case SP_OPT_BOOL:
        sp_json_bool(s, o->key, *(int *)o->value);
        break;
      case SP_OPT_TEXT:
        sp_json_text(s, o->key, *(char **)o->value);
        break;
      case SP_OPT_ARRAY:
        sp_json_key(s, o->key);
        sqlite3_str_appendall(s, *(char **)o->value ? *(char **)o->value : "null");
        break;
    }
  }
  sp_json_close(s, '}');
  if (sqlite3_str_errcode(s) != SQLITE_OK) {
    sqlite3_free(sqlite3_str_finish(s));
    return NULL;
  }
  return sqlite3_str_finish(s);
}

static char *known_keys(const SpOption *opts, int n) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  for (int i = 0; i < n; i++) sqlite3_str_appendf(s, "%s%s", i ? ", " : "", opts[i].key);
  return sqlite3_str_finish(s);
}

int sp_parse_options(sqlite3 *db, const char *fn, int argno, sqlite3_value *json,
                     const SpOption *opts, int n_opts, char **err) {
  if (json == NULL || sqlite3_value_type(json) == SQLITE_NULL) return SQLITE_OK;
  sqlite3_stmt *st = NULL;
  /* The first row tells the top-level type; json_each then walks the keys
  ** (a non-object yields no key rows or array rows: both refused here).
  ** Malformed JSON fails the first step.  (Not json_valid(): SQLite 3.40's
  ** answers 0 when its parser runs out of memory.) */
  int rc = sqlite3_prepare_v2(db,
                              "SELECT json_type(?1), NULL, NULL, NULL UNION ALL "
                              "SELECT NULL, key, value, type FROM json_each(?1) "
                              "WHERE json_type(?1) = 'object'",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("%s(): cannot read options: %s", fn, sqlite3_errmsg(db));
    return rc;
  }
  sqlite3_bind_value(st, 1, json);
  rc = sqlite3_step(st);
  const char *top = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
  if (rc == SQLITE_NOMEM || (rc == SQLITE_ROW && top == NULL)) {
    sqlite3_finalize(st);
    return SQLITE_NOMEM;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_ERROR) { /* interrupted */
    *err = sqlite3_mprintf("%s(): cannot read options: %s", fn, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
  }
  if (sqlite3_value_type(json) != SQLITE_TEXT || top == NULL || strcmp(top, "object") != 0) {
    *err = sqlite3_mprintf("%s(): argument %d (options) must be a JSON object such as "
                           "'{\"%s\": ...}'", fn, argno, n_opts ? opts[0].key : "key");
    sqlite3_finalize(st);
    return SQLITE_ERROR;
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *key = (const char *)sqlite3_column_text(st, 1);
    const char *type = (const char *)sqlite3_column_text(st, 3);
    if (key == NULL || type == NULL) {
      rc = SQLITE_NOMEM;
      break;
    }
    int i = 0;
    while (i < n_opts && strcmp(opts[i].key, key) != 0) i++;
    if (i == n_opts) {
      char *known = known_keys(opts, n_opts);
      *err = sqlite3_mprintf("%s(): unknown option \"%s\" (known: %s)", fn, key,
                             known ? known : "?");
      sqlite3_free(known);
      rc = SQLITE_ERROR;
      break;
    }
    rc = set_option(&opts[i], fn, type, sqlite3_column_value(st, 2), err);
    if (rc != SQLITE_OK) break;
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) return SQLITE_OK;
  if (rc == SQLITE_NOMEM && *err == NULL) return SQLITE_NOMEM;
  if (*err == NULL) *err = sqlite3_mprintf("%s(): cannot read options: %s", fn, sqlite3_errmsg(db));
  return rc == SQLITE_ROW || rc == SQLITE_OK ? SQLITE_ERROR : rc;
}

int sp_parse_widths(const char *json, int *widths, int max, int max_width) {
  int64_t w[SP_MAX_WIDTHS];
  size_t n = 0;
  const char *jerr;
  if (json == NULL || max > SP_MAX_WIDTHS ||
      json_array_ids(json, strlen(json), NULL, 0, &n, &jerr) || n < 1 || n > (size_t)max ||
      json_array_ids(json, strlen(json), w, n, &n, &jerr))
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (w[i] < 1 || w[i] > max_width) return -1;
    widths[i] = (int)w[i];
  }
  return (int)n;
}
