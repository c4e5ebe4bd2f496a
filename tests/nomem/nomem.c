/*
** nomem.c - every SQL function under allocation failure (run by
** tests/scripts/nomem.sh: the extension compiled in against the system
** libsqlite3, linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc).
**
** Allocation points.  Two allocators make one numbered sequence: SQLite's
** (SQLITE_CONFIG_MALLOC: what the bindings and SQLite itself allocate) and
** the C library's malloc/calloc/realloc as called by the numeric core
** (ext/core; --wrap reroutes exactly the calls compiled into this program,
** not those inside libsqlite3 or OpenBLAS).  A clean run of a statement
** numbers its allocations 0 .. N-1 and records where each comes from (see
** call_site: the place in this program, and the call path inside SQLite).
** It runs after a warm-up run, and a third run must repeat its allocation
** count and its output exactly: the sequence is deterministic.
**
** For each statement of `cases`:
**   1. fault injection: the statement is run again failing allocation n,
**      for every n (the full schedule: make nomem-full; and in make test
**      any statement of at most QUICK_POINTS allocations) or, in make
**      test, for the first allocation of every distinct call path plus
**      QUICK_POINTS evenly spaced ones.  Every run must really inject its
**      fault (exactly one, from the place the clean run recorded for n),
**      and end either exactly as the clean run did (same result and
**      output: a failure the code absorbs, e.g. a worker thread that cannot
**      be started), or in an error that says it ran out of memory
**      (SQLITE_NOMEM, or a message naming it); SQLITE_NOMEM itself when the
**      failed allocation was the numeric core's.
**   2. a hard heap limit (sqlite3_hard_heap_limit64) just above what the
**      fixture uses;
**   3. malloc() failing for real: RLIMIT_AS just above the process's size
**      (plain build only: AddressSanitizer reserves terabytes of address
**      space), including statements whose core allocations are far larger.
** After every run: the statement's savepoint is rolled back, no
** transaction is left open, PRAGMA integrity_check says ok, every table
** (and the schema) holds exactly the rows it held before (a digest of the
** whole database), and a reference query (embed_user, assign_segment,
** topk_tracks on the fixture) gives the same bytes as before, so no cache
** kept a half-loaded model; at the end, no failed export has left its
** temporary file behind.  Crashes and leaks are caught by the san variant
** (ASan, UBSan, LeakSanitizer at exit).
**
**   nomem [asan] [full] [CASE]   CASE: run only statement number CASE
** Prints one line per statement and "N passed, N failed" last; a failure
** names the place as an offset for addr2line -e build/nomem/nomem-plain.
*/
#include <execinfo.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sqlite3.h>

int sqlite3_semiperso_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

/* make test: this many evenly spaced points per statement, beside the
** first allocation of every call path. */
#define QUICK_POINTS 120
#define MAX_ALLOCS (1 << 18)

/* ---- the allocation sequence --------------------------------------------- */

extern char __executable_start[], etext[];

static int64_t allocs;             /* allocations since arm() */
static int64_t target = -1;        /* the allocation to fail; -1: none */
static int64_t faults;             /* failures injected since arm() */
static uintptr_t fault_pc;         /* where the failed allocation came from */
static int fault_in_core;          /* it was a C library allocation */
static int recording;              /* clean run: record every call site */
static uintptr_t sites[MAX_ALLOCS], site_pc[MAX_ALLOCS];
static unsigned char in_core[MAX_ALLOCS];

/* Where an allocation comes from: *pc, the first return address inside
** this program above the allocator (the core's malloc call, or the
** extension's call into SQLite), and its call path: a hash of the
** PATH_FRAMES return addresses nearest the allocator, SQLite's or ours.
** One place allocates for several callers (mlp_init for training and for
** loading a model), one extension call into SQLite (a sqlite3_step) for
** several purposes, and each may fail its own way (SQLite 3.40's
** json_valid() answers 0 when out of memory).  The pc is what a fault run
** must reproduce; paths only choose the points of the quick schedule
** (SQLite's deeper frames vary with its caches).  caller is the
** allocator's own return address. */
#define PATH_FRAMES 4

static int in_program(uintptr_t a) {
  return a >= (uintptr_t)__executable_start && a < (uintptr_t)etext;
}

static uintptr_t call_site(uintptr_t caller, uintptr_t *pc) {
  void *frames[64];
  int n = backtrace(frames, 64), i = 0;
  while (i < n && (uintptr_t)frames[i] != caller) i++;
  if (i == n) { /* no frame info: the caller alone */
    *pc = in_program(caller) ? caller : 0;
    return caller;
  }
  uintptr_t h = 0;
  *pc = 0;
  for (int depth = 0; i < n && (depth < PATH_FRAMES || *pc == 0); i++, depth++) {
    uintptr_t a = (uintptr_t)frames[i];
    if (depth < PATH_FRAMES) h = h * 31 + a;
    if (*pc == 0 && in_program(a)) *pc = a;
  }
  return h * 31 + *pc;
}

/* Counts one allocation; nonzero when it is the one to fail. */
static int fail_now(int core, void *caller) {
  int64_t n = __atomic_fetch_add(&allocs, 1, __ATOMIC_RELAXED);
  if (recording && n < MAX_ALLOCS) {
    sites[n] = call_site((uintptr_t)caller, &site_pc[n]);
    in_core[n] = (unsigned char)core;
  }
  if (n != target) return 0;
  __atomic_fetch_add(&faults, 1, __ATOMIC_RELAXED);
  call_site((uintptr_t)caller, &fault_pc);
  fault_in_core = core;
  return 1;
}

static sqlite3_mem_methods real;

#define CALLER __builtin_return_address(0)
static void *fault_malloc(int n) { return fail_now(0, CALLER) ? NULL : real.xMalloc(n); }
static void *fault_realloc(void *p, int n) {
  return fail_now(0, CALLER) ? NULL : real.xRealloc(p, n);
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n) { return fail_now(1, CALLER) ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) {
  return fail_now(1, CALLER) ? NULL : __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n) {
  return fail_now(1, CALLER) ? NULL : __real_realloc(p, n);
}

static void arm(int64_t n) {
  __atomic_store_n(&target, n, __ATOMIC_RELAXED);
  allocs = 0;
  faults = 0;
  fault_pc = 0;
  fault_in_core = 0;
}

/* ---- running statements ------------------------------------------------ */

static sqlite3 *db;
static int passed, failed;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
  return h;
}
#define FNV_START 0xcbf29ce484222325ULL

static void exec_ok(const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "nomem: %s\n  in: %s\n", err ? err : "?", sql);
    exit(2);
  }
}

/* Hashes every column of every row of st into *h. */
static int hash_rows(sqlite3_stmt *st, uint64_t *h) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      int type = sqlite3_column_type(st, i);
      const void *p = type == SQLITE_BLOB ? sqlite3_column_blob(st, i) : sqlite3_column_text(st, i);
      int n = sqlite3_column_bytes(st, i);
      *h = fnv(*h, &type, sizeof type);
      if (p) *h = fnv(*h, p, (size_t)n);
    }
    *h = fnv(*h, "\n", 1);
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Runs every statement of sql, hashing the rows into *h (may be NULL);
** returns the rc of the failing step or SQLITE_OK. */
static int run(const char *sql, uint64_t *h) {
  const char *tail = sql;
  uint64_t ignored = 0;
  while (*tail) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail);
    if (rc != SQLITE_OK) return rc;
    if (st == NULL) continue;
    rc = hash_rows(st, h ? h : &ignored);
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
      /* An error is part of the output: its message too. */
      const char *msg = sqlite3_errmsg(db);
      if (h && msg) *h = fnv(*h, msg, strlen(msg));
      return rc;
    }
  }
  return SQLITE_OK;
}

/* Every row of every table and the schema itself. */
static uint64_t database_digest(void) {
  uint64_t h = FNV_START;
  sqlite3_stmt *names = NULL;
  if (run("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name", &h) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
                         -1, &names, NULL) != SQLITE_OK) {
    fprintf(stderr, "nomem: cannot read the schema: %s\n", sqlite3_errmsg(db));
    exit(2);
  }
  while (sqlite3_step(names) == SQLITE_ROW) {
    char *sql = sqlite3_mprintf("SELECT * FROM \"%w\"", sqlite3_column_text(names, 0));
    h = fnv(h, sql, strlen(sql));
    if (run(sql, &h) != SQLITE_OK) {
      fprintf(stderr, "nomem: %s: %s\n", sql, sqlite3_errmsg(db));
      exit(2);
    }
    sqlite3_free(sql);
  }
  sqlite3_finalize(names);
  return h;
}

static const char reference_sql[] =
    "SELECT hex(embed_user('m', embedding)), assign_segment('s', embedding) FROM tracks;"
    "SELECT track_id, printf('%.6f', score) FROM topk_tracks('[1,0,0,0]', 5);"
    "SELECT name, generation FROM semiperso_models;"
    "SELECT name, generation FROM semiperso_segmentations;";
static uint64_t reference_hash, database_hash;

static void fail(const char *what, const char *sql, int64_t n, const char *detail) {
  failed++;
  printf("FAIL %s (allocation %lld", what, (long long)n);
  if (strcmp(what, "fault") == 0 && n >= 0)
    printf(", called from 0x%lx", (unsigned long)(site_pc[n] - (uintptr_t)__executable_start));
  printf("): %s\n  %s\n", detail ? detail : "", sql);
}

/* After a run: the savepoint rolled back, database intact, same answers.
** The reference query also leaves the caches as every run finds them. */
static int check_after(const char *what, const char *sql, int64_t n) {
  arm(-1);
  sqlite3_exec(db, "ROLLBACK TO t; RELEASE t", NULL, NULL, NULL);
  if (!sqlite3_get_autocommit(db)) {
    fail(what, sql, n, "transaction still open");
    exec_ok("ROLLBACK");
    return 1;
  }
  uint64_t h = FNV_START;
  sqlite3_stmt *st = NULL;
  const unsigned char *ok = NULL;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    ok = sqlite3_column_text(st, 0);
  int intact = ok && strcmp((const char *)ok, "ok") == 0;
  sqlite3_finalize(st);
  if (!intact) {
    fail(what, sql, n, "integrity_check failed");
    return 1;
  }
  if (database_digest() != database_hash) {
    fail(what, sql, n, "the database changed");
    return 1;
  }
  int rc = run(reference_sql, &h);
  if (rc != SQLITE_OK || h != reference_hash) {
    fail(what, sql, n, rc != SQLITE_OK ? sqlite3_errmsg(db) : "reference query changed");
    return 1;
  }
  return 0;
}

typedef struct {
  int64_t nomem, other, absorbed; /* outcomes of the fault runs */
} Tally;

typedef struct {
  int rc;       /* of the clean run */
  uint64_t out; /* digest of its rows and error message */
} Clean;

/* The outcome of a run under failing allocations: the clean run's result
** (same rc, same output and message: the failure was absorbed), or an
** error that says it ran out of memory: SQLITE_NOMEM, or a message that
** names it ("cannot store the model: out of memory"); SQLITE_NOMEM itself
** when the core's malloc failed. */
static int judge(const char *what, const char *sql, int64_t n, int rc, uint64_t out,
                 const Clean *clean, int core, Tally *t) {
  char detail[600];
  if (rc == clean->rc && out == clean->out) {
    if (t) t->absorbed++;
    return 0;
  }
  const char *msg = sqlite3_errmsg(db);
  if (rc == SQLITE_OK) {
    fail(what, sql, n, "succeeded with an output other than the clean run's");
    return 1;
  }
  if ((rc & 0xff) == SQLITE_NOMEM) {
    if (t) t->nomem++;
    return 0;
  }
  if (!core && msg && strstr(msg, "out of memory")) {
    if (t) t->other++;
    return 0;
  }
  snprintf(detail, sizeof detail, "%s allocation failed and the error (%d) does not say so: %s",
           core ? "a core" : "an", rc, msg ? msg : "(no message)");
  fail(what, sql, n, detail);
  return 1;
}

/* Allocation n of sql fails. */
static int fault_run(const char *sql, int64_t n, const Clean *clean, Tally *t) {
  exec_ok("SAVEPOINT t");
  uint64_t out = FNV_START;
  arm(n);
  int rc = run(sql, &out);
  int64_t injected = faults;
  uintptr_t pc = fault_pc;
  int core = fault_in_core;
  arm(-1);
  int bad = 0;
  if (injected != 1 || pc != site_pc[n]) {
    char detail[200];
    snprintf(detail, sizeof detail,
             injected != 1 ? "%lld faults injected, not 1 (the run stopped short)"
                           : "the failed allocation came from another call site than in the "
                             "clean run (%lld)",
             (long long)injected);
    fail("fault", sql, n, detail);
    bad = 1;
  }
  if (!bad) bad = judge("fault", sql, n, rc, out, clean, core, t);
  return check_after("fault", sql, n) || bad;
}

/* A hard heap limit `extra` bytes above current use. */
static int heap_limit_run(const char *sql, int64_t extra, const Clean *clean) {
  exec_ok("SAVEPOINT t");
  uint64_t out = FNV_START;
  sqlite3_hard_heap_limit64(sqlite3_memory_used() + extra);
  int rc = run(sql, &out);
  sqlite3_hard_heap_limit64(0);
  int bad = judge("heap limit", sql, extra, rc, out, clean, 0, NULL);
  return check_after("heap limit", sql, extra) || bad;
}

/* The address space capped `extra` bytes above the process's size.  With
** clean_out NULL the statement must fail (it needs more than that). */
static int address_space_run(const char *sql, int64_t extra, const Clean *clean) {
  struct rlimit old, cap;
  unsigned long pages = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL || fscanf(f, "%lu", &pages) != 1) pages = 0;
  if (f) fclose(f);
  exec_ok("SAVEPOINT t");
  uint64_t out = FNV_START;
  getrlimit(RLIMIT_AS, &old);
  cap = old;
  cap.rlim_cur = (rlim_t)pages * 4096 + (rlim_t)extra;
  if (pages) setrlimit(RLIMIT_AS, &cap);
  int rc = run(sql, &out);
  setrlimit(RLIMIT_AS, &old);
  int bad = 0;
  if (clean) {
    bad = judge("address space", sql, extra, rc, out, clean, 0, NULL);
  } else if (rc == SQLITE_OK) {
    fail("address space", sql, extra, "succeeded: not big enough to test");
    bad = 1;
  } else {
    printf("ok big: %s: %.60s\n", sqlite3_errmsg(db), sql);
  }
  return check_after("address space", sql, extra) || bad;
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
    "SELECT semiperso_info()",
    "SELECT embed_user('m', embedding) FROM tracks",
    "SELECT assign_segment('s', embedding) FROM tracks",
    "SELECT * FROM topk_tracks('[1, 2, 3, 4]', 3);"
    "SELECT * FROM topk_tracks('[1, 2, 3, 4]', 3, 'tracks', 'dot')",
    "SELECT * FROM topk_tracks_batch('SELECT track_id, embedding FROM tracks', 2)",
    "SELECT json_remove(train_embedder('m2', 'SELECT embedding, embedding FROM tracks',"
    " '{\"hidden\": [3], \"epochs\": 1, \"batch_size\": 8, \"quiet\": true}'), '$.seconds')",
    "SELECT json_remove(train_embedder('m', 'SELECT embedding, embedding FROM tracks',"
    " '{\"hidden\": [4], \"epochs\": 1, \"quiet\": true, \"validation\":"
    " \"SELECT embedding, json_array(track_id) FROM tracks\", \"validation_k\": 3}'),"
    " '$.seconds');"
    "SELECT embed_user('m', embedding) FROM tracks",
    "SELECT json_remove(train_segments('s2', 'SELECT embedding FROM tracks',"
    " '{\"k\": 3, \"n_init\": 2, \"quiet\": true}'), '$.seconds')",
    "SELECT json_remove(train_segments('s', 'SELECT embedding FROM tracks',"
    " '{\"k\": 4, \"quiet\": true}'), '$.seconds');"
    "SELECT assign_segment('s', embedding) FROM tracks",
    /* Wide rows, most 128-float blocks zero: k-means' block-sparse path. */
    "SELECT json_remove(train_segments('s3', 'SELECT vec_concat(embedding, vec_zeros(600))"
    " FROM tracks', '{\"k\": 3, \"quiet\": true}'), '$.seconds')",
    "SELECT json_remove(synthesize_dataset('{\"tracks\": 1000, \"warm\": 5, \"validation\": 2,"
    " \"test\": 2, \"dim\": 2, \"quiet\": true, \"replace\": true}'), '$.seconds')",
    "SELECT json_remove(train_als('f', 'SELECT track_id % 7, album_id, 1 + track_id % 3"
    " FROM tracks', '{\"dim\": 2, \"iterations\": 2, \"quiet\": true}'), '$.seconds')",
    "SELECT json_remove(train_pmi_svd('f', 'SELECT track_id % 6, album_id * 3 + artist_id"
    " FROM tracks', '{\"dim\": 2, \"quiet\": true, \"users\":"
    " \"SELECT track_id % 4, track_id, 2 FROM tracks\"}'), '$.seconds')",
    /* The baselines, on features of the project's layout for d = 4 (20 x 4
    ** + 19 floats) made of each track's vector. */
    "SELECT json_remove(train_dropoutnet('d', 'SELECT vec_concat(vec_zeros(76), embedding,"
    " vec_zeros(19)), embedding FROM tracks', '{\"hidden\": [3], \"output_dim\": 2,"
    " \"epochs\": 1, \"batch_users\": 8, \"top_items\": 2, \"random_items\": 2,"
    " \"quiet\": true}'), '$.seconds');"
    "SELECT dropoutnet_user('d', vec_concat(vec_zeros(76), embedding, vec_zeros(19)), embedding),"
    " dropoutnet_item('d', embedding),"
    " dropoutnet_recommend('d', vec_concat(vec_zeros(76), embedding, vec_zeros(19)), 3)"
    " FROM tracks",
    "SELECT json_remove(train_melu('e', 'SELECT track_id, vec_concat(vec_zeros(76), embedding,"
    " vec_zeros(19)), embedding, (SELECT melu_support(t.embedding, t.track_id % 2) FROM tracks AS t"
    " WHERE t.track_id <= tracks.track_id % 4) FROM tracks', '{\"embed_dim\": 2, \"hidden\": [3],"
    " \"epochs\": 1, \"batch_users\": 8, \"top_items\": 2, \"query_positives\": 1,"
    " \"query_negatives\": 1, \"quiet\": true}'), '$.seconds');"
    "SELECT melu_user('e', track_id, vec_concat(vec_zeros(76), embedding, vec_zeros(19)),"
    " (SELECT melu_support(t.embedding, 1) FROM tracks AS t"
    "  WHERE t.track_id <= tracks.track_id % 3)),"
    " melu_recommend('e', track_id, vec_concat(vec_zeros(76), embedding, vec_zeros(19)), NULL, 3)"
    " FROM tracks",
    "SELECT raise_error('stop')",
    /* Serving (the fixture's serving tables below) and the file writers,
    ** which write into the working directory (a temporary one). */
    "SELECT age_class(30), * FROM user_input_features('FR', 30, '[[\"stream\",\"track\",1],"
    "{\"action\":\"stream\",\"entity\":\"track\",\"entity_id\":2},[\"skip\",\"track\",3],"
    "[\"stream\",\"track\",99]]')",
    "SELECT * FROM recommend_cold_user('FR', 30, '[[\"stream\",\"track\",1]]')",
    "SELECT * FROM recommend_cold_user(NULL, 20, '[[\"stream\",\"track\",4]]',"
    " '{\"method\": \"full\", \"k\": 3}')",
    /* A bundle's generation is random, each export's time its own. */
    "SELECT json_remove(export_bundle('nomem_bundle.db', '{\"replace\": true}'),"
    " '$.seconds', '$.generation')",
    "SELECT json_remove(export_onnx('user_embedder', 'nomem.onnx', '{\"replace\": true}'),"
    " '$.seconds')",
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

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The allocations to fail: all of them (full, or a statement of at most
** QUICK_POINTS), or the first of every call path plus QUICK_POINTS evenly
** spaced, in increasing order.  Counts the distinct places in the program
** (*n_pcs) and call paths (*n_paths) too. */
static int64_t schedule(int64_t total, int full, int64_t *points, int64_t *n_pcs,
                        int64_t *n_paths) {
  static uintptr_t seen[MAX_ALLOCS], seen_pc[MAX_ALLOCS];
  int all = full || total <= QUICK_POINTS;
  int64_t n = 0, ns = 0, np = 0;
  for (int64_t i = 0; i < total; i++) {
    int64_t s = 0, p = 0;
    while (s < ns && seen[s] != sites[i]) s++;
    if (s == ns) {
      seen[ns++] = sites[i];
      if (!all) points[n++] = i;
    }
    while (p < np && seen_pc[p] != site_pc[i]) p++;
    if (p == np) seen_pc[np++] = site_pc[i];
  }
  *n_paths = ns;
  *n_pcs = np;
  if (all) {
    for (int64_t i = 0; i < total; i++) points[i] = i;
    return total;
  }
  for (int64_t j = 0; j < QUICK_POINTS; j++) points[n++] = j * total / QUICK_POINTS;
  qsort(points, (size_t)n, sizeof *points, cmp_i64);
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++)
    if (m == 0 || points[i] != points[m - 1]) points[m++] = points[i];
  return m;
}

int main(int argc, char **argv) {
  int under_asan = 0, full = 0, only = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "asan") == 0) under_asan = 1;
    else if (strcmp(argv[i], "full") == 0) full = 1;
    else only = atoi(argv[i]);
  }
  void *warm[4];
  backtrace(warm, 4); /* loads the unwinder before any run */
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
  /* What serving reads (sql/features.sql's helper tables, a model of the
  ** 20 x 4 + 19 input layout, a segmentation and its lists), and a
  ** temporary working directory for the files the exporters write. */
  exec_ok("CREATE TABLE feature_groups(group_index INTEGER PRIMARY KEY, action TEXT NOT NULL,"
          " entity TEXT NOT NULL, UNIQUE (action, entity));"
          "INSERT INTO feature_groups VALUES (7, 'skip', 'track'), (10, 'stream', 'track');"
          "CREATE TABLE feature_entity_vectors(entity TEXT NOT NULL, entity_id INTEGER NOT NULL,"
          " embedding BLOB NOT NULL, PRIMARY KEY (entity, entity_id)) WITHOUT ROWID;"
          "INSERT INTO feature_entity_vectors SELECT 'track', track_id, embedding FROM tracks;"
          "CREATE TABLE feature_age_vectors(age_class INTEGER PRIMARY KEY, embedding BLOB NOT NULL);"
          "INSERT INTO feature_age_vectors VALUES (2, vec_f32('[1, 0, 0, 0]'));"
          "CREATE TABLE feature_country_vectors(country TEXT PRIMARY KEY, embedding BLOB NOT NULL);"
          "INSERT INTO feature_country_vectors VALUES ('FR', vec_f32('[0, 1, 0, 0]'));"
          "SELECT train_embedder('user_embedder', 'SELECT f.features, t.embedding FROM tracks t,"
          " user_input_features(''FR'', t.track_id, json_array(json_array(''stream'', ''track'',"
          " t.track_id))) f', '{\"hidden\": [4], \"epochs\": 1, \"batch_size\": 8,"
          " \"quiet\": true}');"
          "SELECT train_segments('warm_users', 'SELECT embedding FROM tracks',"
          " '{\"k\": 2, \"quiet\": true}');"
          "CREATE TABLE segment_top_tracks(segmentation TEXT, segment_id INTEGER, rank INTEGER,"
          " track_id INTEGER, listeners INTEGER, PRIMARY KEY (segmentation, segment_id, rank));"
          "INSERT INTO segment_top_tracks VALUES ('warm_users', 0, 1, 5, 3), ('warm_users', 0, 2, 6, 1),"
          " ('warm_users', 1, 1, 7, 2);");
  char workdir[] = "/tmp/semiperso-nomem-XXXXXX";
  if (mkdtemp(workdir) == NULL || chdir(workdir) != 0) return 2;
  reference_hash = FNV_START;
  if (run(reference_sql, &reference_hash) != SQLITE_OK) return 2;
  database_hash = database_digest();

  static int64_t points[2 * MAX_ALLOCS];
  for (int c = 0; c < N_CASES; c++) {
    if (only && c + 1 != only) continue;
    const char *sql = cases[c];
    int expect_error = strstr(sql, "raise_error") != NULL;
    int bad = 0;
    Tally t = {0, 0, 0};
    /* Three clean runs: the first warms what a connection keeps between
    ** statements (prepared statements of the virtual tables, caches); the
    ** second numbers the allocations and records their call sites; the
    ** third must repeat count, result and output. */
    Clean runs[3];
    int64_t total[3];
    for (int r = 0; r < 3 && !bad; r++) {
      exec_ok("SAVEPOINT t");
      runs[r].out = FNV_START;
      recording = r == 1;
      arm(-1);
      runs[r].rc = run(sql, &runs[r].out);
      total[r] = allocs;
      recording = 0;
      if ((runs[r].rc != SQLITE_OK) != expect_error) {
        fail("clean run", sql, -1, sqlite3_errmsg(db));
        bad = 1;
      }
      bad |= check_after("clean run", sql, -1);
    }
    if (!bad && (total[1] != total[2] || runs[1].out != runs[2].out || total[1] > MAX_ALLOCS)) {
      char detail[160];
      snprintf(detail, sizeof detail, "two clean runs differ: %lld then %lld allocations%s",
               (long long)total[1], (long long)total[2],
               runs[1].out != runs[2].out ? ", different output" : "");
      fail("clean run", sql, -1, detail);
      bad = 1;
    }
    if (bad) continue;
    const Clean clean = runs[1];
    int64_t n_pcs = 0, n_paths = 0, core_points = 0;
    int64_t np = schedule(total[1], full, points, &n_pcs, &n_paths);
    /* 1. Allocation n fails. */
    for (int64_t i = 0; i < np && !bad; i++) {
      bad = fault_run(sql, points[i], &clean, &t);
      core_points += in_core[points[i]];
    }
    /* 2. A hard heap limit just above what is in use. */
    for (int64_t extra = 1024; extra <= (1 << 20) && !bad; extra *= 8)
      bad = heap_limit_run(sql, extra, &clean);
    /* 3. malloc() itself failing: the address space capped 8 MB above
    ** the process's size. */
    if (!under_asan && !bad) bad = address_space_run(sql, 8 << 20, &clean);
    if (bad) continue;
    passed++;
    printf("ok %2d: %lld allocations from %lld places (%lld call paths); failed %s%lld (%lld of "
           "the core's): %lld SQLITE_NOMEM, %lld other out-of-memory errors, %lld absorbed: "
           "%.40s\n",
           c + 1, (long long)total[1], (long long)n_pcs, (long long)n_paths,
           np == total[1] ? "every one, " : "", (long long)np, (long long)core_points,
           (long long)t.nomem, (long long)t.other, (long long)t.absorbed, sql);
  }
  for (int c = 0; c < N_BIG && !under_asan && !only; c++) {
    if (address_space_run(big_cases[c], 8 << 20, NULL) == 0) passed++;
  }
  /* No failed export left its temporary file behind. */
  DIR *d = opendir(".");
  for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
    if (strstr(e->d_name, ".tmp-") == NULL) continue;
    fail("temporary file left", e->d_name, -1, "an export failed without removing it");
    unlink(e->d_name);
  }
  if (d) closedir(d);
  printf("%d passed, %d failed\n", passed, failed);
  sqlite3_close(db);
  unlink("nomem_bundle.db");
  unlink("nomem.onnx");
  rmdir(workdir);
  return failed != 0;
}
