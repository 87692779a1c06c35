#!/bin/bash
# The numbers chapter 9 quotes, derived from the sink scores `sinks attn` wrote
# (layer,head,first1,first4: mean attention of queries at position >= 128 on the first token and
# on the first four): data/results/sinks.values, read by the book as {{data/results/sinks.values:KEY}}.
# Usage: tools/sink_values.sh [CSV]   (default chapters/09-seeing-sinks/dense_sink_scores.csv)
set -euo pipefail
cd "$(dirname "$0")/.."
CSV=${1:-chapters/09-seeing-sinks/dense_sink_scores.csv}
OUT=data/results/sinks.values
[ -f "$CSV" ] || { echo "error: $CSV: no sink scores (make figures writes them)" >&2; exit 1; }
awk -F, 'NR > 1 { s[$1] += $3; f[$1] += $4; n[$1]++; if ($1 > L) L = $1
        if ($3 > best) { best = $3; bl = $1; bh = $2 } heads[$1]++ }
    END {
        printf "source = %s\n", FILENAME
        printf "layers = %d\nheads_per_layer = %d\n", L + 1, heads[0]
        for (l = 0; l <= L; l++) printf "layer_%02d.first1 = %.2f\nlayer_%02d.first4 = %.2f\n", l, s[l] / n[l], l, f[l] / n[l]
        # the strongest head
        printf "strongest.layer = %d\nstrongest.head = %d\nstrongest.first1 = %.4f\n", bl, bh, best
        # the sink layers: from the first layer whose mean is >= 0.2 to the last
        for (l = 0; l <= L; l++) if (s[l] / n[l] >= 0.2) { if (lo == "") lo = l; hi = l }
        mn = 1; mx = 0
        for (l = lo; l <= hi; l++) { m = s[l] / n[l]; if (m < mn) { mn = m; mnl = l } if (m > mx) { mx = m; mxl = l } }
        printf "sink_layers.first = %d\nsink_layers.last = %d\n", lo, hi
        printf "sink_layers.min = %.2f\nsink_layers.min_layer = %d\nsink_layers.max = %.2f\nsink_layers.max_layer = %d\n", mn, mnl, mx, mxl
        # how much of the first-four mass is on the first token alone, over the sink layers
        a = 0; b = 0; for (l = lo; l <= hi; l++) { a += s[l]; b += f[l] }
        printf "sink_layers.first1_share_of_first4_pct = %.0f\n", 100 * a / b
        # before them: the first run of layers with a weak sink (mean >= 0.05), and the dip after it
        for (l = 0; l < lo; l++) if (s[l] / n[l] >= 0.05) { wlo = l; break }
        if (wlo != "") {
            for (l = wlo; l < lo && s[l] / n[l] >= 0.05; l++) whi = l
            wmn = 1; wmx = 0
            for (l = wlo; l <= whi; l++) { m = s[l] / n[l]; if (m < wmn) wmn = m; if (m > wmx) wmx = m }
            printf "weak_layers.first = %d\nweak_layers.last = %d\nweak_layers.min = %.2f\nweak_layers.max = %.2f\n", wlo, whi, wmn, wmx
            dmx = 0; for (l = whi + 1; l < lo; l++) if (s[l] / n[l] > dmx) dmx = s[l] / n[l]
            printf "dip_layers.first = %d\ndip_layers.last = %d\ndip_layers.max = %.2f\n", whi + 1, lo - 1, dmx
        }
        # the layers before: the largest mean among them
        m0 = 0; for (l = 0; l < lo; l++) if (s[l] / n[l] > m0) m0 = s[l] / n[l]
        printf "early_layers.max = %.2f\n", m0
    }' "$CSV" > "$OUT"
echo "wrote $OUT"
