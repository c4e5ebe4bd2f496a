/*
** bench_serve.c - online serving: latency and throughput of
** recommend_cold_user() on a serving bundle, as a fleet server runs it.
**
**   bench_serve EXTENSION BUNDLE REQUESTS_DB [SECONDS]
**
** The requests are the test users of REQUESTS_DB (the training database):
** their country, age and registration-day events as JSON, served in
** user_id order, round robin.  A server (below) opens BUNDLE with
** immutable=1, prepares the one statement
**   SELECT rank, track_id, score, segment_id
**     FROM recommend_cold_user(?1, ?2, ?3, ?4)
** and serves each request by binding, stepping every row and resetting;
** before each request it stat()s BUNDLE and reopens it when the file was
** replaced (the swap check of README.md, "Serving in production"), so the
** times include that check.
**
** 1. Latency, one connection, per method ("semi", "full"): after a warm-up
**    (the model, centroids and track matrix loaded), each test user once;
**    wall time (CLOCK_MONOTONIC) and CPU time (CLOCK_THREAD_CPUTIME_ID) of
**    each request: p50, p99, max, mean.
** 2. Throughput, 1, 2 and 4 server processes (fork), per method: each
**    serves requests for SECONDS (default 5); requests per second in all,
**    CPU milliseconds per request (user + system, all threads) and the
**    peak resident memory of a server.
** The machine's load average before and after tells how much else ran.
** Prints a table.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

typedef struct {
  char *country, *events; /* NULL: unknown / none */
  int has_age;
  double age;
} Request;

typedef struct {
  const char *extension, *path;
  sqlite3 *db;
  sqlite3_stmt *st;
  dev_t dev;
  ino_t ino;
  long reopens;
} Server;

static const char *const methods[] = {"semi", "full"};
static const char *const method_options[] = {NULL, "{\"method\": \"full\"}"};

static void die(const char *what, sqlite3 *db) {
  fprintf(stderr, "bench_serve: %s: %s\n", what, db ? sqlite3_errmsg(db) : strerror(errno));
  exit(1);
}

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the server: one connection on the bundle, reopened on a swap ------------ */

static int serve(Server *s, const Request *r, const char *options, int *rows);

static void server_open(Server *s) {
  struct stat st;
  /* The identity first: the file opened is then this one or a newer one,
  ** so a swap is never missed (at worst noticed twice). */
  if (stat(s->path, &st) != 0) die(s->path, NULL);
  char *uri = sqlite3_mprintf("file:%s?immutable=1", s->path);
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK)
    die("open", db);
  sqlite3_free(uri);
  char *err = NULL;
  sqlite3_enable_load_extension(db, 1);
  if (sqlite3_load_extension(db, s->extension, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "bench_serve: %s\n", err);
    exit(1);
  }
  sqlite3_stmt *stmt = NULL;
  if (sqlite3_prepare_v2(db, "SELECT rank, track_id, score, segment_id"
                             " FROM recommend_cold_user(?1, ?2, ?3, ?4)", -1, &stmt,
                         NULL) != SQLITE_OK)
    die("prepare", db);
  Server fresh = *s;
  fresh.db = db;
  fresh.st = stmt;
  fresh.dev = st.st_dev;
  fresh.ino = st.st_ino;
  /* Warm before serving: the first call of each method loads the model,
  ** the centroids and the track matrix. */
  Request none = {NULL, NULL, 0, 0};
  int rows;
  for (int m = 0; m < 2; m++)
    if (serve(&fresh, &none, method_options[m], &rows) != SQLITE_DONE) die("warm-up", db);
  sqlite3_finalize(s->st);
  sqlite3_close(s->db);
  *s = fresh;
}

/* Reopens the bundle when its path names another file than the one open. */
static void check_swap(Server *s) {
  struct stat st;
  if (stat(s->path, &st) == 0 && (st.st_ino != s->ino || st.st_dev != s->dev)) {
    server_open(s);
    s->reopens++;
  }
}

/* Serves one request: SQLITE_DONE and the number of rows, or the error. */
static int serve(Server *s, const Request *r, const char *options, int *rows) {
  sqlite3_stmt *st = s->st;
  if (r->country) sqlite3_bind_text(st, 1, r->country, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 1);
  if (r->has_age) sqlite3_bind_double(st, 2, r->age);
  else sqlite3_bind_null(st, 2);
  if (r->events) sqlite3_bind_text(st, 3, r->events, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 3);
  if (options) sqlite3_bind_text(st, 4, options, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 4);
  int rc;
  *rows = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) ++*rows;
  sqlite3_reset(st);
  return rc;
}

static void serve_checked(Server *s, const Request *r, int method) {
  int rows;
  check_swap(s);
  if (serve(s, r, method_options[method], &rows) != SQLITE_DONE || rows != 50)
    die("serving a request", s->db);
}

/* ---- requests -------------------------------------------------------------------- */

static Request *load_requests(const char *path, int *n) {
  sqlite3 *db = NULL;
  char *uri = sqlite3_mprintf("file:%s?mode=ro", path);
  if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK)
    die("open the requests", db);
  sqlite3_free(uri);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db,
                         "SELECT u.country, u.age,"
                         " (SELECT json_group_array(json_array(e.action, e.entity, e.entity_id))"
                         "  FROM (SELECT * FROM registration_events"
                         "        WHERE user_id = u.user_id ORDER BY rowid) AS e)"
                         " FROM users AS u WHERE u.split = 'test' ORDER BY u.user_id",
                         -1, &st, NULL) != SQLITE_OK)
    die("read the requests", db);
  int cap = 1024;
  Request *r = malloc((size_t)cap * sizeof *r);
  *n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (*n == cap) r = realloc(r, (size_t)(cap *= 2) * sizeof *r);
    if (r == NULL) die("memory", NULL);
    Request *q = &r[(*n)++];
    const char *c = (const char *)sqlite3_column_text(st, 0);
    q->country = c ? strdup(c) : NULL;
    q->has_age = sqlite3_column_type(st, 1) != SQLITE_NULL;
    q->age = sqlite3_column_double(st, 1);
    q->events = strdup((const char *)sqlite3_column_text(st, 2));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  if (*n == 0) die("no test users in the requests database", NULL);
  return r;
}

/* ---- measurements ------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The q-quantile of n sorted values (nearest rank). */
static double quantile(const double *v, int n, double q) {
  int i = (int)(q * n + 0.999999) - 1;
  return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

typedef struct {
  double p50, p99, max, mean, cpu;
} Latency;

static Latency latency(Server *s, const Request *r, int n, int method) {
  double *wall = malloc((size_t)n * sizeof *wall), cpu = 0, sum = 0;
  for (int i = 0; i < 200; i++) serve_checked(s, &r[i % n], method);
  for (int i = 0; i < n; i++) {
    double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), t0 = clock_s(CLOCK_MONOTONIC);
    serve_checked(s, &r[i], method);
    wall[i] = clock_s(CLOCK_MONOTONIC) - t0;
    cpu += clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    sum += wall[i];
  }
  qsort(wall, (size_t)n, sizeof *wall, cmp_double);
  Latency l = {quantile(wall, n, 0.5), quantile(wall, n, 0.99), wall[n - 1], sum / n, cpu / n};
  free(wall);
  return l;
}

typedef struct {
  double per_second, cpu_ms, peak_mib; /* peak: the largest server's RSS */
} Throughput;

/* procs server processes serving for `seconds` at once. */
static Throughput throughput(const char *extension, const char *path, const Request *r, int n,
                             int method, int procs, double seconds) {
  int go[2], back[2];
  if (pipe(go) || pipe(back)) die("pipe", NULL);
  for (int p = 0; p < procs; p++) {
    pid_t pid = fork();
    if (pid < 0) die("fork", NULL);
    if (pid > 0) continue;
    Server s = {extension, path, NULL, NULL, 0, 0, 0};
    server_open(&s);
    char c;
    close(go[1]);
    if (read(go[0], &c, 1) != 1) _exit(1); /* all start together */
    struct rusage u0, u1;
    getrusage(RUSAGE_SELF, &u0);
    double end = clock_s(CLOCK_MONOTONIC) + seconds;
    long done = 0;
    for (int i = p * 997; clock_s(CLOCK_MONOTONIC) < end; i++, done++)
      serve_checked(&s, &r[i % n], method);
    getrusage(RUSAGE_SELF, &u1);
    double cpu = (double)(u1.ru_utime.tv_sec - u0.ru_utime.tv_sec) +
                 1e-6 * (double)(u1.ru_utime.tv_usec - u0.ru_utime.tv_usec) +
                 (double)(u1.ru_stime.tv_sec - u0.ru_stime.tv_sec) +
                 1e-6 * (double)(u1.ru_stime.tv_usec - u0.ru_stime.tv_usec);
    double out[3] = {(double)done, cpu, (double)u1.ru_maxrss / 1024.0};
    if (write(back[1], out, sizeof out) != sizeof out) _exit(1);
    sqlite3_finalize(s.st);
    sqlite3_close(s.db);
    _exit(0);
  }
  close(go[0]);
  close(back[1]);
  sleep(1 + procs); /* every server warm */
  char start[8] = {0};
  if (write(go[1], start, (size_t)procs) != procs) die("start", NULL);
  close(go[1]);
  double done = 0, cpu = 0, peak = 0, got[3];
  for (int p = 0; p < procs; p++) {
    if (read(back[0], got, sizeof got) != sizeof got) die("a server failed", NULL);
    done += got[0];
    cpu += got[1];
    if (got[2] > peak) peak = got[2];
  }
  close(back[0]);
  for (int p = 0; p < procs; p++) {
    int status;
    if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      die("a server failed", NULL);
  }
  return (Throughput){done / seconds, 1e3 * cpu / done, peak};
}

/* The 1-minute load average: the machine's other work. */
static double load_average(void) {
  double load = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f && fscanf(f, "%lf", &load) != 1) load = -1;
  if (f) fclose(f);
  return load;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: bench_serve EXTENSION BUNDLE REQUESTS_DB [SECONDS]\n");
    return 2;
  }
  const char *extension = argv[1], *bundle = argv[2];
  double seconds = argc > 4 ? atof(argv[4]) : 5;
  int n;
  Request *r = load_requests(argv[3], &n);
  Server s = {extension, bundle, NULL, NULL, 0, 0, 0};
  server_open(&s);
  Latency lat[2];
  Throughput tp[2][3];
  static const int procs[3] = {1, 2, 4};
  double load_before = load_average();
  printf("%d requests (the test users), k = 50, one connection on %s (immutable=1)\n", n,
         bundle);
  printf("%-6s %10s %10s %10s %10s %12s\n", "method", "p50 ms", "p99 ms", "max ms", "mean ms",
         "CPU ms/req");
  for (int m = 0; m < 2; m++) {
    lat[m] = latency(&s, r, n, m);
    printf("%-6s %10.3f %10.3f %10.3f %10.3f %12.3f\n", methods[m], 1e3 * lat[m].p50,
           1e3 * lat[m].p99, 1e3 * lat[m].max, 1e3 * lat[m].mean, 1e3 * lat[m].cpu);
  }
  printf("\nthroughput, %.0f s per run, one server process per column\n", seconds);
  printf("%-6s %14s %14s %14s\n", "method", "1 proc req/s", "2 procs req/s", "4 procs req/s");
  for (int m = 0; m < 2; m++) {
    for (int p = 0; p < 3; p++)
      tp[m][p] = throughput(extension, bundle, r, n, m, procs[p], seconds);
    printf("%-6s %14.0f %14.0f %14.0f   CPU ms/req %.3f %.3f %.3f, peak RSS %.0f MiB\n",
           methods[m], tp[m][0].per_second, tp[m][1].per_second, tp[m][2].per_second,
           tp[m][0].cpu_ms, tp[m][1].cpu_ms, tp[m][2].cpu_ms, tp[m][2].peak_mib);
  }
  double load_after = load_average();
  printf("\n%ld online CPUs; load average %.2f before, %.2f after\n",
         sysconf(_SC_NPROCESSORS_ONLN), load_before, load_after);
  sqlite3_finalize(s.st);
  sqlite3_close(s.db);
  for (int i = 0; i < n; i++) {
    free(r[i].country);
    free(r[i].events);
  }
  free(r);
  return 0;
}
