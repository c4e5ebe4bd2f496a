SELECT vec_f32(X'0000803F00000040'), vec_f32(X'00'), vec_f32('[1,'), vec_f32('[]');
