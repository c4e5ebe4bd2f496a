/* cpu.c - instruction set extensions the CPU has and the OS enables (see cpu.h). */
#include "cpu.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0 bits: the register state the OS saves across context switches. */
#define XCR0_YMM 0x6u    /* SSE + AVX state */
#define XCR0_ZMM 0xe6u   /* and opmask, ZMM_Hi256, Hi16_ZMM */
#define XCR0_AMX 0x60000u /* TILECFG + TILEDATA */

static unsigned xcr0(void) {
  unsigned eax, edx;
  /* xgetbv spelt as bytes: no -mxsave needed, and only reached when
  ** CPUID says OSXSAVE. */
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  (void)edx;
  return eax;
}

typedef struct {
  const char *name;
  int leaf, subleaf, reg; /* reg: 0 eax, 1 ebx, 2 ecx, 3 edx */
  int bit;
  unsigned xcr0; /* state the OS must enable for it to count */
} Feature;

static const Feature features[] = {
    {"sse2", 1, 0, 3, 26, 0},         {"sse3", 1, 0, 2, 0, 0},
    {"ssse3", 1, 0, 2, 9, 0},         {"sse4_1", 1, 0, 2, 19, 0},
    {"sse4_2", 1, 0, 2, 20, 0},       {"avx", 1, 0, 2, 28, XCR0_YMM},
    {"fma", 1, 0, 2, 12, XCR0_YMM},   {"f16c", 1, 0, 2, 29, XCR0_YMM},
    {"avx2", 7, 0, 1, 5, XCR0_YMM},   {"avx512f", 7, 0, 1, 16, XCR0_ZMM},
    {"avx512dq", 7, 0, 1, 17, XCR0_ZMM}, {"avx512cd", 7, 0, 1, 28, XCR0_ZMM},
    {"avx512bw", 7, 0, 1, 30, XCR0_ZMM}, {"avx512vl", 7, 0, 1, 31, XCR0_ZMM},
    {"avx512_vnni", 7, 0, 2, 11, XCR0_ZMM}, {"avx512_bf16", 7, 1, 0, 5, XCR0_ZMM},
    {"avx512_fp16", 7, 0, 3, 23, XCR0_ZMM}, {"avx_vnni", 7, 1, 0, 4, XCR0_YMM},
    {"amx_tile", 7, 0, 3, 24, XCR0_AMX}, {"amx_bf16", 7, 0, 3, 22, XCR0_AMX},
    {"amx_int8", 7, 0, 3, 25, XCR0_AMX},
};

static int has(const CpuInfo *cpu, const char *name) {
  size_t n = strlen(name);
  for (const char *p = cpu->features; (p = strstr(p, name)) != NULL; p += n) {
    if ((p == cpu->features || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
  }
  return 0;
}

void cpu_detect(CpuInfo *cpu) {
  memset(cpu, 0, sizeof *cpu);
  cpu->arch = sizeof(void *) == 8 ? "x86_64" : "i386";
  cpu->level = CPU_LEVEL_SSE;
  unsigned r[4], max_leaf = __get_cpuid_max(0, NULL);
  if (max_leaf == 0) return;
  __cpuid(0, r[0], r[1], r[2], r[3]);
  memcpy(cpu->vendor, &r[1], 4);
  memcpy(cpu->vendor + 4, &r[3], 4);
  memcpy(cpu->vendor + 8, &r[2], 4);
  __cpuid(1, r[0], r[1], r[2], r[3]);
  int family = (r[0] >> 8) & 0xf, model = (r[0] >> 4) & 0xf;
  if (family == 0xf) family += (r[0] >> 20) & 0xff;
  if (family == 0x6 || family >= 0xf) model += ((r[0] >> 16) & 0xf) << 4;
  cpu->family = family;
  cpu->model = model;
  unsigned os = (r[2] >> 27) & 1 ? xcr0() : 0; /* OSXSAVE */
  size_t len = 0;
  for (size_t i = 0; i < sizeof features / sizeof *features; i++) {
    const Feature *f = &features[i];
    if ((unsigned)f->leaf > max_leaf) continue;
    if (f->leaf == 7) {
      unsigned max_sub = 0, b, c, d;
      __cpuid_count(7, 0, max_sub, b, c, d);
      if ((unsigned)f->subleaf > max_sub) continue;
    }
    __cpuid_count(f->leaf, f->subleaf, r[0], r[1], r[2], r[3]);
    if (!((r[f->reg] >> f->bit) & 1) || (os & f->xcr0) != f->xcr0) continue;
    size_t n = strlen(f->name);
    if (len + n + 2 > sizeof cpu->features) break;
    if (len) cpu->features[len++] = ' ';
    memcpy(cpu->features + len, f->name, n + 1);
    len += n;
  }
  if (has(cpu, "avx512f") && has(cpu, "avx512dq") && has(cpu, "avx512cd") &&
      has(cpu, "avx512bw") && has(cpu, "avx512vl"))
    cpu->level = CPU_LEVEL_AVX512;
  else if (has(cpu, "avx2") && has(cpu, "fma"))
    cpu->level = CPU_LEVEL_AVX2;
  else if (has(cpu, "avx"))
    cpu->level = CPU_LEVEL_AVX;
}

#else

void cpu_detect(CpuInfo *cpu) {
  memset(cpu, 0, sizeof *cpu);
#if defined(__aarch64__)
  cpu->arch = "aarch64";
#elif defined(__powerpc64__)
  cpu->arch = "ppc64";
#elif defined(__riscv)
  cpu->arch = "riscv";
#else
  cpu->arch = "unknown";
#endif
  cpu->level = CPU_LEVEL_UNKNOWN;
}

#endif

const char *cpu_level_name(CpuLevel level) {
  switch (level) {
    case CPU_LEVEL_AVX512: return "avx512";
    case CPU_LEVEL_AVX2: return "avx2";
    case CPU_LEVEL_AVX: return "avx";
    case CPU_LEVEL_SSE: return "sse";
    default: return "unknown";
  }
}
