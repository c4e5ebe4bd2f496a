-- tune_baselines.sql - DropoutNet's and MeLU's hyperparameters chosen on the
-- validation users, as the paper did ("we carefully tuned each model using
-- the validation set", Section 4.1): each candidate of a small grid is
-- trained on the warm users, its fully personalized lists (the model's own
-- ranking of the catalog) are scored by precision at top_k on the
-- validation users, and the best candidate of each model becomes the
-- setting dropoutnet_options / melu_options of the next pipeline run.
--
-- Runs on any database holding the dataset tables once steps/settings.sql,
-- features.sql and steps/baseline_inputs.sql have run (a pipeline run does
-- all three), e.g.
--   sqlite> .read sql/steps/settings.sql
--   sqlite> .read sql/features.sql
--   sqlite> .read sql/steps/baseline_inputs.sql
--   sqlite> .read sql/tune_baselines.sql
--   sqlite> INSERT OR REPLACE INTO settings VALUES ('baselines', 1);
--   sqlite> .read sql/pipeline.sql
--
-- Input: baseline_tuning_grid(model, candidate, options), the candidates:
-- model 'dropoutnet' or 'melu', options a JSON object patched over the
-- model's current setting (dropoutnet_options / melu_options) and this
-- run's seed and quiet.  Filled with the grid below when empty; fill it
-- beforehand to try another grid.
-- Outputs:
--   models 'tune_dropoutnet_<candidate>', 'tune_melu_<candidate>'
--       (semiperso_baselines and friends; kept for inspection)
--   baseline_tuning(model, candidate, options, setting, precision, users,
--       train_seconds, chosen): every candidate, its validation P@top_k in
--       percent over `users` validation users, chosen = 1 for the best of
--       each model (ties: the smaller candidate number); `setting` is the
--       value the model's setting takes if this candidate is chosen
--   settings: dropoutnet_options and melu_options set to the chosen
--       candidates' `setting`
-- The test users are never read: training reads the warm users
-- (steps/baseline_inputs.sql), scoring the validation users alone.
-- Cost: one training of each candidate (at the demo's scale about 45 CPU
-- seconds for DropoutNet, 20 for MeLU) and one list per validation user.

-- The default grid: the original papers' optimisers (candidate 1 of each)
-- and larger steps, since this project trains for far fewer updates than
-- the originals (ext/core/dropoutnet.h, ext/core/melu.h); DropoutNet also
-- with more of a batch's users dropped, which trains its cold start path
-- (the only one cold users take) on more rows.
CREATE TABLE IF NOT EXISTS baseline_tuning_grid(
  model     TEXT NOT NULL CHECK (model IN ('dropoutnet', 'melu')),
  candidate INTEGER NOT NULL,
  options   TEXT NOT NULL CHECK (json_valid(options) AND json_type(options) = 'object'),
  PRIMARY KEY (model, candidate)
);
INSERT INTO baseline_tuning_grid(model, candidate, options)
  SELECT * FROM (VALUES
    ('dropoutnet', 1, '{"learning_rate": 0.005, "dropout": 0.5}'),
    ('dropoutnet', 2, '{"learning_rate": 0.02, "dropout": 0.5}'),
    ('dropoutnet', 3, '{"learning_rate": 0.005, "dropout": 0.8}'),
    ('dropoutnet', 4, '{"learning_rate": 0.02, "dropout": 0.8}'),
    ('melu', 1, '{"global_lr": 5e-5, "local_lr": 5e-6}'),
    ('melu', 2, '{"global_lr": 5e-4, "local_lr": 5e-6}'),
    ('melu', 3, '{"global_lr": 5e-5, "local_lr": 5e-4}'),
    ('melu', 4, '{"global_lr": 5e-4, "local_lr": 5e-4}'))
  WHERE NOT EXISTS (SELECT 1 FROM baseline_tuning_grid);

-- The validation users' relevant sets, as steps/evaluate.sql builds the
-- test users': the distinct tracks of their future listens.
SELECT raise_error('tune_baselines.sql: no validation user has a future listen to score on')
WHERE NOT EXISTS (SELECT 1 FROM future_listens AS f JOIN users AS u USING (user_id)
                  WHERE u.split = 'validation');
DROP TABLE IF EXISTS temp.tuning_relevant;
CREATE TEMP TABLE tuning_relevant(user_id INTEGER PRIMARY KEY, tracks TEXT NOT NULL);
INSERT INTO tuning_relevant
  SELECT user_id, json_group_array(track_id)
  FROM (SELECT DISTINCT f.user_id, f.track_id
        FROM future_listens AS f JOIN users AS u USING (user_id)
        WHERE u.split = 'validation')
  GROUP BY user_id;

DROP TABLE IF EXISTS baseline_tuning;
CREATE TABLE baseline_tuning(
  model         TEXT NOT NULL,
  candidate     INTEGER NOT NULL,
  options       TEXT NOT NULL,
  setting       TEXT NOT NULL,
  precision     REAL,
  users         INTEGER,
  train_seconds REAL,
  chosen        INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (model, candidate)
);
INSERT INTO baseline_tuning(model, candidate, options, setting)
  SELECT g.model, g.candidate, json(g.options),
         json_patch(CASE g.model WHEN 'dropoutnet' THEN c.dropoutnet_options
                                 ELSE c.melu_options END, g.options)
  FROM baseline_tuning_grid AS g, run_config AS c;

-- Train every candidate on the warm users.
SELECT CASE r.model
         WHEN 'dropoutnet' THEN
           train_dropoutnet('tune_dropoutnet_' || r.candidate,
                            'SELECT * FROM baseline_dropoutnet_rows', r.options)
         ELSE train_melu('tune_melu_' || r.candidate, 'SELECT * FROM baseline_melu_rows', r.options)
       END AS candidate_summary
FROM (SELECT t.model, t.candidate,
             json_patch(json_object('seed', c.seed,
                                    'quiet', json(CASE WHEN c.quiet THEN 'true' ELSE 'false' END)),
                        t.setting) AS options
      FROM baseline_tuning AS t, run_config AS c) AS r
ORDER BY r.model, r.candidate;

-- Score each candidate's top_k list of every validation user (the metric of
-- steps/evaluate.sql: precision_at, mean over users, in percent).
UPDATE baseline_tuning AS t
SET precision = s.precision, users = s.users,
    train_seconds = (SELECT b.train_seconds FROM semiperso_baselines AS b
                     WHERE b.name = 'tune_' || t.model || '_' || t.candidate)
FROM (SELECT t.model, t.candidate,
             100 * avg(precision_at(
               CASE t.model
                 WHEN 'dropoutnet' THEN
                   dropoutnet_recommend('tune_dropoutnet_' || t.candidate, f.features, c.top_k)
                 ELSE melu_recommend('tune_melu_' || t.candidate, v.user_id, f.features,
                                     s.support, c.top_k)
               END, v.tracks, c.top_k)) AS precision,
             count(*) AS users
      FROM baseline_tuning AS t, run_config AS c, tuning_relevant AS v
      JOIN user_features AS f USING (user_id)
      LEFT JOIN baseline_support AS s USING (user_id)
      GROUP BY t.model, t.candidate) AS s
WHERE s.model = t.model AND s.candidate = t.candidate;

-- The best candidate of each model, and its options as the model's setting.
UPDATE baseline_tuning SET chosen = 1
WHERE (model, candidate) IN (
  SELECT model, candidate FROM (
    SELECT model, candidate,
           row_number() OVER (PARTITION BY model ORDER BY precision DESC, candidate) AS place
    FROM baseline_tuning)
  WHERE place = 1);

INSERT OR REPLACE INTO settings(name, value)
  SELECT model || '_options', setting FROM baseline_tuning WHERE chosen;

DROP TABLE temp.tuning_relevant;
