SELECT synthesize_dataset('{"tracks": 100, "warm": 20, "validation": 5, "test": 5, "dim": 4, "quiet": true, "replace": true}');
