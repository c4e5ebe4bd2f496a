/*
** topk.h - exact nearest items by cosine similarity.  No SQLite.
**
** Contract: items are stored as an n x d row-major matrix whose rows have
** been scaled to unit length (a zero row stays zero and scores 0).  Queries
** are scored in blocks with one sgemm per block, so memory stays bounded
** whatever nq is.  For each query the k best item indices are written best
** first; equal scores rank the smaller index first, so callers that keep
** items sorted by id get "ties by smaller id".  Selection is O(n log k).
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

#endif
