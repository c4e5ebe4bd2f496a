DELETE FROM semiperso_model_params WHERE ordinal = 1; SELECT embed_user('m', '[1,2,3,4]');
