/*
** online.c - serve ONE new user online, as the paper's production service
** does: what the user did on registration day goes in, their
** semi-personalized top tracks come out (plus the fully personalized list,
** for comparison).
**
**   cc -Wall -Wextra -std=c11 -o online examples/online.c -lsqlite3
**   ./online [-k N] EXTENSION DATABASE [COUNTRY AGE [ACTION:ENTITY:ID ...]]
**
**   ./online ./semiperso music.db FR 27 stream:track:123 onboarding_like:artist:45
**
** EXTENSION is the path of semiperso.so (the suffix may be left out);
** DATABASE a database on which sql/pipeline.sql has run: it holds the
** trained embedder 'user_embedder', the segmentation 'warm_users', the
** table segment_top_tracks and the feature helper tables behind the view
** user_feature_vectors.  COUNTRY and AGE may be "-" when unknown.  Each
** event is action:entity:id, e.g. stream:track:123, skip:album:7,
** onboarding_like:artist:45, search:playlist:3 (the (action, entity) pairs
** of sql/features.sql).  With no COUNTRY, a built-in example user is
** served.  -k N: length of both lists (default 10).
**
** How the user is served:
**   1. Inside a SAVEPOINT, the user is inserted into `users` (split 'test':
**      a cold user, like those of the offline evaluation) with their events
**      into `registration_events`; the view user_feature_vectors computes
**      their input features with exactly the logic that built the training
**      features (sql/features.sql), and embed_user() predicts their vector.
**      Then the savepoint is rolled back: the served database is left
**      exactly as it was, and its write lock is held only for these few
**      statements.  (Reusing the view rather than rewriting its logic here
**      keeps online and offline features identical.  A service that keeps
**      its users would RELEASE instead, and let the user's rows stay.  A
**      savepoint rather than BEGIN also works when the caller is already
**      inside a transaction.)
**   2. assign_segment() puts the vector in the nearest warm user segment;
**      that segment's precomputed top tracks are the recommendation: one
**      indexed read of segment_top_tracks.
**   3. For comparison, topk_tracks() gives the tracks nearest the vector.
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

#define MODEL "user_embedder"
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

/* Runs SQL without results (transaction control). */
static int exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "online: %s: %s\n", sql, err ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    return 1;
  }
  return 0;
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

/* The database must hold what sql/pipeline.sql builds. */
static int check_prepared(sqlite3 *db) {
  static const char *const needed[] = {
      "user_feature_vectors", "segment_top_tracks", "semiperso_models",
      "semiperso_segmentations", "semiperso_segments"};
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

/* Step 1: the user's predicted vector, copied to *emb (malloc'd, *bytes
** long).  Runs inside a savepoint that is always rolled back. */
static int embed_new_user(sqlite3 *db, const char *country, long age,
                          int has_age, int n_events, const Event *events,
                          void **emb, int *bytes) {
  sqlite3_stmt *ins_user = NULL, *check = NULL, *ins_event = NULL,
               *embed = NULL;
  int failed = 1;
  *emb = NULL;
  if (exec(db, "SAVEPOINT serve_new_user")) return 1;

  if (prepare(db, "INSERT INTO users(split, country, age) VALUES ('test', ?1, ?2)",
              &ins_user) ||
      prepare(db,
              "SELECT EXISTS (SELECT 1 FROM feature_entity_vectors AS v"
              "               WHERE v.entity = ?2 AND v.entity_id = ?3)"
              "  FROM feature_groups WHERE action = ?1 AND entity = ?2",
              &check) ||
      prepare(db,
              "INSERT INTO registration_events(user_id, action, entity, entity_id)"
              " VALUES (?1, ?2, ?3, ?4)",
              &ins_event) ||
      prepare(db,
              "SELECT embed_user(?1, features), vec_length(features)"
              "  FROM user_feature_vectors WHERE user_id = ?2",
              &embed))
    goto done;

  /* The new user: the rowid SQLite picks is a fresh user id. */
  if ((country ? sqlite3_bind_text(ins_user, 1, country, -1, SQLITE_STATIC)
               : sqlite3_bind_null(ins_user, 1)) != SQLITE_OK ||
      (has_age ? sqlite3_bind_int64(ins_user, 2, age)
               : sqlite3_bind_null(ins_user, 2)) != SQLITE_OK) {
    db_error(db, "binding the user");
    goto done;
  }
  if (sqlite3_step(ins_user) != SQLITE_DONE) {
    db_error(db, "inserting the user");
    goto done;
  }
  sqlite3_int64 user_id = sqlite3_last_insert_rowid(db);

  for (int i = 0; i < n_events; i++) {
    const Event *ev = &events[i];
    /* An (action, entity) pair that is no feature would be silently
    ** ignored by the model: refuse it.  An entity without a vector still
    ** counts in the event counts: only warn. */
    if (sqlite3_reset(check) != SQLITE_OK ||
        sqlite3_bind_text(check, 1, ev->action, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_text(check, 2, ev->entity, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
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

    if (sqlite3_reset(ins_event) != SQLITE_OK ||
        sqlite3_bind_int64(ins_event, 1, user_id) != SQLITE_OK ||
        sqlite3_bind_text(ins_event, 2, ev->action, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_text(ins_event, 3, ev->entity, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_int64(ins_event, 4, ev->id) != SQLITE_OK) {
      db_error(db, "binding an event");
      goto done;
    }
    if (sqlite3_step(ins_event) != SQLITE_DONE) {
      db_error(db, "inserting an event");
      goto done;
    }
  }

  /* Features (only this user's rows are read) and the forward pass. */
  if (sqlite3_bind_text(embed, 1, MODEL, -1, SQLITE_STATIC) != SQLITE_OK ||
      sqlite3_bind_int64(embed, 2, user_id) != SQLITE_OK) {
    db_error(db, "binding the user id");
    goto done;
  }
  int rc = sqlite3_step(embed);
  if (rc != SQLITE_ROW) {
    if (rc == SQLITE_DONE)
      fprintf(stderr, "online: user_feature_vectors has no row for the new user\n");
    else
      db_error(db, "computing the user's vector");
    goto done;
  }
  const void *blob = sqlite3_column_blob(embed, 0);
  *bytes = sqlite3_column_bytes(embed, 0);
  if (blob == NULL || *bytes <= 0) {
    if (sqlite3_errcode(db) == SQLITE_NOMEM) db_error(db, "reading the vector");
    else fprintf(stderr, "online: embed_user() returned no vector\n");
    goto done;
  }
  *emb = malloc((size_t)*bytes);
  if (*emb == NULL) {
    fprintf(stderr, "online: out of memory\n");
    goto done;
  }
  memcpy(*emb, blob, (size_t)*bytes);
  printf("New user: country %s, age ", country ? country : "unknown");
  if (has_age) printf("%ld", age);
  else printf("unknown");
  printf(", %d registration-day event%s, %d input features\n", n_events,
         n_events == 1 ? "" : "s", sqlite3_column_int(embed, 1));
  failed = 0;

done:
  sqlite3_finalize(ins_user);
  sqlite3_finalize(check);
  sqlite3_finalize(ins_event);
  sqlite3_finalize(embed);
  /* Always undo the inserts, whatever happened above. */
  if (exec(db, "ROLLBACK TO serve_new_user") | exec(db, "RELEASE serve_new_user"))
    failed = 1;
  if (failed) {
    free(*emb);
    *emb = NULL;
  }
  return failed;
}

/* Steps 2 and 3: the segment's top tracks and the nearest tracks. */
static int recommend(sqlite3 *db, const void *emb, int bytes, int k) {
  sqlite3_stmt *assign = NULL, *about = NULL, *semi = NULL, *full = NULL;
  int failed = 1, rc, n = 0;

  if (prepare(db, "SELECT assign_segment(?1, ?2)", &assign) ||
      prepare(db,
              "SELECT size, (SELECT k FROM semiperso_segmentations WHERE name = ?1)"
              "  FROM semiperso_segments WHERE segmentation = ?1 AND segment_id = ?2",
              &about) ||
      prepare(db,
              "SELECT rank, track_id, listeners FROM segment_top_tracks"
              " WHERE segmentation = ?1 AND segment_id = ?2 AND rank <= ?3"
              " ORDER BY rank",
              &semi) ||
      prepare(db, "SELECT rank, track_id, score FROM topk_tracks(?1, ?2)", &full))
    goto done;

  if (sqlite3_bind_text(assign, 1, SEGMENTATION, -1, SQLITE_STATIC) != SQLITE_OK ||
      sqlite3_bind_blob(assign, 2, emb, bytes, SQLITE_STATIC) != SQLITE_OK) {
    db_error(db, "binding the vector");
    goto done;
  }
  if (sqlite3_step(assign) != SQLITE_ROW) {
    db_error(db, "assigning the segment");
    goto done;
  }
  sqlite3_int64 segment = sqlite3_column_int64(assign, 0);

  /* Its size and the number of segments, for the reader. */
  if (sqlite3_bind_text(about, 1, SEGMENTATION, -1, SQLITE_STATIC) != SQLITE_OK ||
      sqlite3_bind_int64(about, 2, segment) != SQLITE_OK) {
    db_error(db, "binding the segment");
    goto done;
  }
  rc = sqlite3_step(about);
  if (rc != SQLITE_ROW) {
    if (rc == SQLITE_DONE)
      fprintf(stderr, "online: segment %lld is missing from semiperso_segments\n",
              segment);
    else
      db_error(db, "reading the segment");
    goto done;
  }
  printf("Segment %lld of '%s' (%lld segments), %lld warm users\n", segment,
         SEGMENTATION, sqlite3_column_int64(about, 1),
         sqlite3_column_int64(about, 0));

  /* Semi-personalized: what the segment's warm users listened to most. */
  printf("\nSemi-personalized top %d: the segment's most listened tracks\n", k);
  if (sqlite3_bind_text(semi, 1, SEGMENTATION, -1, SQLITE_STATIC) != SQLITE_OK ||
      sqlite3_bind_int64(semi, 2, segment) != SQLITE_OK ||
      sqlite3_bind_int(semi, 3, k) != SQLITE_OK) {
    db_error(db, "binding the segment");
    goto done;
  }
  while ((rc = sqlite3_step(semi)) == SQLITE_ROW) {
    printf("  semi %3d  track %6lld  listeners %lld\n", sqlite3_column_int(semi, 0),
           sqlite3_column_int64(semi, 1), sqlite3_column_int64(semi, 2));
    n++;
  }
  if (rc != SQLITE_DONE) {
    db_error(db, "reading segment_top_tracks");
    goto done;
  }
  if (n < k)
    fprintf(stderr, "online: warning: segment_top_tracks holds only %d tracks "
                    "per segment (the pipeline's top_k setting)\n", n);

  /* Fully personalized: the tracks most cosine-similar to the vector. */
  printf("\nFully personalized top %d: the tracks nearest the user's vector\n", k);
  if (sqlite3_bind_blob(full, 1, emb, bytes, SQLITE_STATIC) != SQLITE_OK ||
      sqlite3_bind_int(full, 2, k) != SQLITE_OK) {
    db_error(db, "binding the vector");
    goto done;
  }
  while ((rc = sqlite3_step(full)) == SQLITE_ROW)
    printf("  full %3d  track %6lld  cosine %.6f\n", sqlite3_column_int(full, 0),
           sqlite3_column_int64(full, 1), sqlite3_column_double(full, 2));
  if (rc != SQLITE_DONE) {
    db_error(db, "running topk_tracks");
    goto done;
  }
  failed = 0;

done:
  sqlite3_finalize(assign);
  sqlite3_finalize(about);
  sqlite3_finalize(semi);
  sqlite3_finalize(full);
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
      fprintf(stderr, "online: bad event \"%s\": expected ACTION:ENTITY:ID, "
                      "e.g. stream:track:123\n", user[2 + i]);
      free(events);
      return 2;
    }
  }

  /* The served database must exist: never create an empty one. */
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    fprintf(stderr, "online: cannot open %s: %s\n", path,
            db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    free(events);
    return 1;
  }
  int failed = 1;
  void *emb = NULL;
  int bytes = 0;
  char *err = NULL;
  /* Other processes may be using the database: wait for their locks. */
  if (sqlite3_busy_timeout(db, 5000) != SQLITE_OK) {
    db_error(db, "setting the busy timeout");
    goto done;
  }
  /* Load the extension, then switch loading off again. */
  if (sqlite3_enable_load_extension(db, 1) != SQLITE_OK) {
    db_error(db, "enabling extension loading");
    goto done;
  }
  if (sqlite3_load_extension(db, extension, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "online: cannot load %s: %s\n", extension,
            err ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    goto done;
  }
  if (sqlite3_enable_load_extension(db, 0) != SQLITE_OK) {
    db_error(db, "disabling extension loading");
    goto done;
  }

  if (check_prepared(db) ||
      embed_new_user(db, country, age, has_age, n_events, events, &emb, &bytes) ||
      recommend(db, emb, bytes, (int)k))
    goto done;
  if (fflush(stdout) != 0) {
    perror("online: writing the output");
    goto done;
  }
  failed = 0;

done:
  free(emb);
  free(events);
  if (sqlite3_close(db) != SQLITE_OK) {
    db_error(db, "closing the database");
    failed = 1;
  }
  return failed;
}
