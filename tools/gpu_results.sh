#!/bin/bash
# The GPU results of chapter 13, as `make bench-gpu`, on a machine with an NVIDIA GPU: the GPU
# model against the CPU on real text, decode speed against its floor and against Hugging Face
# transformers, sinks against re-computation, and long perplexity runs; the GPU holds fp32
# weights (--weights fp32) except in the *_native jobs, where it reads the file's Q4_1 / Q8_0
# blocks (gpu/model.cu). Each table goes to
# data/results/gpu/NAME.md with the command that made it. Usage: tools/gpu_results.sh [NAME ...]
set -uo pipefail
cd "$(dirname "$0")/.."
SINKS=${SINKS:-build/sinks}
MODEL=${MODEL:-$HOME/.cache/streaming-sinks/SmolLM2-135M-Instruct.Q4_1.gguf}
TEXT=${TEXT:-../shared/data/war-and-peace.txt}
KERNEL_BENCH=${KERNEL_BENCH:-build/kernel_bench}
OUT=${GPU_RESULTS:-data/results/gpu}
mkdir -p "$OUT"

JOBS="
device|nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
kernels|$KERNEL_BENCH
bench|$SINKS bench --device cuda --model $MODEL --weights fp32
bench_native|$SINKS bench --device cuda --model $MODEL --weights native
check_native|$SINKS gpucheck --model $MODEL --file $TEXT --tokens 1024 --generate 64 --weights native
check_sinks|$SINKS gpucheck --model $MODEL --file $TEXT --tokens 1024 --generate 64
check_dense|$SINKS gpucheck --model $MODEL --file $TEXT --tokens 1024 --generate 64 --policy dense
check_window|$SINKS gpucheck --model $MODEL --file $TEXT --tokens 1024 --generate 64 --policy window --window 256
check_recompute|$SINKS gpucheck --model $MODEL --file $TEXT --tokens 384 --generate 16 --policy recompute --window 128
speed|$SINKS speed --device cuda --model $MODEL --caches 1024,2048,4096 --steps 64 --recompute-steps 5 --weights fp32
ppl_sinks_4+1020|$SINKS ppl --device cuda --model $MODEL --file $TEXT --policy sinks --sinks 4 --window 1020 --max-tokens 20000 --quiet --weights fp32
ppl_window_1024|$SINKS ppl --device cuda --model $MODEL --file $TEXT --policy window --window 1024 --max-tokens 20000 --quiet --weights fp32
ppl_dense_16k|$SINKS ppl --device cuda --model $MODEL --file $TEXT --policy dense --max-tokens 16384 --quiet --weights fp32
ppl_recompute_128|$SINKS ppl --device cuda --model $MODEL --file $TEXT --policy recompute --window 128 --max-tokens 384 --quiet --weights fp32
hf|python3 tools/hf_bench.py $MODEL 128
ppl_recompute_1024|$SINKS ppl --device cuda --model $MODEL --file $TEXT --policy recompute --window 1024 --max-tokens 2048 --quiet --weights fp32
"
want=" $* "
status=0
while IFS='|' read -r name cmd; do
    [ -n "$name" ] || continue
    if [ $# -gt 0 ] && [[ "$want" != *" $name "* ]]; then continue; fi
    echo "== $name: $cmd"
    start=$(date +%s)
    # the command as a reader would type it: paths shortened to the file names
    shown=$(echo "$cmd" | sed -e "s|$MODEL|SmolLM2-135M-Instruct.Q4_1.gguf|g" -e "s|$TEXT|war-and-peace.txt|g" \
        -e "s|$SINKS|sinks|g" -e "s|$KERNEL_BENCH|kernel_bench|g")
    ( echo '```'; echo "\$ $shown"; $cmd 2>"$OUT/$name.err"; rc=$?; echo '```'; exit $rc ) > "$OUT/$name.md"
    rc=$?
    cat "$OUT/$name.md"
    [ $rc -eq 0 ] || { echo "FAILED $name (exit $rc)"; tail -5 "$OUT/$name.err"; status=1; }
    echo "($(( $(date +%s) - start )) s)"
    rm -f "$OUT/$name.err"
done <<< "$JOBS"
exit $status
