#!/bin/bash
# `make bench-peer`: llama.cpp's llama-bench (tools/build_peer.sh builds it) and our `sinks bench`,
# interleaved on the same GGUF file: pp512 (prefill 512 tokens) and tg128 (decode 128 tokens from
# an empty cache), at 1 and 2 threads, REPEATS rounds. Each round runs both programs back to back,
# the order alternating (AB, BA, ...), so load from other work hits both alike. Medians, spread
# (min-max) and the ratio go to data/results/peer.md, with the machine and its load.
set -euo pipefail
cd "$(dirname "$0")/.."
SINKS=${SINKS:-build/sinks}
PEER=${PEER:-$HOME/.cache/streaming-sinks/peer/llama-bench}
MODEL=${MODEL:-$HOME/.cache/streaming-sinks/SmolLM2-135M-Instruct.Q4_1.gguf}
REPEATS=${REPEATS:-5}
THREADS=${THREADS:-1 2}
PP=${PP:-512}
TG=${TG:-128}
DEPTH=${DEPTH:-0}             # both tests start from a cache holding DEPTH tokens (llama-bench -d)
OUT=${OUT:-data/results/peer.md}
RAW=${RAW:-out/peer_raw.txt}
CMD=${CMD:-make bench-peer} # what the table says made it
HOG=${HOG:-0}                 # 1: a busy loop runs beside both programs throughout (a busy machine)
DEVICE=${DEVICE:-cpu}         # cuda: both on the GPU (llama-bench -ngl 99; sinks --device cuda)
WEIGHTS=${WEIGHTS:-native}    # ours on the GPU: native (the file's blocks, as llama.cpp) or fp32
mkdir -p out data/results
[ -x "$PEER" ] || { echo "error: $PEER not found: run make peer first" >&2; exit 1; }
: # REUSE=1: only rebuild the table from the last run's $RAW
[ "${REUSE:-0}" = 1 ] || : > "$RAW"
if [ "$HOG" = 1 ]; then
    ( while :; do :; done ) &
    hog=$!
    trap 'kill $hog 2>/dev/null' EXIT
    sleep 2 # let the load average see it
fi
load_start=$(uptime)

PEER_GPU=() OURS_GPU=() PEER_DEPTH=() OURS_DEPTH=()
[ "$DEVICE" = cuda ] && PEER_GPU=(-ngl 99) OURS_GPU=(--device cuda --weights "$WEIGHTS")
[ "$DEPTH" -gt 0 ] && PEER_DEPTH=(-d "$DEPTH") OURS_DEPTH=(--depth "$DEPTH")
AT=""; [ "$DEPTH" -gt 0 ] && AT=" @ d$DEPTH" # llama-bench's name for a test at depth
peer() { # threads -> "pp tg" tokens/s
    "$PEER" -m "$MODEL" -t "$1" -p "$PP" -n "$TG" -r 1 -o csv "${PEER_GPU[@]}" "${PEER_DEPTH[@]}" 2>/dev/null | awk -F, '
        NR == 1 { for (i = 1; i <= NF; i++) { gsub(/"/, "", $i); col[$i] = i }; next }
        { gsub(/"/, ""); if ($col["n_prompt"] > 0) pp = $col["avg_ts"]; else tg = $col["avg_ts"] }
        END { print pp, tg }'
}
ours() { # threads -> "pp tg rss_mb"
    "$SINKS" bench --model "$MODEL" --threads "$1" --prompt "$PP" -n "$TG" --like-llama-bench --json "${OURS_GPU[@]}" "${OURS_DEPTH[@]}" 2>/dev/null |
        awk '{ match($0, /"prefill_tok_s":[0-9.e+-]+/); pp = substr($0, RSTART + 16, RLENGTH - 16)
               match($0, /"decode_tok_s":[0-9.e+-]+/); tg = substr($0, RSTART + 15, RLENGTH - 15)
               match($0, /"peak_rss_mb":[0-9]+/); rss = substr($0, RSTART + 14, RLENGTH - 14); print pp, tg, rss }'
}

[ "${REUSE:-0}" = 1 ] && REPEATS_RUN=0 || REPEATS_RUN=$REPEATS
for r in $(seq 1 "$REPEATS_RUN"); do
    for th in $THREADS; do
        order="peer ours"; [ $((r % 2)) -eq 0 ] && order="ours peer"
        for who in $order; do
            set -- $($who "$th")
            echo "$who $th pp $1" >> "$RAW"
            echo "$who $th tg $2" >> "$RAW"
            [ "$who" = ours ] && echo "ours $th rss $3" >> "$RAW"
            echo "round $r, $th threads, $who: pp$PP $1 tok/s, tg$TG $2 tok/s" >&2
        done
    done
done
load_end=$(uptime)

stats() { # who threads test -> "median min max"
    awk -v w="$1" -v t="$2" -v k="$3" '$1 == w && $2 == t && $3 == k { print $4 }' "$RAW" | sort -g |
        awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f %.1f %.1f", m, v[1], v[NR] }'
}

{
    echo "command: \`$CMD\` (tools/bench_peer.sh: $REPEATS rounds, order alternating; file $(basename "$MODEL"), $(($(stat -c %s "$MODEL") / 1000000)) MB)"
    echo
    if [ "$DEVICE" = cuda ]; then
        echo "- llama.cpp: \`llama-bench -m $(basename "$MODEL") -t N -p $PP -n $TG -r 1 -o csv -ngl 99\` ($(cat "$(dirname "$PEER")/source.txt" 2>/dev/null | xargs basename 2>/dev/null || echo llama.cpp), CUDA build, every layer on the GPU)"
        echo "- ours: \`sinks bench --model $(basename "$MODEL") --prompt $PP -n $TG --like-llama-bench --json --device cuda --weights $WEIGHTS\`"
        echo "- GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
    else
        echo "- llama.cpp: \`llama-bench -m $(basename "$MODEL") -t N -p $PP -n $TG -r 1 -o csv${PEER_DEPTH[*]:+ ${PEER_DEPTH[*]}}\` ($(cat "$(dirname "$PEER")/source.txt" 2>/dev/null | xargs basename 2>/dev/null || echo llama.cpp), CPU build, GGML_NATIVE, Release)"
        echo "- ours: \`sinks bench --model $(basename "$MODEL") --threads N --prompt $PP -n $TG --like-llama-bench --json${OURS_DEPTH[*]:+ ${OURS_DEPTH[*]}}\` (--weights native, the default)"
    fi
    echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; shared with other work: load at start \`${load_start##*load average: }\`, at end \`${load_end##*load average: }\`"
    [ -n "${OMP_WAIT_POLICY:-}" ] && echo "- environment of both programs: OMP_WAIT_POLICY=$OMP_WAIT_POLICY (both use libgomp)"
    [ "$HOG" = 1 ] && echo "- a busy loop (\`while :; do :; done\` in a shell) ran beside both programs throughout: one core's worth of other work"
    echo
    echo "| threads | test | llama.cpp tok/s, median (min-max) | ours tok/s, median (min-max) | ours / llama.cpp |"
    echo "|---|---|---|---|---|"
    for th in $THREADS; do
        for k in pp tg; do
            set -- $(stats peer "$th" $k) $(stats ours "$th" $k)
            n=$PP; [ $k = tg ] && n=$TG
            echo "| $th | $k$n$AT | $1 ($2-$3) | $4 ($5-$6) | $(awk -v a="$4" -v b="$1" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')x |"
        done
    done
    echo
    echo "Peak RSS of \`sinks bench\` (native weights, cache of $((DEPTH + PP + TG)) slots): $(awk '$3 == "rss" { print $4 }' "$RAW" | sort -g | tail -1) MB; the file is $(($(stat -c %s "$MODEL") >> 20)) MB."
} > "$OUT"
cat "$OUT"
