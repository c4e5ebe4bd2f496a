/*
** blas_threads.h - holding OpenBLAS to one thread for a while.  No SQLite.
**
** Contract: blas_threads_hold_one() sets OpenBLAS's process-wide thread
** count to one and returns the count it had; blas_threads_restore() puts
** that count back.  Used where OpenBLAS's own threads would only compete:
** while our own team of threads works (mlp.c), and around one online
** request, whose products are too small to share (sql/serve.c).
*/
#ifndef SEMIPERSO_BLAS_THREADS_H
#define SEMIPERSO_BLAS_THREADS_H

int blas_threads_hold_one(void);
void blas_threads_restore(int previous);

#endif
