-- Ranking metrics (docs/ARCHITECTURE.md, Metrics), expected values worked by hand.
-- Gains: 1/log2(2) = 1, 1/log2(3) = 0.630930, 1/log2(4) = 0.5.
.bail off
.mode list

-- R = [10,20,30,40], T = {20,30,99}, k = 4: hits at ranks 2 and 3.
-- precision = 2/min(3,4) = 0.666667, recall = 2/3,
-- ndcg = (0.630930 + 0.5) / (1 + 0.630930 + 0.5) = 0.530721
SELECT printf('%.6f %.6f %.6f',
  precision_at('[10,20,30,40]', '[30,20,99]', 4),
  recall_at('[10,20,30,40]', '[30,20,99]', 4),
  ndcg_at('[10,20,30,40]', '[30,20,99]', 4));
-- k = 2: R = [10,20], one hit at rank 2: 1/2, 1/3, 0.630930/1.630930 = 0.386853
SELECT printf('%.6f %.6f %.6f',
  precision_at('[10,20,30,40]', '[30,20,99]', 2),
  recall_at('[10,20,30,40]', '[30,20,99]', 2),
  ndcg_at('[10,20,30,40]', '[30,20,99]', 2));
-- Duplicate recommended id counts once: R = [5,5,7], T = {5,7,8}:
-- 2/3, 2/3, (1 + 0.5)/(1 + 0.630930 + 0.5) = 0.703918
SELECT printf('%.6f %.6f %.6f',
  precision_at('[5,5,7]', '[5,7,8,5]', 10),
  recall_at('[5,5,7]', '[5,7,8,5]', 10),
  ndcg_at('[5,5,7]', '[5,7,8,5]', 10));
-- k larger than the list, perfect ranking: 1 1 1
SELECT precision_at('[1,2]', '[2,1]', 50), recall_at('[1,2]', '[2,1]', 50),
       ndcg_at('[1,2]', '[2,1]', 50);
-- Empty relevant set: NULL, so avg() skips the user.
SELECT quote(precision_at('[1]', '[]', 5)), quote(ndcg_at('[]', '[]', 5));
SELECT avg(p) FROM (SELECT precision_at('[1,2]', '[1]', 2) AS p
                    UNION ALL SELECT precision_at('[1]', '[]', 2));
-- Built from tables with json_group_array, as the pipeline does.
CREATE TABLE rec(u, r, t);
INSERT INTO rec VALUES (1, 1, 7), (1, 2, 8), (1, 3, 9);
CREATE TABLE truth(u, t);
INSERT INTO truth VALUES (1, 9), (1, 1);
SELECT printf('%.6f', ndcg_at((SELECT json_group_array(t) FROM (SELECT t FROM rec ORDER BY r)),
                              (SELECT json_group_array(t) FROM truth), 3));

-- Lists scored row by row, each row's values as alone (the connection
-- keeps the last lists read, so this checks it never serves another's):
-- 1: as above, ndcg at 2 = 0.386853; 2: T = {10}, hit at rank 1: 1 1 1;
-- 3: no hit: 0 0 0; 4: empty relevant set: NULL.
CREATE TABLE lists(u, rec, rel);
INSERT INTO lists VALUES (1, '[10,20,30,40]', '[30,20,99]'), (2, '[10,20,30,40]', '[10]'),
  (3, '[40,30]', '[10]'), (4, '[40,30]', '[]'), (5, '[40,30]', '[30,20,99]');
SELECT u, printf('%.6f %.6f %.6f', precision_at(rec, rel, 4), recall_at(rec, rel, 4),
                 ndcg_at(rec, rel, 2)), quote(recall_at(rec, rel, 1))
FROM lists ORDER BY u;
-- A bad argument after the same good one read before still fails.
SELECT precision_at('[40,30]', '[30', 2);
SELECT precision_at('[40,30]', '[30]', -1);

-- Bad input.
SELECT precision_at('[1]', '[1]', 0);
SELECT recall_at('[1]', '[1]', 2.5);
SELECT ndcg_at(NULL, '[1]', 3);
SELECT ndcg_at('[1, 2.5]', '[1]', 3);
SELECT precision_at('[1]', X'01', 3);
SELECT precision_at('[1]', '[1', 3);
SELECT recall_at('[1]', '{"a":1}', 3);

-- top_items: item 10 met by users 1, 2 (user 1 twice), item 5 by 2 and 3,
-- item 7 by user 3 (the NULL user is skipped): ties by smaller id.
SELECT top_items(u, i, 3) FROM (
  SELECT 1 AS u, 10 AS i UNION ALL SELECT 1, 10 UNION ALL SELECT 2, 10
  UNION ALL SELECT 2, 5 UNION ALL SELECT 3, 5 UNION ALL SELECT 3, 7
  UNION ALL SELECT NULL, 7);
SELECT top_items(u, i, 1) FROM (SELECT 1 AS u, 10 AS i UNION ALL SELECT 2, 3 UNION ALL SELECT 2, 10);
SELECT quote(top_items(1, 2, 3)) WHERE 0;
SELECT top_items('a', 2, 3);
SELECT top_items(1, 2, 0);
