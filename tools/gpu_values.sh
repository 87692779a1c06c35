#!/bin/bash
# The numbers chapter 13 and the README quote from the GPU results in data/results/gpu/ (written on
# a GPU machine by `make bench-gpu` and `make test-gpu`): data/results/gpu/gpu.values, read by the
# book as {{data/results/gpu/gpu.values:KEY}}. Runs anywhere; needs no GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
G=data/results/gpu
OUT=$G/gpu.values
{
    # passing comparisons of the last test_gpu run ("ok ..." lines) and the failures it reported
    echo "test_gpu.comparisons = $(grep -c '^ok ' $G/test_gpu.log)"
    echo "test_gpu.not_ok = $(grep -c '^not ok\|^FAIL' $G/test_gpu.log || true)"
    # decode speed, sinks 4+1020 (bench.md): tok/s, ms/token and the multiple of the floor
    awk -F'|' '/^\| CUDA graph/ { gsub(/ /, ""); print "bench.graph_tok_s = " $3; print "bench.graph_ms = " $4
                                  sub(/x/, "", $5); print "bench.graph_over_floor = " $5 }
               /^\| kernel launches/ { gsub(/ /, ""); print "bench.launches_tok_s = " $3 }' $G/bench.md
    awk '/^prefill:/ { print "bench.prefill_ms = " $5 }
         /^copy bandwidth/ { print "bench.bandwidth_gb_s = " $6; print "bench.floor_ms = " $9 }' $G/bench.md
    awk -F'|' '/sdpa/ { gsub(/ /, ""); print "hf.sdpa_tok_s = " $3 }' $G/hf.md
    # the device's multiprocessors and the decode cache's size (bench.md's device and model lines)
    awk 'match($0, /[0-9]+ SMs/) && !sms { sms = 1; print "device.sms = " substr($0, RSTART, RLENGTH - 4) }
         /^device:/ && match($0, /CUDA driver [0-9.]+/) { print "device.cuda = " substr($0, RSTART + 12, RLENGTH - 12) }
         /^model:/ && match($0, /cache [0-9.]+ MB/) { print "bench.cache_mb = " substr($0, RSTART + 6, RLENGTH - 9) }' $G/bench.md
    # the device and its driver (device.md), the transformers version of the peer (hf.md), and the
    # number of test cases of the last test_gpu run (its Check summary line)
    awk -F', ' '/^NVIDIA|^[A-Z].*, [0-9.]+, [0-9]+ MiB/ { print "device.name = " $1; print "device.driver = " $2 }' $G/device.md
    awk '/transformers [0-9]/ { for (i = 1; i < NF; i++) if ($i == "transformers") print "hf.transformers = " $(i + 1) }' $G/hf.md
    awk '/Checks: [0-9]+/ { for (i = 1; i < NF; i++) if ($i == "Checks:") { v = $(i + 1); sub(/,/, "", v); print "test_gpu.checks = " v } }' \
        $G/test_gpu.log
    # softmax v2 over a whole vocabulary: the NMSE that missed the first limit of 1e-10
    awk '/^ok softmax v2 rows=1 n=49152/ { for (i = 1; i < NF; i++) if ($i == "nmse") print "test_gpu.softmax_v2_vocab_nmse = " $(i + 1) }' \
        $G/test_gpu.log
    # perplexity on the GPU, sinks 4+1020, by the ranges `sinks ppl` prints (2 decimals)
    awk -F'|' '/^\| [0-9]+K-/ { gsub(/ /, ""); printf "ppl_sinks_4_1020.%s = %.2f\n", $2, $4 }' "$G/ppl_sinks_4+1020.md"
    # sinks against re-computation (speed.md): the largest cache
    awk -F'|' '/^\| [0-9]/ { gsub(/ /, ""); c = $2; s = $5; r = $6; x = $7 }
               END { print "speed.largest_cache = " c; print "speed.sinks_ms = " s; print "speed.recompute_ms = " r
                     sub(/x/, "", x); print "speed.recompute_over_sinks = " x }' $G/speed.md
    # attention kernels at 1024 keys (kernels.md), microseconds
    awk -F'|' '/^\| attention v[0-9]/ { name = $2; gsub(/^ +| +$/, "", name); v = name; sub(/^attention /, "", v); sub(/ .*/, "", v)
                                         us = $4; gsub(/ /, "", us); printf "kernels.attention_%s_us = %.0f\n", v, us }' $G/kernels.md
    # the fused decode products against their floors (kernels.md): the small ones at SmolLM2's
    # 576 -> 1536 shapes, and the output head (576 -> 49152, the norm fused in front)
    awk -F'|' '/^\| matvec/ && $3 !~ /49152/ { x = $6; gsub(/[ x]/, "", x); x += 0
                                              if (n++ == 0 || x < lo) lo = x; if (x > hi) hi = x }
               /^\| matvec \+ rmsnorm/ && $3 ~ /49152/ { h = $6; gsub(/[ x]/, "", h) }
               END { printf "kernels.fused_small_min_over_floor = %.0f\n", lo
                     printf "kernels.fused_small_max_over_floor = %.0f\n", hi
                     printf "kernels.head_over_floor = %s\n", h }' $G/kernels.md
    # softmax by version (kernels.md), for chapter 14: microseconds and the multiple of the floor,
    # keyed by row length (9 rows of 1024: attention's scores; 1 row of 49152: the vocabulary)
    awk -F'|' '/^\| softmax v[0-9]/ { v = $2; gsub(/^ +softmax | +$/, "", v); n = $3; sub(/.* of /, "", n); gsub(/ /, "", n)
                                       us = $4; gsub(/ /, "", us); x = $6; gsub(/[ x]/, "", x)
                                       printf "kernels.softmax_%s_%s_us = %.1f\n", v, n, us
                                       printf "kernels.softmax_%s_%s_over_floor = %.0f\n", v, n, x }' $G/kernels.md
    awk 'match($0, /copy bandwidth [0-9]+ GB/) { print "kernels.copy_gb_s = " substr($0, RSTART + 15, RLENGTH - 18) }' $G/kernels.md
    # the prefill with v4 everywhere, and the GPU re-computation run over 2048 tokens
    awk '/^prefill:/ { print "v4_everywhere.prefill_ms = " $5 }' $G/attention_v4_everywhere/bench.md
    awk -F'|' '/^\| 1K-2K/ { gsub(/ /, ""); printf "recompute_1024.1K-2K = %.2f\n", $4 }
               /^time/ { split($0, w, " "); print "recompute_1024.seconds = " sprintf("%.0f", w[2]) }' \
        $G/attention_v4_everywhere/ppl_recompute_1024.md
} > "$OUT"
# derived: our decode against transformers'
g=$(awk '$1 == "bench.graph_tok_s" { print $3 }' "$OUT") h=$(awk '$1 == "hf.sdpa_tok_s" { print $3 }' "$OUT")
echo "bench.graph_over_hf = $(awk -v g="$g" -v h="$h" 'BEGIN { printf "%.0f", g / h }')" >> "$OUT"
# derived: one layer's share of a decode step (SmolLM2 has 30 layers)
ms=$(awk '$1 == "bench.graph_ms" { print $3 }' "$OUT")
echo "bench.layer_us = $(awk -v m="$ms" 'BEGIN { printf "%.0f", m * 1000 / 30 }')" >> "$OUT"
echo "wrote $OUT"
