-- train.sql - step 2: learn to predict a user's vector from input features.
--
-- The network (input -> hidden layers -> d, ReLU + BatchNorm, unit-length
-- output) is trained on warm users, whose vector is known, with the
-- hyperparameters of run_config.  The model is stored under the name
-- 'user_embedder' (semiperso_models and friends); re-running replaces it.
-- With the setting validation_every = N > 0, precision@top_k of the nearest
-- tracks is measured on the validation users every N epochs and kept in
-- semiperso_model_history, to choose the number of epochs.

SELECT train_embedder(
  'user_embedder',
  'SELECT f.features, u.embedding
     FROM users AS u JOIN user_features AS f USING (user_id)
    WHERE u.split = ''warm'' AND u.embedding IS NOT NULL
    ORDER BY u.user_id',
  json_object(
    'hidden',        json(c.hidden),
    'epochs',        c.epochs,
    'learning_rate', c.learning_rate,
    'batch_size',    c.batch_size,
    'weight_decay',  c.weight_decay,
    'seed',          c.seed,
    'validation',    CASE WHEN c.validation_every > 0
                     THEN 'SELECT f.features,
                                  (SELECT json_group_array(DISTINCT l.track_id)
                                   FROM future_listens AS l WHERE l.user_id = u.user_id)
                             FROM users AS u JOIN user_features AS f USING (user_id)
                            WHERE u.split = ''validation''' END,
    'validation_every', max(1, c.validation_every),
    'validation_k',  c.top_k,
    'quiet',         json(CASE WHEN c.quiet THEN 'true' ELSE 'false' END)))
  AS embedder_summary
FROM run_config AS c;
