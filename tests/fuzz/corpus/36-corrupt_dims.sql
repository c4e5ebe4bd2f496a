UPDATE semiperso_segmentations SET dims = 2147483647, generation = 2; SELECT assign_segment('s', '[1,2,3,4]');
