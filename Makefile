# Flowstate — build, run and test.
#
#   make                 build build/bin/: flowstate-gateway, flowstate-pool, one executable per agent
#   make run             deps + build + private PostgreSQL under ./var + gateway on :3001
#   make test            deps + build + unit tests + integration tests (throwaway PostgreSQL)
#   make SANITIZE=address,undefined test    the same under ASan/UBSan (built in build/san/)
#   make deps            install missing Debian packages (as root) or say what to install
#   make bench           benchmarks against the ceilings and peers (minutes): docs/benchmarks.md + plot
#   make bench SMOKE=1   the same at tiny sizes (seconds), report in build/bench/
#   make bench-instructions   instructions per request and per statement under callgrind
#                        (under a minute): docs/instructions.md; SMOKE=1 for seconds
#   make eval-retrieval  recall@1, recall@5 and MRR of each search mode and built-in embedder on
#                        tests/fixtures/retrieval.json (throwaway PostgreSQL), and the
#                        embedders' time per memory (docs/memory.md)
#   make schema          regenerate sql/schema.sql from the migrations (throwaway PostgreSQL)
#   make fuzz            libFuzzer harnesses (clang, ASan, UBSan) in build/fuzz/, each run for
#                        FUZZ_SECONDS (60) from tests/fuzz/corpus/; FUZZ_TARGETS=router for one
#   make format          clang-format the C sources (.clang-format); make format-check: CI's check
#   make clean           remove build/

CC      ?= cc
PKGS    := libevent libpq libcjson openssl libcurl
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wundef \
           -Wold-style-definition -Wredundant-decls -Wnested-externs -Wvla \
           -Wno-unused-parameter
OPT     ?= -O2 -g

# FUZZ=1 (set by make fuzz): every object built by clang with libFuzzer's coverage and both
# sanitizers, apart from the other trees.
ifdef FUZZ
CC      := clang
BUILD   := build/fuzz
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=all
OPT     := -O1 -g
else ifdef SANITIZE
BUILD   ?= build/san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT     := -O1 -g
else
BUILD   ?= build
SANFLAGS :=
endif

BIN     := $(BUILD)/bin
OBJ     := $(BUILD)/obj
GEN     := $(BUILD)/gen

CFLAGS  += $(CSTD) $(WARN) $(OPT) $(SANFLAGS) -MMD -MP -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS += $(SANFLAGS)
# -lwordnet: the WordNet embedder (common/embed_wordnet.c); Debian ships no .pc for it.
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lwordnet -lm -pthread

AGENTS      := code_analyzer data_processor coordinator learning monitoring

COMMON_SRC  := $(wildcard common/*.c)
GATEWAY_SRC := $(wildcard gateway/*.c gateway/*/*.c)
RUNTIME_SRC := $(wildcard worker/runtime/*.c)
POOL_SRC    := $(wildcard worker/pool/*.c)
# An agent's task modules live in worker/agents/<agent>/ beside its main file.
AGENT_LIB_SRC := $(foreach a,$(AGENTS),$(wildcard worker/agents/$(a)/*.c))
UNIT_SRC    := $(wildcard tests/unit/*.c)
MIGRATIONS  := $(sort $(wildcard sql/[0-9]*.sql))

COMMON_OBJ  := $(COMMON_SRC:%.c=$(OBJ)/%.o) $(OBJ)/gen/migrations_data.o
GATEWAY_OBJ := $(GATEWAY_SRC:%.c=$(OBJ)/%.o)
RUNTIME_OBJ := $(RUNTIME_SRC:%.c=$(OBJ)/%.o)
POOL_OBJ    := $(POOL_SRC:%.c=$(OBJ)/%.o)
AGENT_LIB_OBJ := $(AGENT_LIB_SRC:%.c=$(OBJ)/%.o)
# Unit tests link every module except the ones holding main().
GATEWAY_LIB := $(filter-out $(OBJ)/gateway/main.o,$(GATEWAY_OBJ))
POOL_LIB    := $(filter-out $(OBJ)/worker/pool/main.o,$(POOL_OBJ))
UNIT_OBJ    := $(UNIT_SRC:%.c=$(OBJ)/%.o)
PROGRAMS    := $(BIN)/flowstate-gateway $(BIN)/flowstate-pool $(AGENTS:%=$(BIN)/%)

PYTEST  := /usr/bin/python3 -m pytest

.PHONY: all run test unit integration deps clean format format-check bench bench-instructions schema \
        eval-retrieval \
        fuzz fuzz-build FORCE

all: $(PROGRAMS)

# POST /workflow/coordinate checks its body as the coordinator agent checks its task.
COORD_PLAN_OBJ := $(OBJ)/worker/agents/coordinator/plan.o $(OBJ)/worker/agents/coordinator/refpath.o

$(BIN)/flowstate-gateway: $(GATEWAY_OBJ) $(COORD_PLAN_OBJ) $(COMMON_OBJ) | $(BIN)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/flowstate-pool: $(POOL_OBJ) $(COMMON_OBJ) | $(BIN)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# One executable per agent: its file under worker/agents/ and its task modules in
# worker/agents/<agent>/, on the shared runtime. (No patsubst here: in a static pattern
# rule its % would be replaced by the stem before the second expansion.)
.SECONDEXPANSION:
$(AGENTS:%=$(BIN)/%): $(BIN)/%: $(OBJ)/worker/agents/%.o \
		$$(addprefix $(OBJ)/,$$(addsuffix .o,$$(basename $$(wildcard worker/agents/$$*/*.c)))) \
		$(RUNTIME_OBJ) $(COMMON_OBJ) | $(BIN)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/unit-tests: $(UNIT_OBJ) $(GATEWAY_LIB) $(RUNTIME_OBJ) $(POOL_LIB) $(AGENT_LIB_OBJ) $(COMMON_OBJ) | $(BIN)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

$(BIN)/embed-bench: $(OBJ)/tests/eval/embed_bench.o $(COMMON_OBJ) | $(BIN)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

eval-retrieval: deps $(BIN)/flowstate-gateway $(BIN)/embed-bench
	@$(BIN)/embed-bench tests/fixtures/retrieval.json
	@FLOWSTATE_BIN_DIR=$(abspath $(BIN)) /usr/bin/python3 tests/eval/retrieval.py

# SQL migrations are compiled into the binaries, so a gateway needs no files beside it.
# migrations.list names them and is rewritten only when the set changes, so a migration
# added with an older mtime than the generated file (or one removed) still rebuilds it.
$(GEN)/migrations.list: FORCE
	@mkdir -p $(dir $@)
	@echo '$(MIGRATIONS)' | cmp -s - $@ || echo '$(MIGRATIONS)' > $@

$(GEN)/migrations_data.c: $(MIGRATIONS) sql/embed.sh $(GEN)/migrations.list
	@mkdir -p $(dir $@)
	sh sql/embed.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(OBJ)/gen/migrations_data.o: $(GEN)/migrations_data.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

# sql/schema.sql: the schema the migrations make, as pg_dump prints it (committed, so a change
# to a migration shows in review as a change to the schema; tests/integration/test_schema.py
# checks that it is current).
schema: $(BIN)/flowstate-gateway
	FLOWSTATE_BIN_DIR=$(abspath $(BIN)) sh sql/dump-schema.sh > sql/schema.sql.tmp
	@mv sql/schema.sql.tmp sql/schema.sql

$(BIN):
	@mkdir -p $@

deps:
	@sh deploy/deps.sh

run: deps all
	@bash deploy/run.sh $(BIN)

unit: $(BIN)/unit-tests
	$(BIN)/unit-tests

integration: all
	FLOWSTATE_BIN_DIR=$(abspath $(BIN)) $(PYTEST) -q tests/integration

test: deps
	@$(MAKE) --no-print-directory all $(BIN)/unit-tests
	$(BIN)/unit-tests
	FLOWSTATE_BIN_DIR=$(abspath $(BIN)) $(PYTEST) -q -p no:cacheprovider tests/integration

# Benchmarks (tests/bench/README.md). Not part of `make test`. REPEATS=n to change the runs.
bench: all
	@sh deploy/deps.sh
	@sh tests/bench/deps.sh $(if $(SMOKE)$(NO_PEERS),,--peers)
	BENCH_VIA_MAKE=1 /usr/bin/python3 tests/bench/run.py $(if $(SMOKE),--smoke) $(if $(REPEATS),--repeats $(REPEATS)) $(if $(NO_PEERS),--no-peers)

# Instruction counts under callgrind (tests/bench/README.md): docs/instructions.md; SMOKE=1
# for a seconds-long check (build/bench/instructions-smoke.md).
bench-instructions: all
	@sh deploy/deps.sh
	@sh tests/bench/deps.sh --instructions
	BENCH_VIA_MAKE=1 /usr/bin/python3 tests/bench/instructions.py $(if $(SMOKE),--smoke)

# Fuzzing (tests/fuzz/README.md): one libFuzzer executable per tests/fuzz/<target>.c, linked
# with every module the unit tests link; run.sh runs each for FUZZ_SECONDS from a scratch copy
# of its committed seed corpus.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(notdir $(basename $(wildcard tests/fuzz/*.c)))
FUZZ_LIB    := $(GATEWAY_LIB) $(RUNTIME_OBJ) $(POOL_LIB) $(AGENT_LIB_OBJ) $(COMMON_OBJ)

$(BIN)/fuzz-%: $(OBJ)/tests/fuzz/%.o $(FUZZ_LIB) | $(BIN)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# The harness objects are kept, so a rebuild links only what changed.
.SECONDARY: $(FUZZ_TARGETS:%=$(OBJ)/tests/fuzz/%.o)

fuzz-build: $(FUZZ_TARGETS:%=$(BIN)/fuzz-%)

fuzz:
	@command -v clang >/dev/null || { echo "make fuzz needs clang and libFuzzer:" \
		"apt-get install clang libclang-rt-14-dev"; exit 1; }
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	sh tests/fuzz/run.sh build/fuzz/bin $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The C sources clang-format owns (.clang-format); tests/bench/peers is JavaScript.
FORMAT_SRC = $(wildcard common/*.[ch] gateway/*.[ch] gateway/*/*.[ch] worker/*/*.[ch] \
                        worker/agents/*/*.[ch] tests/unit/*.[ch] tests/bench/*.[ch] \
                        tests/fuzz/*.[ch] tests/eval/*.[ch])

format:
	clang-format -i $(FORMAT_SRC)

# Fails, naming the file and line, when a source differs from what make format writes (CI).
format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRC)

clean:
	rm -rf build

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
