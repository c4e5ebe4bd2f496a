-- evaluate.sql - step 6: score every method on the test users.
--
-- For each (method, test user): precision, recall and NDCG at top_k of the
-- recommended list against the distinct tracks the user listened to in
-- days 1..30 (future_listens).  A user with no future listen has no
-- relevant set: the metrics are NULL and avg() skips them.
--
-- results(method, k, precision, precision_sd, recall, recall_sd, ndcg,
-- ndcg_sd, users): means over users in percent; *_sd is the sample
-- standard deviation (n - 1) of the 10 fold means obtained by splitting the
-- users into 5 equal folds at random, twice.  The folds are drawn with a
-- fixed Lehmer permutation of user ids (seeded by the repetition and the
-- "seed" setting), so results are reproducible.  The relevant sets, the
-- scored lists and the folds are kept (relevant_tracks, evaluation_lists,
-- evaluation_folds) for steps/analyze.sql.

DROP TABLE IF EXISTS relevant_tracks;
CREATE TABLE relevant_tracks(user_id INTEGER PRIMARY KEY, tracks TEXT NOT NULL);
INSERT INTO relevant_tracks
  SELECT user_id, json_group_array(track_id)
  FROM (SELECT DISTINCT f.user_id, f.track_id
        FROM future_listens AS f JOIN users AS u USING (user_id)
        WHERE u.split = 'test')
  GROUP BY user_id;

DROP TABLE IF EXISTS user_metrics;
CREATE TABLE user_metrics(
  method    TEXT NOT NULL,
  user_id   INTEGER NOT NULL,
  precision REAL,
  recall    REAL,
  ndcg      REAL,
  PRIMARY KEY (method, user_id)
) WITHOUT ROWID;

-- The recommended list of each (method, test user) in rank order, with the
-- user's relevant set ('[]' when none); a view, as steps/analyze.sql scores
-- the same lists at other K.  The lists are stored as they are scored
-- (recommendation_lists, steps/recommend.sql).
DROP VIEW IF EXISTS evaluation_lists;
CREATE VIEW evaluation_lists(method, user_id, tracks, relevant) AS
  SELECT l.method, l.user_id, l.tracks, coalesce(t.tracks, '[]')
  FROM recommendation_lists AS l
  JOIN users AS u ON u.user_id = l.user_id
  LEFT JOIN relevant_tracks AS t ON t.user_id = l.user_id
  WHERE u.split = 'test';

INSERT INTO user_metrics
  SELECT l.method, l.user_id, precision_at(l.tracks, l.relevant, c.top_k),
         recall_at(l.tracks, l.relevant, c.top_k), ndcg_at(l.tracks, l.relevant, c.top_k)
  FROM evaluation_lists AS l, run_config AS c;

-- Two repetitions of a 5-fold split of the test users.
DROP TABLE IF EXISTS evaluation_folds;
CREATE TABLE evaluation_folds(repetition INTEGER, user_id INTEGER, fold INTEGER,
                              PRIMARY KEY (repetition, user_id));
INSERT INTO evaluation_folds
  SELECT r.repetition, u.user_id,
         (row_number() OVER (PARTITION BY r.repetition
            ORDER BY ((u.user_id % 2147483647) + 7919 * (r.repetition + 2 * c.seed))
                     * 48271 % 2147483647, u.user_id) - 1) % 5
  FROM users AS u,
       (SELECT 0 AS repetition UNION ALL SELECT 1) AS r,
       run_config AS c
  WHERE u.split = 'test';

DROP TABLE IF EXISTS results;
CREATE TABLE results(
  method       TEXT PRIMARY KEY,
  k            INTEGER,
  precision    REAL, precision_sd REAL,
  recall       REAL, recall_sd    REAL,
  ndcg         REAL, ndcg_sd      REAL,
  users        INTEGER
);

INSERT INTO results
  WITH fold_means AS (
    SELECT m.method, f.repetition, f.fold,
           100 * avg(m.precision) AS p, 100 * avg(m.recall) AS r, 100 * avg(m.ndcg) AS n
    FROM user_metrics AS m JOIN evaluation_folds AS f USING (user_id)
    GROUP BY m.method, f.repetition, f.fold),
  spread AS (
    SELECT method,
           sqrt(sum((p - mp) * (p - mp)) / (count(*) - 1)) AS p_sd,
           sqrt(sum((r - mr) * (r - mr)) / (count(*) - 1)) AS r_sd,
           sqrt(sum((n - mn) * (n - mn)) / (count(*) - 1)) AS n_sd
    FROM (SELECT *, avg(p) OVER w AS mp, avg(r) OVER w AS mr, avg(n) OVER w AS mn
          FROM fold_means WINDOW w AS (PARTITION BY method))
    GROUP BY method)
  SELECT m.method, c.top_k,
         100 * avg(m.precision), s.p_sd,
         100 * avg(m.recall), s.r_sd,
         100 * avg(m.ndcg), s.n_sd,
         count(m.precision)
  FROM user_metrics AS m JOIN spread AS s USING (method),
       run_config AS c
  GROUP BY m.method;
