CREATE TABLE p(id INTEGER PRIMARY KEY, embedding BLOB); INSERT INTO p VALUES (1, NULL), (2, X'00'), (3, vec_f32('[1,2]')); SELECT * FROM topk_tracks('[1,2]', 2, 'p');
