UPDATE semiperso_model_params SET data = substr(data, 1, 3) WHERE ordinal = 0; SELECT embed_user('m', '[1,2,3,4]');
