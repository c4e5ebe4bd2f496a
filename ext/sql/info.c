/*
** info.c - what the extension runs on:
**   semiperso_info()  JSON: the BLAS library, its version and config, the
**                     kernel in use and how it was chosen (and why), the
**                     self-check, threads, and the CPU's features
** sp_load_blas() loads the BLAS (ext/core/blas.h) at .load, before any
** binding registers.
*/
#include <stdlib.h>

#include "common.h"
#include "modules.h"

#include "../core/blas.h"

static void info_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  char *json = blas_info_json();
  if (json == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, json, -1, free);
  sqlite3_result_subtype(ctx, 'J');
}

static const SpFunction info_functions[] = {
    {"semiperso_info", 0, SQLITE_UTF8 | SQLITE_INNOCUOUS, NULL, info_func, NULL, NULL, NULL,
     NULL},
};

const SpBinding sp_info_binding = {info_functions, SP_COUNT(info_functions), NULL, 0, 0, NULL};

int sp_load_blas(char **pzErrMsg) {
  if (blas_init() == 0) return SQLITE_OK;
  if (pzErrMsg) *pzErrMsg = sqlite3_mprintf("semiperso: %s", blas_error());
  return SQLITE_ERROR;
}
