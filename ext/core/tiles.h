/*
** tiles.h - dense layer products split among a thread team in fixed tiles,
** so that a training pass gives bit-identical results for any thread
** count.  Plain C11 + CBLAS; no SQLite here.
**
** Contract: every product is cut into TILES_SPLIT fixed tiles of output
** columns (forward, input gradients) or weight-gradient rows, whatever the
** team size, and each tile is one sgemm call; a member takes a contiguous
** run of tiles (member_tiles).  Every float is thus computed by the same
** calls and operations in the same order for any number of threads (an
** sgemm's rounding may depend on the shape of the call, not on who calls
** it).  Each sgemm runs on the member that calls it (blas.h: the BLAS
** does not thread its calls), so the team is the only source of
** parallelism.  Matrices are row-major; weights are out x in.
*/
#ifndef SEMIPERSO_TILES_H
#define SEMIPERSO_TILES_H

#include <stddef.h>

#include "team.h"

#define TILES_SPLIT 4 /* results depend on it: keep it fixed */
#define TILES_ALIGN 8 /* floats: 32-byte tile edges */

/* A member's run of tiles [t0, t1) of a width, and their columns [lo, hi). */
typedef struct {
  int t0, t1, lo, hi;
} Tiles;

/* Start column of tile t (0..TILES_SPLIT) of a width w: the multiple of
** TILES_ALIGN nearest to w t / TILES_SPLIT. */
int tile_edge(int w, int t);

/* Member id's (of n) run of tiles of a width w. */
Tiles member_tiles(int w, int id, int n);

/* team_share() with int bounds, for lengths that fit an int. */
void tiles_share(size_t len, size_t align, int id, int n, int *lo, int *hi);

/* The member's columns of out (n x dout) = in (n x din) W^T + b (b may be
** NULL: no bias). */
void linear_tiles(const float *in, int n, int din, const float *W, const float *b, int dout,
                  float *out, Tiles tl);

/* The member's rows of gW (dn x din) = d^T (B x dn) Y (B x din). */
void weight_grad_tiles(const float *d, int B, int dn, const float *Y, int din, float *gW,
                       Tiles tl);

/* The member's columns of dX (B x din) = d (B x dn) W (dn x din). */
void input_grad_tiles(const float *d, int B, int dn, const float *W, int din, float *dX,
                      Tiles tl);

/* The team size blas.h advises, up to the tile count (more would only
** wait at the barriers while the products run). */
int tiles_default_threads(void);

#endif
