/* Unit tests of vec.c and json_array.c: values worked out by hand. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json_array.h"
#include "rng.h"
#include "vec.h"

static void test_vec(void) {
  float a[] = {3, 4}, b[] = {4, -3}, c[] = {-6, -8}, z[] = {0, 0};
  CHECK_NEAR(vec_dot(a, b, 2), 0.0, 0);
  CHECK_NEAR(vec_norm(a, 2), 5.0, 1e-12);
  CHECK_NEAR(vec_distance_l2(a, b, 2), sqrt(1.0 + 49.0), 1e-12);
  CHECK_NEAR(vec_distance_cosine(a, b, 2), 1.0, 1e-12);  /* orthogonal */
  CHECK_NEAR(vec_distance_cosine(a, c, 2), 2.0, 1e-12);  /* opposite */
  CHECK_NEAR(vec_distance_cosine(a, a, 2), 0.0, 1e-12);
  CHECK_NEAR(vec_distance_cosine(a, z, 2), 1.0, 0);      /* zero vector */
  float n[] = {3, 4};
  CHECK_NEAR(vec_normalize(n, 2), 5.0, 1e-12);
  CHECK(n[0] == 0.6f && n[1] == 0.8f);
  CHECK_NEAR(vec_normalize(z, 2), 0.0, 0);
  CHECK(z[0] == 0 && z[1] == 0);
  float bad[] = {1, NAN};
  CHECK(vec_all_finite(a, 2) == 1);
  CHECK(vec_all_finite(bad, 2) == 0);
  bad[1] = INFINITY;
  CHECK(vec_all_finite(bad, 2) == 0);
}

static int floats(const char *s, float *out, size_t cap, size_t *n, const char **err) {
  return json_array_floats(s, strlen(s), out, cap, n, err);
}

static void test_json_floats(void) {
  float v[8];
  size_t n;
  const char *err = NULL;
  CHECK(floats(" [1, -2.5 ,3e2,.5, 5.,+1]\n", v, 8, &n, &err) == 0);
  CHECK(n == 6);
  CHECK(v[0] == 1 && v[1] == -2.5f && v[2] == 300 && v[3] == 0.5f && v[4] == 5 && v[5] == 1);
  CHECK(floats("[]", v, 8, &n, &err) == 0 && n == 0);
  CHECK(floats("[1,2,3]", NULL, 0, &n, &err) == 0 && n == 3); /* counting pass */
  const char *bad[] = {"", "1", "[1,]", "[,1]", "[1 2]", "[1]x", "[\"1\"]", "[[1]]",
                       "{}", "[1e]", "[-]", "[1", "[1e39]", "[nan]", "[.]"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    err = NULL;
    int rc = floats(bad[i], v, 8, &n, &err);
    CHECK(rc != 0 && err != NULL);
    if (rc == 0) printf("  accepted bad input %s\n", bad[i]);
  }
}

static void test_json_ids(void) {
  int64_t ids[4];
  size_t n;
  const char *err = NULL;
  const char *s = "[9007199254740993, -1, 0]"; /* 2^53 + 1: no double round trip */
  CHECK(json_array_ids(s, strlen(s), ids, 4, &n, &err) == 0);
  CHECK(n == 3 && ids[0] == 9007199254740993LL && ids[1] == -1 && ids[2] == 0);
  s = "[1.5]";
  CHECK(json_array_ids(s, strlen(s), ids, 4, &n, &err) != 0);
  s = "[1e3]";
  CHECK(json_array_ids(s, strlen(s), ids, 4, &n, &err) != 0);
  s = "[99999999999999999999]";
  CHECK(json_array_ids(s, strlen(s), ids, 4, &n, &err) != 0);
}

/* json_array_ids on one element against strtoll, the reference: the same
** value, or an error exactly where strtoll reports ERANGE. */
static int id_matches_strtoll(const char *number) {
  char text[64];
  snprintf(text, sizeof text, "[ %s ]", number);
  int64_t id = 0;
  size_t n = 0;
  const char *err = NULL;
  int rc = json_array_ids(text, strlen(text), &id, 1, &n, &err);
  errno = 0;
  long long ref = strtoll(number, NULL, 10);
  if (errno == ERANGE) return rc != 0 && err != NULL && strstr(err, "64-bit") != NULL;
  return rc == 0 && n == 1 && id == ref;
}

static void test_json_ids_range(void) {
  const char *edge[] = {"0", "-0", "+0", "+5", "-1", "007", "-007",
                        "9223372036854775807", "9223372036854775808",
                        "-9223372036854775808", "-9223372036854775809",
                        "+9223372036854775807", "18446744073709551615",
                        "18446744073709551616", "99999999999999999999",
                        "000000000000000000000000000009223372036854775807",
                        "-00000000000000000000000000009223372036854775808",
                        "922337203685477580", "9223372036854775799"};
  for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
    int ok = id_matches_strtoll(edge[i]);
    CHECK(ok);
    if (!ok) printf("  id %s differs from strtoll\n", edge[i]);
  }
  /* Random signs, leading zeros and lengths around the 19-20 digits where
  ** int64 ends. */
  Rng r;
  rng_seed(&r, 5, 3);
  int bad = 0;
  for (int t = 0; t < 20000; t++) {
    char num[40];
    int len = 0, digits = 1 + (int)rng_below(&r, 22);
    uint64_t sign = rng_below(&r, 3);
    if (sign) num[len++] = sign == 1 ? '-' : '+';
    for (int j = 0; j < digits; j++)
      num[len++] = (char)('0' + (j == 0 && rng_below(&r, 4) ? 9 : rng_below(&r, 10)));
    num[len] = 0;
    bad += !id_matches_strtoll(num);
  }
  CHECK_MSG(bad == 0, "%d random ids read differently from strtoll", bad);
  /* Whitespace between elements; malformed arrays fail in both passes. */
  int64_t ids[4];
  size_t n;
  const char *err = NULL, *s = " \t[\n-3 ,\r+4,5\t]\n ";
  CHECK(json_array_ids(s, strlen(s), ids, 4, &n, &err) == 0);
  CHECK(n == 3 && ids[0] == -3 && ids[1] == 4 && ids[2] == 5);
  const char *bad_arrays[] = {"[1,]", "[--1]", "[1 2]", "[- 1]", "[1]]", "[0x10]"};
  for (size_t i = 0; i < sizeof bad_arrays / sizeof *bad_arrays; i++) {
    const char *b = bad_arrays[i];
    CHECK(json_array_ids(b, strlen(b), NULL, 0, &n, &err) != 0);
    CHECK(json_array_ids(b, strlen(b), ids, 4, &n, &err) != 0);
  }
}

int main(void) {
  test_vec();
  test_json_floats();
  test_json_ids();
  test_json_ids_range();
  return check_report();
}
