/*
** dropoutnet.h - DropoutNet (Volkovs, Yu and Poutanen, NeurIPS 2017) as
** the paper's Table 1 uses it for user cold start.  Plain C11 + CBLAS; no
** SQLite here.
**
** The model (public code, layer6ai-labs/DropoutNet, torch version):
**   user tower: [user preference vector (standardised; zero when dropped
**     out or cold) | user content] -> [Linear -> BatchNorm -> tanh] per
**     hidden width (800, 400) -> Linear (200)
**   item tower: the item's standardised preference vector -> the same
**     shape of layers
**   score(u, i) = user output . item output
**   loss: mean squared error against the warm preference score
**     P_u . P_i (raw vectors) of sampled (user, item) pairs.
** Details kept from the original: preference inputs standardised per
** column over the nonzero rows and clipped to +-5 (scaler.h); weights
** drawn from a normal of deviation 0.01 truncated at 2 deviations, output
** biases 0; BatchNorm1d with momentum 0.01 and eps 0.001 (running mean
** and unbiased variance used at inference); SGD with momentum 0.9 (torch's
** rule: buf = 0.9 buf + g, w -= lr buf), learning rate 0.005 multiplied by
** 0.1 after every 50 000 users trained on (the original decays every 50
** user batches of 1000); dropout 0.5.
**
** Choices this setting forces (each an option, documented in the report):
**  - User content: the project's input features restricted to positive
**    interactions (feature_layout.h, 14 d + 13 floats), its 13 trailing
**    scalars (counts, age) standardised like the preference vectors (the
**    original's sparse content needs no scaling; here an age near 40 would
**    drown the vector groups).  Items have no content (the tracks table
**    holds none).
**  - Dropout acts on users only: the items are all warm here, and an item
**    input with its preference dropped would be all zeros.  In each batch
**    floor(dropout * B) users, drawn at random, lose their preference
**    vector (the original drops pairs of a batch of 100 pairs).
**  - Batches: B users (batch_users) against a set of items made of
**    top_per_user items drawn from each user's top_items items by
**    preference score (computed once, by topk_dot) and random_items items
**    drawn uniformly (duplicates kept once); the loss covers every (user,
**    item) pair of that B x M grid.  The original scores each user against
**    its own 2500 top and 2500 random items in minibatches of 100 pairs,
**    1.75 million SGD steps per pass over 70 000 users: out of reach of a
**    CPU in minutes.  The grid costs one tower pass per user and per item
**    and gives B M target pairs for it; the original's top items (0.2 % of
**    its 1.3 M items) become the top 100 of 50 000 (0.2 %).
**  - No bias before BatchNorm (it cancels out).
**
** Training is split among a thread team (tiles.h): bit-identical results
** for any thread count.  Every product is sgemm.
*/
#ifndef SEMIPERSO_DROPOUTNET_H
#define SEMIPERSO_DROPOUTNET_H

#include <stddef.h>
#include <stdint.h>

#include "training.h"

#define DNET_MAX_HIDDEN 8
#define DNET_MAX_THREADS 64
#define DNET_BN_MOMENTUM 0.01f
#define DNET_BN_EPS 1e-3f
#define DNET_RNG_INIT 0x646e6574696eULL  /* "dnetin" */
#define DNET_RNG_TRAIN 0x646e65747472ULL /* "dnettr" */

typedef struct {
  int pref_dim;        /* d of user and item preference vectors */
  int content_dim;     /* user content columns (0: none) */
  int content_scalars; /* trailing content columns standardised */
  int n_hidden;        /* 1 .. DNET_MAX_HIDDEN */
  int hidden[DNET_MAX_HIDDEN];
  int output_dim;
} DropoutNetShape;

/* One tower's parameters (views into DropoutNet.params / stats). */
typedef struct {
  int n_hidden;
  int dims[DNET_MAX_HIDDEN + 2]; /* input, hidden..., output */
  float *W[DNET_MAX_HIDDEN + 1]; /* W[l] is dims[l+1] x dims[l]; the last is the output */
  float *gamma[DNET_MAX_HIDDEN], *beta[DNET_MAX_HIDDEN];
  float *bias; /* output bias */
  float *run_mean[DNET_MAX_HIDDEN], *run_var[DNET_MAX_HIDDEN];
} DnetTower;

typedef struct {
  DropoutNetShape shape;
  float *params; /* trainable: user tower, then item tower */
  size_t n_params;
  float *stats; /* BatchNorm running statistics, then the scalers */
  size_t n_stats;
  DnetTower user, item;
  float *user_mean, *user_scale;       /* pref_dim each */
  float *item_mean, *item_scale;       /* pref_dim each */
  float *content_mean, *content_scale; /* content_scalars each */
} DropoutNet;

typedef struct {
  int n_hidden;
  int hidden[DNET_MAX_HIDDEN]; /* 800, 400 */
  int output_dim;              /* 200 */
  int content_scalars;         /* 13 (FEATURE_POSITIVE_SCALARS) */
  int epochs;
  int batch_users;             /* B */
  int top_items;               /* each user's top items by P_u . P_i kept */
  int top_per_user;            /* drawn from them per batch */
  int random_items;            /* uniform items per batch */
  double dropout;              /* fraction of a batch's users */
  double learning_rate;
  double momentum;
  double lr_decay;             /* factor applied every decay_users users */
  int64_t decay_users;
  uint64_t seed;
  int threads;                 /* 0: one per CPU up to 4 */
} DropoutNetOptions;

/* The original's architecture and optimiser and this file's schedule. */
void dropoutnet_default_options(DropoutNetOptions *o);

/* NULL when o is usable for n_users users and n_items items, else a static
** message naming the option, e.g. "batch_users must be between 2 and ...". */
const char *dropoutnet_check_options(const DropoutNetOptions *o, int64_t n_users,
                                     int64_t n_items);

typedef struct {
  int64_t n_users;
  const float *user_pref;    /* n_users x pref_dim, warm users */
  const float *user_content; /* n_users x content_dim (NULL when 0) */
  int64_t n_items;
  const float *item_pref;    /* n_items x pref_dim */
  int pref_dim, content_dim;
} DropoutNetData;

/* Allocates a model of this shape, initialised from seed (scalers set to
** the identity).  TRAIN_OK, TRAIN_NOMEM, TRAIN_BADARG (a width < 1, too
** many layers, content_scalars outside [0, content_dim], sizes that
** overflow). */
int dropoutnet_init(DropoutNet *m, const DropoutNetShape *s, uint64_t seed);
void dropoutnet_free(DropoutNet *m);

/* The floats a model of shape s holds (every tensor of
** dropoutnet_tensors()), computed without allocating, so a stored model's
** sizes can be checked first; 0 for a shape dropoutnet_init() refuses. */
size_t dropoutnet_count_floats(const DropoutNetShape *s);

/* Trains a new model on data into *m (left zeroed on any failure, so the
** caller's previous model, kept elsewhere, is untouched).  Returns a
** TRAIN_* code; rep (optional) is filled on success.  Rows must be finite
** (not checked here). */
int dropoutnet_train(const DropoutNetData *data, const DropoutNetOptions *o,
                     const TrainCallbacks *cb, DropoutNet *m, TrainReport *rep);

/* The model's tensors in a fixed order: returns their count (at most
** dropoutnet_max_tensors()) and fills t. */
int dropoutnet_tensors(const DropoutNet *m, ParamTensor *t);
int dropoutnet_max_tensors(void);

/* Rebuilds a model of shape s from tensors (names and shapes as
** dropoutnet_tensors gives them).  TRAIN_BADARG with *bad naming the
** tensor at fault (or NULL for a bad shape); m zeroed on failure. */
int dropoutnet_load(DropoutNet *m, const DropoutNetShape *s, const ParamTensor *t, int n,
                    const char **bad);

/* Inference (BatchNorm running statistics).  User outputs of n users
** (output_dim each) from their raw preference vectors (NULL: all cold)
** and content; item outputs of n items from their raw preference
** vectors.  Rows are processed in fixed chunks split among threads
** (0: default).  TRAIN_OK or TRAIN_NOMEM. */
int dropoutnet_user_vectors(const DropoutNet *m, const float *pref, const float *content,
                            int64_t n, int threads, float *out);
int dropoutnet_item_vectors(const DropoutNet *m, const float *pref, int64_t n, int threads,
                            float *out);

/* ---- the training step, exposed for tests ------------------------------ */

typedef struct DnetTrainer DnetTrainer;

/* Scratch for batches of up to max_users users and max_items items
** (each >= 2), gradients and momentum.  NULL on failure. */
DnetTrainer *dnet_trainer_new(const DropoutNet *m, int max_users, int max_items, int threads);
void dnet_trainer_free(DnetTrainer *tr);
int dnet_trainer_threads(const DnetTrainer *tr);

/* Training-mode forward and backward pass of one batch given as tower
** inputs: Xu (B x (pref_dim + content_dim), standardised, dropped rows
** zero in their preference part), Xi (M x pref_dim, standardised), and
** target scores T (B x M).  Returns the mean squared error over the B M
** pairs and leaves its gradient (n_params floats, params' layout) in
** dnet_trainer_grad().  update_stats: update the BatchNorm running
** statistics as training does.  2 <= B, M within the trainer's limits. */
double dnet_loss_grad(DnetTrainer *tr, DropoutNet *m, const float *Xu, int B, const float *Xi,
                      int M, const float *T, int update_stats);
const float *dnet_trainer_grad(const DnetTrainer *tr);

/* One SGD-with-momentum step from the last gradient. */
void dnet_sgd_step(DnetTrainer *tr, DropoutNet *m, double lr, double momentum);

#endif
