-- embedder.sql - train_embedder() / embed_user(): training, storage,
-- replacement, and every bad input.
CREATE TABLE d(f BLOB, t BLOB);
-- 200 rows: 4 input floats -> a unit target vector of 3 floats.
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 200)
INSERT INTO d SELECT vec_f32(json_array(sin(i), cos(i * 0.7), (i % 7) / 7.0, (i % 3) - 1.0)),
  vec_normalize(vec_f32(json_array(sin(i) + 0.1, cos(i * 0.7), (i % 3) - 0.5))) FROM s;

.print '-- training and the summary'
SELECT json_extract(s, '$.model'), json_extract(s, '$.rows'), json_extract(s, '$.input_dim'),
       json_extract(s, '$.output_dim'), json_extract(s, '$.hidden'), json_extract(s, '$.epochs'),
       json_extract(s, '$.final_loss') < 0.05, json_extract(s, '$.validation_precision') IS NULL
FROM (SELECT train_embedder('m', 'SELECT f, t FROM d',
  '{"hidden":[16,8],"epochs":30,"batch_size":32,"learning_rate":0.01,"quiet":true}') AS s);
SELECT name, input_dim, output_dim, hidden, train_rows, epochs, final_loss < 0.05,
       json_extract(options, '$.batch_size'), json_extract(options, '$.seed')
FROM semiperso_models;
-- 2 hidden layers x 6 tensors + the output weight and bias
SELECT count(*), sum(length(data)) FROM semiperso_model_params WHERE model = 'm';
SELECT group_concat(kind, ',') FROM semiperso_model_params WHERE model = 'm' AND layer = 0;
SELECT count(*), min(epoch), max(epoch), count(validation_precision) FROM semiperso_model_history;
-- the loss goes down
SELECT (SELECT loss FROM semiperso_model_history WHERE epoch = 30)
     < (SELECT loss FROM semiperso_model_history WHERE epoch = 1) / 5;

.print '-- embed_user: unit length, d floats, close to the target'
SELECT count(*), sum(abs(vec_distance_l2(embed_user('m', f), vec_zeros(3)) - 1) < 1e-5),
       sum(vec_length(embed_user('m', f)) = 3) FROM d;
SELECT avg(vec_distance_cosine(embed_user('m', f), t)) < 0.05 FROM d;
-- the same input gives the same vector in different statements
CREATE TABLE e1 AS SELECT rowid AS id, embed_user('m', f) AS v FROM d;
SELECT count(*) FROM e1 JOIN d ON d.rowid = e1.id WHERE e1.v = embed_user('m', d.f);
-- JSON text features work too
SELECT embed_user('m', vec_to_json(f)) = embed_user('m', f) FROM d WHERE rowid = 5;

.print '-- determinism by seed; retraining replaces atomically'
CREATE TABLE p1 AS SELECT ordinal, data FROM semiperso_model_params WHERE model = 'm';
CREATE TABLE g1 AS SELECT generation FROM semiperso_models WHERE name = 'm';
SELECT train_embedder('m', 'SELECT f, t FROM d',
  '{"hidden":[16,8],"epochs":30,"batch_size":32,"learning_rate":0.01,"quiet":true}') IS NOT NULL;
SELECT count(*) FROM p1 JOIN semiperso_model_params p USING (ordinal) WHERE p.model = 'm' AND p.data = p1.data;
SELECT generation <> (SELECT generation FROM g1) FROM semiperso_models WHERE name = 'm';
-- another seed: other weights, and embed_user (cached) serves the new model
SELECT train_embedder('m', 'SELECT f, t FROM d',
  '{"hidden":[16,8],"epochs":30,"batch_size":32,"learning_rate":0.01,"quiet":true,"seed":7}') IS NOT NULL;
SELECT count(*) FROM p1 JOIN semiperso_model_params p USING (ordinal) WHERE p.model = 'm' AND p.data = p1.data;
SELECT count(*) FROM e1 JOIN d ON d.rowid = e1.id WHERE e1.v = embed_user('m', d.f);
SELECT json_extract(options, '$.seed') FROM semiperso_models WHERE name = 'm';
-- a different architecture under the same name
SELECT json_extract(train_embedder('m', 'SELECT f, t FROM d', '{"hidden":[5],"epochs":2,"quiet":true}'), '$.hidden');
SELECT count(*) FROM semiperso_model_params WHERE model = 'm';
SELECT count(*) FROM semiperso_model_history WHERE model = 'm';
SELECT vec_length(embed_user('m', f)) FROM d WHERE rowid = 1;
-- a second model beside it; a hostile name is just a name
SELECT train_embedder('x"; DROP TABLE d; --', 'SELECT f, t FROM d', '{"hidden":[4],"epochs":1,"quiet":1}') IS NOT NULL;
SELECT count(*) FROM semiperso_models;
SELECT vec_length(embed_user('x"; DROP TABLE d; --', f)) FROM d WHERE rowid = 1;

.print '-- a failed training keeps the previous model'
CREATE TABLE p2 AS SELECT ordinal, data FROM semiperso_model_params WHERE model = 'm';
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"hidden":[5],"epochs":3,"learning_rate":1e30,"quiet":true}');
SELECT count(*) FROM p2 JOIN semiperso_model_params p USING (ordinal) WHERE p.model = 'm' AND p.data = p2.data;
SELECT count(*) FROM semiperso_model_history WHERE model = 'm';

.print '-- bad arguments'
SELECT embed_user('nope', vec_f32('[1,2,3,4]'));
SELECT embed_user('m', vec_f32('[1,2,3]'));
SELECT embed_user('m', NULL);
SELECT embed_user(NULL, vec_f32('[1,2,3,4]'));
SELECT train_embedder('', 'SELECT f, t FROM d');
SELECT train_embedder(NULL, 'SELECT f, t FROM d');
SELECT train_embedder('m', NULL);
SELECT train_embedder('m', 'DELETE FROM d');
SELECT train_embedder('m', 'SELEC f, t FROM d');
SELECT train_embedder('m', 'SELECT f FROM d');
SELECT train_embedder('m', 'SELECT f, t FROM d WHERE 0');
SELECT train_embedder('m', 'SELECT f, t FROM d LIMIT 1');
SELECT train_embedder('m', 'SELECT f, CASE WHEN rowid = 3 THEN NULL ELSE t END FROM d');
SELECT train_embedder('m', 'SELECT CASE WHEN rowid = 4 THEN ''x'' ELSE f END, t FROM d');
SELECT train_embedder('m', 'SELECT CASE WHEN rowid = 5 THEN vec_f32(''[1,2]'') ELSE f END, t FROM d');

.print '-- bad options'
SELECT train_embedder('m', 'SELECT f, t FROM d', '[1]');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"epochs":');
SELECT train_embedder('m', 'SELECT f, t FROM d', 42);
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"epoch":3}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"epochs":0}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"epochs":2.5}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"epochs":"3"}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"learning_rate":0}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"learning_rate":-1e-3}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"weight_decay":-1}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"batch_size":1}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"hidden":[]}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"hidden":[4,0]}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"hidden":[4,"a"]}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"hidden":400}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"hidden":[1000000,1000000,1000000]}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"quiet":"yes"}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"seed":1.5}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"validation":3}');
SELECT train_embedder('m', 'SELECT f, t FROM d', '{"validation_every":0}');
-- none of that touched the model
SELECT count(*) FROM p2 JOIN semiperso_model_params p USING (ordinal) WHERE p.model = 'm' AND p.data = p2.data;

.print '-- train_embedder is direct-only'
CREATE VIEW v AS SELECT train_embedder('w', 'SELECT f, t FROM d') AS s;
SELECT * FROM v;

.print '-- a deleted model is not served from the cache'
DELETE FROM semiperso_models WHERE name = 'm';
SELECT embed_user('m', f) FROM d WHERE rowid = 1;

.print '-- the summary is JSON text with subtype J, like every JSON result'
SELECT json_type(json_array(train_embedder('j', 'SELECT f, t FROM d',
  '{"hidden":[4],"epochs":1,"quiet":true}')), '$[0]');
SELECT json_type(json_array(json_extract(train_embedder('j', 'SELECT f, t FROM d',
  '{"hidden":[4],"epochs":1,"quiet":true}'), '$.hidden')), '$[0]');
