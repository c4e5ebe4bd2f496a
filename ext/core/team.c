/* team.c - a small team of threads with barriers (see team.h). */
#include "team.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* How long a waiter polls before sleeping: longer than the usual wait at
** a barrier, short next to a time slice, so a member whose partner was
** descheduled stops burning a CPU others could use.  Timed, since a
** pause costs from a few to over a hundred cycles depending on the CPU;
** the clock is read once per SPIN_BATCH polls. */
#define SPIN_NS 50000
#define SPIN_BATCH 64

/* A generation word that waiters watch, with a count of sleepers so that
** publishing costs no system call when nobody sleeps. */
typedef struct {
  _Atomic unsigned gen;
  _Atomic int sleepers;
  char pad[56];
} Signal;

struct Team {
  int n;
  TeamFn fn;
  void *arg;
  Signal job;                 /* bumped by team_run and team_free */
  Signal bar;                 /* bumped by the last member at a barrier */
  _Atomic int arrived;
  char pad[60];
  int quit;
  int started;                /* workers created */
  pthread_t th[TEAM_MAX];
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Waits until s->gen differs from seen. */
static void wait_change(Signal *s, unsigned seen) {
  int64_t deadline = 0;
  for (int i = 1;; i++) {
    if (atomic_load_explicit(&s->gen, memory_order_acquire) != seen) return;
    cpu_relax();
    if (i % SPIN_BATCH == 0) {
      int64_t t = now_ns();
      if (deadline == 0) deadline = t + SPIN_NS;
      else if (t >= deadline) break;
    }
  }
  while (atomic_load(&s->gen) == seen) {
    atomic_fetch_add(&s->sleepers, 1);
#ifdef __linux__
    /* Sleeps only while gen still equals seen (checked by the kernel). */
    syscall(SYS_futex, (unsigned *)&s->gen, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
#else
    if (atomic_load(&s->gen) == seen) sched_yield();
#endif
    atomic_fetch_sub(&s->sleepers, 1);
  }
}

/* Bumps s->gen and wakes the sleepers.  Sequentially consistent: either a
** waiter sees the new generation or we see its sleeper count. */
static void publish(Signal *s) {
  atomic_fetch_add(&s->gen, 1);
  if (atomic_load(&s->sleepers) > 0) {
#ifdef __linux__
    syscall(SYS_futex, (unsigned *)&s->gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#endif
  }
}

void team_barrier(Team *t) {
  if (t == NULL || t->n <= 1) return;
  unsigned g = atomic_load(&t->bar.gen);
  if (atomic_fetch_add(&t->arrived, 1) == t->n - 1) {
    atomic_store(&t->arrived, 0);
    publish(&t->bar);
  } else {
    wait_change(&t->bar, g);
  }
}

typedef struct {
  Team *team;
  int id;
} WorkerArg;

static void *worker(void *p) {
  Team *t = ((WorkerArg *)p)->team;
  int id = ((WorkerArg *)p)->id;
  free(p);
  unsigned seen = 0;
  for (;;) {
    wait_change(&t->job, seen);
    seen++;
    if (t->quit) break;
    t->fn(t->arg, id, t->n);
    team_barrier(t);
  }
  return NULL;
}

Team *team_new(int n) {
  if (n < 1 || n > TEAM_MAX) return NULL;
  Team *t = calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  t->n = n;
  atomic_init(&t->job.gen, 0);
  atomic_init(&t->job.sleepers, 0);
  atomic_init(&t->bar.gen, 0);
  atomic_init(&t->bar.sleepers, 0);
  atomic_init(&t->arrived, 0);
  for (int i = 1; i < n; i++) {
    WorkerArg *a = malloc(sizeof *a);
    if (a == NULL) break;
    a->team = t;
    a->id = i;
    if (pthread_create(&t->th[i], NULL, worker, a) != 0) {
      free(a);
      break;
    }
    t->started++;
  }
  if (t->started != n - 1) {
    team_free(t);
    return NULL;
  }
  return t;
}

void team_free(Team *t) {
  if (t == NULL) return;
  t->quit = 1;
  publish(&t->job);
  for (int i = 1; i <= t->started; i++) pthread_join(t->th[i], NULL);
  free(t);
}

int team_size(const Team *t) { return t ? t->n : 1; }

void team_run(Team *t, TeamFn fn, void *arg) {
  if (t == NULL || t->n == 1) {
    fn(arg, 0, 1);
    return;
  }
  t->fn = fn;
  t->arg = arg;
  publish(&t->job);
  fn(arg, 0, t->n);
  team_barrier(t);
}

void team_share(size_t len, size_t align, int id, int n, size_t *lo, size_t *hi) {
  if (align < 1) align = 1;
  size_t units = len / align;
  if (units < 1) units = 1;
  size_t a = units * (size_t)id / (size_t)n, b = units * (size_t)(id + 1) / (size_t)n;
  *lo = a * align;
  *hi = id == n - 1 ? len : b * align;
  if (*lo > len) *lo = len;
  if (*hi < *lo) *hi = *lo;
}
