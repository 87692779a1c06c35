#!/bin/bash
# The paper's table 1 on our model: are sinks about position or meaning? Perplexity on War and
# Peace past the cache for window S+W, sinks S+W with the text's own first tokens, and sinks S+W
# whose first S tokens are replaced by "\n" tokens (`sinks ppl --replace-first S:\n`).
# Runs the three `sinks ppl` jobs side by side (one thread each) and writes
# data/results/newline_sinks.md and .values.  Usage (as `make newline-sinks`):
#   SINKS=build/sinks MODEL=... TEXT=... TOKENS=1024 SINK=4 WINDOW=252 tools/newline_sinks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TOKENS=${TOKENS:-1024}
SINK=${SINK:-4}
WINDOW=${WINDOW:-252}
C=$((SINK + WINDOW))
mkdir -p out
# the text's first tokens, to name them (ppl_compare.sh's defaults for the rest)
head -c 200 "${TEXT:-../shared/data/war-and-peace.txt}" > out/newline_sinks_head.txt
first=$("${SINKS:-build/sinks}" tokenize --model "${MODEL:-$HOME/.cache/streaming-sinks/SmolLM2-135M-Instruct.Q4_1.gguf}" \
        --file out/newline_sinks_head.txt --pieces | head -n "$SINK" | cut -f2 |
        sed 's/^\(.*\)$/`\1`/' | tr '\n' ' ' | sed 's/ *$//')
INTRO="Perplexity of SmolLM2-135M-Instruct on the first $TOKENS tokens of War and Peace, split by the position of
the predicted token: while the cache fills (all policies see the same tokens, except the replaced
first $SINK) and past it, where the window has evicted the first tokens and the sinks have kept them.
The text's own first $SINK tokens are $first." \
COMMAND="\`make newline-sinks\` (\`tools/newline_sinks.sh\`, TOKENS=$TOKENS)" \
EXTRA_VALUES="sinks = $SINK
window = $WINDOW
" TOKENS=$TOKENS CACHE=$C OUT=${OUT:-data/results/newline_sinks} \
    tools/ppl_compare.sh \
    "window|window $C|--policy window --window $C" \
    "sinks|sinks $SINK+$WINDOW, the text's first $SINK tokens|--policy sinks --sinks $SINK --window $WINDOW" \
    "newline|sinks $SINK+$WINDOW, first $SINK tokens replaced by \"\\n\"|--policy sinks --sinks $SINK --window $WINDOW --replace-first $SINK:\\n"
