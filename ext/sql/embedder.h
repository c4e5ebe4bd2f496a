/*
** embedder.h - the stored user embedder (the network of ext/core/mlp.h),
** as bindings other than mlp.c read it: export_onnx (onnx.c) loads a model
** through the same loader that serves embed_user, with the same checks.
*/
#ifndef SEMIPERSO_SQL_EMBEDDER_H
#define SEMIPERSO_SQL_EMBEDDER_H

#include "store.h"

/* Loads a model of sp_models_kind into a new Mlp (free with ->free). */
extern const SpModelLoader sp_embedder_loader;

#endif
