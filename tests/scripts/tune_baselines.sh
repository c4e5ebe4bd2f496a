#!/bin/sh
# tune_baselines.sh - sql/tune_baselines.sql on a tiny synthetic set with a
# grid of three candidates per model: every candidate's validation P@K in
# baseline_tuning equals the one computed here independently (each
# validation user's list from the stored candidate model, precision by set
# arithmetic over future_listens instead of precision_at); the chosen
# candidate of each model is the best of those; the settings
# dropoutnet_options / melu_options become its options over the earlier
# settings; the test users are never read (deleting them, their features,
# events and future listens leaves baseline_tuning as it was); the pipeline
# then trains with the chosen options.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$ROOT"
SQL() { LD_PRELOAD="${SEMIPERSO_PRELOAD:-}" sqlite3 -batch "$@"; }

# Dataset, settings (small models; the grid's options are patched over
# them), features, the baselines' inputs.
SQL "$tmp/a.db" <<SQL >/dev/null
.bail on
.load $SEMIPERSO_SO
SELECT synthesize_dataset('{"tracks": 1000, "warm": 400, "validation": 60,
  "test": 40, "dim": 8, "seed": 5, "quiet": true}');
INSERT INTO settings VALUES ('quiet', 1), ('top_k', 20), ('eval_ks', '[20]'),
  ('segments', 10), ('input_segments', 5), ('epochs', 2), ('kmeans_iterations', 4),
  ('dropoutnet_options', '{"hidden": [16], "output_dim": 8, "epochs": 2, "dropout": 0.3}'),
  ('melu_options', '{"embed_dim": 4, "hidden": [8, 8], "epochs": 2}');
.read sql/schema.sql
.read sql/steps/settings.sql
.read sql/features.sql
.read sql/steps/baseline_inputs.sql
CREATE TABLE baseline_tuning_grid(model TEXT, candidate INTEGER, options TEXT);
INSERT INTO baseline_tuning_grid VALUES
  ('dropoutnet', 1, '{"learning_rate": 0.001}'),
  ('dropoutnet', 2, '{"learning_rate": 0.05, "epochs": 3}'),
  ('dropoutnet', 3, '{"learning_rate": 0.2}'),
  ('melu', 1, '{"global_lr": 1e-4}'),
  ('melu', 2, '{"global_lr": 1e-2}'),
  ('melu', 3, '{"global_lr": 3e-2, "local_lr": 1e-3}');
SQL
cp "$tmp/a.db" "$tmp/b.db"
SQL "$tmp/a.db" <<SQL >/dev/null
.bail on
.load $SEMIPERSO_SO
.read sql/tune_baselines.sql
SQL

# The same on a copy without any test user: the table must not change.
SQL "$tmp/b.db" <<SQL >/dev/null
.bail on
.load $SEMIPERSO_SO
DELETE FROM future_listens WHERE user_id IN (SELECT user_id FROM users WHERE split = 'test');
DELETE FROM registration_events WHERE user_id IN (SELECT user_id FROM users WHERE split = 'test');
DELETE FROM user_features WHERE user_id IN (SELECT user_id FROM users WHERE split = 'test');
DELETE FROM baseline_support WHERE user_id IN (SELECT user_id FROM users WHERE split = 'test');
DELETE FROM users WHERE split = 'test';
.read sql/tune_baselines.sql
SQL
dump='SELECT model, candidate, options, setting, precision, users, chosen FROM baseline_tuning ORDER BY 1, 2;'
SQL "$tmp/a.db" "$dump" > "$tmp/a.txt"
SQL "$tmp/b.db" "$dump" > "$tmp/b.txt"
cmp "$tmp/a.txt" "$tmp/b.txt" || { echo "baseline_tuning depends on the test users"; diff "$tmp/a.txt" "$tmp/b.txt"; exit 1; }

SQL "$tmp/a.db" > "$tmp/check.txt" <<SQL
.load $SEMIPERSO_SO
.mode list
-- Independent scores: each validation user's list from the candidate's
-- stored model, its hits counted by joining future_listens.
CREATE TEMP TABLE lists AS
  SELECT t.model, t.candidate, u.user_id,
         CASE t.model
           WHEN 'dropoutnet' THEN dropoutnet_recommend('tune_dropoutnet_' || t.candidate, f.features, 20)
           ELSE melu_recommend('tune_melu_' || t.candidate, u.user_id, f.features, s.support, 20)
         END AS list
  FROM baseline_tuning AS t, users AS u JOIN user_features AS f USING (user_id)
  LEFT JOIN baseline_support AS s USING (user_id)
  WHERE u.split = 'validation';
CREATE TEMP TABLE mine AS
  SELECT l.model, l.candidate,
         100.0 * avg((SELECT count(DISTINCT j.value) FROM json_each(l.list) AS j
                      WHERE j.value IN (SELECT track_id FROM future_listens AS fl
                                        WHERE fl.user_id = l.user_id))
                     / min(20.0, (SELECT count(DISTINCT track_id) FROM future_listens AS fl
                                  WHERE fl.user_id = l.user_id))) AS precision,
         count(*) AS users
  FROM lists AS l
  WHERE EXISTS (SELECT 1 FROM future_listens AS fl WHERE fl.user_id = l.user_id)
  GROUP BY l.model, l.candidate;
SELECT 'six_candidates', count(*) = 6 FROM baseline_tuning;
SELECT 'lists_of_20', min(json_array_length(list)) = 20 AND max(json_array_length(list)) = 20 FROM lists;
SELECT 'scores_match', count(*) = 6 FROM baseline_tuning AS t JOIN mine AS m USING (model, candidate)
  WHERE abs(t.precision - m.precision) < 1e-9 AND t.users = m.users AND t.users = 60;
SELECT 'scores_differ', count(DISTINCT precision) > 1 FROM mine WHERE model = 'dropoutnet';
SELECT 'one_chosen_each', count(*) = 2 AND count(DISTINCT model) = 2 FROM baseline_tuning WHERE chosen;
SELECT 'chosen_is_best', count(*) = 2 FROM baseline_tuning AS t JOIN mine AS m USING (model, candidate)
  WHERE t.chosen AND m.precision = (SELECT max(precision) FROM mine AS o WHERE o.model = t.model)
    AND NOT EXISTS (SELECT 1 FROM mine AS o WHERE o.model = t.model
                    AND o.precision = m.precision AND o.candidate < t.candidate);
SELECT 'candidates_trained_as_asked', count(*) = 6 FROM baseline_tuning AS t
  JOIN semiperso_baselines AS b ON b.name = 'tune_' || t.model || '_' || t.candidate
  JOIN baseline_tuning_grid AS g USING (model, candidate)
  WHERE json_extract(b.options, '$.epochs') = coalesce(json_extract(g.options, '$.epochs'), 2)
    AND coalesce(json_extract(b.options, '$.learning_rate'), json_extract(b.options, '$.global_lr'))
        = coalesce(json_extract(g.options, '$.learning_rate'), json_extract(g.options, '$.global_lr'));
SELECT 'settings_set', count(*) = 2 FROM settings AS s JOIN baseline_tuning AS t
  ON s.name = t.model || '_options' AND t.chosen
  WHERE s.value = json_patch(CASE t.model
          WHEN 'dropoutnet' THEN '{"hidden": [16], "output_dim": 8, "epochs": 2, "dropout": 0.3}'
          ELSE '{"embed_dim": 4, "hidden": [8, 8], "epochs": 2}' END,
        (SELECT options FROM baseline_tuning_grid AS g WHERE (g.model, g.candidate) = (t.model, t.candidate)));
SQL
# The pipeline then trains with the chosen options.
SQL "$tmp/a.db" >> "$tmp/check.txt" <<SQL
.bail on
.load $SEMIPERSO_SO
INSERT OR REPLACE INTO settings VALUES ('baselines', 1);
.output /dev/null
.read sql/pipeline.sql
.output stdout
.mode list
SELECT 'pipeline_uses_choice', count(*) = 2 FROM semiperso_baselines AS b
  JOIN semiperso_baselines AS c ON c.name = 'tune_' || b.name || '_'
       || (SELECT candidate FROM baseline_tuning WHERE model = b.name AND chosen)
  WHERE b.name IN ('dropoutnet', 'melu') AND b.options = c.options;
SELECT 'four_rows', count(*) = 4 FROM results WHERE method LIKE 'dropoutnet%' OR method LIKE 'melu%';
SQL
cat "$tmp/a.txt" "$tmp/check.txt"
if grep -q '|0$' "$tmp/check.txt"; then echo "a check failed"; exit 1; fi
