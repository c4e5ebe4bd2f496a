-- analyze.sql - step 8: the paper's analyses beyond Table 1, on the test
-- users scored by steps/evaluate.sql (same relevant sets, same folds).
--
-- results_at_k         Table 1 at every K of the eval_ks setting (the paper:
--                      "consistent model rankings for @25 and @100")
-- results_by_activity  the metrics by registration-day activity (Fig. 4):
--                      onboarding likes, streams, skips, and all events
--                      ("interactions", whose bin 0 is the users with none)
-- recommended_popularity  recommended tracks by popularity rank (Fig. 5),
--                      over all test users and per top country
-- Kept on the way: user_metrics_at_k, user_activity.  Popularity ranks
-- come from track_popularity (steps/top_tracks.sql).
-- Means are in percent over users; *_sd is, as in results, the sample
-- standard deviation of the 10 fold means of evaluation_folds (a fold with
-- no user of a bin does not count; NULL when fewer than 2 folds have one).

-- What this step reads, with a message that says what to run when missing.
SELECT raise_error('analyze.sql: no table ' || t.name
                   || '; run the earlier steps first (sql/pipeline.sql)')
FROM (SELECT 'run_config' AS name UNION ALL SELECT 'recommendation_lists'
      UNION ALL SELECT 'evaluation_lists' UNION ALL SELECT 'evaluation_folds'
      UNION ALL SELECT 'track_popularity' UNION ALL SELECT 'feature_groups'
      UNION ALL SELECT 'run_notes') AS t
WHERE NOT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = t.name)
LIMIT 1;
SELECT raise_error('analyze.sql: run_config has no "' || t.name
                   || '"; re-run steps/settings.sql')
FROM (SELECT 'eval_ks' AS name UNION ALL SELECT 'activity_bins'
      UNION ALL SELECT 'popularity_bins' UNION ALL SELECT 'top_countries'
      UNION ALL SELECT 'features') AS t
WHERE t.name NOT IN (SELECT name FROM pragma_table_info('run_config'))
LIMIT 1;

-- Precision, recall and NDCG of every (method, K, test user), K from
-- eval_ks, on the lists evaluate.sql scored (long enough for every K:
-- steps/recommend.sql).
DROP TABLE IF EXISTS user_metrics_at_k;
CREATE TABLE user_metrics_at_k(
  method    TEXT NOT NULL,
  k         INTEGER NOT NULL,
  user_id   INTEGER NOT NULL,
  precision REAL,
  recall    REAL,
  ndcg      REAL,
  PRIMARY KEY (method, k, user_id)
) WITHOUT ROWID;
INSERT INTO user_metrics_at_k
  SELECT l.method, k.value, l.user_id, precision_at(l.tracks, l.relevant, k.value),
         recall_at(l.tracks, l.relevant, k.value), ndcg_at(l.tracks, l.relevant, k.value)
  FROM evaluation_lists AS l,
       (SELECT DISTINCT value FROM json_each((SELECT eval_ks FROM run_config))) AS k;

-- Registration-day activity of every test user: events of each kind (an
-- entity met twice counts twice), and all events together; from
-- registration_events, or when the features are given (setting features;
-- the public release has no events) from their 18 counts (the scalars at
-- 20 d + group_index - 2 of the layout of sql/features.sql), which count
-- the events of the 18 (action, entity) groups.
DROP TABLE IF EXISTS user_activity;
CREATE TABLE user_activity(
  user_id          INTEGER PRIMARY KEY,
  onboarding_likes INTEGER NOT NULL,  -- action 'onboarding_like'
  streams          INTEGER NOT NULL,  -- action 'stream' (tracks, albums, artists)
  skips            INTEGER NOT NULL,  -- action 'skip'
  interactions     INTEGER NOT NULL   -- every registration-day event
);
INSERT INTO user_activity
  SELECT u.user_id,
         count(CASE WHEN e.action = 'onboarding_like' THEN 1 END),
         count(CASE WHEN e.action = 'stream' THEN 1 END),
         count(CASE WHEN e.action = 'skip' THEN 1 END),
         count(e.user_id)
  FROM users AS u LEFT JOIN registration_events AS e USING (user_id)
  WHERE u.split = 'test' AND (SELECT features FROM run_config) = 'events'
  GROUP BY u.user_id;
INSERT INTO user_activity
  SELECT u.user_id,
         CAST(total(CASE WHEN g.action = 'onboarding_like' THEN c.value END) AS INTEGER),
         CAST(total(CASE WHEN g.action = 'stream' THEN c.value END) AS INTEGER),
         CAST(total(CASE WHEN g.action = 'skip' THEN c.value END) AS INTEGER),
         CAST(total(c.value) AS INTEGER)
  FROM users AS u
  JOIN user_features AS f USING (user_id),
       (SELECT vec_length(embedding) AS d FROM tracks LIMIT 1) AS t,
       json_each(vec_to_json(substr(f.features, 4 * 20 * t.d + 1, 4 * 18))) AS c
  JOIN feature_groups AS g ON g.group_index = c.key + 2
  WHERE u.split = 'test' AND (SELECT features FROM run_config) = 'given'
  GROUP BY u.user_id;
INSERT INTO run_notes
  SELECT 'analyze.sql', 'results_by_activity: registration-day activity is read from the '
         || 'event counts of the given features, not from registration events'
  FROM run_config WHERE features = 'given';

-- The bins of the activity_bins setting: bin i of an activity holds the
-- counts from its i-th lower bound up to the next one (excluded); the last
-- bin is open.  Labels read "0", "1-2", "5+".
DROP TABLE IF EXISTS temp.activity_bin_bounds;
CREATE TEMP TABLE activity_bin_bounds(
  activity TEXT, bin INTEGER, low INTEGER, high INTEGER, label TEXT,
  PRIMARY KEY (activity, bin));
INSERT INTO activity_bin_bounds
  SELECT activity, bin, low, high,
         CASE WHEN high IS NULL THEN low || '+' WHEN high = low THEN CAST(low AS TEXT)
              ELSE low || '-' || high END
  FROM (SELECT a.key AS activity, b.key AS bin, b.value AS low,
               a.value ->> (b.key + 1) - 1 AS high
        FROM json_each((SELECT activity_bins FROM run_config)) AS a,
             json_each(a.value) AS b);

-- Each test user's bin of each activity.
DROP TABLE IF EXISTS temp.user_activity_bins;
CREATE TEMP TABLE user_activity_bins(
  activity TEXT, bin INTEGER, user_id INTEGER, PRIMARY KEY (activity, bin, user_id));
INSERT INTO user_activity_bins
  SELECT b.activity, b.bin, u.user_id
  FROM user_activity AS u JOIN activity_bin_bounds AS b
    ON CASE b.activity WHEN 'onboarding_likes' THEN u.onboarding_likes
                       WHEN 'streams' THEN u.streams
                       WHEN 'skips' THEN u.skips
                       ELSE u.interactions END
       BETWEEN b.low AND coalesce(b.high, 9223372036854775807);

-- One summary for both tables: the rows of every group (all test users,
-- activity 'all'; or one activity bin), their means and the spread of
-- their fold means.
DROP TABLE IF EXISTS temp.metric_summary;
CREATE TEMP TABLE metric_summary AS
  WITH grouped AS MATERIALIZED (
    SELECT method, k, 'all' AS activity, 0 AS bin, user_id, precision, recall, ndcg
    FROM user_metrics_at_k
    UNION ALL
    SELECT m.method, m.k, b.activity, b.bin, m.user_id, m.precision, m.recall, m.ndcg
    FROM user_metrics_at_k AS m JOIN user_activity_bins AS b USING (user_id)),
  fold_means AS (
    SELECT g.method, g.k, g.activity, g.bin, 100 * avg(g.precision) AS p,
           100 * avg(g.recall) AS r, 100 * avg(g.ndcg) AS n
    FROM grouped AS g JOIN evaluation_folds AS f USING (user_id)
    GROUP BY g.method, g.k, g.activity, g.bin, f.repetition, f.fold),
  spread AS (
    SELECT method, k, activity, bin,
           sqrt(sum((p - mp) * (p - mp)) / (count(p) - 1)) AS p_sd,
           sqrt(sum((r - mr) * (r - mr)) / (count(r) - 1)) AS r_sd,
           sqrt(sum((n - mn) * (n - mn)) / (count(n) - 1)) AS n_sd
    FROM (SELECT *, avg(p) OVER w AS mp, avg(r) OVER w AS mr, avg(n) OVER w AS mn
          FROM fold_means WINDOW w AS (PARTITION BY method, k, activity, bin))
    GROUP BY method, k, activity, bin)
  SELECT g.method, g.k, g.activity, g.bin,
         100 * avg(g.precision) AS precision, s.p_sd AS precision_sd,
         100 * avg(g.recall) AS recall, s.r_sd AS recall_sd,
         100 * avg(g.ndcg) AS ndcg, s.n_sd AS ndcg_sd,
         count(g.precision) AS users
  FROM grouped AS g JOIN spread AS s USING (method, k, activity, bin)
  GROUP BY g.method, g.k, g.activity, g.bin;

-- results_at_k: the columns of results, one row per (method, K).
DROP TABLE IF EXISTS results_at_k;
CREATE TABLE results_at_k(
  method       TEXT NOT NULL,
  k            INTEGER NOT NULL,
  precision    REAL, precision_sd REAL,
  recall       REAL, recall_sd    REAL,
  ndcg         REAL, ndcg_sd      REAL,
  users        INTEGER,
  PRIMARY KEY (method, k)
);
INSERT INTO results_at_k
  SELECT method, k, precision, precision_sd, recall, recall_sd, ndcg, ndcg_sd, users
  FROM temp.metric_summary WHERE activity = 'all';

-- results_by_activity: one row per (method, K, activity, bin) holding at
-- least one test user with a relevant set; low..high is the bin's range of
-- counts (high NULL: open), users those test users.
DROP TABLE IF EXISTS results_by_activity;
CREATE TABLE results_by_activity(
  method       TEXT NOT NULL,
  k            INTEGER NOT NULL,
  activity     TEXT NOT NULL,
  bin          INTEGER NOT NULL,
  label        TEXT NOT NULL,
  low          INTEGER NOT NULL,
  high         INTEGER,
  users        INTEGER,
  precision    REAL, precision_sd REAL,
  recall       REAL, recall_sd    REAL,
  ndcg         REAL, ndcg_sd      REAL,
  PRIMARY KEY (method, k, activity, bin)
);
INSERT INTO results_by_activity
  SELECT s.method, s.k, s.activity, s.bin, b.label, b.low, b.high, s.users,
         s.precision, s.precision_sd, s.recall, s.recall_sd, s.ndcg, s.ndcg_sd
  FROM temp.metric_summary AS s JOIN activity_bin_bounds AS b USING (activity, bin)
  WHERE s.users > 0;

-- recommended_popularity: the top_k recommendations of the test users by
-- popularity rank bin (popularity_bins bins of equal width over the
-- catalogue), per method, for all test users (country NULL) and for the
-- top_countries countries with most test users.  recommendations counts
-- (user, track) pairs; share is their fraction of the method's pairs in
-- that scope; users is the scope's test users.  Every bin has a row.
DROP TABLE IF EXISTS recommended_popularity;
CREATE TABLE recommended_popularity(
  method          TEXT NOT NULL,
  country         TEXT,             -- NULL: all test users
  users           INTEGER NOT NULL,
  bin             INTEGER NOT NULL,
  rank_from       INTEGER NOT NULL,
  rank_to         INTEGER NOT NULL,
  recommendations INTEGER NOT NULL,
  share           REAL
);

-- The rank bins: popularity_bins bins of equal width over the ranks of
-- track_popularity (the last one may be shorter; fewer bins when there are
-- fewer tracks than popularity_bins).
DROP TABLE IF EXISTS temp.popularity_rank_bins;
CREATE TEMP TABLE popularity_rank_bins(bin INTEGER PRIMARY KEY, rank_from INTEGER,
                                       rank_to INTEGER);
INSERT INTO popularity_rank_bins
  WITH RECURSIVE width AS (
    SELECT (n + b - 1) / b AS width, n
    FROM (SELECT count(*) AS n FROM track_popularity),
         (SELECT popularity_bins AS b FROM run_config)),
  bins(bin, rank_from, rank_to) AS (
    SELECT 0, 1, min(width, n) FROM width WHERE n > 0
    UNION ALL
    SELECT bin + 1, rank_to + 1, min(rank_to + width, n) FROM bins, width WHERE rank_to < n)
  SELECT * FROM bins;

-- One pass over the test users' lists (their first top_k tracks), by
-- (method, country, bin); the scope of all users sums the countries (NULL
-- country included).
DROP TABLE IF EXISTS temp.popularity_counts;
CREATE TEMP TABLE popularity_counts AS
  SELECT l.method, u.country,
         (p.rank - 1) / (SELECT rank_to FROM popularity_rank_bins WHERE bin = 0) AS bin,
         count(*) AS recommendations
  FROM recommendation_lists AS l
  JOIN users AS u USING (user_id),
       json_each(l.tracks) AS r
  JOIN track_popularity AS p ON p.track_id = r.value
  WHERE u.split = 'test'
    AND r.key < (SELECT top_k FROM run_config)
  GROUP BY l.method, u.country, bin;

INSERT INTO recommended_popularity
  WITH scopes(country, users) AS (
    SELECT NULL, count(*) FROM users WHERE split = 'test'
    UNION ALL
    SELECT * FROM (SELECT country, count(*) FROM users
                   WHERE split = 'test' AND country IS NOT NULL
                   GROUP BY country ORDER BY count(*) DESC, country
                   LIMIT (SELECT top_countries FROM run_config))),
  counted AS (
    SELECT method, NULL AS country, bin, sum(recommendations) AS recommendations
    FROM temp.popularity_counts GROUP BY method, bin
    UNION ALL
    SELECT method, country, bin, recommendations
    FROM temp.popularity_counts WHERE country IN (SELECT country FROM scopes)),
  methods AS (SELECT DISTINCT method FROM counted)
  SELECT m.method, s.country, s.users, b.bin, b.rank_from, b.rank_to,
         coalesce(c.recommendations, 0),
         coalesce(c.recommendations, 0) * 1.0
           / sum(coalesce(c.recommendations, 0)) OVER (PARTITION BY m.method, s.country)
  FROM methods AS m, scopes AS s, temp.popularity_rank_bins AS b
  LEFT JOIN counted AS c
    ON c.method = m.method AND c.country IS s.country AND c.bin = b.bin;
