#!/usr/bin/env bash
# tools/formation.sh: the training experiments of chapters 15 and 16 (`make formation`,
# `make formation-quick`, `make interventions`). Trains small models with `sinks train`, writes
# CSV and markdown into data/results/formation/ and the pictures into the chapters.
#
#   SINKS=build/sinks  the CLI;   OUT=build/formation  checkpoints (not in git)
#   STEPS=3000         optimiser steps per model (QUICK=1: 400)
#   PART=formation     formation (Bigram-Backcopy, 1-3 layers), interventions (chapter 16) or
#                      text (a 2-layer byte model on War and Peace; TEXT= the file)
#   TABLES_ONLY=1      formation: only rewrite the .values from the CSVs already in $RES
set -euo pipefail
SINKS=${SINKS:-build/sinks}
OUT=${OUT:-build/formation}
PART=${PART:-formation}
QUICK=${QUICK:-0}
STEPS=${STEPS:-$([ "$QUICK" = 1 ] && echo 400 || echo 3000)}
RES=data/results/formation
CH15=chapters/15-formation
CH16=chapters/16-designing-sinks
mkdir -p "$OUT" "$RES" "$CH15" "$CH16"
SUFFIX=$([ "$QUICK" = 1 ] && echo _quick || echo "")
# every model here is tiny: one thread each is fastest (no OpenMP wake-ups), and two models
# train at once on two cores
COMMON=(--task bbc --vocab 64 --triggers 3 --dim 32 --heads 2 --seq-len 64 --batch 8 --steps "$STEPS"
        --lr 1e-2 --wd 0.1 --checkpoints 12 --far 16 --threads 1)

train() { # name, then options
    local name=$1; shift
    echo "\$ sinks train $* (${name})" >&2
    "$SINKS" train "${COMMON[@]}" --out-dir "$OUT/$name" "$@" > "$OUT/$name.txt"
    cp "$OUT/$name/sinks.csv" "$RES/${name}_sinks.csv"
}

# key = value lines for {{file.values:KEY}}: the final sink scores of every head (and at the
# checkpoint before the last: sink_other_before, at step_before), and losses
values() { # name
    awk -F, -v n="$1" 'NR > 1 { k = $2 " " $3; if (k in last) prev[k] = last[k]; last[k] = $0; if (!(k in first)) first[k] = $0; step = $1 }
        END { for (k in last) { split(last[k], a, ","); split(first[k], b, ","); split(prev[k], c, ",");
              split(k, lh, " "); h = "L" lh[1] "H" lh[2];
              printf "%s.%s.sink_other = %.2f\n%s.%s.sink_trigger = %.2f\n%s.%s.vnorm_first = %.2f\n%s.%s.vnorm_rest = %.2f\n",
                     n, h, a[7], n, h, a[6], n, h, a[8], n, h, a[9];
              printf "%s.%s.sink_other_start = %.2f\n", n, h, b[7];
              printf "%s.%s.sink_other_before = %.3f\n%s.%s.step_before = %d\n", n, h, c[7], n, h, c[1];
              loss = a[4]; loss0 = b[4] }
              printf "%s.loss_start = %.3f\n%s.loss_end = %.3f\n%s.steps = %d\n", n, loss0, n, loss, n, step }' \
        "$RES/${1}_sinks.csv" | sort
}

start=$(date +%s)
if [ "$PART" = formation ] && [ -n "${TABLES_ONLY:-}" ]; then
    secs=$(awk -F' = ' -v k="formation$SUFFIX.seconds" '$1 == k { print $2 }' "$RES/formation$SUFFIX.values")
    { for L in 1 2 3; do values "bbc_L$L$SUFFIX"; done
      echo "formation$SUFFIX.seconds = $secs"; } > "$RES/formation$SUFFIX.values"
elif [ "$PART" = formation ]; then
    ( train "bbc_L1$SUFFIX" --layers 1 --sheet "$CH15/bbc_L1${SUFFIX}_sheet.png" --chart "$CH15/bbc_L1${SUFFIX}_chart.png" &&
      train "bbc_L3$SUFFIX" --layers 3 --sheet "$CH15/bbc_L3${SUFFIX}_sheet.png" --chart "$CH15/bbc_L3${SUFFIX}_chart.png" ) &
    a=$!
    train "bbc_L2$SUFFIX" --layers 2 --sheet "$CH15/bbc_L2${SUFFIX}_sheet.png" --chart "$CH15/bbc_L2${SUFFIX}_chart.png"
    wait $a
    { for L in 1 2 3; do values "bbc_L$L$SUFFIX"; done
      echo "formation$SUFFIX.seconds = $(( $(date +%s) - start ))"; } > "$RES/formation$SUFFIX.values"
    cat "$OUT"/bbc_L?"$SUFFIX".txt
fi

# Chapter 16: the same 1-layer model trained with each intervention, then streamed past its
# training length (64 tokens) for 1024 tokens under dense, window and sink caches of 32.
if [ "$PART" = interventions ]; then
    STREAM=(--stream-tokens 1024 --caches 0+0,0+32,1+31,2+30,4+28)
    run_variant() { # name, options
        local name=$1; shift
        train "$name$SUFFIX" --layers 1 --sheet "$CH16/${name}${SUFFIX}_sheet.png" --chart "$CH16/${name}${SUFFIX}_chart.png" \
            --stream-csv "$RES/${name}${SUFFIX}_stream.csv" "${STREAM[@]}" "$@"
    }
    ( run_variant softmax --label "softmax" && run_variant softmax1 --attn softmax1 --label "softmax off by one" &&
      run_variant sgd --optim sgd --lr "${SGD_LR:-0.3}" --label "softmax + SGD" ) &
    a=$!
    run_variant sigmoid --attn sigmoid --label "sigmoid (no normalisation)"
    run_variant sinktoken --sink-token --label "softmax + sink token"
    wait $a
    { echo "| model | eval loss | sink score | dense | window 0+32 | 1+31 | 2+30 | 4+28 |"
      echo "|---|---|---|---|---|---|---|---|"
      for v in softmax softmax1 sigmoid sgd sinktoken; do
          f=$RES/$v${SUFFIX}_stream.csv
          awk -F, -v v="$v" -v sinks="$RES/$v${SUFFIX}_sinks.csv" '
              BEGIN { while ((getline line < sinks) > 0) { split(line, a, ","); if (a[1] ~ /^[0-9]+$/) { step = a[1]; loss[step] = a[4]; s[step] = (s[step] > a[7] ? s[step] : a[7]) } }
                      last = step }
              NR > 1 { name = $1; ppl[NR - 1] = $6; n = NR - 1 }
              END { printf "| %s | %.3f | %.2f |", name, loss[last], s[last]; for (i = 1; i <= n; i++) printf " %.2f |", ppl[i]; printf "\n" }' "$f"
      done; } > "$RES/interventions$SUFFIX.md"
    cat "$RES/interventions$SUFFIX.md"
    { for v in softmax softmax1 sigmoid sgd sinktoken; do values "$v$SUFFIX"
          awk -F, -v v="$v$SUFFIX" 'NR > 1 { printf "%s.ppl.%s = %.2f\n", v, $2, $6 }' "$RES/$v${SUFFIX}_stream.csv"; done
      echo "interventions$SUFFIX.seconds = $(( $(date +%s) - start ))"; } > "$RES/interventions$SUFFIX.values"
fi


# Chapter 15, real text: a 2-layer model on the bytes of War and Peace (vocabulary: the 256 byte
# values), trained on 128-byte windows, then streamed past that length for 2048 held-out
# bytes under dense, a window of 64 and sink caches of 64.
if [ "$PART" = text ]; then
    TEXT=${TEXT:-../shared/data/war-and-peace.txt}
    name=text$SUFFIX
    echo "\$ sinks train --task text (${name})" >&2
    "$SINKS" train --task text --text "$TEXT" --layers 2 --dim 64 --heads 4 --seq-len 128 --batch 16 \
        --steps "$STEPS" --lr 3e-3 --wd 0.1 --checkpoints 12 --far 32 --threads 2 --label "War and Peace bytes" \
        --out-dir "$OUT/$name" --sheet "$CH15/${name}_sheet.png" --chart "$CH15/${name}_chart.png" \
        --stream-tokens 2048 --caches 0+0,0+64,1+63,4+60 --stream-csv "$RES/${name}_stream.csv" > "$OUT/$name.txt"
    cp "$OUT/$name/sinks.csv" "$RES/${name}_sinks.csv"
    { echo "| cache | perplexity per byte, 2048 held-out bytes |"
      echo "|---|---|"
      awk -F, 'NR > 1 { printf "| %s | %.3f |\n", $2, $6 }' "$RES/${name}_stream.csv"; } > "$RES/$name.md"
    { values "$name"
      awk -F, -v v="$name" 'NR > 1 { printf "%s.ppl.%s = %.3f\n", v, $2, $6 }' "$RES/${name}_stream.csv"
      echo "$name.seconds = $(( $(date +%s) - start ))"; } > "$RES/$name.values"
    cat "$OUT/$name.txt" "$RES/$name.md"
fi
