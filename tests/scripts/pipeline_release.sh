#!/bin/sh
# sql/pipeline.sql on databases like the public release: features given, no
# registration events, countries or artists.
# 1. The release fixture of release_import.sh (200 users, 300 songs), imported
#    for both spaces (both kept by tests/release/fixture.sh), through the pipeline with
#    the reference code's settings (sql/reference_settings.sql; in the plain
#    variant by tools/reproduce_table1.sh, the command `make table1` runs):
#    all five methods in results with values in range, the notes of what
#    was read from the features, user_features untouched, no padded segment
#    list, 10 k-means starts, descriptions without countries or artists; and
#    tests/release/check_pipeline.py recomputes Full-Pers., Registration Day
#    Streams and the activity counts with numpy.
# 2. What a step needs and the database lacks is a clear error: features
#    computed from events the release does not have, given features missing
#    for a user or of the wrong length.
# 3. On a synthetic database, features computed by sql/features.sql then
#    declared given (and the registration events deleted) give exactly the
#    tables of the run that computes them from the events.
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SO=${SEMIPERSO_SO:-$(pwd)/semiperso}
PRELOAD=${SEMIPERSO_PRELOAD:-}

sql() { # sql DB: the extension loaded, commands from stdin
  LD_PRELOAD="$PRELOAD" sqlite3 -batch "$1" -cmd ".load $SO"
}

# ---- 1. the release fixture ------------------------------------------------
(
  unset LD_PRELOAD
  . tests/release/fixture.sh
  release=$(fixture good --users 200 --songs 300)
  cp "$(imported "$release")"/deezer_*.db "$tmp"
  echo "$release" > "$tmp/release"
)
for space in svd mf; do
  db="$tmp/deezer_$space.db"
  sql "$db" <<'SQL'
INSERT INTO settings VALUES ('segments', 8), ('input_segments', 4), ('epochs', 3),
  ('learning_rate', 0.001), ('kmeans_iterations', 10), ('quiet', 1);
CREATE TABLE features_before AS SELECT * FROM user_features;
SQL
  if [ "$space" = svd ] && [ -z "$PRELOAD" ]; then
    SEMIPERSO_SO="$SO" sh tools/reproduce_table1.sh "$(cat "$tmp/release")" svd "$tmp" \
      >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
    grep -q "not imported again" "$tmp/err" || { cat "$tmp/err"; exit 1; }
    grep -q "semi_personalized" "$tmp/out" || { echo "no results table printed"; exit 1; }
  else
    printf '.read sql/reference_settings.sql\n.read sql/pipeline.sql\n' | sql "$db" \
      >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
  fi
  for note in "features.sql: features are given (by dataset_info)" \
              "recommend.sql: registration_day_streams: the mean vector" \
              "analyze.sql: results_by_activity" "top_country and country_share are NULL" \
              "top_artists is NULL"; do
    grep -qF "$note" "$tmp/out" || { echo "$space: no note \"$note\""; cat "$tmp/out"; exit 1; }
  done
  sql "$db" >"$tmp/check" <<'SQL'
.mode list
SELECT 'settings', ranking_metric = 'dot' AND pad_segments = 0 AND kmeans_n_init = 10
  AND features = 'given' FROM run_config;
SELECT 'methods', count(*) = 5 FROM results WHERE method IN ('semi_personalized',
  'full_personalized', 'popularity', 'registration_day_streams', 'input_features_clustering');
SELECT 'in_range', count(*) = 0 FROM results
  WHERE NOT (precision BETWEEN 0 AND 100 AND recall BETWEEN 0 AND 100 AND ndcg BETWEEN 0 AND 100
             AND precision_sd >= 0 AND k = 50
             AND users = (SELECT count(DISTINCT user_id) FROM future_listens
                          JOIN users USING (user_id) WHERE split = 'test'));
SELECT 'features_kept', (SELECT count(*) FROM user_features) = (SELECT count(*) FROM users)
  AND NOT EXISTS (SELECT * FROM user_features EXCEPT SELECT * FROM features_before);
SELECT 'no_padding', count(*) > 0 AND count(*) FILTER (WHERE listeners = 0) = 0
  FROM segment_top_tracks;
SELECT 'n_init', count(*) = 2 FROM semiperso_segmentations WHERE options ->> 'n_init' = 10;
SELECT 'descriptions', count(*) > 0 AND count(top_country) = 0 AND count(top_artists) = 0
  AND count(top_age_class) > 0 AND sum(size) = (SELECT count(*) FROM users WHERE split = 'warm')
  FROM segment_descriptions;
SELECT 'activity_bins', count(DISTINCT bin) > 1 FROM results_by_activity
  WHERE activity = 'streams';
SELECT 'analyses', (SELECT count(DISTINCT method) FROM results_at_k) = 5
  AND (SELECT count(DISTINCT method) FROM recommended_popularity) = 5;
SQL
  cat "$tmp/check"
  if grep -q '|0$' "$tmp/check"; then echo "$space: a check failed"; exit 1; fi
  [ "$(grep -c '|1$' "$tmp/check")" = 9 ]
  /usr/bin/python3 tests/release/check_pipeline.py "$db"
done

# ---- 2. data the database lacks ----------------------------------------------
db="$tmp/deezer_svd.db"
expect_error() { # expect_error MESSAGE: the SQL on stdin must fail so
  if sql "$db" >"$tmp/out" 2>"$tmp/err"; then echo "expected an error: $1"; exit 1; fi
  grep -qF "$1" "$tmp/err" || { echo "expected \"$1\", got:"; cat "$tmp/err"; exit 1; }
}
expect_error "features.sql: dataset_info says registration_events are absent" <<'SQL'
.bail on
INSERT INTO settings VALUES ('features', 'events');
.read sql/pipeline.sql
SQL
sql "$db" <<'SQL' >"$tmp/out"
SELECT 'still given', NOT EXISTS (SELECT * FROM user_features EXCEPT SELECT * FROM features_before);
SQL
grep -q '|1$' "$tmp/out" || { echo "the refused run changed user_features"; exit 1; }
expect_error "features.sql: the features are given, but 1 users have no row in user_features" <<'SQL'
.bail on
DELETE FROM settings WHERE name = 'features';
DELETE FROM user_features WHERE user_id = (SELECT max(user_id) FROM users WHERE split = 'test');
.read sql/pipeline.sql
SQL
expect_error "has 2578 floats in user_features where the layout above has 20 d + 19 = 2579" <<'SQL'
.bail on
INSERT OR REPLACE INTO user_features SELECT * FROM features_before;
INSERT OR REPLACE INTO user_features
  SELECT user_id, substr(features, 1, 4 * 2578) FROM features_before LIMIT 1;
.read sql/features.sql
SQL

# ---- 3. given = events on a synthetic database -------------------------------
synthetic() { # synthetic DB: a small dataset and its settings
  sql "$1" >/dev/null <<'SQL'
.bail on
SELECT synthesize_dataset('{"tracks": 1000, "warm": 500, "validation": 50, "test": 150,
  "dim": 8, "seed": 9, "quiet": true}');
INSERT INTO settings VALUES ('segments', 20), ('input_segments', 8), ('epochs', 5),
  ('learning_rate', 0.002), ('kmeans_iterations', 10), ('quiet', 1);
SQL
}
synthetic "$tmp/events.db"
synthetic "$tmp/given.db"
sql "$tmp/events.db" <<'SQL' >/dev/null
.bail on
.read sql/pipeline.sql
SQL
sql "$tmp/given.db" <<'SQL' >"$tmp/given.out"
.bail on
.read sql/features.sql
INSERT INTO settings VALUES ('features', 'given');
DELETE FROM registration_events;
.read sql/pipeline.sql
SQL
grep -q "features are given (by the setting" "$tmp/given.out" || { cat "$tmp/given.out"; exit 1; }
sql "$tmp/given.db" >"$tmp/same" <<SQL
ATTACH '$tmp/events.db' AS e;
.mode list
SELECT 'events run has no note', count(*) = 0 FROM e.run_notes;
SELECT 'given run has notes', count(*) = 3 FROM main.run_notes;
SQL
for table in results results_at_k results_by_activity user_activity recommendations \
             segment_top_tracks segment_descriptions recommended_popularity cold_embeddings; do
  sql "$tmp/given.db" >>"$tmp/same" <<SQL
ATTACH '$tmp/events.db' AS e;
SELECT 'same $table', (SELECT count(*) FROM main.$table) > 0
  AND (SELECT count(*) FROM main.$table) = (SELECT count(*) FROM e.$table)
  AND NOT EXISTS (SELECT * FROM main.$table EXCEPT SELECT * FROM e.$table);
SQL
done
cat "$tmp/same"
if grep -q '|0$' "$tmp/same"; then echo "the given and events runs differ"; exit 1; fi
[ "$(grep -c '|1$' "$tmp/same")" = 11 ]
echo "pipeline on release-like databases ok"
