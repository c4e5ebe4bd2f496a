/*
** serve.c - serving new users online without writing anything: their
** input features and their recommendations from what they give at
** registration (country, age, registration-day events).  Nothing is
** written and no write lock is taken, so any number of connections and
** processes serve at once, from a database opened read-only
** (mode=ro), an immutable snapshot (immutable=1), or a serving bundle
** written by export_bundle() (bundle.c).
**
**   age_class(age) -> 0..4 (<18, 18-24, 25-34, 35-49, 50+); NULL for NULL
**       age: an INTEGER or REAL in [0, 150].  sql/features.sql classes
**       warm users with it.
**
**   SELECT features, grouped_events, ignored_events, unknown_entities,
**          unknown_country
**     FROM user_input_features(country, age, events);
**       one row: the input vector (the layout of ext/core/input_features.h) of a
**       user with that country (TEXT or NULL), age (as age_class(), or
**       NULL) and registration-day events.  events is NULL (none) or a
**       JSON array of at most 100000 events, each [action, entity,
**       entity_id] or {"action": ..., "entity": ..., "entity_id": ...}
**       (TEXT, TEXT, an integer; other keys of an object are ignored),
**       e.g. '[["stream", "track", 12], ["onboarding_like", "artist", 4]]'.
**       It reads the tables sql/features.sql builds, as its view
**       user_feature_vectors does (which is this function applied to the
**       users table): feature_groups, feature_entity_vectors,
**       feature_age_vectors, feature_country_vectors, and d from tracks.
**       Unknown input is counted, never guessed at, as in features.sql:
**         grouped_events    events of an (action, entity) pair of
**                           feature_groups (the counts of the layout)
**         ignored_events    events of any other pair: not features
**         unknown_entities  grouped events whose entity has no vector:
**                           they count, and add no vector
**         unknown_country   1 when country names no vector (zeros)
**       The means are summed in the order of the array, so the vector is
**       the same bits as user_feature_vectors' for the same events in the
**       order of their rowids in registration_events.
**
**   SELECT rank, track_id, score, segment_id
**     FROM recommend_cold_user(country, age, events [, options]);
**       the recommendations of that user: user_input_features, then
**       embed_user(model), assign_segment(segmentation) (segment_id, the
**       same on every row), then
**         method "semi" (default): the segment's top tracks, read from
**           segment_top_tracks (sql/steps/top_tracks.sql); score is the
**           number of the segment's warm users who listened (0: the
**           Popularity padding);
**         method "full": topk_tracks() of the predicted vector over
**           tracks; score is the cosine similarity.
**       options, a JSON object: method "semi", k 50 (1..10000; the semi
**       list has at most what segment_top_tracks holds), model
**       'user_embedder', segmentation 'warm_users', strict false (true:
**       an ignored event, an unknown entity or an unknown country is an
**       error naming it, instead of being counted).
**
** Each virtual table keeps its lookups prepared for the life of the
** connection, and a cursor the answers of the event lookups for its
** statement (see LookupMemo); models, centroids and the track matrix come from the
** per-connection caches of embed_user, assign_segment and topk_tracks,
** which check at every call that nothing changed (store.h, topk.c).
** OpenBLAS runs on one thread during a recommendation (see below).
*/
#include <stdarg.h>
#include <string.h>

#include "../core/hash.h"
#include "../core/input_features.h"
#include "../core/json_events.h"
#include "args.h"
#include "columns.h"
#include "common.h"
#include "modules.h"
#include "options.h"

#define FEATURES_FN "user_input_features"
#define RECOMMEND_FN "recommend_cold_user"
#define MAX_EVENTS 100000
#define MAX_K 10000

/* ---- age_class ------------------------------------------------------------ */

/* Reads an age argument: SQLITE_OK with *has_age 0 for NULL. */
static int read_age(SpArg a, sqlite3_value *v, int *has_age, double *age, char **err) {
  int type = sqlite3_value_type(v);
  *has_age = 0;
  *age = 0;
  if (type == SQLITE_NULL) return SQLITE_OK;
  double x = sqlite3_value_double(v);
  if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
    if (x >= 0 && x <= FEATURE_MAX_AGE) {
      *has_age = 1;
      *age = x;
      return SQLITE_OK;
    }
    *err = sqlite3_mprintf("%s(): argument %d (age) must be between 0 and %d, got %s", a.fn,
                           a.argno, FEATURE_MAX_AGE, (const char *)sqlite3_value_text(v));
  } else {
    *err = sqlite3_mprintf("%s(): argument %d (age) must be NULL or a number, not %s", a.fn,
                           a.argno, type == SQLITE_TEXT ? "TEXT" : "a BLOB");
  }
  return SQLITE_ERROR;
}

static void age_class_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  int has_age;
  double age;
  char *err = NULL;
  int rc = read_age((SpArg){"age_class", 1, "age"}, argv[0], &has_age, &age, &err);
  if (rc != SQLITE_OK) sp_result_error_rc(ctx, rc, err);
  else if (has_age) sqlite3_result_int(ctx, features_age_class(age));
  else sqlite3_result_null(ctx);
}

/* ---- the lookups ------------------------------------------------------------ */

enum {
  ST_DIMS,
  ST_AGE,
  ST_COUNTRY,
  ST_GROUP,
  ST_ENTITY,
  ST_EMBED,
  ST_ASSIGN,
  ST_SEMI,
  ST_FULL,
  N_STATEMENTS
};

/* Each lookup, and what to do when it cannot be prepared. */
static const struct {
  const char *sql, *hint;
} lookups[N_STATEMENTS] = {
    [ST_DIMS] = {"SELECT length(embedding), typeof(embedding) FROM tracks LIMIT 1",
                 "the dataset's tracks are needed (sql/schema.sql)"},
    [ST_AGE] = {"SELECT embedding FROM feature_age_vectors WHERE age_class = ?1",
                "run sql/features.sql first"},
    [ST_COUNTRY] = {"SELECT embedding FROM feature_country_vectors WHERE country = ?1",
                    "run sql/features.sql first"},
    [ST_GROUP] = {"SELECT group_index FROM feature_groups WHERE action = ?1 AND entity = ?2",
                  "run sql/features.sql first"},
    [ST_ENTITY] = {"SELECT embedding FROM feature_entity_vectors"
                   " WHERE entity = ?1 AND entity_id = ?2",
                   "run sql/features.sql first"},
    [ST_EMBED] = {"SELECT embed_user(?1, ?2)", NULL},
    [ST_ASSIGN] = {"SELECT assign_segment(?1, ?2)", NULL},
    [ST_SEMI] = {"SELECT rank, track_id, listeners FROM segment_top_tracks"
                 " WHERE segmentation = ?1 AND segment_id = ?2 ORDER BY rank LIMIT ?3",
                 "run sql/steps/top_tracks.sql first"},
    [ST_FULL] = {"SELECT rank, track_id, score FROM topk_tracks(?1, ?2)", NULL},
};

/* recommend_cold_user's options, parsed once per distinct text. */
typedef struct {
  int full, strict;
  sqlite3_int64 k;
  char *method, *model, *segmentation; /* sqlite3_malloc'd */
} ServeOptions;

typedef struct {
  sqlite3_vtab base;
  sqlite3 *db;
  int recommend; /* recommend_cold_user, else user_input_features */
  sqlite3_stmt *st[N_STATEMENTS];
  char *options_key; /* what opts was parsed from; NULL: nothing yet */
  ServeOptions opts;
} ServeVtab;

static void options_free(ServeOptions *o) {
  sqlite3_free(o->method);
  sqlite3_free(o->model);
  sqlite3_free(o->segmentation);
  memset(o, 0, sizeof *o);
}

/* Statement `which`, prepared on first use and reset; NULL with *rc and
** *err set when it cannot be prepared. */
static sqlite3_stmt *lookup(ServeVtab *v, const char *fn, int which, int *rc, char **err) {
  if (v->st[which] == NULL) {
    *rc = sqlite3_prepare_v3(v->db, lookups[which].sql, -1, SQLITE_PREPARE_PERSISTENT,
                             &v->st[which], NULL);
    if (*rc != SQLITE_OK) {
      if (*rc != SQLITE_NOMEM)
        *err = sqlite3_mprintf("%s(): %s%s%s", fn, sqlite3_errmsg(v->db),
                               lookups[which].hint ? "; " : "",
                               lookups[which].hint ? lookups[which].hint : "");
      return NULL;
    }
  }
  sqlite3_reset(v->st[which]);
  return v->st[which];
}

/* The failure of a lookup's step (rc neither ROW nor DONE): its message,
** the statement reset. */
static int step_failed(ServeVtab *v, const char *fn, sqlite3_stmt *st, int rc, char **err) {
  if ((rc & 0xff) == SQLITE_INTERRUPT)
    *err = sp_interrupted(fn, "nothing was served");
  else if ((rc & 0xff) != SQLITE_NOMEM)
    *err = sqlite3_mprintf("%s(): %s", fn, sqlite3_errmsg(v->db));
  sqlite3_reset(st);
  return rc;
}

/* Reads the single vector of d floats a lookup in table may return: *out
** NULL when there is no row.  A bad vector is an error naming it by the
** printf-style what (formatted only then). */
static int lookup_vector(ServeVtab *v, const char *fn, sqlite3_stmt *st, const char *table,
                         float *buf, int d, const float **out, char **err, const char *what, ...) {
  *out = NULL;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) return SQLITE_OK;
  if (rc != SQLITE_ROW) return step_failed(v, fn, st, rc, err);
  SpColumn c = {fn, table, 0, 0, "embedding"};
  int bad = sp_column_vector(st, &c, 1, buf, d, NULL) != SQLITE_OK;
  sqlite3_reset(st); /* no statement stays open between calls */
  if (bad) {
    va_list ap;
    va_start(ap, what);
    char *name = sqlite3_vmprintf(what, ap);
    va_end(ap);
    *err = name ? sqlite3_mprintf("%s(): %s: the vector of %s is not %d finite float32s like "
                                  "the embeddings of tracks (re-run sql/features.sql)", fn, table,
                                  name, d)
                : NULL;
    sqlite3_free(name);
    return *err ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  *out = buf;
  return SQLITE_OK;
}

/* ---- lookups remembered for one statement -------------------------------------- */

/* What the lookups of events answered, kept by a cursor for its life (one
** statement: user_feature_vectors computes every user's vector through one
** cursor, and most users' events name the same groups and entities).  A
** statement reads the tables as they were when it started, so the answers
** cannot go stale; errors are never kept. */
typedef struct {
  char *action, *entity; /* sqlite3_malloc'd */
  int group;             /* 0: not an interaction group */
} GroupMemo;

typedef struct {
  sqlite3_int64 id;
  int name; /* index in names; -1: empty slot */
  int at;   /* the vector at at * d in vectors; -1: the entity has none */
} EntityMemo;

typedef struct {
  GroupMemo *groups;
  int64_t n_groups, cap_groups;
  char **names; /* the entity names met */
  int64_t n_names, cap_names;
  EntityMemo *slots; /* open addressing, a power of two, at most half full */
  int64_t cap, size;
  float *vectors;
  int64_t n_vectors, cap_vectors; /* in floats */
  int d;                          /* of the vectors */
} LookupMemo;

static void memo_free(LookupMemo *m) {
  for (int64_t i = 0; i < m->n_groups; i++) {
    sqlite3_free(m->groups[i].action);
    sqlite3_free(m->groups[i].entity);
  }
  for (int64_t i = 0; i < m->n_names; i++) sqlite3_free(m->names[i]);
  sqlite3_free(m->groups);
  sqlite3_free(m->names);
  sqlite3_free(m->slots);
  sqlite3_free(m->vectors);
  memset(m, 0, sizeof *m);
}

static int same_text(const char *a, const char *b, size_t b_len) {
  return strlen(a) == b_len && memcmp(a, b, b_len) == 0;
}

/* The remembered group of the event's (action, entity) pair, or NULL. */
static const GroupMemo *memo_group(const LookupMemo *m, const JsonEvent *ev) {
  for (int64_t i = 0; i < m->n_groups; i++)
    if (same_text(m->groups[i].action, ev->action, ev->action_len) &&
        same_text(m->groups[i].entity, ev->entity, ev->entity_len))
      return &m->groups[i];
  return NULL;
}

static int memo_keep_group(LookupMemo *m, const JsonEvent *ev, int group) {
  if (sp_grow((void **)&m->groups, &m->cap_groups, m->n_groups + 1, sizeof *m->groups))
    return SQLITE_NOMEM;
  GroupMemo *g = &m->groups[m->n_groups];
  g->action = sqlite3_mprintf("%.*s", (int)ev->action_len, ev->action);
  g->entity = sqlite3_mprintf("%.*s", (int)ev->entity_len, ev->entity);
  g->group = group;
  if (g->action == NULL || g->entity == NULL) {
    sqlite3_free(g->action);
    sqlite3_free(g->entity);
    return SQLITE_NOMEM;
  }
  m->n_groups++;
  return SQLITE_OK;
}

/* The index of the entity name in names, added if new; -1 when memory is
** short. */
static int memo_name(LookupMemo *m, const char *entity, size_t len) {
  for (int64_t i = 0; i < m->n_names; i++)
    if (same_text(m->names[i], entity, len)) return (int)i;
  if (sp_grow((void **)&m->names, &m->cap_names, m->n_names + 1, sizeof *m->names)) return -1;
  m->names[m->n_names] = sqlite3_mprintf("%.*s", (int)len, entity);
  return m->names[m->n_names] ? (int)m->n_names++ : -1;
}

/* The slot of (name, id), or the empty one where it belongs. */
static EntityMemo *memo_slot(const LookupMemo *m, int name, sqlite3_int64 id) {
  uint64_t h = hash_mix64((uint64_t)id * 0x9E3779B97F4A7C15ULL ^ (uint64_t)name);
  for (uint64_t i = h & (uint64_t)(m->cap - 1);; i = (i + 1) & (uint64_t)(m->cap - 1)) {
    EntityMemo *e = &m->slots[i];
    if (e->name < 0 || (e->name == name && e->id == id)) return e;
  }
}

/* Room for one more entity: the table doubled when it would pass half full. */
static int memo_reserve(LookupMemo *m) {
  if (2 * (m->size + 1) <= m->cap) return SQLITE_OK;
  int64_t cap = m->cap ? 2 * m->cap : 1024;
  EntityMemo *old = m->slots, *slots = sqlite3_malloc64((sqlite3_uint64)cap * sizeof *slots);
  if (slots == NULL) return SQLITE_NOMEM;
  for (int64_t i = 0; i < cap; i++) slots[i].name = -1;
  int64_t old_cap = m->cap;
  m->slots = slots;
  m->cap = cap;
  for (int64_t i = 0; i < old_cap; i++)
    if (old[i].name >= 0) *memo_slot(m, old[i].name, old[i].id) = old[i];
  sqlite3_free(old);
  return SQLITE_OK;
}

/* Remembers vec (d floats, or NULL: no vector) as the answer for (name,
** id). */
static int memo_keep_entity(LookupMemo *m, int name, sqlite3_int64 id, const float *vec, int d) {
  if (memo_reserve(m) != SQLITE_OK) return SQLITE_NOMEM;
  EntityMemo *e = memo_slot(m, name, id);
  int at = -1;
  if (vec) {
    if (sp_grow((void **)&m->vectors, &m->cap_vectors, m->n_vectors + d, sizeof *m->vectors))
      return SQLITE_NOMEM;
    memcpy(m->vectors + m->n_vectors, vec, (size_t)d * sizeof *vec);
    at = (int)(m->n_vectors / d);
    m->n_vectors += d;
  }
  *e = (EntityMemo){id, name, at};
  m->size++;
  return SQLITE_OK;
}

/* ---- one user's input features ------------------------------------------------ */

typedef struct {
  float *features; /* sqlite3_malloc'd, n floats */
  int n;
  sqlite3_int64 grouped, ignored, unknown_entities;
  int unknown_country;
} UserInput;

/* The width d of the track vectors, from the first track. */
static int track_dims(ServeVtab *v, const char *fn, int *d, char **err) {
  int rc;
  sqlite3_stmt *st = lookup(v, fn, ST_DIMS, &rc, err);
  if (st == NULL) return rc;
  rc = sqlite3_step(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return step_failed(v, fn, st, rc, err);
  sqlite3_int64 bytes = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  const char *type = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 1) : NULL;
  int is_blob = type && strcmp(type, "blob") == 0;
  sqlite3_reset(st);
  if (rc == SQLITE_DONE || !is_blob || bytes <= 0 ||
      bytes % (sqlite3_int64)sizeof(float) != 0 ||
      features_width((int)(bytes / (sqlite3_int64)sizeof(float))) > sp_max_vector_len(v->db)) {
    *err = rc == SQLITE_DONE ? sqlite3_mprintf("%s(): the table tracks is empty: the width of "
                                               "the vectors is that of its embeddings", fn)
                             : sqlite3_mprintf("%s(): the first row of tracks has no usable "
                                               "float32 embedding", fn);
    return SQLITE_ERROR;
  }
  *d = (int)(bytes / (sqlite3_int64)sizeof(float));
  return SQLITE_OK;
}

/* The interaction group of an event: *g, or 0 when its (action, entity)
** pair is not one. */
static int event_group(ServeVtab *v, const char *fn, sqlite3_stmt *group, const JsonEvent *ev,
                       int *g, char **err) {
  sqlite3_reset(group);
  sqlite3_bind_text(group, 1, ev->action, (int)ev->action_len, SQLITE_STATIC);
  sqlite3_bind_text(group, 2, ev->entity, (int)ev->entity_len, SQLITE_STATIC);
  int rc = sqlite3_step(group);
  *g = 0;
  if (rc == SQLITE_DONE) return SQLITE_OK;
  if (rc != SQLITE_ROW) return step_failed(v, fn, group, rc, err);
  sqlite3_int64 index = sqlite3_column_int64(group, 0);
  if (sqlite3_column_type(group, 0) != SQLITE_INTEGER || index < FEATURE_FIRST_EVENT ||
      index >= FEATURE_GROUPS) {
    *err = sqlite3_mprintf("%s(): feature_groups: the group_index of ('%.*q', '%.*q') must be "
                           "an INTEGER between %d and %d", fn, (int)ev->action_len, ev->action,
                           (int)ev->entity_len, ev->entity, FEATURE_FIRST_EVENT,
                           FEATURE_GROUPS - 1);
    return SQLITE_ERROR;
  }
  sqlite3_reset(group);
  *g = (int)index;
  return SQLITE_OK;
}

/* Adds the events of the JSON array to s, in order. */
static int add_events(ServeVtab *v, const char *fn, sqlite3_value *events, int strict,
                      LookupMemo *memo, FeatureSums *s, float *buf, UserInput *u,
                      char **err) {
  int type = sqlite3_value_type(events), rc;
  if (type == SQLITE_NULL) return SQLITE_OK;
  const char *text = type == SQLITE_TEXT ? (const char *)sqlite3_value_text(events) : NULL;
  if (type == SQLITE_TEXT && text == NULL) return SQLITE_NOMEM;
  JsonEvents it;
  JsonEvent ev;
  if (text == NULL) {
    *err = sqlite3_mprintf("%s(): argument 3 (events) must be NULL or the TEXT of a JSON array "
                           "of events, not %s", fn, type == SQLITE_BLOB ? "a BLOB" : "a number");
    return SQLITE_ERROR;
  }
  const char *jerr = NULL;
  sqlite3_stmt *group = lookup(v, fn, ST_GROUP, &rc, err);
  sqlite3_stmt *entity = group ? lookup(v, fn, ST_ENTITY, &rc, err) : NULL;
  if (entity == NULL) return rc;
  if (memo->d != s->d) {
    memo_free(memo);
    memo->d = s->d;
  }
  int got = json_events_begin(&it, text, (size_t)sqlite3_value_bytes(events), &jerr);
  rc = SQLITE_OK;
  while (got >= 0 && rc == SQLITE_OK && (got = json_events_next(&it, &ev, &jerr)) == 1) {
    size_t i = it.index - 1;
    int g = 0;
    const float *vec = NULL;
    char *problem = NULL;
    if (i >= MAX_EVENTS) {
      *err = sqlite3_mprintf("%s(): argument 3 (events): more than %d events", fn, MAX_EVENTS);
      rc = SQLITE_TOOBIG;
      break;
    }
    const GroupMemo *known = memo_group(memo, &ev);
    if (known) {
      g = known->group;
    } else {
      rc = event_group(v, fn, group, &ev, &g, err);
      if (rc == SQLITE_OK) rc = memo_keep_group(memo, &ev, g);
    }
    if (rc == SQLITE_OK && g == 0) {
      if (strict) {
        problem = sqlite3_mprintf("('%.*q', '%.*q') is not an (action, entity) pair of "
                                  "feature_groups", (int)ev.action_len, ev.action,
                                  (int)ev.entity_len, ev.entity);
      } else {
        u->ignored++;
        continue;
      }
    }
    if (rc == SQLITE_OK && problem == NULL) {
      int name = memo_name(memo, ev.entity, ev.entity_len);
      const EntityMemo *e = name >= 0 && memo->cap ? memo_slot(memo, name, ev.entity_id) : NULL;
      if (name < 0) {
        rc = SQLITE_NOMEM;
      } else if (e && e->name >= 0) {
        vec = e->at >= 0 ? memo->vectors + (int64_t)e->at * s->d : NULL;
      } else {
        sqlite3_reset(entity);
        sqlite3_bind_text(entity, 1, ev.entity, (int)ev.entity_len, SQLITE_STATIC);
        sqlite3_bind_int64(entity, 2, ev.entity_id);
        rc = lookup_vector(v, fn, entity, "feature_entity_vectors", buf, s->d, &vec, err,
                           "%.*s %lld", (int)ev.entity_len, ev.entity, (long long)ev.entity_id);
        if (rc == SQLITE_OK) rc = memo_keep_entity(memo, name, ev.entity_id, vec, s->d);
      }
      if (rc == SQLITE_OK && vec == NULL && strict)
        problem = sqlite3_mprintf("%.*s %lld has no vector in feature_entity_vectors",
                                  (int)ev.entity_len, ev.entity, (long long)ev.entity_id);
    }
    if (problem) {
      *err = sqlite3_mprintf("%s(): argument 3 (events): events[%lld]: %s", fn, (long long)i,
                             problem);
      sqlite3_free(problem);
      rc = SQLITE_ERROR;
    }
    if (rc != SQLITE_OK) break;
    u->unknown_entities += vec == NULL;
    u->grouped++;
    features_add(s, g, vec);
  }
  if (rc == SQLITE_OK && got == -2) rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK && got == -1) {
    *err = it.index != JSON_EVENTS_NO_INDEX
               ? sqlite3_mprintf("%s(): argument 3 (events): events[%lld]: %s", fn,
                                 (long long)it.index, jerr)
               : sqlite3_mprintf("%s(): argument 3 (events): %s", fn, jerr);
    rc = SQLITE_ERROR;
  }
  json_events_free(&it);
  sqlite3_reset(group);
  sqlite3_reset(entity);
  return rc;
}

/* args: country, age, events.  Fills u (u->features sqlite3_malloc'd). */
static int user_input(ServeVtab *v, const char *fn, sqlite3_value **args, int strict,
                      LookupMemo *memo, UserInput *u, char **err) {
  memset(u, 0, sizeof *u);
  int type = sqlite3_value_type(args[0]), has_age, d = 0, rc;
  double age;
  if (type != SQLITE_NULL && type != SQLITE_TEXT) {
    *err = sqlite3_mprintf("%s(): argument 1 (country) must be TEXT or NULL", fn);
    return SQLITE_ERROR;
  }
  rc = read_age((SpArg){fn, 2, "age"}, args[1], &has_age, &age, err);
  if (rc == SQLITE_OK) rc = track_dims(v, fn, &d, err);
  if (rc != SQLITE_OK) return rc;
  FeatureSums s;
  float *buf = sqlite3_malloc64((sqlite3_uint64)d * 3 * sizeof(float));
  if (buf == NULL || features_begin(&s, d) != 0) {
    sqlite3_free(buf);
    return SQLITE_NOMEM;
  }
  float *age_buf = buf + d, *country_buf = buf + 2 * d;
  const float *age_vec = NULL, *country_vec = NULL;
  rc = add_events(v, fn, args[2], strict, memo, &s, buf, u, err);
  sqlite3_stmt *st;
  if (rc == SQLITE_OK && has_age && (st = lookup(v, fn, ST_AGE, &rc, err)) != NULL) {
    sqlite3_bind_int(st, 1, features_age_class(age));
    rc = lookup_vector(v, fn, st, "feature_age_vectors", age_buf, d, &age_vec, err,
                       "age class %d", features_age_class(age));
    sqlite3_reset(st);
  }
  if (rc == SQLITE_OK && type == SQLITE_TEXT &&
      (st = lookup(v, fn, ST_COUNTRY, &rc, err)) != NULL) {
    sqlite3_bind_value(st, 1, args[0]);
    rc = lookup_vector(v, fn, st, "feature_country_vectors", country_buf, d, &country_vec, err,
                       "country %Q", sqlite3_value_text(args[0]));
    sqlite3_reset(st);
    u->unknown_country = rc == SQLITE_OK && country_vec == NULL;
    if (u->unknown_country && strict) {
      *err = sqlite3_mprintf("%s(): argument 1 (country): no country %Q in "
                             "feature_country_vectors", fn, sqlite3_value_text(args[0]));
      rc = SQLITE_ERROR;
    }
  }
  if (rc == SQLITE_OK) {
    u->n = (int)features_width(d);
    u->features = sqlite3_malloc64((sqlite3_uint64)u->n * sizeof(float));
    if (u->features == NULL) rc = SQLITE_NOMEM;
    else features_finish(&s, age_vec, country_vec, has_age ? age : 0, u->features);
  }
  features_free(&s);
  sqlite3_free(buf);
  return rc;
}

/* ---- recommendations --------------------------------------------------------- */

/* The options of this call into v->opts; parsed again only when their
** text differs from the last call's (a server repeats the same few). */
static int serve_options(ServeVtab *v, sqlite3_value *arg, char **err) {
  int given = arg && sqlite3_value_type(arg) != SQLITE_NULL;
  const char *text = given ? (const char *)sqlite3_value_text(arg) : "";
  if (text == NULL) return SQLITE_NOMEM;
  /* The key tells "no options" from any text. */
  char *key = sqlite3_mprintf("%c%s", given ? 'T' : '-', text);
  if (key == NULL) return SQLITE_NOMEM;
  if (v->options_key && strcmp(key, v->options_key) == 0) {
    sqlite3_free(key);
    return SQLITE_OK;
  }
  sqlite3_free(v->options_key);
  v->options_key = NULL;
  options_free(&v->opts);
  ServeOptions *o = &v->opts;
  o->k = 50;
  o->method = sqlite3_mprintf("semi");
  o->model = sqlite3_mprintf("user_embedder");
  o->segmentation = sqlite3_mprintf("warm_users");
  const SpOption spec[] = {
      {"method", SP_OPT_TEXT, 0, 0, 0, &o->method, "\"semi\" or \"full\""},
      {"k", SP_OPT_INT, 1, MAX_K, 0, &o->k, NULL},
      {"model", SP_OPT_TEXT, 0, 0, 0, &o->model, "the name of a model (train_embedder())"},
      {"segmentation", SP_OPT_TEXT, 0, 0, 0, &o->segmentation,
       "the name of a segmentation (train_segments())"},
      {"strict", SP_OPT_BOOL, 0, 0, 0, &o->strict, NULL},
  };
  int rc = o->method && o->model && o->segmentation
               ? sp_parse_options(v->db, RECOMMEND_FN, 4, arg, spec, SP_COUNT(spec), err)
               : SQLITE_NOMEM;
  if (rc == SQLITE_OK) {
    /* null leaves a name unset: refused like any other non-name. */
    const SpOption *bad = NULL;
    if (o->method == NULL || (strcmp(o->method, "semi") != 0 && strcmp(o->method, "full") != 0))
      bad = &spec[0];
    else if (o->model == NULL)
      bad = &spec[2];
    else if (o->segmentation == NULL)
      bad = &spec[3];
    if (bad) {
      *err = sqlite3_mprintf(RECOMMEND_FN "(): option \"%s\" must be %s", bad->key, bad->expect);
      rc = SQLITE_ERROR;
    }
  }
  if (rc != SQLITE_OK) {
    sqlite3_free(key);
    options_free(o);
    return rc;
  }
  o->full = strcmp(o->method, "full") == 0;
  v->options_key = key;
  return SQLITE_OK;
}

typedef struct {
  sqlite3_vtab_cursor base;
  int n, at;                 /* rows, current row */
  UserInput input;           /* user_input_features: its one row */
  LookupMemo memo;           /* kept from row to row: see LookupMemo */
  sqlite3_int64 segment;     /* recommend_cold_user: its rows */
  int *rank, score_is_count;
  sqlite3_int64 *track;
  double *score;
} ServeCursor;

/* Runs a one-value lookup of the models: embed_user or assign_segment. */
static int model_call(ServeVtab *v, int which, const char *name, const void *blob, int bytes,
                      sqlite3_stmt **out, char **err) {
  int rc;
  sqlite3_stmt *st = lookup(v, RECOMMEND_FN, which, &rc, err);
  if (st == NULL) return rc;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 2, blob, bytes, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) return step_failed(v, RECOMMEND_FN, st, rc, err);
  *out = st;
  return SQLITE_OK;
}

/* The lists: segment and rows of c, for the user's features. */
static int recommend(ServeVtab *v, ServeCursor *c, const UserInput *u, char **err) {
  const ServeOptions *o = &v->opts;
  sqlite3_stmt *st = NULL;
  float *emb = NULL;
  int bytes = 0;
  int rc = model_call(v, ST_EMBED, o->model, u->features, u->n * (int)sizeof(float), &st, err);
  if (rc == SQLITE_OK) {
    bytes = sqlite3_column_bytes(st, 0);
    emb = sqlite3_malloc(bytes > 0 ? bytes : 1);
    if (emb == NULL) rc = SQLITE_NOMEM;
    else memcpy(emb, sqlite3_column_blob(st, 0), (size_t)bytes);
    sqlite3_reset(st);
  }
  if (rc == SQLITE_OK) rc = model_call(v, ST_ASSIGN, o->segmentation, emb, bytes, &st, err);
  if (rc == SQLITE_OK) {
    c->segment = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    c->rank = sqlite3_malloc64((sqlite3_uint64)o->k * sizeof *c->rank);
    c->track = sqlite3_malloc64((sqlite3_uint64)o->k * sizeof *c->track);
    c->score = sqlite3_malloc64((sqlite3_uint64)o->k * sizeof *c->score);
    if (!c->rank || !c->track || !c->score) rc = SQLITE_NOMEM;
  }
  if (rc == SQLITE_OK) st = lookup(v, RECOMMEND_FN, o->full ? ST_FULL : ST_SEMI, &rc, err);
  if (rc == SQLITE_OK) {
    if (o->full) {
      sqlite3_bind_blob(st, 1, emb, bytes, SQLITE_STATIC);
      sqlite3_bind_int64(st, 2, o->k);
    } else {
      sqlite3_bind_text(st, 1, o->segmentation, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 2, c->segment);
      sqlite3_bind_int64(st, 3, o->k);
    }
    c->score_is_count = !o->full;
    while (c->n < o->k && (rc = sqlite3_step(st)) == SQLITE_ROW) {
      c->rank[c->n] = sqlite3_column_int(st, 0);
      c->track[c->n] = sqlite3_column_int64(st, 1);
      c->score[c->n] = sqlite3_column_double(st, 2);
      c->n++;
    }
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
    else step_failed(v, RECOMMEND_FN, st, rc, err);
    sqlite3_reset(st);
  }
  if (rc == SQLITE_OK && c->n == 0) {
    *err = o->full ? sqlite3_mprintf(RECOMMEND_FN "(): the table tracks is empty")
                   : sqlite3_mprintf(RECOMMEND_FN "(): segment_top_tracks has no tracks for "
                                     "segment %lld of segmentation '%s' (run "
                                     "sql/steps/top_tracks.sql after training it)",
                                     c->segment, o->segmentation);
    rc = SQLITE_ERROR;
  }
  sqlite3_free(emb);
  return rc;
}

/* ---- the virtual tables ---------------------------------------------------------- */

/* Columns: user_input_features   features, grouped_events, ignored_events,
**                                unknown_entities, unknown_country | country,
**                                age, events
**          recommend_cold_user   rank, track_id, score, segment_id | country,
**                                age, events, options */
#define N_VISIBLE(v) ((v)->recommend ? 4 : 5)

static int serve_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                         sqlite3_vtab **out, char **pzErr) {
  (void)aux;
  (void)argc;
  (void)pzErr;
  int recommend = strcmp(argv[0], RECOMMEND_FN) == 0;
  int rc = sqlite3_declare_vtab(
      db, recommend ? "CREATE TABLE x(rank, track_id, score, segment_id,"
                      " country HIDDEN, age HIDDEN, events HIDDEN, options HIDDEN)"
                    : "CREATE TABLE x(features, grouped_events, ignored_events,"
                      " unknown_entities, unknown_country,"
                      " country HIDDEN, age HIDDEN, events HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  /* Reads tables, writes nothing: usable in views (user_feature_vectors). */
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  ServeVtab *v = sqlite3_malloc(sizeof *v);
  if (v == NULL) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->db = db;
  v->recommend = recommend;
  *out = &v->base;
  return SQLITE_OK;
}

static int serve_disconnect(sqlite3_vtab *p) {
  ServeVtab *v = (ServeVtab *)p;
  for (int i = 0; i < N_STATEMENTS; i++) sqlite3_finalize(v->st[i]);
  options_free(&v->opts);
  sqlite3_free(v->options_key);
  sqlite3_free(v);
  return SQLITE_OK;
}

static int serve_best_index(sqlite3_vtab *p, sqlite3_index_info *info) {
  ServeVtab *v = (ServeVtab *)p;
  int first = N_VISIBLE(v), n_args = v->recommend ? 4 : 3;
  int where[4] = {-1, -1, -1, -1}, unusable = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    int arg = c->iColumn - first;
    if (arg < 0 || arg >= n_args || c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!c->usable) unusable |= 1 << arg;
    else where[arg] = i;
  }
  if (unusable) return SQLITE_CONSTRAINT;
  if (where[0] < 0 || where[1] < 0 || where[2] < 0) {
    sqlite3_free(p->zErrMsg);
    p->zErrMsg = sqlite3_mprintf(
        v->recommend ? RECOMMEND_FN "(country, age, events [, options]): the country, age and "
                                    "events arguments are required (NULL for unknown)"
                     : FEATURES_FN "(country, age, events): the country, age and events "
                                   "arguments are required (NULL for unknown)");
    return SQLITE_ERROR;
  }
  int argi = 1, mask = 0;
  for (int a = 0; a < n_args; a++) {
    if (where[a] < 0) continue;
    info->aConstraintUsage[where[a]].argvIndex = argi++;
    info->aConstraintUsage[where[a]].omit = 1;
    mask |= 1 << a;
  }
  info->idxNum = mask;
  if (v->recommend && info->nOrderBy == 1 && info->aOrderBy[0].iColumn == 0 &&
      !info->aOrderBy[0].desc)
    info->orderByConsumed = 1;
  info->estimatedCost = 100.0;
  info->estimatedRows = v->recommend ? 50 : 1;
  return SQLITE_OK;
}

static int serve_open(sqlite3_vtab *p, sqlite3_vtab_cursor **out) {
  (void)p;
  ServeCursor *c = sqlite3_malloc(sizeof *c);
  if (c == NULL) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *out = &c->base;
  return SQLITE_OK;
}

static void cursor_reset(ServeCursor *c) {
  sqlite3_free(c->input.features);
  sqlite3_free(c->rank);
  sqlite3_free(c->track);
  sqlite3_free(c->score);
  sqlite3_vtab *vtab = c->base.pVtab;
  LookupMemo memo = c->memo;
  memset(c, 0, sizeof *c);
  c->base.pVtab = vtab;
  c->memo = memo;
}

static int serve_close(sqlite3_vtab_cursor *cur) {
  cursor_reset((ServeCursor *)cur);
  memo_free(&((ServeCursor *)cur)->memo);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int serve_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                        sqlite3_value **argv) {
  (void)idxStr;
  (void)argc;
  ServeCursor *c = (ServeCursor *)cur;
  ServeVtab *v = (ServeVtab *)cur->pVtab;
  cursor_reset(c);
  char *err = NULL;
  int rc = SQLITE_OK;
  if (v->recommend) rc = serve_options(v, (idxNum & 8) ? argv[3] : NULL, &err);
  if (rc == SQLITE_OK)
    rc = user_input(v, v->recommend ? RECOMMEND_FN : FEATURES_FN, argv,
                    v->recommend && v->opts.strict, &c->memo, &c->input, &err);
  if (rc == SQLITE_OK && v->recommend) {
    rc = recommend(v, c, &c->input, &err);
  } else if (rc == SQLITE_OK) {
    c->n = 1;
  }
  if (rc != SQLITE_OK) {
    cursor_reset(c);
    if (err == NULL) return rc == SQLITE_NOMEM ? SQLITE_NOMEM : rc;
    sqlite3_free(v->base.zErrMsg);
    v->base.zErrMsg = err;
    return sp_error_code(rc);
  }
  return SQLITE_OK;
}

static int serve_next(sqlite3_vtab_cursor *cur) {
  ((ServeCursor *)cur)->at++;
  return SQLITE_OK;
}

static int serve_eof(sqlite3_vtab_cursor *cur) {
  ServeCursor *c = (ServeCursor *)cur;
  return c->at >= c->n;
}

static int serve_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  ServeCursor *c = (ServeCursor *)cur;
  ServeVtab *v = (ServeVtab *)cur->pVtab;
  if (v->recommend) {
    switch (col) {
      case 0: sqlite3_result_int(ctx, c->rank[c->at]); break;
      case 1: sqlite3_result_int64(ctx, c->track[c->at]); break;
      case 2:
        if (c->score_is_count) sqlite3_result_int64(ctx, (sqlite3_int64)c->score[c->at]);
        else sqlite3_result_double(ctx, c->score[c->at]);
        break;
      case 3: sqlite3_result_int64(ctx, c->segment); break;
      default: break; /* hidden arguments read back as NULL */
    }
    return SQLITE_OK;
  }
  const UserInput *u = &c->input;
  switch (col) {
    case 0: {
      float *copy = sqlite3_malloc64((sqlite3_uint64)u->n * sizeof(float));
      if (copy == NULL) return SQLITE_NOMEM;
      memcpy(copy, u->features, (size_t)u->n * sizeof(float));
      sp_result_vector(ctx, copy, u->n);
      break;
    }
    case 1: sqlite3_result_int64(ctx, u->grouped); break;
    case 2: sqlite3_result_int64(ctx, u->ignored); break;
    case 3: sqlite3_result_int64(ctx, u->unknown_entities); break;
    case 4: sqlite3_result_int(ctx, u->unknown_country); break;
    default: break;
  }
  return SQLITE_OK;
}

static int serve_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = ((ServeCursor *)cur)->at + 1;
  return SQLITE_OK;
}

static const sqlite3_module serve_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only */
    .xConnect = serve_connect,
    .xBestIndex = serve_best_index,
    .xDisconnect = serve_disconnect,
    .xOpen = serve_open,
    .xClose = serve_close,
    .xFilter = serve_filter,
    .xNext = serve_next,
    .xEof = serve_eof,
    .xColumn = serve_column,
    .xRowid = serve_rowid,
};

static const SpModule serve_modules[] = {
    {FEATURES_FN, &serve_module},
    {RECOMMEND_FN, &serve_module},
};

static const SpFunction serve_functions[] = {
    {"age_class", 1, SP_PURE, NULL, age_class_func, NULL, NULL, NULL, NULL},
};

const SpBinding sp_serve_binding = {serve_functions, SP_COUNT(serve_functions), serve_modules,
                                    SP_COUNT(serve_modules), 0, NULL};
