/* Unit tests of hash.c: FNV-1a 64 against its published test vectors,
** then the MurmurHash3 finaliser on top. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "hash.h"

int main(void) {
  /* FNV-1a 64 test vectors (the FNV authors' list): "" -> offset basis,
  ** "a" -> 0xaf63dc4c8601ec8c, "foobar" -> 0x85944171f73967e8. */
  CHECK(hash_bytes("", 0) == hash_mix64(0xcbf29ce484222325ULL));
  CHECK(hash_bytes("a", 1) == hash_mix64(0xaf63dc4c8601ec8cULL));
  CHECK(hash_bytes("foobar", 6) == hash_mix64(0x85944171f73967e8ULL));

  /* The finaliser by hand on 1: x ^= x >> 33 leaves 1; times
  ** 0xff51afd7ed558ccd; and so on.  Its value for 0 is 0. */
  uint64_t x = 1;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  CHECK(hash_mix64(1) == x);
  CHECK(hash_mix64(0) == 0);

  /* Every byte matters, including NULs and the length. */
  CHECK(hash_bytes("ab", 2) != hash_bytes("ba", 2));
  CHECK(hash_bytes("a\0", 2) != hash_bytes("a", 1));

  /* Buckets of consecutive keys (as A/B assignment takes them) are
  ** balanced: 20 000 users over 4 buckets, each within 3 % of 5000. */
  int count[4] = {0, 0, 0, 0};
  char key[32];
  for (int u = 0; u < 20000; u++) {
    int n = snprintf(key, sizeof key, "exp:%d", u);
    count[(hash_bytes(key, (size_t)n) >> 1) % 4]++;
  }
  for (int b = 0; b < 4; b++) CHECK_MSG(abs(count[b] - 5000) < 150, "bucket %d: %d", b, count[b]);
  return check_report();
}
