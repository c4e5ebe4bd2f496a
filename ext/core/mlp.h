/*
** mlp.h - the user embedder network: a feed-forward regressor trained with
** Adam.  Plain C11 + CBLAS; no SQLite here.
**
** Contract (the network of the public reference code):
**   input -> [Linear -> ReLU -> BatchNorm] x hidden layers -> Linear -> L2
**   normalisation of each row.
** BatchNorm is PyTorch's BatchNorm1d: in training mode each batch is
** normalised with its own mean and biased variance, and the running mean
** and (unbiased) variance are updated with momentum MLP_BN_MOMENTUM; in
** inference mode the running statistics are used.  eps = MLP_BN_EPS.
** The output row z becomes z / max(|z|, 1e-12) (as torch's F.normalize).
** Loss: mean squared error over the batch and the output dimensions.
** Optimiser: Adam (beta1 0.9, beta2 0.999, eps 1e-8) with optional L2
** weight decay added to the gradient (torch.optim.Adam's weight_decay).
** Initialisation: torch.nn.Linear's default (weights and biases uniform in
** +-1/sqrt(fan_in)), BatchNorm scale 1, shift 0, running mean 0, var 1,
** drawn from the project RNG (rng.h, stream MLP_RNG_STREAM) so a seed gives
** bit-identical weights.
**
** Layout: weights are row-major out x in (as torch stores them).  Every
** trainable parameter lives in one contiguous array `params` (per layer:
** W, b, then for hidden layers gamma, beta); the running statistics live in
** `stats` (per hidden layer: mean, var).  Gradients and Adam moments share
** the params layout, so optimiser steps are one pass over flat arrays.
**
** Block-sparse input: when the input is made of n_blocks groups of
** block_size floats followed by a dense tail (the reference feature layout
** is 20 groups of d then 19 scalars), mlp_set_input_blocks() lets training
** skip the all-zero groups of each row in the first layer's forward and
** weight-gradient products, and inference of a few rows (one user at a
** time) skip them too.  The result is the same function (zeros
** contribute nothing), only the float summation order differs.
**
** All heavy arithmetic is sgemm on whole batches (training: split among
** the trainer's threads, see mlp_trainer_set_threads).  Functions returning int
** return 0 on success and -1 when memory cannot be allocated.
*/
#ifndef SEMIPERSO_MLP_H
#define SEMIPERSO_MLP_H

#include <stddef.h>
#include <stdint.h>

#define MLP_MAX_LAYERS 16 /* linear layers, hidden ones + the output one */
#define MLP_MAX_BLOCKS 64
#define MLP_MAX_THREADS 64
#define MLP_BN_MOMENTUM 0.1f
#define MLP_BN_EPS 1e-5f
#define MLP_RNG_STREAM 0x6d6c70u /* "mlp" */

typedef struct {
  int n_layers;                 /* linear layers: hidden count + 1 */
  int dims[MLP_MAX_LAYERS + 1]; /* dims[0] input ... dims[n_layers] output */
  float *params;                /* all trainable parameters */
  size_t n_params;
  float *stats;                 /* BatchNorm running mean/var */
  size_t n_stats;
  /* Views into params / stats, per layer (gamma..var NULL for the last). */
  float *W[MLP_MAX_LAYERS], *b[MLP_MAX_LAYERS];
  float *gamma[MLP_MAX_LAYERS], *beta[MLP_MAX_LAYERS];
  float *run_mean[MLP_MAX_LAYERS], *run_var[MLP_MAX_LAYERS];
  /* Input layout for the sparse first layer (0 blocks: dense). */
  int block_size, n_blocks;
} Mlp;

/* Allocates a network with the given layer widths (dims has n_layers + 1
** entries, each >= 1; 1 <= n_layers <= MLP_MAX_LAYERS) and initialises it
** from seed.  Returns 0, -1 on allocation failure, -2 on bad sizes
** (including sizes whose parameter count overflows). */
int mlp_init(Mlp *net, int n_layers, const int *dims, uint64_t seed);
void mlp_free(Mlp *net);

/* Number of trainable parameters / running statistics for these widths,
** or 0 when they are invalid or overflow. */
size_t mlp_count_params(int n_layers, const int *dims, size_t *n_stats);

/* Declares the first-layer input layout (see above).  Returns -2 and keeps
** the network dense when it does not fit dims[0] or n_blocks exceeds
** MLP_MAX_BLOCKS.  block_size 0 or n_blocks 0 makes it dense. */
int mlp_set_input_blocks(Mlp *net, int block_size, int n_blocks);

/* Blocks nonzero in every one of the n rows (AND of their masks). */
uint64_t mlp_always_blocks(const Mlp *net, const uint64_t *masks, int64_t n);

/* One bit per input block of each of the n rows of X (row-major, dims[0]
** wide): bit g set when block g of the row has a nonzero entry. */
void mlp_block_masks(const Mlp *net, const float *X, int64_t n,
                     uint64_t *masks);

/* Inference-mode forward pass of n rows of X (row-major, dims[0] wide) into
** out (n x dims[n_layers]), rows of unit length (or zero). */
int mlp_forward(const Mlp *net, const float *X, int64_t n, float *out);

typedef struct MlpTrainer MlpTrainer;

/* Training state for batches of up to max_batch rows (>= 2): scratch,
** gradients and Adam moments.  NULL on allocation failure. */
MlpTrainer *mlp_trainer_new(const Mlp *net, int max_batch, float lr,
                            float weight_decay);
void mlp_trainer_free(MlpTrainer *tr);

/* Threads a training pass (mlp_loss_grad, mlp_adam_step, mlp_train_step)
** runs on; a new trainer uses the default, blas_team_threads() (blas.h)
** up to 4 (each product is cut into 4 fixed column tiles, see mlp.c,
** which is also why the result is bit-identical for every thread count).
** No process-wide setting is touched: each member's sgemm runs on that
** member, so trainings on several connections at once do not disturb
** each other or anyone else.  threads 0 means the default.  Returns
** 0, -2 when threads is negative or above MLP_MAX_THREADS, -1 when the
** threads cannot be started (the previous setting is kept; a new trainer
** then falls back to one thread). */
int mlp_trainer_set_threads(MlpTrainer *tr, int threads);
int mlp_trainer_threads(const MlpTrainer *tr);

/* Tells the trainer which input blocks are nonzero in every training row
** (mlp_always_blocks): they are gathered as dense columns, merged with the
** dense neighbours into wider products.  Only speed changes (summation
** order aside).  A new trainer assumes 0. */
void mlp_trainer_plan(MlpTrainer *tr, const Mlp *net, uint64_t always);

/* Gradient of the flat parameter array (net->n_params floats), valid after
** mlp_loss_grad. */
const float *mlp_trainer_grad(const MlpTrainer *tr);

/* Training-mode forward and backward pass over the batch of rows
** rows[0..B-1] of X (dims[0] wide) against targets T (dims[n_layers] wide,
** same row numbering).  masks (from mlp_block_masks, may be NULL) tells
** which input blocks are nonzero.  Fills the gradient and returns the mean
** squared error.  2 <= B <= max_batch.  When update_stats is nonzero the
** BatchNorm running statistics are updated as in training.  A non-finite
** loss is returned as is. */
double mlp_loss_grad(MlpTrainer *tr, Mlp *net, const float *X,
                     const uint64_t *masks, const float *T,
                     const uint32_t *rows, int B, int update_stats);

/* One Adam step from the gradient of the last mlp_loss_grad. */
void mlp_adam_step(MlpTrainer *tr, Mlp *net);

/* mlp_loss_grad with update_stats, then mlp_adam_step. */
double mlp_train_step(MlpTrainer *tr, Mlp *net, const float *X,
                      const uint64_t *masks, const float *T,
                      const uint32_t *rows, int B);

#endif
