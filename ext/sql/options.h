/*
** options.h - the JSON options object that training and generating
** functions take ('{"k": 100, "quiet": true}'), read in one place with
** SQLite's own json_each.  A caller describes its options in a table
** (key, type, range, where the value goes) after filling in the defaults;
** sp_parse_options() overwrites what the JSON sets.  Unknown keys, wrong
** types and out-of-range values are errors naming the function and the
** option; a NULL argument means "all defaults".
*/
#ifndef SEMIPERSO_SQL_OPTIONS_H
#define SEMIPERSO_SQL_OPTIONS_H

#include "sqlite3ext.h"

typedef enum {
  SP_OPT_INT,   /* JSON integer in [min, max]        -> sqlite3_int64 */
  SP_OPT_REAL,  /* JSON number in [min, max], finite -> double; with
                ** min_exclusive, strictly above min */
  SP_OPT_BOOL,  /* true / false (or 1 / 0)           -> int */
  SP_OPT_TEXT,  /* non-empty string, or null         -> char *, sqlite3_malloc'd
                **                                      (NULL for null); the
                **                                      old value is freed */
  SP_OPT_ARRAY  /* JSON array, as its JSON text      -> char *, as TEXT */
} SpOptionType;

typedef struct {
  const char *key;
  SpOptionType type;
  double min, max;      /* SP_OPT_INT and SP_OPT_REAL */
  int min_exclusive;    /* SP_OPT_REAL */
  void *value;          /* where the value is stored (type above) */
  const char *expect;   /* what the message says a bad value must be, or
                        ** NULL for the range or type */
} SpOption;

/* Parses json (argument argno of fn) into the options.  On error returns
** non-OK and sets *err (sqlite3_mprintf'd). */
int sp_parse_options(sqlite3 *db, const char *fn, int argno, sqlite3_value *json,
                     const SpOption *opts, int n_opts, char **err);

/* The options' current values as one JSON object, keys in table order (as
** a model stores the options it was trained with); sqlite3_malloc'd, NULL
** when out of memory. */
char *sp_options_json(sqlite3 *db, const SpOption *opts, int n_opts);

/* Layer widths from the JSON text of an SP_OPT_ARRAY option: 1 .. max
** integers (max <= SP_MAX_WIDTHS), each in [1, max_width].  Returns how
** many, or -1 (json NULL included). */
#define SP_MAX_WIDTHS 64
int sp_parse_widths(const char *json, int *widths, int max, int max_width);

#endif
