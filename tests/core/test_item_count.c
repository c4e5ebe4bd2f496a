/* Unit tests of item_count.c against a brute-force count. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "item_count.h"
#include "rng.h"

#define USERS 40
#define ITEMS 300

int main(void) {
  /* By hand: item 10 met by users 1 and 2 (user 1 twice), item 5 by users
  ** 2 and 3, item 7 by user 3: [5,10] tie at 2 -> smaller id first. */
  ItemCount *c = item_count_new();
  int64_t pairs[][2] = {{1, 10}, {1, 10}, {2, 10}, {2, 5}, {3, 5}, {3, 7}};
  for (size_t i = 0; i < 6; i++) CHECK(item_count_add(c, pairs[i][0], pairs[i][1]) == 0);
  int64_t items[8], users[8];
  CHECK(item_count_items(c) == 3);
  CHECK(item_count_top(c, 8, items, users) == 3);
  CHECK(items[0] == 5 && users[0] == 2);
  CHECK(items[1] == 10 && users[1] == 2);
  CHECK(items[2] == 7 && users[2] == 1);
  CHECK(item_count_top(c, 1, items, users) == 1 && items[0] == 5);
  item_count_free(c);

  /* Random pairs with many repeats (forcing table growth), against a
  ** brute-force matrix of who met what. */
  static unsigned char met[USERS][ITEMS];
  int64_t truth[ITEMS] = {0};
  Rng r;
  rng_seed(&r, 7, 0);
  c = item_count_new();
  int added = 1;
  for (int i = 0; i < 20000; i++) {
    int u = (int)rng_below(&r, USERS), it = (int)rng_below(&r, ITEMS);
    /* Skewed items, so counts differ and ties are common. */
    it = it * it / ITEMS;
    if (!met[u][it]) {
      met[u][it] = 1;
      truth[it]++;
    }
    if (item_count_add(c, u - 20, (int64_t)it * 1000003)) added = 0;
  }
  CHECK(added);
  int64_t got_items[ITEMS], got_users[ITEMS];
  size_t n = item_count_top(c, ITEMS, got_items, got_users);
  size_t distinct = 0;
  for (int i = 0; i < ITEMS; i++) distinct += truth[i] > 0;
  CHECK(n == distinct);
  int ordered = 1, exact = 1;
  for (size_t i = 0; i < n; i++) {
    int64_t it = got_items[i] / 1000003;
    if (got_users[i] != truth[it]) exact = 0;
    if (i > 0 && (got_users[i] > got_users[i - 1] ||
                  (got_users[i] == got_users[i - 1] && got_items[i] < got_items[i - 1])))
      ordered = 0;
  }
  CHECK(exact);
  CHECK(ordered);
  item_count_free(c);

  /* Rows grouped by user (each user's pairs in one run, repeats inside it)
  ** take the path without a pair table; then users come back in random
  ** order, repeating pairs of their first run and adding new ones: the
  ** counts stay those of the brute-force matrix. */
  static unsigned char seen[USERS][ITEMS];
  int64_t want[ITEMS] = {0};
  c = item_count_new();
  added = 1;
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < 8000; i++) {
      int u = pass == 0 ? i * USERS / 8000 : (int)rng_below(&r, USERS);
      int it = (int)rng_below(&r, ITEMS / 3);
      it = pass == 0 ? it : (it + i % 2 * ITEMS / 3);
      if (!seen[u][it]) {
        seen[u][it] = 1;
        want[it]++;
      }
      if (item_count_add(c, u, it)) added = 0;
    }
    size_t distinct_now = 0;
    for (int i = 0; i < ITEMS; i++) distinct_now += want[i] > 0;
    n = item_count_top(c, ITEMS, got_items, got_users);
    exact = n == distinct_now;
    for (size_t i = 0; i < n; i++) exact &= got_users[i] == want[got_items[i]];
    CHECK(exact);
    /* The 10 best alone (kept in a heap) are the head of the full ranking. */
    int64_t head_items[10], head_users[10];
    CHECK(item_count_top(c, 10, head_items, head_users) == 10);
    int head = 1;
    for (int i = 0; i < 10; i++)
      head &= head_items[i] == got_items[i] && head_users[i] == got_users[i];
    CHECK(head);
  }
  CHECK(added);
  item_count_free(c);
  return check_report();
}
