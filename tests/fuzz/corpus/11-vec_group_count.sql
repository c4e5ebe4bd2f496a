SELECT vec_to_json(vec_group_count(album_id, 5)), vec_group_count(album_id, 2) FROM tracks;
