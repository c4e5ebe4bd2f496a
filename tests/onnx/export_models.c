/* export_models.c - writes the ONNX parity test's material into DIR:
** for each case a random embedder (non-trivial BatchNorm statistics)
** exported with onnx_export_embedder (NAME.onnx), input rows
** (NAME.in.f32, float32 row-major) and what mlp_forward gives for them one
** row at a time, as embed_user computes (NAME.out.f32), listed in
** DIR/cases.json.  check_model.py and parity.js read them.
**
** The edge rows must reach the regimes they are there for (a row whose
** squared norm overflows float, rows shorter than the 1e-12 floor, an
** exact zero row): a double-precision forward pass written here checks
** that, and the program fails when one is not reached.
**
** usage: export_models DIR */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"
#include "onnx.h"
#include "rng.h"

#define GROUPS 20  /* the reference feature layout: 20 groups of d floats */
#define SCALARS 19 /* then 18 event counts and the age */

static const char *out_dir;
static FILE *manifest;
static int n_cases;

static void die(const char *what) {
  fprintf(stderr, "export_models: %s\n", what);
  exit(1);
}

static double uniform(Rng *r, double lo, double hi) {
  return lo + (hi - lo) * rng_uniform(r);
}

/* BatchNorm parameters and running statistics a trained network could
** have, instead of mlp_init's identity (1, 0, 0, 1). */
static void randomize_batchnorm(Mlp *net, Rng *r) {
  for (int l = 0; l < net->n_layers - 1; l++) {
    for (int j = 0; j < net->dims[l + 1]; j++) {
      net->gamma[l][j] = (float)uniform(r, 0.5, 1.5);
      net->beta[l][j] = (float)uniform(r, -0.5, 0.5);
      net->run_mean[l][j] = (float)uniform(r, 0.0, 0.6);
      net->run_var[l][j] = (float)uniform(r, 0.05, 2.0);
    }
  }
}

/* One user's features in the reference layout: age and country groups
** almost always there, each interaction group rarely (most are zero),
** counts for the groups present, the age. */
static void feature_row(Rng *r, int d, float *x) {
  memset(x, 0, (size_t)(GROUPS * d + SCALARS) * sizeof *x);
  for (int g = 0; g < GROUPS; g++) {
    double p = g == 0 ? 0.9 : g == 1 ? 0.95 : 0.15;
    if (rng_uniform(r) >= p) continue;
    for (int j = 0; j < d; j++) x[g * d + j] = (float)(0.1 * rng_normal(r));
    if (g >= 2) x[GROUPS * d + g - 2] = (float)(1 + rng_below(r, 40));
  }
  if (rng_uniform(r) < 0.9) x[GROUPS * d + SCALARS - 1] = (float)(15 + rng_below(r, 56));
}

/* |z|^2 of the network's output before normalisation, in double. */
static double output_sq_norm(const Mlp *net, const float *x) {
  int mw = 1;
  for (int l = 0; l <= net->n_layers; l++) mw = net->dims[l] > mw ? net->dims[l] : mw;
  double *a = malloc((size_t)mw * sizeof *a), *c = malloc((size_t)mw * sizeof *c);
  if (a == NULL || c == NULL) die("out of memory");
  for (int j = 0; j < net->dims[0]; j++) a[j] = x[j];
  for (int l = 0; l < net->n_layers; l++) {
    int din = net->dims[l], dout = net->dims[l + 1];
    for (int o = 0; o < dout; o++) {
      double s = net->b[l][o];
      for (int i = 0; i < din; i++) s += (double)net->W[l][(size_t)o * din + i] * a[i];
      if (l < net->n_layers - 1) {
        s = s > 0 ? s : 0;
        s = (s - net->run_mean[l][o]) / sqrt((double)net->run_var[l][o] + MLP_BN_EPS) *
                net->gamma[l][o] + net->beta[l][o];
      }
      c[o] = s;
    }
    double *t = a;
    a = c;
    c = t;
  }
  double ss = 0;
  for (int j = 0; j < net->dims[net->n_layers]; j++) ss += a[j] * a[j];
  free(a);
  free(c);
  return ss;
}

static int write_file(void *ctx, const void *bytes, size_t n) {
  return fwrite(bytes, 1, n, ctx) == n ? 0 : 1;
}

static FILE *open_out(const char *name, const char *ext) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s%s", out_dir, name, ext);
  FILE *f = fopen(path, "wb");
  if (f == NULL) die("cannot create an output file");
  return f;
}

static void write_floats(const char *name, const char *ext, const float *x, size_t n) {
  FILE *f = open_out(name, ext);
  if (fwrite(x, sizeof *x, n, f) != n || fclose(f) != 0) die("cannot write an output file");
}

/* Exports net as NAME.onnx, its outputs for the n rows of X as the
** expected ones, and the case's line of the manifest. */
static void write_case(const char *name, const Mlp *net, const OnnxInfo *info, const float *X,
                       int n) {
  int din = net->dims[0], dout = net->dims[net->n_layers];
  FILE *f = open_out(name, ".onnx");
  uint64_t size = 0;
  int rc = onnx_export_embedder(net, info, write_file, f, &size);
  if (fclose(f) != 0 || rc != ONNX_OK) die("onnx_export_embedder failed");
  float *Y = malloc((size_t)n * dout * sizeof *Y);
  if (Y == NULL) die("out of memory");
  for (int i = 0; i < n; i++) {
    if (mlp_forward(net, X + (size_t)i * din, 1, Y + (size_t)i * dout) != 0) die("out of memory");
  }
  write_floats(name, ".in.f32", X, (size_t)n * din);
  write_floats(name, ".out.f32", Y, (size_t)n * dout);
  free(Y);
  fprintf(manifest, "%s{\"name\": \"%s\", \"rows\": %d, \"input_dim\": %d, \"output_dim\": %d, "
          "\"dims\": [", n_cases++ ? ",\n " : "", name, n, din, dout);
  for (int l = 0; l <= net->n_layers; l++) fprintf(manifest, "%s%d", l ? ", " : "", net->dims[l]);
  fprintf(manifest,
          "], \"blocks\": [%d, %d], \"bytes\": %llu, \"graph_name\": \"%s\", "
          "\"producer_version\": \"%s\", \"model_version\": %lld}",
          net->n_blocks, net->block_size, (unsigned long long)size,
          info && info->graph_name ? info->graph_name : "semiperso_embedder",
          info && info->producer_version ? info->producer_version : "",
          info ? (long long)info->model_version : 0LL);
  printf("%s: %d rows, %d -> %d, %llu bytes\n", name, n, din, dout, (unsigned long long)size);
}

/* The paper's network (hidden 400, 300, 200; d = 128, so 2579 inputs) on
** realistic users, then edge rows: zero, only the age, huge values of
** either sign (|z|^2 beyond FLT_MAX), tiny values. */
static void case_embedder(Rng *r) {
  enum { D = 128, IN = GROUPS * D + SCALARS, USERS = 500, EDGES = 6 };
  int dims[] = {IN, 400, 300, 200, D};
  Mlp net;
  if (mlp_init(&net, 4, dims, 7) != 0) die("mlp_init failed");
  randomize_batchnorm(&net, r);
  mlp_set_input_blocks(&net, D, GROUPS); /* as embed_user's model loader */
  float *X = calloc((size_t)(USERS + EDGES) * IN, sizeof *X);
  if (X == NULL) die("out of memory");
  for (int i = 0; i < USERS; i++) feature_row(r, D, X + (size_t)i * IN);
  float *e = X + (size_t)USERS * IN;
  /* e row 0: all zero */
  e[1 * IN + IN - 1] = 35.0f;
  for (int j = 0; j < IN; j++) {
    e[2 * IN + j] = 1e20f;
    e[3 * IN + j] = j % 2 ? 1e20f : -1e20f;
    e[4 * IN + j] = j % 3 ? 3e18f : -2e19f;
    e[5 * IN + j] = 1e-30f;
  }
  if (!(output_sq_norm(&net, e + 2 * IN) > FLT_MAX && output_sq_norm(&net, e + 3 * IN) > FLT_MAX))
    die("the huge rows do not overflow float's squared norm: change them");
  OnnxInfo info = {"paper_embedder", "parity-test", NULL, 3};
  write_case("embedder", &net, &info, X, USERS + EDGES);
  free(X);
  mlp_free(&net);
}

/* One hidden layer, dense input (no block layout), default info. */
static void case_one_hidden(Rng *r) {
  enum { IN = 37, ROWS = 200 };
  int dims[] = {IN, 24, 8};
  Mlp net;
  if (mlp_init(&net, 2, dims, 11) != 0) die("mlp_init failed");
  randomize_batchnorm(&net, r);
  float X[ROWS * IN];
  for (int i = 0; i < ROWS * IN; i++) X[i] = (float)rng_normal(r);
  write_case("one_hidden", &net, NULL, X, ROWS);
  mlp_free(&net);
}

/* No hidden layer and an output layer scaled down to 1e-13: most rows
** come out shorter than the 1e-12 floor (so not unit length), the zero
** rows exactly zero, the large ones above the floor. */
static void case_floor(Rng *r) {
  enum { IN = 10, ROWS = 60 };
  int dims[] = {IN, 4};
  Mlp net;
  if (mlp_init(&net, 1, dims, 13) != 0) die("mlp_init failed");
  for (int i = 0; i < IN * 4; i++) net.W[0][i] *= 1e-13f;
  memset(net.b[0], 0, 4 * sizeof(float));
  float X[ROWS * IN];
  int below = 0, zero = 0, above = 0;
  for (int i = 0; i < ROWS; i++) {
    double scale = i % 6 == 0 ? 0.0 : i % 6 == 1 ? 1e3 : 1.0;
    for (int j = 0; j < IN; j++) X[i * IN + j] = (float)(scale * rng_normal(r));
    double ss = output_sq_norm(&net, X + i * IN);
    zero += ss == 0;
    below += ss > 0 && sqrt(ss) < 0.5e-12;
    above += sqrt(ss) > 2e-12;
  }
  if (zero == 0 || below < ROWS / 3 || above == 0) die("the floor case misses a regime");
  write_case("floor", &net, NULL, X, ROWS);
  mlp_free(&net);
}

int main(int argc, char **argv) {
  if (argc != 2) die("usage: export_models DIR");
  out_dir = argv[1];
  char path[4096];
  snprintf(path, sizeof path, "%s/cases.json", out_dir);
  manifest = fopen(path, "w");
  if (manifest == NULL) die("cannot create cases.json");
  fputs("[", manifest);
  Rng r;
  rng_seed(&r, 2021, 0x6f6e6e78u /* "onnx" */);
  case_embedder(&r);
  case_one_hidden(&r);
  case_floor(&r);
  fputs("]\n", manifest);
  if (fclose(manifest) != 0) die("cannot write cases.json");
  return 0;
}
