-- pipeline.sql - the whole offline experiment of the paper (Section 4.1)
-- on any database holding the dataset tables (sql/schema.sql):
--
--   sqlite3 music.db
--   sqlite> .load ./semiperso
--   sqlite> .read sql/pipeline.sql
--
-- In the source tree run it from the project directory (the steps are read
-- by relative path); the copy `make install` puts under
-- PREFIX/share/semiperso/sql reads them by absolute path and runs from any
-- directory (also as `semiperso-pipeline music.db`).
-- Hyperparameters come from the `settings` table (see steps/settings.sql);
-- each step replaces what an earlier run of it produced.  On a database
-- without registration events whose features are given (the public Deezer
-- release, imported by tools/import_release.mjs), the steps read what they
-- need from the features instead, and say so in run_notes, printed last.
-- Outputs:
--   tracks.embedding, users.embedding  recomputed from listens and
--                         playlist_tracks when the setting "embeddings" is
--                         'ut_als' or 'tt_svd'        (steps/embeddings.sql)
--   user_features         input feature vectors        (features.sql; kept
--                         as they are when given)
--   semiperso_models ...  the trained embedder          (steps/train.sql)
--   semiperso_segments... the two segmentations         (steps/segments.sql)
--   baseline_support ...  the baselines' training inputs (steps/baseline_inputs.sql)
--   baseline_vectors ...  DropoutNet and MeLU, with the setting baselines = 1
--                                                       (steps/baselines.sql)
--   segment_top_tracks, popular_tracks                  (steps/top_tracks.sql)
--   cold_embeddings, recommendation_lists (the view recommendations by
--                         rank)                        (steps/recommend.sql)
--   user_metrics, results                               (steps/evaluate.sql)
--   segment_descriptions  the paper's Table 2           (steps/describe.sql)
--   results_at_k, results_by_activity, recommended_popularity
--                         the paper's @K, Fig. 4, Fig. 5 (steps/analyze.sql)
.bail on
.read sql/schema.sql
.read sql/steps/settings.sql
.read sql/steps/embeddings.sql
.read sql/features.sql
.read sql/steps/train.sql
.read sql/steps/segments.sql
.read sql/steps/baseline_inputs.sql
.read sql/steps/baselines.sql
.read sql/steps/top_tracks.sql
.read sql/steps/recommend.sql
.read sql/steps/baselines_recommend.sql
.read sql/steps/evaluate.sql
.read sql/steps/describe.sql
.read sql/steps/analyze.sql
-- What this run did differently for want of data (nothing on a complete
-- dataset).
SELECT step || ': ' || note AS note FROM run_notes;
