#!/bin/bash
# The paper's experiments on the default model and War and Peace, as `make results`.
# Runs `sinks ppl` jobs two at a time (one thread each); per-token NLL goes to out/results/*.csv,
# the printed tables to out/results/*.txt; tools/results_tables.sh then writes data/results/.
# Usage: tools/results.sh [JOB ...]   (no argument: every job)
set -euo pipefail
cd "$(dirname "$0")/.."
SINKS=${SINKS:-build/sinks}
MODEL=${MODEL:-$HOME/.cache/streaming-sinks/SmolLM2-135M-Instruct.Q4_1.gguf}
TEXT=${TEXT:-../shared/data/war-and-peace.txt}
PAR=${PAR:-2}
# The tables are of the fp32 reference path; --weights native agrees within the limits of
# data/results/native_vs_fp32.md (make native-vs-fp32).
WEIGHTS=${WEIGHTS:-fp32}
OUT=out/results
mkdir -p "$OUT"

# name | ppl options. SmolLM2-135M's trained context is 8192 (llama.context_length in its GGUF).
JOBS="
dense_16k|--policy dense --max-tokens 16384
window_1024|--policy window --window 1024 --max-tokens 20000
sinks_4+1020|--policy sinks --sinks 4 --window 1020 --max-tokens 20000
sinks_1+1023|--policy sinks --sinks 1 --window 1023 --max-tokens 4096
sinks_2+1022|--policy sinks --sinks 2 --window 1022 --max-tokens 4096
sinks_8+1016|--policy sinks --sinks 8 --window 1016 --max-tokens 4096
window_256|--policy window --window 256 --max-tokens 4096
sinks_4+252|--policy sinks --sinks 4 --window 252 --max-tokens 4096
window_512|--policy window --window 512 --max-tokens 4096
sinks_4+508|--policy sinks --sinks 4 --window 508 --max-tokens 4096
window_2048|--policy window --window 2048 --max-tokens 4096
sinks_4+2044|--policy sinks --sinks 4 --window 2044 --max-tokens 4096
recompute_128|--policy recompute --window 128 --max-tokens 384
window_128|--policy window --window 128 --max-tokens 384
sinks_4+124|--policy sinks --sinks 4 --window 124 --max-tokens 384
"
want=" $* "
echo "$JOBS" | while IFS='|' read -r name args; do
    [ -n "$name" ] || continue
    if [ $# -gt 0 ] && [[ "$want" != *" $name "* ]]; then continue; fi
    echo "$name|$args"
done | xargs -P "$PAR" -I{} bash -c '
    name=${1%%|*}; args=${1#*|}
    echo "start $name: sinks ppl --file '"$TEXT"' $args"
    '"$SINKS"' ppl --model '"$MODEL"' --weights '"$WEIGHTS"' --file '"$TEXT"' $args --threads 1 --quiet --csv '"$OUT"'/$name.csv \
        > '"$OUT"'/$name.txt 2> '"$OUT"'/$name.err && echo "done  $name" || { echo "FAILED $name"; cat '"$OUT"'/$name.err; }
' _ {}
