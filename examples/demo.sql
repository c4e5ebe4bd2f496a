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
