SELECT rank, track_id, score FROM topk_tracks('[1,0,0,0]', 5);
