/*
** semiperso.c - entry point of the semiperso SQLite extension: the
** semi-personalized user cold start recommender of Briand et al. (KDD 2021).
**
**   sqlite> .load ./semiperso
**
** Each binding file under ext/sql/ registers its own functions; this file
** only calls them in turn.  See README.md for the SQL surface.
*/
#include <stddef.h>

#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT1

#include "sql/modules.h"

typedef int (*RegisterModule)(sqlite3 *, char **);

static const RegisterModule modules[] = {
    sp_register_info, /* first: it loads the BLAS */
    sp_register_vectors,
    sp_register_metrics,
    sp_register_embedder,
    sp_register_synth,
    sp_register_features,
    sp_register_scripting,
    sp_register_top_items,
    sp_register_segments,
    sp_register_topk,
};

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_semiperso_init(sqlite3 *db, char **pzErrMsg,
                           const sqlite3_api_routines *pApi) {
  SQLITE_EXTENSION_INIT2(pApi);
  for (size_t i = 0; i < sizeof modules / sizeof *modules; i++) {
    int rc = modules[i](db, pzErrMsg);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}
