SELECT * FROM topk_tracks_batch('SELECT track_id, embedding FROM tracks', 3);
