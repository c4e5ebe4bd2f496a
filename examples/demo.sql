-- demo.sql - the pipeline end to end on a small synthetic dataset
-- (make demo runs it on a fresh database file).
.bail on
.load ./semiperso

-- A small Deezer-shaped dataset, deterministic by seed.
SELECT synthesize_dataset('{"seed": 42, "quiet": true}') AS dataset;

-- Hyperparameters for this scale: fewer segments than the paper's 1000
-- (there are fewer warm users), and a larger learning rate so that few
-- epochs suffice.
INSERT OR REPLACE INTO settings(name, value) VALUES
  ('segments', 100), ('input_segments', 20),
  ('epochs', 40), ('learning_rate', 1e-3), ('quiet', 1);

.read sql/pipeline.sql

.mode box
SELECT method,
       printf('%.2f ± %.2f', precision, precision_sd) AS "P@K (%)",
       printf('%.2f ± %.2f', recall, recall_sd)       AS "R@K (%)",
       printf('%.2f ± %.2f', ndcg, ndcg_sd)           AS "NDCG@K (%)",
       k, users
FROM results ORDER BY ndcg DESC;
