SELECT vec_to_json(vec_group_avg(artist_id, embedding, 3)) FROM tracks;
