#!/bin/bash
# Builds data/results/streaming.md and .csv from the `sinks ppl` outputs in out/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
IN=out/results
OUT=data/results
mkdir -p "$OUT"
ranges="0K-1K 1K-2K 2K-4K 4K-8K 8K-16K 16K-32K all"
row() { # name -> perplexity per range, "-" where the run did not reach it
    local f=$IN/$1.txt
    for r in $ranges; do
        v=$(awk -F'|' -v r="$r" '{gsub(/ /, "", $2)} $2 == r {gsub(/ /, "", $4); print $4}' "$f" 2>/dev/null)
        printf ' %s |' "${v:--}"
    done
}
csv_row() {
    local f=$IN/$1.txt
    printf '%s' "$1"
    for r in $ranges; do
        v=$(awk -F'|' -v r="$r" '{gsub(/ /, "", $2)} $2 == r {gsub(/ /, "", $4); print $4}' "$f" 2>/dev/null)
        printf ',%s' "$v"
    done
    echo
}
{
    echo "# Streaming perplexity: SmolLM2-135M-Instruct on War and Peace"
    echo
    echo "Perplexity by position of the predicted token (lower is better), every token fed one at a"
    echo "time on the decode path. Made by \`make results\` (tools/results.sh, then this script); each"
    echo "row's command is \`build/sinks ppl --file ../shared/data/war-and-peace.txt --threads 1\` with"
    echo "the options shown. SmolLM2-135M's trained context is 8192 tokens (llama.context_length)."
    echo
    echo "| run | options | 0-1K | 1-2K | 2-4K | 4-8K | 8-16K | 16-32K | all |"
    echo "|---|---|---|---|---|---|---|---|---|"
    grep -v '^#' tools/results.sh | awk -F'|' '/^[a-z_0-9+]+\|--policy/ {print $1 "|" $2}' | while IFS='|' read -r name args; do
        [ -f "$IN/$name.txt" ] || continue
        printf '| %s | `%s` |' "$name" "$args"
        row "$name"
        echo
    done
} > "$OUT/streaming.md"
{
    echo "run,0-1K,1-2K,2-4K,4-8K,8-16K,16-32K,all"
    grep -v '^#' tools/results.sh | awk -F'|' '/^[a-z_0-9+]+\|--policy/ {print $1}' | while read -r name; do
        [ -f "$IN/$name.txt" ] && csv_row "$name"
    done
} > "$OUT/streaming.csv"
echo "wrote $OUT/streaming.md and $OUT/streaming.csv"
