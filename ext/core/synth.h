/*
** synth.h - the synthetic Deezer-shaped dataset: a generative model of a
** music catalog and of users' registration-day events and first-month
** listens.  No SQLite here; ext/sql/synth.c inserts what this produces.
**
** Contract: everything is a pure function of (options, seed).  The catalog
** is drawn once (synth_model_new); each user is drawn from its own random
** stream keyed by its index, so user i is the same whatever order or
** subset of users a caller asks for.
**
** The model, in short:
**  - genres: centroids in R^d (unit), grouped into families of related
**    genres; artists, albums and tracks are noisy copies nested below them;
**    every track vector is unit length.  Track ids are shuffled so that ids
**    carry no structure.
**  - popularity: a latent score (artist + album + track effects) ranked
**    into Zipf weights 1 / (rank + 10)^0.9: a long tail.
**  - playlists: mostly one genre, often mixed with a related genre of the
**    same family; tracks drawn by popularity.
**  - users: a country (skewed sizes) and an age class (country-dependent)
**    set a genre prior; a user's taste is a mixture of 1-4 genres drawn
**    mostly from that prior, plus favorite artists and a personal appetite
**    for niche (non-popular) tracks.  A listen is a chart track (global
**    popularity), a favorite artist's track, or a taste genre's track, by
**    popularity unless niche.
**  - warm users' embedding = mean vector of a history of such listens
**    (60 + ~Exp(80) draws, at most SYNTH_MAX_HISTORY, repeats allowed): the
**    history is exposed as (track id, plays) pairs, so embedding =
**    sum(plays * track vector) / sum(plays) up to float rounding.
**  - registration day: ~5 % no event, ~77 % stream; onboarding artist likes,
**    searches and favorites follow taste; skips and bans (~12 % of events)
**    mostly hit genres outside the taste.
**  - future listens: 50 or more distinct tracks drawn from the same taste.
*/
#ifndef SEMIPERSO_SYNTH_H
#define SEMIPERSO_SYNTH_H

#include <stdint.h>

typedef struct {
  int64_t tracks;      /* catalog size */
  int64_t warm;        /* users with a known embedding */
  int64_t validation;  /* cold users */
  int64_t test;        /* cold users */
  int dim;             /* latent dimension d */
  int genres;          /* 0 = automatic: 8 + tracks / 2000, at most 64 */
  int countries;       /* number of countries, 1..SYNTH_MAX_COUNTRIES */
  int64_t playlists;   /* -1 = automatic: tracks / 20 */
  uint64_t seed;
} SynthOptions;

#define SYNTH_MAX_COUNTRIES 30
#define SYNTH_MIN_TRACKS 1000
#define SYNTH_MAX_TRACKS 5000000
#define SYNTH_MAX_USERS 50000000
#define SYNTH_MAX_DIM 4096
#define SYNTH_MAX_GENRES 1000
#define SYNTH_MAX_HISTORY 1000 /* listens drawn for one warm user, at most */
/* tracks * dim bound: the catalog's vectors stay under 2 GiB. */
#define SYNTH_MAX_CATALOG_FLOATS (512LL * 1024 * 1024)

/* The demo-scale defaults: 3000 tracks, 3000 / 500 / 1000 users, d = 32,
** 20 countries, automatic genres and playlists, seed 0. */
void synth_default_options(SynthOptions *o);

/* NULL when o is usable, else a static message naming the bad option,
** e.g. "option \"dim\" must be between 2 and 4096". */
const char *synth_check_options(const SynthOptions *o);

enum { SYNTH_STREAM, SYNTH_SKIP, SYNTH_BAN, SYNTH_SEARCH, SYNTH_FAVORITE,
       SYNTH_ONBOARDING_LIKE, SYNTH_N_ACTIONS };
enum { SYNTH_TRACK, SYNTH_ALBUM, SYNTH_ARTIST, SYNTH_PLAYLIST,
       SYNTH_N_ENTITIES };
extern const char *const synth_action_names[SYNTH_N_ACTIONS];
extern const char *const synth_entity_names[SYNTH_N_ENTITIES];

typedef struct {
  uint8_t action;   /* SYNTH_STREAM ... */
  uint8_t entity;   /* SYNTH_TRACK ... */
  int64_t entity_id;
} SynthEvent;

enum { SYNTH_WARM, SYNTH_VALIDATION, SYNTH_TEST };
extern const char *const synth_split_names[3];

typedef struct {
  int64_t user_id;          /* index + 1 */
  int split;                /* SYNTH_WARM ... (warm first, then validation, test) */
  const char *country;      /* two-letter code */
  int age;                  /* 15..70 */
  const float *embedding;   /* dim floats for warm users, NULL otherwise */
  const SynthEvent *events; /* registration day */
  int n_events;
  const int64_t *listens;   /* distinct track ids, days 1..30 */
  int n_listens;
  /* Warm users' listening history before registration, the draws their
  ** embedding is the mean of: n_history distinct track ids in increasing
  ** order, each with its play count (>= 1).  Empty for cold users. */
  const int64_t *history_tracks;
  const int32_t *history_plays;
  int n_history;
} SynthUser;

typedef struct SynthModel SynthModel;
typedef struct SynthUserGen SynthUserGen;

/* Draws the catalog.  NULL when memory runs out.  o must have passed
** synth_check_options. */
SynthModel *synth_model_new(const SynthOptions *o);
void synth_model_free(SynthModel *m);

const SynthOptions *synth_options(const SynthModel *m); /* automatic values resolved */
int64_t synth_n_albums(const SynthModel *m);
int64_t synth_n_artists(const SynthModel *m);
int64_t synth_n_playlists(const SynthModel *m);

/* The track with id k + 1 (k in [0, tracks)): ids in increasing order. */
void synth_track(const SynthModel *m, int64_t k, int64_t *album_id,
                 int64_t *artist_id, const float **embedding);

/* Playlist id p + 1: its n track ids (distinct). */
void synth_playlist(const SynthModel *m, int64_t p, const int64_t **track_ids,
                    int *n);

/* Scratch for drawing users; one per thread.  NULL when out of memory. */
SynthUserGen *synth_user_gen_new(const SynthModel *m);
void synth_user_gen_free(SynthUserGen *g);

/* Draws user index i in [0, warm + validation + test) into *u, whose
** pointers stay valid until the next call on g. */
void synth_user(SynthUserGen *g, int64_t i, SynthUser *u);

/* A run of consecutive users copied into storage of its own, so that one
** thread can read a block while another draws the next. */
typedef struct SynthBlock SynthBlock;

SynthBlock *synth_block_new(void); /* empty; NULL when out of memory */
void synth_block_free(SynthBlock *b);

/* Draws users [first, first + count) with g into b, replacing what b held.
** 0, or -1 when memory runs out (b is then empty). */
int synth_block_draw(SynthUserGen *g, SynthBlock *b, int64_t first, int64_t count);

/* The users of b, in index order; *n of them.  Valid until b is drawn
** into again or freed. */
const SynthUser *synth_block_users(const SynthBlock *b, int64_t *n);

#endif
