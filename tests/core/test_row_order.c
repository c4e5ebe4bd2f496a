/* test_row_order.c - the locality order of rows and columns: permutations,
** a pure function of the pattern, and planted communities of users and
** items (ids shuffled) come out in contiguous runs. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rng.h"
#include "row_order.h"

static int is_permutation(const int32_t *order, int32_t n) {
  char *seen = calloc((size_t)n + 1, 1);
  int ok = seen != NULL;
  for (int32_t p = 0; ok && p < n; p++) {
    ok = order[p] >= 0 && order[p] < n && !seen[order[p]];
    if (ok) seen[order[p]] = 1;
  }
  free(seen);
  return ok;
}

/* How often the community changes from one position of order to the next. */
static int switches(const int32_t *order, int32_t n, const int *community) {
  int s = 0;
  for (int32_t p = 1; p < n; p++) s += community[order[p]] != community[order[p - 1]];
  return s;
}

static int always(void *arg) {
  (void)arg;
  return 1;
}

enum { COMMUNITIES = 4, USERS = 240, ITEMS = 160 };

int main(void) {
  /* Users and items in 4 communities, ids shuffled: a user listens to
  ** items of its community with probability 0.25, to others with 0.01. */
  int user_community[USERS], item_community[ITEMS];
  uint32_t perm_u[USERS], perm_i[ITEMS];
  Rng g;
  rng_seed(&g, 7, 3);
  for (uint32_t k = 0; k < USERS; k++) perm_u[k] = k;
  for (uint32_t k = 0; k < ITEMS; k++) perm_i[k] = k;
  rng_shuffle(&g, perm_u, USERS);
  rng_shuffle(&g, perm_i, ITEMS);
  for (int k = 0; k < USERS; k++) user_community[perm_u[k]] = k * COMMUNITIES / USERS;
  for (int k = 0; k < ITEMS; k++) item_community[perm_i[k]] = k * COMMUNITIES / ITEMS;
  int32_t *ru = malloc(sizeof(int32_t) * USERS * ITEMS), *ri = malloc(sizeof(int32_t) * USERS * ITEMS);
  float *rw = malloc(sizeof(float) * USERS * ITEMS);
  int64_t n = 0;
  for (int u = 0; u < USERS; u++)
    for (int i = 0; i < ITEMS; i++)
      if (rng_uniform(&g) < (user_community[u] == item_community[i] ? 0.25 : 0.01)) {
        ru[n] = u;
        ri[n] = i;
        rw[n++] = (float)(1 + rng_below(&g, 5));
      }
  SparseMatrix m, mt;
  CHECK(sparse_from_coo(USERS, ITEMS, n, ru, ri, rw, &m) == SPARSE_OK);
  CHECK(sparse_transpose(&m, &mt) == SPARSE_OK);

  int32_t rows[USERS], cols[ITEMS];
  CHECK(row_order(&m, &mt, rows, cols, NULL, NULL) == 0);
  CHECK(is_permutation(rows, USERS) && is_permutation(cols, ITEMS));
  /* Index order changes community about 3 times in 4; the locality order
  ** seldom (a community may span several grid cells with another's cells
  ** in between: 3 to 18 switches of 240 over eight seeds). */
  int su = switches(rows, USERS, user_community), si = switches(cols, ITEMS, item_community);
  int32_t index_order[USERS];
  for (int32_t k = 0; k < USERS; k++) index_order[k] = k;
  CHECK_MSG(switches(index_order, USERS, user_community) > USERS / 2,
            "index order: %d switches", switches(index_order, USERS, user_community));
  CHECK_MSG(su <= USERS / 8 && si <= ITEMS / 8,
            "community switches along the order: users %d, items %d", su, si);

  /* A pure function of the pattern: the weights are not read. */
  for (int64_t k = 0; k < m.nnz; k++) m.val[k] = 1000.0f - m.val[k];
  int32_t rows2[USERS], cols2[ITEMS];
  CHECK(row_order(&m, &mt, rows2, cols2, NULL, NULL) == 0);
  CHECK(memcmp(rows, rows2, sizeof rows) == 0 && memcmp(cols, cols2, sizeof cols) == 0);

  /* should_stop is heard. */
  CHECK(row_order(&m, &mt, rows2, cols2, always, NULL) == -2);

  /* Empty rows and columns, and an empty matrix, still give permutations. */
  SparseMatrix e, et;
  int32_t er[3] = {0, 0, 2}, ec[3] = {1, 3, 1};
  CHECK(sparse_from_coo(4, 5, 3, er, ec, NULL, &e) == SPARSE_OK);
  CHECK(sparse_transpose(&e, &et) == SPARSE_OK);
  int32_t erows[4], ecols[5];
  CHECK(row_order(&e, &et, erows, ecols, NULL, NULL) == 0);
  CHECK(is_permutation(erows, 4) && is_permutation(ecols, 5));
  sparse_free(&e);
  sparse_free(&et);
  CHECK(sparse_from_coo(3, 2, 0, NULL, NULL, NULL, &e) == SPARSE_OK);
  CHECK(sparse_transpose(&e, &et) == SPARSE_OK);
  CHECK(row_order(&e, &et, erows, ecols, NULL, NULL) == 0);
  CHECK(is_permutation(erows, 3) && is_permutation(ecols, 2));
  sparse_free(&e);
  sparse_free(&et);

  sparse_free(&m);
  sparse_free(&mt);
  free(ru);
  free(ri);
  free(rw);
  return check_report();
}
