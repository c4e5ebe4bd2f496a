SELECT vec_to_json(vec_avg(embedding) OVER (ORDER BY track_id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)) FROM tracks;
