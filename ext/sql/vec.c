/*
** vec.c - SQL vector functions over float32 BLOBs, on ext/core/vec.h, with
** sqlite-vec's semantics where the name is shared (README.md, "Vectors"):
**   vec_f32(v) vec_to_json(v) vec_length(v) vec_normalize(v)
**   vec_distance_cosine(a, b) vec_distance_l2(a, b)
**   vec_avg(v)              aggregate and window function; NULLs skipped
**   vec_concat(v1, v2, ...) vec_zeros(n)
*/
#include <string.h>

#include "../core/vec.h"
#include "args.h"
#include "common.h"
#include "modules.h"

/* The one-vector functions: each gets its argument parsed and checked
** (v, n floats, sqlite3_malloc'd) and owns it. */
typedef struct {
  void (*of)(sqlite3_context *ctx, float *v, int n);
} VecUnary;

static void unary_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  float *v;
  int n;
  if (sp_vector_arg(ctx, argv[0], 1, &v, &n) != SQLITE_OK) return;
  ((const VecUnary *)sp_user_data(ctx))->of(ctx, v, n);
}

static void vec_f32_of(sqlite3_context *ctx, float *v, int n) { sp_result_vector(ctx, v, n); }

static void vec_length_of(sqlite3_context *ctx, float *v, int n) {
  sqlite3_free(v);
  sqlite3_result_int(ctx, n);
}

static void vec_to_json_of(sqlite3_context *ctx, float *v, int n) {
  sqlite3_str *s = sqlite3_str_new(sqlite3_context_db_handle(ctx));
  sqlite3_str_appendchar(s, 1, '[');
  for (int i = 0; i < n; i++) {
    /* "%f", as sqlite-vec prints, so both extensions agree on text. */
    sqlite3_str_appendf(s, i ? ",%f" : "%f", (double)v[i]);
  }
  sqlite3_str_appendchar(s, 1, ']');
  sqlite3_free(v);
  sp_result_json(ctx, s);
}

static void vec_normalize_of(sqlite3_context *ctx, float *v, int n) {
  vec_normalize(v, (size_t)n);
  sp_result_vector(ctx, v, n);
}

static const VecUnary f32 = {vec_f32_of}, length = {vec_length_of}, to_json = {vec_to_json_of},
                      normalize = {vec_normalize_of};

/* Parses both arguments of a two-vector function and checks dimensions. */
static int two_vectors(sqlite3_context *ctx, sqlite3_value **argv, float **a,
                       float **b, int *n) {
  int na, nb;
  if (sp_vector_arg(ctx, argv[0], 1, a, &na) != SQLITE_OK) return SQLITE_ERROR;
  if (sp_vector_arg(ctx, argv[1], 2, b, &nb) != SQLITE_OK) {
    sqlite3_free(*a);
    return SQLITE_ERROR;
  }
  if (na != nb) {
    sp_result_errorf(ctx, "%s(): dimension mismatch: argument 1 has %d floats, "
                     "argument 2 has %d", sp_function_name(ctx), na, nb);
    sqlite3_free(*a);
    sqlite3_free(*b);
    return SQLITE_ERROR;
  }
  *n = na;
  return SQLITE_OK;
}

/* The distance a vec_distance_* entry computes (its user data). */
typedef struct {
  double (*of)(const float *, const float *, size_t);
} VecDistance;
static const VecDistance cosine = {vec_distance_cosine}, l2 = {vec_distance_l2};

static void vec_distance_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const VecDistance *distance = sp_user_data(ctx);
  float *a, *b;
  int n;
  if (two_vectors(ctx, argv, &a, &b, &n) != SQLITE_OK) return;
  sqlite3_result_double(ctx, distance->of(a, b, (size_t)n));
  sqlite3_free(a);
  sqlite3_free(b);
}

static void vec_concat_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (argc < 1) {
    sp_result_errorf(ctx, "vec_concat(): needs at least one vector");
    return;
  }
  sqlite3_int64 total = 0;
  float *out = NULL;
  for (int pass = 0; pass < 2; pass++) {
    /* Pass 0 validates and sizes; pass 1 copies.  Parsing twice keeps only
    ** one argument in memory at a time. */
    sqlite3_int64 at = 0;
    for (int i = 0; i < argc; i++) {
      float *v;
      int n;
      if (sp_vector_arg(ctx, argv[i], i + 1, &v, &n) != SQLITE_OK) {
        sqlite3_free(out);
        return;
      }
      if (pass == 1) memcpy(out + at, v, (size_t)n * sizeof(float));
      at += n;
      sqlite3_free(v);
    }
    if (pass == 0) {
      total = at;
      if (total > sp_max_vector_len(sqlite3_context_db_handle(ctx))) {
        sp_result_errorf(ctx, "vec_concat(): result too long (%lld floats)", total);
        sqlite3_result_error_code(ctx, SQLITE_TOOBIG);
        return;
      }
      out = sqlite3_malloc64((sqlite3_uint64)total * sizeof(float));
      if (out == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
      }
    }
  }
  sp_result_vector(ctx, out, (int)total);
}

static void vec_zeros_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  sqlite3_int64 n;
  if (sp_int_arg(ctx, argv[0], 1, 1, sp_max_vector_len(sqlite3_context_db_handle(ctx)), &n) != SQLITE_OK) return;
  float *v = sqlite3_malloc64((sqlite3_uint64)n * sizeof(float));
  if (v == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  memset(v, 0, (size_t)n * sizeof(float));
  sp_result_vector(ctx, v, (int)n);
}

/* vec_avg: running sums in double so that the window inverse is exact
** enough and long aggregates do not drift. */
typedef struct {
  int n_dims;
  sqlite3_int64 count;
  double *sum;
} VecAvg;

static void vec_avg_add(sqlite3_context *ctx, sqlite3_value *value, double sign) {
  if (sqlite3_value_type(value) == SQLITE_NULL) return;
  VecAvg *acc = sqlite3_aggregate_context(ctx, sizeof *acc);
  if (acc == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  float *v;
  int n;
  if (sp_vector_arg(ctx, value, 1, &v, &n) != SQLITE_OK) return;
  if (acc->sum == NULL) {
    acc->sum = sqlite3_malloc64((sqlite3_uint64)n * sizeof(double));
    if (acc->sum == NULL) {
      sqlite3_free(v);
      sqlite3_result_error_nomem(ctx);
      return;
    }
    memset(acc->sum, 0, (size_t)n * sizeof(double));
    acc->n_dims = n;
  } else if (n != acc->n_dims) {
    sp_result_errorf(ctx, "vec_avg(): dimension mismatch: a row has %d floats, "
                     "earlier rows have %d", n, acc->n_dims);
    sqlite3_free(v);
    return;
  }
  for (int i = 0; i < n; i++) acc->sum[i] += sign * (double)v[i];
  acc->count += sign > 0 ? 1 : -1;
  sqlite3_free(v);
}

static void vec_avg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  vec_avg_add(ctx, argv[0], 1.0);
}

static void vec_avg_inverse(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  vec_avg_add(ctx, argv[0], -1.0);
}

static void vec_avg_value(sqlite3_context *ctx) {
  VecAvg *acc = sqlite3_aggregate_context(ctx, 0);
  if (acc == NULL || acc->count == 0) {
    sqlite3_result_null(ctx);
    return;
  }
  float *out = sqlite3_malloc64((sqlite3_uint64)acc->n_dims * sizeof(float));
  if (out == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  for (int i = 0; i < acc->n_dims; i++) {
    out[i] = (float)(acc->sum[i] / (double)acc->count);
  }
  sp_result_vector(ctx, out, acc->n_dims);
}

static void vec_avg_final(sqlite3_context *ctx) {
  vec_avg_value(ctx);
  VecAvg *acc = sqlite3_aggregate_context(ctx, 0);
  if (acc) {
    sqlite3_free(acc->sum);
    acc->sum = NULL;
  }
}

static const SpFunction vec_functions[] = {
    {"vec_f32", 1, SP_PURE | SP_SUBTYPED, &f32, unary_func, NULL, NULL, NULL, NULL},
    {"vec_to_json", 1, SP_PURE | SP_SUBTYPED, &to_json, unary_func, NULL, NULL, NULL, NULL},
    {"vec_length", 1, SP_PURE, &length, unary_func, NULL, NULL, NULL, NULL},
    {"vec_normalize", 1, SP_PURE | SP_SUBTYPED, &normalize, unary_func, NULL, NULL, NULL, NULL},
    {"vec_distance_cosine", 2, SP_PURE, &cosine, vec_distance_func, NULL, NULL, NULL, NULL},
    {"vec_distance_l2", 2, SP_PURE, &l2, vec_distance_func, NULL, NULL, NULL, NULL},
    {"vec_concat", -1, SP_PURE | SP_SUBTYPED, NULL, vec_concat_func, NULL, NULL, NULL, NULL},
    {"vec_zeros", 1, SP_PURE | SP_SUBTYPED, NULL, vec_zeros_func, NULL, NULL, NULL, NULL},
    {"vec_avg", 1, SP_PURE | SP_SUBTYPED, NULL, NULL, vec_avg_step, vec_avg_final, vec_avg_value,
     vec_avg_inverse},
};

const SpBinding sp_vec_binding = {vec_functions, SP_COUNT(vec_functions), NULL, 0, 0, NULL};
