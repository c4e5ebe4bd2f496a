-- settings.sql - step 0 of the pipeline: the hyperparameters of this run.
--
-- Every key has the paper's default; a row in the `settings` table with the
-- same name overrides it, so a small database can carry its own values:
--   INSERT OR REPLACE INTO settings VALUES ('segments', 50);
-- The merged values land in the table `run_settings(name, value)` (a real
-- table, so each step can also run on its own).  The later steps read them
-- through the view `run_config`: the same values in one row, one column per
-- key, e.g. (SELECT top_k FROM run_config).

CREATE TABLE IF NOT EXISTS settings(name TEXT PRIMARY KEY, value);

DROP TABLE IF EXISTS run_settings;
CREATE TABLE run_settings(name TEXT PRIMARY KEY, value);
INSERT INTO run_settings(name, value)
  SELECT d.name, coalesce(s.value, d.value)
  FROM (SELECT 'segments' AS name, 1000 AS value   -- k of the warm user k-means
        UNION ALL SELECT 'input_segments', 100      -- k of Input Features Clustering
        UNION ALL SELECT 'kmeans_iterations', 20
        UNION ALL SELECT 'hidden', '[400,300,200]'  -- hidden layer widths
        UNION ALL SELECT 'epochs', 130
        UNION ALL SELECT 'learning_rate', 1e-5
        UNION ALL SELECT 'batch_size', 512
        UNION ALL SELECT 'weight_decay', 0
        UNION ALL SELECT 'validation_every', 0      -- score validation users every
                                                    -- N epochs (0: never)
        UNION ALL SELECT 'top_k', 50                -- length of every list
        UNION ALL SELECT 'seed', 0
        UNION ALL SELECT 'quiet', 0) AS d
  LEFT JOIN settings AS s ON s.name = d.name;

-- Keys in `settings` that no step reads are most likely typos: refuse them
-- rather than silently running with the default.
SELECT raise_error('settings: unknown key(s) ' || group_concat('"' || name || '"', ', ')
                   || '; known keys: ' || (SELECT group_concat(name, ', ') FROM run_settings))
FROM settings WHERE name NOT IN (SELECT name FROM run_settings)
HAVING count(*) > 0;

-- One row, a column per key, as the steps read them.
DROP VIEW IF EXISTS run_config;
CREATE VIEW run_config AS
  SELECT max(value) FILTER (WHERE name = 'segments')          AS segments,
         max(value) FILTER (WHERE name = 'input_segments')    AS input_segments,
         max(value) FILTER (WHERE name = 'kmeans_iterations') AS kmeans_iterations,
         max(value) FILTER (WHERE name = 'hidden')            AS hidden,
         max(value) FILTER (WHERE name = 'epochs')            AS epochs,
         max(value) FILTER (WHERE name = 'learning_rate')     AS learning_rate,
         max(value) FILTER (WHERE name = 'batch_size')        AS batch_size,
         max(value) FILTER (WHERE name = 'weight_decay')      AS weight_decay,
         max(value) FILTER (WHERE name = 'validation_every')  AS validation_every,
         max(value) FILTER (WHERE name = 'top_k')             AS top_k,
         max(value) FILTER (WHERE name = 'seed')              AS seed,
         max(value) FILTER (WHERE name = 'quiet')             AS quiet
  FROM run_settings;

-- The view must name every key (one added above and forgotten there would
-- read as NULL).
SELECT raise_error('settings.sql: run_config lacks the key(s) ' || group_concat(name, ', '))
FROM run_settings WHERE name NOT IN (SELECT name FROM pragma_table_info('run_config'))
HAVING count(*) > 0;
