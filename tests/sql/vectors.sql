-- Vector functions: values worked out by hand, then every bad input.
.bail off
.headers off
.mode list

-- vec_f32: JSON and BLOB give the same bytes as sqlite-vec's documented
-- example ([.1, .2, .3, 4] -> CDCCCC3D CDCC4C3E 9A99993E 00008040).
SELECT hex(vec_f32('[.1, .2, .3, 4]'));
SELECT hex(vec_f32(X'0000803F00000040'));
SELECT vec_to_json('[1, 2.5, -3]');
SELECT vec_length(vec_f32('[1,2,3,4,5]')), vec_length(X'00000000');
-- 2,3,1,-4 has norm sqrt(30): 2/sqrt(30) = 0.365148, 3/sqrt(30) = 0.547723
SELECT vec_to_json(vec_normalize('[2, 3, 1, -4]'));
SELECT vec_to_json(vec_normalize('[0, 0]'));
-- |(1,1)-(4,5)| = 5; cosine of (1,0),(1,1) = 1/sqrt(2) -> distance 0.292893
SELECT vec_distance_l2('[1, 1]', '[4, 5]');
SELECT printf('%.6f', vec_distance_cosine('[1, 0]', '[1, 1]'));
SELECT vec_distance_cosine('[1, 1]', '[-2, -2]'), vec_distance_cosine('[1, 0]', '[0, 0]');
SELECT vec_to_json(vec_concat('[1]', X'00000040', '[3, 4]'));
SELECT hex(vec_zeros(2)), vec_length(vec_zeros(1000));

-- vec_avg: NULLs skipped, NULL on no rows, also a window function.
CREATE TABLE v(id INTEGER PRIMARY KEY, g, e);
INSERT INTO v VALUES (1, 'a', '[1, 2]'), (2, 'a', '[3, 6]'), (3, 'a', NULL),
                     (4, 'b', '[5, 0]'), (5, 'c', NULL);
SELECT g, vec_to_json(vec_avg(vec_f32(e))) FROM v WHERE e IS NOT NULL GROUP BY g ORDER BY g;
SELECT g, quote(vec_avg(e)) FROM v WHERE g = 'c' GROUP BY g;
SELECT quote(vec_avg(e)) FROM v WHERE 0;
-- running mean over a 2-row window: (1,2); (2,4); (3,6) [row 3 NULL]; (5,0); (5,0)
SELECT id, vec_to_json(vec_avg(e) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW))
  FROM v ORDER BY id;

-- Bad input: every error names the function and the argument.
SELECT vec_f32(X'AA');
SELECT vec_f32(X'');
SELECT vec_f32('[]');
SELECT vec_f32(NULL);
SELECT vec_f32(42);
SELECT vec_f32('[1, 2');
SELECT vec_f32('{"a": 1}');
SELECT vec_f32('[1, "x"]');
SELECT vec_f32('[1e40]');
SELECT vec_f32(X'0000C07F');
SELECT vec_normalize(X'0000807F');
SELECT vec_distance_l2('[1, 2]', '[1, 2, 3]');
SELECT vec_distance_cosine('[1]', NULL);
SELECT vec_concat();
SELECT vec_concat('[1]', 'oops');
SELECT vec_zeros(0);
SELECT vec_zeros('3');
SELECT vec_zeros(4294967296);
SELECT vec_avg(e) FROM (SELECT '[1, 2]' AS e UNION ALL SELECT '[1, 2, 3]');
SELECT vec_avg(e) FROM (SELECT 'junk' AS e);
