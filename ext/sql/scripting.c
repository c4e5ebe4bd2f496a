/*
** scripting.c - helpers for the SQL scripts themselves:
**   raise_error(message)   fails the statement with that message
** SQLite's RAISE() exists only inside triggers; a script step that finds
** bad input (say, more segments than warm users) needs to stop with a
** message that says so:  SELECT raise_error('...') WHERE <problem>;
*/
#include "common.h"
#include "modules.h"

static void raise_error_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const char *msg = (const char *)sqlite3_value_text(argv[0]);
  sqlite3_result_error(ctx, msg ? msg : "raise_error() called", -1);
}

static const SpFunction scripting_functions[] = {
    {"raise_error", 1, SP_PURE, NULL, raise_error_func, NULL, NULL, NULL, NULL},
};

const SpBinding sp_scripting_binding = {scripting_functions, SP_COUNT(scripting_functions), NULL,
                                        0, 0, NULL};
