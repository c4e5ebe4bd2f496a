/* blas.c - loads the BLAS, chooses its kernel and forwards CBLAS calls to it (see blas.h). */
#include "blas.h"

#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "blas_check.h"

/* Our definitions of the CBLAS entry points stay inside this program or
** library: never exported, so they can neither interpose on another
** library's BLAS nor be interposed on. */
#define HIDDEN __attribute__((visibility("hidden")))

#define MAX_TRIED 6
#define MAX_LOADED_OBJECTS 512

/* The kernels of OpenBLAS's x86-64 DYNAMIC_ARCH builds and the vector
** level each needs; the first of each level is the one we ask for. */
static const struct {
  const char *name;
  CpuLevel level;
} openblas_kernels[] = {
    {"SkylakeX", CPU_LEVEL_AVX512},   {"Cooperlake", CPU_LEVEL_AVX512},
    {"SapphireRapids", CPU_LEVEL_AVX512},
    {"Haswell", CPU_LEVEL_AVX2},      {"Zen", CPU_LEVEL_AVX2},
    {"Sandybridge", CPU_LEVEL_AVX},   {"Bulldozer", CPU_LEVEL_AVX},
    {"Piledriver", CPU_LEVEL_AVX},    {"Steamroller", CPU_LEVEL_AVX},
    {"Excavator", CPU_LEVEL_AVX},
    {"Prescott", CPU_LEVEL_SSE},      {"Core2", CPU_LEVEL_SSE},
    {"Penryn", CPU_LEVEL_SSE},        {"Dunnington", CPU_LEVEL_SSE},
    {"Nehalem", CPU_LEVEL_SSE},       {"Atom", CPU_LEVEL_SSE},
    {"Nano", CPU_LEVEL_SSE},          {"Barcelona", CPU_LEVEL_SSE},
    {"Opteron", CPU_LEVEL_SSE},       {"Opteron_SSE3", CPU_LEVEL_SSE},
    {"Bobcat", CPU_LEVEL_SSE},        {"Athlon", CPU_LEVEL_SSE},
    {"Katmai", CPU_LEVEL_SSE},        {"Coppermine", CPU_LEVEL_SSE},
    {"Northwood", CPU_LEVEL_SSE},     {"Banias", CPU_LEVEL_SSE},
};

typedef char *(*StringFn)(void);
typedef int (*IntFn)(void);
typedef void (*SetThreadsFn)(int);

static struct {
  void *lib;
  BlasSgemm sgemm;
  BlasSgemv sgemv;
  StringFn get_config, get_corename; /* OpenBLAS only, else NULL */
  IntFn get_threads, get_parallel;
  SetThreadsFn set_threads;
  char path[512];
  const char *choice;
  char default_kernel[32];
  char reason[512];
  struct {
    char kernel[32];
    char result[200];
  } tried[MAX_TRIED];
  int n_tried;
  BlasCheck check;
  CpuInfo cpu;
  int user_threads; /* OPENBLAS_NUM_THREADS as the user set it; 0 unset */
  char error[800];
} blas;

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static atomic_int blas_state; /* 0 not loaded yet, 1 ready, -1 failed */

/* ---- the kernel plan (pure) -------------------------------------------- */

CpuLevel blas_kernel_level(const char *name) {
  for (size_t i = 0; name && i < sizeof openblas_kernels / sizeof *openblas_kernels; i++) {
    if (strcasecmp(name, openblas_kernels[i].name) == 0) return openblas_kernels[i].level;
  }
  return CPU_LEVEL_UNKNOWN;
}

static const char *kernel_for_level(CpuLevel level) {
  for (size_t i = 0; i < sizeof openblas_kernels / sizeof *openblas_kernels; i++) {
    if (openblas_kernels[i].level == level) return openblas_kernels[i].name;
  }
  return NULL;
}

int blas_kernel_plan(CpuLevel cpu_level, const char *current, const char **out, int cap) {
  CpuLevel own = blas_kernel_level(current);
  int n = 0;
  if (cpu_level == CPU_LEVEL_UNKNOWN || own == CPU_LEVEL_UNKNOWN) {
    if (cap > 0 && current) out[n++] = current;
    return n;
  }
  CpuLevel top = cpu_level > own ? cpu_level : own;
  for (int l = top; l >= CPU_LEVEL_SSE && n < cap; l--) {
    out[n++] = l == (int)own ? current : kernel_for_level((CpuLevel)l);
  }
  return n;
}

/* ---- loading ----------------------------------------------------------- */

/* strdup through malloc, so that tests wrapping malloc see it too. */
static char *copy_string(const char *text) {
  size_t n = strlen(text) + 1;
  char *copy = malloc(n);
  if (copy) memcpy(copy, text, n);
  return copy;
}

typedef struct {
  const char *name;
  char *old;
  int had;
} EnvSave;

/* setenv that remembers the previous state for env_pop. */
static int env_push(EnvSave *s, const char *name, const char *value) {
  const char *old = getenv(name);
  s->name = name;
  s->had = old != NULL;
  s->old = old ? copy_string(old) : NULL;
  if (old && s->old == NULL) return -1;
  return setenv(name, value, 1);
}

static void env_pop(EnvSave *s) {
  if (s->had) setenv(s->name, s->old, 1);
  else unsetenv(s->name);
  free(s->old);
}

/* dlopen with an OpenBLAS held to one thread and, when kernel is not
** NULL, that kernel; the environment is as before once it returns. */
static void *open_library(const char *name, const char *kernel) {
  EnvSave threads, core;
  if (env_push(&threads, "OPENBLAS_NUM_THREADS", "1") != 0) return NULL;
  if (kernel && env_push(&core, "OPENBLAS_CORETYPE", kernel) != 0) {
    env_pop(&threads);
    return NULL;
  }
  void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (kernel) env_pop(&core);
  env_pop(&threads);
  return h;
}

/* Makes h the library in use; -1 when it lacks the CBLAS entry points. */
static int adopt(void *h) {
  blas.lib = h;
  blas.sgemm = (BlasSgemm)dlsym(h, "cblas_sgemm");
  blas.sgemv = (BlasSgemv)dlsym(h, "cblas_sgemv");
  blas.get_config = (StringFn)dlsym(h, "openblas_get_config");
  blas.get_corename = (StringFn)dlsym(h, "openblas_get_corename");
  blas.get_threads = (IntFn)dlsym(h, "openblas_get_num_threads");
  blas.get_parallel = (IntFn)dlsym(h, "openblas_get_parallel");
  blas.set_threads = (SetThreadsFn)dlsym(h, "openblas_set_num_threads");
  Dl_info info;
  blas.path[0] = '\0';
  if (blas.sgemm && dladdr((void *)blas.sgemm, &info) && info.dli_fname) {
    char real[PATH_MAX];
    const char *shown = realpath(info.dli_fname, real) ? real : info.dli_fname;
    snprintf(blas.path, sizeof blas.path, "%.*s", (int)sizeof blas.path - 1, shown);
  }
  return blas.sgemm && blas.sgemv ? 0 : -1;
}

/* Closes the library opened as name; -1 (and keeps using it) when it
** stays loaded because something else holds it too. */
static int unload(const char *name) {
  dlclose(blas.lib);
  blas.lib = NULL;
  void *still = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
  if (still) {
    adopt(still);
    return -1;
  }
  return 0;
}

typedef struct {
  char *names[MAX_LOADED_OBJECTS];
  int n;
  int out_of_memory;
} LoadedObjects;

static int collect_object(struct dl_phdr_info *info, size_t size, void *arg) {
  LoadedObjects *l = arg;
  (void)size;
  if (info->dlpi_name && info->dlpi_name[0] && l->n < MAX_LOADED_OBJECTS) {
    char *name = copy_string(info->dlpi_name);
    if (name) l->names[l->n++] = name;
    else l->out_of_memory = 1;
  }
  return 0;
}

/* An OpenBLAS the process loaded before us (its soname, in the global
** scope, or in the local scope of any loaded object), or NULL; NULL with
** *out_of_memory set when the list of loaded objects could not be made. */
static void *find_loaded_openblas(int *out_of_memory) {
  void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_NOLOAD);
  if (h) return h;
  void *sym = dlsym(RTLD_DEFAULT, "openblas_get_config");
  if (sym == NULL) {
    /* Objects are listed first and opened after: dlopen inside the
    ** iteration would run under the loader's lock. */
    LoadedObjects objs;
    objs.n = 0;
    objs.out_of_memory = 0;
    dl_iterate_phdr(collect_object, &objs);
    *out_of_memory = objs.out_of_memory;
    for (int i = 0; i < objs.n; i++) {
      void *o = sym ? NULL : dlopen(objs.names[i], RTLD_NOW | RTLD_NOLOAD);
      if (o) {
        sym = dlsym(o, "openblas_get_config");
        dlclose(o);
      }
      free(objs.names[i]);
    }
  }
  Dl_info info;
  if (sym == NULL || !dladdr(sym, &info) || info.dli_fname == NULL) return NULL;
  h = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  return h ? h : dlopen(NULL, RTLD_NOW); /* linked into the program itself */
}

static const char *current_kernel(void) {
  return blas.get_corename ? blas.get_corename() : NULL;
}

static int is_dynamic_arch(void) {
  return blas.get_config && strstr(blas.get_config(), "DYNAMIC_ARCH") != NULL;
}

static void note_tried(const char *kernel, const char *fmt, const char *detail) {
  if (blas.n_tried >= MAX_TRIED) return;
  snprintf(blas.tried[blas.n_tried].kernel, sizeof blas.tried[0].kernel, "%s", kernel);
  snprintf(blas.tried[blas.n_tried].result, sizeof blas.tried[0].result, fmt, detail);
  blas.n_tried++;
}

/* Runs the self-check on the library in use; 0 when it passes. */
static int self_check(void) {
  int rc = blas_check(blas.sgemm, blas.sgemv, &blas.check);
  if (rc < 0) snprintf(blas.check.failure, sizeof blas.check.failure, "out of memory");
  return rc;
}

/* OpenBLAS loaded by us as soname with its own kernel choice: tries the
** plan (blas_kernel_plan) best first and keeps the first kernel that
** loads as asked and passes the self-check. */
static int choose_kernel(const char *soname) {
  const char *own = current_kernel();
  snprintf(blas.default_kernel, sizeof blas.default_kernel, "%s", own ? own : "");
  const char *plan[8];
  int n = is_dynamic_arch() ? blas_kernel_plan(blas.cpu.level, blas.default_kernel, plan, 8) : 0;
  if (n == 0) plan[n++] = blas.default_kernel;
  const char *loaded = blas.default_kernel;
  for (int i = 0; i < n; i++) {
    int is_own = strcasecmp(plan[i], blas.default_kernel) == 0;
    if (strcasecmp(plan[i], loaded) != 0) {
      if (unload(soname) != 0) {
        /* Something else in the process holds it now: keep it as it is. */
        note_tried(plan[i], "%s", "not tried: the library stayed loaded (something holds it)");
        const char *k = current_kernel();
        if (k == NULL || self_check() != 0) break;
        note_tried(k, "%s", "passed the self-check");
        blas.choice = strcasecmp(k, blas.default_kernel) == 0 ? "openblas" : "selected";
        snprintf(blas.reason, sizeof blas.reason,
                 "%s kept: OpenBLAS could not be loaded again, something else holds it", k);
        return 0;
      }
      void *h = open_library(soname, is_own ? NULL : plan[i]);
      if (h == NULL || adopt(h) != 0) {
        snprintf(blas.error, sizeof blas.error, "reloading %s failed: %s", soname,
                 h ? "no cblas_sgemm" : dlerror());
        return -1;
      }
      loaded = plan[i];
    }
    const char *got = current_kernel();
    if (got == NULL || strcasecmp(got, plan[i]) != 0) {
      note_tried(plan[i], "not taken: OpenBLAS ran %s instead", got ? got : "?");
      continue;
    }
    if (self_check() != 0) {
      note_tried(plan[i], "failed the self-check: %s", blas.check.failure);
      continue;
    }
    note_tried(plan[i], "%s", "passed the self-check");
    if (is_own) {
      blas.choice = "openblas";
      snprintf(blas.reason, sizeof blas.reason,
               "OpenBLAS's own choice %s %s", plan[i],
               i > 0 ? "(better kernels did not pass, see tried)"
               : blas.cpu.level == CPU_LEVEL_UNKNOWN ? "(CPU level unknown here)"
               : !is_dynamic_arch() ? "(this OpenBLAS has a single kernel)"
               : blas_kernel_level(plan[i]) == CPU_LEVEL_UNKNOWN ? "(a kernel not known here)"
               : "suits this CPU");
    } else {
      blas.choice = "selected";
      snprintf(blas.reason, sizeof blas.reason,
               "OpenBLAS chose %s, its kernel for the %s level, but this CPU and its OS "
               "support %s: loaded again with OPENBLAS_CORETYPE=%s (the environment "
               "restored after)",
               blas.default_kernel, cpu_level_name(blas_kernel_level(blas.default_kernel)),
               cpu_level_name(blas.cpu.level), plan[i]);
    }
    return 0;
  }
  snprintf(blas.error, sizeof blas.error, "no kernel of %s passed the self-check (%s: %s)",
           blas.path, blas.n_tried ? blas.tried[blas.n_tried - 1].kernel : "?",
           blas.n_tried ? blas.tried[blas.n_tried - 1].result : "?");
  return -1;
}

/* One line on stderr when a preloaded OpenBLAS runs below the CPU. */
static void warn_if_slow(void) {
  const char *k = current_kernel();
  CpuLevel level = blas_kernel_level(k);
  if (level == CPU_LEVEL_UNKNOWN || blas.cpu.level == CPU_LEVEL_UNKNOWN ||
      level >= blas.cpu.level)
    return;
  fprintf(stderr,
          "semiperso: this process loaded OpenBLAS (%s) before semiperso, with its %s kernel "
          "%s although this CPU supports %s; semiperso uses it as it is. Start the process "
          "with OPENBLAS_CORETYPE=%s for faster products.\n",
          blas.path, cpu_level_name(level), k, cpu_level_name(blas.cpu.level),
          kernel_for_level(blas.cpu.level));
}

/* Opens the first of names that loads; *which tells which. */
static void *open_first(const char *const *names, const char **which) {
  for (; *names; names++) {
    void *h = open_library(*names, NULL);
    if (h) {
      *which = *names;
      return h;
    }
  }
  return NULL;
}

static int load(void) {
  static const char *const openblas_names[] = {"libopenblas.so.0", "libopenblas.so", NULL};
  static const char *const cblas_names[] = {"libcblas.so.3", "libblas.so.3", NULL};
  cpu_detect(&blas.cpu);
  const char *nt = getenv("OPENBLAS_NUM_THREADS");
  blas.user_threads = nt ? atoi(nt) : 0;
  const char *named = getenv("SEMIPERSO_BLAS"), *name = NULL;
  int out_of_memory = 0;
  void *preloaded = named && named[0] ? NULL : find_loaded_openblas(&out_of_memory), *h;
  if (preloaded == NULL && out_of_memory) {
    snprintf(blas.error, sizeof blas.error, "out of memory while listing the loaded libraries");
    return -1;
  }
  if (named && named[0]) {
    h = open_library(named, NULL);
    name = named;
    blas.choice = "named";
    snprintf(blas.reason, sizeof blas.reason, "SEMIPERSO_BLAS names it");
  } else if ((h = preloaded) != NULL) {
    name = "the OpenBLAS already loaded";
    blas.choice = "preloaded";
    snprintf(blas.reason, sizeof blas.reason,
             "the process had loaded OpenBLAS before semiperso: used as it is");
  } else if ((h = open_first(openblas_names, &name)) != NULL) {
    const char *user = getenv("OPENBLAS_CORETYPE");
    blas.choice = "user";
    snprintf(blas.reason, sizeof blas.reason, "OPENBLAS_CORETYPE=%s set by the user",
             user ? user : "");
    if (adopt(h) == 0 && user == NULL) return choose_kernel(name);
  } else if ((h = open_first(cblas_names, &name)) != NULL) {
    blas.choice = "generic";
    snprintf(blas.reason, sizeof blas.reason, "no OpenBLAS found: the CBLAS of %s", name);
  } else {
    snprintf(blas.error, sizeof blas.error,
             "no BLAS library found (tried libopenblas.so.0, libopenblas.so, libcblas.so.3, "
             "libblas.so.3): install OpenBLAS (Debian: apt-get install libopenblas0)");
    return -1;
  }
  if (h == NULL) {
    snprintf(blas.error, sizeof blas.error, "%s%s", named && named[0] ? "SEMIPERSO_BLAS: " : "",
             dlerror());
    return -1;
  }
  if (adopt(h) != 0) {
    snprintf(blas.error, sizeof blas.error, "%s: no cblas_sgemm and cblas_sgemv in it", name);
    return -1;
  }
  if (strcmp(blas.choice, "preloaded") == 0) warn_if_slow();
  const char *k = current_kernel();
  if (k) snprintf(blas.default_kernel, sizeof blas.default_kernel, "%s", k);
  if (self_check() != 0) {
    note_tried(k ? k : "(library)", "failed the self-check: %s", blas.check.failure);
    snprintf(blas.error, sizeof blas.error, "the BLAS in %s computes wrong products: %s",
             blas.path, blas.check.failure);
    return -1;
  }
  note_tried(k ? k : "(library)", "%s", "passed the self-check");
  return 0;
}

static void load_once(void) {
  atomic_store_explicit(&blas_state, load() == 0 ? 1 : -1, memory_order_release);
}

int blas_init(void) {
  pthread_once(&blas_once, load_once);
  return atomic_load_explicit(&blas_state, memory_order_acquire) == 1 ? 0 : -1;
}

const char *blas_error(void) {
  return blas_init() == 0 ? NULL : blas.error;
}

/* Loads on first use; a program that skipped blas_init() stops here
** with the reason rather than calling through a null pointer. */
static inline void blas_require(void) {
  if (atomic_load_explicit(&blas_state, memory_order_acquire) == 1) return;
  if (blas_init() != 0) {
    fprintf(stderr, "semiperso: %s\n", blas.error);
    abort();
  }
}

/* ---- threads ----------------------------------------------------------- */

static int available_cpus(void) {
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (int)n;
}

static int library_threads(void) {
  return blas.get_threads ? blas.get_threads() : 1;
}

int blas_team_threads(void) {
  if (blas_init() != 0 || library_threads() > 1) return 1;
  int n = available_cpus();
  if (blas.user_threads > 0 && blas.user_threads < n) n = blas.user_threads;
  return n;
}

int blas_set_threads(int n) {
  if (blas_init() != 0 || blas.set_threads == NULL || n < 1) return -1;
  blas.set_threads(n);
  return 0;
}

/* ---- the CBLAS entry points the core uses ------------------------------ */

HIDDEN void cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                        const enum CBLAS_TRANSPOSE tb, const int m, const int n, const int k,
                        const float alpha, const float *a, const int lda, const float *b,
                        const int ldb, const float beta, float *c, const int ldc) {
  blas_require();
  blas.sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

HIDDEN void cblas_sgemv(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta, const int m,
                        const int n, const float alpha, const float *a, const int lda,
                        const float *x, const int incx, const float beta, float *y,
                        const int incy) {
  blas_require();
  blas.sgemv(order, ta, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

/* ---- the description --------------------------------------------------- */

typedef struct {
  char *p;
  size_t len, cap;
  int failed;
} Buf;

static void put(Buf *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->cap ? b->cap * 2 : 1024) + n;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
      b->failed = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void put_raw(Buf *b, const char *s) { put(b, s, strlen(s)); }

/* A JSON string (escaped), or null for NULL. */
static void put_str(Buf *b, const char *s) {
  if (s == NULL) {
    put_raw(b, "null");
    return;
  }
  put_raw(b, "\"");
  for (; *s; s++) {
    char esc[8];
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') {
      esc[0] = '\\';
      esc[1] = (char)ch;
      put(b, esc, 2);
    } else if (ch < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", ch);
      put_raw(b, esc);
    } else {
      put(b, s, 1);
    }
  }
  put_raw(b, "\"");
}

static void put_key(Buf *b, const char *key, int first) {
  if (!first) put_raw(b, ",");
  put_str(b, key);
  put_raw(b, ":");
}

static void put_int(Buf *b, long v) {
  char t[32];
  snprintf(t, sizeof t, "%ld", v);
  put_raw(b, t);
}

char *blas_info_json(void) {
  if (blas_init() != 0) return NULL;
  Buf b = {NULL, 0, 0, 0};
  const char *config = blas.get_config ? blas.get_config() : NULL;
  char version[64] = "";
  if (config && strncmp(config, "OpenBLAS ", 9) == 0) {
    size_t n = strcspn(config + 9, " ");
    snprintf(version, sizeof version, "OpenBLAS %.*s", (int)n, config + 9);
  }
  put_raw(&b, "{");
  put_key(&b, "library", 1);
  put_str(&b, blas.path);
  put_key(&b, "version", 0);
  put_str(&b, version[0] ? version : NULL);
  put_key(&b, "config", 0);
  put_str(&b, config);
  put_key(&b, "kernel", 0);
  put_str(&b, current_kernel());
  put_key(&b, "kernel_choice", 0);
  put_str(&b, blas.choice);
  put_key(&b, "reason", 0);
  put_str(&b, blas.reason);
  put_key(&b, "default_kernel", 0);
  put_str(&b, blas.default_kernel[0] ? blas.default_kernel : NULL);
  put_key(&b, "tried", 0);
  put_raw(&b, "[");
  for (int i = 0; i < blas.n_tried; i++) {
    put_raw(&b, i ? ",{" : "{");
    put_key(&b, "kernel", 1);
    put_str(&b, blas.tried[i].kernel);
    put_key(&b, "result", 0);
    put_str(&b, blas.tried[i].result);
    put_raw(&b, "}");
  }
  put_raw(&b, "]");
  put_key(&b, "self_check", 0);
  char worst[32];
  snprintf(worst, sizeof worst, "%.3g", blas.check.worst);
  put_raw(&b, "{\"passed\":true,\"products\":"); /* blas_init() fails otherwise */
  put_int(&b, blas.check.products);
  put_raw(&b, ",\"worst_error_to_bound\":");
  put_raw(&b, worst);
  put_raw(&b, "}");
  put_key(&b, "threads", 0);
  put_int(&b, blas_team_threads());
  put_key(&b, "blas_threads", 0);
  put_int(&b, library_threads());
  put_key(&b, "blas_parallel", 0);
  int par = blas.get_parallel ? blas.get_parallel() : -1;
  put_str(&b, par == 0 ? "sequential" : par == 1 ? "pthreads" : par == 2 ? "openmp" : NULL);
  put_key(&b, "cpu", 0);
  put_raw(&b, "{");
  put_key(&b, "arch", 1);
  put_str(&b, blas.cpu.arch);
  put_key(&b, "vendor", 0);
  put_str(&b, blas.cpu.vendor[0] ? blas.cpu.vendor : NULL);
  put_key(&b, "family", 0);
  put_int(&b, blas.cpu.family);
  put_key(&b, "model", 0);
  put_int(&b, blas.cpu.model);
  put_key(&b, "level", 0);
  put_str(&b, cpu_level_name(blas.cpu.level));
  put_key(&b, "features", 0);
  put_raw(&b, "[");
  for (const char *f = blas.cpu.features; *f;) {
    size_t n = strcspn(f, " ");
    char name[32];
    size_t len = n < sizeof name ? n : sizeof name - 1;
    memcpy(name, f, len);
    name[len] = '\0';
    if (f != blas.cpu.features) put_raw(&b, ",");
    put_str(&b, name);
    f += n;
    while (*f == ' ') f++;
  }
  put_raw(&b, "]}}");
  if (b.failed) {
    free(b.p);
    return NULL;
  }
  return b.p;
}
