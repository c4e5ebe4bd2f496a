-- baseline_inputs.sql - step 3a: what DropoutNet and MeLU train on, read by
-- steps/baselines.sql and by sql/tune_baselines.sql (which tunes them
-- first).  Built whatever the setting baselines says: one aggregate over the
-- registration events (about a second at the paper's scale) and two views.
--
-- Outputs:
--   baseline_support(user_id, support)  each user's registration-day events
--       as a support set for MeLU's local update: melu_support() of the
--       clicked entity's vector, label 0 for a skip or ban, 1 otherwise;
--       users without an event have no row
--   baseline_dropoutnet_rows(features, embedding)  train_dropoutnet's rows:
--       the warm users with a vector, in user_id order
--   baseline_melu_rows(user_id, features, embedding, support)  train_melu's
--       rows: the same users with their support set (NULL when none)

DROP TABLE IF EXISTS baseline_support;
CREATE TABLE baseline_support(user_id INTEGER PRIMARY KEY, support BLOB NOT NULL);
INSERT INTO baseline_support
  SELECT e.user_id,
         melu_support(v.embedding, CASE WHEN e.action IN ('skip', 'ban') THEN 0 ELSE 1 END)
  FROM registration_events AS e
  JOIN feature_entity_vectors AS v ON v.entity = e.entity AND v.entity_id = e.entity_id
  GROUP BY e.user_id;

DROP VIEW IF EXISTS baseline_dropoutnet_rows;
CREATE VIEW baseline_dropoutnet_rows AS
  SELECT f.features, u.embedding
  FROM users AS u JOIN user_features AS f USING (user_id)
  WHERE u.split = 'warm' AND u.embedding IS NOT NULL
  ORDER BY u.user_id;

DROP VIEW IF EXISTS baseline_melu_rows;
CREATE VIEW baseline_melu_rows AS
  SELECT u.user_id, f.features, u.embedding, s.support
  FROM users AS u JOIN user_features AS f USING (user_id)
  LEFT JOIN baseline_support AS s USING (user_id)
  WHERE u.split = 'warm' AND u.embedding IS NOT NULL
  ORDER BY u.user_id;
