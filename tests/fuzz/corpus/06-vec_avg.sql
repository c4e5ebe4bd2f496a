SELECT vec_to_json(vec_avg(embedding)) FROM tracks GROUP BY album_id;
