#!/bin/bash
# The paper's table 1 on our model: are sinks about position or meaning? Perplexity on War and
# Peace past the cache for window S+W, sinks S+W with the text's own first tokens, and sinks S+W
# whose first S tokens are replaced by "\n" tokens (`sinks ppl --replace-first S:\n`).
# Runs the three `sinks ppl` jobs side by side (one thread each) and writes
# data/results/newline_sinks.md and .values.  Usage (as `make newline-sinks`):
#   SINKS=build/sinks MODEL=... TEXT=... TOKENS=1024 SINK=4 WINDOW=252 tools/newline_sinks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SINKS=${SINKS:-build/sinks}
MODEL=${MODEL:-$HOME/.cache/streaming-sinks/SmolLM2-135M-Instruct.Q4_1.gguf}
TEXT=${TEXT:-../shared/data/war-and-peace.txt}
TOKENS=${TOKENS:-1024}
SINK=${SINK:-4}
WINDOW=${WINDOW:-252}
OUT=${OUT:-data/results/newline_sinks}
# per-token losses stay in out/newline_sinks/ (not in git); TABLES_ONLY=1 rewrites the tables from them
TMP=out/newline_sinks
mkdir -p "$TMP"

C=$((SINK + WINDOW))
NAMES=(window sinks newline)
LABELS=("window $C" "sinks $SINK+$WINDOW, the text's first $SINK tokens" "sinks $SINK+$WINDOW, first $SINK tokens replaced by \"\\n\"")
ARGS=("--policy window --window $C"
      "--policy sinks --sinks $SINK --window $WINDOW"
      "--policy sinks --sinks $SINK --window $WINDOW --replace-first $SINK:\\n")
if [ -z "${TABLES_ONLY:-}" ]; then
    t0=$(date +%s)
    pids=()
    for i in 0 1 2; do
        # shellcheck disable=SC2086
        nice -n 10 "$SINKS" ppl --model "$MODEL" --file "$TEXT" --tokens "$TOKENS" ${ARGS[$i]} --threads 1 --quiet \
            --csv "$TMP/${NAMES[$i]}.csv" > "$TMP/${NAMES[$i]}.txt" 2> "$TMP/${NAMES[$i]}.err" &
        pids+=($!)
    done
    for i in 0 1 2; do
        wait "${pids[$i]}" || { echo "sinks ppl ${ARGS[$i]} failed:"; cat "$TMP/${NAMES[$i]}.err"; exit 1; }
    done
    secs=$(( $(date +%s) - t0 ))
    echo "$secs" > "$TMP/seconds"
fi
secs=$(cat "$TMP/seconds")

# Perplexity over predicted positions lo <= p < hi, from a ppl CSV (position,token,nll).
ppl_of() { awk -F, -v lo="$2" -v hi="$3" 'NR > 1 && $1 >= lo && $1 < hi { s += $3; n++ }
                                         END { if (n) printf "%.2f\n", exp(s / n); else print "-" }' "$1"; }
head -c 200 "$TEXT" > "$TMP/head.txt" # the text's first tokens, to name them
first=$("$SINKS" tokenize --model "$MODEL" --file "$TMP/head.txt" --pieces | head -n "$SINK" | cut -f2 |
        sed 's/^\(.*\)$/`\1`/' | tr '\n' ' ' | sed 's/ *$//')
{
    echo "Perplexity of SmolLM2-135M-Instruct on the first $TOKENS tokens of War and Peace, split by the position of"
    echo "the predicted token: while the cache fills (all policies see the same tokens, except the replaced"
    echo "first $SINK) and past it, where the window has evicted the first tokens and the sinks have kept them."
    echo "The text's own first $SINK tokens are $first."
    echo
    echo "Command: \`make newline-sinks\` (\`tools/newline_sinks.sh\`, TOKENS=$TOKENS): each row is"
    echo "\`sinks ppl --file war-and-peace.txt --tokens $TOKENS --threads 1\` plus the options shown; $secs s for the three"
    echo "runs side by side on this machine."
    echo
    echo "| cache | \`sinks ppl\` options | tokens 1-$((C - 1)) (cache filling) | tokens $C-$TOKENS (past the cache) |"
    echo "|---|---|---|---|"
    for i in 0 1 2; do
        f="$TMP/${NAMES[$i]}.csv"
        echo "| ${LABELS[$i]} | \`${ARGS[$i]}\` | $(ppl_of "$f" 1 "$C") | $(ppl_of "$f" "$C" 999999999) |"
    done
} > "$OUT.md"
{
    echo "tokens = $TOKENS"
    echo "cache = $C"
    echo "sinks = $SINK"
    echo "window = $WINDOW"
    for i in 0 1 2; do
        f="$TMP/${NAMES[$i]}.csv"
        echo "${NAMES[$i]}_filling = $(ppl_of "$f" 1 "$C")"
        echo "${NAMES[$i]}_past = $(ppl_of "$f" "$C" 999999999)"
    done
} > "$OUT.values"
cat "$OUT.md"
