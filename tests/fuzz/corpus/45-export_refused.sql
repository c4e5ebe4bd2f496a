SELECT export_bundle('fuzz.db', '{"model": "user_embedder", "segmentation": "warm_users", "replace": true}');
SELECT export_onnx('user_embedder', 'fuzz.onnx', '{"replace": false}');
SELECT export_bundle(NULL, '[]');
SELECT export_onnx('m', '', '{"colour": 1}');
