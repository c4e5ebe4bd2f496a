UPDATE semiperso_segments SET centroid = X'0000' WHERE segment_id = 1; SELECT assign_segment('s', '[1,2,3,4]');
