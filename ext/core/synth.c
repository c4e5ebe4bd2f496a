/* synth.c - the synthetic dataset's generative model (see synth.h). */
#include "synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "vec.h"

const char *const synth_action_names[SYNTH_N_ACTIONS] = {
    "stream", "skip", "ban", "search", "favorite", "onboarding_like"};
const char *const synth_entity_names[SYNTH_N_ENTITIES] = {
    "track", "album", "artist", "playlist"};
const char *const synth_split_names[3] = {"warm", "validation", "test"};

/* Deezer's markets first: the list is ordered by (synthetic) size. */
static const char *const country_codes[SYNTH_MAX_COUNTRIES] = {
    "FR", "BR", "DE", "US", "GB", "MX", "IT", "ES", "BE", "NL",
    "PL", "CO", "AT", "CH", "CA", "PT", "AR", "SE", "TR", "NG",
    "ZA", "EG", "MA", "SN", "CI", "RO", "IE", "DK", "NO", "AU"};

/* Age classes of sql/features.sql: <18, 18-24, 25-34, 35-49, 50+. */
#define N_AGE_CLASSES 5
static const int age_lo[N_AGE_CLASSES] = {15, 18, 25, 35, 50};
static const int age_hi[N_AGE_CLASSES] = {17, 24, 34, 49, 70};
static const double age_share[N_AGE_CLASSES] = {0.10, 0.30, 0.28, 0.20, 0.12};

/* Random streams: one per purpose; users take SYNTH_USER_STREAM + index. */
enum { S_GENRES = 1, S_CATALOG, S_POPULARITY, S_IDS, S_PLAYLISTS,
       S_DEMOGRAPHICS };
#define SYNTH_USER_STREAM (1ULL << 40)

/* Behaviour constants (shares are probabilities per user or per draw). */
#define P_NO_EVENT 0.05         /* demographics only */
#define P_STREAM 0.77           /* streams on registration day */
#define P_ONBOARDING 0.55
#define P_SEARCH 0.30
#define P_FAVORITE 0.30
#define P_NEGATIVE 0.30         /* per streamed track: a skip or ban too */
#define P_NEG_IN_TASTE 0.20     /* a negative that still hits the taste */
#define P_CHART 0.08            /* a listen from global popularity */
#define P_FAVORITE_ARTIST 0.25  /* a listen from a favorite artist */
#define P_PRIOR_GENRE 0.75      /* a taste genre drawn from the prior */
#define ZIPF_EXPONENT 0.9
#define ZIPF_OFFSET 10.0
#define MAX_TASTE 4
#define MAX_FAVORITES 4
#define MAX_LISTENS 400

struct SynthModel {
  SynthOptions o;
  int d, n_genres, n_families;
  int64_t n_tracks, n_albums, n_artists, n_playlists;
  /* Tracks in internal order: genre, then artist, then album. */
  int64_t *genre_start;      /* n_genres + 1 */
  int *genre_family;         /* n_genres */
  int64_t *artist_start;     /* n_artists + 1 (internal track ranges) */
  int32_t *track_artist;     /* internal artist of internal track */
  int32_t *track_album;      /* internal album of internal track */
  int32_t *track_genre;
  float *vec;                /* n_tracks x d, unit rows */
  double *cum;               /* cumulative popularity, internal order */
  int64_t *track_id;         /* internal -> id */
  int64_t *track_of_id;      /* id - 1 -> internal */
  int64_t *album_id, *artist_id; /* internal -> id */
  /* Playlists: ids p + 1, track ids flattened. */
  int64_t *pl_start;         /* n_playlists + 1 */
  int64_t *pl_tracks;        /* track ids */
  int64_t *genre_pl_start;   /* n_genres + 1: playlists are made genre by genre */
  /* Demographics. */
  double country_cum[SYNTH_MAX_COUNTRIES];
  double age_cum[SYNTH_MAX_COUNTRIES][N_AGE_CLASSES];
  double *prior_cum;         /* countries x classes x genres, cumulative */
};

struct SynthUserGen {
  const SynthModel *m;
  Rng r;
  uint32_t *mark;            /* n_tracks stamps for distinct draws */
  uint32_t stamp;
  int taste[MAX_TASTE];
  double taste_cum[MAX_TASTE];
  int n_taste;
  int32_t favorites[MAX_FAVORITES];
  int n_favorites;
  double niche;
  double *acc;
  float *embedding;
  SynthEvent *events;
  int n_events, cap_events;
  int64_t *listens;
  int64_t *history_tracks;   /* SYNTH_MAX_HISTORY: the draws, then distinct */
  int32_t *history_plays;    /* SYNTH_MAX_HISTORY */
};

void synth_default_options(SynthOptions *o) {
  o->tracks = 3000;
  o->warm = 3000;
  o->validation = 500;
  o->test = 1000;
  o->dim = 32;
  o->genres = 0;
  o->countries = 20;
  o->playlists = -1;
  o->seed = 0;
}

const char *synth_check_options(const SynthOptions *o) {
  if (o->tracks < SYNTH_MIN_TRACKS || o->tracks > SYNTH_MAX_TRACKS)
    return "option \"tracks\" must be between 1000 and 5000000";
  if (o->warm < 1 || o->warm > SYNTH_MAX_USERS)
    return "option \"warm\" must be between 1 and 50000000";
  if (o->validation < 0 || o->validation > SYNTH_MAX_USERS)
    return "option \"validation\" must be between 0 and 50000000";
  if (o->test < 0 || o->test > SYNTH_MAX_USERS)
    return "option \"test\" must be between 0 and 50000000";
  if (o->dim < 2 || o->dim > SYNTH_MAX_DIM)
    return "option \"dim\" must be between 2 and 4096";
  if ((long long)o->tracks * o->dim > SYNTH_MAX_CATALOG_FLOATS)
    return "options \"tracks\" x \"dim\" must not exceed 536870912 floats";
  if (o->genres != 0 && (o->genres < 2 || o->genres > SYNTH_MAX_GENRES))
    return "option \"genres\" must be between 2 and 1000";
  if (o->genres > o->tracks / 50)
    return "option \"genres\" must not exceed tracks / 50";
  if (o->countries < 1 || o->countries > SYNTH_MAX_COUNTRIES)
    return "option \"countries\" must be between 1 and 30";
  if (o->playlists < -1 || o->playlists > o->tracks)
    return "option \"playlists\" must be between 0 and the number of tracks";
  return NULL;
}

/* ---- small helpers ---------------------------------------------------- */

/* Exponential(1) draw. */
static double rng_exp(Rng *r) { return -log(1.0 - rng_uniform(r)); }

/* Index i with cum[i-1] <= x < cum[i] in [lo, hi) (cum increasing). */
static int64_t search_cum(const double *cum, int64_t lo, int64_t hi, double x) {
  while (lo < hi - 1) {
    int64_t mid = lo + (hi - lo) / 2;
    if (cum[mid - 1] <= x) lo = mid;
    else hi = mid;
  }
  return lo;
}

/* Draws from a small cumulative table of n entries. */
static int draw_small(Rng *r, const double *cum, int n) {
  double x = rng_uniform(r) * cum[n - 1];
  for (int i = 0; i < n - 1; i++)
    if (x < cum[i]) return i;
  return n - 1;
}

/* out = normalize(base + scale * g) with g a random unit direction. */
static void noisy_unit(Rng *r, const float *base, double scale, float *out,
                       int d) {
  double s2 = 0;
  for (int j = 0; j < d; j++) {
    double g = rng_normal(r);
    out[j] = (float)g;
    s2 += g * g;
  }
  double k = s2 > 0 ? scale / sqrt(s2) : 0;
  for (int j = 0; j < d; j++)
    out[j] = (float)((base ? base[j] : 0.0) + k * out[j]);
  vec_normalize(out, (size_t)d);
}

/* Popularity-weighted internal track in [lo, hi). */
static int64_t draw_in_range(const SynthModel *m, Rng *r, int64_t lo,
                             int64_t hi) {
  double a = lo ? m->cum[lo - 1] : 0.0, b = m->cum[hi - 1];
  return search_cum(m->cum, lo, hi, a + rng_uniform(r) * (b - a));
}

typedef struct {
  double score;
  int64_t i;
} Ranked;

static int by_score_desc(const void *pa, const void *pb) {
  const Ranked *a = pa, *b = pb;
  if (a->score != b->score) return a->score < b->score ? 1 : -1;
  return a->i < b->i ? -1 : a->i > b->i;
}

/* Random permutation of 1..n as ids. */
static int64_t *shuffled_ids(Rng *r, int64_t n) {
  int64_t *ids = malloc((size_t)n * sizeof *ids);
  if (!ids) return NULL;
  for (int64_t i = 0; i < n; i++) ids[i] = i + 1;
  for (int64_t i = n; i > 1; i--) {
    int64_t j = (int64_t)rng_below(r, (uint64_t)i);
    int64_t t = ids[i - 1];
    ids[i - 1] = ids[j];
    ids[j] = t;
  }
  return ids;
}

/* ---- catalog ---------------------------------------------------------- */

void synth_model_free(SynthModel *m) {
  if (!m) return;
  free(m->genre_start);
  free(m->genre_family);
  free(m->artist_start);
  free(m->track_artist);
  free(m->track_album);
  free(m->track_genre);
  free(m->vec);
  free(m->cum);
  free(m->track_id);
  free(m->track_of_id);
  free(m->album_id);
  free(m->artist_id);
  free(m->pl_start);
  free(m->pl_tracks);
  free(m->genre_pl_start);
  free(m->prior_cum);
  free(m);
}

/* Genres, artists, albums and track vectors. */
static int build_catalog(SynthModel *m) {
  const int d = m->d, G = m->n_genres;
  const int64_t T = m->n_tracks;
  Rng r;
  float *fam = malloc((size_t)m->n_families * d * sizeof *fam);
  float *cen = malloc((size_t)G * d * sizeof *cen);
  float *artist_v = malloc((size_t)d * sizeof *artist_v);
  float *album_v = malloc((size_t)d * sizeof *album_v);
  m->genre_start = malloc((size_t)(G + 1) * sizeof *m->genre_start);
  m->genre_family = malloc((size_t)G * sizeof *m->genre_family);
  m->track_artist = malloc((size_t)T * sizeof *m->track_artist);
  m->track_album = malloc((size_t)T * sizeof *m->track_album);
  m->track_genre = malloc((size_t)T * sizeof *m->track_genre);
  m->artist_start = malloc((size_t)(T + 1) * sizeof *m->artist_start);
  m->vec = malloc((size_t)T * d * sizeof *m->vec);
  int ok = fam && cen && artist_v && album_v && m->genre_start &&
           m->genre_family && m->track_artist && m->track_album &&
           m->track_genre && m->artist_start && m->vec;
  if (ok) {
    /* Genre centroids: unit vectors near their family's direction. */
    rng_seed(&r, m->o.seed, S_GENRES);
    for (int f = 0; f < m->n_families; f++)
      noisy_unit(&r, NULL, 1.0, fam + (size_t)f * d, d);
    for (int g = 0; g < G; g++) {
      int f = g % m->n_families;
      m->genre_family[g] = f;
      noisy_unit(&r, fam + (size_t)f * d, 1.1, cen + (size_t)g * d, d);
    }
    /* Catalog shares: a few big genres, a tail of small ones. */
    double wsum = 0;
    for (int g = 0; g < G; g++) wsum += 1.0 / pow(g + 2.0, 0.7);
    int64_t at = 0;
    for (int g = 0; g < G; g++) {
      m->genre_start[g] = at;
      int64_t n = (int64_t)(T * (1.0 / pow(g + 2.0, 0.7)) / wsum);
      if (n < 10) n = 10;
      at += n;
      if (at > T - 10 * (G - 1 - g)) at = T - 10 * (G - 1 - g);
    }
    m->genre_start[G] = T;
    /* Artists (1 + ~lognormal tracks) with albums (1 + ~geometric). */
    rng_seed(&r, m->o.seed, S_CATALOG);
    int64_t n_artists = 0, n_albums = 0;
    for (int g = 0; g < G; g++) {
      int64_t i = m->genre_start[g], end = m->genre_start[g + 1];
      while (i < end) {
        int64_t size = 1 + (int64_t)exp(1.6 + 0.9 * rng_normal(&r));
        if (size > end - i) size = end - i;
        noisy_unit(&r, cen + (size_t)g * d, 0.8, artist_v, d);
        m->artist_start[n_artists] = i;
        int64_t a_end = i + size;
        while (i < a_end) {
          int64_t alb = 1 + (int64_t)(rng_exp(&r) * 7.0);
          if (alb > a_end - i) alb = a_end - i;
          noisy_unit(&r, artist_v, 0.45, album_v, d);
          for (int64_t t = i; t < i + alb; t++) {
            noisy_unit(&r, album_v, 0.55, m->vec + (size_t)t * d, d);
            m->track_artist[t] = (int32_t)n_artists;
            m->track_album[t] = (int32_t)n_albums;
            m->track_genre[t] = g;
          }
          i += alb;
          n_albums++;
        }
        n_artists++;
      }
    }
    m->artist_start[n_artists] = T;
    m->n_artists = n_artists;
    m->n_albums = n_albums;
  }
  free(fam);
  free(cen);
  free(artist_v);
  free(album_v);
  return ok ? 0 : -1;
}

/* Zipf popularity from a latent artist + album + track score. */
static int build_popularity(SynthModel *m) {
  const int64_t T = m->n_tracks;
  Rng r;
  rng_seed(&r, m->o.seed, S_POPULARITY);
  Ranked *rk = malloc((size_t)T * sizeof *rk);
  double *za = malloc((size_t)m->n_artists * sizeof *za);
  double *zb = malloc((size_t)m->n_albums * sizeof *zb);
  double *w = malloc((size_t)T * sizeof *w);
  m->cum = malloc((size_t)T * sizeof *m->cum);
  int ok = rk && za && zb && w && m->cum;
  if (ok) {
    for (int64_t a = 0; a < m->n_artists; a++) za[a] = rng_normal(&r);
    for (int64_t b = 0; b < m->n_albums; b++) zb[b] = rng_normal(&r);
    for (int64_t t = 0; t < T; t++) {
      rk[t].score = 1.0 * za[m->track_artist[t]] + 0.4 * zb[m->track_album[t]] +
                    0.7 * rng_normal(&r);
      rk[t].i = t;
    }
    qsort(rk, (size_t)T, sizeof *rk, by_score_desc);
    for (int64_t k = 0; k < T; k++)
      w[rk[k].i] = 1.0 / pow((double)k + ZIPF_OFFSET, ZIPF_EXPONENT);
    double s = 0;
    for (int64_t t = 0; t < T; t++) m->cum[t] = (s += w[t]);
  }
  free(rk);
  free(za);
  free(zb);
  free(w);
  return ok ? 0 : -1;
}

/* Shuffled ids for tracks, albums and artists. */
static int build_ids(SynthModel *m) {
  Rng r;
  rng_seed(&r, m->o.seed, S_IDS);
  m->track_id = shuffled_ids(&r, m->n_tracks);
  m->album_id = shuffled_ids(&r, m->n_albums);
  m->artist_id = shuffled_ids(&r, m->n_artists);
  m->track_of_id = malloc((size_t)m->n_tracks * sizeof *m->track_of_id);
  if (!m->track_id || !m->album_id || !m->artist_id || !m->track_of_id)
    return -1;
  for (int64_t t = 0; t < m->n_tracks; t++) m->track_of_id[m->track_id[t] - 1] = t;
  return 0;
}

/* Playlists, genre by genre (count proportional to the genre's catalog),
** each 10-40 distinct tracks, a third of them from a related genre half
** of the time. */
static int build_playlists(SynthModel *m) {
  const int G = m->n_genres;
  const int64_t P = m->n_playlists;
  Rng r;
  rng_seed(&r, m->o.seed, S_PLAYLISTS);
  m->pl_start = malloc((size_t)(P + 1) * sizeof *m->pl_start);
  m->pl_tracks = malloc((size_t)(P * 40 + 1) * sizeof *m->pl_tracks);
  m->genre_pl_start = malloc((size_t)(G + 1) * sizeof *m->genre_pl_start);
  if (!m->pl_start || !m->pl_tracks || !m->genre_pl_start) return -1;
  int64_t p = 0, at = 0;
  for (int g = 0; g < G; g++) {
    m->genre_pl_start[g] = p;
    int64_t until = g == G - 1 ? P : (int64_t)((double)P * m->genre_start[g + 1] / m->n_tracks);
    int family = m->genre_family[g];
    for (; p < until; p++) {
      m->pl_start[p] = at;
      int n = 10 + (int)rng_below(&r, 31);
      int other = g;
      if (rng_uniform(&r) < 0.5) {
        /* A related genre: same family (genre index = family mod families). */
        int in_family = (G - 1 - family) / m->n_families + 1;
        other = family + m->n_families * (int)rng_below(&r, (uint64_t)in_family);
      }
      int64_t start = at;
      for (int k = 0, tries = 0; k < n && tries < 20 * n; tries++) {
        int gg = (other != g && rng_uniform(&r) < 0.33) ? other : g;
        int64_t t = draw_in_range(m, &r, m->genre_start[gg], m->genre_start[gg + 1]);
        int64_t id = m->track_id[t];
        int dup = 0;
        for (int64_t q = start; q < at; q++) dup |= m->pl_tracks[q] == id;
        if (dup) continue;
        m->pl_tracks[at++] = id;
        k++;
      }
    }
  }
  m->genre_pl_start[G] = P;
  m->pl_start[P] = at;
  return 0;
}

/* Country sizes, age classes per country and genre priors per (country,
** age class): softmax of global + country + age-class genre affinities. */
static int build_demographics(SynthModel *m) {
  const int C = m->o.countries, G = m->n_genres;
  Rng r;
  rng_seed(&r, m->o.seed, S_DEMOGRAPHICS);
  double s = 0;
  for (int c = 0; c < C; c++) m->country_cum[c] = (s += 1.0 / pow(c + 1.5, 1.2));
  for (int c = 0; c < C; c++) {
    double a = 0;
    for (int k = 0; k < N_AGE_CLASSES; k++)
      m->age_cum[c][k] = (a += age_share[k] * exp(0.25 * rng_normal(&r)));
  }
  double *base = malloc((size_t)G * sizeof *base);
  double *by_country = malloc((size_t)C * G * sizeof *by_country);
  double *by_age = malloc((size_t)N_AGE_CLASSES * G * sizeof *by_age);
  m->prior_cum = malloc((size_t)C * N_AGE_CLASSES * G * sizeof *m->prior_cum);
  int ok = base && by_country && by_age && m->prior_cum;
  if (ok) {
    for (int g = 0; g < G; g++) base[g] = 0.8 * rng_normal(&r) - 0.03 * g;
    for (int i = 0; i < C * G; i++) by_country[i] = 1.0 * rng_normal(&r);
    for (int i = 0; i < N_AGE_CLASSES * G; i++) by_age[i] = 0.9 * rng_normal(&r);
    for (int c = 0; c < C; c++)
      for (int k = 0; k < N_AGE_CLASSES; k++) {
        double *cum = m->prior_cum + ((size_t)c * N_AGE_CLASSES + k) * G, t = 0;
        for (int g = 0; g < G; g++)
          cum[g] = (t += exp(base[g] + by_country[c * G + g] + by_age[k * G + g]));
      }
  }
  free(base);
  free(by_country);
  free(by_age);
  return ok ? 0 : -1;
}

SynthModel *synth_model_new(const SynthOptions *o) {
  SynthModel *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->o = *o;
  if (m->o.genres == 0) {
    int64_t g = 8 + o->tracks / 2000;
    m->o.genres = (int)(g > 64 ? 64 : g);
  }
  if (m->o.playlists < 0) m->o.playlists = o->tracks / 20;
  m->d = o->dim;
  m->n_genres = m->o.genres;
  m->n_families = m->n_genres >= 8 ? m->n_genres / 4 : 2;
  m->n_tracks = o->tracks;
  m->n_playlists = m->o.playlists;
  if (build_catalog(m) || build_popularity(m) || build_ids(m) ||
      build_playlists(m) || build_demographics(m)) {
    synth_model_free(m);
    return NULL;
  }
  return m;
}

const SynthOptions *synth_options(const SynthModel *m) { return &m->o; }
int64_t synth_n_albums(const SynthModel *m) { return m->n_albums; }
int64_t synth_n_artists(const SynthModel *m) { return m->n_artists; }
int64_t synth_n_playlists(const SynthModel *m) { return m->n_playlists; }

void synth_track(const SynthModel *m, int64_t k, int64_t *album_id,
                 int64_t *artist_id, const float **embedding) {
  int64_t t = m->track_of_id[k];
  *album_id = m->album_id[m->track_album[t]];
  *artist_id = m->artist_id[m->track_artist[t]];
  *embedding = m->vec + (size_t)t * m->d;
}

void synth_playlist(const SynthModel *m, int64_t p, const int64_t **track_ids,
                    int *n) {
  *track_ids = m->pl_tracks + m->pl_start[p];
  *n = (int)(m->pl_start[p + 1] - m->pl_start[p]);
}

/* ---- users ------------------------------------------------------------ */

SynthUserGen *synth_user_gen_new(const SynthModel *m) {
  SynthUserGen *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->m = m;
  g->mark = calloc((size_t)m->n_tracks, sizeof *g->mark);
  g->acc = malloc((size_t)m->d * sizeof *g->acc);
  g->embedding = malloc((size_t)m->d * sizeof *g->embedding);
  g->cap_events = 256;
  g->events = malloc((size_t)g->cap_events * sizeof *g->events);
  g->listens = malloc(MAX_LISTENS * sizeof *g->listens);
  g->history_tracks = malloc(SYNTH_MAX_HISTORY * sizeof *g->history_tracks);
  g->history_plays = malloc(SYNTH_MAX_HISTORY * sizeof *g->history_plays);
  if (!g->mark || !g->acc || !g->embedding || !g->events || !g->listens ||
      !g->history_tracks || !g->history_plays) {
    synth_user_gen_free(g);
    return NULL;
  }
  return g;
}

void synth_user_gen_free(SynthUserGen *g) {
  if (!g) return;
  free(g->mark);
  free(g->acc);
  free(g->embedding);
  free(g->events);
  free(g->listens);
  free(g->history_tracks);
  free(g->history_plays);
  free(g);
}

static int in_taste(const SynthUserGen *g, int genre) {
  for (int k = 0; k < g->n_taste; k++)
    if (g->taste[k] == genre) return 1;
  return 0;
}

/* A track of range [lo, hi): by popularity, or uniform for niche picks. */
static int64_t pick(SynthUserGen *g, int64_t lo, int64_t hi) {
  if (rng_uniform(&g->r) < g->niche)
    return lo + (int64_t)rng_below(&g->r, (uint64_t)(hi - lo));
  return draw_in_range(g->m, &g->r, lo, hi);
}

static int64_t taste_track(SynthUserGen *g) {
  int genre = g->taste[draw_small(&g->r, g->taste_cum, g->n_taste)];
  return pick(g, g->m->genre_start[genre], g->m->genre_start[genre + 1]);
}

/* One listen of the user (internal track index). */
static int64_t listen(SynthUserGen *g) {
  const SynthModel *m = g->m;
  double u = rng_uniform(&g->r);
  if (u < P_CHART) return draw_in_range(m, &g->r, 0, m->n_tracks);
  if (u < P_CHART + P_FAVORITE_ARTIST) {
    int32_t a = g->favorites[rng_below(&g->r, (uint64_t)g->n_favorites)];
    return pick(g, m->artist_start[a], m->artist_start[a + 1]);
  }
  return taste_track(g);
}

/* A negative signal's track: mostly a genre outside the taste. */
static int64_t dislike(SynthUserGen *g) {
  const SynthModel *m = g->m;
  if (rng_uniform(&g->r) < P_NEG_IN_TASTE) return taste_track(g);
  int genre = 0;
  for (int tries = 0; tries < 10; tries++) {
    genre = (int)rng_below(&g->r, (uint64_t)m->n_genres);
    if (!in_taste(g, genre)) break;
  }
  return draw_in_range(m, &g->r, m->genre_start[genre], m->genre_start[genre + 1]);
}

static void add_event(SynthUserGen *g, int action, int entity, int64_t id) {
  if (g->n_events == g->cap_events) {
    int cap = g->cap_events * 2;
    SynthEvent *e = realloc(g->events, (size_t)cap * sizeof *e);
    if (!e) return; /* drop the event rather than fail: bounded in practice */
    g->events = e;
    g->cap_events = cap;
  }
  g->events[g->n_events].action = (uint8_t)action;
  g->events[g->n_events].entity = (uint8_t)entity;
  g->events[g->n_events].entity_id = id;
  g->n_events++;
}

/* An event on internal track t as the given entity (track, album, artist). */
static void track_event(SynthUserGen *g, int action, int entity, int64_t t) {
  const SynthModel *m = g->m;
  int64_t id = entity == SYNTH_TRACK ? m->track_id[t]
             : entity == SYNTH_ALBUM ? m->album_id[m->track_album[t]]
                                     : m->artist_id[m->track_artist[t]];
  add_event(g, action, entity, id);
}

/* A playlist of one of the user's genres (any playlist if it has none);
** 0 when there are no playlists. */
static int64_t taste_playlist(SynthUserGen *g) {
  const SynthModel *m = g->m;
  if (m->n_playlists == 0) return 0;
  int genre = g->taste[draw_small(&g->r, g->taste_cum, g->n_taste)];
  int64_t lo = m->genre_pl_start[genre], hi = m->genre_pl_start[genre + 1];
  if (hi == lo) return 1 + (int64_t)rng_below(&g->r, (uint64_t)m->n_playlists);
  return lo + 1 + (int64_t)rng_below(&g->r, (uint64_t)(hi - lo));
}

/* Entity by weights (track, album, artist, playlist); playlists need some. */
static int pick_entity(SynthUserGen *g, const double w[SYNTH_N_ENTITIES]) {
  double cum[SYNTH_N_ENTITIES], s = 0;
  for (int e = 0; e < SYNTH_N_ENTITIES; e++) {
    s += (e == SYNTH_PLAYLIST && g->m->n_playlists == 0) ? 0 : w[e];
    cum[e] = s;
  }
  return draw_small(&g->r, cum, SYNTH_N_ENTITIES);
}

static void positive_event(SynthUserGen *g, int action, int entity) {
  if (entity == SYNTH_PLAYLIST) add_event(g, action, entity, taste_playlist(g));
  else track_event(g, action, entity, listen(g));
}

static void registration_day(SynthUserGen *g) {
  Rng *r = &g->r;
  g->n_events = 0;
  if (rng_uniform(r) < P_NO_EVENT) return;
  if (rng_uniform(r) < P_STREAM / (1.0 - P_NO_EVENT)) {
    int n = 1 + (int)(rng_exp(r) * 6.0);
    if (n > 60) n = 60;
    for (int k = 0; k < n; k++) {
      int64_t t = listen(g);
      track_event(g, SYNTH_STREAM, SYNTH_TRACK, t);
      if (rng_uniform(r) < 0.25) track_event(g, SYNTH_STREAM, SYNTH_ALBUM, t);
      if (rng_uniform(r) < 0.20) track_event(g, SYNTH_STREAM, SYNTH_ARTIST, t);
      if (rng_uniform(r) < P_NEGATIVE) {
        static const double neg_w[SYNTH_N_ENTITIES] = {0.7, 0.15, 0.15, 0};
        int action = rng_uniform(r) < 0.8 ? SYNTH_SKIP : SYNTH_BAN;
        track_event(g, action, pick_entity(g, neg_w), dislike(g));
      }
    }
  }
  int onboarding = rng_uniform(r) < P_ONBOARDING;
  int search = rng_uniform(r) < P_SEARCH;
  int favorite = rng_uniform(r) < P_FAVORITE;
  if (g->n_events == 0 && !onboarding && !search && !favorite) {
    /* Active but not streaming: at least one other interaction. */
    if (rng_uniform(r) < 0.7) onboarding = 1;
    else search = 1;
  }
  if (onboarding) {
    int n = 3 + (int)rng_below(r, 6);
    for (int k = 0; k < n; k++) {
      int64_t t = k < g->n_favorites ? g->m->artist_start[g->favorites[k]]
                                     : taste_track(g);
      track_event(g, SYNTH_ONBOARDING_LIKE, SYNTH_ARTIST, t);
    }
  }
  if (search) {
    static const double w[SYNTH_N_ENTITIES] = {0.5, 0.15, 0.3, 0.05};
    int n = 1 + (int)rng_below(r, 3);
    for (int k = 0; k < n; k++) positive_event(g, SYNTH_SEARCH, pick_entity(g, w));
  }
  if (favorite) {
    static const double w[SYNTH_N_ENTITIES] = {0.55, 0.15, 0.15, 0.15};
    int n = 1 + (int)rng_below(r, 4);
    for (int k = 0; k < n; k++) positive_event(g, SYNTH_FAVORITE, pick_entity(g, w));
  }
}

/* 50 or more distinct future listens. */
static void future_listens(SynthUserGen *g, SynthUser *u) {
  const SynthModel *m = g->m;
  int64_t cap = m->n_tracks / 5 < MAX_LISTENS ? m->n_tracks / 5 : MAX_LISTENS;
  int n = 50 + (int)(rng_exp(&g->r) * 40.0);
  if (n > cap) n = (int)cap;
  if (++g->stamp == 0) {
    memset(g->mark, 0, (size_t)m->n_tracks * sizeof *g->mark);
    g->stamp = 1;
  }
  int k = 0;
  for (long tries = 0; k < n && tries < 30L * n; tries++) {
    int64_t t = listen(g);
    if (g->mark[t] == g->stamp) continue;
    g->mark[t] = g->stamp;
    g->listens[k++] = m->track_id[t];
  }
  /* A taste too narrow for n distinct tracks: complete from the charts,
  ** then in catalog order (always terminates: n <= tracks / 5). */
  for (long tries = 0; k < n && tries < 30L * n; tries++) {
    int64_t t = draw_in_range(m, &g->r, 0, m->n_tracks);
    if (g->mark[t] == g->stamp) continue;
    g->mark[t] = g->stamp;
    g->listens[k++] = m->track_id[t];
  }
  for (int64_t t = 0; k < n; t++) {
    if (g->mark[t] == g->stamp) continue;
    g->mark[t] = g->stamp;
    g->listens[k++] = m->track_id[t];
  }
  u->listens = g->listens;
  u->n_listens = n;
}

/* acc += v, element by element (so in any grouping the same sums): in
** fixed runs of 8 that the compiler turns into vector instructions,
** cloned for AVX-512 and AVX2 where the toolchain can dispatch at run
** time. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void accumulate(double *restrict acc, const float *restrict v, int d) {
  int body = d / 8 * 8;
  for (int j = 0; j < body; j += 8)
    for (int l = 0; l < 8; l++) acc[j + l] += v[j + l];
  for (int j = body; j < d; j++) acc[j] += v[j];
}

/* Shell sort (Ciura's gaps) in increasing order: inline comparisons, for
** the few hundred ids of a history, several times faster than qsort(). */
static void sort_ids(int64_t *a, int n) {
  static const int gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
  for (size_t gi = 0; gi < sizeof gaps / sizeof *gaps; gi++) {
    int gap = gaps[gi];
    for (int i = gap; i < n; i++) {
      int64_t x = a[i];
      int j = i;
      for (; j >= gap && a[j - gap] > x; j -= gap) a[j] = a[j - gap];
      a[j] = x;
    }
  }
}

/* Warm users: mean vector of a listening history of 60+ draws, summed in
** draw order.  The draws are kept and folded into (track id, plays) after
** the mean is taken: recording them takes no random numbers, so every
** other draw of the user is what it was before the history was exposed. */
static void warm_embedding(SynthUserGen *g, SynthUser *u) {
  const SynthModel *m = g->m;
  const int d = m->d;
  int n = 60 + (int)(rng_exp(&g->r) * 80.0);
  if (n > SYNTH_MAX_HISTORY) n = SYNTH_MAX_HISTORY;
  memset(g->acc, 0, (size_t)d * sizeof *g->acc);
  for (int k = 0; k < n; k++) {
    int64_t t = listen(g);
    accumulate(g->acc, m->vec + (size_t)t * d, d);
    g->history_tracks[k] = m->track_id[t];
  }
  for (int j = 0; j < d; j++) g->embedding[j] = (float)(g->acc[j] / n);
  sort_ids(g->history_tracks, n);
  int distinct = 0;
  for (int k = 0; k < n; k++) {
    if (distinct > 0 && g->history_tracks[distinct - 1] == g->history_tracks[k]) {
      g->history_plays[distinct - 1]++;
    } else {
      g->history_tracks[distinct] = g->history_tracks[k];
      g->history_plays[distinct++] = 1;
    }
  }
  u->embedding = g->embedding;
  u->history_tracks = g->history_tracks;
  u->history_plays = g->history_plays;
  u->n_history = distinct;
}

void synth_user(SynthUserGen *g, int64_t i, SynthUser *u) {
  const SynthModel *m = g->m;
  Rng *r = &g->r;
  rng_seed(r, m->o.seed, SYNTH_USER_STREAM + (uint64_t)i);
  memset(u, 0, sizeof *u);
  u->user_id = i + 1;
  u->split = i < m->o.warm ? SYNTH_WARM
           : i < m->o.warm + m->o.validation ? SYNTH_VALIDATION : SYNTH_TEST;
  /* Demographics. */
  int c = draw_small(r, m->country_cum, m->o.countries);
  int a = draw_small(r, m->age_cum[c], N_AGE_CLASSES);
  u->country = country_codes[c];
  u->age = age_lo[a] + (int)rng_below(r, (uint64_t)(age_hi[a] - age_lo[a] + 1));
  /* Taste: 1-4 genres, mostly from the (country, age class) prior. */
  const double *prior = m->prior_cum + ((size_t)c * N_AGE_CLASSES + a) * m->n_genres;
  static const double n_cum[MAX_TASTE] = {0.3, 0.65, 0.9, 1.0};
  int want = 1 + draw_small(r, n_cum, MAX_TASTE);
  double s = 0;
  g->n_taste = 0;
  for (int k = 0; k < want; k++) {
    int genre = rng_uniform(r) < P_PRIOR_GENRE
                    ? (int)search_cum(prior, 0, m->n_genres,
                                      rng_uniform(r) * prior[m->n_genres - 1])
                    : (int)rng_below(r, (uint64_t)m->n_genres);
    double w = rng_exp(r) + 0.05;
    if (in_taste(g, genre)) continue; /* duplicates merge into fewer genres */
    g->taste[g->n_taste] = genre;
    g->taste_cum[g->n_taste++] = (s += w);
  }
  g->niche = 0.4 * rng_uniform(r);
  /* Favorite artists: artists of popular tracks of the taste genres. */
  g->n_favorites = 2 + (int)rng_below(r, MAX_FAVORITES - 1);
  for (int k = 0; k < g->n_favorites; k++) {
    int genre = g->taste[draw_small(r, g->taste_cum, g->n_taste)];
    int64_t t = draw_in_range(m, r, m->genre_start[genre], m->genre_start[genre + 1]);
    g->favorites[k] = m->track_artist[t];
  }
  if (u->split == SYNTH_WARM) warm_embedding(g, u);
  registration_day(g);
  u->events = g->events;
  u->n_events = g->n_events;
  future_listens(g, u);
}

/* ---- blocks of users ---------------------------------------------------- */

struct SynthBlock {
  SynthUser *users;
  int64_t n_users, cap_users;
  /* The users' arrays, end to end; users[] point into them once drawn. */
  float *embeddings;
  SynthEvent *events;
  int64_t *listens, *history_tracks;
  int32_t *history_plays;
  int64_t cap_embeddings, cap_events, cap_listens, cap_history, cap_plays;
};

SynthBlock *synth_block_new(void) { return calloc(1, sizeof(SynthBlock)); }

void synth_block_free(SynthBlock *b) {
  if (!b) return;
  free(b->users);
  free(b->embeddings);
  free(b->events);
  free(b->listens);
  free(b->history_tracks);
  free(b->history_plays);
  free(b);
}

/* Makes room for need elements of size bytes in *array of capacity *cap,
** doubling; 0 or -1. */
static int reserve(void **array, int64_t *cap, int64_t need, size_t size) {
  if (need <= *cap && *array) return 0;
  int64_t c = *cap ? *cap : 1024;
  while (c < need) c *= 2;
  void *p = realloc(*array, (size_t)c * size);
  if (!p) return -1;
  *array = p;
  *cap = c;
  return 0;
}

int synth_block_draw(SynthUserGen *g, SynthBlock *b, int64_t first, int64_t count) {
  const int d = g->m->d;
  int64_t n_emb = 0, n_events = 0, n_listens = 0, n_history = 0;
  b->n_users = 0;
  if (reserve((void **)&b->users, &b->cap_users, count, sizeof *b->users)) return -1;
  /* Copy every user's arrays end to end, then point the users into them
  ** (the arrays may move while they grow). */
  for (int64_t k = 0; k < count; k++) {
    SynthUser *u = &b->users[k];
    synth_user(g, first + k, u);
    if (reserve((void **)&b->embeddings, &b->cap_embeddings, n_emb + d, sizeof *b->embeddings) ||
        reserve((void **)&b->events, &b->cap_events, n_events + u->n_events, sizeof *b->events) ||
        reserve((void **)&b->listens, &b->cap_listens, n_listens + u->n_listens, sizeof *b->listens) ||
        reserve((void **)&b->history_tracks, &b->cap_history, n_history + u->n_history,
                sizeof *b->history_tracks) ||
        reserve((void **)&b->history_plays, &b->cap_plays, n_history + u->n_history,
                sizeof *b->history_plays))
      return -1;
    /* u's pointers still point into g, non-NULL where they matter. */
    if (u->embedding) {
      memcpy(b->embeddings + n_emb, u->embedding, (size_t)d * sizeof *u->embedding);
      n_emb += d;
    }
    if (u->n_events)
      memcpy(b->events + n_events, u->events, (size_t)u->n_events * sizeof *u->events);
    memcpy(b->listens + n_listens, u->listens, (size_t)u->n_listens * sizeof *u->listens);
    if (u->n_history) {
      memcpy(b->history_tracks + n_history, u->history_tracks,
             (size_t)u->n_history * sizeof *u->history_tracks);
      memcpy(b->history_plays + n_history, u->history_plays,
             (size_t)u->n_history * sizeof *u->history_plays);
    }
    n_events += u->n_events;
    n_listens += u->n_listens;
    n_history += u->n_history;
  }
  n_emb = n_events = n_listens = n_history = 0;
  for (int64_t k = 0; k < count; k++) {
    SynthUser *u = &b->users[k];
    if (u->embedding) {
      u->embedding = b->embeddings + n_emb;
      n_emb += d;
    }
    u->events = b->events + n_events;
    u->listens = b->listens + n_listens;
    u->history_tracks = b->history_tracks + n_history;
    u->history_plays = b->history_plays + n_history;
    n_events += u->n_events;
    n_listens += u->n_listens;
    n_history += u->n_history;
  }
  b->n_users = count;
  return 0;
}

const SynthUser *synth_block_users(const SynthBlock *b, int64_t *n) {
  *n = b->n_users;
  return b->users;
}
