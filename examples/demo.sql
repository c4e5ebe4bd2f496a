-- demo.sql - the pipeline end to end on a small synthetic dataset
-- (make demo runs it on a fresh database file).
.bail on
.load ./semiperso

-- A Deezer-shaped dataset a fifth of the paper's size, deterministic by
-- seed (d = 64 instead of 128).
SELECT synthesize_dataset('{"tracks": 10000, "warm": 14000, "validation": 2000,
                            "test": 4000, "dim": 64, "seed": 42, "quiet": true}') AS dataset;

-- Hyperparameters for this scale: fewer segments than the paper's 1000
-- (there are fewer warm users), and a larger learning rate so that 40
-- epochs suffice.
INSERT OR REPLACE INTO settings(name, value) VALUES
  ('segments', 200), ('input_segments', 50),
  ('epochs', 40), ('learning_rate', 1e-3), ('quiet', 1);

.read sql/pipeline.sql

.mode box
SELECT method,
       printf('%.2f ± %.2f', precision, precision_sd) AS "P@K (%)",
       printf('%.2f ± %.2f', recall, recall_sd)       AS "R@K (%)",
       printf('%.2f ± %.2f', ndcg, ndcg_sd)           AS "NDCG@K (%)",
       k, users
FROM results ORDER BY ndcg DESC;

-- A simulated online A/B test (the paper's Section 4.2): test users split
-- by hash between Popularity (the control), Semi-Pers. and Full-Pers.
-- carousels of 12 tracks, responses drawn from their future listens
-- (sql/abtest_simulate.sql).  `make figures` draws these results and the
-- paper's other analyses (steps/analyze.sql).
.read sql/abtest.sql
.read sql/abtest_simulate.sql
SELECT variant, replace(metric, 'display_to_', 'to ') AS metric, users, displays,
       printf('%.2f', 100 * rate) AS "rate (%)",
       CASE WHEN is_control THEN 'control'
            ELSE printf('%+.1f [%+.1f, %+.1f]', 100 * lift, 100 * lift_low, 100 * lift_high)
       END AS "lift (%) [95 % CI]",
       CASE WHEN is_control THEN '' WHEN p_value < 0.0001 THEN '< 0.0001'
            ELSE printf('%.4f', p_value) END AS "p-value",
       CASE WHEN is_control THEN '' ELSE printf('%.1f', 100 * mde) END AS "MDE (%)"
FROM ab_results WHERE experiment = 'simulated_carousel'
ORDER BY metric DESC, is_control DESC, variant DESC;
