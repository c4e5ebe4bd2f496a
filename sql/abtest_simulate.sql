-- abtest_simulate.sql - a simulated online A/B test served by the
-- pipeline's own methods, so that ab_results (sql/abtest.sql) can be seen
-- on data without an app:
--
--   sqlite> .read sql/pipeline.sql
--   sqlite> .read sql/abtest.sql
--   sqlite> .read sql/abtest_simulate.sql
--   sqlite> SELECT * FROM ab_results WHERE experiment = 'simulated_carousel';
--
-- Experiment 'simulated_carousel', as the paper's Section 4.2 with tracks
-- for playlists: every test user is assigned by ab_assignments to one of
-- three variants of equal weight, popularity (the control, standing for
-- the previous production system), semi_personalized and
-- full_personalized, and shown a carousel: the first `carousel` tracks of
-- that method's list in `recommendations`.  The user's response to each
-- card comes from their future listens: a displayed track they listen to
-- in days 1..30 is streamed with probability p_stream and added to
-- favorites with probability p_favorite (< p_stream: a favorite is also
-- streamed); a track they never listen to gets no response.  The draw of
-- a card is stable_hash(seed:user_id:position) / 2^63, uniform in [0, 1),
-- with the pipeline's seed setting: the same test on every run and machine.
-- Re-running replaces the previous simulation (and only it).

.bail on

-- What the simulation needs, with the command that provides it.
SELECT raise_error('abtest_simulate.sql: no table ' || t.name || '; ' || t.hint)
FROM (SELECT 'recommendations' AS name, 'run sql/pipeline.sql first' AS hint
      UNION ALL SELECT 'run_config', 'run sql/pipeline.sql first'
      UNION ALL SELECT 'ab_impressions', 'read sql/abtest.sql first'
      UNION ALL SELECT 'ab_responses', 'read sql/abtest.sql first') AS t
WHERE NOT EXISTS (SELECT 1 FROM sqlite_schema WHERE type IN ('table', 'view') AND name = t.name)
LIMIT 1;

-- The simulation's parameters, and its variants: methods of the pipeline
-- (one of them the control).
DROP TABLE IF EXISTS temp.simulation;
CREATE TEMP TABLE simulation AS
  SELECT 'simulated_carousel' AS experiment,
         12 AS carousel,                    -- cards per user (Deezer shows 12)
         0.5 AS p_stream,
         0.1 AS p_favorite,
         coalesce((SELECT seed FROM run_config), 0) AS seed;
DROP TABLE IF EXISTS temp.simulated_variants;
CREATE TEMP TABLE simulated_variants(variant TEXT PRIMARY KEY, is_control INTEGER);
INSERT INTO simulated_variants VALUES
  ('popularity', 1), ('semi_personalized', 0), ('full_personalized', 0);

SELECT raise_error('abtest_simulate.sql: recommendations has no list of method "'
                   || v.variant || '" for the test users; run sql/pipeline.sql first')
FROM simulated_variants AS v
WHERE NOT EXISTS (SELECT 1 FROM recommendations AS r JOIN users AS u USING (user_id)
                  WHERE r.method = v.variant AND u.split = 'test')
LIMIT 1;

SAVEPOINT abtest_simulate;

DELETE FROM ab_responses WHERE impression_id IN
  (SELECT impression_id FROM ab_impressions
   WHERE experiment = (SELECT experiment FROM simulation));
DELETE FROM ab_impressions WHERE experiment = (SELECT experiment FROM simulation);
DELETE FROM ab_variants WHERE experiment = (SELECT experiment FROM simulation);
DELETE FROM ab_experiments WHERE experiment = (SELECT experiment FROM simulation);

INSERT INTO ab_experiments(experiment, control)
  SELECT s.experiment, v.variant FROM simulation AS s, simulated_variants AS v
  WHERE v.is_control;
INSERT INTO ab_variants(experiment, variant, weight)
  SELECT s.experiment, v.variant, 1 FROM simulation AS s, simulated_variants AS v;

-- The carousels: each test user's assigned variant picks the cards.
INSERT INTO ab_impressions(experiment, variant, user_id, item_id, position)
  SELECT a.experiment, a.variant, u.user_id, r.track_id, r.rank
  FROM users AS u
  JOIN ab_assignments AS a USING (user_id)
  JOIN recommendations AS r ON r.method = a.variant AND r.user_id = u.user_id
  WHERE u.split = 'test'
    AND a.experiment = (SELECT experiment FROM simulation)
    AND r.rank <= (SELECT carousel FROM simulation)
  ORDER BY u.user_id, r.rank;

-- The responses: one draw per card the user will listen to, compared with
-- both probabilities.  (The unary + keeps the planner on future_listens'
-- user index: the track index is slow for a popular track.)
DROP TABLE IF EXISTS temp.simulated_draws;
CREATE TEMP TABLE simulated_draws AS
  SELECT i.impression_id,
         stable_hash(s.seed || ':' || i.user_id || ':' || i.position)
           / 9223372036854775808.0 AS draw
  FROM ab_impressions AS i JOIN simulation AS s USING (experiment)
  WHERE EXISTS (SELECT 1 FROM future_listens AS f
                WHERE f.user_id = i.user_id AND +f.track_id = i.item_id);

INSERT INTO ab_responses(impression_id, action)
  SELECT d.impression_id, 'stream' FROM simulated_draws AS d, simulation AS s
  WHERE d.draw < s.p_stream
  UNION ALL
  SELECT d.impression_id, 'favorite' FROM simulated_draws AS d, simulation AS s
  WHERE d.draw < s.p_favorite;

RELEASE abtest_simulate;
