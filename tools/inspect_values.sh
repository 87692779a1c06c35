#!/bin/bash
# The model's sizes as `sinks inspect` printed them for the book (data/results/chapters/inspect.md,
# written by `make chapter-outputs`), as data/results/chapters/inspect.values for the prose:
# {{data/results/chapters/inspect.values:KEY}}. Runs in a moment; `make chapter-outputs` calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
IN=data/results/chapters/inspect.md
OUT=data/results/chapters/inspect.values
[ -f "$IN" ] || { echo "error: $IN: no inspect output (make chapter-outputs writes it)" >&2; exit 1; }
awk '
    /^trained context/ { print "trained_context = " $3 }
    /^parameters:/ {
        p = $2; print "parameters = " p; printf "parameters_m = %.1f\n", p / 1e6
        for (i = 1; i <= NF; i++) {
            if ($i == "fp32" && $(i + 2) ~ /^MB/) print "weights_fp32_mb = " $(i + 1)
            if ($i == "quantized" && $(i + 2) ~ /^MB/) print "weights_quantized_mb = " $(i + 1)
            if ($i == "file" && $(i + 2) ~ /^MB/) { f = $(i + 1); print "file_mb = " f }
        }
        # every weight dequantised to a 4-byte float, as --weights fp32 holds them
        printf "all_fp32_mb = %.0f\n", p * 4 / 1e6
        printf "all_fp32_over_file = %.1f\n", p * 4 / 1e6 / f
    }
    /^KV cache:/ { print "kv_kb_per_token = " $3 }
' "$IN" > "$OUT"
echo "wrote $OUT"
