SELECT * FROM topk_tracks_batch('SELECT 1', 3); SELECT * FROM topk_tracks_batch('DELETE FROM tracks', 3); SELECT * FROM topk_tracks_batch('SELECT track_id, embedding FROM tracks', 2, 'x"y');
