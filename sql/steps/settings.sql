-- settings.sql - step 0 of the pipeline: the hyperparameters of this run.
--
-- Every key has the paper's default; a row in the `settings` table with the
-- same name overrides it, so a small database can carry its own values:
--   INSERT OR REPLACE INTO settings VALUES ('segments', 50);
-- The merged values land in the table `run_settings(name, value)` (a real
-- table, so each step can also run on its own).  The later steps read them
-- through the view `run_config`: the same values in one row, one column per
-- key, e.g. (SELECT top_k FROM run_config).
--
-- Three keys choose between this project's defaults and the public
-- reference code's behaviour (README.md, "Reference-faithful settings"):
-- ranking_metric, kmeans_n_init, pad_segments.  `features` says where
-- user_features come from: 'events' (sql/features.sql computes them from
-- registration_events) or 'given' (imported ready-made, as the public
-- release ships them); by default what dataset_info says (sql/schema.sql;
-- the release importer writes 'given'), else 'events'.  sql/features.sql,
-- which also runs alone, resolves it the same way from settings and
-- dataset_info.  The table run_notes(step, note) lists what a run does
-- differently for want of data.

CREATE TABLE IF NOT EXISTS settings(name TEXT PRIMARY KEY, value);

DROP TABLE IF EXISTS run_settings;
CREATE TABLE run_settings(name TEXT PRIMARY KEY, value);
INSERT INTO run_settings(name, value)
  SELECT d.name, coalesce(s.value, d.value)
  FROM (SELECT 'segments' AS name, 1000 AS value   -- k of the warm user k-means
        UNION ALL SELECT 'input_segments', 100      -- k of Input Features Clustering
        UNION ALL SELECT 'kmeans_iterations', 20
        UNION ALL SELECT 'kmeans_n_init', 1         -- k-means starts of both segmentations,
                                                    -- the lowest inertia kept (reference: 10)
        UNION ALL SELECT 'hidden', '[400,300,200]'  -- hidden layer widths
        UNION ALL SELECT 'epochs', 130
        UNION ALL SELECT 'learning_rate', 1e-5
        UNION ALL SELECT 'batch_size', 512
        UNION ALL SELECT 'weight_decay', 0
        UNION ALL SELECT 'validation_every', 0      -- score validation users every
                                                    -- N epochs (0: never)
        UNION ALL SELECT 'ranking_metric', 'cosine' -- Full-Pers. and Registration Day
                                                    -- Streams rank tracks by 'cosine' or by
                                                    -- 'dot', the raw inner product (reference)
        UNION ALL SELECT 'pad_segments', 1          -- 1: a segment's list shorter than
                                                    -- list_length continues with Popularity;
                                                    -- 0: it stays short (reference)
        UNION ALL SELECT 'features',                -- 'events' or 'given' (see above)
          coalesce((SELECT value FROM dataset_info WHERE name = 'features'), 'events')
        UNION ALL SELECT 'top_k', 50                -- K of `results` (lists are as long
                                                    -- as the largest K: list_length)
        UNION ALL SELECT 'eval_ks', '[25,50,100]'   -- results_at_k: also scored at these K
        UNION ALL SELECT 'activity_bins',           -- results_by_activity: lower bounds of
          '{"onboarding_likes":[0,1,3,5,7],"streams":[0,1,5,10,20,40],'
          || '"skips":[0,1,2,4,8],"interactions":[0,1]}'  -- the bins of each count
        UNION ALL SELECT 'popularity_bins', 10      -- recommended_popularity: rank bins
        UNION ALL SELECT 'top_countries', 5         -- ... and the countries shown apart
        UNION ALL SELECT 'embeddings', 'given'      -- or 'ut_als', 'tt_svd': compute the
                                                    -- vectors from the logs (steps/embeddings.sql)
        UNION ALL SELECT 'ut_als_options', '{"dim": 256, "iterations": 15}'  -- train_als's
        UNION ALL SELECT 'tt_svd_options', '{"dim": 128}'                    -- train_pmi_svd's
        UNION ALL SELECT 'baselines', 0             -- 1: also DropoutNet and MeLU
                                                    -- (steps/baselines.sql)
        -- their options (JSON objects, README.md "DropoutNet and MeLU"): the
        -- candidates sql/tune_baselines.sql chose on the demo's validation users
        UNION ALL SELECT 'dropoutnet_options', '{"learning_rate": 0.02, "dropout": 0.8}'
        UNION ALL SELECT 'melu_options', '{"global_lr": 5e-4, "local_lr": 5e-6}'
        UNION ALL SELECT 'seed', 0
        UNION ALL SELECT 'quiet', 0) AS d
  LEFT JOIN settings AS s ON s.name = d.name;

-- A database an earlier version ran on holds recommendations as a table
-- (one row per rank), now a view of steps/recommend.sql's
-- recommendation_lists.  SQL cannot drop "a table or a view" by one name, so
-- say what to do here, before any step has spent time.
SELECT raise_error('settings: recommendations is a table of an earlier version '
                   || '(one row per rank), now a view of recommendation_lists; '
                   || 'drop it once (DROP TABLE recommendations) and run again')
FROM sqlite_schema WHERE name = 'recommendations' AND type = 'table';

-- Keys in `settings` that no step reads are most likely typos: refuse them
-- rather than silently running with the default.
SELECT raise_error('settings: unknown key(s) ' || group_concat('"' || name || '"', ', ')
                   || '; known keys: ' || (SELECT group_concat(name, ', ') FROM run_settings))
FROM settings WHERE name NOT IN (SELECT name FROM run_settings)
HAVING count(*) > 0;

-- The analyses' settings (steps/analyze.sql), checked now rather than after
-- training.  eval_ks: a non-empty JSON array of integers >= 1.
SELECT raise_error('setting "eval_ks" must be a non-empty JSON array of integers >= 1, '
                   || 'e.g. ''[25,50,100]'', got ' || quote(s.value))
FROM run_settings AS s
WHERE s.name = 'eval_ks'
  AND NOT coalesce(CASE WHEN json_valid(s.value) THEN
        json_type(s.value) = 'array' AND json_array_length(s.value) > 0
        AND NOT EXISTS (SELECT 1 FROM json_each(s.value) AS k
                        WHERE k.type <> 'integer' OR k.value < 1) END, 0);

-- activity_bins: a JSON object naming some of the four counts, each with
-- the increasing lower bounds of its bins, the first 0 (every user falls
-- in one bin).
SELECT raise_error('setting "activity_bins" must be a JSON object mapping some of '
                   || 'onboarding_likes, streams, skips, interactions to increasing '
                   || 'integer lower bounds starting at 0, e.g. ''{"streams":[0,1,5]}'', got '
                   || quote(s.value))
FROM run_settings AS s
WHERE s.name = 'activity_bins'
  AND NOT coalesce(CASE WHEN json_valid(s.value) THEN
        json_type(s.value) = 'object'
        AND EXISTS (SELECT 1 FROM json_each(s.value))
        AND NOT EXISTS (
          SELECT 1 FROM json_each(s.value) AS a
          WHERE a.key NOT IN ('onboarding_likes', 'streams', 'skips', 'interactions')
             OR a.type <> 'array' OR json_array_length(a.value) = 0
             OR EXISTS (SELECT 1 FROM json_each(a.value) AS b
                        WHERE b.type <> 'integer' OR (b.key = 0 AND b.value <> 0)
                           OR (b.key > 0 AND b.value <= a.value ->> (b.key - 1)))) END, 0);

-- baselines: 0 or 1; the baselines' options: JSON objects.
SELECT raise_error('setting "baselines" must be 0 or 1, got ' || quote(value))
FROM run_settings WHERE name = 'baselines' AND value NOT IN (0, 1);
SELECT raise_error('setting "' || name || '" must be a JSON object, e.g. ''{"epochs": 5}'', got '
                   || quote(value))
FROM run_settings
WHERE name IN ('dropoutnet_options', 'melu_options')
  AND NOT coalesce(json_valid(value) AND json_type(value) = 'object', 0);

-- popularity_bins, top_countries, kmeans_n_init: integers >= 1 (n_init at
-- most 10000, as train_segments() takes it).
SELECT raise_error('setting "' || name || '" must be an integer >= 1'
                   || CASE WHEN name = 'kmeans_n_init' THEN ' and <= 10000' ELSE '' END
                   || ', got ' || quote(value))
FROM run_settings
WHERE name IN ('popularity_bins', 'top_countries', 'kmeans_n_init')
  AND NOT (typeof(value) = 'integer' AND value >= 1
           AND (name <> 'kmeans_n_init' OR value <= 10000));

-- The keys that take one of a few values.
SELECT raise_error('setting "' || name || '" must be ' || allowed || ', got ' || quote(value))
FROM (SELECT name, value,
             CASE name WHEN 'ranking_metric' THEN '''cosine'' or ''dot'''
                       WHEN 'pad_segments' THEN '0 or 1'
                       ELSE '''events'' or ''given''' END AS allowed,
             CASE name WHEN 'ranking_metric'
                         THEN typeof(value) = 'text' AND value IN ('cosine', 'dot')
                       WHEN 'pad_segments' THEN typeof(value) = 'integer' AND value IN (0, 1)
                       ELSE typeof(value) = 'text' AND value IN ('events', 'given') END AS ok
      FROM run_settings WHERE name IN ('ranking_metric', 'pad_segments', 'features'))
WHERE NOT ok;

-- What this run does differently for want of data, each step adding its
-- own notes (SELECT * FROM run_notes after a run).
DROP TABLE IF EXISTS run_notes;
CREATE TABLE run_notes(step TEXT NOT NULL, note TEXT NOT NULL);
INSERT INTO run_notes
  SELECT 'features.sql', 'features are given (by ' ||
         CASE WHEN EXISTS (SELECT 1 FROM settings WHERE name = 'features')
              THEN 'the setting "features"' ELSE 'dataset_info' END ||
         '): user_features is used as it is, not computed from registration events'
  FROM run_settings WHERE name = 'features' AND value = 'given';

-- Derived, not a setting: every recommended list is long enough for top_k
-- and for the largest of eval_ks.
INSERT INTO run_settings(name, value)
  SELECT 'list_length', max(CAST(t.value AS INTEGER), (SELECT max(value) FROM json_each(e.value)))
  FROM run_settings AS t, run_settings AS e
  WHERE t.name = 'top_k' AND e.name = 'eval_ks';

-- One row, a column per key, as the steps read them.
DROP VIEW IF EXISTS run_config;
CREATE VIEW run_config AS
  SELECT max(value) FILTER (WHERE name = 'segments')          AS segments,
         max(value) FILTER (WHERE name = 'input_segments')    AS input_segments,
         max(value) FILTER (WHERE name = 'kmeans_iterations') AS kmeans_iterations,
         max(value) FILTER (WHERE name = 'kmeans_n_init')     AS kmeans_n_init,
         max(value) FILTER (WHERE name = 'hidden')            AS hidden,
         max(value) FILTER (WHERE name = 'epochs')            AS epochs,
         max(value) FILTER (WHERE name = 'learning_rate')     AS learning_rate,
         max(value) FILTER (WHERE name = 'batch_size')        AS batch_size,
         max(value) FILTER (WHERE name = 'weight_decay')      AS weight_decay,
         max(value) FILTER (WHERE name = 'validation_every')  AS validation_every,
         max(value) FILTER (WHERE name = 'ranking_metric')    AS ranking_metric,
         max(value) FILTER (WHERE name = 'pad_segments')      AS pad_segments,
         max(value) FILTER (WHERE name = 'features')          AS features,
         max(value) FILTER (WHERE name = 'top_k')             AS top_k,
         max(value) FILTER (WHERE name = 'seed')              AS seed,
         max(value) FILTER (WHERE name = 'quiet')             AS quiet,
         max(value) FILTER (WHERE name = 'eval_ks')           AS eval_ks,
         max(value) FILTER (WHERE name = 'activity_bins')     AS activity_bins,
         max(value) FILTER (WHERE name = 'popularity_bins')   AS popularity_bins,
         max(value) FILTER (WHERE name = 'top_countries')     AS top_countries,
         max(value) FILTER (WHERE name = 'list_length')       AS list_length,
         max(value) FILTER (WHERE name = 'embeddings')        AS embeddings,
         max(value) FILTER (WHERE name = 'ut_als_options')    AS ut_als_options,
         max(value) FILTER (WHERE name = 'tt_svd_options')    AS tt_svd_options,
         max(value) FILTER (WHERE name = 'baselines')         AS baselines,
         max(value) FILTER (WHERE name = 'dropoutnet_options') AS dropoutnet_options,
         max(value) FILTER (WHERE name = 'melu_options')      AS melu_options
  FROM run_settings;

-- The view must name every key (one added above and forgotten there would
-- read as NULL).
SELECT raise_error('settings.sql: run_config lacks the key(s) ' || group_concat(name, ', '))
FROM run_settings WHERE name NOT IN (SELECT name FROM pragma_table_info('run_config'))
HAVING count(*) > 0;
