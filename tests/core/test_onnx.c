/* test_onnx.c - onnx_export_embedder's contract: bytes worked out by hand
** from the protobuf wire format, the same bytes every time and in pieces
** of at most 16 KiB, the sink's failure stopping the export, bad networks
** and models over protobuf's 2 GiB refused before anything is written.
** That the model means what it should is tests/scripts/onnx_export.sh's. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mlp.h"
#include "onnx.h"

typedef struct {
  unsigned char *data;
  size_t len, cap;
  int calls, fail_at; /* fail_at: the call that fails (0: none) */
  size_t largest;
} Buffer;

static int to_buffer(void *ctx, const void *bytes, size_t n) {
  Buffer *b = ctx;
  b->calls++;
  if (b->calls == b->fail_at) return 1;
  if (n > b->largest) b->largest = n;
  if (b->len + n > b->cap) {
    b->cap = 2 * (b->len + n);
    b->data = realloc(b->data, b->cap);
    if (b->data == NULL) abort();
  }
  memcpy(b->data + b->len, bytes, n);
  b->len += n;
  return 0;
}

static int contains(const Buffer *b, const void *bytes, size_t n) {
  return memmem(b->data, b->len, bytes, n) != NULL;
}

/* A one-layer network 300 -> 2 with weights i / 4 and biases 0.5, 1. */
static void hand_encoding(void) {
  Mlp net;
  int dims[] = {300, 2};
  CHECK(mlp_init(&net, 1, dims, 1) == 0);
  for (int i = 0; i < 600; i++) net.W[0][i] = (float)i / 4;
  net.b[0][0] = 0.5f;
  net.b[0][1] = 1.0f;
  Buffer b = {0};
  uint64_t size = 0;
  CHECK(onnx_export_embedder(&net, NULL, to_buffer, &b, &size) == ONNX_OK);
  CHECK(size == b.len);
  /* ModelProto starts: ir_version (field 1, varint) 7, producer_name
  ** (field 2, length-delimited) "semiperso". */
  static const unsigned char head[] = {0x08, 0x07, 0x12, 0x09, 's', 'e', 'm', 'i', 'p', 'e', 'r',
                                       's', 'o'};
  CHECK(b.len > sizeof head && memcmp(b.data, head, sizeof head) == 0);
  /* The weight tensor: dims 2 and 300 (field 1: 0x08, 300 = 0xac 0x02),
  ** data_type FLOAT (field 2), name (field 8), raw_data (field 9, wire
  ** type 2: 0x4a) of 2400 bytes (0xe0 0x12), little-endian floats:
  ** 0.25 is 0x3e800000. */
  static const unsigned char dims_type[] = {0x08, 0x02, 0x08, 0xac, 0x02, 0x10, 0x01, 0x42, 0x0d};
  CHECK(contains(&b, dims_type, sizeof dims_type));
  static const unsigned char raw[] = {'w', 'e', 'i', 'g', 'h', 't', 0x4a, 0xe0, 0x12,
                                      0, 0, 0, 0, 0, 0, 0x80, 0x3e};
  CHECK(contains(&b, raw, sizeof raw));
  /* The bias: dims 2, FLOAT, "layer0_bias", raw 0.5 (0x3f000000), 1.0. */
  static const unsigned char bias[] = {0x4a, 0x08, 0, 0, 0, 0x3f, 0, 0, 0x80, 0x3f};
  CHECK(contains(&b, bias, sizeof bias));
  /* Gemm's attribute transB: name (field 1), i = 1 (field 3), type INT
  ** (field 20, varint: tag 0xa0 0x01) = 2. */
  static const unsigned char trans_b[] = {0x0a, 0x06, 't', 'r', 'a', 'n', 's', 'B',
                                          0x18, 0x01, 0xa0, 0x01, 0x02};
  CHECK(contains(&b, trans_b, sizeof trans_b));
  /* The dynamic batch dimension: dim_param (field 2) "batch". */
  static const unsigned char batch[] = {0x12, 0x05, 'b', 'a', 't', 'c', 'h'};
  CHECK(contains(&b, batch, sizeof batch));
  /* The last field: opset_import (field 8) holding version (field 2) 13. */
  static const unsigned char tail[] = {0x42, 0x02, 0x10, 0x0d};
  CHECK(b.len > sizeof tail && memcmp(b.data + b.len - sizeof tail, tail, sizeof tail) == 0);
  /* The caller's description of the input replaces the generated one. */
  OnnxInfo info = {NULL, NULL, "age, country, 298 more", 0};
  Buffer c = {0};
  CHECK(onnx_export_embedder(&net, &info, to_buffer, &c, NULL) == ONNX_OK);
  CHECK(contains(&c, "age, country, 298 more", 22) && !contains(&c, "one row of 300 floats", 21));
  CHECK(contains(&b, "one row of 300 floats", 21));
  free(b.data);
  free(c.data);
  mlp_free(&net);
}

/* The paper's shape: ~5 MB in pieces of at most 16 KiB, identical twice,
** info's strings in it; a sink failing on its third call gets no fourth. */
static void large_and_failing(void) {
  Mlp net;
  int dims[] = {2579, 400, 300, 200, 128};
  CHECK(mlp_init(&net, 4, dims, 5) == 0);
  mlp_set_input_blocks(&net, 128, 20);
  OnnxInfo info = {"weekly", "1.2.3", NULL, 42};
  Buffer a = {0}, b = {0};
  uint64_t size = 0;
  CHECK(onnx_export_embedder(&net, &info, to_buffer, &a, &size) == ONNX_OK);
  CHECK(onnx_export_embedder(&net, &info, to_buffer, &b, NULL) == ONNX_OK);
  CHECK(size == a.len && a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
  CHECK(a.len > (net.n_params + net.n_stats) * sizeof(float));
  CHECK(a.largest <= 16384 && a.calls >= (int)(a.len / 16384));
  CHECK(contains(&a, "weekly", 6) && contains(&a, "1.2.3", 5));
  CHECK(contains(&a, "20 groups of 128, then 19 scalars", 33));
  /* producer_version (field 3) "1.2.3", then model_version (field 5) 42. */
  static const unsigned char version[] = {0x1a, 0x05, '1', '.', '2', '.', '3', 0x28, 42};
  CHECK(contains(&a, version, sizeof version));
  Buffer c = {.fail_at = 3};
  size = 0;
  CHECK(onnx_export_embedder(&net, &info, to_buffer, &c, &size) == ONNX_ESINK);
  CHECK(c.calls == 3 && c.len == 2 * 16384 && size == a.len);
  free(a.data);
  free(b.data);
  free(c.data);
  mlp_free(&net);
}

static void refusals(void) {
  Mlp net;
  int dims[] = {3, 2, 2};
  CHECK(mlp_init(&net, 2, dims, 1) == 0);
  Buffer b = {0};
  CHECK(onnx_export_embedder(NULL, NULL, to_buffer, &b, NULL) == ONNX_EINVAL);
  CHECK(onnx_export_embedder(&net, NULL, NULL, &b, NULL) == ONNX_EINVAL);
  Mlp broken = net;
  broken.run_var[0] = NULL;
  CHECK(onnx_export_embedder(&broken, NULL, to_buffer, &b, NULL) == ONNX_EINVAL);
  broken = net;
  broken.n_layers = 0;
  CHECK(onnx_export_embedder(&broken, NULL, to_buffer, &b, NULL) == ONNX_EINVAL);
  broken = net;
  broken.dims[1] = 0;
  CHECK(onnx_export_embedder(&broken, NULL, to_buffer, &b, NULL) == ONNX_EINVAL);
  CHECK(b.calls == 0);
  mlp_free(&net);

  /* 65536 x 8192 weights are 2 GiB of floats: refused from the sizes
  ** alone (the export measures before it reads any parameter, so the
  ** arrays here are one float each). */
  float one = 1.0f;
  Mlp huge = {.n_layers = 1, .dims = {65536, 8192}};
  huge.W[0] = huge.b[0] = &one;
  uint64_t size = 0;
  CHECK(onnx_export_embedder(&huge, NULL, to_buffer, &b, &size) == ONNX_ETOOBIG);
  CHECK(size > (uint64_t)65536 * 8192 * 4 && b.calls == 0);
}

int main(void) {
  hand_encoding();
  large_and_failing();
  refusals();
  return check_report();
}
