/*
** synth.c - synthesize_dataset([options JSON]) -> JSON summary: fills the
** dataset tables of sql/schema.sql with a synthetic Deezer-shaped dataset
** drawn by ext/core/synth.c (the model is described in synth.h).
**
**   SELECT synthesize_dataset();                       -- demo scale
**   SELECT synthesize_dataset('{"tracks": 50000, "warm": 70000,
**            "validation": 20000, "test": 10000, "dim": 128}');
**
** Options (JSON object; every key optional):
**   tracks 3000, warm 3000, validation 500, test 1000, dim 32, seed 0,
**   genres (8 + tracks / 2000, at most 64), countries 20 (1..30),
**   playlists (tracks / 20), replace false, quiet false.
** Unknown keys, wrong types and out-of-range values are errors naming the
** option.  The tables are created with sql/schema.sql's own DDL when
** missing.  When any dataset table (tracks, playlist_tracks, users,
** registration_events, future_listens, listens, user_features) holds rows
** it is an error, unless "replace": true, which empties them first.
** Everything happens inside one savepoint: on any error, including
** sqlite3_interrupt(), the database is left as it was.  Progress goes to
** stderr for runs of 20 000 users or more unless "quiet": true.
** Call it from a plain SELECT (not INSERT ... SELECT or CREATE TABLE AS:
** it opens its own savepoint).  An interrupt rolls back the caller's whole
** transaction, as SQLite does for any interrupted write.
** Deterministic: the same options give the same rows, whatever the number
** of threads that draw the users (the calling thread inserts while a team
** of team_default_size() draws the next block, ext/core/team.h).
*/
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../core/synth.h"
#include "../core/team.h"
#include "common.h"
#include "modules.h"
#include "options.h"
#include "query.h"
#include "schema_sql.h"

#define FN "synthesize_dataset"

static const char *const dataset_tables[] = {
    "tracks", "playlist_tracks", "users", "registration_events",
    "future_listens", "listens", "user_features"};
#define N_DATASET_TABLES (int)(sizeof dataset_tables / sizeof *dataset_tables)

typedef struct {
  SynthOptions synth;
  int replace, quiet;
} Options;

/* Reads the options object over the defaults already in o. */
static int parse_options(sqlite3 *db, sqlite3_value *arg, Options *o,
                         char **err) {
  SynthOptions *s = &o->synth;
  sqlite3_int64 tracks = s->tracks, warm = s->warm, validation = s->validation,
                test = s->test, dim = s->dim, genres = s->genres,
                countries = s->countries, playlists = s->playlists,
                seed = (sqlite3_int64)s->seed;
  const SpOption spec[] = {
      {"tracks", SP_OPT_INT, SYNTH_MIN_TRACKS, SYNTH_MAX_TRACKS, 0, &tracks, NULL},
      {"warm", SP_OPT_INT, 1, SYNTH_MAX_USERS, 0, &warm, NULL},
      {"validation", SP_OPT_INT, 0, SYNTH_MAX_USERS, 0, &validation, NULL},
      {"test", SP_OPT_INT, 0, SYNTH_MAX_USERS, 0, &test, NULL},
      {"dim", SP_OPT_INT, 2, SYNTH_MAX_DIM, 0, &dim, NULL},
      {"seed", SP_OPT_INT, 0, 9.2e18, 0, &seed, NULL},
      {"genres", SP_OPT_INT, 2, SYNTH_MAX_GENRES, 0, &genres, NULL},
      {"countries", SP_OPT_INT, 1, SYNTH_MAX_COUNTRIES, 0, &countries, NULL},
      {"playlists", SP_OPT_INT, 0, SYNTH_MAX_TRACKS, 0, &playlists, NULL},
      {"replace", SP_OPT_BOOL, 0, 0, 0, &o->replace, NULL},
      {"quiet", SP_OPT_BOOL, 0, 0, 0, &o->quiet, NULL},
  };
  int rc = sp_parse_options(db, FN, 1, arg, spec, (int)(sizeof spec / sizeof *spec), err);
  if (rc != SQLITE_OK) return rc;
  s->tracks = tracks;
  s->warm = warm;
  s->validation = validation;
  s->test = test;
  s->dim = (int)dim;
  s->genres = (int)genres;
  s->countries = (int)countries;
  s->playlists = playlists;
  s->seed = (uint64_t)seed;
  const char *msg = synth_check_options(s);
  if (msg) {
    *err = sqlite3_mprintf(FN "(): %s", msg);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/* Runs a one-row, one-integer query; -1 on error. */
static sqlite3_int64 query_int(sqlite3 *db, const char *sql, const char *arg) {
  sqlite3_stmt *st = NULL;
  sqlite3_int64 v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    if (arg) sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  return v;
}

/* SQLITE_OK when no dataset table holds rows (missing tables are empty). */
static int check_empty(sqlite3 *db, char **err) {
  for (int i = 0; i < N_DATASET_TABLES; i++) {
    const char *t = dataset_tables[i];
    if (query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
                  "AND name = ?1", t) <= 0)
      continue;
    char *sql = sqlite3_mprintf("SELECT EXISTS (SELECT 1 FROM \"%w\")", t);
    if (!sql) return SQLITE_NOMEM;
    sqlite3_int64 rows = query_int(db, sql, NULL);
    sqlite3_free(sql);
    if (rows != 0) {
      *err = sqlite3_mprintf(rows > 0
          ? FN "(): table %s is not empty; pass '{\"replace\": true}' to "
            "replace the dataset"
          : FN "(): cannot read table %s", t);
      return SQLITE_ERROR;
    }
  }
  return SQLITE_OK;
}

/* Bulk loading into indexed tables is several times slower than indexing
** afterwards, so the indexes of the dataset tables are dropped inside the
** savepoint and recreated from their own SQL once the rows are in; all but
** those of sql/schema.sql whose keys the rows arrive in the order of (user
** by user, playlist by playlist), which cost less to extend than to sort
** (and are extended while other threads draw users).  When
** SQLite refuses the drop (SQLITE_LOCKED: the calling statement itself
** reads the database) they simply stay. */
#define MAX_INDEXES 64
typedef struct {
  char *sql[MAX_INDEXES];
  int n;
} Indexes;

static int drop_indexes(sqlite3 *db, Indexes *idx) {
  sqlite3_stmt *st = NULL;
  char *names[MAX_INDEXES], *sqls[MAX_INDEXES];
  int n = 0, step = SQLITE_ROW;
  int rc = sqlite3_prepare_v2(db,
      "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL "
      "AND tbl_name IN ('tracks', 'playlist_tracks', 'users', "
      "'registration_events', 'future_listens', 'user_features') "
      "AND name NOT IN ('users_by_split', 'playlist_tracks_by_playlist', "
      "'registration_events_by_user', 'future_listens_by_user')", -1, &st, NULL);
  while (rc == SQLITE_OK && n < MAX_INDEXES && (step = sqlite3_step(st)) == SQLITE_ROW) {
    names[n] = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
    sqls[n] = sqlite3_mprintf("%s", sqlite3_column_text(st, 1));
    n++;
    if (!names[n - 1] || !sqls[n - 1]) rc = SQLITE_NOMEM;
  }
  /* A failed read (out of memory may have rolled the transaction back)
  ** must stop everything: going on would write outside the savepoint. */
  if (rc == SQLITE_OK && step != SQLITE_ROW && step != SQLITE_DONE) rc = step;
  sqlite3_finalize(st);
  for (int i = 0; i < n; i++) {
    int drc = SQLITE_ERROR;
    if (rc == SQLITE_OK) {
      char *sql = sqlite3_mprintf("DROP INDEX \"%w\"", names[i]);
      drc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
      sqlite3_free(sql);
      if (drc != SQLITE_OK && (drc & 0xff) != SQLITE_LOCKED) rc = drc;
    }
    if (drc == SQLITE_OK) idx->sql[idx->n++] = sqls[i]; /* owned by idx now */
    else sqlite3_free(sqls[i]);
    sqlite3_free(names[i]);
  }
  return rc;
}

/* CREATE INDEX sorts the table's keys: SQLite's sorter may hand parts of
** that sort to helper threads (the limit PRAGMA threads sets), one per
** CPU the team would use, for the time of these builds only. */
static int recreate_indexes(sqlite3 *db, const Indexes *idx) {
  int rc = SQLITE_OK;
  int threads = sqlite3_limit(db, SQLITE_LIMIT_WORKER_THREADS, team_default_size());
  for (int i = 0; i < idx->n && rc == SQLITE_OK; i++)
    rc = sqlite3_exec(db, idx->sql[i], NULL, NULL, NULL);
  sqlite3_limit(db, SQLITE_LIMIT_WORKER_THREADS, threads);
  return rc;
}

/* The inserts, each prepared twice: one statement of ROWS_PER_INSERT rows
** (a multi-row VALUES: several times faster per row than a statement
** stepped for each) and one of a single row for the rest.  Rows go in the
** order given, so every table gets the rowids a row at a time would. */
#define ROWS_PER_INSERT 64
enum { INS_TRACK, INS_PLAYLIST, INS_USER, INS_EVENT, INS_LISTEN, INS_HISTORY, N_INS };
static const struct {
  const char *head; /* INSERT INTO ... VALUES */
  int cols;
} insert_spec[N_INS] = {
    {"INSERT INTO tracks(track_id, album_id, artist_id, embedding) VALUES ", 4},
    {"INSERT INTO playlist_tracks(playlist_id, track_id) VALUES ", 2},
    {"INSERT INTO users(user_id, split, country, age, embedding) VALUES ", 5},
    {"INSERT INTO registration_events(user_id, action, entity, entity_id) VALUES ", 4},
    {"INSERT INTO future_listens(user_id, track_id) VALUES ", 2},
    {"INSERT INTO listens(user_id, track_id, plays) VALUES ", 3}};

typedef struct {
  sqlite3_stmt *many, *one;
  int cols;
} Insert;

static int prepare_insert(sqlite3 *db, int which, int rows, sqlite3_stmt **st) {
  sqlite3_str *sql = sqlite3_str_new(db);
  sqlite3_str_appendall(sql, insert_spec[which].head);
  for (int r = 0; r < rows; r++) {
    sqlite3_str_appendall(sql, r ? ", (?" : "(?");
    for (int c = 1; c < insert_spec[which].cols; c++) sqlite3_str_appendall(sql, ", ?");
    sqlite3_str_appendchar(sql, 1, ')');
  }
  char *text = sqlite3_str_finish(sql);
  if (!text) return SQLITE_NOMEM;
  int rc = sqlite3_prepare_v2(db, text, -1, st, NULL);
  sqlite3_free(text);
  return rc;
}

static int step_reset(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Binds the cursor's next row at parameters base + 1 .. base + cols and
** moves the cursor on. */
typedef void (*BindNext)(sqlite3_stmt *st, int base, void *cursor);

/* Inserts n rows, as many as can be ROWS_PER_INSERT at a time. */
static int insert_rows(const Insert *in, int64_t n, BindNext bind, void *cursor) {
  int rc = SQLITE_OK;
  int64_t i = 0;
  for (; i + ROWS_PER_INSERT <= n && rc == SQLITE_OK; i += ROWS_PER_INSERT) {
    for (int r = 0; r < ROWS_PER_INSERT; r++) bind(in->many, r * in->cols, cursor);
    rc = step_reset(in->many);
  }
  for (; i < n && rc == SQLITE_OK; i++) {
    bind(in->one, 0, cursor);
    rc = step_reset(in->one);
  }
  return rc;
}

typedef struct {
  sqlite3_int64 playlist_tracks, events, listens, history;
} Counts;

/* Cursors over the catalog: track k + 1; track j of playlist p + 1. */
typedef struct {
  const SynthModel *m;
  int64_t k, j;
} CatalogCursor;

static void bind_track(sqlite3_stmt *st, int base, void *cursor) {
  CatalogCursor *c = cursor;
  int64_t album, artist;
  const float *v;
  synth_track(c->m, c->k, &album, &artist, &v);
  sqlite3_bind_int64(st, base + 1, c->k + 1);
  sqlite3_bind_int64(st, base + 2, album);
  sqlite3_bind_int64(st, base + 3, artist);
  sqlite3_bind_blob(st, base + 4, v, synth_options(c->m)->dim * (int)sizeof(float),
                    SQLITE_STATIC);
  c->k++;
}

static void bind_playlist_track(sqlite3_stmt *st, int base, void *cursor) {
  CatalogCursor *c = cursor;
  const int64_t *ids;
  int len;
  for (synth_playlist(c->m, c->k, &ids, &len); c->j == len;
       synth_playlist(c->m, c->k, &ids, &len)) {
    c->k++;
    c->j = 0;
  }
  sqlite3_bind_int64(st, base + 1, c->k + 1);
  sqlite3_bind_int64(st, base + 2, ids[c->j++]);
}

/* Inserts the catalog: tracks, then playlists. */
static int insert_catalog(const SynthModel *m, const Insert *ins, Counts *n) {
  CatalogCursor c = {m, 0, 0};
  int rc = insert_rows(&ins[INS_TRACK], synth_options(m)->tracks, bind_track, &c);
  for (int64_t p = 0; p < synth_n_playlists(m); p++) {
    const int64_t *ids;
    int len;
    synth_playlist(m, p, &ids, &len);
    n->playlist_tracks += len;
  }
  c.k = c.j = 0;
  if (rc == SQLITE_OK)
    rc = insert_rows(&ins[INS_PLAYLIST], n->playlist_tracks, bind_playlist_track, &c);
  return rc;
}

/* A cursor over the users of a block: user k, and item j of its events,
** listens or history. */
typedef struct {
  const SynthUser *users;
  int64_t k;
  int j;
  int dim;
} UserCursor;

static void bind_user(sqlite3_stmt *st, int base, void *cursor) {
  UserCursor *c = cursor;
  const SynthUser *u = &c->users[c->k++];
  sqlite3_bind_int64(st, base + 1, u->user_id);
  sqlite3_bind_text(st, base + 2, synth_split_names[u->split], -1, SQLITE_STATIC);
  sqlite3_bind_text(st, base + 3, u->country, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, base + 4, u->age);
  if (u->embedding)
    sqlite3_bind_blob(st, base + 5, u->embedding, c->dim * (int)sizeof(float), SQLITE_STATIC);
  else
    sqlite3_bind_null(st, base + 5);
}

/* The user whose item c->j comes next, among items counted by the int
** field at count_offset (n_events, ...): users with none left are passed. */
static const SynthUser *item_owner(UserCursor *c, size_t count_offset) {
  while (c->j == *(const int *)((const char *)&c->users[c->k] + count_offset)) {
    c->k++;
    c->j = 0;
  }
  return &c->users[c->k];
}

static void bind_event(sqlite3_stmt *st, int base, void *cursor) {
  UserCursor *c = cursor;
  const SynthUser *u = item_owner(c, offsetof(SynthUser, n_events));
  const SynthEvent *e = &u->events[c->j++];
  sqlite3_bind_int64(st, base + 1, u->user_id);
  sqlite3_bind_text(st, base + 2, synth_action_names[e->action], -1, SQLITE_STATIC);
  sqlite3_bind_text(st, base + 3, synth_entity_names[e->entity], -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, base + 4, e->entity_id);
}

static void bind_listen(sqlite3_stmt *st, int base, void *cursor) {
  UserCursor *c = cursor;
  const SynthUser *u = item_owner(c, offsetof(SynthUser, n_listens));
  sqlite3_bind_int64(st, base + 1, u->user_id);
  sqlite3_bind_int64(st, base + 2, u->listens[c->j++]);
}

static void bind_history(sqlite3_stmt *st, int base, void *cursor) {
  UserCursor *c = cursor;
  const SynthUser *u = item_owner(c, offsetof(SynthUser, n_history));
  sqlite3_bind_int64(st, base + 1, u->user_id);
  sqlite3_bind_int64(st, base + 2, u->history_tracks[c->j]);
  sqlite3_bind_int(st, base + 3, u->history_plays[c->j++]);
}

/* Inserts the users of a block, table by table: each table gets its rows
** in user order, as one user at a time would give them. */
static int insert_users(const SynthBlock *b, int dim, const Insert *ins, Counts *n) {
  int64_t count, events = 0, listens = 0, history = 0;
  const SynthUser *users = synth_block_users(b, &count);
  for (int64_t k = 0; k < count; k++) {
    events += users[k].n_events;
    listens += users[k].n_listens;
    history += users[k].n_history;
  }
  UserCursor c = {users, 0, 0, dim};
  int rc = insert_rows(&ins[INS_USER], count, bind_user, &c);
  c.k = c.j = 0;
  if (rc == SQLITE_OK) rc = insert_rows(&ins[INS_EVENT], events, bind_event, &c);
  c.k = c.j = 0;
  if (rc == SQLITE_OK) rc = insert_rows(&ins[INS_LISTEN], listens, bind_listen, &c);
  c.k = c.j = 0;
  if (rc == SQLITE_OK) rc = insert_rows(&ins[INS_HISTORY], history, bind_history, &c);
  if (rc == SQLITE_OK) {
    n->events += events;
    n->listens += listens;
    n->history += history;
  }
  return rc;
}

/* Users are drawn in blocks of BLOCK_USERS: while member 0 of a team
** inserts block i, the other members draw block i + 1 (a share each) into
** the other half of a double buffer; a barrier closes every round.  Alone,
** member 0 draws and inserts in turn.  Every user has its own random
** stream (synth.h), so the rows do not depend on the team's size. */
#define BLOCK_USERS 512

typedef struct {
  const SynthModel *m;
  const Options *o;
  const Insert *ins;
  Counts *n;
  Team *team;
  SynthUserGen *gen[TEAM_MAX];
  SynthBlock *blocks[2][TEAM_MAX]; /* [round % 2][share] */
  int drawn[2][TEAM_MAX];          /* each share's result, SQLITE_OK or NOMEM */
  int stop[2];                     /* member 0's verdict on a round */
  int shares;                      /* blocks per round: drawing members */
  int64_t users, rounds;
  int rc;                          /* member 0's result */
} UserRounds;

/* Draws share s of round r with g. */
static int draw_share(UserRounds *ur, int64_t r, int s, SynthUserGen *g) {
  size_t lo, hi;
  int64_t first = r * BLOCK_USERS;
  int64_t len = ur->users - first < BLOCK_USERS ? ur->users - first : BLOCK_USERS;
  team_share((size_t)len, 1, s, ur->shares, &lo, &hi);
  int failed = synth_block_draw(g, ur->blocks[r % 2][s], first + (int64_t)lo,
                                (int64_t)(hi - lo));
  return failed ? SQLITE_NOMEM : SQLITE_OK;
}

/* Inserts round r's shares, in user order, and reports progress. */
static int insert_round(UserRounds *ur, int64_t r) {
  int rc = SQLITE_OK;
  int dim = synth_options(ur->m)->dim;
  for (int s = 0; s < ur->shares && rc == SQLITE_OK; s++)
    rc = insert_users(ur->blocks[r % 2][s], dim, ur->ins, ur->n);
  int64_t done = (r + 1) * BLOCK_USERS < ur->users ? (r + 1) * BLOCK_USERS : ur->users;
  int64_t tenth = ur->users / 10 > 0 ? ur->users / 10 : 1;
  if (rc == SQLITE_OK && !ur->o->quiet && ur->users >= 20000 &&
      done / tenth > (r * BLOCK_USERS) / tenth)
    fprintf(stderr, FN ": %lld / %lld users\n", (long long)(done / tenth * tenth),
            (long long)ur->users);
  return rc;
}

/* The verdicts and results of a round live in the half of the arrays of
** its parity: a member may still read round r's while member 0 writes
** round r + 1's. */
static void user_rounds_member(void *arg, int id, int n) {
  UserRounds *ur = arg;
  if (n == 1) {
    int rc = SQLITE_OK;
    for (int64_t r = 0; r < ur->rounds && rc == SQLITE_OK; r++) {
      rc = draw_share(ur, r, 0, ur->gen[0]);
      if (rc == SQLITE_OK) rc = insert_round(ur, r);
    }
    ur->rc = rc;
    return;
  }
  int rc = SQLITE_OK;
  if (id > 0) ur->drawn[0][id - 1] = draw_share(ur, 0, id - 1, ur->gen[id]);
  team_barrier(ur->team);
  for (int64_t r = 0; r < ur->rounds; r++) {
    if (id == 0) {
      for (int s = 0; s < ur->shares && rc == SQLITE_OK; s++) rc = ur->drawn[r % 2][s];
      if (rc == SQLITE_OK) rc = insert_round(ur, r);
      ur->stop[r % 2] = rc != SQLITE_OK;
    } else if (r + 1 < ur->rounds) {
      ur->drawn[(r + 1) % 2][id - 1] = draw_share(ur, r + 1, id - 1, ur->gen[id]);
    }
    team_barrier(ur->team);
    if (ur->stop[r % 2]) break;
  }
  if (id == 0) ur->rc = rc;
}

/* Draws and inserts every user with a team of team_default_size(). */
static int insert_all_users(const SynthModel *m, const Options *o, const Insert *ins,
                            Counts *n) {
  const SynthOptions *so = synth_options(m);
  UserRounds *ur = sqlite3_malloc(sizeof *ur);
  if (!ur) return SQLITE_NOMEM;
  memset(ur, 0, sizeof *ur);
  ur->m = m;
  ur->o = o;
  ur->ins = ins;
  ur->n = n;
  ur->users = so->warm + so->validation + so->test;
  ur->rounds = (ur->users + BLOCK_USERS - 1) / BLOCK_USERS;
  int size = team_default_size();
  ur->team = size > 1 && ur->users > BLOCK_USERS ? team_new(size) : NULL;
  int members = ur->team ? team_size(ur->team) : 1;
  ur->shares = members > 1 ? members - 1 : 1;
  int rc = SQLITE_OK;
  for (int i = 0; i < members && rc == SQLITE_OK; i++)
    if (!(ur->gen[i] = synth_user_gen_new(m))) rc = SQLITE_NOMEM;
  for (int h = 0; h < 2; h++)
    for (int s = 0; s < ur->shares && rc == SQLITE_OK; s++)
      if (!(ur->blocks[h][s] = synth_block_new())) rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK) {
    team_run(ur->team, user_rounds_member, ur);
    rc = ur->rc;
  }
  team_free(ur->team);
  for (int i = 0; i < members; i++) synth_user_gen_free(ur->gen[i]);
  for (int h = 0; h < 2; h++)
    for (int s = 0; s < ur->shares; s++) synth_block_free(ur->blocks[h][s]);
  sqlite3_free(ur);
  return rc;
}

static void summarise(sqlite3_context *ctx, const SynthModel *m, const Counts *n,
                      double seconds) {
  const SynthOptions *so = synth_options(m);
  sqlite3_str *s = sqlite3_str_new(sqlite3_context_db_handle(ctx));
  sp_json_open(s, '{');
  sp_json_int(s, "tracks", so->tracks);
  sp_json_int(s, "albums", synth_n_albums(m));
  sp_json_int(s, "artists", synth_n_artists(m));
  sp_json_int(s, "genres", so->genres);
  sp_json_int(s, "playlists", synth_n_playlists(m));
  sp_json_int(s, "playlist_tracks", n->playlist_tracks);
  sp_json_int(s, "warm", so->warm);
  sp_json_int(s, "validation", so->validation);
  sp_json_int(s, "test", so->test);
  sp_json_int(s, "countries", so->countries);
  sp_json_int(s, "dim", so->dim);
  sp_json_int(s, "seed", (sqlite3_int64)so->seed);
  sp_json_int(s, "registration_events", n->events);
  sp_json_int(s, "future_listens", n->listens);
  sp_json_int(s, "listens", n->history);
  sp_json_seconds(s, "seconds", seconds);
  sp_json_close(s, '}');
  sp_result_json(ctx, s);
}

static void synthesize_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  double t0 = sp_now();
  Options o;
  char *err = NULL;
  SynthModel *m = NULL;
  Insert ins[N_INS];
  Counts n = {0, 0, 0, 0};
  Indexes idx;
  idx.n = 0;
  int in_savepoint = 0, was_autocommit = sqlite3_get_autocommit(db);
  memset(&o, 0, sizeof o);
  synth_default_options(&o.synth);

  int rc = SQLITE_OK;
  if (argc == 1 && sqlite3_value_type(argv[0]) != SQLITE_NULL)
    rc = parse_options(db, argv[0], &o, &err);
  if (rc == SQLITE_OK && !o.replace) rc = check_empty(db, &err);
  if (rc == SQLITE_OK) {
    /* The catalog first: pure C, before anything is written. */
    m = synth_model_new(&o.synth);
    if (!m) rc = SQLITE_NOMEM;
  }
  if (rc == SQLITE_OK) rc = sp_check_interrupt(db);
  if (rc == SQLITE_OK) {
    rc = sqlite3_exec(db, "SAVEPOINT synthesize_dataset", NULL, NULL, NULL);
    in_savepoint = rc == SQLITE_OK;
    if (rc != SQLITE_OK) {
      rc = SQLITE_ERROR;
      err = sqlite3_mprintf(FN "(): call it from a plain SELECT, not from a "
                            "statement that writes (%s)", sqlite3_errmsg(db));
    }
  }
  /* The very DDL of sql/schema.sql, compiled in. */
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, sp_schema_sql, NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = drop_indexes(db, &idx);
  for (int i = 0; rc == SQLITE_OK && o.replace && i < N_DATASET_TABLES; i++) {
    char *sql = sqlite3_mprintf("DELETE FROM \"%w\"", dataset_tables[i]);
    rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
  }
  memset(ins, 0, sizeof ins);
  for (int i = 0; rc == SQLITE_OK && i < N_INS; i++) {
    ins[i].cols = insert_spec[i].cols;
    rc = prepare_insert(db, i, ROWS_PER_INSERT, &ins[i].many);
    if (rc == SQLITE_OK) rc = prepare_insert(db, i, 1, &ins[i].one);
  }
  if (rc == SQLITE_OK) rc = insert_catalog(m, ins, &n);
  if (rc == SQLITE_OK) rc = insert_all_users(m, &o, ins, &n);
  for (int i = 0; i < N_INS; i++) {
    sqlite3_finalize(ins[i].many);
    sqlite3_finalize(ins[i].one);
  }
  if (rc == SQLITE_OK) {
    if (!o.quiet && idx.n && o.synth.warm + o.synth.validation + o.synth.test >= 20000)
      fprintf(stderr, FN ": indexing\n");
    rc = recreate_indexes(db, &idx);
  }
  for (int i = 0; i < idx.n; i++) sqlite3_free(idx.sql[i]);
  if (rc == SQLITE_OK) {
    rc = sqlite3_exec(db, "RELEASE synthesize_dataset", NULL, NULL, NULL);
    if (rc == SQLITE_OK) in_savepoint = 0;
  }
  if (rc != SQLITE_OK && err == NULL) {
    err = rc == SQLITE_NOMEM ? NULL
        : rc == SQLITE_INTERRUPT ? sp_interrupted(FN, "the database is left as it was")
        : sqlite3_mprintf(FN "(): %s", sqlite3_errmsg(db));
  }
  /* An interrupted write rolls the whole transaction back by itself (the
  ** connection is back in autocommit mode); otherwise undo our savepoint. */
  if (rc != SQLITE_OK && in_savepoint &&
      !(sqlite3_get_autocommit(db) && !was_autocommit) &&
      !(sqlite3_get_autocommit(db) && rc == SQLITE_INTERRUPT)) {
    sqlite3_exec(db, "ROLLBACK TO synthesize_dataset; RELEASE synthesize_dataset",
                 NULL, NULL, NULL);
  }
  if (rc != SQLITE_OK) {
    sp_result_error_rc(ctx, rc, err);
  } else {
    summarise(ctx, m, &n, sp_now() - t0);
  }
  synth_model_free(m);
}

static const SpFunction synth_functions[] = {
    {FN, 0, SP_DIRECT | SP_SUBTYPED, NULL, synthesize_func, NULL, NULL, NULL, NULL},
    {FN, 1, SP_DIRECT | SP_SUBTYPED, NULL, synthesize_func, NULL, NULL, NULL, NULL},
};

const SpBinding sp_synth_binding = {synth_functions, SP_COUNT(synth_functions), NULL, 0, 0, NULL};
