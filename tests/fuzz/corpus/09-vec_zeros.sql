SELECT vec_length(vec_zeros(128)), vec_zeros(0), vec_zeros(-1), vec_zeros(1000000000);
