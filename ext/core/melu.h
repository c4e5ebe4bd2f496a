/*
** melu.h - MeLU (Lee, Im, Jang, Cho and Chung, KDD 2019), a meta-learned
** user preference estimator, as the paper's Table 1 uses it for user cold
** start.  Plain C11 + CBLAS; no SQLite here.
**
** The model (public code, hoyeoplee/MeLU):
**   user embedding: one linear map (no bias) per field of the user's input
**     features, concatenated; item embedding: a linear map of the item's
**     vector (the original embeds categorical and multi-hot fields the
**     same way: one-hot rows of an Embedding, Linear layers without bias)
**   decision layers: [user embedding | item embedding] -> Linear -> ReLU
**     per hidden width (64, 64) -> Linear (1): the predicted preference
**   meta-learning, per user: a local update of the decision layers, one
**     plain gradient step (local_lr 5e-6) of the support set's mean
**     squared error; then the query set's mean squared error at the
**     locally updated weights, averaged over a batch of 32 users, gives the
**     global update of every parameter (Adam, 5e-5).  As in the public
**     code (whose load_state_dict drops the graph of the local step), the
**     global gradient is first order: the query loss's gradient at the
**     local weights, without the second-order term of the local step.
**   initialisation: torch.nn.Linear's (uniform in +-1/sqrt(fan_in)).
**
** Choices this setting forces (implicit feedback, 50 000 tracks):
**  - Fields: the project's input features (feature_layout.h): each of the
**    20 groups of d floats is a field with its own d -> embed_dim map; the
**    19 trailing scalars (counts, age) are standardised over the training
**    users (scaler.h) and embedded by one more map.  An absent group is
**    zero and embeds to zero.  Items: the track's vector (or, in a support
**    set, the vector of the album, artist or playlist clicked).
**  - Labels are implicit: 1 for a positive, 0 for a negative, the loss the
**    original's mean squared error.  Support set (training and serving
**    alike): the user's registration-day events as given by the caller,
**    positives (streams, likes, favorites) with label 1 and explicit
**    negatives (skips, bans) with label 0, plus support_negatives sampled
**    tracks (label 0) per positive, drawn uniformly from the catalog (the
**    original's ratings carry their own negatives; clicks do not).  Users
**    without events get no local update.
**  - Query set (training): query_positives tracks drawn from the warm
**    user's top_items tracks by preference score P_u . P_i (the warm
**    analogue of the tracks a cold user will stream) with label 1, and
**    query_negatives uniform tracks with label 0.  Drawn anew each epoch.
**  - Serving a cold user: the local update on their support set, then
**    every track scored by the locally updated layers, in blocks of tracks
**    with one sgemm per layer: about 2 (32 + 64) 64 flops per track and
**    user, 0.6 GFLOP per user for 50 000 tracks.
**  - Sampled negatives come from a random stream keyed by the seed and
**    the user (and the epoch in training), so a user's support set does
**    not depend on the batch or thread that processes it.
**
** Training is split among a thread team by users (per-user gradients
** summed in user order) and by parameter ranges: bit-identical results
** for any thread count.  Serving splits users among threads.
*/
#ifndef SEMIPERSO_MELU_H
#define SEMIPERSO_MELU_H

#include <stddef.h>
#include <stdint.h>

#include "training.h"

#define MELU_MAX_HIDDEN 8
#define MELU_MAX_FIELDS 64
#define MELU_MAX_THREADS 64
#define MELU_RNG_INIT 0x6d656c75696eULL   /* "meluin" */
#define MELU_RNG_TRAIN 0x6d656c757472ULL  /* "melutr" */
#define MELU_RNG_SERVE 0x6d656c757376ULL  /* "melusv" */

typedef struct {
  int item_dim;  /* width of item (and support) vectors, and of P_u */
  int n_fields;  /* vector fields of the user input, 0..MELU_MAX_FIELDS */
  int field_dim; /* their width */
  int n_scalars; /* trailing scalars, standardised, embedded together */
  int embed_dim;
  int n_hidden;  /* 1..MELU_MAX_HIDDEN */
  int hidden[MELU_MAX_HIDDEN];
} MeluShape;

typedef struct {
  MeluShape shape;
  float *params; /* embeddings, then the decision layers */
  size_t n_params;
  size_t decision; /* offset of the decision layers in params */
  float *stats;    /* scalar_mean, scalar_scale */
  float *E_field[MELU_MAX_FIELDS]; /* embed_dim x field_dim each */
  float *E_scalar;                 /* embed_dim x n_scalars (NULL when none) */
  float *E_item;                   /* embed_dim x item_dim */
  float *W[MELU_MAX_HIDDEN + 1], *b[MELU_MAX_HIDDEN + 1]; /* decision layers */
  float *scalar_mean, *scalar_scale;
} Melu;

typedef struct {
  int embed_dim;               /* 32 */
  int n_hidden;
  int hidden[MELU_MAX_HIDDEN]; /* 64, 64 */
  int epochs;
  int batch_users;             /* 32 */
  double local_lr;             /* 5e-6 */
  int local_steps;             /* 1 */
  double global_lr;            /* 5e-5, Adam */
  int top_items;               /* query positives are drawn from these */
  int query_positives;
  int query_negatives;
  double support_negatives;    /* sampled negatives per support positive */
  uint64_t seed;
  int threads;                 /* 0: one per CPU up to 4 */
} MeluOptions;

void melu_default_options(MeluOptions *o);

/* NULL when o is usable for n_users users and n_items items, else a static
** message naming the option. */
const char *melu_check_options(const MeluOptions *o, int64_t n_users, int64_t n_items);

/* Per-user item lists in CSR form: user u's entries are
** [offsets[u], offsets[u + 1]), each an index into vectors (n_vectors x
** item_dim) with a label (> 0.5: positive). */
typedef struct {
  const int64_t *offsets;
  const int32_t *entries;
  const float *labels;
  const float *vectors;
  int64_t n_vectors;
} MeluSupport;

typedef struct {
  int64_t n_users;
  const float *features;  /* n_users x (n_fields field_dim + n_scalars) */
  const float *user_pref; /* n_users x item_dim (training only) */
  MeluSupport support;
  const uint64_t *keys;   /* serving: per user, keys its sampled negatives
                             (e.g. user ids); NULL: the row index */
} MeluUsers;

typedef struct {
  int n_fields, field_dim, n_scalars, item_dim;
  int64_t n_items;
  const float *items; /* n_items x item_dim: the tracks */
  /* Serving: the tracks' item embeddings (n_items x embed_dim) as
  ** melu_item_embeddings() gives them, kept by a caller that serves many
  ** calls; NULL: each melu_recommend() call computes them. */
  const float *item_embeddings;
} MeluCatalog;

int melu_init(Melu *m, const MeluShape *s, uint64_t seed);
void melu_free(Melu *m);

/* The floats of every tensor of melu_tensors() for shape s, computed
** without allocating (to check a stored model first); 0 for a shape
** melu_init() refuses. */
size_t melu_count_floats(const MeluShape *s);

/* Trains a new model into *m (zeroed on any failure).  Returns a TRAIN_*
** code; rep (optional) filled on success.  Inputs must be finite (not
** checked here); support entries must index support.vectors. */
int melu_train(const MeluUsers *users, const MeluCatalog *cat, const MeluOptions *o,
               const TrainCallbacks *cb, Melu *m, TrainReport *rep);

/* Tensors in a fixed order (count returned, at most melu_max_tensors()). */
int melu_tensors(const Melu *m, ParamTensor *t);
int melu_max_tensors(void);
int melu_load(Melu *m, const MeluShape *s, const ParamTensor *t, int n, const char **bad);

/* The local update of one user: fast receives the decision layers
** (m->n_params - m->decision floats, params' layout) after local_steps
** steps of local_lr on the support set (S vectors of item_dim, labels);
** S = 0 leaves them as they are.  features: one row. */
int melu_local_update(const Melu *m, const float *features, const float *support, const float *labels,
                      int S, double local_lr, int local_steps, float *fast);

/* The item embeddings of the catalog's tracks (n_items x embed_dim floats
** into out), for MeluCatalog.item_embeddings.  TRAIN_OK or TRAIN_BADARG
** (a catalog of another width). */
int melu_item_embeddings(const Melu *m, const MeluCatalog *cat, float *out);

/* Serves n users: the local update on each user's support set (as given,
** plus sampled negatives keyed by o->seed and the user's key), then the k
** best of the catalog's tracks by predicted preference (ties by smaller
** index) into out_idx (n x k) and out_score (optional).  Also, when vecs
** is not NULL, each user's vector in the model's own space: the first
** decision layer's user part W0u ue + b0 at the local weights (hidden[0]
** floats), e.g. to segment users.  k may be 0 (vectors only). */
int melu_recommend(const Melu *m, const MeluUsers *users, const MeluCatalog *cat,
                   const MeluOptions *o, int k, int32_t *out_idx, float *out_score, float *vecs);

/* ---- the training step, exposed for tests ------------------------------ */

/* Mean over the users of the query mean squared error at each user's
** locally updated weights, and its first-order gradient (n_params floats,
** params' layout) in grad: one global step of MeLU before Adam.  Users
** given explicitly: features rows, support (S_u vectors + labels) and
** query (Q_u vectors + labels) per user via CSR offsets.  threads 0:
** default. */
typedef struct {
  int n;                      /* users */
  const float *features;      /* n x input */
  const int64_t *s_off;       /* n + 1 */
  const float *s_vec, *s_lab; /* support rows, item_dim each */
  const int64_t *q_off;
  const float *q_vec, *q_lab;
} MeluBatch;

double melu_meta_grad(const Melu *m, const MeluBatch *b, double local_lr, int local_steps,
                      int threads, float *grad);

#endif
