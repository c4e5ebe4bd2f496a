-- abtest.sql - bookkeeping and statistics of online A/B tests (the paper's
-- Section 4.2: carousels shown to new users, display-to-stream and
-- display-to-favorite rates of each variant against the previous system).
--
--   sqlite> .load ./semiperso
--   sqlite> .read sql/abtest.sql
--
-- Creates the tables if missing (never drops logged data) and (re)creates
-- the views.  An app:
--   1. declares an experiment and its variants:
--        INSERT INTO ab_experiments(experiment, control) VALUES ('carousel', 'default');
--        INSERT INTO ab_variants VALUES ('carousel', 'default', 1), ('carousel', 'semi', 1);
--   2. serves each user the variant of ab_assignments
--        SELECT variant FROM ab_assignments WHERE experiment = ? AND user_id = ?;
--   3. logs every displayed item in ab_impressions and what the user did
--      with it in ab_responses;
--   4. reads ab_results.
--
-- Assignment: a user's bucket is stable_hash(experiment || ':' || user_id)
-- modulo the sum of the experiment's weights; variants, in order of name,
-- own consecutive ranges of buckets as wide as their weights.
-- stable_hash is FNV-1a 64 of the UTF-8 bytes, then MurmurHash3's fmix64,
-- shifted right by one bit (ext/core/hash.h): the same assignment on every
-- machine, run and SQLite version, independent between experiments.

CREATE TABLE IF NOT EXISTS ab_experiments(
  experiment TEXT PRIMARY KEY,
  control    TEXT NOT NULL,                     -- the variant others compare with
  alpha      REAL NOT NULL DEFAULT 0.05         -- two-sided level; intervals at 1 - alpha
             CHECK (alpha > 0 AND alpha < 1),
  power      REAL NOT NULL DEFAULT 0.8          -- for the minimum detectable effect
             CHECK (power > 0 AND power < 1)
);

CREATE TABLE IF NOT EXISTS ab_variants(
  experiment TEXT NOT NULL REFERENCES ab_experiments(experiment),
  variant    TEXT NOT NULL,
  weight     INTEGER NOT NULL CHECK (typeof(weight) = 'integer' AND weight >= 1),
                                                -- share of users: weight / sum of weights
  PRIMARY KEY (experiment, variant)
) WITHOUT ROWID;

-- One row per item displayed to a user (a card of a carousel).
CREATE TABLE IF NOT EXISTS ab_impressions(
  impression_id INTEGER PRIMARY KEY,
  experiment    TEXT NOT NULL,
  variant       TEXT NOT NULL,                  -- the variant that chose the item
  user_id       INTEGER NOT NULL,
  item_id       INTEGER NOT NULL,               -- a track, a playlist, ...
  position      INTEGER,                        -- 1 = first card
  shown_at      TEXT,                           -- e.g. ISO 8601 time
  FOREIGN KEY (experiment, variant) REFERENCES ab_variants(experiment, variant)
);
CREATE INDEX IF NOT EXISTS ab_impressions_by_variant
  ON ab_impressions(experiment, variant, user_id);

-- What the user did with a displayed item: stream it, add it to favorites.
-- At most one row per action and impression: the rates count displays
-- that led to the action, not repeated plays.
CREATE TABLE IF NOT EXISTS ab_responses(
  impression_id INTEGER NOT NULL REFERENCES ab_impressions(impression_id),
  action        TEXT NOT NULL CHECK (action IN ('stream', 'favorite')),
  at            TEXT,
  PRIMARY KEY (impression_id, action)
) WITHOUT ROWID;

-- Every (experiment, user) pair's bucket and variant, for the users of the
-- `users` table; indexed by user_id through `users`, so looking up one user
-- computes one hash.
DROP VIEW IF EXISTS ab_assignments;
CREATE VIEW ab_assignments(experiment, user_id, bucket, variant) AS
  WITH ranges AS (
    SELECT experiment, variant,
           sum(weight) OVER w - weight AS first_bucket,
           sum(weight) OVER w AS end_bucket,
           sum(weight) OVER (PARTITION BY experiment) AS buckets
    FROM ab_variants
    WINDOW w AS (PARTITION BY experiment ORDER BY variant
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
  hashed AS (
    SELECT e.experiment, u.user_id,
           stable_hash(e.experiment || ':' || u.user_id)
             % (SELECT sum(weight) FROM ab_variants AS v
                WHERE v.experiment = e.experiment) AS bucket
    FROM ab_experiments AS e, users AS u)
  SELECT h.experiment, h.user_id, h.bucket, r.variant
  FROM hashed AS h JOIN ranges AS r
    ON r.experiment = h.experiment
   AND h.bucket >= r.first_bucket AND h.bucket < r.end_bucket;

-- Impressions whose variant is not the user's assigned one: a serving bug
-- to fix before trusting ab_results.
DROP VIEW IF EXISTS ab_assignment_mismatches;
CREATE VIEW ab_assignment_mismatches AS
  SELECT i.experiment, i.user_id, i.variant AS served, a.variant AS assigned,
         count(*) AS impressions
  FROM ab_impressions AS i
  JOIN ab_assignments AS a USING (experiment, user_id)
  WHERE i.variant <> a.variant
  GROUP BY i.experiment, i.user_id, i.variant, a.variant;

-- Per (experiment, variant, metric): displays n and displays x that led to
-- the action, the rate x / n, and against the control variant (rate p0 of
-- n0 displays, x0 conversions), for every other variant:
--   lift       p / p0 - 1, the relative change
--   lift_low, lift_high   its (1 - alpha) confidence interval, from the
--              interval of log(p / p0) with standard error
--              sqrt((1 - p) / x + (1 - p0) / x0) (Katz's log method)
--   z, p_value two-proportion z-test with the pooled rate
--              q = (x + x0) / (n + n0): z = (p - p0) / sqrt(q (1 - q) (1/n + 1/n0)),
--              p_value = 2 (1 - Phi(|z|)), two-sided
--   mde        minimum detectable effect: the smallest relative lift the
--              test detects with probability `power` at level alpha
--              (two-sided) with these n and n0, taking the control's
--              variance for both: (z_{1-alpha/2} + z_{power})
--              * sqrt(p0 (1 - p0) (1/n + 1/n0)) / p0
-- Displays are the trials: repeated displays to one user are taken as
-- independent, as display rates usually are; users counts the distinct
-- users shown the variant.  Statistics are NULL where undefined (no
-- display, or no conversion on a side for the interval).
DROP VIEW IF EXISTS ab_results;
CREATE VIEW ab_results AS
  WITH counts AS (
    SELECT i.experiment, i.variant, m.metric,
           count(DISTINCT i.user_id) AS users,
           count(*) AS displays,
           count(r.impression_id) AS conversions
    FROM ab_impressions AS i
    CROSS JOIN (SELECT 'display_to_stream' AS metric, 'stream' AS action
                UNION ALL SELECT 'display_to_favorite', 'favorite') AS m
    LEFT JOIN ab_responses AS r
      ON r.impression_id = i.impression_id AND r.action = m.action
    GROUP BY i.experiment, i.variant, m.metric),
  paired AS (
    SELECT c.*, e.control, e.alpha, e.power,
           c.conversions * 1.0 / c.displays AS p,
           k.displays AS n0, k.conversions AS x0,
           k.conversions * 1.0 / k.displays AS p0,
           (c.conversions + k.conversions) * 1.0 / (c.displays + k.displays) AS q,
           normal_quantile(1 - e.alpha / 2) AS z_alpha
    FROM counts AS c
    JOIN ab_experiments AS e USING (experiment)
    LEFT JOIN counts AS k
      ON k.experiment = c.experiment AND k.variant = e.control AND k.metric = c.metric
         AND c.variant <> e.control),
  tested AS (
    SELECT *,
           (p - p0) / sqrt(q * (1 - q) * (1.0 / displays + 1.0 / n0)) AS z,
           sqrt((1 - p) / conversions + (1 - p0) / x0) AS log_se
    FROM paired)
  SELECT experiment, variant, variant = control AS is_control, metric,
         users, displays, conversions, p AS rate, p0 AS control_rate,
         p / p0 - 1 AS lift,
         exp(ln(p / p0) - z_alpha * log_se) - 1 AS lift_low,
         exp(ln(p / p0) + z_alpha * log_se) - 1 AS lift_high,
         z,
         2 * normal_cdf(-abs(z)) AS p_value,
         (z_alpha + normal_quantile(power)) * sqrt(p0 * (1 - p0) * (1.0 / displays + 1.0 / n0))
           / p0 AS mde,
         alpha, power
  FROM tested;
