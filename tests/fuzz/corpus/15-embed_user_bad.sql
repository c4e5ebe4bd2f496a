SELECT embed_user('m', '[1,2]'), embed_user('nope', '[1,2,3,4]'), embed_user(NULL, NULL);
