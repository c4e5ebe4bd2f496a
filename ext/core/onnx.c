/* onnx.c - the embedder as an ONNX model (see onnx.h): the graph, and the
** protobuf wire format of the messages of onnx/onnx.proto it uses. */
#include "onnx.h"

#include <stdio.h>
#include <string.h>

/* ---- protobuf wire format ----------------------------------------------- */

/* Wire types. */
#define WIRE_VARINT 0
#define WIRE_LEN 2
#define WIRE_FIXED32 5

/* Where bytes go: the caller's sink through a buffer. */
typedef struct {
  OnnxSink fn;
  void *ctx;
  int failed;
  size_t used;
  unsigned char buf[16384];
} Sink;

/* An output: sink NULL only counts the bytes (the length of a nested
** message must be written before the message, so each one is measured by
** a counting pass first; float data is never read in that pass). */
typedef struct {
  Sink *sink;
  uint64_t size;
} Out;

static void sink_flush(Sink *s) {
  if (s->used > 0 && !s->failed && s->fn(s->ctx, s->buf, s->used) != 0) s->failed = 1;
  s->used = 0;
}

static void put_bytes(Out *o, const void *bytes, size_t n) {
  o->size += n;
  Sink *s = o->sink;
  if (s == NULL || s->failed) return;
  const unsigned char *p = bytes;
  while (n > 0) {
    if (s->used == sizeof s->buf) sink_flush(s);
    size_t k = sizeof s->buf - s->used;
    if (k > n) k = n;
    memcpy(s->buf + s->used, p, k);
    s->used += k;
    p += k;
    n -= k;
  }
}

static void put_varint(Out *o, uint64_t v) {
  unsigned char b[10];
  size_t n = 0;
  do {
    b[n] = (unsigned char)(v & 0x7f);
    v >>= 7;
    if (v) b[n] |= 0x80;
    n++;
  } while (v);
  put_bytes(o, b, n);
}

static void put_tag(Out *o, int field, int wire) {
  put_varint(o, (uint64_t)field << 3 | (uint64_t)wire);
}

/* int32, int64 and enum fields; all our values are >= 0. */
static void put_int(Out *o, int field, int64_t v) {
  put_tag(o, field, WIRE_VARINT);
  put_varint(o, (uint64_t)v);
}

static void put_float(Out *o, int field, float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                        (unsigned char)(u >> 24)};
  put_tag(o, field, WIRE_FIXED32);
  put_bytes(o, b, sizeof b);
}

static void put_string(Out *o, int field, const char *s) {
  size_t n = strlen(s);
  put_tag(o, field, WIRE_LEN);
  put_varint(o, n);
  put_bytes(o, s, n);
}

/* A bytes field holding n floats as little-endian float32. */
static void put_raw_floats(Out *o, int field, const float *x, size_t n) {
  put_tag(o, field, WIRE_LEN);
  put_varint(o, (uint64_t)n * 4);
  if (o->sink == NULL) {
    o->size += (uint64_t)n * 4;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &x[i], sizeof u);
    unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                          (unsigned char)(u >> 24)};
    put_bytes(o, b, sizeof b);
  }
}

/* A message field: emit writes the message's own fields for arg. */
typedef void (*Emit)(Out *o, const void *arg);

static void put_message(Out *o, int field, Emit emit, const void *arg) {
  Out measure = {NULL, 0};
  emit(&measure, arg);
  put_tag(o, field, WIRE_LEN);
  put_varint(o, measure.size);
  if (o->sink == NULL)
    o->size += measure.size;
  else
    emit(o, arg);
}

/* ---- the graph ---------------------------------------------------------- */

/* onnx.proto enums. */
#define TENSOR_FLOAT 1
#define TENSOR_DOUBLE 11
#define ATTR_FLOAT 1
#define ATTR_INT 2
#define ATTR_INTS 7

#define NAME_LEN 32
#define MAX_NODES (3 * MLP_MAX_LAYERS + 7)
#define MAX_INITS (6 * MLP_MAX_LAYERS + 1)
#define DOC_LEN 512

typedef struct {
  const char *name;
  int type; /* ATTR_INTS holds the one value i */
  float f;
  int64_t i;
} Attr;

typedef struct {
  const char *op;
  const char *inputs[5];
  int n_inputs;
  char output[NAME_LEN];
  Attr attr;
  int has_attr;
} Node;

typedef struct {
  char name[NAME_LEN];
  int64_t dims[2];
  int n_dims; /* 0: a scalar */
  const float *data;
} Init;

/* A graph input or output: float32 [batch, width]. */
typedef struct {
  const char *name, *doc;
  int64_t width;
} Port;

typedef struct {
  const char *graph_name, *producer_version;
  int64_t model_version;
  char doc[DOC_LEN], input_doc[DOC_LEN], output_doc[DOC_LEN];
  Node nodes[MAX_NODES];
  int n_nodes;
  Init inits[MAX_INITS];
  int n_inits;
  Port input, output;
} Model;

static const float norm_floor = 1e-12f; /* NORM_FLOOR of mlp.c */

/* A parameter tensor layer<l>_<what>: rows x cols, or a vector of rows
** when cols is 0. */
static Init *add_init(Model *m, const char *what, int layer, const float *data, int64_t rows,
                      int64_t cols) {
  Init *t = &m->inits[m->n_inits++];
  snprintf(t->name, sizeof t->name, "layer%d_%s", layer, what);
  t->dims[0] = rows;
  t->dims[1] = cols;
  t->n_dims = cols > 0 ? 2 : 1;
  t->data = data;
  return t;
}

/* Appends node op reading inputs (NULL-terminated), its output named by
** the printf-style format; returns the node. */
static Node *add_node(Model *m, const char *op, const char *const *inputs, const char *out_fmt,
                      int layer) {
  Node *n = &m->nodes[m->n_nodes++];
  memset(n, 0, sizeof *n);
  n->op = op;
  while (inputs[n->n_inputs]) {
    n->inputs[n->n_inputs] = inputs[n->n_inputs];
    n->n_inputs++;
  }
  snprintf(n->output, sizeof n->output, out_fmt, layer);
  return n;
}

static void set_attr(Node *n, const char *name, int type, float f, int64_t i) {
  n->attr = (Attr){name, type, f, i};
  n->has_attr = 1;
}

static void build_model(const Mlp *net, const OnnxInfo *info, Model *m) {
  int L = net->n_layers, din = net->dims[0], dout = net->dims[L];
  m->graph_name = info && info->graph_name ? info->graph_name : "semiperso_embedder";
  m->producer_version = info ? info->producer_version : NULL;
  m->model_version = info ? info->model_version : 0;
  const char *x = ONNX_INPUT_NAME;
  for (int l = 0; l < L; l++) {
    int rows = net->dims[l + 1], cols = net->dims[l];
    Init *W = add_init(m, "weight", l, net->W[l], rows, cols);
    Init *b = add_init(m, "bias", l, net->b[l], rows, 0);
    Node *gemm = add_node(m, "Gemm", (const char *[]){x, W->name, b->name, NULL}, "layer%d_gemm", l);
    set_attr(gemm, "transB", ATTR_INT, 0, 1);
    x = gemm->output;
    if (l == L - 1) break;
    x = add_node(m, "Relu", (const char *[]){x, NULL}, "layer%d_relu", l)->output;
    const char *bn_in[] = {x, add_init(m, "bn_scale", l, net->gamma[l], rows, 0)->name,
                           add_init(m, "bn_bias", l, net->beta[l], rows, 0)->name,
                           add_init(m, "bn_mean", l, net->run_mean[l], rows, 0)->name,
                           add_init(m, "bn_var", l, net->run_var[l], rows, 0)->name, NULL};
    Node *bn = add_node(m, "BatchNormalization", bn_in, "layer%d_bn", l);
    set_attr(bn, "epsilon", ATTR_FLOAT, MLP_BN_EPS, 0);
    x = bn->output;
  }
  /* The L2 normalisation (see onnx.h for why these operators). */
  const char *z = x;
  Init *floor_init = &m->inits[m->n_inits++];
  snprintf(floor_init->name, sizeof floor_init->name, "norm_floor");
  floor_init->n_dims = 0;
  floor_init->data = &norm_floor;
  Node *n = add_node(m, "Cast", (const char *[]){z, NULL}, "z_double", 0);
  set_attr(n, "to", ATTR_INT, 0, TENSOR_DOUBLE);
  n = add_node(m, "ReduceSumSquare", (const char *[]){n->output, NULL}, "norm_sq_double", 0);
  set_attr(n, "axes", ATTR_INTS, 0, 1);
  n = add_node(m, "Sqrt", (const char *[]){n->output, NULL}, "norm_double", 0);
  n = add_node(m, "Cast", (const char *[]){n->output, NULL}, "norm", 0);
  set_attr(n, "to", ATTR_INT, 0, TENSOR_FLOAT);
  n = add_node(m, "Max", (const char *[]){n->output, floor_init->name, NULL}, "norm_floored", 0);
  n = add_node(m, "Reciprocal", (const char *[]){n->output, NULL}, "inverse_norm", 0);
  n = add_node(m, "Mul", (const char *[]){z, n->output, NULL}, ONNX_OUTPUT_NAME, 0);

  snprintf(m->doc, sizeof m->doc,
           "semiperso user embedder: " ONNX_INPUT_NAME " float32 [batch, %d] -> %d x (Gemm, "
           "Relu, BatchNormalization with the running statistics) -> Gemm -> L2 normalisation "
           "(norm summed in double, floored at 1e-12) -> " ONNX_OUTPUT_NAME " float32 [batch, %d]",
           din, L - 1, dout);
  if (net->n_blocks > 0)
    snprintf(m->input_doc, sizeof m->input_doc,
             "one row of %d floats per user: %d groups of %d, then %d scalars", din,
             net->n_blocks, net->block_size, din - net->n_blocks * net->block_size);
  else
    snprintf(m->input_doc, sizeof m->input_doc, "one row of %d floats per user", din);
  snprintf(m->output_doc, sizeof m->output_doc,
           "one row of %d floats per user: the predicted embedding, z / max(|z|, 1e-12) of the "
           "network's output z (unit length unless |z| < 1e-12; zero when z is)", dout);
  m->input = (Port){ONNX_INPUT_NAME, info && info->input_doc ? info->input_doc : m->input_doc, din};
  m->output = (Port){ONNX_OUTPUT_NAME, m->output_doc, dout};
}

/* ---- the messages (field numbers of onnx/onnx.proto, in field order) ---- */

static void emit_attr(Out *o, const void *arg) {
  const Attr *a = arg;
  put_string(o, 1, a->name);
  if (a->type == ATTR_FLOAT) put_float(o, 2, a->f);
  if (a->type == ATTR_INT) put_int(o, 3, a->i);
  if (a->type == ATTR_INTS) put_int(o, 8, a->i);
  put_int(o, 20, a->type);
}

static void emit_node(Out *o, const void *arg) {
  const Node *n = arg;
  for (int i = 0; i < n->n_inputs; i++) put_string(o, 1, n->inputs[i]);
  put_string(o, 2, n->output);
  put_string(o, 3, n->output); /* node name: its output's */
  put_string(o, 4, n->op);
  if (n->has_attr) put_message(o, 5, emit_attr, &n->attr);
}

static void emit_tensor(Out *o, const void *arg) {
  const Init *t = arg;
  int64_t count = 1;
  for (int i = 0; i < t->n_dims; i++) {
    put_int(o, 1, t->dims[i]);
    count *= t->dims[i];
  }
  put_int(o, 2, TENSOR_FLOAT);
  put_string(o, 8, t->name);
  put_raw_floats(o, 9, t->data, (size_t)count);
}

/* TensorShapeProto.Dimension: the batch (-1) is the parameter "batch". */
static void emit_dim(Out *o, const void *arg) {
  int64_t d = *(const int64_t *)arg;
  if (d < 0)
    put_string(o, 2, "batch");
  else
    put_int(o, 1, d);
}

static void emit_shape(Out *o, const void *arg) {
  static const int64_t batch = -1;
  put_message(o, 1, emit_dim, &batch);
  put_message(o, 1, emit_dim, &((const Port *)arg)->width);
}

static void emit_tensor_type(Out *o, const void *arg) {
  put_int(o, 1, TENSOR_FLOAT);
  put_message(o, 2, emit_shape, arg);
}

static void emit_type(Out *o, const void *arg) {
  put_message(o, 1, emit_tensor_type, arg);
}

static void emit_value_info(Out *o, const void *arg) {
  const Port *p = arg;
  put_string(o, 1, p->name);
  put_message(o, 2, emit_type, p);
  put_string(o, 3, p->doc);
}

static void emit_graph(Out *o, const void *arg) {
  const Model *m = arg;
  for (int i = 0; i < m->n_nodes; i++) put_message(o, 1, emit_node, &m->nodes[i]);
  put_string(o, 2, m->graph_name);
  for (int i = 0; i < m->n_inits; i++) put_message(o, 5, emit_tensor, &m->inits[i]);
  put_message(o, 11, emit_value_info, &m->input);
  put_message(o, 12, emit_value_info, &m->output);
}

/* OperatorSetIdProto of the default domain (domain "" is not written). */
static void emit_opset(Out *o, const void *arg) {
  (void)arg;
  put_int(o, 2, ONNX_OPSET);
}

static void emit_model(Out *o, const void *arg) {
  const Model *m = arg;
  put_int(o, 1, ONNX_IR_VERSION);
  put_string(o, 2, ONNX_PRODUCER_NAME);
  if (m->producer_version) put_string(o, 3, m->producer_version);
  if (m->model_version > 0) put_int(o, 5, m->model_version);
  put_string(o, 6, m->doc);
  put_message(o, 7, emit_graph, m);
  put_message(o, 8, emit_opset, NULL);
}

/* ---- export ------------------------------------------------------------- */

static int valid_network(const Mlp *net) {
  if (net == NULL || net->n_layers < 1 || net->n_layers > MLP_MAX_LAYERS) return 0;
  size_t n_stats = 0;
  if (mlp_count_params(net->n_layers, net->dims, &n_stats) == 0) return 0;
  for (int l = 0; l < net->n_layers; l++) {
    if (net->W[l] == NULL || net->b[l] == NULL) return 0;
    if (l < net->n_layers - 1 && (net->gamma[l] == NULL || net->beta[l] == NULL ||
                                  net->run_mean[l] == NULL || net->run_var[l] == NULL))
      return 0;
  }
  return 1;
}

int onnx_export_embedder(const Mlp *net, const OnnxInfo *info, OnnxSink sink, void *ctx,
                         uint64_t *size) {
  if (!valid_network(net) || sink == NULL) return ONNX_EINVAL;
  Model m;
  memset(&m, 0, sizeof m);
  build_model(net, info, &m);
  Out measure = {NULL, 0};
  emit_model(&measure, &m);
  if (size) *size = measure.size;
  if (measure.size > INT32_MAX) return ONNX_ETOOBIG;
  Sink s = {sink, ctx, 0, 0, {0}};
  Out out = {&s, 0};
  emit_model(&out, &m);
  sink_flush(&s);
  return s.failed ? ONNX_ESINK : ONNX_OK;
}
