#!/bin/bash
# Draws every picture the book shows, into the chapter that shows it (`make figures`).
# The charts come from the tables in data/results (`make results`, `make memory`, `make speed`);
# the attention pictures run the default model on War and Peace (about a minute on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
SINKS=${SINKS:-build/sinks}
MODEL=${MODEL:?MODEL: the default model}
TEXT=${TEXT:?TEXT: war-and-peace.txt}
TMP=${TMP_DIR:-build/figures}
mkdir -p "$TMP"
ch=chapters
run() { echo "\$ $*" | sed "s|$MODEL|model.gguf|; s|$TEXT|war-and-peace.txt|"; "$@" > /dev/null; }

# -- chapter 7: perplexity by position, dense vs window vs sinks
run "$SINKS" plot --csv data/results/ppl_by_position.csv --x position --y perplexity --series run --logy \
    --vline 8192 --vline-label "trained context" --title "War and Peace, SmolLM2-135M: perplexity per 256 tokens" \
    --out $ch/07-past-the-context/ppl_by_position.png
# memory: the tables of `make memory` (stories260K rows) as policy,tokens,rss_mb
awk '/^policy / { p = $2; sub(",", "", p); m = /stories|tinyshakespeare/ } /^\| [0-9]/ && m { gsub(/ /, ""); split($0, f, "|");
     print p "," f[2] "," f[3] }' data/results/memory.md |
    awk -F, 'BEGIN { print "policy,tokens,rss_mb" } $2 != "" { print }' > $TMP/memory.csv
run "$SINKS" plot --csv $TMP/memory.csv --x tokens --y rss_mb --series policy --ylabel "resident memory (MB)" \
    --title "stories260K on Tiny Shakespeare: memory while streaming" --out $ch/07-past-the-context/memory.png

# -- chapter 8: the collapse, and re-computation at a small cache
run "$SINKS" collapse --model "$MODEL" --file "$TEXT" --sinks 4 --window 252 --out $ch/08-window-collapse/collapse.png
run "$SINKS" plot --csv data/results/ppl_small_cache.csv --x position --y perplexity --series run --logy --vline 128 \
    --vline-label "cache full" --title "cache of 128 tokens: perplexity per 32 tokens" \
    --out $ch/11-recompute-and-speed/ppl_small_cache.png

# -- chapter 9: attention maps and sink scores of the dense model
# every map has the first 4 keys magnified in a strip left of it; head_18_8 adds attention on key 0
# by query position; layers_11_12 puts the layer before the sink beside the one where it appears
run "$SINKS" attn --model "$MODEL" --file "$TEXT" --tokens 512 --layers 0,2,12,20 --compare 11,12 --head 18.8 --log \
    --out-dir $TMP/dense
for f in $TMP/dense/*.png; do cp "$f" $ch/09-seeing-sinks/dense_"$(basename "$f")"; done
cp $TMP/dense/sink_scores.csv $ch/09-seeing-sinks/dense_sink_scores.csv
# ...and under a sink cache, 1536 tokens through 4 + 508 slots
run "$SINKS" attn --model "$MODEL" --file "$TEXT" --tokens 1536 --layers 20 --head 20.0 --log --policy sinks \
    --sinks 4 --window 508 --out-dir $TMP/sinks
cp $TMP/sinks/head_20_0.png $ch/09-seeing-sinks/sinks_head_20_0.png

# -- chapter 10: the four cache policies as a schematic (no model; drawn by our plotting module)
run "$SINKS" plot --policies --tokens 10 --cache 6 --sinks 2 --out $ch/10-streaming-cache/policies.png

# -- chapter 11: latency of each policy by cache size (`make speed`: median of interleaved steps,
# whiskers from the fastest to the slowest step)
run "$SINKS" plot --csv data/results/speed.csv --x cache --y median_ms --ylo min_ms --yhi max_ms --series policy \
    --logx --logy --xticks-at-data --ylabel "ms per token (median, min-max)" --xlabel "cache size (tokens)" \
    --title "SmolLM2-135M on the CPU, one thread: per-token latency once the cache is full" --out $ch/11-recompute-and-speed/latency.png
echo "figures written"
