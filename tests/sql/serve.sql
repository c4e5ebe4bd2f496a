-- Read-only serving (ext/sql/serve.c) on the hand-built dataset of
-- data/hand_dataset.sql (d = 2), and the refusals of the functions that
-- write files (export_bundle, export_onnx).  Values of user 4 are worked
-- out there by hand; here the same events given as JSON must give the same
-- bits.
.bail off
.headers off
.mode list
.read ../../sql/schema.sql
.read data/hand_dataset.sql
.read ../../sql/features.sql

-- ---- user_input_features -------------------------------------------------
-- User 4 from JSON: the pipeline's vector, bit for bit; 9 grouped events
-- (search/artist 999 among them, without a vector), share/track ignored.
CREATE TEMP TABLE u4 AS SELECT * FROM user_input_features('FR', 19,
  '[["stream","track",1],["stream","track",2],["stream","track",1],["stream","album",10],
    ["skip","track",4],["favorite","playlist",7],["onboarding_like","artist",100],
    ["onboarding_like","artist",200],["search","artist",999],["share","track",1]]');
SELECT features = (SELECT features FROM user_features WHERE user_id = 4), grouped_events,
       ignored_events, unknown_entities, unknown_country FROM u4;
-- Its stream/track group (10) and counts, as worked out in features.sql.
SELECT vec_to_json(substr(features, 81, 8)), vec_to_json(substr(features, 161)) FROM u4;
-- Objects (any key order, extra keys, escaped names) read the same.
SELECT f.features = u4.features FROM u4, user_input_features('FR', 19,
  '[{"action":"stream","entity":"track","entity_id":1},{"entity_id":2,"entity":"track","action":"stream"},
    ["stream","track",1],{"action":"stream","entity":"album","entity_id":10,"at":"2021-06-01"},
    ["skip","track",4],["favorite","playlist",7],["onboarding_like","artist",100],
    ["onboarding_like","artist",200],["search","artist",999],["sh\u0061re","track",1]]') AS f;
-- Every user through the function equals user_features (the view is it).
SELECT count(*), sum(f.features = uf.features)
FROM users AS u JOIN user_features AS uf USING (user_id),
     user_input_features(u.country, u.age,
       (SELECT json_group_array(json_array(action, entity, entity_id))
        FROM registration_events AS e WHERE e.user_id = u.user_id)) AS f;
-- One cursor remembers its lookups from row to row (a statement's rows
-- share it): the id 10 under two entity names (album 10; track 10, which
-- does not exist), a pair that is no group (share/track) and an entity
-- without a vector (search/artist 999), each met again in later rows, give
-- every row what a call of its own (a statement each) gives.
CREATE TEMP TABLE memo_events(i INTEGER PRIMARY KEY, events TEXT);
INSERT INTO memo_events VALUES
  (1, '[["stream","album",10],["share","track",1],["search","artist",999]]'),
  (2, '[["stream","track",10],["stream","album",10],["search","artist",999]]'),
  (3, '[["share","track",1],["stream","track",1],["stream","track",10],["skip","album",10]]');
CREATE TEMP TABLE alone(i INTEGER PRIMARY KEY, features, grouped, ignored, unknown);
INSERT INTO alone SELECT 1, features, grouped_events, ignored_events, unknown_entities
  FROM user_input_features('FR', 19, (SELECT events FROM memo_events WHERE i = 1));
INSERT INTO alone SELECT 2, features, grouped_events, ignored_events, unknown_entities
  FROM user_input_features('FR', 19, (SELECT events FROM memo_events WHERE i = 2));
INSERT INTO alone SELECT 3, features, grouped_events, ignored_events, unknown_entities
  FROM user_input_features('FR', 19, (SELECT events FROM memo_events WHERE i = 3));
SELECT i, f.features = a.features, f.grouped_events, f.ignored_events, f.unknown_entities,
       vec_to_json(substr(f.features, 73, 8))
FROM memo_events AS m JOIN alone AS a USING (i), user_input_features('FR', 19, m.events) AS f
WHERE f.grouped_events = a.grouped AND f.ignored_events = a.ignored
  AND f.unknown_entities = a.unknown
ORDER BY i;
-- No events, NULL events and '[]' agree; an unknown country gives zeros
-- and is counted; a NULL age gives age scalar 0.
SELECT a.features = b.features, b.features = c.features, a.unknown_country
FROM user_input_features('XX', NULL, NULL) AS a, user_input_features('XX', NULL, '[]') AS b,
     user_input_features(NULL, NULL, ' [ ] ') AS c;
SELECT vec_to_json(features) FROM user_input_features('US', 60.5, NULL);
-- Age classes.
SELECT age_class(0), age_class(17.9), age_class(18), age_class(24), age_class(25),
       age_class(34), age_class(35), age_class(49), age_class(50), age_class(150),
       quote(age_class(NULL));
-- Bad input: a clear error each.
SELECT age_class(-1);
SELECT age_class(150.5);
SELECT age_class('20');
SELECT * FROM user_input_features('FR', 200, NULL);
SELECT * FROM user_input_features('FR', X'00', NULL);
SELECT * FROM user_input_features(33, 20, NULL);
SELECT * FROM user_input_features('FR', 20, X'5B5D');
SELECT * FROM user_input_features('FR', 20, 7);
SELECT * FROM user_input_features('FR', 20, '');
SELECT * FROM user_input_features('FR', 20, '{"action":"stream"}');
SELECT * FROM user_input_features('FR', 20, '[["stream","track",1],]');
SELECT * FROM user_input_features('FR', 20, '[["stream","track",1]');
SELECT * FROM user_input_features('FR', 20, '[["stream","track"]]');
SELECT * FROM user_input_features('FR', 20, '[["stream","track",1.5]]');
SELECT * FROM user_input_features('FR', 20, '[["stream","track","1"]]');
SELECT * FROM user_input_features('FR', 20, '[{"action":"stream","entity":"track"}]');
SELECT * FROM user_input_features('FR', 20, '[["stream",null,1]]');
SELECT * FROM user_input_features('FR', 20, '[["stream","track",99999999999999999999]]');
SELECT * FROM user_input_features('FR', 20);
SELECT * FROM user_input_features();
-- At most 100000 events.
SELECT grouped_events FROM user_input_features('FR', 20, (WITH RECURSIVE i(n) AS (SELECT 1
  UNION ALL SELECT n + 1 FROM i WHERE n < 100000) SELECT json_group_array(json_array('stream',
  'track', n % 5)) FROM i));
SELECT grouped_events FROM user_input_features('FR', 20, (WITH RECURSIVE i(n) AS (SELECT 1
  UNION ALL SELECT n + 1 FROM i WHERE n < 100001) SELECT json_group_array(json_array('stream',
  'track', n % 5)) FROM i));
-- Damaged helper tables are named.
UPDATE feature_entity_vectors SET embedding = vec_f32('[1, 2, 3]') WHERE entity = 'album';
SELECT * FROM user_input_features('FR', 20, '[["stream","album",10]]');
.read ../../sql/features.sql

-- ---- recommend_cold_user -----------------------------------------------------
-- A model, a segmentation of the warm users and lists for its 2 segments.
SELECT json_extract(train_embedder('user_embedder', 'SELECT f.features, u.embedding
  FROM users u JOIN user_features f USING (user_id) WHERE u.split = ''warm''',
  '{"hidden": [4], "epochs": 3, "batch_size": 3, "quiet": true}'), '$.rows');
SELECT json_extract(train_segments('warm_users', 'SELECT embedding FROM users
  WHERE split = ''warm'' ORDER BY user_id', '{"k": 2, "quiet": true}'), '$.k');
CREATE TABLE segment_top_tracks(segmentation TEXT, segment_id INTEGER, rank INTEGER,
  track_id INTEGER, listeners INTEGER, PRIMARY KEY (segmentation, segment_id, rank));
INSERT INTO segment_top_tracks VALUES ('warm_users', 0, 1, 3, 2), ('warm_users', 0, 2, 1, 1),
  ('warm_users', 0, 3, 4, 0), ('warm_users', 1, 1, 2, 1), ('warm_users', 1, 2, 4, 1),
  ('warm_users', 1, 3, 3, 0);
-- Semi-personalized: the list of the segment the model puts user 4 in.
CREATE TEMP TABLE semi AS SELECT * FROM recommend_cold_user('FR', 19,
  '[["stream","track",1],["stream","track",2],["stream","track",1],["stream","album",10],
    ["skip","track",4],["favorite","playlist",7],["onboarding_like","artist",100],
    ["onboarding_like","artist",200],["search","artist",999],["share","track",1]]');
SELECT count(*), min(segment_id) = max(segment_id),
       min(segment_id) = (SELECT assign_segment('warm_users', embed_user('user_embedder',
                                 features)) FROM user_features WHERE user_id = 4)
FROM semi;
SELECT s.rank, s.track_id = t.track_id, s.score = t.listeners
FROM semi AS s JOIN segment_top_tracks AS t
  ON t.segmentation = 'warm_users' AND t.segment_id = s.segment_id AND t.rank = s.rank
ORDER BY s.rank;
-- Fully personalized: topk_tracks of the same predicted vector.
SELECT group_concat(r.rank || ':' || r.track_id || ':' || (r.score = t.score), ' ')
FROM user_features AS uf,
     recommend_cold_user('FR', 19, '[["stream","track",1],["stream","track",2],
       ["stream","track",1],["stream","album",10],["skip","track",4],["favorite","playlist",7],
       ["onboarding_like","artist",100],["onboarding_like","artist",200],
       ["search","artist",999],["share","track",1]]', '{"method": "full", "k": 3}') AS r,
     topk_tracks(embed_user('user_embedder', uf.features), 3) AS t
WHERE uf.user_id = 4 AND t.rank = r.rank AND t.track_id = r.track_id;
-- k: shorter lists, and no more than a segment holds.
SELECT count(*) FROM recommend_cold_user(NULL, NULL, NULL, '{"k": 2}');
SELECT count(*) FROM recommend_cold_user(NULL, NULL, NULL, '{"k": 10}');
SELECT count(*) FROM recommend_cold_user(NULL, NULL, NULL, '{"k": 10, "method": "full"}');
-- strict: what is otherwise counted is an error naming it.
SELECT count(*) FROM recommend_cold_user('FR', 19, '[["share","track",1],["search","artist",999]]');
SELECT * FROM recommend_cold_user('FR', 19, '[["share","track",1]]', '{"strict": true}');
SELECT * FROM recommend_cold_user('FR', 19, '[["stream","track",1],["search","artist",999]]',
                                  '{"strict": true}');
SELECT * FROM recommend_cold_user('XX', 19, '[]', '{"strict": true}');
SELECT count(*) FROM recommend_cold_user('FR', 19, '[["stream","track",1]]', '{"strict": true}');
-- Bad options and missing pieces.
SELECT * FROM recommend_cold_user(NULL, NULL, NULL, '{"method": "best"}');
SELECT * FROM recommend_cold_user(NULL, NULL, NULL, '{"k": 0}');
SELECT * FROM recommend_cold_user(NULL, NULL, NULL, '{"k": 10001}');
SELECT * FROM recommend_cold_user(NULL, NULL, NULL, '{"model": null}');
SELECT * FROM recommend_cold_user(NULL, NULL, NULL, '{"colour": "red"}');
SELECT * FROM recommend_cold_user(NULL, NULL, NULL, '[1]');
SELECT * FROM recommend_cold_user(NULL, NULL, NULL, '{"model": "nope"}');
SELECT * FROM recommend_cold_user(NULL, NULL, NULL, '{"segmentation": "nope"}');
SELECT * FROM recommend_cold_user(NULL, NULL, '[["stream","track",1]', '{"method": "full"}');
SELECT * FROM recommend_cold_user(NULL, 12);
DELETE FROM segment_top_tracks WHERE segment_id = (SELECT segment_id FROM semi LIMIT 1);
SELECT * FROM recommend_cold_user('FR', 19,
  '[["stream","track",1],["stream","track",2],["stream","track",1],["stream","album",10],
    ["skip","track",4],["favorite","playlist",7],["onboarding_like","artist",100],
    ["onboarding_like","artist",200],["search","artist",999],["share","track",1]]')
WHERE segment_id < 0;
DROP TABLE segment_top_tracks;
SELECT * FROM recommend_cold_user(NULL, NULL, NULL);

-- ---- functions that write files: refused before anything is written ---------
SELECT export_bundle(NULL);
SELECT export_bundle('');
SELECT export_bundle('../../README.md');
SELECT export_bundle('.', '{"replace": true}');
SELECT export_bundle('never.db', '{"replace": "yes"}');
SELECT export_onnx('user_embedder', '../../README.md');
SELECT export_onnx('user_embedder', NULL);
SELECT export_onnx(NULL, 'never.onnx');
SELECT export_onnx('nope', 'never.onnx');
-- Never from a view or a trigger of the schema (SQLITE_DIRECTONLY)...
CREATE VIEW v AS SELECT export_bundle('never.db') AS x;
SELECT * FROM v;
CREATE TABLE t(x);
CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT export_onnx('user_embedder', 'never.onnx'); END;
INSERT INTO t VALUES (1);
-- ...nor in defensive mode.
.dbconfig defensive on
SELECT export_bundle('never.db');
SELECT export_onnx('user_embedder', 'never.onnx');
.dbconfig defensive off
