SELECT raise_error('boom'); SELECT raise_error(NULL); SELECT raise_error(x'00');
