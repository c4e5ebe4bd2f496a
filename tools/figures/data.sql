-- data.sql - writes the tab-separated files the figure scripts plot, into
-- the current directory, from a database the pipeline ran on (and, for
-- abtest.tsv, one holding an A/B test of sql/abtest.sql).  Run by
-- tools/figures/render.sh with the extension loaded.  Blocks of a file are
-- separated by two blank lines (none after the last, which would make an
-- empty block) and open with a title line (gnuplot's `index` and
-- `columnheader`); numbers are printed with 4 decimals.
.bail on
.headers off
.mode list

SELECT raise_error('figures: the database has no table ' || t.name
                   || '; run the pipeline on it first (sql/pipeline.sql, e.g. make demo)')
FROM (SELECT 'results' AS name UNION ALL SELECT 'results_at_k'
      UNION ALL SELECT 'results_by_activity' UNION ALL SELECT 'recommended_popularity'
      UNION ALL SELECT 'run_settings') AS t
WHERE NOT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = t.name)
LIMIT 1;
SELECT raise_error('figures: results is empty; run the pipeline on the database first')
WHERE NOT EXISTS (SELECT 1 FROM results);
SELECT raise_error('figures: results_by_activity has no row of semi_personalized, the '
                   || 'method of Fig. 4; run the whole pipeline (sql/pipeline.sql)')
WHERE NOT EXISTS (SELECT 1 FROM results_by_activity WHERE method = 'semi_personalized');

-- Display names of the methods, in the order of the paper's Table 1;
-- methods it does not know keep their own name, after these.
DROP TABLE IF EXISTS temp.figure_methods;
CREATE TEMP TABLE figure_methods(method TEXT PRIMARY KEY, label TEXT, ord INTEGER);
INSERT INTO figure_methods
  SELECT r.method, coalesce(n.label, r.method), coalesce(n.ord, 100)
  FROM (SELECT DISTINCT method FROM results_at_k UNION SELECT method FROM results) AS r
  LEFT JOIN (SELECT 'popularity' AS method, 'Popularity' AS label, 1 AS ord
             UNION ALL SELECT 'registration_day_streams', 'Registration Day Streams', 2
             UNION ALL SELECT 'input_features_clustering', 'Input Features Clustering', 3
             UNION ALL SELECT 'dropoutnet_full', 'DropoutNet Full-Pers.', 4
             UNION ALL SELECT 'dropoutnet_semi', 'DropoutNet Semi-Pers.', 5
             UNION ALL SELECT 'melu_full', 'MeLU Full-Pers.', 6
             UNION ALL SELECT 'melu_semi', 'MeLU Semi-Pers.', 7
             UNION ALL SELECT 'full_personalized', 'Full-Pers.', 8
             UNION ALL SELECT 'semi_personalized', 'Semi-Pers.', 9) AS n USING (method);

-- table1.tsv (Table 1): method, then precision, recall, NDCG at top_k and
-- their fold spreads, in percent.
.output table1.tsv
SELECT 'method' || char(9) || 'Precision@' || k || char(9) || 'sd' || char(9)
       || 'Recall@' || k || char(9) || 'sd' || char(9) || 'NDCG@' || k || char(9) || 'sd'
FROM results LIMIT 1;
SELECT m.label || char(9) || printf('%.4f', r.precision) || char(9) || printf('%.4f', r.precision_sd)
       || char(9) || printf('%.4f', r.recall) || char(9) || printf('%.4f', r.recall_sd)
       || char(9) || printf('%.4f', r.ndcg) || char(9) || printf('%.4f', r.ndcg_sd)
FROM results AS r JOIN figure_methods AS m USING (method)
ORDER BY m.ord, m.method;

-- at_k.tsv (the metrics at every K): one block per method, rows K,
-- precision, sd, recall, sd, NDCG, sd.
.output at_k.tsv
SELECT line FROM (
  SELECT m.ord, m.method, 0 AS part, 0 AS k, '"' || m.label || '"' AS line
  FROM figure_methods AS m WHERE m.method IN (SELECT method FROM results_at_k)
  UNION ALL
  SELECT m.ord, m.method, 1, r.k,
         r.k || char(9) || printf('%.4f', r.precision) || char(9) || printf('%.4f', r.precision_sd)
         || char(9) || printf('%.4f', r.recall) || char(9) || printf('%.4f', r.recall_sd)
         || char(9) || printf('%.4f', r.ndcg) || char(9) || printf('%.4f', r.ndcg_sd)
  FROM results_at_k AS r JOIN figure_methods AS m USING (method)
  UNION ALL
  SELECT m.ord, m.method, -1, blank.n, ''
  FROM figure_methods AS m, (SELECT 1 AS n UNION ALL SELECT 2) AS blank
  WHERE m.method IN (SELECT method FROM results_at_k)
    AND (m.ord, m.method) > (SELECT ord, method FROM figure_methods
                             WHERE method IN (SELECT method FROM results_at_k)
                             ORDER BY ord, method LIMIT 1))
ORDER BY ord, method, part, k;

-- activity.tsv (Fig. 4): Semi-Pers. at top_k by activity bin, one block
-- per activity present; rows bin label, users, precision, sd (0 when
-- undefined), and the precision over all test users (the reference line).
DROP TABLE IF EXISTS temp.figure_activities;
CREATE TEMP TABLE figure_activities(activity TEXT PRIMARY KEY, title TEXT, ord INTEGER);
INSERT INTO figure_activities
  SELECT * FROM (SELECT 'onboarding_likes' AS activity, 'Artists liked at onboarding', 1
                 UNION ALL SELECT 'streams', 'Streams on registration day', 2
                 UNION ALL SELECT 'skips', 'Skips on registration day', 3
                 UNION ALL SELECT 'interactions', 'Any event (0: none at all)', 4)
  WHERE activity IN (SELECT activity FROM results_by_activity
                    WHERE method = 'semi_personalized');
.output activity.tsv
SELECT line FROM (
  SELECT ord, 0 AS part, 0 AS bin, '"' || title || '"' AS line FROM figure_activities
  UNION ALL
  SELECT a.ord, 1, b.bin,
         b.label || char(9) || b.users || char(9) || printf('%.4f', b.precision)
         || char(9) || printf('%.4f', coalesce(b.precision_sd, 0))
         || char(9) || printf('%.4f', r.precision)
  FROM results_by_activity AS b
  JOIN results AS r ON r.method = b.method AND r.k = b.k
  JOIN figure_activities AS a USING (activity)
  WHERE b.method = 'semi_personalized'
  UNION ALL
  SELECT a.ord, -1, blank.n, ''
  FROM figure_activities AS a, (SELECT 1 AS n UNION ALL SELECT 2) AS blank
  WHERE a.ord > (SELECT min(ord) FROM figure_activities))
ORDER BY ord, part, bin;

-- popularity.tsv (Fig. 5): share (%) of the top_k recommendations in each
-- popularity rank bin for Popularity, Semi-Pers. and Full-Pers.; one block
-- per scope, all test users first, then the countries by size.  A bin's
-- label "a-b" holds the ranks a + 1 to b (1k = 1000).
DROP TABLE IF EXISTS temp.figure_scopes;
CREATE TEMP TABLE figure_scopes AS
  SELECT country, users,
         row_number() OVER (ORDER BY country IS NOT NULL, users DESC, country) AS ord
  FROM (SELECT DISTINCT country, users FROM recommended_popularity);
.output popularity.tsv
SELECT line FROM (
  SELECT ord, 0 AS part, 0 AS bin,
         '"' || coalesce(country, 'All countries') || ' (' || users || ' users)"' AS line
  FROM figure_scopes
  UNION ALL
  SELECT s.ord, 1, p.bin,
         CASE WHEN p.rank_from = 1 THEN '0' WHEN (p.rank_from - 1) % 1000 = 0
              THEN ((p.rank_from - 1) / 1000) || 'k' ELSE p.rank_from - 1 END
         || '-' || CASE WHEN p.rank_to % 1000 = 0 THEN (p.rank_to / 1000) || 'k' ELSE p.rank_to END
         || char(9) || printf('%.4f', 100 * max(CASE p.method WHEN 'popularity' THEN p.share END))
         || char(9) || printf('%.4f', 100 * max(CASE p.method WHEN 'semi_personalized' THEN p.share END))
         || char(9) || printf('%.4f', 100 * max(CASE p.method WHEN 'full_personalized' THEN p.share END))
  FROM recommended_popularity AS p JOIN figure_scopes AS s ON s.country IS p.country
  GROUP BY s.ord, p.bin
  UNION ALL
  SELECT s.ord, -1, blank.n, '' FROM figure_scopes AS s, (SELECT 1 AS n UNION ALL SELECT 2) AS blank
  WHERE s.ord > 1)
ORDER BY ord, part, bin;
