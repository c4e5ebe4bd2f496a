/* item_count.c - distinct users per item, and the top items (see item_count.h). */
#include "item_count.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

/* Open addressing with linear probing; a slot is empty when used == 0.
** Keys of the pair table are (user, item); of the item table (item, count). */
typedef struct {
  int64_t a, b;
  uint8_t used;
} Slot;

typedef struct {
  Slot *slots;
  size_t cap, size; /* cap is a power of two */
} Table;

struct ItemCount {
  Table pairs; /* (user, item) */
  Table items; /* (item, distinct users) */
};

static int table_init(Table *t, size_t cap) {
  t->slots = calloc(cap, sizeof *t->slots);
  t->cap = cap;
  t->size = 0;
  return t->slots ? 0 : -1;
}

/* The slot holding key (a, b) when match_b, else key a alone; or the empty
** slot where it belongs. */
static Slot *table_find(const Table *t, int64_t a, int64_t b, int match_b) {
  uint64_t h = match_b
                   ? hash_mix64((uint64_t)a * 0x9E3779B97F4A7C15ULL ^ hash_mix64((uint64_t)b))
                   : hash_mix64((uint64_t)a);
  size_t mask = t->cap - 1;
  for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    Slot *s = &t->slots[i];
    if (!s->used || (s->a == a && (!match_b || s->b == b))) return s;
  }
}

/* Doubles the table when it would pass half full. */
static int table_reserve(Table *t, int match_b) {
  if (2 * (t->size + 1) <= t->cap) return 0;
  Table bigger;
  if (table_init(&bigger, t->cap * 2)) return -1;
  for (size_t i = 0; i < t->cap; i++) {
    if (t->slots[i].used) {
      *table_find(&bigger, t->slots[i].a, t->slots[i].b, match_b) = t->slots[i];
    }
  }
  bigger.size = t->size;
  free(t->slots);
  *t = bigger;
  return 0;
}

ItemCount *item_count_new(void) {
  ItemCount *c = malloc(sizeof *c);
  if (c == NULL) return NULL;
  if (table_init(&c->pairs, 1024)) {
    free(c);
    return NULL;
  }
  if (table_init(&c->items, 256)) {
    free(c->pairs.slots);
    free(c);
    return NULL;
  }
  return c;
}

void item_count_free(ItemCount *c) {
  if (c == NULL) return;
  free(c->pairs.slots);
  free(c->items.slots);
  free(c);
}

int item_count_add(ItemCount *c, int64_t user, int64_t item) {
  if (table_reserve(&c->pairs, 1)) return -1;
  Slot *p = table_find(&c->pairs, user, item, 1);
  if (p->used) return 0; /* this user already met this item */
  p->a = user;
  p->b = item;
  p->used = 1;
  c->pairs.size++;
  if (table_reserve(&c->items, 0)) return -1;
  Slot *s = table_find(&c->items, item, 0, 0);
  if (!s->used) {
    s->a = item;
    s->b = 0;
    s->used = 1;
    c->items.size++;
  }
  s->b++;
  return 0;
}

size_t item_count_items(const ItemCount *c) { return c->items.size; }

static int by_users_then_id(const void *x, const void *y) {
  const Slot *a = x, *b = y;
  if (a->b != b->b) return a->b > b->b ? -1 : 1;
  return (a->a > b->a) - (a->a < b->a);
}

size_t item_count_top(const ItemCount *c, size_t k, int64_t *items, int64_t *users) {
  size_t n = c->items.size;
  Slot *all = malloc((n ? n : 1) * sizeof *all);
  if (all == NULL) return (size_t)-1;
  size_t j = 0;
  for (size_t i = 0; i < c->items.cap; i++) {
    if (c->items.slots[i].used) all[j++] = c->items.slots[i];
  }
  qsort(all, n, sizeof *all, by_users_then_id);
  size_t m = k < n ? k : n;
  for (size_t i = 0; i < m; i++) {
    items[i] = all[i].a;
    users[i] = all[i].b;
  }
  free(all);
  return m;
}
