SELECT * FROM user_input_features('FR', 151, NULL);
SELECT * FROM user_input_features(X'01', 20, '[]');
SELECT * FROM user_input_features('FR', 20, '[["stream","track",1],]');
SELECT * FROM user_input_features('FR', 20, '[["stream","track",1.5]]');
SELECT * FROM user_input_features('FR', 20, '[{"action":"stream","entity":"track","entity_id":1,"action":"x"}]');
SELECT * FROM user_input_features('FR', 20, '[["\ud800","track",1]]');
SELECT * FROM user_input_features('FR', 20, '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]');
