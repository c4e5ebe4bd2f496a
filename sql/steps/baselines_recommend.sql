-- baselines_recommend.sql - step 5b (only with the setting baselines = 1):
-- the lists of the four deep baselines in recommendation_lists, for every
-- cold user, list_length tracks each (steps/baselines.sql trained the models):
--   dropoutnet_full  the tracks of DropoutNet's highest scores (user output
--                    . item output over the catalog)
--   dropoutnet_semi  the user's DropoutNet vector -> nearest 'dropoutnet'
--                    segment of warm users -> that segment's top tracks
--   melu_full        the tracks MeLU predicts best after the local update on
--                    the user's registration-day events
--   melu_semi        the same with MeLU's vector and the 'melu' segments
-- With baselines = 0 nothing is added.

INSERT INTO recommendation_lists
  SELECT 'dropoutnet_full', u.user_id,
         dropoutnet_recommend('dropoutnet', f.features, (SELECT list_length FROM run_config))
  FROM users AS u JOIN user_features AS f USING (user_id)
  WHERE (SELECT baselines FROM run_config) AND u.split IN ('validation', 'test');

INSERT INTO recommendation_lists
  SELECT 'melu_full', u.user_id,
         melu_recommend('melu', u.user_id, f.features, s.support,
                        (SELECT list_length FROM run_config))
  FROM users AS u JOIN user_features AS f USING (user_id)
  LEFT JOIN baseline_support AS s USING (user_id)
  WHERE (SELECT baselines FROM run_config) AND u.split IN ('validation', 'test');

-- Each cold user's segment, computed once (as cold_segments in
-- steps/recommend.sql).
INSERT INTO cold_segments
  SELECT v.model, v.user_id, assign_segment(v.model, v.embedding)
  FROM baseline_vectors AS v JOIN users AS u USING (user_id)
  WHERE u.split IN ('validation', 'test');

INSERT INTO recommendation_lists
  WITH lists AS MATERIALIZED (SELECT * FROM segment_lists
                              WHERE segmentation IN ('dropoutnet', 'melu'))
  SELECT c.segmentation || '_semi', c.user_id, l.tracks
  FROM cold_segments AS c
  JOIN lists AS l USING (segmentation, segment_id);
