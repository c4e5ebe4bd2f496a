SELECT top_items(album_id, artist_id, 2) FROM tracks; SELECT top_items(track_id, album_id, 0) FROM tracks;
