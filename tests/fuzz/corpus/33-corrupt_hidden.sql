UPDATE semiperso_models SET hidden = '[1000000, 1000000]'; SELECT embed_user('m', '[1,2,3,4]');
