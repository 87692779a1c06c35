// sinks collapse: the moment window attention breaks, in one picture. The same text runs under
// a window cache of S+W recent tokens and under S sinks + W recent; the picture shows what the queries
// just before and after the first eviction attend to in both, and the loss of every token.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "attnmap.h"
#include "axes.h"
#include "cli.h"
#include "font.h"
#include "lineplot.h"

// Runs toks[n] under pol with map attached (NULL: none); nll[i] gets the loss of toks[i+1].
static int run_policy(double *nll, AttnMap *map, const Model *m, const Policy *pol, const int *toks, int n,
                      const char *device, Error *err) {
    Stream st;
    if (stream_open(&st, m, pol, n, device, err)) return -1;
    char label[64];
    policy_label(label, sizeof label, pol);
    int rc = (map && attnmap_attach(map, &st, err)) || feed_with_progress(&st, toks, n, nll, label, err) ? -1 : 0;
    stream_free(&st);
    return rc;
}

// Mean over the heads of one layer's map, rows q0..q1-1 and columns 0..k1-1 (full resolution).
static float *head_mean_rows(const AttnMap *a, int layer, int q0, int q1, int k1) {
    float *out = calloc((size_t)(q1 - q0) * k1, sizeof(float));
    if (!out) return NULL;
    for (int h = 0; h < a->n_heads; h++) {
        const float *m = attnmap_map(a, layer, h);
        for (int q = q0; q < q1; q++)
            for (int k = 0; k < k1; k++) out[(size_t)(q - q0) * k1 + k] += m[(size_t)q * a->res + k] / a->n_heads;
    }
    return out;
}

// Trailing mean of the last `w` values: a loss curve that can be read, with no look-ahead.
static void trailing_mean(double *out, const double *v, int n, int w) {
    double s = 0;
    for (int i = 0; i < n; i++) {
        s += v[i];
        if (i >= w) s -= v[i - w];
        out[i] = s / (i + 1 < w ? i + 1 : w);
    }
}

int cmd_collapse(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *file = NULL, *out = "collapse.png", *csv = NULL, *device = "cpu";
    int recent = 252, sinks = 4, after = -1, layer = -1, threads = 0, skip = 0, smooth = 32;
    Opt opts[] = {
        MODEL_OPT(model),
        TOKENIZER_OPT(tokenizer),
        {"--file", OPT_STR, &file, "the text to run (required), e.g. ../shared/data/war-and-peace.txt", 0, 0, "-f"},
        {"--skip", OPT_INT, &skip, "start this many tokens into the text (default 0)", 0, 1000000000, NULL},
        {"--sinks", OPT_INT, &sinks, "S: sink tokens of the sinks run (default 4)", 1, 65536, NULL},
        {"--window", OPT_INT, &recent, "W: recent tokens; both caches hold S+W tokens (default 252)", 1, 65536, NULL},
        {"--after", OPT_INT, &after, "tokens run past the first eviction (default S+W)", 16, 1000000, NULL},
        {"--layer", OPT_INT, &layer, "layer whose attention is drawn, mean of its heads (default: the one with the strongest sink)", 0, 4096, NULL},
        {"--smooth", OPT_INT, &smooth, "loss curves are the mean of this many trailing tokens (default 32)", 1, 1000000, NULL},
        {"--out", OPT_STR, &out, "the PNG (default collapse.png)", 0, 0, "-o"},
        {"--csv", OPT_STR, &csv, "also write position,nll_window,nll_sinks", 0, 0, NULL},
        THREADS_OPT(threads),
        DEVICE_OPT(device),
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    int pr = parse_opts(argc, argv, opts,
                        "usage: sinks collapse --file TEXT [options]\n\n"
                        "Runs the text twice with a cache of S+W tokens: as a window of the S+W most recent\n"
                        "tokens, and as S sinks + W recent tokens; draws attention around the first eviction\n"
                        "and the loss of each token.");
    if (pr) return pr > 0 ? EXIT_OK : EXIT_USAGE;
    if (!file) {
        fprintf(stderr, "error: --file is required (see --help)\n");
        return EXIT_USAGE;
    }
    int window = sinks + recent; // the whole cache, S+W, of both runs
    if (after < 0) after = window;
    if (window < 16) {
        fprintf(stderr, "error: --sinks %d + --window %d = %d: the cache must hold at least 16 tokens\n", sinks, recent, window);
        return EXIT_USAGE;
    }
    Loaded L;
    Policy win;
    PolicyOpts po = POLICY_DEFAULTS;
    po.name = "window", po.window = window;
    int lr = load_for_streaming(&L, &win, model, tokenizer, &po, threads);
    if (lr) return lr;
    const Config *cfg = &L.model.cfg;
    Error err = {{0}};
    Policy snk = {.kind = POLICY_SINKS, .n_sink = sinks, .window = window - sinks, .chunk = win.chunk};
    if (snk.chunk > snk.window) snk.chunk = snk.window;
    if (policy_validate(&snk, cfg, 0, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        loaded_free(&L);
        return 2;
    }
    TokenList ids = {0};
    AttnMap probe, mw, ms;
    memset(&probe, 0, sizeof probe), memset(&mw, 0, sizeof mw), memset(&ms, 0, sizeof ms);
    double *nw = NULL, *ns = NULL, *x = NULL, *sw = NULL, *ss = NULL;
    float *rows_w = NULL, *rows_s = NULL;
    Image im = {0};
    int rc = 1, n = window + after;
    if (tokenize_file(&L.tok, file, 1, &ids, &err)) goto done;
    if (ids.n - skip < n + 1) {
        err_set(&err, "%s: %d tokens after --skip %d; W + after + 1 = %d are needed", file, ids.n - skip, skip, n + 1);
        goto done;
    }
    const int *toks = ids.ids + skip;
    if (layer >= cfg->n_layers) {
        err_set(&err, "--layer %d: the model has %d layers", layer, cfg->n_layers);
        rc = 2;
        goto done;
    }
    if (layer < 0) { // a cheap first pass: the layer whose heads lean on the first token most
        if (attnmap_init(&probe, cfg, window, 1, AGG_MAX, -1, window / 4, &err)) goto done;
        if (run_policy(NULL, &probe, &L.model, &win, toks, window, device, &err)) goto done;
        attnmap_finish(&probe);
        double best = -1;
        for (int l = 0; l < cfg->n_layers; l++) {
            double s = 0;
            for (int h = 0; h < cfg->n_heads; h++) s += attnmap_sink_score(&probe, l, h, 1);
            if (s > best) best = s, layer = l;
        }
    }
    nw = calloc((size_t)n, sizeof(double)), ns = calloc((size_t)n, sizeof(double));
    if (!nw || !ns) {
        err_set(&err, "out of memory");
        goto done;
    }
    if (attnmap_init(&mw, cfg, n, n, AGG_MAX, layer, n, &err) || attnmap_init(&ms, cfg, n, n, AGG_MAX, layer, n, &err))
        goto done;
    if (run_policy(nw, &mw, &L.model, &win, toks, n, device, &err) ||
        run_policy(ns, &ms, &L.model, &snk, toks, n, device, &err))
        goto done;
    if (csv) {
        FILE *f = fopen(csv, "w");
        if (!f) {
            err_set(&err, "%s: cannot write (%s)", csv, strerror(errno));
            rc = EXIT_IO;
            goto done;
        }
        fprintf(f, "position,nll_window,nll_sinks\n");
        for (int i = 0; i + 1 < n; i++) fprintf(f, "%d,%.6f,%.6f\n", i + 1, nw[i], ns[i]);
        if (cli_close(f, csv)) {
            rc = EXIT_IO;
            goto done;
        }
    }
    // ANCHOR: collapse_figure
    // Queries from 16 before the first eviction to 48 after it; keys from the first token on.
    int q0 = window - 16, q1 = window + 48 < n ? window + 48 : n, k1 = q1, cell = 2;
    rows_w = head_mean_rows(&mw, layer, q0, q1, k1), rows_s = head_mean_rows(&ms, layer, q0, q1, k1);
    x = malloc((size_t)n * sizeof(double)), sw = malloc((size_t)n * sizeof(double)), ss = malloc((size_t)n * sizeof(double));
    if (!rows_w || !rows_s || !x || !sw || !ss) {
        err_set(&err, "out of memory");
        goto done;
    }
    int mapw = k1 * cell, maph = (q1 - q0) * cell, W = 80 + mapw + 110, plot_h = 300;
    if (image_init(&im, W, 60 + 2 * (maph + 40) + plot_h + 20, RGB_WHITE, &err)) goto done;
    char title[256];
    snprintf(title, sizeof title, "window %d vs sinks %d+%d, layer %d", window, sinks, window - sinks, layer);
    draw_text(&im, 20, 10, title, 2, RGB_BLACK);
    draw_text(&im, 20, 32, "attention (mean of the layer's heads) of the queries around the first eviction", 1,
              RGB_BLACK);
    ColorScale cs = {1e-3, 1, 1};
    float *rows[2] = {rows_w, rows_s};
    for (int i = 0; i < 2; i++) {
        int y = 60 + i * (maph + 40);
        char label[64];
        policy_label(label, sizeof label, i ? &snk : &win);
        draw_text(&im, 80, y, label, 1, series_colour(i));
        heatmap_axes_draw(&im, 80, y + 12, rows[i], q1 - q0, k1, cell, &cs, 0, k1, q0, q1, i ? "key position" : NULL,
                          "query", 4);
        int ey = y + 12 + 16 * cell; // the first query that no longer sees position 0 under the window
        image_line(&im, 80 + mapw + 2, ey, 80 + mapw + 8, ey, 1, 0, RGB_BLACK);
    }
    colorbar_draw(&im, 80 + mapw + 20, 72, 14, 2 * maph + 40, &cs, "attention probability");
    for (int i = 0; i + 1 < n; i++) x[i] = i + 1;
    trailing_mean(sw, nw, n - 1, smooth);
    trailing_mean(ss, ns, n - 1, smooth);
    char ylabel[64];
    snprintf(ylabel, sizeof ylabel, "loss (mean of last %d)", smooth);
    Series s[2] = {{"window", x, sw, n - 1, NULL, NULL}, {"sinks", x, ss, n - 1, NULL, NULL}};
    PlotSpec spec = {.title = "loss of each token (nats)", .xlabel = "position", .ylabel = ylabel,
                     .vline = window, .vline_label = "first eviction"};
    if (lineplot_draw(&im, 10, 60 + 2 * (maph + 40), W - 20, plot_h, &spec, s, 2, &err)) goto done;
    // END: collapse_figure
    if (image_write_png(&im, out, &err)) {
        rc = EXIT_IO;
        goto done;
    }
    double mean_w = 0, mean_s = 0;
    for (int i = window; i + 1 < n; i++) mean_w += nw[i], mean_s += ns[i];
    printf("layer %d; mean loss of the %d tokens after the first eviction: window %.3f (ppl %.2f), sinks %.3f (ppl %.2f)\n",
           layer, n - 1 - window, mean_w / (n - 1 - window), exp(mean_w / (n - 1 - window)),
           mean_s / (n - 1 - window), exp(mean_s / (n - 1 - window)));
    printf("%s\n", out);
    rc = 0;
done:
    if (rc && err.msg[0]) fprintf(stderr, "error: %s\n", err.msg);
    image_free(&im);
    attnmap_free(&probe), attnmap_free(&mw), attnmap_free(&ms);
    free(nw), free(ns), free(x), free(sw), free(ss), free(rows_w), free(rows_s);
    tokenlist_free(&ids);
    loaded_free(&L);
    return rc;
}
