/*
** hash.h - a stable 64-bit hash: the same value for the same bytes on every
** machine, compiler and run (A/B test assignment depends on it).  No SQLite.
**
** hash_bytes(b, n) = hash_mix64(FNV-1a 64 of the n bytes), where FNV-1a 64
** starts from 0xcbf29ce484222325 and, for each byte, XORs it in and
** multiplies by 0x100000001b3 (mod 2^64); hash_mix64 is MurmurHash3's
** 64-bit finaliser, which spreads every input bit over every output bit
** (FNV-1a alone leaves its low bits weak for short keys, and experiments
** take the hash modulo small numbers).
*/
#ifndef SEMIPERSO_HASH_H
#define SEMIPERSO_HASH_H

#include <stddef.h>
#include <stdint.h>

/* MurmurHash3 fmix64, a bijection on 64-bit words.  Inline: hash tables
** (item_count.c) call it once per probe. */
static inline uint64_t hash_mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

/* hash_mix64(FNV-1a 64 of bytes[0..n)); n may be 0. */
uint64_t hash_bytes(const void *bytes, size_t n);

#endif
