#!/bin/bash
# A policy added in one file (ref_cpu/policy_strided.c), measured beside the paper's: at one
# cache of S+W slots, does reaching further back on a stride beat keeping the W most recent?
# Perplexity on War and Peace for sinks S+W and strided S+W with strides K, side by side, into
# data/results/strided.md and .values.  Usage (as `make strided`):
#   SINKS=build/sinks MODEL=... TEXT=... TOKENS=1024 SINK=4 WINDOW=252 STRIDES="2 4 16" tools/strided.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TOKENS=${TOKENS:-1024}
SINK=${SINK:-4}
WINDOW=${WINDOW:-252}
STRIDES=${STRIDES:-2 4 16}
C=$((SINK + WINDOW))
rows=("sinks|sinks $SINK+$WINDOW|--policy sinks --sinks $SINK --window $WINDOW")
for k in $STRIDES; do
    reach=$((WINDOW - WINDOW / 2 + k * (WINDOW / 2)))
    rows+=("strided$k|strided $SINK+$WINDOW/$k (reaches $reach tokens back)|--policy strided --sinks $SINK --window $WINDOW --stride $k")
done
INTRO="Perplexity of SmolLM2-135M-Instruct on the first $TOKENS tokens of War and Peace under caches of $C slots:
sinks keeps the first $SINK tokens and the last $WINDOW; strided keeps the same $SINK sinks, the last
$((WINDOW - WINDOW / 2)) tokens, and in its other $((WINDOW / 2)) slots every K-th older token, so it reaches further
back with the same memory. \`sinks ppl\` feeds one token at a time, so every policy evicts after
every token." \
COMMAND="\`make strided\` (\`tools/strided.sh\`, TOKENS=$TOKENS)" \
EXTRA_VALUES="sinks = $SINK
window = $WINDOW
" CACHE=$C OUT=${OUT:-data/results/strided} TOKENS=$TOKENS tools/ppl_compare.sh "${rows[@]}"
