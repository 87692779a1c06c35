#!/bin/bash
# Builds the result tables in data/results/ from the per-token losses that tools/results.sh
# wrote (out/results/NAME.csv: position,token,nll). Perplexity = exp(mean nll) over a range of
# positions of the predicted token.
set -euo pipefail
cd "$(dirname "$0")/.."
IN=out/results
OUT=data/results
mkdir -p "$OUT"

# ONE binning for every table and every number in the prose: perplexity over positions [lo, hi)
# of the predicted token, the ranges `sinks ppl` prints itself (0K-1K is positions 1..1023; a run
# of 20000 tokens ends at position 20000, hence 20001). LONG for every run, SHORT for the
# small-cache runs of chapter 11.
LONG="1:1024:0-1K 1024:2048:1-2K 2048:4096:2-4K 4096:8192:4-8K 8192:12288:8-12K 12288:16384:12-16K 16384:20001:16-20K"
SHORT="1:128:0-128 128:385:128-384"
SMALL="recompute_128 window_128 sinks_4+124"

# ppl_tokens NAME LO HI: from the per-token losses; "-" if the run did not cover all of [LO, HI).
ppl_tokens() {
    awk -F, -v lo="$2" -v hi="$3" 'NR > 1 && $1 >= lo && $1 < hi { s += $3; n++; m = $1 }
        END { if (n > 0 && m >= hi - 1) printf "%.2f", exp(s / n); else printf "-" }' "$IN/$1.csv"
}
# 1. data/results/streaming.csv (committed): every run, every bin. Rewritten only when the
# per-token losses of `make results` are here; otherwise the committed file is the source.
if compgen -G "$IN/*.csv" > /dev/null; then
    {
        echo "run,lo,hi,perplexity"
        for f in "$IN"/*.csv; do
            name=$(basename "$f" .csv) bins=$LONG
            [[ " $SMALL " == *" $name "* ]] && bins="$LONG $SHORT"
            for r in $bins; do
                lo=${r%%:*} rest=${r#*:}
                echo "$name,$lo,${rest%%:*},$(ppl_tokens "$name" "$lo" "${rest%%:*}")"
            done
        done
    } > "$OUT/streaming.csv"
fi
CSV=$OUT/streaming.csv
# ppl NAME LO HI: the bin from streaming.csv ("-" when absent).
ppl() { awk -F, -v n="$1" -v lo="$2" -v hi="$3" '$1 == n && $2 == lo && $3 == hi { v = $4 } END { print v == "" ? "-" : v }' "$CSV"; }
args() { awk -F'|' -v n="$1" '$1 == n { print $2 }' tools/results.sh; }

table() { # TITLE FILE RANGES NAMES...
    local title=$1 file=$2 ranges=$3
    shift 3
    # the chapter that includes the table gives it its caption ("Table: $title")
    {
        printf '| run | `sinks ppl` options |'
        for r in $ranges; do printf ' %s |' "${r##*:}"; done
        echo
        printf '|---|---|'
        for r in $ranges; do printf -- '---|'; done
        echo
        for name in "$@"; do
            grep -q "^$name," "$CSV" || continue
            printf '| %s | `%s` |' "$name" "$(args "$name")"
            for r in $ranges; do
                lo=${r%%:*} rest=${r#*:}
                printf ' %s |' "$(ppl "$name" "$lo" "${rest%%:*}")"
            done
            echo
        done
    } > "$OUT/$file"
}

FIRST3="1:1024:0-1K 1024:2048:1-2K 2048:4096:2-4K"
table "Perplexity on War and Peace by position of the predicted token (SmolLM2-135M-Instruct, trained context 8192)." \
    streaming.md "$LONG" dense_16k window_1024 sinks_4+1020
table "Re-computation, the quality oracle, beside window and sinks at the same small cache (128 tokens), first 384 tokens." \
    recompute.md "$SHORT" recompute_128 window_128 sinks_4+124
table "Sink tokens at a fixed cache of 1024 (window 1024 is 0 sinks), first 4096 tokens." \
    sinks_count.md "$FIRST3" window_1024 sinks_1+1023 sinks_2+1022 sinks_4+1020 sinks_8+1016
table "Cache size: window vs 4 sinks + window, first 4096 tokens." \
    cache_sizes.md "$FIRST3" window_256 sinks_4+252 window_512 sinks_4+508 window_1024 sinks_4+1020 \
    window_2048 sinks_4+2044

# 2. data/results/ppl.values: the same numbers for the prose, `{{data/results/ppl.values:KEY}}`.
# KEY = RUN.BIN with "+" spelled "_" (sinks_4_1020.2-4K), then a few derived ratios.
{
    for name in $(awk -F, 'NR > 1 { print $1 }' "$CSV" | sort -u); do
        for r in $LONG $SHORT; do
            lo=${r%%:*} rest=${r#*:}
            v=$(ppl "$name" "$lo" "${rest%%:*}")
            [ "$v" = "-" ] || echo "${name//+/_}.${r##*:} = $v"
        done
    done
} > "$OUT/ppl.values"
val() { awk -v k="$1" '$1 == k { print $3 }' "$OUT/ppl.values"; }
derive() { # KEY AWK-EXPRESSION-OF-a-AND-b A-KEY B-KEY
    echo "$1 = $(awk -v a="$(val "$3")" -v b="$(val "$4")" "BEGIN { printf $2 }")" >> "$OUT/ppl.values"
}
# how much a run improves from its first 1K tokens to 4-8K (dense: all inside its context)
derive dense_16k.gain_0-1K_to_4-8K_pct '"%.0f", 100 * (1 - b / a)' dense_16k.0-1K dense_16k.4-8K
derive sinks_4_1020.gain_0-1K_to_4-8K_pct '"%.0f", 100 * (1 - b / a)' sinks_4_1020.0-1K sinks_4_1020.4-8K
derive dense_16k.12-16K_over_4-8K '"%.1f", b / a' dense_16k.4-8K dense_16k.12-16K
derive window_1024.1-2K_over_0-1K '"%.1f", b / a' window_1024.0-1K window_1024.1-2K
derive window_1024.over_sinks_1-2K '"%.1f", b / a' sinks_4_1020.1-2K window_1024.1-2K
derive window_1024.over_sinks_16-20K '"%.1f", b / a' sinks_4_1020.16-20K window_1024.16-20K
# chapter 8: a window against the sink cache of the same size, at 2-4K, for every cache size
for c in 256 512 1024 2048; do
    derive window_$c.over_sinks_2-4K '"%.1f", b / a' sinks_4_$((c - 4)).2-4K window_$c.2-4K
done
derive window_128.over_recompute_128-384 '"%.1f", b / a' recompute_128.128-384 window_128.128-384
derive sinks_4_124.below_recompute_128-384_pct '"%.0f", 100 * (1 - b / a)' recompute_128.128-384 sinks_4_124.128-384

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
if compgen -G "$IN/*.csv" > /dev/null; then
    binned 256 dense_16k window_1024 sinks_4+1020 > "$OUT/ppl_by_position.csv"
    binned 32 recompute_128 window_128 sinks_4+124 > "$OUT/ppl_small_cache.csv"
fi
echo "wrote $OUT/streaming.md recompute.md sinks_count.md cache_sizes.md ppl.values (from $CSV)"
