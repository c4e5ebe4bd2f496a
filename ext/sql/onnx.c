/*
** onnx.c - the user embedder as an ONNX model file, on ext/core/onnx.h,
** for serving it outside SQLite (any ONNX runtime).
**
**   export_onnx(model, path [, options]) -> JSON summary
**       writes model `model` (train_embedder()) to path as an ONNX model
**       computing what embed_user computes: input "features" float32
**       [batch, input_dim], output "embedding" float32 [batch, output_dim],
**       unit rows (the graph is described in ext/core/onnx.h).  Its
**       model_version is the model's generation (semiperso_models), so a
**       served file names the training it came from.  Returns {"path",
**       "bytes", "model", "input_dim", "output_dim", "ir_version", "opset",
**       "model_version", "seconds"}.  options: replace false (true:
**       replace an existing file).  Files are written as outfile.h says:
**       SQLITE_DIRECTONLY, refused in defensive mode, through a temporary
**       file and a rename; an interrupt leaves nothing behind.
*/
#include <string.h>

#include "../core/onnx.h"
#include "args.h"
#include "common.h"
#include "embedder.h"
#include "modules.h"
#include "options.h"
#include "outfile.h"
#include "query.h"

#define FN "export_onnx"

/* Where the encoder's bytes go: the file, with an interrupt check. */
typedef struct {
  sqlite3 *db;
  SpOutFile *file;
  int rc;
  char *err;
} Sink;

static int sink_write(void *arg, const void *bytes, size_t n) {
  Sink *s = arg;
  if (sp_check_interrupt(s->db) != SQLITE_OK) {
    s->rc = SQLITE_INTERRUPT;
    return 1;
  }
  s->rc = sp_outfile_write(s->file, bytes, n, &s->err);
  return s->rc != SQLITE_OK;
}

/* The generation of model name (its model_version), 0 when unreadable. */
static sqlite3_int64 model_generation(sqlite3 *db, const char *name) {
  sqlite3_stmt *st = NULL;
  sqlite3_int64 g = 0;
  if (sqlite3_prepare_v2(db, "SELECT generation FROM semiperso_models WHERE name = ?1", -1, &st,
                         NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) g = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  return g;
}

static void export_onnx_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  double started = sp_now();
  const char *name = NULL, *path = NULL;
  int replace = 0;
  char *err = NULL;
  void *model = NULL;
  SpOutFile f;
  memset(&f, 0, sizeof f);
  f.fd = -1;
  const SpOption spec[] = {{"replace", SP_OPT_BOOL, 0, 0, 0, &replace, NULL}};
  int rc = sp_read_text((SpArg){FN, 1, "model"}, argv[0], "a TEXT model name", 1, &name, &err);
  if (rc == SQLITE_OK)
    rc = sp_read_text((SpArg){FN, 2, "path"}, argv[1], "a non-empty file name (TEXT)", 1, &path,
                      &err);
  if (rc == SQLITE_OK)
    rc = sp_parse_options(db, FN, 3, argc > 2 ? argv[2] : NULL, spec, SP_COUNT(spec), &err);
  if (rc == SQLITE_OK) rc = sp_outfile_open(&f, db, FN, 2, path, replace, &err);
  if (rc == SQLITE_OK) {
    rc = sp_embedder_loader.load(db, FN, name, &model, &err);
    if (rc == SQLITE_NOTFOUND) {
      err = sqlite3_mprintf(FN "(): no model named \"%s\" (train one with train_embedder())",
                            name);
      rc = SQLITE_ERROR;
    }
  }
  const Mlp *net = model;
  sqlite3_int64 generation = model ? model_generation(db, name) : 0;
  int64_t bytes = 0;
  if (rc == SQLITE_OK) {
    OnnxInfo info = {NULL, NULL, NULL, generation};
    Sink sink = {db, &f, SQLITE_OK, NULL};
    int e = onnx_export_embedder(net, &info, sink_write, &sink, NULL);
    if (e == ONNX_ESINK) {
      rc = sink.rc;
      err = sink.err;
    } else if (e == ONNX_ETOOBIG) {
      err = sqlite3_mprintf(FN "(): model \"%s\" is over 2 GiB, more than ONNX can hold", name);
      rc = SQLITE_TOOBIG;
    } else if (e != ONNX_OK) {
      err = sqlite3_mprintf(FN "(): model \"%s\" cannot be exported (its sizes are not a "
                            "network's)", name);
      rc = SQLITE_ERROR;
    }
  }
  if (rc == SQLITE_OK) rc = sp_outfile_commit(&f, &bytes, &err);
  sp_outfile_free(&f);
  if (rc == SQLITE_OK) {
    sqlite3_str *s = sqlite3_str_new(db);
    sp_json_open(s, '{');
    sp_json_text(s, "path", path);
    sp_json_int(s, "bytes", bytes);
    sp_json_text(s, "model", name);
    sp_json_int(s, "input_dim", net->dims[0]);
    sp_json_int(s, "output_dim", net->dims[net->n_layers]);
    sp_json_int(s, "ir_version", ONNX_IR_VERSION);
    sp_json_int(s, "opset", ONNX_OPSET);
    sp_json_int(s, "model_version", generation);
    sp_json_seconds(s, "seconds", sp_now() - started);
    sp_json_close(s, '}');
    sp_result_json(ctx, s);
  } else {
    sp_outfile_result_error(ctx, FN, rc, err);
  }
  if (model) sp_embedder_loader.free(model);
}

static const SpFunction onnx_functions[] = {
    {FN, 2, SP_DIRECT | SP_SUBTYPED, NULL, export_onnx_func, NULL, NULL, NULL, NULL},
    {FN, 3, SP_DIRECT | SP_SUBTYPED, NULL, export_onnx_func, NULL, NULL, NULL, NULL},
};

const SpBinding sp_onnx_binding = {onnx_functions, SP_COUNT(onnx_functions), NULL, 0, 0, NULL};
