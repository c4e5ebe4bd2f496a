/*
** item_count.h - how many distinct users met each item, and the items most
** users met.  No SQLite.
**
** Contract: feed (user, item) pairs in any order, repeats allowed; a pair
** seen twice counts once.  item_count_top() ranks items by their number of
** distinct users, most first, ties by smaller item id.  Memory grows with
** the number of distinct pairs: 16 bytes each while every user's pairs
** come in one run (any order of users and items within it), hash tables
** of 32-byte slots at most half full once a user comes back after another.
** Segment and popularity lists of the pipeline are this.
*/
#ifndef SEMIPERSO_ITEM_COUNT_H
#define SEMIPERSO_ITEM_COUNT_H

#include <stddef.h>
#include <stdint.h>

typedef struct ItemCount ItemCount;

/* NULL when memory is short. */
ItemCount *item_count_new(void);
void item_count_free(ItemCount *c);

/* Records that user met item.  0, or -1 when memory is short. */
int item_count_add(ItemCount *c, int64_t user, int64_t item);

/* Number of distinct items seen. */
size_t item_count_items(const ItemCount *c);

/* Writes the min(k, items) best items and their user counts, best first.
** Returns how many were written, or (size_t)-1 when memory is short. */
size_t item_count_top(const ItemCount *c, size_t k, int64_t *items, int64_t *users);

#endif
