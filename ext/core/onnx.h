/*
** onnx.h - the user embedder network (mlp.h) as an ONNX model, so any
** ONNX runtime can serve it.  Plain C11: no SQLite, no protobuf library
** (onnx.c encodes the few protobuf messages it needs itself).
**
** Contract.  The model (ModelProto, IR version ONNX_IR_VERSION, default
** operator set ONNX_OPSET) computes exactly mlp_forward's function:
**   input  "features"  float32 [batch, dims[0]], batch dynamic
**   per hidden layer l (values named layer<l>_*):
**     Gemm(x, layer<l>_weight [out x in], layer<l>_bias, transB = 1)
**     Relu
**     BatchNormalization(scale gamma, B beta, running mean, running var,
**                        epsilon MLP_BN_EPS), inference form
**   the output layer's Gemm -> z [batch, d]
**   the L2 normalisation of mlp_forward, z / max(|z|, 1e-12) with |z| the
**   double sum of squares rounded to float and z times the float
**   reciprocal of the floored norm:
**     Cast(double) -> ReduceSumSquare(axes [1], keepdims) -> Sqrt
**     -> Cast(float) -> Max(norm_floor = 1e-12) -> Reciprocal -> Mul(z, .)
**   output "embedding" float32 [batch, d].
** The norm is summed in double because in float the square of a row
** longer than about 1.8e19 overflows, and the row would come out as zeros
** (LpNormalization and ReduceL2 both sum in float; LpNormalization also
** has no floor and leaves the zero row to each runtime).  A zero row stays
** zero, a row shorter than 1e-12 is scaled by 1e12, as mlp_forward does.
** Only the summation order of the products differs from mlp_forward.
**
** Parameters are initializers holding raw little-endian float32 data.  The
** model's doc string describes the graph; the input's describes the row
** layout (info->input_doc, else the block layout of mlp_set_input_blocks).
** The bytes are handed to sink in order, in pieces of at most 16 KiB; the
** same network and info always give the same bytes.
*/
#ifndef SEMIPERSO_ONNX_H
#define SEMIPERSO_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "mlp.h"

#define ONNX_IR_VERSION 7 /* ONNX 1.8; every onnxruntime from 1.6 loads it */
#define ONNX_OPSET 13
#define ONNX_INPUT_NAME "features"
#define ONNX_OUTPUT_NAME "embedding"
#define ONNX_PRODUCER_NAME "semiperso"

/* Return values of onnx_export_embedder. */
#define ONNX_OK 0
#define ONNX_ESINK (-1)   /* the sink returned non-zero; it got no more bytes */
#define ONNX_EINVAL (-2)  /* net is not a valid network (sizes, NULL arrays) */
#define ONNX_ETOOBIG (-3) /* over 2 GiB, protobuf's limit; nothing written */

/* Receives the next n bytes of the model; returns 0 to go on, anything
** else to stop the export. */
typedef int (*OnnxSink)(void *ctx, const void *bytes, size_t n);

typedef struct {
  const char *graph_name;       /* NULL: "semiperso_embedder" */
  const char *producer_version; /* NULL: not written */
  const char *input_doc;        /* NULL: the row layout from net's blocks */
  int64_t model_version;        /* written when > 0 */
} OnnxInfo;

/* Writes net as an ONNX model to sink (info may be NULL: all defaults).
** Strings are written as given and should be UTF-8.  *size (when not NULL)
** receives the model's length in bytes, also when the sink fails.
** Returns one of the ONNX_* codes above. */
int onnx_export_embedder(const Mlp *net, const OnnxInfo *info, OnnxSink sink, void *ctx,
                         uint64_t *size);

#endif
