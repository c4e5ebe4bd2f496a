/*
** cpu.h - what the processor can run: the instruction set extensions it
** has AND the operating system saves the registers of (CPUID + XGETBV on
** x86-64).  Plain C11; no SQLite here.
**
** Contract:
**   cpu_detect(&cpu) fills cpu once per call; never fails.  On other
**     architectures it names the architecture and reports no features
**     (level CPU_LEVEL_UNKNOWN).
**   cpu.level is the best vector level usable for SGEMM kernels:
**     CPU_LEVEL_AVX512  AVX-512 F, DQ, CD, BW and VL, ZMM state enabled
**     CPU_LEVEL_AVX2    AVX2 and FMA, YMM state enabled
**     CPU_LEVEL_AVX     AVX, YMM state enabled
**     CPU_LEVEL_SSE     x86-64's baseline (SSE2; SSE3 where present)
**   An extension the CPU has but the OS does not enable (no XSAVE state
**   for its registers) does not count, as using it would fault.
**   cpu_level_name(level) gives "avx512", "avx2", "avx", "sse" or
**     "unknown".
**   cpu.features lists the extensions found, space-separated, in the
**     names Linux's /proc/cpuinfo uses (e.g. "avx2 fma avx512f"), except
**     "sse3" (Linux says "pni").
*/
#ifndef SEMIPERSO_CPU_H
#define SEMIPERSO_CPU_H

typedef enum {
  CPU_LEVEL_UNKNOWN = -1,
  CPU_LEVEL_SSE = 0,
  CPU_LEVEL_AVX = 1,
  CPU_LEVEL_AVX2 = 2,
  CPU_LEVEL_AVX512 = 3
} CpuLevel;

typedef struct {
  const char *arch;    /* "x86_64", "aarch64", ... */
  char vendor[13];     /* CPUID vendor string; empty elsewhere */
  int family, model;   /* display family and model; 0 elsewhere */
  CpuLevel level;
  char features[320];
} CpuInfo;

void cpu_detect(CpuInfo *cpu);
const char *cpu_level_name(CpuLevel level);

#endif
