/* tiles.c - dense layer products split among a team in fixed tiles (see tiles.h). */
#include "tiles.h"

#include <cblas.h>
#include <stdint.h>
#include <string.h>

#include "team.h"

void tiles_share(size_t len, size_t align, int id, int n, int *lo, int *hi) {
  size_t a, b;
  team_share(len, align, id, n, &a, &b);
  *lo = (int)a;
  *hi = (int)b;
}

/* The multiple of TILES_ALIGN nearest to w t / TILES_SPLIT, so tiles (and
** the halves two threads get) are as even as the alignment allows. */
int tile_edge(int w, int t) {
  if (t >= TILES_SPLIT) return w;
  int64_t unit = (int64_t)TILES_SPLIT * TILES_ALIGN;
  int64_t e = ((int64_t)w * t + unit / 2) / unit * TILES_ALIGN;
  return e < w ? (int)e : w;
}

Tiles member_tiles(int w, int id, int n) {
  Tiles r;
  tiles_share(TILES_SPLIT, 1, id, n, &r.t0, &r.hi);
  r.t1 = r.hi;
  r.lo = tile_edge(w, r.t0);
  r.hi = tile_edge(w, r.t1);
  return r;
}

void linear_tiles(const float *in, int n, int din, const float *W, const float *b, int dout,
                  float *out, Tiles tl) {
  for (int t = tl.t0; t < tl.t1; t++) {
    int c0 = tile_edge(dout, t), nc = tile_edge(dout, t + 1) - c0;
    if (nc <= 0) continue;
    for (int i = 0; i < n; i++) {
      float *o = out + (size_t)i * dout + c0;
      if (b) memcpy(o, b + c0, (size_t)nc * sizeof(float));
      else memset(o, 0, (size_t)nc * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, nc, din, 1.0f, in, din,
                W + (size_t)c0 * din, din, 1.0f, out + c0, dout);
  }
}

void weight_grad_tiles(const float *d, int B, int dn, const float *Y, int din, float *gW,
                       Tiles tl) {
  for (int t = tl.t0; t < tl.t1; t++) {
    int r0 = tile_edge(dn, t), nr = tile_edge(dn, t + 1) - r0;
    if (nr <= 0) continue;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nr, din, B, 1.0f, d + r0, dn, Y, din,
                0.0f, gW + (size_t)r0 * din, din);
  }
}

void input_grad_tiles(const float *d, int B, int dn, const float *W, int din, float *dX,
                      Tiles tl) {
  for (int t = tl.t0; t < tl.t1; t++) {
    int c0 = tile_edge(din, t), nc = tile_edge(din, t + 1) - c0;
    if (nc <= 0) continue;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, nc, dn, 1.0f, d, dn, W + c0, din,
                0.0f, dX + c0, din);
  }
}

int tiles_default_threads(void) {
  int n = team_default_size();
  return n < TILES_SPLIT ? n : TILES_SPLIT;
}
