/*
** wrong_cblas.c - a CBLAS with a bug, for tests/scripts/blas_select.sh:
** its sgemm is a plain triple loop that leaves out the last term of the
** inner dimension (the kind of mistake a kernel makes at a block edge);
** its sgemv is right.  The extension must refuse to load on it.
*/
#include <cblas.h>

static float at(enum CBLAS_ORDER o, const float *m, int r, int c, int ld) {
  return o == CblasRowMajor ? m[(long)r * ld + c] : m[r + (long)c * ld];
}

void cblas_sgemm(enum CBLAS_ORDER o, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m,
                 int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                 float beta, float *c, int ldc) {
  for (int i = 0; i < m; i++) {
    for (int j = 0; j < n; j++) {
      float s = 0.0f;
      for (int l = 0; l < k - 1; l++) {
        s += (ta == CblasNoTrans ? at(o, a, i, l, lda) : at(o, a, l, i, lda)) *
             (tb == CblasNoTrans ? at(o, b, l, j, ldb) : at(o, b, j, l, ldb));
      }
      float *cij = o == CblasRowMajor ? &c[(long)i * ldc + j] : &c[i + (long)j * ldc];
      *cij = alpha * s + (beta == 0.0f ? 0.0f : beta * *cij);
    }
  }
}

void cblas_sgemv(enum CBLAS_ORDER o, enum CBLAS_TRANSPOSE ta, int m, int n, float alpha,
                 const float *a, int lda, const float *x, int incx, float beta, float *y,
                 int incy) {
  int ny = ta == CblasNoTrans ? m : n, nx = ta == CblasNoTrans ? n : m;
  for (int i = 0; i < ny; i++) {
    float s = 0.0f;
    for (int l = 0; l < nx; l++) {
      s += (ta == CblasNoTrans ? at(o, a, i, l, lda) : at(o, a, l, i, lda)) * x[(long)l * incx];
    }
    float *yi = &y[(long)i * incy];
    *yi = alpha * s + (beta == 0.0f ? 0.0f : beta * *yi);
  }
}
