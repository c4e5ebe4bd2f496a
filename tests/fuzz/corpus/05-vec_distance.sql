SELECT vec_distance_cosine('[1,1]', '[-2,-2]'), vec_distance_l2('[1,1]', '[4,5]'), vec_distance_l2('[1]', '[1,2]');
