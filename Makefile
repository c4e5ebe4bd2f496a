# semiperso - SQLite loadable extension (see README.md).
#
#   make          build semiperso.so
#   make test     unit + SQL + example tests, then again under ASan/UBSan
#   make demo     the whole pipeline on a small synthetic dataset
#   make bench    the pipeline at the paper's scale, timed per stage
#   make bench-components   the embedder, k-means and top-k alone
#   make fuzz     libFuzzer on SQL text for FUZZ_SECONDS (needs clang)
#   make memcheck the SQL golden tests under valgrind memcheck

CFLAGS ?= -O2
# Recursive (=) so pkg-config runs only after ensure-deps has installed it.
SP_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -fPIC -Ibuild/gen $(shell pkg-config --cflags openblas)
SP_LIBS = $(shell pkg-config --libs openblas) -lm -lpthread
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

CORE_SRC := $(wildcard ext/core/*.c)
SQL_SRC := $(wildcard ext/sql/*.c)
SRC := ext/semiperso.c $(CORE_SRC) $(SQL_SRC)
HDR := $(wildcard ext/core/*.h ext/sql/*.h) build/gen/schema_sql.h

.PHONY: all test test-plain test-sanitize demo bench bench-components clean deps fuzz memcheck

all: semiperso.so

deps: .deps-ok
.deps-ok: tools/ensure-deps.sh
	sh tools/ensure-deps.sh
	@touch $@

# sql/schema.sql is the one source of the dataset DDL; synthesize_dataset()
# runs the same text, compiled in as a C string.
build/gen/schema_sql.h: sql/schema.sql
	@mkdir -p build/gen
	{ echo 'static const char sp_schema_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/  "/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@

semiperso.so: $(SRC) $(HDR) | .deps-ok
	$(CC) $(CFLAGS) $(SP_CFLAGS) -shared -o $@ $(SRC) $(SP_LIBS)

build/san/semiperso.so: $(SRC) $(HDR) | .deps-ok
	@mkdir -p build/san
	$(CC) $(SAN_FLAGS) $(SP_CFLAGS) -shared -o $@ $(SRC) $(SP_LIBS)

# Both passes always run; the runner prints one closing count for all.
test: semiperso.so build/san/semiperso.so
	@sh tests/run.sh

test-plain: semiperso.so
	@SP_VARIANTS=plain sh tests/run.sh

test-sanitize: build/san/semiperso.so
	@SP_VARIANTS=san sh tests/run.sh

# The pipeline on a small synthetic dataset, in a fresh database file.
demo: semiperso.so
	@mkdir -p build
	@rm -f build/demo.db
	sqlite3 -batch build/demo.db < examples/demo.sql

# The pipeline at the paper's scale: seconds, peak memory and GFLOP/s per
# stage, written to bench/results.json.
bench: semiperso.so build/sgemm_rate
	/usr/bin/python3 bench/run.py

# Component benchmarks of the numeric core, each against the sgemm rate
# measured in the same run: the embedder's epoch, k-means, top-k, and the
# DropoutNet and MeLU baselines' full training schedules.
bench-components: build/bench_embedder build/bench_kmeans build/bench_topk \
		build/bench_dropoutnet build/bench_melu
	build/bench_embedder
	build/bench_kmeans
	build/bench_kmeans 70000 2579 100 20 2
	build/bench_topk
	build/bench_dropoutnet
	build/bench_melu

build/bench_%: bench/bench_%.c bench/bench_common.h $(CORE_SRC) $(wildcard ext/core/*.h) | .deps-ok
	@mkdir -p build
	$(CC) -O2 -Iext/core -o $@ $< $(CORE_SRC) $(SP_CFLAGS) $(SP_LIBS)

build/sgemm_rate: bench/sgemm_rate.c | .deps-ok
	@mkdir -p build
	$(CC) -O2 -o $@ $< $(SP_CFLAGS) $(SP_LIBS)

# libFuzzer harness: the extension compiled in (SQLITE_CORE) against the
# system libsqlite3.  New inputs go to build/fuzz/corpus; the checked-in
# seeds in tests/fuzz/corpus are only read.
FUZZ_SECONDS ?= 600
FUZZ_CC ?= clang
FUZZ_FLAGS = -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -DSQLITE_CORE
FUZZ_RUN_FLAGS = -dict=tests/fuzz/sql.dict -timeout=20 -rss_limit_mb=4096 -max_len=4096

build/fuzz/fuzz_sql: tests/fuzz/fuzz_sql.c $(SRC) $(HDR) | .deps-ok
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) $(SP_CFLAGS) -o $@ tests/fuzz/fuzz_sql.c $(SRC) -lsqlite3 $(SP_LIBS)

fuzz: build/fuzz/fuzz_sql
	@mkdir -p build/fuzz/corpus build/fuzz/artifacts
	OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	  build/fuzz/fuzz_sql $(FUZZ_RUN_FLAGS) -max_total_time=$(FUZZ_SECONDS) \
	  -artifact_prefix=build/fuzz/artifacts/ build/fuzz/corpus tests/fuzz/corpus

# The SQL golden tests under valgrind memcheck (slow; not part of make test).
memcheck: semiperso.so
	@sh tests/memcheck.sh

clean:
	rm -rf semiperso.so build .deps-ok
