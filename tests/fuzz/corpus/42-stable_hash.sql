SELECT stable_hash('exp:1') % 4, stable_hash(42), stable_hash(x''), stable_hash(''), stable_hash(1.5), stable_hash(NULL);
