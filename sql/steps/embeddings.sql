-- embeddings.sql - after settings (step 0), before the features: the
-- latent space itself, computed from the logs when the setting
-- "embeddings" asks for it (the paper's Section 3.1):
--   'given'   (default) tracks.embedding and the warm users' embedding are
--             used as they are: this step changes nothing.
--   'ut_als'  UT-ALS: train_als() factorises the warm users' listens (user
--             x track, weight = plays); tracks get its item vectors, warm
--             users its user vectors.  Options: the setting
--             "ut_als_options" (train_als's JSON options; the paper's
--             d = 256 and 15 iterations by default).
--   'tt_svd'  TT-SVD: train_pmi_svd() on playlist_tracks; tracks get its
--             item vectors, and each warm user the mean of the vectors of
--             the tracks of its listening history, weighted by plays (the
--             paper "averag[es] music track vectors over their listening
--             history"; train_pmi_svd's option "users" computes it).
--             Options: "tt_svd_options" (the paper's d = 128 by default).
-- The model is stored under the setting's value ('ut_als' or 'tt_svd'; see
-- semiperso_factorizations, semiperso_factors), trained with the pipeline's
-- seed and quiet settings unless the options name their own.
-- Then every vector written is L2-normalised: the later steps compare
-- vectors by cosine (top-k tracks) and the embedder predicts unit vectors,
-- so warm users must be segmented on the sphere it predicts onto; and
--   - a track the factorisation never met (no listen, or in no playlist)
--     gets a zero vector, which is what ALS gives an item without entries
--     and TT-SVD an item that co-occurs with nothing;
--   - a warm user without a listen gets NULL (the later steps skip users
--     without a vector);
--   - cold (validation and test) users get NULL: the paper's dataset has
--     no vector for them either (what the evaluation scores against is
--     their future_listens), and a vector of the previous space would mean
--     nothing in the new one.
-- This step rewrites tracks.embedding and users.embedding: to go back to
-- given vectors, keep a copy of the database.

SELECT raise_error('setting "embeddings" must be ''given'', ''ut_als'' or ''tt_svd'', got '
                   || quote(embeddings))
FROM run_config WHERE embeddings IS NULL OR embeddings NOT IN ('given', 'ut_als', 'tt_svd');

SELECT raise_error('setting "' || name || '" must be a JSON object of options, e.g. '
                   || '''{"dim": 64}'', got ' || quote(value))
FROM run_settings
WHERE name IN ('ut_als_options', 'tt_svd_options')
  AND NOT coalesce(json_valid(value) AND json_type(value) = 'object', 0);

-- The tables train_als() and train_pmi_svd() store into, exactly as they
-- create them (ext/sql/factors.c; tests/scripts/pipeline_factors.sh checks
-- both agree), so that the UPDATEs below compile before any training.
CREATE TABLE IF NOT EXISTS semiperso_factorizations( name TEXT PRIMARY KEY, method TEXT NOT NULL, dims INTEGER NOT NULL, users INTEGER NOT NULL, items INTEGER NOT NULL, entries INTEGER NOT NULL, iterations INTEGER NOT NULL, loss REAL, options TEXT NOT NULL, summary TEXT NOT NULL, seconds REAL NOT NULL, trained_at TEXT NOT NULL, generation INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS semiperso_factors( model TEXT NOT NULL, side TEXT NOT NULL CHECK (side IN ('user', 'item')), id INTEGER NOT NULL, embedding BLOB NOT NULL, UNIQUE (model, side, id));
CREATE TABLE IF NOT EXISTS semiperso_factorization_history( model TEXT NOT NULL, iteration INTEGER NOT NULL, loss REAL, seconds REAL NOT NULL, PRIMARY KEY (model, iteration)) WITHOUT ROWID;

-- The warm users' listens, as both factorisations read them.
DROP VIEW IF EXISTS temp.warm_listens;
CREATE TEMP VIEW warm_listens AS
  SELECT l.user_id, l.track_id, l.plays
  FROM listens AS l JOIN users AS u USING (user_id)
  WHERE u.split = 'warm';

SELECT train_als(
  'ut_als',
  'SELECT user_id, track_id, plays FROM temp.warm_listens',
  json_patch(json_object('seed', c.seed,
                         'quiet', json(CASE WHEN c.quiet THEN 'true' ELSE 'false' END)),
             c.ut_als_options))
  AS ut_als_summary
FROM run_config AS c WHERE c.embeddings = 'ut_als';

SELECT train_pmi_svd(
  'tt_svd',
  'SELECT playlist_id, track_id FROM playlist_tracks',
  json_patch(json_object('seed', c.seed,
                         'quiet', json(CASE WHEN c.quiet THEN 'true' ELSE 'false' END),
                         'users', 'SELECT user_id, track_id, plays FROM temp.warm_listens'),
             c.tt_svd_options))
  AS tt_svd_summary
FROM run_config AS c WHERE c.embeddings = 'tt_svd';

-- The new vectors into the dataset tables (nothing when 'given').
UPDATE tracks SET embedding = coalesce(
    (SELECT vec_normalize(f.embedding) FROM semiperso_factors AS f
      WHERE f.model = c.embeddings AND f.side = 'item' AND f.id = tracks.track_id),
    vec_zeros((SELECT dims FROM semiperso_factorizations WHERE name = c.embeddings)))
FROM run_config AS c WHERE c.embeddings <> 'given';

UPDATE users SET embedding =
    (SELECT vec_normalize(f.embedding) FROM semiperso_factors AS f
      WHERE f.model = c.embeddings AND f.side = 'user' AND f.id = users.user_id
        AND users.split = 'warm')
FROM run_config AS c WHERE c.embeddings <> 'given';

DROP VIEW temp.warm_listens;
