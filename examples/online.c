/*
** online.c - serve ONE new user online, as the paper's production service
** does: what the user did on registration day goes in, their
** semi-personalized top tracks come out (plus the fully personalized list,
** for comparison).  Read-only: it writes nothing and takes no write lock,
** so any number of servers can run it at once on one file.
**
**   cc -Wall -Wextra -std=c11 -o online examples/online.c -lsqlite3
**   ./online [-k N] EXTENSION DATABASE [COUNTRY AGE [ACTION:ENTITY:ID ...]]
**
**   ./online ./semiperso music.db FR 27 stream:track:123 onboarding_like:artist:45
**
** EXTENSION is the path of semiperso.so (the suffix may be left out);
** DATABASE a database on which sql/pipeline.sql has run (it holds the
** trained embedder 'user_embedder', the segmentation 'warm_users', the
** table segment_top_tracks and the feature helper tables), or a serving
** bundle written from one by export_bundle().  It is opened read-only.
** COUNTRY and AGE may be "-" when unknown.  Each event is
** action:entity:id, e.g. stream:track:123, skip:album:7,
** onboarding_like:artist:45, search:playlist:3 (the (action, entity) pairs
** of sql/features.sql).  With no COUNTRY, a built-in example user is
** served.  -k N: length of both lists (default 10).
**
** How the user is served:
**   1. The events become a JSON array (built by SQLite's json functions,
**      so any text is escaped right).  Each (action, entity) pair must be
**      a feature group: the model would ignore any other, so it is refused
**      here; an entity without a vector still counts (a warning).
**   2. user_input_features() computes the input vector from country, age
**      and events: the very function sql/features.sql builds the training
**      features with, so online and offline features are the same bits.
**   3. recommend_cold_user() embeds the user (embed_user), puts the vector
**      in the nearest warm user segment (assign_segment) and returns that
**      segment's precomputed top tracks: semi-personalized, the default;
**      with '{"method": "full"}' the tracks nearest the vector instead.
**      One prepared statement per list, rows (rank, track_id, score,
**      segment_id).
**
** Output, one line per track:
**   semi  RANK  track ID  listeners N   (warm users of the segment who
**                                         listened; 0 = Popularity padding)
**   full  RANK  track ID  cosine S
** Errors go to stderr, with exit status 1 (2 for bad arguments).
*/
#define _POSIX_C_SOURCE 200809L /* getopt */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#define SEGMENTATION "warm_users"
#define DEFAULT_K 10
#define MAX_K 10000

/* The example user served when no COUNTRY is given. */
static const char *const example_user[] = {
    "FR", "27", "onboarding_like:artist:1", "onboarding_like:artist:2",
    "stream:track:1", "stream:track:2", "stream:album:1", "skip:track:3",
    "search:artist:1"};

static int usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [-k N] EXTENSION DATABASE [COUNTRY AGE "
          "[ACTION:ENTITY:ID ...]]\n"
          "  e.g. %s ./semiperso music.db FR 27 stream:track:123 "
          "onboarding_like:artist:45\n",
          argv0, argv0);
  return 2;
}

/* Reports the failure of `what` with SQLite's message for db. */
static int db_error(sqlite3 *db, const char *what) {
  fprintf(stderr, "online: %s: %s\n", what, sqlite3_errmsg(db));
  return 1;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st) {
  if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
    return db_error(db, "preparing a statement");
  return 0;
}

/* Parses a whole decimal integer within [lo, hi]. */
static int parse_int(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* One registration-day event, "action:entity:id", split. */
typedef struct {
  const char *arg; /* as given */
  char action[32], entity[32];
  long id;
} Event;

static int parse_event(const char *arg, Event *ev) {
  const char *c1 = strchr(arg, ':');
  const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
  if (!c2) return -1;
  size_t n1 = (size_t)(c1 - arg), n2 = (size_t)(c2 - c1 - 1);
  if (n1 == 0 || n2 == 0 || n1 >= sizeof ev->action || n2 >= sizeof ev->entity)
    return -1;
  memcpy(ev->action, arg, n1);
  ev->action[n1] = '\0';
  memcpy(ev->entity, c1 + 1, n2);
  ev->entity[n2] = '\0';
  ev->arg = arg;
  return parse_int(c2 + 1, 0, 2147483647L, &ev->id);
}

/* The database must hold what serving reads (sql/pipeline.sql builds it;
** a bundle of export_bundle() holds it too). */
static int check_prepared(sqlite3 *db) {
  static const char *const needed[] = {
      "feature_groups", "feature_entity_vectors", "segment_top_tracks",
      "semiperso_models", "semiperso_segmentations", "semiperso_segments"};
  sqlite3_stmt *st = NULL;
  if (prepare(db,
              "SELECT 1 FROM sqlite_schema WHERE name = ?1 "
              "AND type IN ('table', 'view')",
              &st))
    return 1;
  for (size_t i = 0; i < sizeof needed / sizeof *needed; i++) {
    if (sqlite3_bind_text(st, 1, needed[i], -1, SQLITE_STATIC) != SQLITE_OK) {
      sqlite3_finalize(st);
      return db_error(db, "binding");
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      db_error(db, "reading the schema");
      sqlite3_finalize(st);
      return 1;
    }
    if (rc == SQLITE_DONE) {
      fprintf(stderr,
              "online: the database has no %s: build it first, from the "
              "project directory:\n  sqlite3 DATABASE '.load ./semiperso' "
              "'.read sql/pipeline.sql'\n",
              needed[i]);
      sqlite3_finalize(st);
      return 1;
    }
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return 0;
}

/* Binds country (NULL: unknown) and age (has_age 0: unknown) to ?1, ?2. */
static int bind_user(sqlite3_stmt *st, const char *country, long age, int has_age) {
  return (country ? sqlite3_bind_text(st, 1, country, -1, SQLITE_STATIC)
                  : sqlite3_bind_null(st, 1)) != SQLITE_OK ||
         (has_age ? sqlite3_bind_int64(st, 2, age) : sqlite3_bind_null(st, 2)) != SQLITE_OK;
}

/* Step 1: the events as a JSON array (*json, sqlite3_malloc'd), each
** checked to be a feature. */
static int events_json(sqlite3 *db, int n_events, const Event *events, char **json) {
  sqlite3_stmt *append = NULL, *check = NULL;
  int failed = 1;
  *json = sqlite3_mprintf("[]");
  if (*json == NULL) {
    fprintf(stderr, "online: out of memory\n");
    return 1;
  }
  if (prepare(db, "SELECT json_insert(?1, '$[#]', json_array(?2, ?3, ?4))", &append) ||
      prepare(db,
              "SELECT EXISTS (SELECT 1 FROM feature_entity_vectors AS v"
              "               WHERE v.entity = ?2 AND v.entity_id = ?3)"
              "  FROM feature_groups WHERE action = ?1 AND entity = ?2",
              &check))
    goto done;
  for (int i = 0; i < n_events; i++) {
    const Event *ev = &events[i];
    /* An (action, entity) pair that is no feature would be silently
    ** ignored by the model: refuse it.  An entity without a vector still
    ** counts in the event counts: only warn. */
    if (sqlite3_reset(check) != SQLITE_OK ||
        sqlite3_bind_text(check, 1, ev->action, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(check, 2, ev->entity, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(check, 3, ev->id) != SQLITE_OK) {
      db_error(db, "binding an event");
      goto done;
    }
    int rc = sqlite3_step(check);
    if (rc == SQLITE_DONE) {
      fprintf(stderr,
              "online: event \"%s\": (%s, %s) is not one of the feature "
              "groups (see the table feature_groups)\n",
              ev->arg, ev->action, ev->entity);
      goto done;
    }
    if (rc != SQLITE_ROW) {
      db_error(db, "checking an event");
      goto done;
    }
    if (sqlite3_column_int(check, 0) == 0)
      fprintf(stderr, "online: warning: %s %ld is unknown: the event counts "
                      "but adds no vector\n", ev->entity, ev->id);
    if (sqlite3_reset(append) != SQLITE_OK ||
        sqlite3_bind_text(append, 1, *json, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(append, 2, ev->action, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(append, 3, ev->entity, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(append, 4, ev->id) != SQLITE_OK ||
        sqlite3_step(append) != SQLITE_ROW) {
      db_error(db, "building the events");
      goto done;
    }
    char *longer = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(append, 0));
    if (longer == NULL) {
      fprintf(stderr, "online: out of memory\n");
      goto done;
    }
    sqlite3_free(*json);
    *json = longer;
  }
  failed = 0;

done:
  sqlite3_finalize(append);
  sqlite3_finalize(check);
  if (failed) {
    sqlite3_free(*json);
    *json = NULL;
  }
  return failed;
}

/* Step 2: the input features (only their width is shown). */
static int describe_user(sqlite3 *db, const char *country, long age, int has_age,
                         int n_events, const char *json) {
  sqlite3_stmt *st = NULL;
  if (prepare(db, "SELECT length(features) / 4 FROM user_input_features(?1, ?2, ?3)", &st))
    return 1;
  int rc = SQLITE_ERROR;
  if (bind_user(st, country, age, has_age) == 0 &&
      sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC) == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    db_error(db, "computing the user's features");
    sqlite3_finalize(st);
    return 1;
  }
  printf("New user: country %s, age ", country ? country : "unknown");
  if (has_age) printf("%ld", age);
  else printf("unknown");
  printf(", %d registration-day event%s, %d input features\n", n_events,
         n_events == 1 ? "" : "s", sqlite3_column_int(st, 0));
  sqlite3_finalize(st);
  return 0;
}

/* Step 3: both lists, from recommend_cold_user(). */
static int recommend(sqlite3 *db, const char *country, long age, int has_age,
                     const char *json, int k) {
  sqlite3_stmt *list = NULL, *about = NULL;
  int failed = 1, rc;
  if (prepare(db,
              "SELECT rank, track_id, score, segment_id"
              "  FROM recommend_cold_user(?1, ?2, ?3, json_object('method', ?4, 'k', ?5))",
              &list) ||
      prepare(db,
              "SELECT size, (SELECT k FROM semiperso_segmentations WHERE name = ?1)"
              "  FROM semiperso_segments WHERE segmentation = ?1 AND segment_id = ?2",
              &about))
    goto done;
  for (int full = 0; full <= 1; full++) {
    int n = 0;
    if (sqlite3_reset(list) != SQLITE_OK || bind_user(list, country, age, has_age) ||
        sqlite3_bind_text(list, 3, json, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(list, 4, full ? "full" : "semi", -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(list, 5, k) != SQLITE_OK) {
      db_error(db, "binding the user");
      goto done;
    }
    while ((rc = sqlite3_step(list)) == SQLITE_ROW) {
      if (n == 0 && !full) {
        /* The segment, its size and the number of segments, for the reader. */
        sqlite3_int64 segment = sqlite3_column_int64(list, 3);
        if (sqlite3_bind_text(about, 1, SEGMENTATION, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(about, 2, segment) != SQLITE_OK ||
            sqlite3_step(about) != SQLITE_ROW) {
          db_error(db, "reading the segment");
          goto done;
        }
        printf("Segment %lld of '%s' (%lld segments), %lld warm users\n", segment,
               SEGMENTATION, sqlite3_column_int64(about, 1), sqlite3_column_int64(about, 0));
        printf("\nSemi-personalized top %d: the segment's most listened tracks\n", k);
      } else if (n == 0) {
        printf("\nFully personalized top %d: the tracks nearest the user's vector\n", k);
      }
      if (full)
        printf("  full %3d  track %6lld  cosine %.6f\n", sqlite3_column_int(list, 0),
               sqlite3_column_int64(list, 1), sqlite3_column_double(list, 2));
      else
        printf("  semi %3d  track %6lld  listeners %lld\n", sqlite3_column_int(list, 0),
               sqlite3_column_int64(list, 1), sqlite3_column_int64(list, 2));
      n++;
    }
    if (rc != SQLITE_DONE) {
      db_error(db, "recommending");
      goto done;
    }
    if (!full && n < k)
      fprintf(stderr, "online: warning: segment_top_tracks holds only %d tracks "
                      "per segment (the pipeline's top_k setting)\n", n);
  }
  failed = 0;

done:
  sqlite3_finalize(list);
  sqlite3_finalize(about);
  return failed;
}

int main(int argc, char **argv) {
  const char *argv0 = argv[0];
  long k = DEFAULT_K;
  int opt;
  while ((opt = getopt(argc, argv, "k:")) != -1) {
    if (opt != 'k' || parse_int(optarg, 1, MAX_K, &k)) return usage(argv0);
  }
  argc -= optind;
  argv += optind;
  if (argc < 2 || argc == 3) return usage(argv0);

  const char *extension = argv[0], *path = argv[1];
  /* user: COUNTRY, AGE, then the events. */
  const char *const *user = argc > 2 ? (const char *const *)argv + 2 : example_user;
  int n_user = argc > 2 ? argc - 2
                        : (int)(sizeof example_user / sizeof *example_user);
  const char *country = strcmp(user[0], "-") == 0 ? NULL : user[0];
  long age = 0;
  int has_age = strcmp(user[1], "-") != 0;
  if (has_age && parse_int(user[1], 0, 150, &age)) {
    fprintf(stderr, "online: bad age \"%s\": expected 0..150 or -\n", user[1]);
    return 2;
  }
  int n_events = n_user - 2;
  Event *events = malloc(sizeof *events * (size_t)(n_events > 0 ? n_events : 1));
  if (events == NULL) {
    fprintf(stderr, "online: out of memory\n");
    return 1;
  }
  for (int i = 0; i < n_events; i++) {
    if (parse_event(user[2 + i], &events[i])) {
      fprintf(stderr,
              "online: bad event \"%s\": expected ACTION:ENTITY:ID, e.g. "
              "stream:track:123\n",
              user[2 + i]);
      free(events);
      return 2;
    }
  }

  /* Read-only: the served file must exist and is never written. */
  sqlite3 *db = NULL;
  int failed = 1;
  char *err = NULL, *json = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    fprintf(stderr, "online: cannot open %s: %s\n", path,
            db ? sqlite3_errmsg(db) : "out of memory");
    goto done;
  }
  if (sqlite3_enable_load_extension(db, 1) != SQLITE_OK ||
      sqlite3_load_extension(db, extension, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "online: cannot load %s: %s\n", extension,
            err ? err : sqlite3_errmsg(db));
    goto done;
  }
  /* No SQL may load another library from here on. */
  sqlite3_enable_load_extension(db, 0);
  failed = check_prepared(db) || events_json(db, n_events, events, &json) ||
           describe_user(db, country, age, has_age, n_events, json) ||
           recommend(db, country, age, has_age, json, (int)k);

done:
  sqlite3_free(err);
  sqlite3_free(json);
  sqlite3_close(db);
  free(events);
  return failed;
}
