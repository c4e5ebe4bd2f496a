-- corrupt.sql - tampered model and segmentation rows: embed_user and
-- assign_segment refuse them with a clear error (never a crash or an
-- out-of-bounds read), and work again once the rows are put back.
CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 20)
INSERT INTO t SELECT n, vec_f32(json_array(n % 7 - 3, n % 5 - 2, n % 3, n % 4 + 0.5)) FROM i;
SELECT json_extract(train_embedder('m', 'SELECT v, v FROM t',
  '{"hidden": [3, 2], "epochs": 2, "batch_size": 8, "quiet": true}'), '$.rows');
SELECT json_extract(train_segments('s', 'SELECT v FROM t', '{"k": 3, "quiet": true}'), '$.k');
SELECT ordinal, layer, kind, rows, cols, length(data) FROM semiperso_model_params ORDER BY ordinal;
CREATE TABLE good_params AS SELECT * FROM semiperso_model_params;
CREATE TABLE good_models AS SELECT * FROM semiperso_models;
CREATE TABLE good_segments AS SELECT * FROM semiperso_segments;
CREATE TABLE good_segmentations AS SELECT * FROM semiperso_segmentations;
SELECT 'baseline', vec_length(embed_user('m', '[1,2,3,4]')), assign_segment('s', '[1,2,3,4]') BETWEEN 0 AND 2;
-- Each tamper bumps the generation, as the tables' documentation asks of
-- hand edits, so the caches reload.
-- 1. a weight truncated
UPDATE semiperso_model_params SET data = substr(data, 1, length(data) - 4) WHERE ordinal = 0;
UPDATE semiperso_models SET generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
-- 2. a blob of a length that is not a multiple of 4
UPDATE semiperso_model_params SET data = X'000000' WHERE ordinal = 0;
UPDATE semiperso_models SET generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
-- 3. data not a BLOB
UPDATE semiperso_model_params SET data = 'text' WHERE ordinal = 0;
UPDATE semiperso_models SET generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
DELETE FROM semiperso_model_params; INSERT INTO semiperso_model_params SELECT * FROM good_params;
-- 4. wrong dims on a row (data length matching the wrong dims)
UPDATE semiperso_model_params SET rows = 4, cols = 4, data = zeroblob(64) WHERE ordinal = 0;
UPDATE semiperso_models SET generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
DELETE FROM semiperso_model_params; INSERT INTO semiperso_model_params SELECT * FROM good_params;
-- 5. right total, wrong rows: dims swapped, negative dims, bytes moved
-- from one row to the next, NaN weights
UPDATE semiperso_model_params SET rows = 4, cols = 3 WHERE ordinal = 0;
UPDATE semiperso_models SET generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
UPDATE semiperso_model_params SET rows = -3, cols = -4 WHERE ordinal = 0;
UPDATE semiperso_models SET generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
DELETE FROM semiperso_model_params; INSERT INTO semiperso_model_params SELECT * FROM good_params;
UPDATE semiperso_model_params SET data = substr(data, 1, 44) WHERE ordinal = 0;
UPDATE semiperso_model_params SET data = CAST(data || X'00000000' AS BLOB) WHERE ordinal = 1;
UPDATE semiperso_models SET generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
DELETE FROM semiperso_model_params; INSERT INTO semiperso_model_params SELECT * FROM good_params;
UPDATE semiperso_model_params SET data = CAST(X'0000C07F' || substr(data, 5) AS BLOB) WHERE ordinal = 0;
UPDATE semiperso_models SET generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
DELETE FROM semiperso_model_params; INSERT INTO semiperso_model_params SELECT * FROM good_params;
-- 6. a missing layer row
DELETE FROM semiperso_model_params WHERE ordinal = 4;
UPDATE semiperso_models SET generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
-- 7. an extra row
INSERT INTO semiperso_model_params SELECT model, 99, 9, 'weight', 1, 1, zeroblob(4) FROM good_params LIMIT 1;
UPDATE semiperso_models SET generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
-- 8. no parameter rows at all
DELETE FROM semiperso_model_params;
UPDATE semiperso_models SET generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
DELETE FROM semiperso_model_params; INSERT INTO semiperso_model_params SELECT * FROM good_params;
-- 9. semiperso_models sizes that disagree with the parameters
UPDATE semiperso_models SET input_dim = 5, generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4,5]');
UPDATE semiperso_models SET input_dim = 0, generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
UPDATE semiperso_models SET input_dim = -1, generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
UPDATE semiperso_models SET input_dim = 4, output_dim = 2147483647, generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
-- 10. a hidden list of absurd widths: refused before any allocation
UPDATE semiperso_models SET output_dim = 4, hidden = '[100000, 100000]', generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
UPDATE semiperso_models SET hidden = '[1000000,1000000,1000000,1000000,1000000,1000000,1000000,1000000,1000000,1000000,1000000,1000000,1000000,1000000,1000000]', generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
UPDATE semiperso_models SET hidden = '[3, "2"]', generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
UPDATE semiperso_models SET hidden = '[3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]', generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
UPDATE semiperso_models SET hidden = 'not json', generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
UPDATE semiperso_models SET hidden = '[]', generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
UPDATE semiperso_models SET hidden = NULL, generation = generation + 1;
SELECT embed_user('m', '[1,2,3,4]');
-- restored: works again
DELETE FROM semiperso_models; INSERT INTO semiperso_models SELECT * FROM good_models;
UPDATE semiperso_models SET generation = generation + 1;
SELECT 'model restored', vec_length(embed_user('m', '[1,2,3,4]'));

-- Segmentations.
-- 11. a centroid of the wrong length
UPDATE semiperso_segments SET centroid = X'0000803F' WHERE segment_id = 1;
UPDATE semiperso_segmentations SET generation = generation + 1;
SELECT assign_segment('s', '[1,2,3,4]');
UPDATE semiperso_segments SET centroid = X'0000803F000080' WHERE segment_id = 1;
UPDATE semiperso_segmentations SET generation = generation + 1;
SELECT assign_segment('s', '[1,2,3,4]');
UPDATE semiperso_segments SET centroid = 'abcdefghijklmnop' WHERE segment_id = 1;
UPDATE semiperso_segmentations SET generation = generation + 1;
SELECT assign_segment('s', '[1,2,3,4]');
DELETE FROM semiperso_segments; INSERT INTO semiperso_segments SELECT * FROM good_segments;
-- 12. a missing segment row
DELETE FROM semiperso_segments WHERE segment_id = 1;
UPDATE semiperso_segmentations SET generation = generation + 1;
SELECT assign_segment('s', '[1,2,3,4]');
DELETE FROM semiperso_segments; INSERT INTO semiperso_segments SELECT * FROM good_segments;
-- 13. ids not 0..k-1
UPDATE semiperso_segments SET segment_id = 7 WHERE segment_id = 2;
UPDATE semiperso_segmentations SET generation = generation + 1;
SELECT assign_segment('s', '[1,2,3,4]');
DELETE FROM semiperso_segments; INSERT INTO semiperso_segments SELECT * FROM good_segments;
-- 14. k mismatch, both ways, and absurd k / dims
UPDATE semiperso_segmentations SET k = 2, generation = generation + 1;
SELECT assign_segment('s', '[1,2,3,4]');
UPDATE semiperso_segmentations SET k = 4, generation = generation + 1;
SELECT assign_segment('s', '[1,2,3,4]');
UPDATE semiperso_segmentations SET k = 2147483647, generation = generation + 1;
SELECT assign_segment('s', '[1,2,3,4]');
UPDATE semiperso_segmentations SET k = 0, generation = generation + 1;
SELECT assign_segment('s', '[1,2,3,4]');
UPDATE semiperso_segmentations SET k = 3, dims = 5, generation = generation + 1;
SELECT assign_segment('s', '[1,2,3,4,5]');
UPDATE semiperso_segmentations SET dims = 1073741824, generation = generation + 1;
SELECT assign_segment('s', '[1,2,3,4]');
UPDATE semiperso_segmentations SET dims = 'four', generation = generation + 1;
SELECT assign_segment('s', '[1,2,3,4]');
-- 15. NaN in a centroid
UPDATE semiperso_segmentations SET dims = 4, generation = generation + 1;
UPDATE semiperso_segments SET centroid = X'0000C07F0000C07F0000C07F0000C07F' WHERE segment_id = 0;
SELECT assign_segment('s', '[1,2,3,4]') BETWEEN 0 AND 2;
DELETE FROM semiperso_segments; INSERT INTO semiperso_segments SELECT * FROM good_segments;
UPDATE semiperso_segmentations SET generation = generation + 1;
SELECT 'segmentation restored', assign_segment('s', '[1,2,3,4]') BETWEEN 0 AND 2;
-- The database itself is fine throughout.
PRAGMA integrity_check;
