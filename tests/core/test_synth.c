/* test_synth.c - the generator's model without SQLite: options checks,
** determinism per user, unit track vectors, the contract on listens. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "synth.h"
#include "vec.h"

static SynthOptions small(uint64_t seed) {
  SynthOptions o;
  synth_default_options(&o);
  o.tracks = 1500;
  o.warm = 40;
  o.validation = 10;
  o.test = 10;
  o.dim = 8;
  o.seed = seed;
  return o;
}

int main(void) {
  SynthOptions o = small(3);
  CHECK(synth_check_options(&o) == NULL);
  o.dim = 1;
  CHECK(synth_check_options(&o) != NULL && strstr(synth_check_options(&o), "\"dim\""));
  o = small(3);
  o.tracks = 999;
  CHECK(synth_check_options(&o) != NULL && strstr(synth_check_options(&o), "\"tracks\""));
  o = small(3);
  o.genres = 31; /* more than tracks / 50 */
  CHECK(synth_check_options(&o) != NULL);

  o = small(3);
  SynthModel *a = synth_model_new(&o), *b = synth_model_new(&o);
  SynthOptions o2 = small(4);
  SynthModel *c = synth_model_new(&o2);
  CHECK(a && b && c);
  if (!a || !b || !c) return check_report();
  CHECK(synth_options(a)->genres == 8 && synth_options(a)->playlists == 75);

  /* Tracks: unit length, ids of albums and artists within range. */
  int unit = 1, ranged = 1, same_catalog = 1, other_catalog = 0;
  for (int64_t k = 0; k < o.tracks; k++) {
    int64_t al, ar, al2, ar2;
    const float *v, *w;
    synth_track(a, k, &al, &ar, &v);
    synth_track(b, k, &al2, &ar2, &w);
    unit &= fabs(vec_norm(v, 8) - 1.0) < 1e-5;
    ranged &= al >= 1 && al <= synth_n_albums(a) && ar >= 1 && ar <= synth_n_artists(a);
    same_catalog &= al == al2 && ar == ar2 && memcmp(v, w, 8 * sizeof *v) == 0;
    synth_track(c, k, &al2, &ar2, &w);
    other_catalog |= memcmp(v, w, 8 * sizeof *v) != 0;
  }
  CHECK(unit);
  CHECK(ranged);
  CHECK(same_catalog);
  CHECK(other_catalog);

  /* Playlists: 10-40 distinct valid tracks. */
  int pl_ok = 1;
  for (int64_t p = 0; p < synth_n_playlists(a); p++) {
    const int64_t *ids;
    int n;
    synth_playlist(a, p, &ids, &n);
    pl_ok &= n >= 10 && n <= 40;
    for (int i = 0; i < n; i++) {
      pl_ok &= ids[i] >= 1 && ids[i] <= o.tracks;
      for (int j = 0; j < i; j++) pl_ok &= ids[i] != ids[j];
    }
  }
  CHECK(pl_ok);

  /* Users: the same index gives the same user whatever came before. */
  SynthUserGen *g = synth_user_gen_new(a), *h = synth_user_gen_new(b);
  CHECK(g && h);
  if (g && h) {
    SynthUser u, v;
    synth_user(g, 5, &u);
    synth_user(g, 6, &u);
    synth_user(h, 6, &v);
    CHECK(u.user_id == 7 && u.split == SYNTH_WARM && u.embedding != NULL);
    CHECK(u.n_events == v.n_events && u.n_listens == v.n_listens && u.age == v.age);
    CHECK(u.n_listens == v.n_listens &&
          memcmp(u.listens, v.listens, (size_t)u.n_listens * sizeof *u.listens) == 0);
    CHECK(memcmp(u.embedding, v.embedding, 8 * sizeof(float)) == 0);
    synth_user(g, 45, &u);
    CHECK(u.split == SYNTH_VALIDATION && u.embedding == NULL);
    synth_user(g, 55, &u);
    CHECK(u.split == SYNTH_TEST);
    /* Listens: >= 50, distinct, valid ids; warm vectors are means of unit
    ** vectors (norm <= 1, not zero). */
    int listens_ok = 1, norms_ok = 1;
    for (int64_t i = 0; i < 60; i++) {
      synth_user(g, i, &u);
      listens_ok &= u.n_listens >= 50;
      char *seen = calloc((size_t)o.tracks + 1, 1);
      for (int k = 0; k < u.n_listens && seen; k++) {
        listens_ok &= u.listens[k] >= 1 && u.listens[k] <= o.tracks && !seen[u.listens[k]];
        seen[u.listens[k]] = 1;
      }
      free(seen);
      if (u.embedding) {
        double nrm = vec_norm(u.embedding, 8);
        norms_ok &= nrm > 0.05 && nrm <= 1.0 + 1e-6;
      }
      for (int e = 0; e < u.n_events; e++)
        listens_ok &= u.events[e].action < SYNTH_N_ACTIONS && u.events[e].entity < SYNTH_N_ENTITIES;
    }
    CHECK(listens_ok);
    CHECK(norms_ok);
  }
  synth_user_gen_free(g);
  synth_user_gen_free(h);
  synth_model_free(a);
  synth_model_free(b);
  synth_model_free(c);
  return check_report();
}
