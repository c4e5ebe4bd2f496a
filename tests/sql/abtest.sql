-- A/B test bookkeeping and statistics (sql/abtest.sql) on counts small
-- enough to work by hand.  Experiment 'hand', control A, alpha 0.05, power
-- 0.8: z_0.975 = 1.959964, z_0.8 = 0.841621 (sum 2.801585).
--   A: 1000 displays, 100 streams, 20 favorites
--   B: 1000 displays, 130 streams, 20 favorites
--   C:  500 displays,   0 streams,  0 favorites
-- B streams: p = 0.13, p0 = 0.1, lift 0.3.  Pooled q = 230/2000 = 0.115,
--   se = sqrt(0.115 * 0.885 * 2/1000) = 0.0142671, z = 0.03/se = 2.102741,
--   p-value = 2 Phi(-2.102741) = 0.035488.  Katz: se_log =
--   sqrt(0.87/130 + 0.9/100) = 0.125269, ln 1.3 = 0.262364, +- 1.959964 se_log
--   -> exp(0.016839) - 1 = 0.016984, exp(0.507889) - 1 = 0.661776.
--   MDE = 2.801585 sqrt(0.1 * 0.9 * 2/1000) / 0.1 = 0.375872.
-- B favorites: equal rates: lift 0, z 0, p-value 1; se_log = sqrt(2 * 0.98/20)
--   = 0.313050 -> [exp(-0.613569) - 1, exp(0.613569) - 1] = [-0.458583, 0.847006];
--   MDE = 2.801585 sqrt(0.02 * 0.98 * 2/1000) / 0.02 = 0.877035.
-- C streams: p = 0, lift -1; q = 100/1500, se = sqrt(q (1 - q) (1/500 +
--   1/1000)) = 0.0136626, z = -7.319251, p-value 2.49e-13; no interval (no
--   conversion: the log ratio is undefined); MDE = 2.801585
--   sqrt(0.09 * 0.003) / 0.1 = 0.460347.
-- C favorites: q = 20/1500, z = -0.02 / sqrt(q (1 - q) 0.003) = -3.183573,
--   p-value 0.001455; MDE = 2.801585 sqrt(0.0196 * 0.003) / 0.02 = 1.074144.
-- (Digits beyond hand precision checked with Python's statistics.NormalDist.)
.bail off
.mode list
.cd ../..
.read sql/schema.sql
.read sql/abtest.sql
.cd tests/sql

INSERT INTO ab_experiments(experiment, control) VALUES ('hand', 'A');
INSERT INTO ab_variants VALUES ('hand', 'A', 1), ('hand', 'B', 1), ('hand', 'C', 2);
-- 10 cards per user: A users 10000..10099, B 20000..20099, C 30000..30049
-- (not in `users`, so ab_assignments does not judge them).
INSERT INTO ab_impressions(experiment, variant, user_id, item_id, position)
  SELECT 'hand', v.variant, v.first_user + value / 10, value, value % 10 + 1
  FROM (SELECT 'A' AS variant, 10000 AS first_user, 1000 AS n
        UNION ALL SELECT 'B', 20000, 1000 UNION ALL SELECT 'C', 30000, 500) AS v,
       generate_series(0, 999)
  WHERE value < v.n;
INSERT INTO ab_responses(impression_id, action)
  SELECT impression_id, 'stream' FROM ab_impressions
  WHERE (variant = 'A' AND item_id < 100) OR (variant = 'B' AND item_id < 130);
INSERT INTO ab_responses(impression_id, action)
  SELECT impression_id, 'favorite' FROM ab_impressions
  WHERE variant IN ('A', 'B') AND item_id < 20;

-- (The control's own rows compare with nothing: their statistics are NULL.)
SELECT variant, metric, is_control, users, displays, conversions,
       quote(round(rate, 6)), quote(round(control_rate, 6)), quote(round(lift, 6)),
       quote(round(lift_low, 6)), quote(round(lift_high, 6)), quote(round(z, 6)),
       quote(round(p_value, 6)), iif(p_value IS NULL, 'NULL', printf('%.3g', p_value)),
       quote(round(mde, 6)),
       alpha, power
FROM ab_results ORDER BY variant, metric DESC;

-- Assignment: weights A 1, B 1, C 2 make 4 buckets, A [0,1), B [1,2),
-- C [2,4), bucket = stable_hash('hand:' || user_id) % 4.
INSERT INTO users(user_id, split) SELECT value, 'test' FROM generate_series(1, 8);
SELECT user_id, bucket, variant, stable_hash('hand:' || user_id) % 4 = bucket
FROM ab_assignments WHERE experiment = 'hand' ORDER BY user_id;
-- Stable under adding variants of another experiment, and shares follow
-- the weights: 4000 users, about 1000 / 1000 / 2000.
INSERT INTO ab_experiments(experiment, control) VALUES ('other', 'X');
INSERT INTO ab_variants VALUES ('other', 'X', 3), ('other', 'Y', 5);
INSERT INTO users(user_id, split) SELECT value, 'test' FROM generate_series(9, 4000);
SELECT group_concat(user_id || variant, ' ') FROM (SELECT * FROM ab_assignments
  WHERE experiment = 'hand' AND user_id <= 8 ORDER BY user_id);
SELECT variant, count(*) BETWEEN n * 0.9 AND n * 1.1
FROM ab_assignments JOIN (SELECT 'A' AS variant, 1000 AS n UNION ALL SELECT 'B', 1000
                          UNION ALL SELECT 'C', 2000) USING (variant)
WHERE experiment = 'hand' GROUP BY variant;
-- One card served by the wrong variant shows up as a mismatch.
INSERT INTO ab_impressions(experiment, variant, user_id, item_id)
  SELECT 'other', CASE variant WHEN 'X' THEN 'Y' ELSE 'X' END, user_id, 1
  FROM ab_assignments WHERE experiment = 'other' AND user_id = 1;
SELECT experiment, user_id, served <> assigned, impressions FROM ab_assignment_mismatches;
-- Reading sql/abtest.sql again keeps the logged data.
.cd ../..
.read sql/abtest.sql
.cd tests/sql
SELECT count(*) FROM ab_impressions;

-- Bad rows are refused by the schema.
INSERT INTO ab_variants VALUES ('hand', 'D', 0);
INSERT INTO ab_responses VALUES (1, 'click', NULL);
INSERT INTO ab_responses VALUES (1, 'stream', NULL);
INSERT INTO ab_experiments(experiment, control, alpha) VALUES ('bad', 'A', 1.5);
