#!/bin/bash
# Draws every picture the book shows, into the chapter that shows it (`make figures`).
# The charts come from the tables in data/results (`make results`, `make memory`, `make speed`);
# the attention pictures run the default model on War and Peace (about a minute on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
SINKS=${SINKS:-build/sinks}
MODEL=${MODEL:?MODEL: the default model}
TEXT=${TEXT:?TEXT: war-and-peace.txt}
TMP=build/figures
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
run "$SINKS" plot --csv $TMP/memory.csv --x tokens --y rss_mb --series policy --logx --ylabel "resident memory (MB)" \
    --title "stories260K on Tiny Shakespeare: memory while streaming" --out $ch/07-past-the-context/memory.png

# -- chapter 8: the collapse, and re-computation at a small cache
run "$SINKS" collapse --model "$MODEL" --file "$TEXT" --window 256 --sinks 4 --out $ch/08-window-collapse/collapse.png
run "$SINKS" plot --csv data/results/ppl_small_cache.csv --x position --y perplexity --series run --logy --vline 128 \
    --vline-label "cache full" --title "cache of 128 tokens: perplexity per 32 tokens" \
    --out $ch/11-recompute-and-speed/ppl_small_cache.png

# -- chapter 9: attention maps and sink scores of the dense model
run "$SINKS" attn --model "$MODEL" --file "$TEXT" --tokens 512 --layers 0,2,12,20 --log --out-dir $TMP/dense
for f in $TMP/dense/*.png; do cp "$f" $ch/09-seeing-sinks/dense_"$(basename "$f")"; done
cp $TMP/dense/sink_scores.csv $ch/09-seeing-sinks/dense_sink_scores.csv
# ...and under a sink cache, 1536 tokens through 4 + 508 slots
run "$SINKS" attn --model "$MODEL" --file "$TEXT" --tokens 1536 --layers 20 --log --policy sinks \
    --sinks 4 --window 508 --out-dir $TMP/sinks
cp $TMP/sinks/head_20_0.png $ch/09-seeing-sinks/sinks_head_20_0.png

# -- chapter 11: latency of each policy by cache size (the table of `make speed`)
awk -F'|' '/^\| [0-9]/ { gsub(/ /, ""); print "dense," $2 "," $3; print "window," $2 "," $4; print "sinks," $2 "," $5;
     print "recompute," $2 "," $6 }' data/results/speed.md |
    sort -t, -k1,1 -s | awk 'BEGIN { print "policy,cache,ms" } { print }' > $TMP/latency.csv
run "$SINKS" plot --csv $TMP/latency.csv --x cache --y ms --series policy --logx --logy --ylabel "ms per token" \
    --xlabel "cache size (tokens)" --title "SmolLM2-135M, 2 CPU cores: per-token latency" \
    --out $ch/11-recompute-and-speed/latency.png
echo "figures written"
