/*
** semiperso.c - entry point of the semiperso SQLite extension: the
** semi-personalized user cold start recommender of Briand et al. (KDD 2021).
**
**   sqlite> .load ./semiperso
**
** Each binding file under ext/sql/ describes what it registers in one
** SpBinding (ext/sql/common.h); this file registers them in turn.  See
** README.md for the SQL surface and docs/ARCHITECTURE.md for the layers.
*/
#include <stddef.h>

#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT1

#include "sql/modules.h"

static const SpBinding *const bindings[] = {
    &sp_info_binding,      &sp_vec_binding,        &sp_features_binding,
    &sp_metrics_binding,   &sp_item_count_binding, &sp_mlp_binding,
    &sp_kmeans_binding,    &sp_topk_binding,       &sp_synth_binding,
    &sp_scripting_binding, &sp_stats_binding,      &sp_hash_binding,
    &sp_serve_binding,     &sp_bundle_binding,     &sp_onnx_binding,
    &sp_als_binding,       &sp_pmi_svd_binding,    &sp_dropoutnet_binding,
    &sp_melu_binding,
};

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_semiperso_init(sqlite3 *db, char **pzErrMsg,
                           const sqlite3_api_routines *pApi) {
  SQLITE_EXTENSION_INIT2(pApi);
  if (sp_load_blas(pzErrMsg) != SQLITE_OK) return SQLITE_ERROR;
  for (size_t i = 0; i < sizeof bindings / sizeof *bindings; i++) {
    int rc = sp_register(db, bindings[i], pzErrMsg);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}
