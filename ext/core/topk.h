/*
** topk.h - exact nearest items by cosine similarity or inner product.
** No SQLite.
**
** Contract: items are stored as an n x d row-major matrix.  For cosine
** (topk_cosine) its rows have been scaled to unit length (a zero row stays
** zero and scores 0) and the queries are normalised; for the inner product
** (topk_dot, the reference code's ranking of Full-Pers. and Registration
** Day Streams) items and queries are used as they are.  Queries
** are split among a team of team_default_size() threads (team.h) when
** there are several and a million scores or more, each member scoring its
** share in blocks with one sgemm per block, so memory stays bounded
** whatever nq is; a block of one query (an online request) in one pass
** over the items of our own instead.  For each query the k best item indices are written best
** first; equal scores rank the smaller index first, so callers that keep
** items sorted by id get "ties by smaller id".  Selection is O(n log k).
** The ranking is that of the exact (double) dot product of the float
** vectors scored (the unit ones for cosine), rounded to the float score
** reported: float scores shortlist the items within their rounding
** bound of the k-th (gamma_d |q| max|x|, so for raw vectors it needs a
** bound on the item norms), and only those are rescored.  So items with
** equal reported scores rank by smaller index, and a query's answer does
** not depend on the batch it is in.
*/
#ifndef SEMIPERSO_TOPK_H
#define SEMIPERSO_TOPK_H

#include <stdint.h>

/* Scales each of the n rows of m (n x d) to unit length in place. */
void topk_normalize_rows(float *m, int64_t n, int d);

/* For each of the nq queries (nq x d, any length; a zero query scores 0
** everywhere), writes min(k, n) item indices into out_idx[q * k + r] and
** their cosine similarities into out_score (may be NULL).  k >= 1.
** Returns 0, or -1 when scratch memory cannot be allocated. */
int topk_cosine(const float *queries, int64_t nq, const float *items,
                int64_t n, int d, int k, int32_t *out_idx, float *out_score);

/* The same for the raw inner product q.x_i: items as stored, queries as
** given (a zero query scores 0 everywhere).  item_norm_max must be at
** least the largest item norm (topk_max_norm() of the same items; callers
** keeping the items compute it once); it bounds sgemm's rounding so that
** the ranking stays exact. */
int topk_dot(const float *queries, int64_t nq, const float *items, int64_t n, int d,
             double item_norm_max, int k, int32_t *out_idx, float *out_score);

/* The largest Euclidean norm of the n rows of items (0 when n = 0). */
double topk_max_norm(const float *items, int64_t n, int d);

/* Rows of queries topk_cosine() and topk_dot() score per sgemm for n items: the block is
** bounded to a few MiB of scores.  Batch callers may feed this many
** queries at a time to keep their own memory bounded too. */
int64_t topk_block_rows(int64_t nq, int64_t n);

/* The selection step alone: the best min(k, n) of n scores, indices best
** first (ties by smaller index), scores optional.  heap_s and heap_i are
** scratch of min(k, n) entries.  O(n log k). */
void topk_select(const float *scores, int64_t n, int k, int32_t *out_idx,
                 float *out_score, float *heap_s, int32_t *heap_i);

#endif
