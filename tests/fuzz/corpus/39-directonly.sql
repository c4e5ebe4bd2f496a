CREATE VIEW v AS SELECT train_segments('x', 'SELECT embedding FROM tracks'); SELECT * FROM v;
