SELECT vec_to_json(vec_normalize('[3,4]')), vec_normalize(vec_zeros(3));
