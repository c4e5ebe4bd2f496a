/* test_synth_history.c - warm users' listening history: the embedding is
** the plays-weighted mean of the listened tracks' vectors, recomputed here
** from the catalog; histories are deterministic per user. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "synth.h"

int main(void) {
  SynthOptions o;
  synth_default_options(&o);
  o.tracks = 2000;
  o.warm = 300;
  o.validation = 20;
  o.test = 20;
  o.dim = 16;
  o.seed = 8;
  SynthModel *m = synth_model_new(&o);
  CHECK(m != NULL);
  if (!m) return check_report();
  SynthUserGen *g = synth_user_gen_new(m), *h = synth_user_gen_new(m);
  CHECK(g && h);
  if (!g || !h) return check_report();

  int shape_ok = 1, cold_empty = 1, same = 1;
  double worst = 0;
  int64_t draws_min = 1 << 30, draws_max = 0, repeats = 0;
  for (int64_t i = 0; i < o.warm + o.validation + o.test; i++) {
    SynthUser u, v;
    synth_user(g, i, &u);
    if (u.split != SYNTH_WARM) {
      cold_empty &= u.n_history == 0 && u.history_tracks == NULL;
      continue;
    }
    /* Distinct ids in increasing order, plays >= 1. */
    int64_t draws = 0;
    double acc[16] = {0};
    for (int k = 0; k < u.n_history; k++) {
      shape_ok &= u.history_tracks[k] >= 1 && u.history_tracks[k] <= o.tracks;
      shape_ok &= k == 0 || u.history_tracks[k] > u.history_tracks[k - 1];
      shape_ok &= u.history_plays[k] >= 1;
      draws += u.history_plays[k];
      repeats += u.history_plays[k] > 1;
      int64_t album, artist;
      const float *vec;
      synth_track(m, u.history_tracks[k] - 1, &album, &artist, &vec);
      for (int j = 0; j < 16; j++) acc[j] += (double)u.history_plays[k] * vec[j];
    }
    shape_ok &= u.n_history >= 1 && draws >= 60 && draws <= SYNTH_MAX_HISTORY;
    if (draws < draws_min) draws_min = draws;
    if (draws > draws_max) draws_max = draws;
    for (int j = 0; j < 16; j++) {
      double e = fabs(acc[j] / (double)draws - u.embedding[j]);
      if (e > worst) worst = e;
    }
    /* Another generator (after other users) gives the same history. */
    synth_user(h, (i * 7) % (o.warm + o.validation + o.test), &v);
    synth_user(h, i, &v);
    same &= v.n_history == u.n_history &&
            memcmp(v.history_tracks, u.history_tracks, (size_t)u.n_history * 8) == 0 &&
            memcmp(v.history_plays, u.history_plays, (size_t)u.n_history * 4) == 0;
  }
  CHECK(shape_ok);
  CHECK(cold_empty);
  CHECK(same);
  CHECK_MSG(worst < 1e-6, "embedding differs from the history's mean by %g", worst);
  /* Histories vary in length and repeat tracks (play counts above 1). */
  CHECK(draws_min < 100 && draws_max > 200 && repeats > 0);

  synth_user_gen_free(g);
  synth_user_gen_free(h);
  synth_model_free(m);
  return check_report();
}
