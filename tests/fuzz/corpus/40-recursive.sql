WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 50) SELECT vec_to_json(vec_avg(vec_f32(json_array(n, n * 2)))) FROM i;
