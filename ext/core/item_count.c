/* item_count.c - distinct users per item, and the top items (see item_count.h). */
#include "item_count.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

/* Open addressing with linear probing; a slot is empty when used == 0.
** Keys: of the pair table (user, item); of the user table user; of the
** item table item, with b its number of distinct users and c the last
** user counted. */
typedef struct {
  int64_t a, b, c;
  uint8_t used;
} Slot;

typedef struct {
  Slot *slots;
  size_t cap, size; /* cap is a power of two */
} Table;

/* Rows usually come grouped by user (a join driven by users or segment
** members).  While every user's pairs have come in one run, a pair repeats
** only within its user's run, so an item whose last user is the current
** one was already counted: no table of pairs is needed, only the log of
** the pairs counted (sequential writes).  When a user comes back after
** another, the log becomes the pair table and every later pair is looked
** up there: the counts are the same in any order. */
struct ItemCount {
  Table items; /* (item, distinct users, last user) */
  Table users; /* users seen, while grouped */
  int grouped;
  int64_t current; /* the user of the run under way, while grouped */
  int64_t *log;    /* user, item of each pair counted, while grouped */
  size_t logged, log_cap;
  Table pairs; /* (user, item), once not grouped */
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

/* Key (a, b) (key a alone unless match_b), inserted if absent; NULL when
** memory is short.  *fresh says whether it was inserted. */
static Slot *table_insert(Table *t, int64_t a, int64_t b, int match_b, int *fresh) {
  if (table_reserve(t, match_b)) return NULL;
  Slot *s = table_find(t, a, b, match_b);
  *fresh = !s->used;
  if (*fresh) {
    *s = (Slot){a, match_b ? b : 0, 0, 1};
    t->size++;
  }
  return s;
}

ItemCount *item_count_new(void) {
  ItemCount *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->grouped = 1;
  if (table_init(&c->items, 256) || table_init(&c->users, 256)) {
    item_count_free(c);
    return NULL;
  }
  return c;
}

void item_count_free(ItemCount *c) {
  if (c == NULL) return;
  free(c->items.slots);
  free(c->users.slots);
  free(c->log);
  free(c->pairs.slots);
  free(c);
}

/* A user came back: the pairs logged so far become the pair table. */
static int leave_grouped(ItemCount *c) {
  if (table_init(&c->pairs, 1024)) return -1;
  int fresh;
  for (size_t i = 0; i < c->logged; i++) {
    if (table_insert(&c->pairs, c->log[2 * i], c->log[2 * i + 1], 1, &fresh) == NULL) {
      free(c->pairs.slots); /* still grouped: the next pair tries again */
      c->pairs.slots = NULL;
      return -1;
    }
  }
  free(c->log);
  c->log = NULL;
  free(c->users.slots);
  c->users.slots = NULL;
  c->grouped = 0;
  return 0;
}

/* Whether (user, item) is new, recording it; -1 when memory is short. */
static int first_meeting(ItemCount *c, int64_t user, int64_t item) {
  int fresh;
  if (c->grouped && (c->users.size == 0 || user != c->current)) {
    if (table_insert(&c->users, user, 0, 0, &fresh) == NULL) return -1;
    if (fresh)
      c->current = user;
    else if (leave_grouped(c))
      return -1;
  }
  if (!c->grouped) {
    if (table_insert(&c->pairs, user, item, 1, &fresh) == NULL) return -1;
    return fresh;
  }
  const Slot *s = table_find(&c->items, item, 0, 0);
  if (s->used && s->c == user) return 0;
  if (c->logged == c->log_cap) {
    size_t cap = c->log_cap ? 2 * c->log_cap : 1024;
    int64_t *grown = realloc(c->log, 2 * cap * sizeof *grown);
    if (grown == NULL) return -1;
    c->log = grown;
    c->log_cap = cap;
  }
  c->log[2 * c->logged] = user;
  c->log[2 * c->logged + 1] = item;
  c->logged++;
  return 1;
}

int item_count_add(ItemCount *c, int64_t user, int64_t item) {
  int first = first_meeting(c, user, item), fresh;
  if (first <= 0) return first;
  Slot *s = table_insert(&c->items, item, 0, 0, &fresh);
  if (s == NULL) return -1;
  s->b++;
  s->c = user;
  return 0;
}

size_t item_count_items(const ItemCount *c) { return c->items.size; }

static int by_users_then_id(const void *x, const void *y) {
  const Slot *a = x, *b = y;
  if (a->b != b->b) return a->b > b->b ? -1 : 1;
  return (a->a > b->a) - (a->a < b->a);
}

/* Restores the heap below i: the worst of h[0 .. m) (the last in the
** ranking) at the root. */
static void sift_down(Slot *h, size_t m, size_t i) {
  for (;;) {
    size_t w = i, l = 2 * i + 1, r = l + 1;
    if (l < m && by_users_then_id(&h[l], &h[w]) > 0) w = l;
    if (r < m && by_users_then_id(&h[r], &h[w]) > 0) w = r;
    if (w == i) return;
    Slot t = h[i];
    h[i] = h[w];
    h[w] = t;
    i = w;
  }
}

/* The m best items are kept in a heap as they come (a segment's list is
** 100 of thousands of items: no sort of them all), then sorted. */
size_t item_count_top(const ItemCount *c, size_t k, int64_t *items, int64_t *users) {
  size_t n = c->items.size, m = k < n ? k : n;
  Slot *best = malloc((m ? m : 1) * sizeof *best);
  if (best == NULL) return (size_t)-1;
  size_t j = 0;
  for (size_t i = 0; i < c->items.cap && m > 0; i++) {
    const Slot *s = &c->items.slots[i];
    if (!s->used) continue;
    if (j < m) {
      best[j++] = *s;
      if (j == m)
        for (size_t p = m / 2; p-- > 0;) sift_down(best, m, p);
    } else if (by_users_then_id(s, &best[0]) < 0) {
      best[0] = *s;
      sift_down(best, m, 0);
    }
  }
  qsort(best, m, sizeof *best, by_users_then_id);
  for (size_t i = 0; i < m; i++) {
    items[i] = best[i].a;
    users[i] = best[i].b;
  }
  free(best);
  return m;
}
