/*
** blas.h - the BLAS the numeric core runs on: which library, which kernel,
** how many threads.  Plain C11 + dlopen; no SQLite here.
**
** The core calls CBLAS (cblas_sgemm, cblas_sgemv) as usual, but nothing
** links a BLAS library: blas.c defines those entry points, hidden from
** the dynamic symbol table (so they never interpose on another library's
** BLAS), and forwards them to a library it loads with dlopen the first
** time one is called (or at blas_init()).  Loading it ourselves is what
** lets us choose OpenBLAS's kernel: OpenBLAS picks it in its constructor,
** from the CPU model, and an OpenBLAS older than the CPU falls back to a
** generic SSE kernel several times slower than what the CPU can run.
**
** Which library (first that applies):
**   1. SEMIPERSO_BLAS names one (a path or a soname): that one, as it is.
**   2. The process has already loaded an OpenBLAS for its own use (numpy,
**      an application linking it): that one, untouched (neither its kernel
**      nor its threads change); when its kernel is a fallback below what
**      the CPU supports, one line on stderr says so and how to fix it.
**   3. OpenBLAS (libopenblas.so.0) loaded by us.  With OPENBLAS_CORETYPE
**      set by the user, as the user asked.  Otherwise we load it, read the
**      kernel it chose and, when that kernel is below the CPU's level (see
**      cpu.h) and the build has several (DYNAMIC_ARCH), unload it and load
**      it again with OPENBLAS_CORETYPE set to the best kernel for the CPU
**      that passes the self-check (blas_check.h), trying lower levels in
**      turn.  The variable is set only around dlopen and then restored.
**   4. A generic CBLAS (libcblas.so.3, libblas.so.3).
** Whatever is used must pass the self-check, or blas_init() fails.
**
** Threads: an OpenBLAS we load runs every call on the calling thread
** (OPENBLAS_NUM_THREADS=1 around its load); the core's parallel passes
** split work among their own threads (team.h), so no process-wide
** thread setting is ever changed per call.  blas_team_threads() is the
** size such a team should have: one per CPU available to the process,
** capped by OPENBLAS_NUM_THREADS when the user set it; 1 when the BLAS in
** use threads its calls itself (a preloaded OpenBLAS with more than one
** thread), since concurrent calls would only queue for its threads.
** An OpenBLAS loaded by us is shared with whatever the process loads
** later and links the same library (numpy imported after the extension):
** it gets the kernel chosen here and one thread (openblas_set_num_threads
** changes that, and blas_team_threads() then follows).
**
** Contract:
**   blas_init() loads and checks once per process (thread-safe); 0 when a
**     library is in use, -1 when none could be (blas_error() says why).
**     Calling a CBLAS function first does the same, and aborts with that
**     message on failure; the SQL extension calls blas_init() at load.
**   blas_info_json() describes it all as one JSON object (malloc'd, NULL
**     when memory fails or loading failed): library, version, config,
**     kernel, kernel_choice, reason, default_kernel, tried, self_check,
**     threads, blas_threads, blas_parallel, cpu.
**   blas_set_threads(n) sets the library's own thread count (a benchmark
**     process measuring the machine's multi-threaded sgemm rate does);
**     -1 when the library has no such control.
**   blas_kernel_level(name) is the CpuLevel an OpenBLAS kernel needs
**     (CPU_LEVEL_UNKNOWN for a name not known here).
**   blas_kernel_plan(cpu_level, current, out, cap) lists the kernels to
**     try, best first, when OpenBLAS chose current itself: one per level
**     from the CPU's (or current's, if higher) down to SSE, with current
**     standing for its own level (kept as OpenBLAS chose it), so what
**     follows current is only tried when current fails the self-check.
**     Just current when its level or the CPU's is unknown.  Returns the
**     count written (<= cap).
*/
#ifndef SEMIPERSO_BLAS_H
#define SEMIPERSO_BLAS_H

#include "cpu.h"

int blas_init(void);
const char *blas_error(void);
char *blas_info_json(void);
int blas_team_threads(void);
int blas_set_threads(int n);
CpuLevel blas_kernel_level(const char *name);
int blas_kernel_plan(CpuLevel cpu_level, const char *current, const char **out, int cap);

#endif
