/*
** nomem.c - every SQL function under allocation failure (run by
** tests/scripts/nomem.sh, built with the extension compiled in against the
** system libsqlite3).
**
** Three kinds of failure, for each statement of `cases` below:
**   1. fault injection: SQLite's allocator (SQLITE_CONFIG_MALLOC) fails the
**      Nth allocation after the statement starts, for up to MAX_POINTS
**      values of N spread over all the allocations the statement makes;
**   2. a hard heap limit (sqlite3_hard_heap_limit64) just above what the
**      fixture uses;
**   3. the C allocator (malloc, used by the numeric core for big buffers)
**      failing for real: RLIMIT_AS just above the process's size (skipped
**      under AddressSanitizer, which reserves terabytes of address space).
** Each run must end in SQLITE_OK, or an error with a message (SQLITE_NOMEM
** or a clear one); never a crash (ASan/UBSan in the san variant) or a
** leak (LeakSanitizer).  After each failed run: the statement's savepoint
** is rolled back, PRAGMA integrity_check says ok, and a reference query
** (embed_user, assign_segment, topk_tracks on the fixture) gives the same
** bytes as before, so no cache kept a half-loaded model.
** Prints one line per statement and "N passed, N failed" last.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <sqlite3.h>

int sqlite3_semiperso_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

#define MAX_POINTS 60

/* ---- fault-injecting allocator ------------------------------------------ */

static sqlite3_mem_methods real;
static int64_t countdown = -1; /* fail when it reaches 0; -1: never */
static int64_t allocs;         /* allocations since reset */
static int64_t faults;

static void *fault_malloc(int n) {
  allocs++;
  if (countdown >= 0 && countdown-- == 0) {
    faults++;
    return NULL;
  }
  return real.xMalloc(n);
}

static void *fault_realloc(void *p, int n) {
  allocs++;
  if (countdown >= 0 && countdown-- == 0) {
    faults++;
    return NULL;
  }
  return real.xRealloc(p, n);
}

static void arm(int64_t n) {
  countdown = n;
  allocs = 0;
  faults = 0;
}

/* ---- helpers ---------------------------------------------------------- */

static sqlite3 *db;
static int passed, failed;
static char reference[1 << 16];
static char last_msg[512]; /* the error of the last failed run */

static void fail(const char *what, const char *sql, int64_t n, const char *detail) {
  failed++;
  printf("FAIL %s (fault at %lld): %s\n  %s\n", what, (long long)n, detail ? detail : "",
         sql);
}

static void exec_ok(const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "nomem: %s\n  in: %s\n", err ? err : "?", sql);
    exit(2);
  }
}

/* Runs sql, every row; returns the rc of the failing step or SQLITE_OK.
** When out is set, the rows are appended to it as text. */
static int run(const char *sql, char *out, size_t cap) {
  const char *tail = sql;
  size_t used = out ? strlen(out) : 0;
  while (*tail) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail);
    if (rc != SQLITE_OK) return rc;
    if (st == NULL) continue;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      for (int i = 0; out && i < sqlite3_column_count(st); i++) {
        const char *t = (const char *)sqlite3_column_text(st, i);
        used += (size_t)snprintf(out + used, cap - used, "%s|", t ? t : "NULL");
        if (used >= cap) used = cap - 1;
      }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return rc;
  }
  return SQLITE_OK;
}

static const char reference_sql[] =
    "SELECT hex(embed_user('m', embedding)), assign_segment('s', embedding) FROM tracks;"
    "SELECT track_id, printf('%.6f', score) FROM topk_tracks('[1,0,0,0]', 5);"
    "SELECT name, generation FROM semiperso_models;"
    "SELECT name, generation FROM semiperso_segmentations;";

/* After a run: the savepoint rolled back, database intact, same answers. */
static int check_after(const char *what, const char *sql, int64_t n) {
  char buf[sizeof reference];
  buf[0] = 0;
  arm(-1);
  sqlite3_exec(db, "ROLLBACK TO t; RELEASE t", NULL, NULL, NULL);
  if (!sqlite3_get_autocommit(db)) {
    fail(what, sql, n, "transaction still open");
    exec_ok("ROLLBACK");
    return 1;
  }
  if (run("PRAGMA integrity_check", buf, sizeof buf) != SQLITE_OK || strcmp(buf, "ok|") != 0) {
    fail(what, sql, n, buf);
    return 1;
  }
  buf[0] = 0;
  int rc = run(reference_sql, buf, sizeof buf);
  if (rc != SQLITE_OK || strcmp(buf, reference) != 0) {
    fail(what, sql, n, rc != SQLITE_OK ? sqlite3_errmsg(db) : "reference query changed");
    return 1;
  }
  return 0;
}

enum { FAULT, HEAP_LIMIT, ADDRESS_SPACE };

/* One run of sql in a savepoint under one kind of failure (n: the
** allocation to fail, or the bytes allowed above current use); the
** outcome must be OK or an error with a message. */
static int one(int kind, const char *sql, int64_t n, int *nomem, int *errors) {
  static const char *const names[] = {"fault", "heap limit", "address space"};
  const char *what = names[kind];
  struct rlimit old, cap;
  exec_ok("SAVEPOINT t");
  if (kind == FAULT) {
    arm(n);
  } else if (kind == HEAP_LIMIT) {
    sqlite3_hard_heap_limit64(sqlite3_memory_used() + n);
  } else {
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%lu", &pages) != 1) pages = 0;
    if (f) fclose(f);
    getrlimit(RLIMIT_AS, &old);
    cap = old;
    cap.rlim_cur = (rlim_t)pages * 4096 + (rlim_t)n;
    if (pages) setrlimit(RLIMIT_AS, &cap);
  }
  int rc = run(sql, NULL, 0);
  if (kind == FAULT) arm(-1);
  else if (kind == HEAP_LIMIT) sqlite3_hard_heap_limit64(0);
  else setrlimit(RLIMIT_AS, &old);
  if (rc != SQLITE_OK) {
    const char *msg = sqlite3_errmsg(db);
    snprintf(last_msg, sizeof last_msg, "%s", msg ? msg : "");
    if ((rc & 0xff) == SQLITE_NOMEM) (*nomem)++;
    else (*errors)++;
    if (msg == NULL || msg[0] == 0) {
      fail(what, sql, n, "error without a message");
      check_after(what, sql, n);
      return 1;
    }
  }
  return check_after(what, sql, n);
}

static const char *const cases[] = {
    "SELECT vec_f32('[1, 2, 3]'), vec_to_json('[1, 2]'), vec_length('[1]')",
    "SELECT vec_normalize('[3, 4]'), vec_distance_cosine('[1,1]', '[2,3]'),"
    " vec_distance_l2('[1,1]', '[2,3]')",
    "SELECT vec_to_json(vec_avg(embedding)) FROM tracks",
    "SELECT vec_avg(embedding) OVER (ORDER BY track_id ROWS 2 PRECEDING) FROM tracks",
    "SELECT vec_concat(embedding, '[1, 2]', embedding), vec_zeros(100) FROM tracks",
    "SELECT vec_group_avg(artist_id, embedding, 3), vec_group_count(album_id, 5) FROM tracks",
    "SELECT precision_at('[1,2,3]', '[2,3,4]', 3), recall_at('[1,2,3]', '[2]', 2),"
    " ndcg_at('[1,2,3]', '[3,9]', 3)",
    "SELECT top_items(album_id, artist_id, 2) FROM tracks",
    "SELECT normal_cdf(track_id), normal_quantile(0.3), stable_hash(track_id),"
    " stable_hash('exp:' || track_id) FROM tracks",
    "SELECT embed_user('m', embedding) FROM tracks",
    "SELECT assign_segment('s', embedding) FROM tracks",
    "SELECT * FROM topk_tracks('[1, 2, 3, 4]', 3)",
    "SELECT * FROM topk_tracks_batch('SELECT track_id, embedding FROM tracks', 2)",
    "SELECT train_embedder('m2', 'SELECT embedding, embedding FROM tracks',"
    " '{\"hidden\": [3], \"epochs\": 1, \"batch_size\": 8, \"quiet\": true}')",
    "SELECT train_embedder('m', 'SELECT embedding, embedding FROM tracks',"
    " '{\"hidden\": [4], \"epochs\": 1, \"quiet\": true, \"validation\":"
    " \"SELECT embedding, json_array(track_id) FROM tracks\", \"validation_k\": 3}');"
    "SELECT embed_user('m', embedding) FROM tracks",
    "SELECT train_segments('s2', 'SELECT embedding FROM tracks', '{\"k\": 3, \"quiet\": true}')",
    "SELECT train_segments('s', 'SELECT embedding FROM tracks', '{\"k\": 4, \"quiet\": true}');"
    "SELECT assign_segment('s', embedding) FROM tracks",
    "SELECT synthesize_dataset('{\"tracks\": 1000, \"warm\": 5, \"validation\": 2, \"test\": 2,"
    " \"dim\": 2, \"quiet\": true, \"replace\": true}')",
    "SELECT raise_error('stop')",
};
#define N_CASES (int)(sizeof cases / sizeof *cases)

/* Statements whose numeric core mallocs well over 8 MB: with the address
** space capped they must fail cleanly (kind 3 only). */
static const char *const big_cases[] = {
    "SELECT train_embedder('big', 'SELECT embedding, embedding FROM tracks',"
    " '{\"hidden\": [400000], \"epochs\": 1, \"quiet\": true}')",
    "SELECT train_embedder('m', 'SELECT embedding, embedding FROM tracks',"
    " '{\"hidden\": [4000, 4000], \"epochs\": 1, \"quiet\": true}')",
    "SELECT synthesize_dataset('{\"tracks\": 200000, \"warm\": 10, \"validation\": 0,"
    " \"test\": 0, \"dim\": 64, \"quiet\": true, \"replace\": true}')",
};
#define N_BIG (int)(sizeof big_cases / sizeof *big_cases)

int main(int argc, char **argv) {
  int under_asan = argc > 1 && strcmp(argv[1], "asan") == 0;
  if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real) != SQLITE_OK) return 2;
  sqlite3_mem_methods m = real;
  m.xMalloc = fault_malloc;
  m.xRealloc = fault_realloc;
  if (sqlite3_config(SQLITE_CONFIG_MALLOC, &m) != SQLITE_OK) return 2;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 2;
  char *err = NULL;
  if (sqlite3_semiperso_init(db, &err, NULL) != SQLITE_OK) {
    fprintf(stderr, "nomem: init: %s\n", err);
    return 2;
  }
  exec_ok("CREATE TABLE tracks(track_id INTEGER PRIMARY KEY, album_id INTEGER,"
          " artist_id INTEGER, embedding BLOB NOT NULL);"
          "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 20)"
          " INSERT INTO tracks SELECT n, n % 5, n % 3, vec_f32(json_array("
          " (n * 7) % 11 - 5, (n * 13) % 7 - 3, (n * 3) % 5 - 2, n % 4 + 0.5)) FROM i;"
          "SELECT train_embedder('m', 'SELECT embedding, embedding FROM tracks',"
          " '{\"hidden\": [4], \"epochs\": 2, \"batch_size\": 8, \"quiet\": true}');"
          "SELECT train_segments('s', 'SELECT embedding FROM tracks',"
          " '{\"k\": 3, \"quiet\": true}');");
  if (run(reference_sql, reference, sizeof reference) != SQLITE_OK) return 2;

  for (int c = 0; c < N_CASES; c++) {
    const char *sql = cases[c];
    int nomem = 0, errors = 0, bad = 0;
    int expect_error = strstr(sql, "raise_error") != NULL;
    /* A clean run first, counting allocations. */
    arm(-1);
    exec_ok("SAVEPOINT t");
    int rc = run(sql, NULL, 0);
    int64_t total = allocs;
    if ((rc != SQLITE_OK) != expect_error) {
      fail("clean run", sql, -1, sqlite3_errmsg(db));
      bad = 1;
    }
    check_after("clean run", sql, -1);
    /* 1. The Nth allocation fails, N over the whole run. */
    int64_t step = total / MAX_POINTS + 1;
    for (int64_t n = 0; n < total && !bad; n += step) bad = one(FAULT, sql, n, &nomem, &errors);
    /* 2. A hard heap limit just above what is in use. */
    for (int64_t extra = 1024; extra <= (1 << 20) && !bad; extra *= 8)
      bad = one(HEAP_LIMIT, sql, extra, &nomem, &errors);
    /* 3. malloc() itself failing: the address space capped 8 MB above
    ** the process's size. */
    if (!under_asan && !bad) bad = one(ADDRESS_SPACE, sql, 8 << 20, &nomem, &errors);
    if (bad) continue;
    passed++;
    printf("ok %2d: %lld allocations, %d nomem, %d other errors: %.60s\n", c + 1,
           (long long)total, nomem, errors, sql);
  }
  for (int c = 0; c < N_BIG && !under_asan; c++) {
    int nomem = 0, errors = 0;
    if (one(ADDRESS_SPACE, big_cases[c], 8 << 20, &nomem, &errors)) continue;
    if (nomem + errors == 0) {
      fail("address space", big_cases[c], 8 << 20, "succeeded: not big enough to test");
      continue;
    }
    passed++;
    printf("ok big %d: %s: %.60s\n", c + 1, last_msg, big_cases[c]);
  }
  printf("%d passed, %d failed\n", passed, failed);
  sqlite3_close(db);
  return failed != 0;
}
