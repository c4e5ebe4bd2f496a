/*
** fuzz_sql.c - libFuzzer target: arbitrary SQL text against the extension.
**
** Built by `make fuzz` (and a short pass by tests/run.sh) with
**   clang -fsanitize=fuzzer,address,undefined -DSQLITE_CORE
** from the extension sources and the system libsqlite3, so the extension's
** sqlite3_* calls are direct calls into the same library.
**
** Input: the bytes are SQL text (NUL bytes end it), run statement by
** statement; a statement that fails is skipped and the next one runs.
**
** Fixture, built once per process in an in-memory database:
**   tracks(track_id INTEGER PRIMARY KEY, album_id, artist_id, embedding)
**       20 tracks, 4 floats each
**   model 'm'         train_embedder on (embedding, embedding) rows,
**                     hidden [4], 2 epochs
**   segmentation 's'  train_segments of the track vectors, k 3
**   serving           feature_* helper tables, model 'user_embedder' (the
**                     20 x 4 + 19 input layout), segmentation 'warm_users'
**                     and its segment_top_tracks
** The connection is in defensive mode: export_bundle and export_onnx read
** their arguments, then refuse to write.
** Every input runs inside a savepoint that is rolled back afterwards, so
** inputs never see each other's writes (ending that savepoint, BEGIN,
** COMMIT, ATTACH and DETACH are refused by an authorizer; should the
** savepoint be gone anyway, the database is restored from a pristine copy).
**
** Bounds per input: SQLITE_LIMIT_LENGTH 1 MB, SQL length 64 KB, at most
** MAX_STEPS progress callbacks, 64 MB of SQLite heap, and a watchdog
** thread that calls sqlite3_interrupt() once an input has run for
** WATCHDOG_MS (training and k-means run in C and poll for interrupts).
*/
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sqlite3.h>

int sqlite3_semiperso_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

#define OUTER_SAVEPOINT "fuzz_outer_savepoint_7a41"
#define WATCHDOG_MS 200
#define MAX_STEPS 20000 /* progress callbacks of PROGRESS_OPS VM ops */
#define PROGRESS_OPS 100
#define MAX_ROWS 2000

static sqlite3 *db;       /* the database inputs run on */
static sqlite3 *pristine; /* the fixture as built, for restores */
static int steps;
static int trusted; /* the harness's own statements: no authorizer checks */

static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static int watch_active;
static struct timespec watch_start;

static void die(const char *what) {
  fprintf(stderr, "fuzz_sql: %s: %s\n", what, db ? sqlite3_errmsg(db) : "");
  abort();
}

static void exec_or_die(sqlite3 *d, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(d, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "fuzz_sql: %s\n  in: %s\n", err ? err : "?", sql);
    abort();
  }
}

static long elapsed_ms(const struct timespec *t0) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void *watchdog(void *arg) {
  (void)arg;
  const struct timespec tick = {0, 10 * 1000000};
  for (;;) {
    nanosleep(&tick, NULL);
    pthread_mutex_lock(&watch_mu);
    if (watch_active && elapsed_ms(&watch_start) > WATCHDOG_MS) sqlite3_interrupt(db);
    pthread_mutex_unlock(&watch_mu);
  }
  return NULL;
}

static void watch(int on) {
  pthread_mutex_lock(&watch_mu);
  watch_active = on;
  clock_gettime(CLOCK_MONOTONIC, &watch_start);
  pthread_mutex_unlock(&watch_mu);
}

static int progress(void *arg) {
  (void)arg;
  return ++steps > MAX_STEPS;
}

/* Keeps inputs inside the outer savepoint and away from other files. */
static int authorize(void *arg, int op, const char *a, const char *b, const char *c,
                     const char *d) {
  (void)arg, (void)c, (void)d;
  if (trusted) return SQLITE_OK;
  switch (op) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
    case SQLITE_TRANSACTION:
      return SQLITE_DENY;
    case SQLITE_SAVEPOINT:
      /* a: BEGIN, RELEASE or ROLLBACK; b: the savepoint's name. */
      if (b && strcasecmp(b, OUTER_SAVEPOINT) == 0) return SQLITE_DENY;
      return SQLITE_OK;
    case SQLITE_PRAGMA: {
      /* a: the pragma, b: its argument.  Settings outlive the savepoint
      ** (and heap limits are ours), so only pragmas that read something
      ** take an argument. */
      static const char *const reads[] = {
          "table_info", "table_xinfo", "table_list", "index_list", "index_info",
          "index_xinfo", "foreign_key_list", "foreign_key_check", "integrity_check",
          "quick_check", NULL};
      if (b == NULL) return SQLITE_OK;
      for (int i = 0; reads[i]; i++)
        if (a && strcasecmp(a, reads[i]) == 0) return SQLITE_OK;
      return SQLITE_DENY;
    }
    default:
      return SQLITE_OK;
  }
}

static void set_limits(sqlite3 *d) {
  sqlite3_limit(d, SQLITE_LIMIT_LENGTH, 1000000);
  sqlite3_limit(d, SQLITE_LIMIT_SQL_LENGTH, 65536);
  sqlite3_limit(d, SQLITE_LIMIT_COLUMN, 200);
  sqlite3_limit(d, SQLITE_LIMIT_EXPR_DEPTH, 100);
  sqlite3_limit(d, SQLITE_LIMIT_COMPOUND_SELECT, 50);
  sqlite3_limit(d, SQLITE_LIMIT_FUNCTION_ARG, 100);
  sqlite3_limit(d, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(d, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000);
  sqlite3_limit(d, SQLITE_LIMIT_TRIGGER_DEPTH, 10);
}

static sqlite3 *open_db(void) {
  sqlite3 *d = NULL;
  if (sqlite3_open_v2(":memory:", &d, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
      SQLITE_OK)
    die("open");
  char *err = NULL;
  if (sqlite3_semiperso_init(d, &err, NULL) != SQLITE_OK) {
    fprintf(stderr, "fuzz_sql: init: %s\n", err ? err : "?");
    abort();
  }
  return d;
}

static void build_fixture(sqlite3 *d) {
  exec_or_die(d,
              "CREATE TABLE tracks(track_id INTEGER PRIMARY KEY, album_id INTEGER,"
              " artist_id INTEGER, embedding BLOB NOT NULL);"
              "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 20)"
              " INSERT INTO tracks SELECT n, n % 5, n % 3, vec_f32(json_array("
              " (n * 7) % 11 - 5, (n * 13) % 7 - 3, (n * 3) % 5 - 2, n % 4 + 0.5)) FROM i;"
              "SELECT train_embedder('m', 'SELECT embedding, embedding FROM tracks',"
              " '{\"hidden\": [4], \"epochs\": 2, \"batch_size\": 8, \"quiet\": true}');"
              "SELECT train_segments('s', 'SELECT embedding FROM tracks',"
              " '{\"k\": 3, \"quiet\": true}');");
  /* What serving reads: sql/features.sql's helper tables, a model of the
  ** 20 x 4 + 19 input layout, a segmentation with its lists. */
  exec_or_die(d,
              "CREATE TABLE feature_groups(group_index INTEGER PRIMARY KEY, action TEXT NOT NULL,"
              " entity TEXT NOT NULL, UNIQUE (action, entity));"
              "INSERT INTO feature_groups VALUES (7, 'skip', 'track'), (10, 'stream', 'track'),"
              " (11, 'stream', 'artist');"
              "CREATE TABLE feature_entity_vectors(entity TEXT NOT NULL, entity_id INTEGER NOT NULL,"
              " embedding BLOB NOT NULL, PRIMARY KEY (entity, entity_id)) WITHOUT ROWID;"
              "INSERT INTO feature_entity_vectors SELECT 'track', track_id, embedding FROM tracks;"
              "INSERT INTO feature_entity_vectors SELECT 'artist', artist_id, vec_avg(embedding)"
              " FROM tracks GROUP BY artist_id;"
              "CREATE TABLE feature_age_vectors(age_class INTEGER PRIMARY KEY,"
              " embedding BLOB NOT NULL);"
              "INSERT INTO feature_age_vectors VALUES (2, vec_f32('[1, 0, 0, 0]'));"
              "CREATE TABLE feature_country_vectors(country TEXT PRIMARY KEY,"
              " embedding BLOB NOT NULL);"
              "INSERT INTO feature_country_vectors VALUES ('FR', vec_f32('[0, 1, 0, 0]'));"
              "SELECT train_embedder('user_embedder', 'SELECT f.features, t.embedding FROM tracks t,"
              " user_input_features(''FR'', t.track_id, json_array(json_array(''stream'', ''track'',"
              " t.track_id))) f', '{\"hidden\": [4], \"epochs\": 1, \"quiet\": true}');"
              "SELECT train_segments('warm_users', 'SELECT embedding FROM tracks',"
              " '{\"k\": 2, \"quiet\": true}');"
              "CREATE TABLE segment_top_tracks(segmentation TEXT, segment_id INTEGER, rank INTEGER,"
              " track_id INTEGER, listeners INTEGER, PRIMARY KEY (segmentation, segment_id, rank));"
              "INSERT INTO segment_top_tracks VALUES ('warm_users', 0, 1, 5, 3),"
              " ('warm_users', 0, 2, 6, 1), ('warm_users', 1, 1, 7, 2);");
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  /* Training on one thread: the harness's own watchdog is enough. */
  setenv("OPENBLAS_NUM_THREADS", "1", 0);
  db = open_db();
  build_fixture(db);
  pristine = open_db();
  sqlite3_backup *b = sqlite3_backup_init(pristine, "main", db, "main");
  if (b == NULL || sqlite3_backup_step(b, -1) != SQLITE_DONE) die("backup");
  sqlite3_backup_finish(b);
  set_limits(db);
  /* Defensive mode: the functions that write files refuse (after reading
  ** their arguments), so no input can write anywhere. */
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
  sqlite3_hard_heap_limit64(64 << 20);
  sqlite3_set_authorizer(db, authorize, NULL);
  sqlite3_progress_handler(db, PROGRESS_OPS, progress, NULL);
  pthread_t t;
  if (pthread_create(&t, NULL, watchdog, NULL) != 0) die("watchdog");
  pthread_detach(t);
  return 0;
}

static void restore(void) {
  int was = trusted;
  trusted = 1;
  sqlite3_progress_handler(db, 0, NULL, NULL);
  if (!sqlite3_get_autocommit(db)) exec_or_die(db, "ROLLBACK");
  sqlite3_backup *b = sqlite3_backup_init(db, "main", pristine, "main");
  if (b == NULL || sqlite3_backup_step(b, -1) != SQLITE_DONE) die("restore");
  sqlite3_backup_finish(b);
  sqlite3_progress_handler(db, PROGRESS_OPS, progress, NULL);
  trusted = was;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *sql = malloc(size + 1);
  if (sql == NULL) return 0;
  memcpy(sql, data, size);
  sql[size] = 0;
  trusted = 1;
  exec_or_die(db, "SAVEPOINT " OUTER_SAVEPOINT);
  trusted = 0;
  steps = 0;
  watch(1);
  const char *tail = sql;
  while (tail && *tail) {
    sqlite3_stmt *st = NULL;
    const char *next = NULL;
    int rc = sqlite3_prepare_v2(db, tail, -1, &st, &next);
    if (next == NULL || next == tail) break;
    tail = next;
    if (rc != SQLITE_OK || st == NULL) {
      sqlite3_finalize(st);
      if (rc == SQLITE_INTERRUPT || rc == SQLITE_NOMEM) break;
      continue;
    }
    int rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && rows++ < MAX_ROWS) {
      /* Read every value in a couple of forms. */
      for (int i = 0; i < sqlite3_column_count(st); i++) {
        (void)sqlite3_column_text(st, i);
        (void)sqlite3_column_bytes(st, i);
        (void)sqlite3_column_double(st, i);
      }
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_INTERRUPT || steps > MAX_STEPS) break;
  }
  watch(0);
  free(sql);
  /* The outer savepoint is still open unless an error (an interrupted
  ** write, say) rolled the whole transaction back. */
  if (sqlite3_get_autocommit(db)) {
    restore();
    return 0;
  }
  steps = 0;
  trusted = 1;
  char *err = NULL;
  if (sqlite3_exec(db, "ROLLBACK TO " OUTER_SAVEPOINT "; RELEASE " OUTER_SAVEPOINT, NULL, NULL,
                   &err) != SQLITE_OK) {
    sqlite3_free(err);
    restore();
  }
  if (!sqlite3_get_autocommit(db)) restore();
  trusted = 0;
  return 0;
}
