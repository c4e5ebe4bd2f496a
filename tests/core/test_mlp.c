/* test_mlp.c - the embedder network: forward against a naive double
** implementation, finite-difference gradients of every parameter group,
** Adam's first step, learning, determinism, inference statistics, the
** same weights for every thread count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"
#include "check.h"
#include "rng.h"


/* Random input rows in the block layout of the net: some blocks zero. */
static void random_inputs(Rng *r, const Mlp *net, float *X, int n) {
  int in = net->dims[0];
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < in; j++) X[(size_t)i * in + j] = (float)(2.0 * rng_uniform(r) - 1.0);
    for (int g = 0; g < net->n_blocks; g++) {
      if (rng_uniform(r) < 0.4) {
        memset(X + (size_t)i * in + (size_t)g * net->block_size, 0, (size_t)net->block_size * sizeof(float));
      }
    }
  }
}

static void random_unit_rows(Rng *r, float *T, int n, int d) {
  for (int i = 0; i < n; i++) {
    double ss = 0;
    for (int j = 0; j < d; j++) {
      T[(size_t)i * d + j] = (float)rng_normal(r);
      ss += (double)T[(size_t)i * d + j] * T[(size_t)i * d + j];
    }
    for (int j = 0; j < d; j++) T[(size_t)i * d + j] /= (float)sqrt(ss);
  }
}

/* Naive forward in double of rows[0..B-1]: training mode (batch statistics)
** when train, else running statistics.  Writes B x dout into out, returns
** the MSE against T when T is not NULL. */
static double naive_forward(const Mlp *net, const float *X, const float *T,
                            const uint32_t *rows, int B, int train, double *out) {
  int L = net->n_layers;
  int mw = 0;
  for (int l = 0; l <= L; l++) mw = net->dims[l] > mw ? net->dims[l] : mw;
  double *h = calloc((size_t)B * mw, sizeof(double)), *z = calloc((size_t)B * mw, sizeof(double));
  int in = net->dims[0];
  for (int i = 0; i < B; i++)
    for (int j = 0; j < in; j++) h[(size_t)i * mw + j] = X[(size_t)rows[i] * in + j];
  for (int l = 0; l < L; l++) {
    int di = net->dims[l], dn = net->dims[l + 1];
    for (int i = 0; i < B; i++)
      for (int o = 0; o < dn; o++) {
        double s = net->b[l][o];
        for (int k = 0; k < di; k++) s += (double)net->W[l][(size_t)o * di + k] * h[(size_t)i * mw + k];
        z[(size_t)i * mw + o] = s;
      }
    if (l < L - 1) {
      for (int o = 0; o < dn; o++) {
        double mean = 0, var = 0;
        for (int i = 0; i < B; i++) {
          double a = z[(size_t)i * mw + o] > 0 ? z[(size_t)i * mw + o] : 0;
          z[(size_t)i * mw + o] = a;
          mean += a;
        }
        mean /= B;
        for (int i = 0; i < B; i++) var += (z[(size_t)i * mw + o] - mean) * (z[(size_t)i * mw + o] - mean);
        var /= B;
        if (!train) {
          mean = net->run_mean[l][o];
          var = net->run_var[l][o];
        }
        for (int i = 0; i < B; i++)
          h[(size_t)i * mw + o] = net->gamma[l][o] * (z[(size_t)i * mw + o] - mean) / sqrt(var + 1e-5) + net->beta[l][o];
      }
    } else {
      for (int i = 0; i < B; i++) {
        double ss = 0;
        for (int o = 0; o < dn; o++) ss += z[(size_t)i * mw + o] * z[(size_t)i * mw + o];
        for (int o = 0; o < dn; o++) out[(size_t)i * dn + o] = z[(size_t)i * mw + o] / sqrt(ss);
      }
    }
  }
  double loss = 0;
  int d = net->dims[L];
  if (T) {
    for (int i = 0; i < B; i++)
      for (int o = 0; o < d; o++) {
        double e = out[(size_t)i * d + o] - T[(size_t)rows[i] * d + o];
        loss += e * e;
      }
    loss /= (double)B * d;
  }
  free(h);
  free(z);
  return loss;
}

static void test_forward_and_gradients(void) {
  /* Input: 3 blocks of 4 floats and a tail of 3; hidden 7, 6; output 5. */
  int dims[] = {15, 7, 6, 5};
  Mlp net;
  CHECK_MSG(mlp_init(&net, 3, dims, 11) == 0, "mlp_init");
  CHECK_MSG(mlp_set_input_blocks(&net, 4, 3) == 0, "blocks");
  Rng r;
  rng_seed(&r, 5, 1);
  /* Non-trivial BatchNorm scale/shift and running statistics. */
  for (int l = 0; l < 2; l++)
    for (int j = 0; j < dims[l + 1]; j++) {
      net.gamma[l][j] = (float)(0.5 + rng_uniform(&r));
      net.beta[l][j] = (float)(rng_uniform(&r) - 0.5);
      net.run_mean[l][j] = (float)rng_uniform(&r);
      net.run_var[l][j] = (float)(0.5 + rng_uniform(&r));
    }
  enum { N = 10, B = 8 };
  float X[N * 15], T[N * 5];
  random_inputs(&r, &net, X, N);
  memset(X + 2 * 15, 0, 12 * sizeof(float)); /* a row with every block zero */
  random_unit_rows(&r, T, N, 5);
  uint32_t rows[B] = {9, 2, 4, 0, 7, 1, 5, 3};
  uint64_t masks[N];
  mlp_block_masks(&net, X, N, masks);
  CHECK_MSG(masks[2] == 0, "all-zero row mask %llu", (unsigned long long)masks[2]);

  /* Inference forward against the naive one. */
  float out[N * 5];
  double ref[N * 5];
  uint32_t all[N];
  for (int i = 0; i < N; i++) all[i] = (uint32_t)i;
  CHECK_MSG(mlp_forward(&net, X, N, out) == 0, "forward");
  naive_forward(&net, X, NULL, all, N, 0, ref);
  double md = 0;
  for (int i = 0; i < N * 5; i++) md = fmax(md, fabs(out[i] - ref[i]));
  CHECK_MSG(md < 1e-5, "inference forward differs from naive by %g", md);

  MlpTrainer *tr = mlp_trainer_new(&net, B, 1e-3f, 0.0f);
  CHECK_MSG(tr != NULL, "trainer");
  float *saved_stats = malloc(net.n_stats * sizeof(float));
  memcpy(saved_stats, net.stats, net.n_stats * sizeof(float));
  double loss = mlp_loss_grad(tr, &net, X, masks, T, rows, B, 0);
  CHECK_MSG(memcmp(saved_stats, net.stats, net.n_stats * sizeof(float)) == 0, "stats untouched");
  double nloss = naive_forward(&net, X, T, rows, B, 1, ref);
  CHECK_MSG(fabs(loss - nloss) < 1e-6, "training loss %.9g vs naive %.9g", loss, nloss);

  /* Dense path (no block layout, masks NULL) gives the same gradient. */
  float *grad = malloc(net.n_params * sizeof(float));
  memcpy(grad, mlp_trainer_grad(tr), net.n_params * sizeof(float));
  Mlp dense = net;
  dense.n_blocks = dense.block_size = 0;
  MlpTrainer *trd = mlp_trainer_new(&dense, B, 1e-3f, 0.0f);
  double dloss = mlp_loss_grad(trd, &dense, X, NULL, T, rows, B, 0);
  md = 0;
  for (size_t i = 0; i < net.n_params; i++) md = fmax(md, fabs(grad[i] - mlp_trainer_grad(trd)[i]));
  CHECK_MSG(fabs(dloss - loss) < 1e-7 && md < 1e-6, "sparse vs dense: loss %g/%g grad diff %g", loss, dloss, md);
  mlp_trainer_free(trd);
  /* Blocks planned as dense (block 1 claimed always set, though some rows
  ** have it zero) give the same gradient. */
  CHECK_MSG(mlp_always_blocks(&net, masks, N) == 0, "always blocks %llu",
        (unsigned long long)mlp_always_blocks(&net, masks, N));
  mlp_trainer_plan(tr, &net, 2);
  mlp_loss_grad(tr, &net, X, masks, T, rows, B, 0);
  md = 0;
  for (size_t i = 0; i < net.n_params; i++) md = fmax(md, fabs(grad[i] - mlp_trainer_grad(tr)[i]));
  CHECK_MSG(md < 1e-6, "planned dense block: grad diff %g", md);
  mlp_trainer_plan(tr, &net, 0);
  /* Sparse without precomputed masks: identical. */
  mlp_loss_grad(tr, &net, X, NULL, T, rows, B, 0);
  CHECK_MSG(memcmp(grad, mlp_trainer_grad(tr), net.n_params * sizeof(float)) == 0, "inline masks");

  /* Central differences on every parameter, by group. */
  const char *group_names[] = {"weight", "bias", "bn_scale", "bn_shift"};
  for (int l = 0; l < 3; l++) {
    float *groups[4] = {net.W[l], net.b[l], net.gamma[l], net.beta[l]};
    int sizes[4] = {dims[l] * dims[l + 1], dims[l + 1], dims[l + 1], dims[l + 1]};
    for (int k = 0; k < (l < 2 ? 4 : 2); k++) {
      double worst = 0, gmax = 0;
      for (int i = 0; i < sizes[k]; i++) gmax = fmax(gmax, fabs(grad[groups[k] + i - net.params]));
      for (int i = 0; i < sizes[k]; i++) {
        float *p = groups[k] + i, keep = *p;
        const float h = 1e-3f;
        *p = keep + h;
        double lp = naive_forward(&net, X, T, rows, B, 1, ref);
        *p = keep - h;
        double lm = naive_forward(&net, X, T, rows, B, 1, ref);
        *p = keep;
        double fd = (lp - lm) / (2.0 * h);
        double an = grad[p - net.params];
        double err = fabs(fd - an) / (1e-3 * gmax + fmax(fabs(fd), fabs(an)) + 1e-12);
        worst = fmax(worst, err);
      }
      CHECK_MSG(gmax > 1e-6 && worst < 1e-2, "layer %d %s: gradient relative error %g (max |g| %g)", l,
            group_names[k], worst, gmax);
    }
  }

  /* Running statistics follow BatchNorm1d's update (momentum 0.1, unbiased
  ** variance) for the first hidden layer. */
  mlp_loss_grad(tr, &net, X, masks, T, rows, B, 1);
  md = 0;
  for (int o = 0; o < 7; o++) {
    double a[B], mean = 0, var = 0;
    for (int i = 0; i < B; i++) {
      double s = net.b[0][o];
      for (int k = 0; k < 15; k++) s += (double)net.W[0][o * 15 + k] * X[rows[i] * 15 + k];
      a[i] = s > 0 ? s : 0;
      mean += a[i];
    }
    mean /= B;
    for (int i = 0; i < B; i++) var += (a[i] - mean) * (a[i] - mean);
    var /= B - 1;
    md = fmax(md, fabs(net.run_mean[0][o] - (0.9 * saved_stats[o] + 0.1 * mean)));
    md = fmax(md, fabs(net.run_var[0][o] - (0.9 * saved_stats[7 + o] + 0.1 * var)));
  }
  CHECK_MSG(md < 1e-5, "running statistics update off by %g", md);

  /* Adam's first step moves each parameter by lr * sign(gradient). */
  float *before = malloc(net.n_params * sizeof(float));
  memcpy(before, net.params, net.n_params * sizeof(float));
  mlp_loss_grad(tr, &net, X, masks, T, rows, B, 0);
  memcpy(grad, mlp_trainer_grad(tr), net.n_params * sizeof(float));
  mlp_adam_step(tr, &net);
  int bad = 0, moved = 0;
  for (size_t i = 0; i < net.n_params; i++) {
    double delta = (double)net.params[i] - before[i];
    if (fabs(grad[i]) > 1e-5) {
      moved++;
      double want = grad[i] > 0 ? -1e-3 : 1e-3;
      if (fabs(delta - want) > 2e-5) bad++;
    }
  }
  CHECK_MSG(moved > 100 && bad == 0, "adam first step: %d of %d parameters off", bad, moved);

  free(before);
  free(grad);
  free(saved_stats);
  mlp_trainer_free(tr);
  mlp_free(&net);
}

/* Trains a small synthetic regression: targets are normalize(X M). */
static double train_synthetic(uint64_t seed, int epochs, Mlp *net, double *first_loss) {
  int dims[] = {16, 32, 24, 8};
  enum { N = 256, B = 32 };
  static float X[N * 16], T[N * 8], M[16 * 8];
  Rng r;
  rng_seed(&r, 99, 2);
  for (int i = 0; i < N * 16; i++) X[i] = (float)rng_normal(&r);
  for (int i = 0; i < 16 * 8; i++) M[i] = (float)rng_normal(&r);
  for (int i = 0; i < N; i++)
    for (int o = 0; o < 8; o++) {
      double s = 0;
      for (int k = 0; k < 16; k++) s += X[i * 16 + k] * M[k * 8 + o];
      T[i * 8 + o] = (float)s;
    }
  random_unit_rows(&r, T, 0, 8);
  for (int i = 0; i < N; i++) {
    double ss = 0;
    for (int o = 0; o < 8; o++) ss += T[i * 8 + o] * T[i * 8 + o];
    for (int o = 0; o < 8; o++) T[i * 8 + o] /= (float)sqrt(ss);
  }
  CHECK_MSG(mlp_init(net, 3, dims, seed) == 0 && mlp_set_input_blocks(net, 4, 3) == 0, "init");
  MlpTrainer *tr = mlp_trainer_new(net, B, 3e-3f, 1e-4f);
  CHECK_MSG(tr != NULL, "trainer");
  uint32_t idx[N];
  for (int i = 0; i < N; i++) idx[i] = (uint32_t)i;
  Rng sh;
  rng_seed(&sh, seed, 3);
  double epoch_loss = 0;
  for (int e = 0; e < epochs; e++) {
    rng_shuffle(&sh, idx, N);
    epoch_loss = 0;
    for (int b = 0; b < N; b += B) epoch_loss += mlp_train_step(tr, net, X, NULL, T, idx + b, B) / (N / B);
    if (e == 0) *first_loss = epoch_loss;
  }
  mlp_trainer_free(tr);
  /* Evaluate in inference mode on the training rows. */
  static float out[N * 8];
  CHECK_MSG(mlp_forward(net, X, N, out) == 0, "forward");
  double loss = 0;
  for (int i = 0; i < N * 8; i++) loss += (out[i] - T[i]) * (out[i] - T[i]);
  return loss / (N * 8);
}

static void test_learning_and_determinism(void) {
  Mlp a, b, c;
  double first, fa, fb, fc;
  double la = train_synthetic(7, 150, &a, &fa);
  first = fa;
  CHECK_MSG(la < 0.02 && la < first / 8, "synthetic regression: loss %g after, %g first epoch", la, first);
  double lb = train_synthetic(7, 150, &b, &fb);
  CHECK_MSG(la == lb && memcmp(a.params, b.params, a.n_params * sizeof(float)) == 0 &&
            memcmp(a.stats, b.stats, a.n_stats * sizeof(float)) == 0,
        "same seed, different weights");
  train_synthetic(8, 150, &c, &fc);
  CHECK_MSG(memcmp(a.params, c.params, a.n_params * sizeof(float)) != 0, "seed ignored");

  /* Inference uses running statistics: one row alone equals the same row
  ** inside a batch, and two single rows differ. */
  float X[4 * 16], batch[4 * 8], one[8], other[8];
  Rng r;
  rng_seed(&r, 3, 4);
  for (int i = 0; i < 4 * 16; i++) X[i] = (float)rng_normal(&r);
  CHECK_MSG(mlp_forward(&a, X, 4, batch) == 0 && mlp_forward(&a, X + 2 * 16, 1, one) == 0 &&
                mlp_forward(&a, X + 3 * 16, 1, other) == 0,
            "forward");
  double md = 0, diff = 0, norm = 0;
  for (int o = 0; o < 8; o++) {
    md = fmax(md, fabs(one[o] - batch[2 * 8 + o]));
    diff = fmax(diff, fabs(one[o] - other[o]));
    norm += (double)one[o] * one[o];
  }
  CHECK_MSG(md < 1e-6, "single row vs in batch differ by %g", md);
  CHECK_MSG(diff > 1e-3, "two single rows give the same output");
  CHECK_MSG(fabs(sqrt(norm) - 1.0) < 1e-5, "output norm %g", sqrt(norm));
  mlp_free(&a);
  mlp_free(&b);
  mlp_free(&c);
}

/* Trains a few steps of a net wide enough for every column tile to be
** used, on block-sparse rows, with the given thread count; fills params
** and stats (n_params + n_stats floats) and returns the summed loss.
** separate: mlp_loss_grad then mlp_adam_step instead of mlp_train_step. */
static double train_threads(int threads, int separate, float *out) {
  int dims[] = {3 * 8 + 5, 70, 48, 33, 20};
  enum { N = 300, B = 64, STEPS = 12 };
  static float X[N * 29], T[N * 20];
  Mlp net;
  CHECK_MSG(mlp_init(&net, 4, dims, 21) == 0 && mlp_set_input_blocks(&net, 8, 3) == 0, "init");
  Rng r;
  rng_seed(&r, 17, 1);
  random_inputs(&r, &net, X, N);
  random_unit_rows(&r, T, N, 20);
  uint64_t masks[N];
  mlp_block_masks(&net, X, N, masks);
  MlpTrainer *tr = mlp_trainer_new(&net, B + 1, 1e-2f, 1e-3f);
  CHECK_MSG(tr != NULL && mlp_trainer_set_threads(tr, threads) == 0 && mlp_trainer_threads(tr) == threads,
        "trainer with %d threads", threads);
  uint32_t idx[N];
  for (int i = 0; i < N; i++) idx[i] = (uint32_t)i;
  Rng sh;
  rng_seed(&sh, 4, 3);
  double total = 0;
  for (int s = 0; s < STEPS; s++) {
    if (s % (N / B) == 0) rng_shuffle(&sh, idx, N);
    const uint32_t *rows = idx + (s % (N / B)) * B;
    int bsz = B + (s % 2); /* odd sizes too */
    const uint64_t *mk = s % 3 == 2 ? NULL : masks;
    if (separate) {
      total += mlp_loss_grad(tr, &net, X, mk, T, rows, bsz, 1);
      mlp_adam_step(tr, &net);
    } else {
      total += mlp_train_step(tr, &net, X, mk, T, rows, bsz);
    }
  }
  memcpy(out, net.params, net.n_params * sizeof(float));
  memcpy(out + net.n_params, net.stats, net.n_stats * sizeof(float));
  mlp_trainer_free(tr);
  mlp_free(&net);
  return total;
}

static void test_threads_identical(void) {
  int dims[] = {3 * 8 + 5, 70, 48, 33, 20};
  size_t ns = 0, np = mlp_count_params(4, dims, &ns);
  float *one = malloc((np + ns) * sizeof(float)), *many = malloc((np + ns) * sizeof(float));
  double l1 = train_threads(1, 0, one);
  for (int t = 2; t <= 5; t++) {
    double lt = train_threads(t, 0, many);
    CHECK_MSG(lt == l1 && memcmp(one, many, (np + ns) * sizeof(float)) == 0,
          "%d threads: weights differ from one thread (loss %.17g vs %.17g)", t, lt, l1);
  }
  double ls = train_threads(2, 1, many);
  CHECK_MSG(ls == l1 && memcmp(one, many, (np + ns) * sizeof(float)) == 0,
        "loss_grad + adam_step differs from train_step");
  Mlp net;
  CHECK_MSG(mlp_init(&net, 4, dims, 1) == 0, "init");
  MlpTrainer *tr = mlp_trainer_new(&net, 8, 1e-3f, 0);
  CHECK_MSG(mlp_trainer_threads(tr) >= 1, "default threads %d", mlp_trainer_threads(tr));
  CHECK_MSG(mlp_trainer_set_threads(tr, -1) == -2 && mlp_trainer_set_threads(tr, MLP_MAX_THREADS + 1) == -2,
        "bad thread counts accepted");
  CHECK_MSG(mlp_trainer_set_threads(tr, 0) == 0 && mlp_trainer_threads(tr) >= 1, "threads 0");
  mlp_trainer_free(tr);
  mlp_free(&net);
  free(one);
  free(many);
}

static void test_bad_sizes(void) {
  Mlp net;
  int zero[] = {4, 0, 3};
  CHECK_MSG(mlp_init(&net, 2, zero, 1) == -2, "zero width accepted");
  int huge[] = {2000000000, 2000000000, 3};
  CHECK_MSG(mlp_init(&net, 2, huge, 1) == -2, "overflowing sizes accepted");
  int ok[] = {4, 3};
  CHECK_MSG(mlp_init(&net, 0, ok, 1) == -2, "zero layers accepted");
  CHECK_MSG(mlp_init(&net, 1, ok, 1) == 0, "linear-only net rejected");
  CHECK_MSG(mlp_set_input_blocks(&net, 3, 2) == -2 && net.n_blocks == 0, "blocks wider than input");
  CHECK_MSG(mlp_trainer_new(&net, 1, 1e-3f, 0) == NULL, "batch of one accepted");
  mlp_free(&net);
}

/* Inference of a few rows skips zero input blocks with one matrix-vector
** product per block; it must compute what the dense sgemm path computes
** for the same rows inside a large batch. */
static void test_sparse_inference(void) {
  enum { BS = 4, NB = 3, TAIL = 2, IN = BS * NB + TAIL, ROWS = 12 };
  int dims[] = {IN, 6, 3};
  Mlp net;
  CHECK_MSG(mlp_init(&net, 2, dims, 11) == 0, "init");
  CHECK_MSG(mlp_set_input_blocks(&net, BS, NB) == 0, "blocks");
  /* Non-trivial BatchNorm statistics, so inference uses them. */
  for (int j = 0; j < 6; j++) {
    net.run_mean[0][j] = 0.1f * (float)j;
    net.run_var[0][j] = 0.5f + 0.2f * (float)j;
  }
  float X[ROWS * IN], batch[ROWS * 3], one[3];
  Rng r;
  rng_seed(&r, 5, 1);
  for (int i = 0; i < ROWS * IN; i++) X[i] = (float)rng_normal(&r);
  for (int i = 0; i < ROWS; i++) {
    /* Row i lacks the blocks of the bits of i (all three for i = 7). */
    for (int g = 0; g < NB; g++)
      if (i >> g & 1) memset(X + i * IN + g * BS, 0, BS * sizeof(float));
  }
  CHECK_MSG(mlp_forward(&net, X, ROWS, batch) == 0, "batch forward");
  double worst = 0;
  for (int i = 0; i < ROWS; i++) {
    CHECK_MSG(mlp_forward(&net, X + i * IN, 1, one) == 0, "row forward");
    for (int o = 0; o < 3; o++) worst = fmax(worst, fabs(one[o] - batch[i * 3 + o]));
  }
  CHECK_MSG(worst < 1e-6, "sparse single-row inference differs from the batch by %g", worst);
  mlp_free(&net);
}

int main(void) {
  test_forward_and_gradients();
  test_learning_and_determinism();
  test_threads_identical();
  test_bad_sizes();
  test_sparse_inference();
  return check_report();
}
