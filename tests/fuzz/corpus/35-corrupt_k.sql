UPDATE semiperso_segmentations SET k = 1000000000, generation = 1; SELECT assign_segment('s', '[1,2,3,4]');
