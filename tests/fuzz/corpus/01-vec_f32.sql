SELECT vec_to_json(vec_f32('[.1, .2, .3, 4]'));
