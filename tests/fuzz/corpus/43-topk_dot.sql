SELECT rank, track_id, score FROM topk_tracks('[1,0,0,0]', 5, 'tracks', 'dot'); SELECT * FROM topk_tracks_batch('SELECT track_id, embedding FROM tracks', 3, 'tracks', 'dot');
