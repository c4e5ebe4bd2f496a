-- sql/features.sql on a tiny hand-built dataset (d = 2): every group of
-- the layout sql/features.sql states, checked against values worked out by hand.
.bail off
.headers off
.mode list
.read ../../sql/schema.sql

-- The dataset and its values worked out by hand: data/hand_dataset.sql.
.read data/hand_dataset.sql

.read ../../sql/features.sql

SELECT user_id, length(features) / 4 FROM user_features ORDER BY user_id;
-- User 4, group by group (0 age, 1 country, 2..19 interactions).
WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < 19)
SELECT i, vec_to_json(substr(features, 1 + 8 * i, 8))
FROM g, user_features WHERE user_id = 4;
-- Its 18 counts then the age.
SELECT vec_to_json(substr(features, 1 + 8 * 20)) FROM user_features WHERE user_id = 4;
-- User 5 (US, 50+, no warm user alike, no event): zeros but the age.
SELECT vec_to_json(features) FROM user_features WHERE user_id = 5;
-- User 1 (warm, no event): age and country groups, then zeros; user 6
-- (NULL age and country): all zeros, age scalar 0.
SELECT vec_to_json(substr(features, 1, 16)), vec_to_json(substr(features, 161)) FROM user_features WHERE user_id = 1;
SELECT sum(abs(value)) FROM user_features, json_each(vec_to_json(features)) WHERE user_id = 6;

-- Helper tables.
SELECT entity, entity_id, vec_to_json(embedding) FROM feature_entity_vectors ORDER BY 1, 2;
SELECT age_class, vec_to_json(embedding) FROM feature_age_vectors ORDER BY 1;

-- Re-running replaces the result (here inside an open transaction): a new
-- stream/track event 3 moves group 10 to mean(1,0 0,1 1,0 1,1) = (0.75, 0.5).
BEGIN;
INSERT INTO registration_events VALUES (4, 'stream', 'track', 3);
.read ../../sql/features.sql
COMMIT;
SELECT count(*) FROM user_features;
SELECT vec_to_json(substr(features, 81, 8)), vec_to_json(substr(features, 1 + 8 * 20 + 4 * 8, 4))
FROM user_features WHERE user_id = 4;

-- The aggregates on their own, and their errors.
SELECT vec_to_json(vec_group_avg(g, v, 3)), vec_to_json(vec_group_count(g, 3))
FROM (SELECT 0 AS g, '[1, 2]' AS v UNION ALL SELECT 2, '[3, 4]' UNION ALL SELECT 2, '[5, 6]'
      UNION ALL SELECT 1, NULL);
SELECT quote(vec_group_avg(0, NULL, 2)), vec_to_json(vec_group_count(1, 2));
SELECT quote(vec_group_avg(0, '[1]', 1)) WHERE 0;
SELECT vec_group_avg(3, '[1]', 3);
SELECT vec_group_avg(0, '[1]', 0);
SELECT vec_group_count('a', 2);
SELECT vec_group_avg(g, '[1]', n) FROM (SELECT 0 AS g, 2 AS n UNION ALL SELECT 1, 3);
SELECT vec_group_avg(g, v, 2) FROM (SELECT 0 AS g, '[1]' AS v UNION ALL SELECT 1, '[1, 2]');
SELECT vec_group_avg(0, X'0000C07F', 2);
