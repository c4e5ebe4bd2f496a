/* hash.c - FNV-1a 64 followed by the MurmurHash3 finaliser (see hash.h). */
#include "hash.h"

uint64_t hash_bytes(const void *bytes, size_t n) {
  const unsigned char *p = bytes;
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return hash_mix64(h);
}
