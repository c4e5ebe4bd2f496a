SELECT train_segments('s2', 'SELECT embedding FROM tracks', '{"k": 20, "max_iter": 0, "normalize": true, "quiet": true}'); SELECT assign_segment('s2', embedding) FROM tracks;
