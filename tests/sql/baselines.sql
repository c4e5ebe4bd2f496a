-- baselines.sql - DropoutNet and MeLU from SQL (train_dropoutnet,
-- dropoutnet_user, dropoutnet_item, dropoutnet_recommend, melu_support,
-- train_melu, melu_user, melu_recommend): what is stored, replacement,
-- determinism, and every bad input.  The numbers themselves are checked
-- against numpy in tests/scripts/baselines_persist.sh.
.bail off
.cd ../..
.read sql/schema.sql
-- 8 tracks of d = 2; 12 warm users, two tastes; 2 test users.
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 8)
INSERT INTO tracks SELECT n, n % 2, n % 4, vec_f32(json_array(cos(n), sin(n))) FROM i;
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 12)
INSERT INTO users SELECT n, 'warm', CASE n % 2 WHEN 0 THEN 'FR' ELSE 'DE' END, 20 + 2 * n,
  vec_f32(json_array(cos(n % 2 + 1), sin(n % 2 + 1))) FROM i;
INSERT INTO users VALUES (21, 'test', 'FR', 30, NULL), (22, 'test', 'DE', 31, NULL);
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 12)
INSERT INTO registration_events SELECT n, 'stream', 'track', n % 2 + 1 FROM i
  UNION ALL SELECT n, 'skip', 'track', 8 - n % 2 FROM i WHERE n % 3 = 0;
INSERT INTO registration_events VALUES (21, 'stream', 'track', 2), (21, 'ban', 'album', 0);
.output /dev/null
.read sql/features.sql
.output stdout
.mode list

.print '-- melu_support: (label, vector) float32 rows; NULL vectors skipped'
SELECT hex(melu_support(v, l)) FROM (SELECT vec_f32('[1, 2]') AS v, 1 AS l
  UNION ALL SELECT NULL, 0 UNION ALL SELECT vec_f32('[0.5, -1]'), 0);
-- 1.0 = 0000803F, 2.0 = 00000040, 0.5 = 0000003F, -1.0 = 000080BF
SELECT melu_support(NULL, 1) IS NULL, melu_support(vec_f32('[1]'), 0.25) IS NOT NULL;
SELECT melu_support(v, 2) FROM (SELECT vec_f32('[1, 2]') AS v);
SELECT melu_support(v, 'x') FROM (SELECT vec_f32('[1, 2]') AS v);
SELECT melu_support(v, 1) FROM (SELECT vec_f32('[1, 2]') AS v UNION ALL SELECT vec_f32('[1]'));
SELECT melu_support('nope', 1);
CREATE TABLE support AS
  SELECT e.user_id, melu_support(v.embedding, e.action NOT IN ('skip', 'ban')) AS support
  FROM registration_events AS e
  JOIN feature_entity_vectors AS v ON v.entity = e.entity AND v.entity_id = e.entity_id
  GROUP BY e.user_id;
-- user 3: a stream and a skip, 2 rows of 3 floats
SELECT length(support) FROM support WHERE user_id = 3;

.print '-- train_dropoutnet: the summary and what is stored'
CREATE VIEW warm AS SELECT u.user_id, f.features, u.embedding, s.support
  FROM users AS u JOIN user_features AS f USING (user_id) LEFT JOIN support AS s USING (user_id)
  WHERE u.split = 'warm' ORDER BY u.user_id;
SELECT json_extract(s, '$.model'), json_extract(s, '$.rows'), json_extract(s, '$.items'),
       json_extract(s, '$.input_dim'), json_extract(s, '$.output_dim'),
       json_extract(s, '$.hidden'), json_extract(s, '$.epochs')
FROM (SELECT train_dropoutnet('dn', 'SELECT features, embedding FROM warm',
  '{"hidden":[6,4],"output_dim":3,"epochs":4,"batch_users":4,"top_items":3,"random_items":4,"quiet":true}') AS s);
SELECT name, model, input_dim, item_dim, output_dim, train_rows, items, epochs,
       json_extract(options, '$.dropout'), json_extract(options, '$.items')
FROM semiperso_baselines;
-- each tower: 2 x (weight, bn_weight, bn_bias, bn_running_mean, bn_running_var)
-- + out.weight, out.bias; 6 scalers; the catalog
SELECT count(*), max(ordinal), group_concat(kind, ' ') FILTER (WHERE ordinal >= 24)
FROM semiperso_baseline_params WHERE model = 'dn';
SELECT rows, cols, length(data) FROM semiperso_baseline_params WHERE model = 'dn' AND kind = 'catalog';
SELECT count(*), group_concat(track_id) FROM semiperso_baseline_items WHERE model = 'dn';
SELECT count(*), min(epoch), max(epoch) FROM semiperso_baseline_history WHERE model = 'dn';

.print '-- dropoutnet serving'
SELECT vec_length(dropoutnet_user('dn', features)), vec_length(dropoutnet_user('dn', features, NULL)),
       dropoutnet_user('dn', features) = dropoutnet_user('dn', features, NULL),
       dropoutnet_user('dn', features) <> dropoutnet_user('dn', features, embedding),
       vec_length(dropoutnet_item('dn', embedding))
FROM warm LIMIT 1;
SELECT json_array_length(dropoutnet_recommend('dn', features, 3)),
       json_array_length(dropoutnet_recommend('dn', features, 100)),
       (SELECT count(DISTINCT value) FROM json_each(dropoutnet_recommend('dn', features, 100)))
FROM user_features WHERE user_id = 21;
-- the same order as topk_tracks' exact dot-product ranking of the item outputs
CREATE TABLE dn_items(track_id INTEGER PRIMARY KEY, embedding BLOB);
INSERT INTO dn_items SELECT track_id, dropoutnet_item('dn', embedding) FROM tracks;
SELECT dropoutnet_recommend('dn', f.features, 8) =
       (SELECT json_group_array(track_id) FROM (SELECT track_id FROM topk_tracks(
          dropoutnet_user('dn', f.features), 8, 'dn_items', 'dot') ORDER BY rank))
FROM user_features AS f WHERE f.user_id IN (21, 22);

.print '-- train_melu: the summary and what is stored'
SELECT json_extract(s, '$.rows'), json_extract(s, '$.support_events'), json_extract(s, '$.items'),
       json_extract(s, '$.embed_dim'), json_extract(s, '$.hidden'), json_extract(s, '$.epochs')
FROM (SELECT train_melu('me', 'SELECT user_id, features, embedding, support FROM warm',
  '{"embed_dim":3,"hidden":[5,4],"epochs":3,"batch_users":4,"top_items":3,"query_positives":2,"query_negatives":2,"quiet":true}') AS s);
SELECT count(*) FROM registration_events WHERE user_id <= 12;
SELECT name, model, input_dim, item_dim, output_dim, train_rows, items, epochs
FROM semiperso_baselines WHERE name = 'me';
-- 20 fields, the scalars, the item map, 3 layers x (weight, bias), 2 scalers, the catalog
SELECT count(*), group_concat(kind, ' ') FILTER (WHERE ordinal >= 20)
FROM semiperso_baseline_params WHERE model = 'me';

.print '-- melu serving'
SELECT vec_length(melu_user('me', user_id, features, support)),
       json_array_length(melu_recommend('me', user_id, features, support, 5)),
       json_array_length(melu_recommend('me', user_id, features, NULL, 50)),
       melu_recommend('me', user_id, features, support, 8) = melu_recommend('me', user_id, features, support, 8)
FROM user_features LEFT JOIN support USING (user_id) WHERE user_id = 21;

.print '-- determinism by seed; retraining replaces atomically'
CREATE TABLE p1 AS SELECT ordinal, data FROM semiperso_baseline_params WHERE model = 'dn';
CREATE TABLE g1 AS SELECT generation FROM semiperso_baselines WHERE name = 'dn';
CREATE TABLE r1 AS SELECT dropoutnet_recommend('dn', features, 8) AS r FROM user_features WHERE user_id = 21;
SELECT train_dropoutnet('dn', 'SELECT features, embedding FROM warm',
  '{"hidden":[6,4],"output_dim":3,"epochs":4,"batch_users":4,"top_items":3,"random_items":4,"quiet":true}') IS NOT NULL;
SELECT count(*) FROM p1 JOIN semiperso_baseline_params AS p USING (ordinal) WHERE p.model = 'dn' AND p.data = p1.data;
SELECT generation <> (SELECT generation FROM g1) FROM semiperso_baselines WHERE name = 'dn';
SELECT train_dropoutnet('dn', 'SELECT features, embedding FROM warm',
  '{"hidden":[5],"output_dim":3,"epochs":2,"batch_users":4,"top_items":3,"random_items":4,"quiet":true,"seed":4}') IS NOT NULL;
SELECT count(*), count(DISTINCT ordinal) FROM semiperso_baseline_params WHERE model = 'dn';
SELECT count(*) FROM semiperso_baseline_history WHERE model = 'dn';
SELECT count(*) FROM semiperso_baseline_params WHERE model = 'me';
-- a hostile name is just a name
SELECT train_dropoutnet('x"; DROP TABLE tracks; --', 'SELECT features, embedding FROM warm',
  '{"hidden":[3],"output_dim":2,"epochs":1,"batch_users":4,"top_items":2,"quiet":1}') IS NOT NULL;
SELECT vec_length(dropoutnet_user('x"; DROP TABLE tracks; --', features)) FROM warm LIMIT 1;
SELECT count(*) FROM semiperso_baselines;

.print '-- a failed training keeps the previous model'
CREATE TABLE g2 AS SELECT generation FROM semiperso_baselines WHERE name = 'dn';
SELECT train_dropoutnet('dn', 'SELECT features, embedding FROM warm', '{"items":"nope","quiet":true}');
SELECT train_dropoutnet('dn', 'SELECT features, embedding FROM warm',
  '{"hidden":[3],"epochs":3,"learning_rate":1e5,"momentum":0,"batch_users":4,"top_items":2,"quiet":true}');
SELECT generation = (SELECT generation FROM g2) FROM semiperso_baselines WHERE name = 'dn';

.print '-- bad arguments'
SELECT train_dropoutnet(NULL, 'SELECT features, embedding FROM warm');
SELECT train_dropoutnet('', 'SELECT features, embedding FROM warm');
SELECT train_dropoutnet('a', 42);
SELECT train_dropoutnet('a', 'SELECT features FROM warm');
SELECT train_dropoutnet('a', 'DELETE FROM tracks');
SELECT train_dropoutnet('a', 'SELECT features, embedding FROM warm WHERE 0');
SELECT train_dropoutnet('a', 'SELECT features, embedding FROM warm LIMIT 1');
SELECT train_dropoutnet('a', 'SELECT embedding, embedding FROM warm');
SELECT train_dropoutnet('a', 'SELECT features, ''x'' FROM warm');
SELECT train_dropoutnet('a', 'SELECT features, embedding FROM warm', '{"dropout": 2}');
SELECT train_dropoutnet('a', 'SELECT features, embedding FROM warm', '{"hidden": []}');
SELECT train_dropoutnet('a', 'SELECT features, embedding FROM warm', '{"hiden": [3]}');
SELECT train_dropoutnet('a', 'SELECT features, embedding FROM warm', '{"epochs": 1');
SELECT train_dropoutnet('a', 'SELECT features, embedding FROM warm', '{"top_per_user": 5, "top_items": 3}');
SELECT train_dropoutnet('a', 'SELECT features, embedding FROM warm', '{"items": "users"}');
CREATE TABLE empty_items(id INTEGER PRIMARY KEY, embedding BLOB);
SELECT train_dropoutnet('a', 'SELECT features, embedding FROM warm', '{"items": "empty_items"}');
SELECT train_melu('a', 'SELECT features, embedding, support FROM warm');
SELECT train_melu('a', 'SELECT ''u'', features, embedding, support FROM warm');
SELECT train_melu('a', 'SELECT user_id, features, embedding, X''00'' FROM warm');
SELECT train_melu('a', 'SELECT user_id, features, embedding, support FROM warm', '{"local_lr": -1}');
SELECT train_melu('a', 'SELECT user_id, features, embedding, support FROM warm',
  '{"query_positives": 0, "query_negatives": 0, "quiet": true}');
SELECT count(*) FROM semiperso_baselines WHERE name = 'a';
SELECT dropoutnet_user('nope', features) FROM warm LIMIT 1;
SELECT dropoutnet_user('me', features) FROM warm LIMIT 1;
SELECT melu_user('dn', 1, features, NULL) FROM warm LIMIT 1;
SELECT dropoutnet_user('dn', '[1, 2]');
SELECT dropoutnet_user('dn', NULL);
SELECT dropoutnet_user('dn', 'not a vector');
SELECT dropoutnet_user('dn', features, '[1, 2, 3]') FROM warm LIMIT 1;
SELECT dropoutnet_user(NULL, features) FROM warm LIMIT 1;
SELECT dropoutnet_item('dn', '[1, 2, 3]');
SELECT dropoutnet_recommend('dn', features, 0) FROM warm LIMIT 1;
SELECT dropoutnet_recommend('dn', features, 'x') FROM warm LIMIT 1;
SELECT melu_recommend('me', 1, features, NULL, 0) FROM warm LIMIT 1;
SELECT melu_recommend('me', 'x', features, NULL, 3) FROM warm LIMIT 1;
SELECT melu_recommend('me', 1, '[1, 2]', NULL, 3);
SELECT melu_user('me', 1, features, X'0000803F') FROM warm LIMIT 1;
SELECT melu_user('me', 1, features, melu_support(vec_f32('[1, 2, 3]'), 1)) FROM warm LIMIT 1;
SELECT melu_user('me', 1, features, 'text') FROM warm LIMIT 1;
-- NaN in a support row
SELECT melu_user('me', 1, features, CAST(X'0000803F0000C07F00000000' AS BLOB)) FROM warm LIMIT 1;
-- SQLITE_DIRECTONLY: not from a view or trigger
CREATE VIEW sneaky AS SELECT train_dropoutnet('v', 'SELECT features, embedding FROM warm');
SELECT * FROM sneaky;

.print '-- corrupt models are refused'
CREATE TABLE good_params AS SELECT * FROM semiperso_baseline_params;
UPDATE semiperso_baseline_params SET data = substr(data, 1, length(data) - 4)
  WHERE model = 'dn' AND ordinal = 0;
UPDATE semiperso_baselines SET generation = generation + 1;
SELECT dropoutnet_user('dn', features) FROM warm LIMIT 1;
DELETE FROM semiperso_baseline_params; INSERT INTO semiperso_baseline_params SELECT * FROM good_params;
UPDATE semiperso_baselines SET output_dim = 9, generation = generation + 1 WHERE name = 'me';
SELECT melu_user('me', 1, features, NULL) FROM warm LIMIT 1;
UPDATE semiperso_baselines SET output_dim = 5, options = json_set(options, '$.hidden', json('[5000000,4]')),
  generation = generation + 1 WHERE name = 'me';
SELECT melu_user('me', 1, features, NULL) FROM warm LIMIT 1;
UPDATE semiperso_baselines SET options = json_set(options, '$.hidden', json('[5,4]')),
  generation = generation + 1 WHERE name = 'me';
UPDATE semiperso_baseline_params SET data = CAST(X'0000C07F' || substr(data, 5) AS BLOB)
  WHERE model = 'me' AND ordinal = 0;
UPDATE semiperso_baselines SET generation = generation + 1;
SELECT melu_user('me', 1, features, NULL) FROM warm LIMIT 1;
DELETE FROM semiperso_baseline_params; INSERT INTO semiperso_baseline_params SELECT * FROM good_params;
UPDATE semiperso_baseline_params SET data = zeroblob(length(data))
  WHERE model = 'dn' AND kind = 'user_pref.scale';
UPDATE semiperso_baselines SET generation = generation + 1;
SELECT dropoutnet_user('dn', features) FROM warm LIMIT 1;
DELETE FROM semiperso_baseline_items WHERE model = 'dn' AND position = 3;
DELETE FROM semiperso_baseline_params; INSERT INTO semiperso_baseline_params SELECT * FROM good_params;
UPDATE semiperso_baselines SET generation = generation + 1;
SELECT dropoutnet_user('dn', features) FROM warm LIMIT 1;
SELECT vec_length(melu_user('me', 1, features, NULL)) FROM warm LIMIT 1;
