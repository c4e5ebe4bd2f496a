/*
** bench_pmi_svd.c - TT-SVD at the paper's scale: the synthetic dataset's
** playlists (50 000 tracks), co-occurrence counts, shifted positive PMI and
** a rank-128 randomized SVD, next to this machine's sgemm rate measured in
** the same run.
**
**   make build/bench_pmi_svd build/sgemm_rate
**   build/bench_pmi_svd [dim oversampling power_iterations threads sgemm_rate_program]
*/
#include <stdint.h>

#include "bench_util.h"
#include "pmi_svd.h"
#include "rsvd.h"
#include "synth.h"

static int progress(void *arg, int pass, int passes) {
  (void)arg;
  printf("  pass %2d/%d  %.3f s\n", pass, passes, lap());
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  PmiSvdOptions o;
  pmi_svd_default_options(&o);
  if (argc > 1) o.dim = atoi(argv[1]);
  if (argc > 2) o.oversampling = atoi(argv[2]);
  if (argc > 3) o.power_iterations = atoi(argv[3]);
  if (argc > 4) o.threads = atoi(argv[4]);
  const char *rate_program = argc > 5 ? argv[5] : "build/sgemm_rate";
  if (pmi_svd_check_options(&o)) {
    fprintf(stderr, "%s\n", pmi_svd_check_options(&o));
    return 1;
  }
  double rate = print_machine(rate_program);

  double t = bench_now();
  SynthOptions so;
  paper_options(&so);
  SynthModel *m = synth_model_new(&so);
  if (!m) return 1;
  int64_t n = 0, cap = 0;
  for (int64_t p = 0; p < synth_n_playlists(m); p++) {
    const int64_t *ids;
    int k;
    synth_playlist(m, p, &ids, &k);
    cap += k;
  }
  int32_t *coll = malloc((size_t)cap * sizeof *coll), *item = malloc((size_t)cap * sizeof *item);
  if (!coll || !item) return 1;
  for (int64_t p = 0; p < synth_n_playlists(m); p++) {
    const int64_t *ids;
    int k;
    synth_playlist(m, p, &ids, &k);
    for (int q = 0; q < k; q++, n++) {
      coll[n] = (int32_t)p;
      item[n] = (int32_t)(ids[q] - 1);
    }
  }
  SparseMatrix a;
  if (sparse_from_coo((int32_t)synth_n_playlists(m), (int32_t)so.tracks, n, coll, item, NULL,
                      &a))
    return 1;
  free(coll);
  free(item);
  int64_t in_playlists = 0;
  SparseMatrix at;
  if (sparse_transpose(&a, &at)) return 1;
  for (int32_t i = 0; i < at.rows; i++) in_playlists += at.start[i + 1] > at.start[i];
  sparse_free(&at);
  printf("playlists: %lld, (playlist, track) pairs %lld, tracks in a playlist %lld of %lld; "
         "generated in %.2f s\n", (long long)synth_n_playlists(m), (long long)a.nnz,
         (long long)in_playlists, (long long)so.tracks, bench_now() - t);
  synth_model_free(m);

  float *vectors = malloc((size_t)a.cols * o.dim * sizeof *vectors);
  float *sigma = malloc((size_t)o.dim * sizeof *sigma);
  if (!vectors || !sigma) return 1;
  printf("PMI-SVD: dim %d, oversampling %d, %d power iterations, shift %g, power %g\n", o.dim,
         o.oversampling, o.power_iterations, o.shift, o.power);
  o.progress = progress;
  PmiSvdResult res;
  t = bench_now();
  lap_start();
  double cpu = cpu_seconds();
  int rc = pmi_svd_fit(&a, &o, vectors, sigma, &res);
  double secs = bench_now() - t;
  cpu = cpu_seconds() - cpu;
  if (rc != PMI_SVD_OK) return 1;
  printf("co-occurring pairs %lld, positive PMI entries %lld; sigma_1 %.4g, sigma_%d %.4g\n",
         (long long)res.cooccurrences, (long long)res.pmi_entries, sigma[0], o.dim,
         sigma[o.dim - 1]);
  print_result(secs, cpu, res.flops, rate);
  free(vectors);
  free(sigma);
  sparse_free(&a);
  return 0;
}
