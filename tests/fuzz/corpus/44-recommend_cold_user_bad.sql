SELECT * FROM recommend_cold_user('XX', 30, '[["dance","track",1]]', '{"strict": true}');
SELECT * FROM recommend_cold_user('FR', 30, '[]', '{"method": "best", "k": 0}');
SELECT * FROM recommend_cold_user('FR', 30, '[]', '{"model": "m"}');
SELECT * FROM recommend_cold_user('FR', 30, '[]', '{"segmentation": "s"}');
DELETE FROM segment_top_tracks WHERE segment_id = 0; SELECT * FROM recommend_cold_user('FR', 30, '[]');
DROP TABLE feature_groups; SELECT * FROM recommend_cold_user('FR', 30, '[["stream","track",1]]');
