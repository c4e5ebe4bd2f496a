/*
** modules.h - what each binding file registers (common.h, SpBinding); the
** entry file (ext/semiperso.c) registers each in turn.  ext/sql/X.c binds
** ext/core/X.c; features.c and scripting.c serve the SQL scripts.
*/
#ifndef SEMIPERSO_SQL_MODULES_H
#define SEMIPERSO_SQL_MODULES_H

#include "common.h"

extern const SpBinding sp_info_binding;       /* info.c: semiperso_info */
extern const SpBinding sp_vec_binding;        /* vec.c: vec_* */
extern const SpBinding sp_features_binding;   /* features.c: vec_group_avg, vec_group_count */
extern const SpBinding sp_metrics_binding;    /* metrics.c: precision_at, recall_at, ndcg_at */
extern const SpBinding sp_item_count_binding; /* item_count.c: top_items */
extern const SpBinding sp_mlp_binding;        /* mlp.c: train_embedder, embed_user */
extern const SpBinding sp_kmeans_binding;     /* kmeans.c: train_segments, assign_segment */
extern const SpBinding sp_topk_binding;       /* topk.c: topk_tracks, _batch, _lists */
extern const SpBinding sp_synth_binding;      /* synth.c: synthesize_dataset */
extern const SpBinding sp_scripting_binding;  /* scripting.c: raise_error */
extern const SpBinding sp_stats_binding;      /* stats.c: normal_cdf, normal_quantile */
extern const SpBinding sp_hash_binding;       /* hash.c: stable_hash */
extern const SpBinding sp_serve_binding;      /* serve.c: age_class, user_input_features,
                                                 recommend_cold_user */
extern const SpBinding sp_bundle_binding;     /* bundle.c: export_bundle */
extern const SpBinding sp_onnx_binding;       /* onnx.c: export_onnx */
extern const SpBinding sp_als_binding;        /* als.c: train_als */
extern const SpBinding sp_pmi_svd_binding;    /* pmi_svd.c: train_pmi_svd */
extern const SpBinding sp_dropoutnet_binding; /* dropoutnet.c: train_dropoutnet, dropoutnet_user,
                                                 dropoutnet_item, dropoutnet_recommend */
extern const SpBinding sp_melu_binding;       /* melu.c: train_melu, melu_support, melu_user,
                                                 melu_recommend */

/* info.c: loads the BLAS (ext/core/blas.h); the entry file calls it before
** registering anything, so a machine without a usable BLAS fails at .load
** with the reason in *pzErrMsg, not later. */
int sp_load_blas(char **pzErrMsg);

#endif
