DELETE FROM semiperso_segments WHERE segment_id = 0; UPDATE semiperso_segmentations SET generation = 3; SELECT assign_segment('s', '[1,0,0,0]');
