/*
** bench_als.c - UT-ALS at the paper's scale: the warm users' listening
** histories of the synthetic dataset (70 000 users x 50 000 tracks, weight
** = plays), d = 256, 15 iterations, 3 CG steps, next to this machine's
** sgemm rate measured in the same run.
**
**   make build/bench_als build/sgemm_rate
**   build/bench_als [dim iterations cg_steps threads sgemm_rate_program warm_users]
*/
#include <stdint.h>

#include "als.h"
#include "bench_util.h"
#include "hash.h"
#include "synth.h"

static int progress(void *arg, int it, double loss) {
  (void)arg;
  printf("  iteration %2d  loss %.6e  %.3f s\n", it, loss, lap());
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  AlsOptions o;
  als_default_options(&o);
  if (argc > 1) o.dim = atoi(argv[1]);
  if (argc > 2) o.iterations = atoi(argv[2]);
  if (argc > 3) o.cg_steps = atoi(argv[3]);
  if (argc > 4) o.threads = atoi(argv[4]);
  int64_t warm = argc > 6 ? atoll(argv[6]) : 0; /* fewer warm users, for profiling */
  const char *rate_program = argc > 5 ? argv[5] : "build/sgemm_rate";
  if (als_check_options(&o)) {
    fprintf(stderr, "%s\n", als_check_options(&o));
    return 1;
  }
  double rate = print_machine(rate_program);

  /* The warm users' histories as (user, track, plays) triplets. */
  double t = bench_now();
  SynthOptions so;
  paper_options(&so);
  if (warm > 0 && warm < so.warm) so.warm = warm;
  SynthModel *m = synth_model_new(&so);
  SynthUserGen *g = m ? synth_user_gen_new(m) : NULL;
  int64_t cap = so.warm * 200, n = 0;
  int32_t *user = malloc((size_t)cap * sizeof *user), *item = malloc((size_t)cap * sizeof *item);
  float *plays = malloc((size_t)cap * sizeof *plays);
  if (!g || !user || !item || !plays) return 1;
  for (int64_t u = 0; u < so.warm; u++) {
    SynthUser su;
    synth_user(g, u, &su);
    if (n + su.n_history > cap) {
      cap *= 2;
      user = realloc(user, (size_t)cap * sizeof *user);
      item = realloc(item, (size_t)cap * sizeof *item);
      plays = realloc(plays, (size_t)cap * sizeof *plays);
      if (!user || !item || !plays) return 1;
    }
    for (int k = 0; k < su.n_history; k++, n++) {
      user[n] = (int32_t)u;
      item[n] = (int32_t)(su.history_tracks[k] - 1);
      plays[n] = (float)su.history_plays[k];
    }
  }
  synth_user_gen_free(g);
  synth_model_free(m);
  double t_gen = bench_now() - t;
  t = bench_now();
  SparseMatrix r;
  if (sparse_from_coo((int32_t)so.warm, (int32_t)so.tracks, n, user, item, plays, &r)) return 1;
  free(user);
  free(item);
  free(plays);
  double t_csr = bench_now() - t;
  printf("listens: %lld (user, track) pairs, %lld users x %lld tracks; generated in %.2f s, "
         "CSR in %.2f s\n", (long long)r.nnz, (long long)so.warm, (long long)so.tracks, t_gen,
         t_csr);

  float *x = malloc((size_t)r.rows * o.dim * sizeof *x);
  float *y = malloc((size_t)r.cols * o.dim * sizeof *y);
  if (!x || !y) return 1;
  als_init(&o, r.rows, r.cols, x, y);
  o.progress = progress;
  printf("ALS: dim %d, %d iterations, %d CG steps, alpha %g, regularization %g\n", o.dim,
         o.iterations, o.cg_steps, o.alpha, o.regularization);
  AlsResult res;
  t = bench_now();
  lap_start();
  double cpu = cpu_seconds();
  int rc = als_fit(&r, &o, x, y, &res);
  double secs = bench_now() - t;
  cpu = cpu_seconds() - cpu;
  if (rc != ALS_OK) return 1;
  print_result(secs, cpu, res.flops, rate);
  /* The factors are bit-identical whatever the thread count or solving
  ** order (als.h): equal checksums across builds say a change kept them. */
  printf("factors checksum: users %016llx, items %016llx, loss %.17g\n",
         (unsigned long long)hash_bytes(x, (size_t)r.rows * o.dim * sizeof *x),
         (unsigned long long)hash_bytes(y, (size_t)r.cols * o.dim * sizeof *y), res.loss);
  free(x);
  free(y);
  sparse_free(&r);
  return 0;
}
