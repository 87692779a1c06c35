#!/bin/bash
# The numbers chapter 11 quotes from the latency table `make speed` wrote (data/results/speed.md):
# data/results/speed.values, read by the book as {{data/results/speed.values:KEY}}.
# KEY = POLICY_CACHE for a median in ms (sinks_256), ratio_CACHE for recompute / sinks, and the
# machine's load at the start and end of the run. Runs in a moment; `make speed` calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
IN=data/results/speed.md
OUT=data/results/speed.values
[ -f "$IN" ] || { echo "error: $IN: no latency table (make speed writes it)" >&2; exit 1; }
awk -F'|' '
    /^\| cache / { for (i = 3; i < NF; i++) { h = $i; gsub(/^ +| +$/, "", h); sub(/ .*/, "", h); name[i] = h } }
    /^\| [0-9]+ \|/ {
        c = $2; gsub(/ /, "", c)
        for (i = 3; i < NF; i++) {
            v = $i; gsub(/^ +/, "", v); sub(/ .*/, "", v)
            if (v ~ /x$/) { sub(/x$/, "", v); print "ratio_" c " = " v } else print name[i] "_" c " = " v
        }
    }
    /^command:/ { n = split($0, w, " "); for (i = 1; i < n; i++) { if (w[i] == "--recompute-steps") print "recompute_steps = " w[i + 1]
                                                          if (w[i] == "--steps") print "steps = " w[i + 1] } }
    /^Load average/ { n = split($0, w, " "); for (i = 1; i <= n; i++) {
        if (w[i] == "start,") print "load_start = " w[i - 3]; if (w[i] == "end,") print "load_end = " w[i - 3] } }
' "$IN" > "$OUT"
echo "wrote $OUT"
