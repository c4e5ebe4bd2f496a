SELECT synthesize_dataset('{"tracks": 0}'); SELECT synthesize_dataset('[1]'); SELECT synthesize_dataset('{"genres": 1, "countries": 99}');
