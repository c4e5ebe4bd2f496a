/*
** row_order.h - an order of the rows and of the columns of a sparse
** matrix in which neighbours share many entries.  No SQLite.
**
** Why: an ALS half-iteration (als.c) solves every row on its own, reading
** the other side's vector of each of the row's entries from a matrix far
** larger than the cache.  Rows solved one after the other that share
** entries find those vectors still in cache.  The order changes which row
** comes when, never a row's own arithmetic, so results do not depend on it.
**
** How: a 3-dimensional spectral embedding of the bipartite graph of the
** stored entries (binary weights): ROW_ORDER_POWER_STEPS steps of subspace
** iteration with D_r^-1/2 M D_c^-1/2 (D the degrees) from a fixed start,
** dropping the leading (degree) direction, rescaled by D^-1/2.  Rows then
** go cell by cell through an 8 x 8 x 8 grid of the coordinates' quantiles,
** in snake order (neighbouring cells are neighbours in space), by the last
** coordinate within a cell.  Columns likewise.
**
** Contract: row_order(m, mt, rows, cols, should_stop, arg) fills rows
** (m->rows) and cols (m->cols) with permutations of 0 .. n-1, a pure
** function of the sparsity pattern of m (mt is its transpose, sparse.h);
** values are not read.  should_stop (optional) is polled before every
** pass over the entries; nonzero stops.  Returns 0, -1 when memory runs
** out, -2 when stopped (rows and cols then unspecified).
** Cost: O(nnz) a step, single-threaded, plus sorting.
*/
#ifndef SEMIPERSO_ROW_ORDER_H
#define SEMIPERSO_ROW_ORDER_H

#include <stdint.h>

#include "sparse.h"

#define ROW_ORDER_POWER_STEPS 3

int row_order(const SparseMatrix *m, const SparseMatrix *mt, int32_t *rows, int32_t *cols,
              int (*should_stop)(void *arg), void *arg);

#endif
