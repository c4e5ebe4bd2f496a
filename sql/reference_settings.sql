-- reference_settings.sql - the settings under which the pipeline behaves as
-- the public reference code of the paper does (github.com/deezer/
-- semi_perso_user_cold_start), where that code differs from this project's
-- defaults (README.md, "Reference-faithful settings"):
--   ranking_metric 'dot'  Full-Pers. and Registration Day Streams rank
--                         tracks by the raw inner product with the track
--                         vectors as stored (the paper's text says cosine)
--   pad_segments 0        a segment's list is not continued with Popularity
--                         when its users listened to fewer tracks
--   kmeans_n_init 10      scikit-learn's KMeans: the best of 10 starts
-- (greedy k-means++ seeding, scikit-learn's, is the default already.)
-- Read it before sql/pipeline.sql; it overrides only these keys of
-- `settings`:
--   sqlite> .read sql/reference_settings.sql
--   sqlite> .read sql/pipeline.sql
CREATE TABLE IF NOT EXISTS settings(name TEXT PRIMARY KEY, value);
INSERT OR REPLACE INTO settings(name, value) VALUES
  ('ranking_metric', 'dot'),
  ('pad_segments', 0),
  ('kmeans_n_init', 10);
