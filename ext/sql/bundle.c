/*
** bundle.c - the serving bundle: everything recommend_cold_user() and
** user_input_features() (serve.c) read, and nothing else, in one compact
** SQLite file to ship to servers.
**
**   export_bundle(path [, options]) -> JSON summary
**       writes the bundle of model `model` and segmentation `segmentation`
**       of this database to path and returns {"path", "bytes", "format",
**       "generation", "model", "segmentation", "tables": {table: rows},
**       "seconds"}.  options: model 'user_embedder', segmentation
**       'warm_users', replace false (true: replace an existing file, e.g.
**       the bundle servers are reading: they see the old file or the new
**       one, never a part).  Files are written as outfile.h says:
**       SQLITE_DIRECTONLY, refused in defensive mode, through a temporary
**       file and a rename; an interrupt leaves nothing behind.
**
** Before writing, the sources are checked to fit together: the model maps
** 20 d + 19 features to d floats, the segmentation has d floats, d being
** the width of the track vectors; segment_top_tracks has a list for every
** segment; feature_entity_vectors holds exactly the vectors of tracks for
** its 'track' rows (sql/features.sql copies them), so the bundle stores
** track vectors once.
**
** Layout (format 1); serving reads it through the same statements as the
** training database, with the same answers:
**   semiperso_bundle(format, generation, created_at, model, segmentation,
**                    source)                      one row; generation is a
**                                                 random id of this export
**   semiperso_models, semiperso_model_params      the model's rows
**   semiperso_segmentations, semiperso_segments   the segmentation's rows
**   segment_top_tracks                            the segmentation's lists
**   feature_groups, feature_age_vectors,
**   feature_country_vectors                       as they are
**   tracks(track_id INTEGER PRIMARY KEY, embedding BLOB NOT NULL)
**   bundle_entity_vectors(entity, entity_id, embedding)
**                                                 albums, artists, playlists
**   VIEW feature_entity_vectors                   tracks as 'track' rows,
**                                                 then bundle_entity_vectors
** Tables keep their source definitions (and indexes), so a model is read
** by the same code as in training.
*/
#include <string.h>

#include "../core/input_features.h"
#include "common.h"
#include "modules.h"
#include "options.h"
#include "outfile.h"

#define FN "export_bundle"
#define BUNDLE_FORMAT 1

typedef struct {
  sqlite3 *src, *dst;
  char *model, *segmentation; /* options, sqlite3_malloc'd */
  int replace;
  sqlite3_int64 generation;
  sqlite3_str *tables; /* the summary's "tables" members */
} Export;

/* ---- checks --------------------------------------------------------------------- */

/* Runs a one-row query of integers on the source: ?1 model, ?2
** segmentation.  *found 0 when it returns no row. */
static int query_ints(Export *x, const char *sql, sqlite3_int64 *out, int n, int *found,
                      char **err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(x->src, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, x->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, x->segmentation, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
  }
  *found = rc == SQLITE_ROW;
  for (int i = 0; i < n && rc == SQLITE_ROW; i++) out[i] = sqlite3_column_int64(st, i);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
  else if (rc != SQLITE_NOMEM) *err = sqlite3_mprintf(FN "(): %s", sqlite3_errmsg(x->src));
  sqlite3_finalize(st);
  return rc;
}

/* The sources fit together (see the header). */
static int check_sources(Export *x, char **err) {
  sqlite3_int64 m[2], g[2], d = 0, cover = 0, t[3];
  int found, rc;
  rc = query_ints(x, "SELECT input_dim, output_dim FROM semiperso_models WHERE name = ?1", m, 2,
                  &found, err);
  if (rc == SQLITE_OK && !found) {
    *err = sqlite3_mprintf(FN "(): option \"model\": no model named \"%s\"", x->model);
    return SQLITE_ERROR;
  }
  if (rc == SQLITE_OK)
    rc = query_ints(x, "SELECT k, dims FROM semiperso_segmentations WHERE name = ?2", g, 2,
                    &found, err);
  if (rc == SQLITE_OK && !found) {
    *err = sqlite3_mprintf(FN "(): option \"segmentation\": no segmentation named '%s'",
                           x->segmentation);
    return SQLITE_ERROR;
  }
  if (rc == SQLITE_OK)
    rc = query_ints(x, "SELECT length(embedding) / 4 FROM tracks LIMIT 1", &d, 1, &found, err);
  if (rc == SQLITE_OK && (!found || d < 1)) {
    *err = sqlite3_mprintf(FN "(): the table tracks is empty");
    return SQLITE_ERROR;
  }
  if (rc == SQLITE_OK && (m[0] != features_width((int)d) || m[1] != d || g[1] != d)) {
    *err = sqlite3_mprintf(FN "(): the parts do not fit: tracks have %lld floats, so the "
                           "features have %lld; model \"%s\" maps %lld to %lld, segmentation "
                           "'%s' has %lld", d, features_width((int)d), x->model, m[0], m[1],
                           x->segmentation, g[1]);
    return SQLITE_ERROR;
  }
  if (rc == SQLITE_OK)
    rc = query_ints(x, "SELECT count(DISTINCT segment_id) FROM segment_top_tracks "
                       "WHERE segmentation = ?2", &cover, 1, &found, err);
  if (rc == SQLITE_OK && cover != g[0]) {
    *err = sqlite3_mprintf(FN "(): segment_top_tracks has lists for %lld of the %lld segments of "
                           "'%s' (run sql/steps/top_tracks.sql after training it)", cover, g[0],
                           x->segmentation);
    return SQLITE_ERROR;
  }
  if (rc == SQLITE_OK)
    rc = query_ints(x, "SELECT (SELECT count(*) FROM tracks),"
                       " (SELECT count(*) FROM feature_entity_vectors WHERE entity = 'track'),"
                       " (SELECT count(*) FROM feature_entity_vectors AS v"
                       "  JOIN tracks AS t ON t.track_id = v.entity_id"
                       "  WHERE v.entity = 'track' AND t.embedding = v.embedding)",
                    t, 3, &found, err);
  if (rc == SQLITE_OK && (t[1] != t[0] || t[2] != t[0])) {
    *err = sqlite3_mprintf(FN "(): feature_entity_vectors is out of date: it holds %lld track "
                           "vectors, %lld of them as in tracks, which has %lld (re-run "
                           "sql/features.sql)", t[1], t[2], t[0]);
    return SQLITE_ERROR;
  }
  return rc;
}

/* ---- copying ---------------------------------------------------------------------- */

static int dst_exec(Export *x, const char *sql, char **err) {
  int rc = sqlite3_exec(x->dst, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK && rc != SQLITE_NOMEM)
    *err = sqlite3_mprintf(FN "(): cannot write the bundle: %s", sqlite3_errmsg(x->dst));
  return rc;
}

/* Copies the rows of a source query (?1 model, ?2 segmentation) into
** table of the bundle, in the query's order. */
static int copy_rows(Export *x, const char *select, const char *table, char **err) {
  sqlite3_stmt *from = NULL, *to = NULL;
  sqlite3_int64 rows = 0;
  int rc = sqlite3_prepare_v2(x->src, select, -1, &from, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_str *ins = sqlite3_str_new(x->dst);
    sqlite3_str_appendf(ins, "INSERT INTO \"%w\" VALUES (", table);
    for (int i = 0; i < sqlite3_column_count(from); i++)
      sqlite3_str_appendall(ins, i ? ", ?" : "?");
    sqlite3_str_appendall(ins, ")");
    char *sql = sqlite3_str_finish(ins);
    rc = sql ? sqlite3_prepare_v2(x->dst, sql, -1, &to, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (rc != SQLITE_OK && rc != SQLITE_NOMEM)
      *err = sqlite3_mprintf(FN "(): cannot write table %s: %s", table, sqlite3_errmsg(x->dst));
  } else if (rc != SQLITE_NOMEM) {
    *err = sqlite3_mprintf(FN "(): cannot read table %s: %s", table, sqlite3_errmsg(x->src));
  }
  if (rc == SQLITE_OK) {
    int n = sqlite3_column_count(from);
    if (sqlite3_bind_parameter_count(from) >= 1)
      sqlite3_bind_text(from, 1, x->model, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(from) >= 2)
      sqlite3_bind_text(from, 2, x->segmentation, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(from)) == SQLITE_ROW) {
      /* Binding copies text and BLOBs: out of memory, it binds nothing. */
      for (int i = 0; i < n && rc == SQLITE_ROW; i++) {
        int bound = sqlite3_bind_value(to, i + 1, sqlite3_column_value(from, i));
        if (bound != SQLITE_OK) rc = bound;
      }
      if (rc != SQLITE_ROW) break;
      if ((rc = sqlite3_step(to)) != SQLITE_DONE) {
        if (rc != SQLITE_NOMEM)
          *err = sqlite3_mprintf(FN "(): cannot write table %s: %s", table,
                                 sqlite3_errmsg(x->dst));
        break;
      }
      sqlite3_reset(to);
      rows++;
    }
    if (rc == SQLITE_DONE) {
      rc = SQLITE_OK;
    } else if (*err == NULL && rc != SQLITE_NOMEM) {
      *err = sqlite3_mprintf(FN "(): cannot read table %s: %s", table, sqlite3_errmsg(x->src));
    }
  }
  sqlite3_finalize(from);
  sqlite3_finalize(to);
  if (rc == SQLITE_OK) sp_json_int(x->tables, table, rows);
  return rc;
}

/* Creates table in the bundle as the source defines it, with its indexes. */
static int copy_definition(Export *x, const char *table, char **err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(x->src, "SELECT sql FROM main.sqlite_schema WHERE tbl_name = ?1"
                              " AND type IN ('table', 'index') AND sql IS NOT NULL"
                              " ORDER BY type = 'index'", -1, &st, NULL);
  int n = 0;
  if (rc == SQLITE_OK) sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    rc = dst_exec(x, (const char *)sqlite3_column_text(st, 0), err);
    n++;
  }
  if (rc == SQLITE_DONE && n == 0) {
    *err = sqlite3_mprintf(FN "(): this database has no table %s", table);
    rc = SQLITE_ERROR;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_OK;
  } else if (*err == NULL && rc != SQLITE_NOMEM) {
    *err = sqlite3_mprintf(FN "(): %s", sqlite3_errmsg(x->src));
  }
  sqlite3_finalize(st);
  return rc;
}

/* Source tables copied with their definitions: rows of the model (?1), of
** the segmentation (?2), or all. */
static const struct {
  const char *table, *key;
} copied[] = {
    {"semiperso_models", "name = ?1"},
    {"semiperso_model_params", "model = ?1"},
    {"semiperso_segmentations", "name = ?2"},
    {"semiperso_segments", "segmentation = ?2"},
    {"segment_top_tracks", "segmentation = ?2"},
    {"feature_groups", NULL},
    {"feature_age_vectors", NULL},
    {"feature_country_vectors", NULL},
};

static int write_bundle(Export *x, char **err) {
  int rc = dst_exec(x, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN", err);
  for (size_t i = 0; rc == SQLITE_OK && i < sizeof copied / sizeof *copied; i++) {
    char *select = sqlite3_mprintf("SELECT * FROM main.\"%w\"%s%s", copied[i].table,
                                   copied[i].key ? " WHERE " : "",
                                   copied[i].key ? copied[i].key : "");
    rc = select ? copy_definition(x, copied[i].table, err) : SQLITE_NOMEM;
    if (rc == SQLITE_OK) rc = copy_rows(x, select, copied[i].table, err);
    sqlite3_free(select);
  }
  if (rc == SQLITE_OK)
    rc = dst_exec(x, "CREATE TABLE tracks(track_id INTEGER PRIMARY KEY,"
                     " embedding BLOB NOT NULL);"
                     "CREATE TABLE bundle_entity_vectors(entity TEXT NOT NULL,"
                     " entity_id INTEGER NOT NULL, embedding BLOB NOT NULL,"
                     " PRIMARY KEY (entity, entity_id)) WITHOUT ROWID;"
                     "CREATE VIEW feature_entity_vectors(entity, entity_id, embedding) AS"
                     " SELECT 'track', track_id, embedding FROM tracks"
                     " UNION ALL SELECT entity, entity_id, embedding FROM bundle_entity_vectors;"
                     "CREATE TABLE semiperso_bundle(format INTEGER NOT NULL,"
                     " generation INTEGER NOT NULL, created_at TEXT NOT NULL,"
                     " model TEXT NOT NULL, segmentation TEXT NOT NULL, source TEXT)", err);
  if (rc == SQLITE_OK)
    rc = copy_rows(x, "SELECT track_id, embedding FROM main.tracks ORDER BY track_id", "tracks",
                   err);
  if (rc == SQLITE_OK)
    rc = copy_rows(x, "SELECT entity, entity_id, embedding FROM main.feature_entity_vectors"
                      " WHERE entity <> 'track'", "bundle_entity_vectors", err);
  if (rc == SQLITE_OK) {
    char *select = sqlite3_mprintf("SELECT %d, %lld, strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now'),"
                                   " ?1, ?2, %Q", BUNDLE_FORMAT, x->generation,
                                   sqlite3_db_filename(x->src, "main"));
    rc = select ? copy_rows(x, select, "semiperso_bundle", err) : SQLITE_NOMEM;
    sqlite3_free(select);
  }
  if (rc == SQLITE_OK) rc = dst_exec(x, "COMMIT", err);
  return rc;
}

/* ---- export_bundle ----------------------------------------------------------------- */

static void export_bundle_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  Export x;
  memset(&x, 0, sizeof x);
  x.src = sqlite3_context_db_handle(ctx);
  x.model = sqlite3_mprintf("user_embedder");
  x.segmentation = sqlite3_mprintf("warm_users");
  x.tables = sqlite3_str_new(x.src);
  sqlite3_randomness(sizeof x.generation, &x.generation);
  x.generation &= INT64_MAX;
  double started = sp_now();
  SpOutFile f;
  int64_t bytes = 0;
  char *err = NULL;
  const char *path = NULL;
  const SpOption spec[] = {
      {"model", SP_OPT_TEXT, 0, 0, 0, &x.model, "the name of a model (train_embedder())"},
      {"segmentation", SP_OPT_TEXT, 0, 0, 0, &x.segmentation,
       "the name of a segmentation (train_segments())"},
      {"replace", SP_OPT_BOOL, 0, 0, 0, &x.replace, NULL},
  };
  int rc = x.model && x.segmentation ? SQLITE_OK : SQLITE_NOMEM;
  if (rc == SQLITE_OK && sqlite3_value_type(argv[0]) == SQLITE_TEXT)
    path = (const char *)sqlite3_value_text(argv[0]);
  if (rc == SQLITE_OK)
    rc = sp_parse_options(x.src, FN, 2, argc > 1 ? argv[1] : NULL, spec, SP_COUNT(spec), &err);
  if (rc == SQLITE_OK && (x.model == NULL || x.segmentation == NULL)) {
    err = sqlite3_mprintf(FN "(): option \"%s\" must be a name",
                          x.model == NULL ? "model" : "segmentation");
    rc = SQLITE_ERROR;
  }
  sp_json_open(x.tables, '{');
  memset(&f, 0, sizeof f);
  f.fd = -1;
  if (rc == SQLITE_OK) rc = sp_outfile_open(&f, x.src, FN, 1, path, x.replace, &err);
  if (rc == SQLITE_OK) rc = check_sources(&x, &err);
  if (rc == SQLITE_OK) {
    rc = sqlite3_open_v2(f.tmp, &x.dst, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_NOMEM)
      err = sqlite3_mprintf(FN "(): cannot open '%s': %s", f.tmp,
                            x.dst ? sqlite3_errmsg(x.dst) : "out of memory");
  }
  if (rc == SQLITE_OK) rc = write_bundle(&x, &err);
  if (x.dst && sqlite3_close(x.dst) != SQLITE_OK && rc == SQLITE_OK) {
    err = sqlite3_mprintf(FN "(): cannot close the bundle");
    rc = SQLITE_IOERR;
  }
  if (rc == SQLITE_OK) rc = sp_outfile_commit(&f, &bytes, &err);
  sp_outfile_free(&f);
  sp_json_close(x.tables, '}');
  char *tables = sqlite3_str_finish(x.tables);
  if (rc == SQLITE_OK && tables == NULL) rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK) {
    sqlite3_str *s = sqlite3_str_new(x.src);
    sp_json_open(s, '{');
    sp_json_text(s, "path", path);
    sp_json_int(s, "bytes", bytes);
    sp_json_int(s, "format", BUNDLE_FORMAT);
    sp_json_int(s, "generation", x.generation);
    sp_json_text(s, "model", x.model);
    sp_json_text(s, "segmentation", x.segmentation);
    sp_json_key(s, "tables");
    sqlite3_str_appendall(s, tables);
    sp_json_seconds(s, "seconds", sp_now() - started);
    sp_json_close(s, '}');
    sp_result_json(ctx, s);
  } else {
    sp_outfile_result_error(ctx, FN, rc, err);
  }
  sqlite3_free(tables);
  sqlite3_free(x.model);
  sqlite3_free(x.segmentation);
}

static const SpFunction bundle_functions[] = {
    {FN, 1, SP_DIRECT | SP_SUBTYPED, NULL, export_bundle_func, NULL, NULL, NULL, NULL},
    {FN, 2, SP_DIRECT | SP_SUBTYPED, NULL, export_bundle_func, NULL, NULL, NULL, NULL},
};

const SpBinding sp_bundle_binding = {bundle_functions, SP_COUNT(bundle_functions), NULL, 0, 0,
                                     NULL};
