#!/bin/bash
# Perplexity of several cache policies on the same text, side by side (one thread each), split
# by the position of the predicted token: while the cache fills and past it. Writes $OUT.md (a
# table, after the INTRO text) and $OUT.values (NAME_filling, NAME_past). The rows are the
# arguments, each "name|label|sinks ppl options". Used by tools/newline_sinks.sh and
# tools/strided.sh; per-token losses stay in out/$(basename $OUT)/ (TABLES_ONLY=1 reuses them).
#   SINKS=build/sinks MODEL=... TEXT=... TOKENS=1024 CACHE=256 OUT=data/results/x INTRO=... \
#       tools/ppl_compare.sh "window|window 256|--policy window --window 256" ...
set -euo pipefail
cd "$(dirname "$0")/.."
SINKS=${SINKS:-build/sinks}
MODEL=${MODEL:-$HOME/.cache/streaming-sinks/SmolLM2-135M-Instruct.Q4_1.gguf}
TEXT=${TEXT:-../shared/data/war-and-peace.txt}
TOKENS=${TOKENS:-1024}
# fp32: native weights add their activation quantization's noise to every token (chapter 11),
# as large as the differences these tables look for
WEIGHTS=${WEIGHTS:-fp32}
C=${CACHE:?CACHE: the cache size where "past the cache" starts}
OUT=${OUT:?OUT: data/results/NAME, without .md}
TMP=out/$(basename "$OUT")
mkdir -p "$TMP"
NAMES=() LABELS=() ARGS=()
for row in "$@"; do
    IFS='|' read -r name label args <<< "$row"
    NAMES+=("$name") LABELS+=("$label") ARGS+=("$args")
done
n=${#NAMES[@]}
if [ -z "${TABLES_ONLY:-}" ]; then
    t0=$(date +%s)
    pids=()
    for ((i = 0; i < n; i++)); do
        # shellcheck disable=SC2086
        nice -n 10 "$SINKS" ppl --model "$MODEL" --file "$TEXT" --tokens "$TOKENS" --weights "$WEIGHTS" ${ARGS[$i]} --threads 1 --quiet \
            --csv "$TMP/${NAMES[$i]}.csv" > "$TMP/${NAMES[$i]}.txt" 2> "$TMP/${NAMES[$i]}.err" &
        pids+=($!)
    done
    for ((i = 0; i < n; i++)); do
        wait "${pids[$i]}" || { echo "sinks ppl ${ARGS[$i]} failed:"; cat "$TMP/${NAMES[$i]}.err"; exit 1; }
    done
    echo $(( $(date +%s) - t0 )) > "$TMP/seconds"
fi
secs=$(cat "$TMP/seconds")

# Perplexity over predicted positions lo <= p < hi, from a ppl CSV (position,token,nll).
ppl_of() { awk -F, -v lo="$2" -v hi="$3" 'NR > 1 && $1 >= lo && $1 < hi { s += $3; n++ }
                                         END { if (n) printf "%.2f\n", exp(s / n); else print "-" }' "$1"; }
{
    printf '%s\n\n' "${INTRO:-}"
    echo "Command: ${COMMAND:-\`tools/ppl_compare.sh\`}: each row is \`sinks ppl --file $(basename "$TEXT") --tokens $TOKENS"
    echo "--weights $WEIGHTS --threads 1\` plus the options shown; $secs s for the $n runs side by side on this machine."
    echo
    echo "| cache | \`sinks ppl\` options | tokens 1-$((C - 1)) (cache filling) | tokens $C-$TOKENS (past the cache) |"
    echo "|---|---|---|---|"
    for ((i = 0; i < n; i++)); do
        f="$TMP/${NAMES[$i]}.csv"
        echo "| ${LABELS[$i]} | \`${ARGS[$i]}\` | $(ppl_of "$f" 1 "$C") | $(ppl_of "$f" "$C" 999999999) |"
    done
} > "$OUT.md"
{
    echo "tokens = $TOKENS"
    echo "cache = $C"
    for ((i = 0; i < n; i++)); do
        f="$TMP/${NAMES[$i]}.csv"
        echo "${NAMES[$i]}_filling = $(ppl_of "$f" 1 "$C")"
        echo "${NAMES[$i]}_past = $(ppl_of "$f" "$C" 999999999)"
    done
    printf '%s' "${EXTRA_VALUES:-}"
} > "$OUT.values"
cat "$OUT.md"
