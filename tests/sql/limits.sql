-- limits.sql - absurd sizes are refused with a clear error before anything
-- is allocated: vector lengths, k, layer widths, dataset sizes, groups.
CREATE TABLE tracks(track_id INTEGER PRIMARY KEY, embedding BLOB);
INSERT INTO tracks VALUES (1, vec_f32('[1,0]')), (2, vec_f32('[0,1]')), (3, vec_f32('[1,1]'));
-- Vectors: at most SQLITE_LIMIT_LENGTH / 4 floats (1e9 / 4 by default).
SELECT vec_zeros(1000000000);
SELECT vec_zeros(1099511627776);
SELECT vec_zeros(0);
SELECT vec_zeros(-1);
.limit length 4000
SELECT vec_length(vec_zeros(1000));
SELECT vec_zeros(1001);
SELECT vec_concat(vec_zeros(600), vec_zeros(600));
SELECT vec_f32('[' || substr(replace(hex(zeroblob(1100)), '00', '0,'), 1, 2199) || ']');
.limit length 1000000000
-- k: topk_tracks, topk_tracks_batch, train_segments, top_items, metrics.
SELECT * FROM topk_tracks('[1,0]', 1099511627776);
SELECT * FROM topk_tracks('[1,0]', 10000001);
SELECT * FROM topk_tracks('[1,0]', -1);
SELECT count(*) FROM topk_tracks_batch('SELECT track_id, embedding FROM tracks', 1099511627776);
SELECT train_segments('s', 'SELECT embedding FROM tracks', '{"k": 1099511627776}');
SELECT train_segments('s', 'SELECT embedding FROM tracks', '{"k": 1000000}');
SELECT train_segments('s', 'SELECT embedding FROM tracks', '{"k": 1e12}');
SELECT train_segments('s', 'SELECT embedding FROM tracks', '{"max_iter": 1099511627776}');
SELECT top_items(1, 1, 1099511627776);
SELECT precision_at('[1]', '[1]', 1099511627776);
SELECT ndcg_at('[1]', '[1]', 0);
-- Layer widths and training sizes.
SELECT train_embedder('m', 'SELECT embedding, embedding FROM tracks', '{"hidden": [10000000]}');
SELECT train_embedder('m', 'SELECT embedding, embedding FROM tracks', '{"hidden": [1000000, 1000000]}');
SELECT train_embedder('m', 'SELECT embedding, embedding FROM tracks', '{"hidden": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}');
SELECT train_embedder('m', 'SELECT embedding, embedding FROM tracks', '{"hidden": [0]}');
SELECT train_embedder('m', 'SELECT embedding, embedding FROM tracks', '{"epochs": 1099511627776}');
SELECT train_embedder('m', 'SELECT embedding, embedding FROM tracks', '{"batch_size": 1099511627776}');
SELECT train_embedder('m', 'SELECT embedding, embedding FROM tracks', '{"validation_k": 1099511627776}');
SELECT train_embedder('m', 'SELECT embedding, embedding FROM tracks', '{"learning_rate": 1e999}');
-- Dataset sizes.
SELECT synthesize_dataset('{"tracks": 1099511627776}');
SELECT synthesize_dataset('{"warm": 1000000000000}');
SELECT synthesize_dataset('{"test": -1}');
SELECT synthesize_dataset('{"dim": 100000}');
SELECT synthesize_dataset('{"genres": 1000000}');
SELECT synthesize_dataset('{"countries": 1000000}');
SELECT synthesize_dataset('{"playlists": 1099511627776}');
-- Groups.
SELECT vec_group_avg(1, '[1]', 1099511627776);
SELECT vec_group_count(1, 100000);
SELECT vec_group_count(70000, 65536);
-- Nothing was created by any of the refused calls.
SELECT name FROM sqlite_schema ORDER BY name;
