SELECT vec_to_json(embed_user('m', embedding)) FROM tracks LIMIT 5;
