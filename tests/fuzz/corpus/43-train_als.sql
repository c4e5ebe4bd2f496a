SELECT train_als('f', 'SELECT track_id % 5, album_id, artist_id FROM tracks', '{"dim": 2, "iterations": 2, "quiet": true}'); SELECT side, count(*) FROM semiperso_factors GROUP BY side;
