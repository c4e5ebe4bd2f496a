-- factors.sql - train_als / train_pmi_svd: values worked out by hand,
-- what they store, and every bad input with its error.  Vectors are
-- decoded by lib/f32.sql (not the extension's functions).
.read lib/f32.sql
.bail off
.headers off
.mode list

-- UT-ALS on one user and one item, d = 1, weight 3, alpha 1 (confidence
-- c = 4), regularization 0.1.  The loss c (1 - xy)^2 + 0.1 (x^2 + y^2) is
-- stationary where 0.1 x = c y (1 - xy) and 0.1 y = c x (1 - xy), so
-- x^2 = y^2 and then x^2 = 1 - 0.1 / c = 0.975: |x| = |y| = 0.987421,
-- xy = 0.975 (|x| and |y| approach each other slowly: 4 digits after 100
-- iterations), loss = 0.1^2 / c + 2 * 0.1 - 2 * 0.1^2 / c = 0.1975.
CREATE TABLE one(u INTEGER, i INTEGER, w);
INSERT INTO one VALUES (7, 42, 3);
SELECT json_extract(train_als('one', 'SELECT u, i, w FROM one',
  '{"dim": 1, "iterations": 100, "regularization": 0.1, "quiet": true}'),
  '$.users', '$.items', '$.entries', '$.iterations');
SELECT 'loss', printf('%.6f', loss), method, dims, users, items, entries, iterations
  FROM semiperso_factorizations WHERE name = 'one';
INSERT INTO f32_input SELECT side, id, embedding FROM semiperso_factors WHERE model = 'one';
SELECT kind, id, printf('%.4f', abs(x)) FROM f32_components ORDER BY kind;
SELECT 'xy', printf('%.6f', (SELECT x FROM f32_components WHERE kind = 'user')
                          * (SELECT x FROM f32_components WHERE kind = 'item'));
DELETE FROM f32_input;
-- One history row per iteration; the loss never increases.
SELECT 'history', count(*), min(iteration), max(iteration), count(loss)
  FROM semiperso_factorization_history WHERE model = 'one';
SELECT 'increases', count(*) FROM semiperso_factorization_history AS a
  JOIN semiperso_factorization_history AS b ON b.model = a.model AND b.iteration = a.iteration + 1
  WHERE b.loss > a.loss * (1 + 1e-6);
-- Repeated pairs add their weights: (7, 42) with 1 + 2 is the same matrix.
CREATE TABLE twice(u INTEGER, i INTEGER, w);
INSERT INTO twice VALUES (7, 42, 1), (7, 42, 2.0);
SELECT json_extract(train_als('twice', 'SELECT u, i, w FROM twice',
  '{"dim": 1, "iterations": 100, "regularization": 0.1, "quiet": true}'), '$.entries');
SELECT 'same factors', count(*) FROM semiperso_factors AS a JOIN semiperso_factors AS b
  USING (side, id) WHERE a.model = 'one' AND b.model = 'twice' AND a.embedding = b.embedding;

-- TT-SVD on one collection of three items: every pair co-occurs once,
-- #(i) = 2, D = 6, so PMI = log(1 * 6 / (2 * 2)) = log 1.5 off the
-- diagonal: M = log 1.5 (J - I), eigenvalues 2 log 1.5, -log 1.5,
-- -log 1.5.  Top singular value 2 log 1.5 = 0.810930, vector (1, 1, 1) /
-- sqrt 3; power 0.5 gives each item sqrt(2 log 1.5 / 3) = 0.5199135.  User
-- 5 listened item 1 once and item 99 (in no collection: a zero vector)
-- once: half that, 0.2599568; user 6 only item 2, three times: 0.5199135.
CREATE TABLE coll(c INTEGER, i INTEGER);
INSERT INTO coll VALUES (1, 1), (1, 2), (1, 3), (1, 3);
CREATE TABLE heard(u INTEGER, i INTEGER, w);
INSERT INTO heard VALUES (5, 1, 1), (5, 99, 1), (6, 2, 3);
SELECT json_extract(train_pmi_svd('tri', 'SELECT c, i FROM coll',
  '{"dim": 1, "users": "SELECT u, i, w FROM heard", "quiet": true}'),
  '$.collections', '$.items', '$.entries', '$.cooccurrences', '$.pmi_entries', '$.users');
SELECT 'sigma', printf('%.6f', summary ->> '$.sigma_max'), method, dims, users, items,
       entries, iterations, loss IS NULL FROM semiperso_factorizations WHERE name = 'tri';
INSERT INTO f32_input SELECT side, id, embedding FROM semiperso_factors WHERE model = 'tri';
SELECT kind, id, printf('%.5f', x) FROM f32_components ORDER BY kind, id;
DELETE FROM f32_input;
SELECT 'history', count(*), count(loss) FROM semiperso_factorization_history
  WHERE model = 'tri';

-- Re-training replaces the whole model: no row of the old one is left.
SELECT json_extract(train_pmi_svd('tri', 'SELECT c, i FROM coll WHERE i < 3',
  '{"dim": 1, "power_iterations": 0, "quiet": true}'), '$.items');
SELECT 'replaced', (SELECT count(*) FROM semiperso_factors WHERE model = 'tri'),
       (SELECT count(*) FROM semiperso_factorization_history WHERE model = 'tri'),
       (SELECT users FROM semiperso_factorizations WHERE name = 'tri');

-- Hostile names are data: stored and found as given.
SELECT json_extract(train_als('x''); DROP TABLE one; --"', 'SELECT u, i, w FROM one',
  '{"dim": 1, "iterations": 1, "quiet": true}'), '$.name');
SELECT 'stored', count(*) FROM semiperso_factors WHERE model = 'x''); DROP TABLE one; --"';
SELECT 'one still there', count(*) FROM one;

-- Bad arguments.
SELECT train_als(NULL, 'SELECT u, i, w FROM one');
SELECT train_als('', 'SELECT u, i, w FROM one');
SELECT train_als('m', NULL);
SELECT train_als('m', 42);
SELECT train_als('m', '');
SELECT train_als('m', 'SELECT u, i FROM one');
SELECT train_als('m', 'SELECT u, i, w FROM nowhere');
SELECT train_als('m', 'SELECT u, i, w FROM one; SELECT 1');
SELECT train_als('m', 'DELETE FROM one');
SELECT train_als('m', 'SELECT u, i, w FROM one WHERE 0');
-- Bad rows, each named by row and column.
SELECT train_als('m', 'SELECT u, i, w FROM one UNION ALL SELECT NULL, 1, 1');
SELECT train_als('m', 'SELECT 1, ''7'', 1');
SELECT train_als('m', 'SELECT 1.5, 7, 1');
SELECT train_als('m', 'SELECT u, i, w FROM one UNION ALL SELECT 1, 2, NULL');
SELECT train_als('m', 'SELECT 1, 2, -1');
SELECT train_als('m', 'SELECT 1, 2, ''3''');
SELECT train_als('m', 'SELECT 1, 2, 1e39');
SELECT train_als('m', 'SELECT 1, 2, 9e999');
SELECT train_als('m', 'SELECT 1, 2, x''00''');
SELECT train_als('m', 'SELECT u, i, w FROM one', '{"dim": 2}');
-- Bad options.
SELECT train_als('m', 'SELECT u, i, w FROM one', '{"dims": 1}');
SELECT train_als('m', 'SELECT u, i, w FROM one', '{"dim": 0}');
SELECT train_als('m', 'SELECT u, i, w FROM one', '{"dim": "1"}');
SELECT train_als('m', 'SELECT u, i, w FROM one', '{"iterations": 0}');
SELECT train_als('m', 'SELECT u, i, w FROM one', '{"regularization": -1}');
SELECT train_als('m', 'SELECT u, i, w FROM one', '{"alpha": "big"}');
SELECT train_als('m', 'SELECT u, i, w FROM one', '{"cg_steps": 0}');
SELECT train_als('m', 'SELECT u, i, w FROM one', '{"quiet": 2}');
SELECT train_als('m', 'SELECT u, i, w FROM one', '{"dim": 1');
SELECT train_als('m', 'SELECT u, i, w FROM one', '[1]');
SELECT train_pmi_svd(NULL, 'SELECT c, i FROM coll');
SELECT train_pmi_svd('m', 'SELECT c FROM coll');
SELECT train_pmi_svd('m', 'SELECT c, i FROM coll WHERE 0');
SELECT train_pmi_svd('m', 'SELECT c, NULL FROM coll');
SELECT train_pmi_svd('m', 'SELECT c, i FROM coll', '{"dim": 4}');
SELECT train_pmi_svd('m', 'SELECT c, i FROM coll', '{"shift": 0.5}');
SELECT train_pmi_svd('m', 'SELECT c, i FROM coll', '{"power": 5}');
SELECT train_pmi_svd('m', 'SELECT c, i FROM coll', '{"oversampling": -1}');
SELECT train_pmi_svd('m', 'SELECT c, i FROM coll', '{"power_iterations": 101}');
SELECT train_pmi_svd('m', 'SELECT c, i FROM coll', '{"dim": 1, "users": 3}');
SELECT train_pmi_svd('m', 'SELECT c, i FROM coll', '{"dim": 1, "users": "SELECT u, i FROM heard"}');
SELECT train_pmi_svd('m', 'SELECT c, i FROM coll', '{"dim": 1, "users": "SELECT u, i, 0 FROM heard"}');
SELECT train_pmi_svd('m', 'SELECT c, i FROM coll', '{"seed": -1}');
-- No two items share a collection; a shift above every PMI value.
SELECT train_pmi_svd('m', 'SELECT i, i FROM coll', '{"dim": 1, "quiet": true}');
SELECT train_pmi_svd('m', 'SELECT c, i FROM coll', '{"dim": 1, "shift": 2, "quiet": true}');
-- None of the failures stored anything.
SELECT 'models', group_concat(name, ' ') FROM (SELECT name FROM semiperso_factorizations ORDER BY name);

-- Both write the database and run user SQL: never from a view or trigger.
CREATE VIEW sneaky AS SELECT train_als('v', 'SELECT u, i, w FROM one');
SELECT * FROM sneaky;
