SELECT train_embedder('m2', 'SELECT embedding, embedding FROM tracks', '{"hidden": [3, 2], "epochs": 1, "quiet": true, "batch_size": 2}');
