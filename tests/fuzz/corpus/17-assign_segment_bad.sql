SELECT assign_segment('s', '[1,2,3]'), assign_segment('x', '[1,2,3,4]'), assign_segment(1, 2);
