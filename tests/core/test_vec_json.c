/* Unit tests of vec.c and json_array.c: values worked out by hand. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "json_array.h"
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

int main(void) {
  test_vec();
  test_json_floats();
  test_json_ids();
  return check_report();
}
