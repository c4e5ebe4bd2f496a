/*
** segments.c - k-means segmentations from SQL (DESIGN.md section 4).
**
**   train_segments(name TEXT, query TEXT [, options JSON]) -> JSON summary
**       query yields one float32 vector per row.  Options: k (1000),
**       max_iter (20), seed (0), normalize (false: true L2-normalises every
**       row first, and assign_segment() then normalises its argument),
**       quiet (false: progress per iteration on stderr).  SQLITE_DIRECTONLY.
**   assign_segment(name TEXT, embedding) -> INTEGER segment id
**       the nearest centroid (squared Euclidean, ties by smaller id): the
**       id k-means gave a training row at convergence.
**
** What a training leaves, replaced atomically under its name (one
** SAVEPOINT, written only after the fit succeeded):
**   semiperso_segmentations(name PRIMARY KEY, k, dims, train_rows,
**       iterations, converged, inertia, reseeded, options JSON, seconds,
**       trained_at, generation)
**   semiperso_segments(segmentation, segment_id, size, centroid BLOB)
**   semiperso_segmentation_history(segmentation, iteration, inertia,
**       changed, seconds)      iteration 0 is the k-means++ assignment
**
** Caching: assign_segment() keeps the centroids (and their norms) of the
** last segmentation it used, per connection, tagged with its generation, a
** random 64-bit number drawn at every training.  Every call re-reads the
** generation (one prepared statement, kept for the running statement as
** auxiliary data of the name argument) and reloads on any difference, so a
** retrain or drop, by this connection or another, is never served stale.
** Edit these tables only through train_segments(), or give the row a new
** generation yourself.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../core/kmeans.h"
#include "../core/vec.h"
#include "common.h"
#include "modules.h"
#include "options.h"
#include "query.h"

static const char *const kSchema =
    "CREATE TABLE IF NOT EXISTS semiperso_segmentations("
    " name TEXT PRIMARY KEY, k INTEGER NOT NULL, dims INTEGER NOT NULL,"
    " train_rows INTEGER NOT NULL, iterations INTEGER NOT NULL,"
    " converged INTEGER NOT NULL, inertia REAL NOT NULL,"
    " reseeded INTEGER NOT NULL, options TEXT NOT NULL, seconds REAL NOT NULL,"
    " trained_at TEXT NOT NULL, generation INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS semiperso_segments("
    " segmentation TEXT NOT NULL, segment_id INTEGER NOT NULL,"
    " size INTEGER NOT NULL, centroid BLOB NOT NULL,"
    " PRIMARY KEY (segmentation, segment_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS semiperso_segmentation_history("
    " segmentation TEXT NOT NULL, iteration INTEGER NOT NULL,"
    " inertia REAL NOT NULL, changed INTEGER NOT NULL, seconds REAL NOT NULL,"
    " PRIMARY KEY (segmentation, iteration)) WITHOUT ROWID;";

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- options ---------------------------------------------------------- */

typedef struct {
  sqlite3_int64 k, max_iter, seed;
  int quiet, normalize;
} SegOptions;

/* Fills o with the defaults, then what the options JSON sets. */
static int parse_options(sqlite3 *db, sqlite3_value *json, SegOptions *o,
                         char **err) {
  o->k = 1000;
  o->max_iter = 20;
  o->seed = 0;
  o->quiet = 0;
  o->normalize = 0;
  const SpOption spec[] = {
      {"k", SP_OPT_INT, 1, 1000000, 0, &o->k, NULL},
      {"max_iter", SP_OPT_INT, 0, 1000000, 0, &o->max_iter, NULL},
      {"seed", SP_OPT_INT, 0, 9.2e18, 0, &o->seed, NULL},
      {"normalize", SP_OPT_BOOL, 0, 0, 0, &o->normalize, NULL},
      {"quiet", SP_OPT_BOOL, 0, 0, 0, &o->quiet, NULL},
  };
  return sp_parse_options(db, "train_segments", 3, json, spec,
                          (int)(sizeof spec / sizeof *spec), err);
}

/* ---- training --------------------------------------------------------- */

typedef struct {
  sqlite3 *db;
  const char *name;
  int quiet, max_iter;
  double t0, t_last;
  int n_hist;
  double *h_inertia, *h_seconds;
  int64_t *h_changed;
} TrainRun;

static int train_should_stop(void *arg) {
  TrainRun *t = arg;
  return sp_check_interrupt(t->db) != SQLITE_OK;
}

static int train_progress(void *arg, int it, double inertia, int64_t changed) {
  TrainRun *t = arg;
  double now = now_seconds();
  t->h_inertia[t->n_hist] = inertia;
  t->h_changed[t->n_hist] = changed;
  t->h_seconds[t->n_hist] = now - t->t_last;
  t->n_hist++;
  if (!t->quiet) {
    if (it == 0) {
      fprintf(stderr, "train_segments(%s): k-means++ done, inertia %.6g (%.2f s)\n",
              t->name, inertia, now - t->t_last);
    } else {
      fprintf(stderr, "train_segments(%s): iteration %d/%d, inertia %.6g, %lld "
              "changed (%.2f s)\n", t->name, it, t->max_iter, inertia,
              (long long)changed, now - t->t_last);
    }
  }
  t->t_last = now;
  return sp_check_interrupt(t->db) != SQLITE_OK;
}

static int exec_bound(sqlite3 *db, const char *sql, const char *name) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Writes one training, replacing any of the same name, in one savepoint. */
static int persist(sqlite3 *db, const char *name, const SegOptions *o, int d,
                   int64_t rows, const KmeansResult *res, double seconds,
                   const float *cent, const int64_t *sizes, const TrainRun *run,
                   char **err) {
  int rc = sqlite3_exec(db, "SAVEPOINT semiperso_train_segments", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("train_segments(): cannot start saving: %s", sqlite3_errmsg(db));
    return rc;
  }
  sqlite3_stmt *st = NULL;
  rc = sqlite3_exec(db, kSchema, NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = exec_bound(db, "DELETE FROM semiperso_segments WHERE segmentation = ?1", name);
  if (rc == SQLITE_OK)
    rc = exec_bound(db, "DELETE FROM semiperso_segmentation_history WHERE segmentation = ?1", name);
  if (rc == SQLITE_OK)
    rc = exec_bound(db, "DELETE FROM semiperso_segmentations WHERE name = ?1", name);
  if (rc == SQLITE_OK) {
    sqlite3_int64 gen;
    sqlite3_randomness(sizeof gen, &gen);
    rc = sqlite3_prepare_v2(
        db, "INSERT INTO semiperso_segmentations VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
            " ?8, json_object('k', ?2, 'max_iter', ?9, 'seed', ?10, 'normalize',"
            " json(?11), 'quiet', json(?12)), ?13,"
            " strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?14)", -1, &st, NULL);
    if (rc == SQLITE_OK) {
      sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 2, o->k);
      sqlite3_bind_int(st, 3, d);
      sqlite3_bind_int64(st, 4, rows);
      sqlite3_bind_int(st, 5, res->iterations);
      sqlite3_bind_int(st, 6, res->converged);
      sqlite3_bind_double(st, 7, res->inertia);
      sqlite3_bind_int64(st, 8, res->reseeded);
      sqlite3_bind_int64(st, 9, o->max_iter);
      sqlite3_bind_int64(st, 10, o->seed);
      sqlite3_bind_text(st, 11, o->normalize ? "true" : "false", -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 12, o->quiet ? "true" : "false", -1, SQLITE_STATIC);
      sqlite3_bind_double(st, 13, seconds);
      sqlite3_bind_int64(st, 14, gen);
      rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    }
    sqlite3_finalize(st);
    st = NULL;
  }
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(db, "INSERT INTO semiperso_segments VALUES (?1, ?2, ?3, ?4)",
                            -1, &st, NULL);
  for (int j = 0; rc == SQLITE_OK && j < (int)o->k; j++) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, j);
    sqlite3_bind_int64(st, 3, sizes[j]);
    sqlite3_bind_blob64(st, 4, cent + (int64_t)j * d, (sqlite3_uint64)d * sizeof(float),
                        SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  st = NULL;
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(
        db, "INSERT INTO semiperso_segmentation_history VALUES (?1, ?2, ?3, ?4, ?5)",
        -1, &st, NULL);
  for (int i = 0; rc == SQLITE_OK && i < run->n_hist; i++) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, i);
    sqlite3_bind_double(st, 3, run->h_inertia[i]);
    sqlite3_bind_int64(st, 4, run->h_changed[i]);
    sqlite3_bind_double(st, 5, run->h_seconds[i]);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("train_segments(): cannot save segmentation '%s': %s",
                           name, sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK TO semiperso_train_segments", NULL, NULL, NULL);
    sqlite3_exec(db, "RELEASE semiperso_train_segments", NULL, NULL, NULL);
    return rc;
  }
  rc = sqlite3_exec(db, "RELEASE semiperso_train_segments", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("train_segments(): cannot commit segmentation '%s': %s",
                           name, sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK TO semiperso_train_segments", NULL, NULL, NULL);
    sqlite3_exec(db, "RELEASE semiperso_train_segments", NULL, NULL, NULL);
  }
  return rc;
}

static void train_segments_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  char *err = NULL;
  SegOptions o;
  SpMatrix m = {NULL, 0, 0};
  float *cent = NULL;
  int64_t *sizes = NULL;
  TrainRun run = {0};
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT || sqlite3_value_bytes(argv[0]) == 0) {
    sp_result_errorf(ctx, "train_segments(): argument 1 (name) must be a non-empty TEXT");
    return;
  }
  if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
    sp_result_errorf(ctx, "train_segments(): argument 2 (query) must be TEXT, a SELECT "
                     "yielding one vector per row");
    return;
  }
  const char *name = (const char *)sqlite3_value_text(argv[0]);
  if (parse_options(db, argc > 2 ? argv[2] : NULL, &o, &err) != SQLITE_OK) goto fail;
  const char *cols[] = {"vector"};
  int rc = sp_query_matrices(db, "train_segments",
                             (const char *)sqlite3_value_text(argv[1]), 1, cols, &m, &err);
  if (rc != SQLITE_OK) {
    if (rc == SQLITE_NOMEM && err == NULL) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    goto fail;
  }
  if (o.k > m.rows) {
    err = sqlite3_mprintf("train_segments(): k = %lld is larger than the number of "
                          "rows of the query (%lld); lower option \"k\"",
                          o.k, (long long)m.rows);
    goto fail;
  }
  if (o.normalize)
    for (int64_t i = 0; i < m.rows; i++) vec_normalize(m.data + i * m.dims, (size_t)m.dims);
  cent = sqlite3_malloc64((sqlite3_uint64)o.k * m.dims * sizeof(float));
  sizes = sqlite3_malloc64((sqlite3_uint64)o.k * sizeof *sizes);
  run.h_inertia = sqlite3_malloc64((sqlite3_uint64)(o.max_iter + 1) * sizeof(double));
  run.h_seconds = sqlite3_malloc64((sqlite3_uint64)(o.max_iter + 1) * sizeof(double));
  run.h_changed = sqlite3_malloc64((sqlite3_uint64)(o.max_iter + 1) * sizeof(int64_t));
  if (!cent || !sizes || !run.h_inertia || !run.h_seconds || !run.h_changed) {
    sqlite3_result_error_nomem(ctx);
    goto done;
  }
  run.db = db;
  run.name = name;
  run.quiet = o.quiet;
  run.max_iter = (int)o.max_iter;
  run.t0 = run.t_last = now_seconds();
  if (!o.quiet)
    fprintf(stderr, "train_segments(%s): k-means, k = %lld on %lld x %d rows\n", name,
            o.k, (long long)m.rows, m.dims);
  KmeansConfig cfg = {.k = (int)o.k, .max_iter = (int)o.max_iter,
                      .seed = (uint64_t)o.seed, .should_stop = train_should_stop,
                      .progress = train_progress, .arg = &run};
  KmeansResult res;
  rc = kmeans_fit(m.data, m.rows, m.dims, &cfg, cent, NULL, sizes, &res);
  if (rc == KMEANS_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    goto done;
  } else if (rc == KMEANS_ABORTED) {
    sqlite3_result_error_code(ctx, SQLITE_INTERRUPT);
    goto done;
  } else if (rc != KMEANS_OK) {
    err = sqlite3_mprintf("train_segments(): invalid k-means arguments");
    goto fail;
  }
  double seconds = now_seconds() - run.t0;
  if (persist(db, name, &o, m.dims, m.rows, &res, seconds, cent, sizes, &run, &err) !=
      SQLITE_OK)
    goto fail;
  sqlite3_stmt *js = NULL;
  rc = sqlite3_prepare_v2(
      db, "SELECT json_object('name', ?1, 'k', ?2, 'dims', ?3, 'rows', ?4,"
          " 'iterations', ?5, 'converged', json(?6), 'inertia', ?7,"
          " 'reseeded', ?8, 'seconds', round(?9, 3))", -1, &js, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(js, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(js, 2, o.k);
    sqlite3_bind_int(js, 3, m.dims);
    sqlite3_bind_int64(js, 4, m.rows);
    sqlite3_bind_int(js, 5, res.iterations);
    sqlite3_bind_text(js, 6, res.converged ? "true" : "false", -1, SQLITE_STATIC);
    sqlite3_bind_double(js, 7, res.inertia);
    sqlite3_bind_int64(js, 8, res.reseeded);
    sqlite3_bind_double(js, 9, seconds);
    rc = sqlite3_step(js);
  }
  if (rc == SQLITE_ROW) {
    sqlite3_result_value(ctx, sqlite3_column_value(js, 0));
    sqlite3_result_subtype(ctx, 'J');
  } else {
    sqlite3_result_error_nomem(ctx);
  }
  sqlite3_finalize(js);
  goto done;
fail:
  if (err) {
    sqlite3_result_error(ctx, err, -1);
  } else {
    sqlite3_result_error_nomem(ctx);
  }
done:
  sqlite3_free(err);
  sp_matrix_free(&m);
  sqlite3_free(cent);
  sqlite3_free(sizes);
  sqlite3_free(run.h_inertia);
  sqlite3_free(run.h_seconds);
  sqlite3_free(run.h_changed);
}

/* ---- assign_segment ---------------------------------------------------- */

/* Per connection: the centroids of the segmentation used last. */
typedef struct {
  SpFunction fn; /* first member: sp_function_name() reads it */
  char *name;
  sqlite3_int64 generation;
  int k, d, normalize;
  float *cent, *cnorm;
} SegCache;

static void seg_cache_clear(SegCache *c) {
  sqlite3_free(c->name);
  sqlite3_free(c->cent);
  sqlite3_free(c->cnorm);
  c->name = NULL;
  c->cent = c->cnorm = NULL;
}

static void seg_cache_destroy(void *p) {
  seg_cache_clear(p);
  sqlite3_free(p);
}

static void finalize_stmt(void *p) { sqlite3_finalize(p); }

/* Loads the centroids of name into the cache; an error message or NULL. */
static char *seg_cache_load(sqlite3 *db, SegCache *c, const char *name,
                            sqlite3_int64 gen, int k, int d, int normalize) {
  seg_cache_clear(c);
  /* k rows of d floats must be stored, checked before allocating them. */
  sqlite3_stmt *st = NULL;
  sqlite3_int64 rows = -1, bytes = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*), sum(length(centroid)) FROM semiperso_segments"
                         " WHERE segmentation = ?1", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
      rows = sqlite3_column_int64(st, 0);
      bytes = sqlite3_column_int64(st, 1);
    }
  }
  sqlite3_finalize(st);
  st = NULL;
  if (rows != k || bytes != (sqlite3_int64)k * d * (sqlite3_int64)sizeof(float)) {
    return sqlite3_mprintf("assign_segment(): segmentation '%s' is damaged: "
                           "semiperso_segmentations says k = %d of %d floats, "
                           "semiperso_segments holds %lld rows of %lld bytes in all "
                           "(retrain it with train_segments())", name, k, d, rows, bytes);
  }
  c->name = sqlite3_mprintf("%s", name);
  c->cent = sqlite3_malloc64((sqlite3_uint64)k * d * sizeof(float));
  c->cnorm = sqlite3_malloc64((sqlite3_uint64)k * sizeof(float));
  if (!c->name || !c->cent || !c->cnorm) {
    seg_cache_clear(c);
    return sqlite3_mprintf("assign_segment(): out of memory");
  }
  char *err = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT segment_id, centroid FROM semiperso_segments"
                              " WHERE segmentation = ?1 ORDER BY segment_id", -1, &st, NULL);
  int seen = 0;
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (seen >= k || sqlite3_column_int64(st, 0) != seen ||
          sqlite3_column_type(st, 1) != SQLITE_BLOB ||
          sqlite3_column_bytes(st, 1) != d * (int)sizeof(float)) {
        rc = SQLITE_CORRUPT;
        break;
      }
      memcpy(c->cent + (int64_t)seen * d, sqlite3_column_blob(st, 1),
             (size_t)d * sizeof(float));
      if (!vec_all_finite(c->cent + (int64_t)seen * d, (size_t)d)) {
        rc = SQLITE_CORRUPT;
        break;
      }
      seen++;
    }
  }
  if (rc != SQLITE_DONE || seen != k) {
    err = sqlite3_mprintf("assign_segment(): segmentation '%s' is damaged in "
                          "semiperso_segments (retrain it with train_segments())", name);
    seg_cache_clear(c);
  } else {
    kmeans_centroid_norms(c->cent, k, d, c->cnorm);
    c->generation = gen;
    c->k = k;
    c->d = d;
    c->normalize = normalize;
  }
  sqlite3_finalize(st);
  return err;
}

static void assign_segment_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  SegCache *c = sqlite3_user_data(ctx);
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    sp_result_errorf(ctx, "assign_segment(): argument 1 must be the TEXT name of a "
                     "segmentation made by train_segments()");
    return;
  }
  const char *name = (const char *)sqlite3_value_text(argv[0]);
  /* The generation lookup, prepared once per running statement. */
  sqlite3_stmt *st = sqlite3_get_auxdata(ctx, 0);
  int own = 0;
  if (st == NULL) {
    if (sqlite3_prepare_v2(db, "SELECT generation, k, dims,"
                           " json_extract(options, '$.normalize')"
                           " FROM semiperso_segmentations WHERE name = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
      sqlite3_finalize(st);
      sp_result_errorf(ctx, "assign_segment(): no segmentation named '%s' (none "
                       "trained yet: see train_segments())", name);
      return;
    }
    own = 1;
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  sqlite3_int64 gen = 0;
  int k = 0, d = 0, normalize = 0;
  if (rc == SQLITE_ROW) {
    gen = sqlite3_column_int64(st, 0);
    k = sqlite3_column_int(st, 1);
    d = sqlite3_column_int(st, 2);
    normalize = sqlite3_column_int(st, 3);
  }
  sqlite3_reset(st);
  if (own) sqlite3_set_auxdata(ctx, 0, st, finalize_stmt);
  if (rc != SQLITE_ROW) {
    if (rc == SQLITE_DONE) {
      sp_result_errorf(ctx, "assign_segment(): no segmentation named '%s' (see "
                       "SELECT name FROM semiperso_segmentations)", name);
    } else {
      sp_result_errorf(ctx, "assign_segment(): %s", sqlite3_errmsg(db));
    }
    return;
  }
  if (k < 1 || d < 1) {
    sp_result_errorf(ctx, "assign_segment(): segmentation '%s' is damaged", name);
    return;
  }
  if (c->name == NULL || strcmp(c->name, name) != 0 || c->generation != gen) {
    char *err = seg_cache_load(db, c, name, gen, k, d, normalize);
    if (err) {
      sqlite3_result_error(ctx, err, -1);
      sqlite3_free(err);
      return;
    }
  }
  float *x;
  int n;
  if (sp_vector_arg(ctx, argv[1], 2, &x, &n) != SQLITE_OK) return;
  if (n != c->d) {
    sqlite3_free(x);
    sp_result_errorf(ctx, "assign_segment(): argument 2 has %d floats, segmentation "
                     "'%s' has %d", n, name, c->d);
    return;
  }
  if (c->normalize) vec_normalize(x, (size_t)n);
  int32_t label;
  rc = kmeans_assign(x, 1, n, c->cent, c->cnorm, c->k, &label, NULL);
  sqlite3_free(x);
  if (rc != KMEANS_OK) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_int(ctx, label);
}

static const SpFunction kFunctions[] = {
    {"train_segments", 2, SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL, train_segments_func,
     NULL, NULL, NULL, NULL},
    {"train_segments", 3, SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL, train_segments_func,
     NULL, NULL, NULL, NULL},
};

int sp_register_segments(sqlite3 *db, char **pzErrMsg) {
  int rc = sp_register_functions(db, kFunctions, 2, pzErrMsg);
  if (rc != SQLITE_OK) return rc;
  SegCache *c = sqlite3_malloc(sizeof *c);
  if (c == NULL) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->fn.name = "assign_segment";
  c->fn.n_arg = 2;
  /* Reads tables, so not deterministic; no side effects, so innocuous. */
  c->fn.flags = SQLITE_UTF8 | SQLITE_INNOCUOUS;
  rc = sqlite3_create_function_v2(db, "assign_segment", 2, c->fn.flags, c,
                                  assign_segment_func, NULL, NULL, seg_cache_destroy);
  if (rc != SQLITE_OK && pzErrMsg) {
    *pzErrMsg = sqlite3_mprintf("semiperso: error creating function assign_segment: %s",
                                sqlite3_errmsg(db));
  }
  return rc;
}
