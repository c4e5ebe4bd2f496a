/*
** test_blas.c - the BLAS layer (ext/core/blas.h, blas_check.h, cpu.h):
**   - the self-check passes on the BLAS in use and catches deliberately
**     wrong products: a dropped term, an error of 1e-4 in one element, an
**     edge row left wrong, beta = 0 not ignoring C, a write outside C, a
**     wrong sgemv;
**   - the kernel plan (which OpenBLAS kernels to try, in which order);
**   - the CPU level against the flags Linux reports in /proc/cpuinfo;
**   - the kernel in use is the one the loaded OpenBLAS reports, chosen as
**     the plan says, with the environment left as it was;
**   - CBLAS calls go through the loaded library without linking one.
*/
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blas.h"
#include "blas_check.h"
#include "check.h"
#include "cpu.h"

/* The real routines, resolved from the library blas.c loaded. */
static BlasSgemm real_sgemm;
static BlasSgemv real_sgemv;
static int broken; /* which mistake the wrong routines make */

enum { DROP_TERM = 1, ONE_ELEMENT, EDGE_ROW, READS_C, OUTSIDE_C };

static void wrong_sgemm(enum CBLAS_ORDER o, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
                        int m, int n, int k, float alpha, const float *a, int lda,
                        const float *b, int ldb, float beta, float *c, int ldc) {
  int row = o == CblasRowMajor;
  if (broken == READS_C && beta == 0.0f) {
    /* C = alpha AB + 0 * C: what a kernel that forgets the beta = 0
    ** special case computes (NaN or Inf in C leaks through). */
    float *ab = malloc((size_t)m * (size_t)n * sizeof *ab);
    real_sgemm(o, ta, tb, m, n, k, alpha, a, lda, b, ldb, 0.0f, ab, row ? n : m);
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++) {
        float *cij = row ? &c[(size_t)i * ldc + j] : &c[i + (size_t)j * ldc];
        *cij = ab[row ? (size_t)i * n + j : i + (size_t)j * m] + 0.0f * *cij;
      }
    free(ab);
    return;
  }
  /* DROP_TERM: the last term of the inner dimension is lost when k > 1. */
  real_sgemm(o, ta, tb, m, n, broken == DROP_TERM && k > 1 ? k - 1 : k, alpha, a, lda, b, ldb,
             beta, c, ldc);
  float *last = row ? &c[(size_t)(m - 1) * ldc + (n - 1)] : &c[(m - 1) + (size_t)(n - 1) * ldc];
  if (broken == ONE_ELEMENT) *last *= 1.0001f;
  if (broken == EDGE_ROW && m % 16 == 1 && m > 1) *last += 0.01f;
  if (broken == OUTSIDE_C && ldc > (row ? n : m)) last[1] = 0.0f;
}

static void wrong_sgemv(enum CBLAS_ORDER o, enum CBLAS_TRANSPOSE ta, int m, int n, float alpha,
                        const float *a, int lda, const float *x, int incx, float beta, float *y,
                        int incy) {
  /* Forgets y's previous value (as if beta were 0). */
  (void)beta;
  real_sgemv(o, ta, m, n, alpha, a, lda, x, incx, 0.0f, y, incy);
}

static void check_catches(int mistake, const char *what, const char *failure_has) {
  BlasCheck rep;
  broken = mistake;
  int rc = blas_check(wrong_sgemm, real_sgemv, &rep);
  CHECK_MSG(rc == 1, "the self-check missed: %s (rc %d)", what, rc);
  CHECK_MSG(strstr(rep.failure, failure_has) != NULL, "%s: failure says \"%s\"", what,
            rep.failure);
  broken = 0;
}

static void test_self_check(void) {
  BlasCheck rep;
  CHECK(blas_check(real_sgemm, real_sgemv, &rep) == 0);
  CHECK_MSG(rep.worst <= 1.0 && rep.worst > 0.0, "worst error/bound %g", rep.worst);
  CHECK(rep.products == 14);
  check_catches(DROP_TERM, "a dropped term", "sgemm");
  check_catches(ONE_ELEMENT, "one element off by 1e-4", "sgemm");
  check_catches(EDGE_ROW, "an edge row (m = 16 q + 1) wrong", "m=17");
  check_catches(READS_C, "beta = 0 reading C", "nan");
  check_catches(OUTSIDE_C, "a write into the padding of C", "wrote outside C");
  CHECK(blas_check(real_sgemm, wrong_sgemv, &rep) == 1);
  CHECK_MSG(strstr(rep.failure, "sgemv RowMajor NoTrans m=37") != NULL, "sgemv: %s", rep.failure);
}

/* plan(cpu, current) must be exactly the space-separated names in want. */
static void check_plan(CpuLevel cpu, const char *current, const char *want) {
  const char *out[8];
  char got[200] = "";
  int n = blas_kernel_plan(cpu, current, out, 8);
  for (int i = 0; i < n; i++) {
    strcat(got, i ? " " : "");
    strcat(got, out[i]);
  }
  CHECK_MSG(strcmp(got, want) == 0, "plan(%s, %s) = \"%s\", want \"%s\"", cpu_level_name(cpu),
            current, got, want);
}

static void test_plan(void) {
  /* A generic fallback on an AVX-512 CPU: better kernels first. */
  check_plan(CPU_LEVEL_AVX512, "Prescott", "SkylakeX Haswell Sandybridge Prescott");
  /* OpenBLAS's choice at the CPU's level is kept (lower ones only if it
  ** fails the self-check); its own name stands for its level. */
  check_plan(CPU_LEVEL_AVX2, "Haswell", "Haswell Sandybridge Prescott");
  check_plan(CPU_LEVEL_AVX2, "zen", "zen Sandybridge Prescott");
  check_plan(CPU_LEVEL_AVX512, "Zen", "SkylakeX Zen Sandybridge Prescott");
  check_plan(CPU_LEVEL_AVX512, "Cooperlake", "Cooperlake Haswell Sandybridge Prescott");
  check_plan(CPU_LEVEL_SSE, "Nehalem", "Nehalem");
  /* A kernel above what we detect (an emulator hiding features) is kept. */
  check_plan(CPU_LEVEL_AVX2, "SkylakeX", "SkylakeX Haswell Sandybridge Prescott");
  /* Unknown to us: trust OpenBLAS. */
  check_plan(CPU_LEVEL_AVX512, "FutureLake", "FutureLake");
  check_plan(CPU_LEVEL_UNKNOWN, "Haswell", "Haswell");
  const char *out[2];
  CHECK(blas_kernel_plan(CPU_LEVEL_AVX512, "Prescott", out, 2) == 2);
  CHECK(blas_kernel_level("skylakex") == CPU_LEVEL_AVX512);
  CHECK(blas_kernel_level("Sandybridge") == CPU_LEVEL_AVX);
  CHECK(blas_kernel_level("Katmai") == CPU_LEVEL_SSE);
  CHECK(blas_kernel_level("") == CPU_LEVEL_UNKNOWN);
  CHECK(blas_kernel_level(NULL) == CPU_LEVEL_UNKNOWN);
}

/* 1 when the flags line of /proc/cpuinfo has flag, 0 when not, -1 when
** there is no such file. */
static int proc_flag(const char *flag) {
  static char line[8192];
  static int read_done = -1;
  if (read_done < 0) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    read_done = 0;
    while (f && fgets(line, sizeof line, f)) {
      if (strncmp(line, "flags", 5) == 0) {
        read_done = 1;
        break;
      }
    }
    if (f) fclose(f);
  }
  if (read_done != 1) return -1;
  char pat[64];
  snprintf(pat, sizeof pat, " %s", flag);
  for (const char *p = line; (p = strstr(p, pat)) != NULL; p++) {
    char end = p[strlen(pat)];
    if (end == ' ' || end == '\n' || end == '\0') return 1;
  }
  return 0;
}

static void test_cpu(void) {
  CpuInfo cpu;
  cpu_detect(&cpu);
  if (strcmp(cpu.arch, "x86_64") != 0 || proc_flag("sse2") < 0) {
    CHECK(cpu.level == CPU_LEVEL_UNKNOWN || strcmp(cpu.arch, "x86_64") == 0);
    return;
  }
  /* Linux lists a flag only when the kernel enabled its state, as our
  ** XGETBV check requires: the two must agree. */
  int avx512 = proc_flag("avx512f") && proc_flag("avx512dq") && proc_flag("avx512cd") &&
               proc_flag("avx512bw") && proc_flag("avx512vl");
  CpuLevel want = avx512 ? CPU_LEVEL_AVX512
                  : proc_flag("avx2") && proc_flag("fma") ? CPU_LEVEL_AVX2
                  : proc_flag("avx") ? CPU_LEVEL_AVX
                                     : CPU_LEVEL_SSE;
  CHECK_MSG(cpu.level == want, "cpu level %s, /proc/cpuinfo says %s", cpu_level_name(cpu.level),
            cpu_level_name(want));
  static const char *const flags[] = {"sse3", "avx", "fma", "avx2", "avx512f", "avx512bw",
                                      "avx512_bf16", "amx_tile"};
  for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
    char pat[40];
    snprintf(pat, sizeof pat, " %s ", flags[i]);
    char padded[sizeof cpu.features + 2];
    snprintf(padded, sizeof padded, " %s ", cpu.features);
    int ours = strstr(padded, pat) != NULL;
    const char *linux_name = strcmp(flags[i], "sse3") == 0 ? "pni" : flags[i];
    CHECK_MSG(ours == proc_flag(linux_name), "%s: cpu_detect %d, /proc/cpuinfo %d", flags[i],
              ours, proc_flag(linux_name));
  }
  CHECK(strcmp(cpu.vendor, "GenuineIntel") == 0 || strcmp(cpu.vendor, "AuthenticAMD") == 0 ||
        cpu.vendor[0] != '\0');
}

/* The value of "key":"..." at the top level of the info JSON (keys before
** "tried", which is where nested objects start). */
static void json_string(const char *json, const char *key, char *out, size_t cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(json, pat);
  out[0] = '\0';
  if (p == NULL) return;
  p += strlen(pat);
  if (*p != '"') {
    snprintf(out, cap, "%.*s", (int)strcspn(p, ",}"), p);
    return;
  }
  p++;
  snprintf(out, cap, "%.*s", (int)strcspn(p, "\""), p);
}

static void test_loaded(void) {
  const char *threads_before = getenv("OPENBLAS_NUM_THREADS");
  char saved_threads[32];
  snprintf(saved_threads, sizeof saved_threads, "%s", threads_before ? threads_before : "");
  int coretype_before = getenv("OPENBLAS_CORETYPE") != NULL;
  CHECK(blas_init() == 0);
  CHECK(blas_error() == NULL);
  /* The environment is as it was. */
  const char *threads_after = getenv("OPENBLAS_NUM_THREADS");
  CHECK((threads_before == NULL) == (threads_after == NULL));
  CHECK(threads_after == NULL || strcmp(threads_after, saved_threads) == 0);
  CHECK((getenv("OPENBLAS_CORETYPE") != NULL) == coretype_before);

  char *info = blas_info_json();
  CHECK(info != NULL);
  if (info == NULL) return;
  char library[512], kernel[64], choice[32], def[64], blas_threads[16];
  json_string(info, "library", library, sizeof library);
  json_string(info, "kernel", kernel, sizeof kernel);
  json_string(info, "kernel_choice", choice, sizeof choice);
  json_string(info, "default_kernel", def, sizeof def);
  json_string(info, "blas_threads", blas_threads, sizeof blas_threads);
  /* Ask the loaded library itself, by the path the info names. */
  void *h = dlopen(library, RTLD_NOW | RTLD_NOLOAD);
  CHECK_MSG(h != NULL, "library %s is not loaded", library);
  if (h == NULL) return;
  real_sgemm = (BlasSgemm)dlsym(h, "cblas_sgemm");
  real_sgemv = (BlasSgemv)dlsym(h, "cblas_sgemv");
  char *(*corename)(void) = (char *(*)(void))dlsym(h, "openblas_get_corename");
  int (*threads)(void) = (int (*)(void))dlsym(h, "openblas_get_num_threads");
  CHECK(real_sgemm != NULL && real_sgemv != NULL);
  if (corename) {
    CHECK_MSG(strcmp(kernel, corename()) == 0, "info kernel %s, OpenBLAS runs %s", kernel,
              corename());
    /* Loaded by us: one thread per call, our teams do the parallel work. */
    CHECK(strcmp(choice, "preloaded") == 0 || threads() == 1);
    CHECK(atoi(blas_threads) == threads());
    CpuInfo cpu;
    cpu_detect(&cpu);
    const char *plan[8];
    int n = blas_kernel_plan(cpu.level, def, plan, 8);
    if (strcmp(choice, "selected") == 0) {
      /* Better than OpenBLAS's own choice, within the CPU. */
      CHECK(n > 1 && blas_kernel_level(kernel) > blas_kernel_level(def));
      CHECK(blas_kernel_level(kernel) <= cpu.level);
    } else if (strcmp(choice, "openblas") == 0) {
      CHECK(strcmp(kernel, def) == 0);
    }
    if (getenv("OPENBLAS_CORETYPE") == NULL && strcmp(choice, "preloaded") != 0 && n > 0 &&
        strstr(info, "DYNAMIC_ARCH") != NULL) {
      /* No failure in the tried list: the first of the plan is in use. */
      CHECK_MSG(strstr(info, "failed") != NULL || strcasecmp(kernel, plan[0]) == 0,
                "kernel %s, plan starts with %s", kernel, plan[0]);
    }
  }
  CHECK(strstr(info, "\"self_check\":{\"passed\":true,\"products\":14,") != NULL);
  dlclose(h);
  free(info);

  /* Our hidden cblas_sgemm forwards to the library: a product by hand. */
  float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, -1, 2, 0.5f, 0}, c[4];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 2, 2, 3, 1.0f, a, 3, b, 3, 0.0f, c, 2);
  CHECK(c[0] == -2.0f && c[1] == 3.0f && c[2] == -2.0f && c[3] == 10.5f);
}

int main(void) {
  test_plan();
  test_cpu();
  test_loaded();
  if (real_sgemm) test_self_check();
  return check_report();
}
