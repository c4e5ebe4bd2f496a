/*
** topk.h - exact nearest items by cosine similarity.  No SQLite.
**
** Contract: items are stored as an n x d row-major matrix whose rows have
** been scaled to unit length (a zero row stays zero and scores 0).  Queries
** are scored in blocks with one sgemm per block, so memory stays bounded
** whatever nq is.  For each query the k best item indices are written best
** first; equal scores rank the smaller index first, so callers that keep
** items sorted by id get "ties by smaller id".  Selection is O(n log k).
** The ranking is that of the exact (double) dot product of the unit float
** vectors, rounded to the float score reported: float sgemm scores
** shortlist the items within their rounding bound of the k-th, and only
** those are rescored.  So items with equal reported scores rank by smaller
** index, and a query's answer does not depend on the batch it is in.
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

/* topk_cosine() by dot product instead of cosine: the k items of largest
** q . x for each query, best first, scores optional.  Items need no
** normalisation.  Reduced to cosine (Bachrach et al., RecSys 2014): each
** item gets one more coordinate sqrt(M^2 - |x|^2), M the largest item
** norm, the query a 0, so cos = q . x / (|q| M) ranks as q . x does; the
** ranking is topk_cosine()'s on those unit vectors (exact up to their
** float rounding, about 1e-7 relative), the scores q . x computed back
** from it.  Scratch: n x (d + 1) floats.  Returns 0 or -1 (memory). */
int topk_dot(const float *queries, int64_t nq, const float *items, int64_t n, int d, int k,
             int32_t *out_idx, float *out_score);

/* Rows of queries topk_cosine() scores per sgemm for n items: the block is
** bounded to a few MiB of scores.  Batch callers may feed this many
** queries at a time to keep their own memory bounded too. */
int64_t topk_block_rows(int64_t nq, int64_t n);

/* The selection step alone: the best min(k, n) of n scores, indices best
** first (ties by smaller index), scores optional.  heap_s and heap_i are
** scratch of min(k, n) entries.  O(n log k). */
void topk_select(const float *scores, int64_t n, int k, int32_t *out_idx,
                 float *out_score, float *heap_s, int32_t *heap_i);

#endif
