SELECT vec_length('[1,2,3]'), vec_length(embedding) FROM tracks;
