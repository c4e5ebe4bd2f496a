SELECT rank, track_id, score, segment_id FROM recommend_cold_user('FR', 30, '[["stream","track",1],["skip","track",2]]');
SELECT rank, track_id, printf('%.6f', score), segment_id FROM recommend_cold_user(NULL, NULL, NULL, '{"method": "full", "k": 5}');
SELECT count(*) FROM recommend_cold_user('FR', 30, '[["stream","track",1]]', '{"strict": true, "model": "user_embedder", "segmentation": "warm_users"}');
