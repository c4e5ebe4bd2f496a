# semiperso - SQLite loadable extension (see README.md).
#
#   make          build semiperso.so
#   make test     unit + SQL + example tests, then again under ASan/UBSan
#   make demo     the whole pipeline on a small synthetic dataset
#   make figures  the README's figures (docs/figures) from build/demo.db
#   make bench    the pipeline at the paper's scale, timed per stage
#                 (BENCH_DB=FILE: on that existing database)
#   make bench-components   the embedder, k-means, top-k, ALS and PMI-SVD alone
#   make bench-serve  online serving latency and throughput (paper scale)
#   make fuzz     libFuzzer on SQL text for FUZZ_SECONDS (needs clang)
#   make memcheck the SQL golden tests under valgrind memcheck
#   make install  the library, the SQL scripts and semiperso-pipeline under
#                 PREFIX (/usr/local), staged under DESTDIR if set
#   make import-release RELEASE=DIR [SPACE=svd|mf|both] [OUT_DIR=.]
#                 the public Deezer release (parquet) into deezer_<space>.db
#   make bench-import   the importer on a release-sized synthetic copy
#   make table1 RELEASE=DIR [SPACE=svd|mf] [OUT_DIR=.]
#                 one half of the paper's Table 1 on the release, with the
#                 reference code's settings: import, settings, pipeline
#   make nomem-full  every allocation of every statement failed in turn
#   make regression-golden  re-pin tests/regression/pipeline.golden (intended changes only)
#   make mutants  plant the bugs of tests/mutants/mutants.txt one by one, report survivors

CFLAGS ?= -O2
# Recursive (=) so pkg-config runs only after ensure-deps has installed it.
# OpenBLAS's headers only: ext/core/blas.c loads the library at run time.
SP_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -fPIC -Ibuild/gen $(shell pkg-config --cflags openblas)
SP_LIBS = -ldl -lm -lpthread
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

CORE_SRC := $(wildcard ext/core/*.c)
SQL_SRC := $(wildcard ext/sql/*.c)
SRC := ext/semiperso.c $(CORE_SRC) $(SQL_SRC)
HDR := $(wildcard ext/core/*.h ext/sql/*.h) build/gen/schema_sql.h

.PHONY: all test test-plain test-sanitize demo figures bench bench-components bench-serve clean \
	deps fuzz memcheck install import-release bench-import table1 nomem-full regression-golden mutants

all: semiperso.so

deps: .deps-ok
.deps-ok: tools/ensure-deps.sh
	sh tools/ensure-deps.sh
	@touch $@

# Node.js packages of tools/: the release importer and its test fixtures.
NODE_DEPS = tools/node_modules/.installed
$(NODE_DEPS): tools/package.json tools/package-lock.json tests/onnx/package.json \
		tests/onnx/package-lock.json tools/ensure-deps.sh
	sh tools/ensure-deps.sh node
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
test: semiperso.so build/san/semiperso.so $(NODE_DEPS)
	@sh tests/run.sh

test-plain: semiperso.so $(NODE_DEPS)
	@SP_VARIANTS=plain sh tests/run.sh

test-sanitize: build/san/semiperso.so $(NODE_DEPS)
	@SP_VARIANTS=san sh tests/run.sh

# The pipeline on a small synthetic dataset, in a fresh database file.
demo: semiperso.so
	@mkdir -p build
	@rm -f build/demo.db
	sqlite3 -batch build/demo.db < examples/demo.sql

# SVG and PNG figures of the paper's analyses (tools/figures/render.sh) from
# a database the pipeline ran on: FIGURES_DB (the demo's, made first when
# missing) into FIGURES_DIR.
FIGURES_DB ?= build/demo.db
FIGURES_DIR ?= docs/figures
figures: semiperso.so
	@if [ "$(FIGURES_DB)" = build/demo.db ] && [ ! -f build/demo.db ]; then $(MAKE) demo; fi
	sh tools/figures/render.sh "$(FIGURES_DB)" "$(FIGURES_DIR)"

# The pipeline at the paper's scale: seconds, peak memory and GFLOP/s per
# stage, written to bench/results.json.  BENCH_DB=FILE times it on that
# existing database instead (no generation; e.g. an imported release).
bench: semiperso.so build/sgemm_rate
	/usr/bin/python3 bench/run.py $(if $(BENCH_DB),--db "$(BENCH_DB)" --existing)

# Component benchmarks of the numeric core, each against the sgemm rate
# measured in the same run: the embedder's epoch, k-means, top-k, the two
# factorisations (UT-ALS, TT-SVD) on the paper-scale synthetic logs, and the
# DropoutNet and MeLU baselines' full training schedules.
bench-components: build/bench_mlp build/bench_kmeans build/bench_topk \
		build/bench_als build/bench_pmi_svd build/bench_dropoutnet build/bench_melu \
		build/sgemm_rate
	build/bench_mlp
	build/bench_kmeans
	build/bench_kmeans 70000 2579 100 20 2
	build/bench_topk
	build/bench_als
	build/bench_pmi_svd
	build/bench_dropoutnet
	build/bench_melu

# Online serving at the paper's scale: latency of recommend_cold_user() on
# one connection, throughput of 1, 2 and 4 server processes, on a bundle.
bench-serve: semiperso.so build/bench_serve build/sgemm_rate
	sh bench/bench_serve.sh

build/bench_serve: bench/bench_serve.c | .deps-ok
	@mkdir -p build
	$(CC) -O2 -std=c11 -Wall -Wextra -o $@ $< -lsqlite3

build/bench_%: bench/bench_%.c $(CORE_SRC) $(wildcard ext/core/*.h bench/*.h) | .deps-ok
	@mkdir -p build
	$(CC) -O2 -Iext/core -o $@ $< $(CORE_SRC) $(SP_CFLAGS) $(SP_LIBS)

build/sgemm_rate: bench/sgemm_rate.c bench/bench.h $(CORE_SRC) $(wildcard ext/core/*.h) | .deps-ok
	@mkdir -p build
	$(CC) -O2 -Iext/core -o $@ $< $(CORE_SRC) $(SP_CFLAGS) $(SP_LIBS)

# The public Deezer release (README.md, "The public Deezer release").
SPACE ?= svd
OUT_DIR ?= .
import-release: $(NODE_DEPS)
	@test -n "$(RELEASE)" || { echo "usage: make import-release RELEASE=DIR [SPACE=svd|mf|both] [OUT_DIR=.]"; exit 1; }
	node tools/import_release.mjs "$(RELEASE)" --space "$(SPACE)" --out-dir "$(OUT_DIR)"

# Table 1 of the paper on the release, as the reference code computes it
# (sql/reference_settings.sql), for SPACE: svd (TT-SVD) or mf (UT-ALS).
table1: semiperso.so $(NODE_DEPS)
	@test -n "$(RELEASE)" || { echo "usage: make table1 RELEASE=DIR [SPACE=svd|mf] [OUT_DIR=.]"; exit 1; }
	sh tools/reproduce_table1.sh "$(RELEASE)" "$(SPACE)" "$(OUT_DIR)"

# The importer on a synthetic copy of the release at its size (100 000
# users, 50 000 songs, both spaces) in a scratch directory: seconds and
# peak memory, then the scratch files are deleted.
bench-import: $(NODE_DEPS)
	sh bench/bench_import.sh

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

# tests/nomem with the exhaustive schedule (make test samples it), plain
# then under ASan/UBSan/LeakSanitizer.
nomem-full: | .deps-ok
	NOMEM_FULL=1 sh tests/scripts/nomem.sh
	NOMEM_FULL=1 SEMIPERSO_PRELOAD=asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 sh tests/scripts/nomem.sh

# Rewrites the regression values tests/scripts/pipeline.sh compares with:
# for a change meant to move the pipeline's numbers (commit the file with it).
regression-golden: semiperso.so
	SP_UPDATE_GOLDEN=1 SEMIPERSO_SO=$(CURDIR)/semiperso OPENBLAS_NUM_THREADS=1 \
	  sh tests/scripts/pipeline.sh

# The mutation check (about 3.5 CPU-minutes; 23 min on the loaded shared
# machine): not part of make test.
mutants: | .deps-ok
	sh tests/mutants/run.sh

# Installed layout: $(LIBDIR)/semiperso.so, the scripts under $(SQLDIR)
# (the installed pipeline.sql reads its steps by absolute path, so it runs
# from any directory), and $(BINDIR)/semiperso-pipeline DB.
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib
SQLDIR = $(PREFIX)/share/semiperso/sql
SQL_SCRIPTS = sql/schema.sql sql/features.sql sql/reference_settings.sql sql/tune_baselines.sql \
	$(wildcard sql/steps/*.sql)

install: semiperso.so
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(SQLDIR)/steps
	install -m 755 semiperso.so $(DESTDIR)$(LIBDIR)/semiperso.so
	for f in $(SQL_SCRIPTS); do install -m 644 $$f $(DESTDIR)$(SQLDIR)/$${f#sql/}; done
	sed 's|^\.read sql/|.read $(SQLDIR)/|' sql/pipeline.sql > $(DESTDIR)$(SQLDIR)/pipeline.sql
	chmod 644 $(DESTDIR)$(SQLDIR)/pipeline.sql
	sed -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@SQLDIR@|$(SQLDIR)|' tools/semiperso-pipeline.in \
	  > $(DESTDIR)$(BINDIR)/semiperso-pipeline
	chmod 755 $(DESTDIR)$(BINDIR)/semiperso-pipeline

clean:
	rm -rf semiperso.so build .deps-ok
