/*
** kmeans.c - segmentations from SQL, on ext/core/kmeans.h.
**
**   train_segments(name TEXT, query TEXT [, options JSON]) -> JSON summary
**       query yields one float32 vector per row.  Options: k (1000),
**       max_iter (20), seed (0), n_init (1: starts, each seeded from its
**       own seed, the lowest inertia kept; scikit-learn's KMeans makes
**       10), seeding ('greedy': scikit-learn's k-means++, the best of
**       2 + ln k candidates a step; 'plain': one candidate a step),
**       normalize (false: true L2-normalises every row first, and
**       assign_segment() then normalises its argument), quiet (false:
**       progress per iteration on stderr).  SQLITE_DIRECTONLY.
**   assign_segment(name TEXT, embedding) -> INTEGER segment id
**       the nearest centroid (squared Euclidean, ties by smaller id): the
**       id k-means gave a training row at convergence.
**   assign_segments(name TEXT, id INTEGER, embedding) -> JSON
**       aggregate: [[id, segment id], ...] in the order of the rows,
**       each id assign_segment() gives, computed a block of rows at a time
**       (one sgemm each); '[]' without rows.  Every row must name the
**       same segmentation.
**
** What a training leaves, replaced atomically under its name by the model
** store (store.h), written only after the fit succeeded:
**   semiperso_segmentations(name PRIMARY KEY, k, dims, train_rows,
**       iterations, converged, inertia, reseeded, options JSON, seconds,
**       trained_at, generation, restart)
**       iterations .. reseeded describe the start kept, restart is its
**       number (0 .. n_init - 1); seconds covers every start
**   semiperso_segments(segmentation, segment_id, size, centroid BLOB)
**   semiperso_segmentation_history(segmentation, iteration, inertia,
**       changed, seconds)      the start kept: iteration 0 is its k-means++
**                              assignment (seconds: its seeding)
**
** assign_segment() serves the centroids (and their norms) from the
** per-connection model cache of store.h, which checks the stored
** generation once per statement: a retrain or drop, by this connection or
** another, is never served stale.  Edit these tables only through
** train_segments(), or give the row a new generation yourself.
*/
#include <stdio.h>
#include <string.h>

#include "../core/kmeans.h"
#include "../core/vec.h"
#include "args.h"
#include "common.h"
#include "modules.h"
#include "options.h"
#include "query.h"
#include "store.h"

#define TRAIN_FN "train_segments"

static const SpModelKind segmentations_kind = {
    "segmentation",
    "CREATE TABLE IF NOT EXISTS semiperso_segmentations("
    " name TEXT PRIMARY KEY, k INTEGER NOT NULL, dims INTEGER NOT NULL,"
    " train_rows INTEGER NOT NULL, iterations INTEGER NOT NULL,"
    " converged INTEGER NOT NULL, inertia REAL NOT NULL,"
    " reseeded INTEGER NOT NULL, options TEXT NOT NULL, seconds REAL NOT NULL,"
    " trained_at TEXT NOT NULL, generation INTEGER NOT NULL,"
    " restart INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS semiperso_segments("
    " segmentation TEXT NOT NULL, segment_id INTEGER NOT NULL,"
    " size INTEGER NOT NULL, centroid BLOB NOT NULL,"
    " PRIMARY KEY (segmentation, segment_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS semiperso_segmentation_history("
    " segmentation TEXT NOT NULL, iteration INTEGER NOT NULL,"
    " inertia REAL NOT NULL, changed INTEGER NOT NULL, seconds REAL NOT NULL,"
    " PRIMARY KEY (segmentation, iteration)) WITHOUT ROWID;",
    {{"semiperso_segmentations", "name"},
     {"semiperso_segments", "segmentation"},
     {"semiperso_segmentation_history", "segmentation"}},
    3,
    NULL,
};

/* ---- train_segments: parse, load, fit, persist, summarise ---------------- */

/* One progress report of the fit: iteration 0 is a start's k-means++. */
typedef struct {
  double inertia, seconds;
  int64_t changed;
} Iteration;

typedef struct {
  sqlite3 *db;
  const char *name;
  sqlite3_int64 k, max_iter, seed, n_init;
  char *seeding_name; /* option "seeding" as given; NULL: greedy */
  int seeding, quiet, normalize;
  SpMatrix rows;
  float *centroids;
  int64_t *sizes;
  KmeansResult result;
  /* The reports of every start in turn, grown as they come (a start
  ** stops early when it converges); start r's begin at start_at[r]. */
  Iteration *hist;
  int64_t n_hist, cap_hist;
  int64_t *start_at;
  int starts, hist_nomem;
  double started, last, fit_seconds;
} Segmenting;

static void segmenting_free(Segmenting *t) {
  sp_matrix_free(&t->rows);
  sqlite3_free(t->seeding_name);
  sqlite3_free(t->centroids);
  sqlite3_free(t->sizes);
  sqlite3_free(t->hist);
  sqlite3_free(t->start_at);
}

static const char *const seeding_names[] = {"greedy", "plain"}; /* by KMEANS_SEED_* */

/* Arguments and options, over the defaults. */
static int parse_segmenting(int argc, sqlite3_value **argv, Segmenting *t, const char **sql,
                            char **err) {
  t->k = 1000;
  t->max_iter = 20;
  t->n_init = 1;
  const SpOption spec[] = {
      {"k", SP_OPT_INT, 1, 1000000, 0, &t->k, NULL},
      {"max_iter", SP_OPT_INT, 0, 1000000, 0, &t->max_iter, NULL},
      {"seed", SP_OPT_INT, 0, 9.2e18, 0, &t->seed, NULL},
      {"n_init", SP_OPT_INT, 1, 10000, 0, &t->n_init, NULL},
      {"seeding", SP_OPT_TEXT, 0, 0, 0, &t->seeding_name, "'greedy' or 'plain'"},
      {"normalize", SP_OPT_BOOL, 0, 0, 0, &t->normalize, NULL},
      {"quiet", SP_OPT_BOOL, 0, 0, 0, &t->quiet, NULL},
  };
  int rc = sp_read_text((SpArg){TRAIN_FN, 1, "name"}, argv[0], "a non-empty TEXT", 1, &t->name,
                        err);
  if (rc == SQLITE_OK)
    rc = sp_read_text((SpArg){TRAIN_FN, 2, "query"}, argv[1],
                      "TEXT, a SELECT yielding one vector per row", 0, sql, err);
  if (rc == SQLITE_OK)
    rc = sp_parse_options(t->db, TRAIN_FN, 3, argc > 2 ? argv[2] : NULL, spec, SP_COUNT(spec),
                          err);
  t->seeding = KMEANS_SEED_GREEDY;
  if (rc == SQLITE_OK && t->seeding_name) {
    t->seeding = -1;
    for (int i = 0; i < SP_COUNT(seeding_names); i++)
      if (strcmp(t->seeding_name, seeding_names[i]) == 0) t->seeding = i;
    if (t->seeding < 0) {
      *err = sqlite3_mprintf(TRAIN_FN "(): option \"seeding\" must be 'greedy' or 'plain', "
                             "got '%s'", t->seeding_name);
      rc = SQLITE_ERROR;
    }
  }
  return rc;
}

/* The rows, normalised when asked. */
static int load_segmenting(Segmenting *t, const char *sql, char **err) {
  static const char *const cols[] = {"vector"};
  int rc = sp_query_matrices(t->db, TRAIN_FN, sql, 1, cols, &t->rows, err);
  if (rc != SQLITE_OK) return rc;
  if (t->k > t->rows.rows) {
    *err = sqlite3_mprintf(TRAIN_FN "(): k = %lld is larger than the number of rows of the "
                           "query (%lld); lower option \"k\"", t->k, (long long)t->rows.rows);
    return SQLITE_ERROR;
  }
  if (t->normalize)
    for (int64_t i = 0; i < t->rows.rows; i++)
      vec_normalize(t->rows.data + i * t->rows.dims, (size_t)t->rows.dims);
  return SQLITE_OK;
}

static int fit_should_stop(void *arg) {
  return sp_check_interrupt(((Segmenting *)arg)->db) != SQLITE_OK;
}

/* After each start's k-means++ (iteration 0) and each Lloyd iteration:
** history, progress. */
static int fit_progress(void *arg, int it, double inertia, int64_t changed) {
  Segmenting *t = arg;
  double now = sp_now();
  if (it == 0 && t->starts < t->n_init) t->start_at[t->starts++] = t->n_hist;
  if (sp_grow((void **)&t->hist, &t->cap_hist, t->n_hist + 1, sizeof *t->hist) != SQLITE_OK) {
    t->hist_nomem = 1;
    return 1;
  }
  t->hist[t->n_hist++] = (Iteration){inertia, now - t->last, changed};
  if (!t->quiet) {
    char start[48] = "";
    if (t->n_init > 1) snprintf(start, sizeof start, "start %d/%d, ", t->starts, (int)t->n_init);
    if (it == 0)
      fprintf(stderr, TRAIN_FN "(%s): %sk-means++ done, inertia %.6g (%.2f s)\n", t->name,
              start, inertia, now - t->last);
    else
      fprintf(stderr, TRAIN_FN "(%s): %siteration %d/%d, inertia %.6g, %lld changed (%.2f s)\n",
              t->name, start, it, (int)t->max_iter, inertia, (long long)changed, now - t->last);
  }
  t->last = now;
  return fit_should_stop(arg);
}

static int fit(Segmenting *t, char **err) {
  sqlite3_uint64 k = (sqlite3_uint64)t->k;
  t->centroids = sqlite3_malloc64(k * (sqlite3_uint64)t->rows.dims * sizeof(float));
  t->sizes = sqlite3_malloc64(k * sizeof *t->sizes);
  t->start_at = sqlite3_malloc64((sqlite3_uint64)t->n_init * sizeof *t->start_at);
  if (!t->centroids || !t->sizes || !t->start_at) return SQLITE_NOMEM;
  if (!t->quiet)
    fprintf(stderr, TRAIN_FN "(%s): k-means, k = %lld on %lld x %d rows, %s seeding%s\n",
            t->name, t->k, (long long)t->rows.rows, t->rows.dims, seeding_names[t->seeding],
            t->n_init > 1 ? ", the best of several starts" : "");
  KmeansConfig cfg = {.k = (int)t->k, .max_iter = (int)t->max_iter, .seed = (uint64_t)t->seed,
                      .n_init = (int)t->n_init, .seeding = t->seeding,
                      .should_stop = fit_should_stop, .progress = fit_progress, .arg = t};
  t->started = t->last = sp_now();
  int rc = kmeans_fit(t->rows.data, t->rows.rows, t->rows.dims, &cfg, t->centroids, NULL,
                      t->sizes, &t->result);
  t->fit_seconds = sp_now() - t->started;
  if (rc == KMEANS_ABORTED && t->hist_nomem) rc = KMEANS_NOMEM;
  switch (rc) {
    case KMEANS_OK:
      return SQLITE_OK;
    case KMEANS_ABORTED:
      *err = sp_interrupted(TRAIN_FN, "the previous segmentation is kept");
      return SQLITE_INTERRUPT;
    case KMEANS_NOMEM:
      return SQLITE_NOMEM;
    default:
      *err = sqlite3_mprintf(TRAIN_FN "(): invalid k-means arguments");
      return SQLITE_ERROR;
  }
}

/* The options in effect as JSON (stored with the segmentation). */
static char *options_json(const Segmenting *t) {
  sqlite3_str *s = sqlite3_str_new(t->db);
  sp_json_open(s, '{');
  sp_json_int(s, "k", t->k);
  sp_json_int(s, "max_iter", t->max_iter);
  sp_json_int(s, "seed", t->seed);
  sp_json_int(s, "n_init", t->n_init);
  sp_json_text(s, "seeding", seeding_names[t->seeding]);
  sp_json_bool(s, "normalize", t->normalize);
  sp_json_bool(s, "quiet", t->quiet);
  sp_json_close(s, '}');
  return sqlite3_str_finish(s);
}

typedef struct {
  const Segmenting *t;
  const char *options;
  sqlite3_int64 generation;
} SegmentationRow;

static int bind_segmentation(sqlite3_stmt *st, int64_t i, const void *arg) {
  (void)i;
  const SegmentationRow *r = arg;
  const Segmenting *t = r->t;
  sqlite3_bind_int64(st, 2, t->k);
  sqlite3_bind_int(st, 3, t->rows.dims);
  sqlite3_bind_int64(st, 4, t->rows.rows);
  sqlite3_bind_int(st, 5, t->result.iterations);
  sqlite3_bind_int(st, 6, t->result.converged);
  sqlite3_bind_double(st, 7, t->result.inertia);
  sqlite3_bind_int64(st, 8, t->result.reseeded);
  sqlite3_bind_text(st, 9, r->options, -1, SQLITE_STATIC);
  sqlite3_bind_double(st, 10, t->fit_seconds);
  sqlite3_bind_int(st, 12, t->result.restart);
  return sqlite3_bind_int64(st, 11, r->generation);
}

static int bind_segment(sqlite3_stmt *st, int64_t j, const void *arg) {
  const Segmenting *t = arg;
  sqlite3_bind_int64(st, 2, j);
  sqlite3_bind_int64(st, 3, t->sizes[j]);
  return sqlite3_bind_blob64(st, 4, t->centroids + j * t->rows.dims,
                             (sqlite3_uint64)t->rows.dims * sizeof(float), SQLITE_STATIC);
}

/* Iteration i of the start kept. */
static int bind_iteration(sqlite3_stmt *st, int64_t i, const void *arg) {
  const Segmenting *t = arg;
  const Iteration *h = t->hist + t->start_at[t->result.restart] + i;
  sqlite3_bind_int64(st, 2, i);
  sqlite3_bind_double(st, 3, h->inertia);
  sqlite3_bind_int64(st, 4, h->changed);
  return sqlite3_bind_double(st, 5, h->seconds);
}

/* Tables written before the column restart existed get it (0: they were
** single starts), so retraining into an older database works. */
static int add_restart_column(sqlite3 *db, char **err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT count(*) = 0 AND (SELECT count(*) FROM"
                              " pragma_table_info('semiperso_segmentations')) > 0"
                              " FROM pragma_table_info('semiperso_segmentations')"
                              " WHERE name = 'restart'", -1, &st, NULL);
  int missing = 0;
  if (rc == SQLITE_OK) {
    /* A failed step (out of memory) may have rolled the transaction back:
    ** stop there rather than write outside it. */
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      missing = sqlite3_column_int(st, 0);
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_OK && missing)
    rc = sqlite3_exec(db, "ALTER TABLE semiperso_segmentations"
                      " ADD COLUMN restart INTEGER NOT NULL DEFAULT 0", NULL, NULL, NULL);
  if (rc != SQLITE_OK && rc != SQLITE_NOMEM)
    *err = sqlite3_mprintf(TRAIN_FN "(): cannot update semiperso_segmentations: %s",
                           sqlite3_errmsg(db));
  return rc;
}

/* Replaces the stored segmentation of that name by the fitted one. */
static int persist(const Segmenting *t, char **err) {
  int rc = add_restart_column(t->db, err);
  if (rc != SQLITE_OK) return rc;
  char *options = options_json(t);
  SpStore s;
  sp_store_begin(&s, t->db, TRAIN_FN, &segmentations_kind, t->name);
  SegmentationRow row = {t, options, s.generation};
  if (options == NULL) s.rc = SQLITE_NOMEM;
  sp_store_rows(&s,
                "INSERT INTO semiperso_segmentations VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                "?10, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?11, ?12)",
                1, bind_segmentation, &row);
  sp_store_rows(&s, "INSERT INTO semiperso_segments VALUES (?1, ?2, ?3, ?4)", t->k, bind_segment,
                t);
  sp_store_rows(&s, "INSERT INTO semiperso_segmentation_history VALUES (?1, ?2, ?3, ?4, ?5)",
                t->result.iterations + 1, bind_iteration, t);
  rc = sp_store_end(&s, err);
  sqlite3_free(options);
  return rc;
}

static void summarise(sqlite3_context *ctx, const Segmenting *t) {
  sqlite3_str *s = sqlite3_str_new(t->db);
  sp_json_open(s, '{');
  sp_json_text(s, "name", t->name);
  sp_json_int(s, "k", t->k);
  sp_json_int(s, "dims", t->rows.dims);
  sp_json_int(s, "rows", t->rows.rows);
  sp_json_int(s, "iterations", t->result.iterations);
  sp_json_bool(s, "converged", t->result.converged);
  sp_json_real(s, "inertia", t->result.inertia);
  sp_json_int(s, "reseeded", t->result.reseeded);
  sp_json_int(s, "n_init", t->n_init);
  sp_json_int(s, "restart", t->result.restart);
  sp_json_seconds(s, "seconds", t->fit_seconds);
  sp_json_close(s, '}');
  sp_result_json(ctx, s);
}

static void train_segments_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  Segmenting t;
  memset(&t, 0, sizeof t);
  t.db = sqlite3_context_db_handle(ctx);
  const char *sql = NULL;
  char *err = NULL;
  int rc = parse_segmenting(argc, argv, &t, &sql, &err);
  if (rc == SQLITE_OK) rc = load_segmenting(&t, sql, &err);
  if (rc == SQLITE_OK) rc = fit(&t, &err);
  if (rc == SQLITE_OK) rc = persist(&t, &err);
  if (rc == SQLITE_OK) {
    sp_cache_saved(sp_state(ctx));
    summarise(ctx, &t);
  } else {
    sp_result_error_rc(ctx, rc, err);
  }
  segmenting_free(&t);
}

/* ---- assign_segment ------------------------------------------------------ */

/* A segmentation as served. */
typedef struct {
  int k, d, normalize;
  float *centroids, *norms;
} Segmentation;

static void free_segmentation(void *p) {
  Segmentation *g = p;
  sqlite3_free(g->centroids);
  sqlite3_free(g->norms);
  sqlite3_free(g);
}

/* Reads segmentation name (the loader of the model cache). */
static int load_segmentation(sqlite3 *db, const char *fn, const char *name, void **model,
                             char **err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT s.k, s.dims, json_extract(s.options, '$.normalize'),"
                              " (SELECT count(*) FROM semiperso_segments WHERE segmentation = ?1),"
                              " (SELECT sum(length(centroid)) FROM semiperso_segments"
                              "  WHERE segmentation = ?1)"
                              " FROM semiperso_segmentations AS s WHERE s.name = ?1",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
  }
  int k = 0, d = 0, normalize = 0;
  sqlite3_int64 rows = 0, bytes = 0;
  if (rc == SQLITE_ROW) {
    k = sqlite3_column_int(st, 0);
    d = sqlite3_column_int(st, 1);
    normalize = sqlite3_column_int(st, 2);
    rows = sqlite3_column_int64(st, 3);
    bytes = sqlite3_column_int64(st, 4);
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) return SQLITE_NOTFOUND;
  if (rc != SQLITE_ROW) {
    *err = sqlite3_mprintf("%s(): %s", fn, sqlite3_errmsg(db));
    return rc;
  }
  if (k < 1 || d < 1) {
    *err = sqlite3_mprintf("%s(): segmentation '%s' is damaged", fn, name);
    return SQLITE_CORRUPT;
  }
  /* k rows of d floats must be stored, checked before allocating them. */
  if (rows != k || bytes != (sqlite3_int64)k * d * (sqlite3_int64)sizeof(float)) {
    *err = sqlite3_mprintf("%s(): segmentation '%s' is damaged: semiperso_segmentations says "
                           "k = %d of %d floats, semiperso_segments holds %lld rows of %lld "
                           "bytes in all (retrain it with train_segments())", fn, name, k, d,
                           rows, bytes);
    return SQLITE_CORRUPT;
  }
  Segmentation *g = sqlite3_malloc(sizeof *g);
  if (g == NULL) return SQLITE_NOMEM;
  *g = (Segmentation){k, d, normalize, NULL, NULL};
  SpMatrix m = {NULL, NULL, 0, 0, d};
  SpColumn centroid = {fn, "semiperso_segments", 1, 0, "centroid"};
  int64_t seen = 0;
  rc = sqlite3_prepare_v2(db, "SELECT segment_id, centroid FROM semiperso_segments"
                          " WHERE segmentation = ?1 ORDER BY segment_id", -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sp_matrix_read(&m, st, &centroid, k + 1, &seen, NULL);
  }
  sqlite3_finalize(st);
  g->centroids = m.data;
  g->norms = sqlite3_malloc64((sqlite3_uint64)k * sizeof(float));
  for (int64_t j = 0; rc == SQLITE_DONE && j < m.rows; j++) {
    if (m.ids[j] != j) rc = SQLITE_CORRUPT;
  }
  sqlite3_free(m.ids);
  if (rc == SQLITE_DONE && m.rows == k && g->norms) {
    kmeans_centroid_norms(g->centroids, k, d, g->norms);
    *model = g;
    return SQLITE_OK;
  }
  free_segmentation(g);
  if (rc == SQLITE_NOMEM || (rc == SQLITE_DONE && m.rows == k)) return SQLITE_NOMEM;
  *err = sqlite3_mprintf("%s(): segmentation '%s' is damaged in semiperso_segments (retrain it "
                         "with train_segments())", fn, name);
  return SQLITE_CORRUPT;
}

static const SpModelLoader segmentation_loader = {
    &segmentations_kind,
    "no segmentation named '%s' (see SELECT name FROM semiperso_segmentations)",
    load_segmentation, free_segmentation};

static void assign_segment_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const char *name;
  float *x = NULL;
  int n;
  if (sp_text_arg(ctx, argv[0], 1, NULL, "the TEXT name of a segmentation made by "
                  "train_segments()", 0, &name) != SQLITE_OK)
    return;
  const Segmentation *g = sp_cache_get(ctx, sp_state(ctx), &segmentation_loader, name);
  if (g == NULL || sp_vector_arg(ctx, argv[1], 2, &x, &n) != SQLITE_OK) return;
  int32_t label;
  if (n != g->d) {
    sp_result_errorf(ctx, "assign_segment(): argument 2 has %d floats, segmentation '%s' has %d",
                     n, name, g->d);
  } else {
    if (g->normalize) vec_normalize(x, (size_t)n);
    if (kmeans_assign(x, 1, n, g->centroids, g->norms, g->k, &label, NULL) == KMEANS_OK)
      sqlite3_result_int(ctx, label);
    else
      sqlite3_result_error_nomem(ctx);
  }
  sqlite3_free(x);
}

/* ---- assign_segments: the same assignment, many rows at a time ---------- */

#define ASSIGN_BATCH_FN "assign_segments"

/* Rows gathered until a block is full, then assigned with one sgemm per
** block of rows (kmeans_assign: the same canonical ids as row by row). */
typedef struct {
  int started, k, d, normalize;
  char *name;                 /* of the first row; every row must name it */
  float *centroids, *norms;   /* copied: the cache may reload meanwhile */
  float *rows;                /* block x d */
  sqlite3_int64 *ids;         /* block */
  int32_t *labels;            /* block */
  int block, filled;
  sqlite3_str *out;           /* JSON [[id, segment_id], ...] so far */
} Assigning;

static int start_assigning(sqlite3_context *ctx, Assigning *a, const char *name) {
  const Segmentation *g = sp_cache_get(ctx, sp_state(ctx), &segmentation_loader, name);
  if (g == NULL) return SQLITE_ERROR;
  size_t kd = (size_t)g->k * (size_t)g->d;
  a->k = g->k;
  a->d = g->d;
  a->normalize = g->normalize;
  /* Blocks of about 4 Mi floats (16 MiB), at least one row. */
  a->block = (1 << 22) / g->d > 0 ? (1 << 22) / g->d : 1;
  a->name = sqlite3_mprintf("%s", name);
  a->centroids = sqlite3_malloc64(kd * sizeof(float));
  a->norms = sqlite3_malloc64((size_t)g->k * sizeof(float));
  a->rows = sqlite3_malloc64((size_t)a->block * (size_t)g->d * sizeof(float));
  a->ids = sqlite3_malloc64((size_t)a->block * sizeof *a->ids);
  a->labels = sqlite3_malloc64((size_t)a->block * sizeof *a->labels);
  a->out = sqlite3_str_new(sqlite3_context_db_handle(ctx));
  a->started = 1;
  if (!a->name || !a->centroids || !a->norms || !a->rows || !a->ids || !a->labels)
    return SQLITE_NOMEM;
  memcpy(a->centroids, g->centroids, kd * sizeof(float));
  memcpy(a->norms, g->norms, (size_t)g->k * sizeof(float));
  sqlite3_str_appendchar(a->out, 1, '[');
  return SQLITE_OK;
}

/* Assigns the rows gathered and appends them to the JSON. */
static int flush_assigning(Assigning *a) {
  if (a->filled == 0) return SQLITE_OK;
  if (kmeans_assign(a->rows, a->filled, a->d, a->centroids, a->norms, a->k, a->labels, NULL) !=
      KMEANS_OK)
    return SQLITE_NOMEM;
  for (int i = 0; i < a->filled; i++)
    sqlite3_str_appendf(a->out, "%s[%lld,%d]", sqlite3_str_length(a->out) > 1 ? "," : "",
                        a->ids[i], (int)a->labels[i]);
  a->filled = 0;
  return sqlite3_str_errcode(a->out);
}

static void free_assigning(Assigning *a) {
  sqlite3_free(a->name);
  sqlite3_free(a->centroids);
  sqlite3_free(a->norms);
  sqlite3_free(a->rows);
  sqlite3_free(a->ids);
  sqlite3_free(a->labels);
  sqlite3_free(sqlite3_str_finish(a->out));
  memset(a, 0, sizeof *a);
}

static void assign_segments_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  Assigning *a = sqlite3_aggregate_context(ctx, sizeof *a);
  const char *name;
  if (a == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (sp_text_arg(ctx, argv[0], 1, NULL, "the TEXT name of a segmentation made by "
                  "train_segments()", 0, &name) != SQLITE_OK)
    return;
  if (!a->started) {
    int rc = start_assigning(ctx, a, name);
    if (rc == SQLITE_NOMEM) sqlite3_result_error_nomem(ctx);
    if (rc != SQLITE_OK) return;
  } else if (a->name == NULL || strcmp(name, a->name) != 0) {
    sp_result_errorf(ctx, ASSIGN_BATCH_FN "(): argument 1 must name the same segmentation in "
                     "every row ('%s' after '%s')", name, a->name ? a->name : "");
    return;
  }
  if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER) {
    sp_result_errorf(ctx, ASSIGN_BATCH_FN "(): argument 2 must be an INTEGER id");
    return;
  }
  float *x = NULL;
  int n;
  if (sp_vector_arg(ctx, argv[2], 3, &x, &n) != SQLITE_OK) return;
  if (n != a->d) {
    sp_result_errorf(ctx, ASSIGN_BATCH_FN "(): argument 3 has %d floats, segmentation '%s' has %d",
                     n, a->name, a->d);
  } else {
    if (a->normalize) vec_normalize(x, (size_t)n);
    memcpy(a->rows + (size_t)a->filled * (size_t)a->d, x, (size_t)n * sizeof(float));
    a->ids[a->filled++] = sqlite3_value_int64(argv[1]);
    if (a->filled == a->block && flush_assigning(a) != SQLITE_OK)
      sqlite3_result_error_nomem(ctx);
  }
  sqlite3_free(x);
}

static void assign_segments_final(sqlite3_context *ctx) {
  Assigning *a = sqlite3_aggregate_context(ctx, 0);
  if (a == NULL || !a->started) {
    sp_result_json_text(ctx, "[]");
  } else if (flush_assigning(a) != SQLITE_OK) {
    sqlite3_result_error_nomem(ctx);
  } else {
    sqlite3_str_appendchar(a->out, 1, ']');
    sqlite3_str *out = a->out;
    a->out = NULL;
    sp_result_json(ctx, out);
  }
  if (a) free_assigning(a);
}

static void clear_segmentations(void *state) { sp_cache_clear(state, &segmentation_loader); }

static const SpFunction kmeans_functions[] = {
    {TRAIN_FN, 2, SP_DIRECT | SP_SUBTYPED, NULL, train_segments_func, NULL, NULL, NULL, NULL},
    {TRAIN_FN, 3, SP_DIRECT | SP_SUBTYPED, NULL, train_segments_func, NULL, NULL, NULL, NULL},
    /* Reads tables, so not deterministic; no side effects, so innocuous. */
    {"assign_segment", 2, SQLITE_UTF8 | SQLITE_INNOCUOUS, NULL, assign_segment_func, NULL, NULL,
     NULL, NULL},
    {ASSIGN_BATCH_FN, 3, SQLITE_UTF8 | SQLITE_INNOCUOUS | SP_SUBTYPED, NULL, NULL,
     assign_segments_step, assign_segments_final, NULL, NULL},
};

const SpBinding sp_kmeans_binding = {kmeans_functions, SP_COUNT(kmeans_functions), NULL, 0,
                                     sizeof(SpModelCache), clear_segmentations};
