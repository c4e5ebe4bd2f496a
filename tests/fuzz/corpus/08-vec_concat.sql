SELECT vec_to_json(vec_concat('[1]', '[2,3]', embedding)) FROM tracks LIMIT 3;
