SELECT assign_segment('s', embedding) FROM tracks;
