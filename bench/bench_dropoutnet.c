/*
** bench_dropoutnet.c - DropoutNet training at the paper's scale (70 000
** warm users, 50 000 tracks, d = 128, user content = the 2579-float input
** features restricted to positive interactions: 1805 floats) with the
** default options (dropoutnet.h), next to this machine's own sgemm rate
** measured in the same run; then the inference a recommendation needs
** (item vectors of the catalog, user vectors of 10 000 cold users, their
** top 50 by dot product).  Synthetic inputs (bench_common.h).
**
**   make build/bench_dropoutnet && build/bench_dropoutnet [users items epochs threads]
**     epochs 0 (default) = the default schedule.
*/
#include "bench_common.h"
#include "dropoutnet.h"
#include "topk.h"

#define DIM 128
#define COLD 10000

int main(int argc, char **argv) {
  BenchRun run = bench_start(argc, argv);
  int64_t users = run.users, items = run.items;
  int threads = run.threads;
  BenchData b;
  bench_data(&b, users, items, DIM, 1);

  DropoutNetOptions o;
  dropoutnet_default_options(&o);
  if (run.epochs > 0) o.epochs = run.epochs;
  o.threads = threads;
  printf("users %lld, items %lld, d %d, content %d; hidden %d,%d -> %d; %d epochs, batch %d users "
         "x (%d of top %d each + %d random) items\n",
         (long long)users, (long long)items, DIM, b.width, o.hidden[0], o.hidden[1], o.output_dim,
         o.epochs, o.batch_users, o.top_per_user, o.top_items, o.random_items);
  DropoutNetData data = {users, b.user_pref, b.features, items, b.item_pref, DIM, b.width};
  TrainCallbacks cb = {NULL, bench_on_epoch, NULL};
  DropoutNet m;
  TrainReport rep;
  double t0 = bench_now();
  int rc = dropoutnet_train(&data, &o, &cb, &m, &rep);
  if (bench_training_report(&run, rc, &rep, bench_now() - t0, &b)) return 1;

  /* Serving: the catalog's item vectors, cold user vectors (no preference
  ** vector), top 50 by dot product. */
  int64_t cold = users < COLD ? users : COLD;
  int r = o.output_dim;
  float *V = malloc((size_t)items * r * sizeof(float)), *U = malloc((size_t)cold * r * sizeof(float));
  int32_t *idx = malloc((size_t)cold * 50 * sizeof(int32_t));
  if (!V || !U || !idx) return 1;
  double t1 = bench_now();
  dropoutnet_item_vectors(&m, b.item_pref, items, threads, V);
  double t2 = bench_now();
  dropoutnet_user_vectors(&m, NULL, b.features, cold, threads, U);
  double t3 = bench_now();
  topk_dot(U, cold, V, items, r, topk_max_norm(V, items, r), 50, idx, NULL);
  double t4 = bench_now();
  printf("serving: item vectors %.2f s, %lld cold user vectors %.2f s, top 50 by dot %.2f s\n",
         t2 - t1, (long long)cold, t3 - t2, t4 - t3);
  bench_print_load("after");
  free(V);
  free(U);
  free(idx);
  dropoutnet_free(&m);
  bench_data_free(&b);
  return 0;
}
