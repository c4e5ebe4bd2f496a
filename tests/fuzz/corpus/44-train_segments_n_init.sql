SELECT train_segments('s3', 'SELECT embedding FROM tracks', '{"k": 5, "n_init": 3, "seeding": "plain", "max_iter": 2, "quiet": true}'); SELECT iteration FROM semiperso_segmentation_history;
