SELECT train_embedder('m3', 'SELECT embedding, vec_normalize(embedding) FROM tracks', '{"hidden": [], "epochs": 0, "learning_rate": -1, "quiet": true}');
