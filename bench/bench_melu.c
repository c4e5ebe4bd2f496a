/*
** bench_melu.c - MeLU training at the paper's scale (70 000 warm users,
** 50 000 tracks, d = 128, the 2579-float input features as 20 fields and 19
** scalars, about 13 registration-day events a user) with the default
** options (melu.h), next to this machine's own sgemm rate measured in the
** same run; then serving: the local update and the top 50 of all 50 000
** tracks for 1000 cold users.  Synthetic inputs (bench_common.h).
**
**   make build/bench_melu && build/bench_melu [users items epochs threads]
**     epochs 0 (default) = the default schedule.
*/
#include "bench_common.h"
#include "melu.h"

#define DIM 128
#define COLD 1000

int main(int argc, char **argv) {
  BenchRun run = bench_start(argc, argv);
  int64_t users = run.users, items = run.items;
  double rate = run.rate;
  BenchData b;
  bench_data(&b, users, items, DIM, 0);
  /* Support sets: 1 to 25 events a user (13 on average), 88 % positive,
  ** each a track (the entity vectors of albums or artists would cost the
  ** same). */
  int64_t *off = malloc(((size_t)users + 1) * sizeof(int64_t));
  int32_t *ent = malloc((size_t)users * 25 * sizeof(int32_t));
  float *lab = malloc((size_t)users * 25 * sizeof(float));
  if (!off || !ent || !lab) return 1;
  Rng r;
  rng_seed(&r, 2, 2);
  off[0] = 0;
  for (int64_t u = 0; u < users; u++) {
    int n = 1 + (int)rng_below(&r, 25);
    for (int j = 0; j < n; j++) {
      ent[off[u] + j] = (int32_t)rng_below(&r, (uint64_t)items);
      lab[off[u] + j] = rng_uniform(&r) < 0.88 ? 1.0f : 0.0f;
    }
    off[u + 1] = off[u] + n;
  }
  MeluOptions o;
  melu_default_options(&o);
  if (run.epochs > 0) o.epochs = run.epochs;
  o.threads = run.threads;
  printf("users %lld, items %lld, d %d, features %d; embeddings %d, hidden %d,%d; %d epochs, batch "
         "%d users, query %d + %d, %.0f sampled negative(s) per support positive\n",
         (long long)users, (long long)items, DIM, b.width, o.embed_dim, o.hidden[0], o.hidden[1],
         o.epochs, o.batch_users, o.query_positives, o.query_negatives, o.support_negatives);
  MeluUsers us = {users, b.features, b.user_pref, {off, ent, lab, b.item_pref, items}, NULL};
  MeluCatalog cat = {FEATURE_GROUPS, DIM, FEATURE_SCALARS, DIM, items, b.item_pref, NULL};
  TrainCallbacks cb = {NULL, bench_on_epoch, NULL};
  Melu m;
  TrainReport rep;
  double t0 = bench_now();
  int rc = melu_train(&us, &cat, &o, &cb, &m, &rep);
  if (bench_training_report(&run, rc, &rep, bench_now() - t0, &b)) return 1;

  int64_t cold = users < COLD ? users : COLD;
  int32_t *idx = malloc((size_t)cold * 50 * sizeof(int32_t));
  if (!idx) return 1;
  MeluUsers cu = us;
  cu.n_users = cold;
  double t1 = bench_now();
  rc = melu_recommend(&m, &cu, &cat, &o, 50, idx, NULL, NULL);
  double ts = bench_now() - t1;
  /* Scoring products per user and track: the item embedding's share of
  ** the first layer, then every later layer. */
  double per_track = 2.0 * o.embed_dim * o.hidden[0];
  for (int l = 1; l < o.n_hidden; l++) per_track += 2.0 * o.hidden[l - 1] * o.hidden[l];
  per_track += 2.0 * o.hidden[o.n_hidden - 1];
  double gf = per_track * (double)items * cold / 1e9;
  printf("serving %lld cold users (top 50 of %lld tracks): %.2f s = %.1f ms a user, %.0f GFLOP -> "
         "%.1f GFLOP/s = %.2f of sgemm rate (rc %d)\n",
         (long long)cold, (long long)items, ts, 1e3 * ts / cold, gf, gf / ts, gf / ts / rate, rc);
  bench_print_load("after");
  free(idx);
  free(off);
  free(ent);
  free(lab);
  melu_free(&m);
  bench_data_free(&b);
  return 0;
}
