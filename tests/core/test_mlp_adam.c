/* test_mlp_adam.c - several training steps of the embedder network against
** an independent reference: the same network, its backward pass and Adam
** with L2 weight decay (torch.optim.Adam's: the decay added to the
** gradient), written here as plain loops in double precision from the
** formulas of mlp.h.  Every parameter, running statistic and loss must
** agree to 1e-6 after each step.  Weight decay's effect is also checked by
** hand on parameters whose loss gradient is exactly zero (a dead unit):
** each step moves them towards zero by the learning rate, and not at all
** without decay.  And the starting point: nn.Linear's initialisation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mlp.h"
#include "rng.h"

enum { L = 3, N = 24, B = 8, STEPS = 6, MW = 6 };
static const int dims[L + 1] = {6, 5, 3, 3}; /* 81 parameters: not a multiple of 4 */
#define LR 0.01
#define WD 0.05
#define DEAD_UNIT 2 /* of the first hidden layer */

/* The reference's state: parameters, Adam moments, running statistics. */
typedef struct {
  double W[L][MW][MW], b[L][MW], gamma[L][MW], beta[L][MW];
  double mW[L][MW][MW], mb[L][MW], mg[L][MW], mbe[L][MW];
  double vW[L][MW][MW], vb[L][MW], vg[L][MW], vbe[L][MW];
  double rmean[L][MW], rvar[L][MW];
  int t;
} Ref;

static void ref_from_net(Ref *r, const Mlp *net) {
  memset(r, 0, sizeof *r);
  for (int l = 0; l < L; l++) {
    int in = dims[l], out = dims[l + 1];
    for (int o = 0; o < out; o++) {
      for (int i = 0; i < in; i++) r->W[l][o][i] = net->W[l][o * in + i];
      r->b[l][o] = net->b[l][o];
      if (l < L - 1) {
        r->gamma[l][o] = net->gamma[l][o];
        r->beta[l][o] = net->beta[l][o];
        r->rmean[l][o] = net->run_mean[l][o];
        r->rvar[l][o] = net->run_var[l][o];
      }
    }
  }
}

/* One Adam step of one parameter (moments m, v), gradient g plus decay. */
static void adam(double *p, double *m, double *v, double g, int t, double wd) {
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  g += wd * *p;
  *m = b1 * *m + (1 - b1) * g;
  *v = b2 * *v + (1 - b2) * g * g;
  double mhat = *m / (1 - pow(b1, t)), vhat = *v / (1 - pow(b2, t));
  *p -= LR * mhat / (sqrt(vhat) + eps);
}

/* Smallest |gradient + decay| over parameters with a nonzero loss
** gradient: the network's float gradients carry absolute errors of about
** 1e-9 here, which Adam's normalisation turns into update errors of about
** lr * 1e-9 / |gradient + decay|.  (Parameters whose gradient is exactly
** zero, as the dead unit's, get it exactly zero in both.) */
static double smallest_step_input = INFINITY;

static void note_gradient(double g, double p, double wd) {
  double e = fabs(g + wd * p);
  if (g != 0 && e < smallest_step_input) smallest_step_input = e;
}

/* One training step on rows[0..B-1]: forward in training mode, MSE loss,
** backward, running statistics, Adam.  Returns the loss. */
static double ref_step(Ref *r, const float *X, const float *T, const uint32_t *rows, double wd) {
  double h[L + 1][B][MW];  /* layer inputs; h[L] the normalised output */
  double a[L][B][MW];      /* ReLU outputs of hidden layers */
  double xhat[L][B][MW], inv[L][MW];
  double z[B][MW], norm[B];
  for (int i = 0; i < B; i++)
    for (int j = 0; j < dims[0]; j++) h[0][i][j] = X[rows[i] * dims[0] + j];
  for (int l = 0; l < L; l++) {
    int in = dims[l], out = dims[l + 1];
    for (int i = 0; i < B; i++)
      for (int o = 0; o < out; o++) {
        double s = r->b[l][o];
        for (int k = 0; k < in; k++) s += r->W[l][o][k] * h[l][i][k];
        z[i][o] = s;
      }
    if (l < L - 1) {
      for (int o = 0; o < out; o++) {
        double mean = 0, var = 0;
        for (int i = 0; i < B; i++) {
          a[l][i][o] = z[i][o] > 0 ? z[i][o] : 0;
          mean += a[l][i][o];
        }
        mean /= B;
        for (int i = 0; i < B; i++) var += (a[l][i][o] - mean) * (a[l][i][o] - mean);
        inv[l][o] = 1 / sqrt(var / B + 1e-5);
        for (int i = 0; i < B; i++) {
          xhat[l][i][o] = (a[l][i][o] - mean) * inv[l][o];
          h[l + 1][i][o] = r->gamma[l][o] * xhat[l][i][o] + r->beta[l][o];
        }
        r->rmean[l][o] = 0.9 * r->rmean[l][o] + 0.1 * mean;
        r->rvar[l][o] = 0.9 * r->rvar[l][o] + 0.1 * var / (B - 1);
      }
    } else {
      for (int i = 0; i < B; i++) {
        double ss = 0;
        for (int o = 0; o < out; o++) ss += z[i][o] * z[i][o];
        norm[i] = sqrt(ss);
        for (int o = 0; o < out; o++) h[L][i][o] = z[i][o] / norm[i];
      }
    }
  }
  /* Loss and its gradient through the normalisation: for y = z / |z|,
  ** dL/dz = (dL/dy - y (y . dL/dy)) / |z|. */
  int dout = dims[L];
  double loss = 0, d[B][MW], dprev[B][MW];
  for (int i = 0; i < B; i++) {
    double dot = 0;
    for (int o = 0; o < dout; o++) {
      double e = h[L][i][o] - T[rows[i] * dout + o];
      loss += e * e;
      d[i][o] = 2 * e / (B * dout);
      dot += d[i][o] * h[L][i][o];
    }
    for (int o = 0; o < dout; o++) d[i][o] = (d[i][o] - h[L][i][o] * dot) / norm[i];
  }
  loss /= B * dout;
  /* Backward, layer by layer; d is dL/dz of layer l.  Gradients are taken
  ** before any parameter moves, then Adam updates them all. */
  double gW[L][MW][MW], gb[L][MW], gg[L][MW], gbe[L][MW];
  memset(gg, 0, sizeof gg);
  memset(gbe, 0, sizeof gbe);
  for (int l = L - 1; l >= 0; l--) {
    int in = dims[l], out = dims[l + 1];
    for (int o = 0; o < out; o++) {
      gb[l][o] = 0;
      for (int i = 0; i < B; i++) gb[l][o] += d[i][o];
      for (int k = 0; k < in; k++) {
        gW[l][o][k] = 0;
        for (int i = 0; i < B; i++) gW[l][o][k] += d[i][o] * h[l][i][k];
      }
    }
    if (l == 0) break;
    /* dL/dh of the layer below, then its BatchNorm and ReLU. */
    for (int i = 0; i < B; i++)
      for (int k = 0; k < in; k++) {
        dprev[i][k] = 0;
        for (int o = 0; o < out; o++) dprev[i][k] += d[i][o] * r->W[l][o][k];
      }
    int hl = l - 1;
    for (int k = 0; k < in; k++) {
      double sdy = 0, sdyx = 0;
      for (int i = 0; i < B; i++) {
        sdy += dprev[i][k];
        sdyx += dprev[i][k] * xhat[hl][i][k];
      }
      gg[hl][k] = sdyx;
      gbe[hl][k] = sdy;
      /* dxhat = dy gamma; da = inv (dxhat - mean(dxhat) - xhat mean(dxhat xhat)). */
      for (int i = 0; i < B; i++) {
        double da = r->gamma[hl][k] * inv[hl][k] *
                    (dprev[i][k] - sdy / B - xhat[hl][i][k] * sdyx / B);
        d[i][k] = a[hl][i][k] > 0 ? da : 0;
      }
    }
  }
  r->t++;
  for (int l = 0; l < L; l++) {
    int in = dims[l], out = dims[l + 1];
    for (int o = 0; o < out; o++) {
      for (int k = 0; k < in; k++) {
        note_gradient(gW[l][o][k], r->W[l][o][k], wd);
        adam(&r->W[l][o][k], &r->mW[l][o][k], &r->vW[l][o][k], gW[l][o][k], r->t, wd);
      }
      note_gradient(gb[l][o], r->b[l][o], wd);
      adam(&r->b[l][o], &r->mb[l][o], &r->vb[l][o], gb[l][o], r->t, wd);
      if (l < L - 1) {
        note_gradient(gg[l][o], r->gamma[l][o], wd);
        note_gradient(gbe[l][o], r->beta[l][o], wd);
        adam(&r->gamma[l][o], &r->mg[l][o], &r->vg[l][o], gg[l][o], r->t, wd);
        adam(&r->beta[l][o], &r->mbe[l][o], &r->vbe[l][o], gbe[l][o], r->t, wd);
      }
    }
  }
  return loss;
}

/* Largest difference between the network and the reference, relative to
** the value for values above 1 (float resolution: the dead bias is -100). */
static double rel(double got, double want) { return fabs(got - want) / fmax(1.0, fabs(want)); }

static double max_diff(const Mlp *net, const Ref *r) {
  double md = 0;
  for (int l = 0; l < L; l++) {
    int in = dims[l], out = dims[l + 1];
    for (int o = 0; o < out; o++) {
      for (int k = 0; k < in; k++) md = fmax(md, rel(net->W[l][o * in + k], r->W[l][o][k]));
      md = fmax(md, rel(net->b[l][o], r->b[l][o]));
      if (l < L - 1) {
        md = fmax(md, rel(net->gamma[l][o], r->gamma[l][o]));
        md = fmax(md, rel(net->beta[l][o], r->beta[l][o]));
        md = fmax(md, rel(net->run_mean[l][o], r->rmean[l][o]));
        md = fmax(md, rel(net->run_var[l][o], r->rvar[l][o]));
      }
    }
  }
  return md;
}

static void make_data(float *X, float *T) {
  Rng r;
  rng_seed(&r, 2024, 5);
  for (int i = 0; i < N * dims[0]; i++) X[i] = (float)rng_normal(&r);
  for (int i = 0; i < N; i++) {
    double ss = 0;
    for (int o = 0; o < dims[L]; o++) {
      T[i * dims[L] + o] = (float)rng_normal(&r);
      ss += (double)T[i * dims[L] + o] * T[i * dims[L] + o];
    }
    for (int o = 0; o < dims[L]; o++) T[i * dims[L] + o] = (float)(T[i * dims[L] + o] / sqrt(ss));
  }
}

/* A network whose first hidden unit DEAD_UNIT never fires (bias -100). */
static void make_net(Mlp *net) {
  CHECK_MSG(mlp_init(net, L, dims, 77) == 0, "mlp_init");
  net->b[0][DEAD_UNIT] = -100.0f;
}

static void batch_rows(int s, uint32_t *rows) {
  for (int i = 0; i < B; i++) rows[i] = (uint32_t)((s * 7 + i * 5) % N); /* distinct: 5 and 24 coprime */
}

/* STEPS steps with weight decay wd, each compared with the reference. */
static void test_against_reference(double wd) {
  static float X[N * 6], T[N * 3];
  make_data(X, T);
  Mlp net;
  make_net(&net);
  Ref r;
  ref_from_net(&r, &net);
  MlpTrainer *tr = mlp_trainer_new(&net, B, (float)LR, (float)wd);
  CHECK_MSG(tr != NULL, "trainer");
  if (tr == NULL) return;
  double worst = 0, worst_loss = 0, moved = 0;
  Ref start = r;
  for (int s = 0; s < STEPS; s++) {
    uint32_t rows[B];
    batch_rows(s, rows);
    double loss = mlp_train_step(tr, &net, X, NULL, T, rows, B);
    double want = ref_step(&r, X, T, rows, wd);
    worst_loss = fmax(worst_loss, fabs(loss - want) / want);
    worst = fmax(worst, max_diff(&net, &r));
  }
  for (int l = 0; l < L; l++)
    for (int o = 0; o < dims[l + 1]; o++) moved = fmax(moved, fabs(r.b[l][o] - start.b[l][o]));
  CHECK_MSG(worst < 1e-6, "wd %g: parameters or statistics off the reference by %g", wd, worst);
  /* The loss is a few times more sensitive than the parameters here
  ** (BatchNorm of nearly constant columns). */
  CHECK_MSG(worst_loss < 1e-5, "wd %g: loss off the reference by %g", wd, worst_loss);
  CHECK_MSG(moved > 3 * LR, "wd %g: the steps barely moved the parameters (%g)", wd, moved);
  /* The fixture is well conditioned (see note_gradient). */
  CHECK_MSG(smallest_step_input > 2e-5, "fixture too close to zero gradients: %g",
            smallest_step_input);
  mlp_trainer_free(tr);
  mlp_free(&net);
}

/* The dead unit's incoming weights get an exactly zero loss gradient, so
** with decay wd Adam sees g = wd p: after step 1, p1 = p0 - lr sign(p0)
** |g| / (|g| + eps) (m/(1-beta1) = g, sqrt(v/(1-beta2)) = |g|), and the
** later steps keep moving p towards zero.  Without decay they never move. */
static void test_decay_on_dead_unit(void) {
  static float X[N * 6], T[N * 3];
  make_data(X, T);
  for (int with = 0; with <= 1; with++) {
    double wd = with ? WD : 0.0;
    Mlp net;
    make_net(&net);
    int in = dims[0];
    float w0[6];
    memcpy(w0, net.W[0] + DEAD_UNIT * in, sizeof w0);
    float gamma0 = net.gamma[0][DEAD_UNIT];
    MlpTrainer *tr = mlp_trainer_new(&net, B, (float)LR, (float)wd);
    uint32_t rows[B];
    batch_rows(0, rows);
    mlp_train_step(tr, &net, X, NULL, T, rows, B);
    const float *grad = mlp_trainer_grad(tr);
    double gmax = 0;
    for (int k = 0; k < in; k++) gmax = fmax(gmax, fabs(grad[net.W[0] + DEAD_UNIT * in + k - net.params]));
    CHECK_MSG(gmax == 0, "the dead unit's weights got a loss gradient %g", gmax);
    double worst = 0;
    for (int k = 0; k < in; k++) {
      double p0 = w0[k], g = wd * p0;
      double want = g == 0 ? p0 : p0 - LR * (g > 0 ? 1 : -1) * fabs(g) / (fabs(g) + 1e-8);
      worst = fmax(worst, fabs(net.W[0][DEAD_UNIT * in + k] - want));
    }
    /* gamma of a dead unit: xhat = 0, so its loss gradient is zero too. */
    double gwant = with ? gamma0 - LR * WD * gamma0 / (WD * gamma0 + 1e-8) : gamma0;
    worst = fmax(worst, fabs(net.gamma[0][DEAD_UNIT] - gwant));
    CHECK_MSG(worst < 1e-7, "weight decay %g, step 1: dead unit parameters off by %g", wd, worst);
    for (int s = 1; s < STEPS; s++) {
      batch_rows(s, rows);
      mlp_train_step(tr, &net, X, NULL, T, rows, B);
    }
    /* Later steps: g = wd p keeps its sign while |p| > lr STEPS, and an
    ** Adam step on a gradient of constant sign moves by at most about lr
    ** (|m^| <= sqrt(v^)), here by more than half of it. */
    int toward = 1, still = 1, checked = 0;
    for (int k = 0; k < in; k++) {
      double p0 = w0[k], p = net.W[0][DEAD_UNIT * in + k];
      still &= p == p0;
      if (fabs(p0) <= 2 * STEPS * LR) continue;
      checked++;
      double move = fabs(p0) - fabs(p);
      toward &= p * p0 > 0 && move > 0.5 * STEPS * LR && move <= STEPS * LR * (1 + 1e-6);
    }
    if (with) {
      CHECK_MSG(checked >= 2 && toward,
                "weight decay must pull the dead unit's weights towards zero by about lr per "
                "step (%d weights checked)", checked);
    } else {
      CHECK_MSG(still, "without weight decay the dead unit's weights must not move");
    }
    mlp_trainer_free(tr);
    mlp_free(&net);
  }
}

/* The starting point the reference inherits: nn.Linear's initialisation,
** weights and biases uniform in +-1/sqrt(fan_in) (mlp.h), BatchNorm scale 1
** and shift 0.  120 000 uniform weights: the largest |w| is within 1e-3 of
** the bound (the chance of a gap that large is e^-120), the variance
** bound^2 / 3 to 2 %. */
static void test_init_distribution(void) {
  int d[] = {400, 300, 3};
  Mlp net;
  CHECK_MSG(mlp_init(&net, 2, d, 5) == 0, "mlp_init");
  double bound = 1.0 / sqrt(400.0), big = 0, ss = 0;
  size_t nw = 400 * 300;
  for (size_t i = 0; i < nw; i++) {
    big = fmax(big, fabs(net.W[0][i]));
    ss += (double)net.W[0][i] * net.W[0][i];
  }
  CHECK_MSG(big <= bound && big > bound * (1 - 1e-3), "largest first-layer weight %g, bound %g",
            big, bound);
  CHECK_NEAR(ss / nw, bound * bound / 3, 0.02 * bound * bound / 3);
  double bbig = 0;
  for (int o = 0; o < 300; o++) bbig = fmax(bbig, fabs(net.b[0][o]));
  CHECK_MSG(bbig <= bound && bbig > 0.9 * bound, "largest first-layer bias %g, bound %g", bbig, bound);
  CHECK(net.gamma[0][7] == 1.0f && net.beta[0][7] == 0.0f);
  mlp_free(&net);
}

int main(void) {
  test_init_distribution();
  test_against_reference(WD);
  test_against_reference(4 * WD);
  test_decay_on_dead_unit();
  return check_report();
}
