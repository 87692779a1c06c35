#!/bin/bash
# Builds the result tables in data/results/ from the per-token losses that tools/results.sh
# wrote (out/results/NAME.csv: position,token,nll). Perplexity = exp(mean nll) over a range of
# positions of the predicted token.
set -euo pipefail
cd "$(dirname "$0")/.."
IN=out/results
OUT=data/results
mkdir -p "$OUT"

# ppl NAME LO HI: perplexity over positions [LO, HI), "-" if the run did not cover all of it.
ppl() {
    local f=$IN/$1.csv
    [ -f "$f" ] || { echo "-"; return; }
    awk -F, -v lo="$2" -v hi="$3" 'NR > 1 && $1 >= lo && $1 < hi { s += $3; n++; m = $1 }
        END { if (n > 0 && m >= hi - 1) printf "%.2f", exp(s / n); else printf "-" }' "$f"
}
args() { awk -F'|' -v n="$1" '$1 == n { print $2 }' tools/results.sh; }

table() { # TITLE FILE RANGES NAMES...
    local title=$1 file=$2 ranges=$3
    shift 3
    {
        echo "$title"
        echo
        printf '| run | `sinks ppl` options |'
        for r in $ranges; do printf ' %s |' "${r##*:}"; done
        echo
        printf '|---|---|'
        for r in $ranges; do printf -- '---|'; done
        echo
        for name in "$@"; do
            [ -f "$IN/$name.csv" ] || continue
            printf '| %s | `%s` |' "$name" "$(args "$name")"
            for r in $ranges; do
                lo=${r%%:*} rest=${r#*:}
                printf ' %s |' "$(ppl "$name" "$lo" "${rest%%:*}")"
            done
            echo
        done
    } > "$OUT/$file"
}

table "Perplexity on War and Peace by position of the predicted token (SmolLM2-135M-Instruct, trained context 8192)." \
    streaming.md "1:1024:0-1K 1024:2048:1-2K 2048:4096:2-4K 4096:8192:4-8K 8192:12288:8-12K 12288:16384:12-16K 16384:20001:16-20K" \
    dense_16k window_1024 sinks_4+1020
table "Re-computation, the quality oracle, beside window and sinks at the same small cache (128 tokens), first 384 tokens." \
    recompute.md "1:128:0-128 128:385:128-384" recompute_128 window_128 sinks_4+124
table "Sink tokens at a fixed cache of 1024 (window 1024 is 0 sinks), first 4096 tokens." \
    sinks_count.md "1:1024:0-1K 1024:2048:1-2K 2048:4097:2-4K" window_1024 sinks_1+1023 sinks_2+1022 sinks_4+1020 sinks_8+1016
table "Cache size: window vs 4 sinks + window, first 4096 tokens." \
    cache_sizes.md "1:1024:0-1K 1024:2048:1-2K 2048:4097:2-4K" window_256 sinks_4+252 window_512 sinks_4+508 window_1024 sinks_4+1020 \
    window_2048 sinks_4+2044
{
    echo "run,lo,hi,perplexity"
    for f in "$IN"/*.csv; do
        name=$(basename "$f" .csv)
        for r in 1:1024 1024:2048 2048:4096 4096:8192 8192:16384 16384:20000; do
            echo "$name,${r%%:*},${r##*:},$(ppl "$name" "${r%%:*}" "${r##*:}")"
        done
    done
} > "$OUT/streaming.csv"
# binned BIN RUNS...: perplexity over consecutive bins of BIN positions, for the line charts.
binned() {
    local bin=$1
    shift
    echo "run,position,perplexity"
    for name in "$@"; do
        [ -f "$IN/$name.csv" ] || continue
        awk -F, -v b="$bin" -v name="$name" 'NR > 1 { k = int(($1 - 1) / b); s[k] += $3; n[k]++; if (k > m) m = k }
            END { for (k = 0; k <= m; k++) if (n[k] == b) printf "%s,%d,%.3f\n", name, k * b + b / 2, exp(s[k] / n[k]) }' \
            "$IN/$name.csv"
    done
}
binned 256 dense_16k window_1024 sinks_4+1020 > "$OUT/ppl_by_position.csv"
binned 32 recompute_128 window_128 sinks_4+124 > "$OUT/ppl_small_cache.csv"
echo "wrote $OUT/streaming.md recompute.md sinks_count.md cache_sizes.md streaming.csv ppl_by_position.csv ppl_small_cache.csv"
