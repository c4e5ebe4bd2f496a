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
  return check_report();
}
