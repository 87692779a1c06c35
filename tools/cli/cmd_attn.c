// sinks attn: run a text through the model under a cache policy and draw what it attends to:
// one PNG per layer with every head in a grid, one head at full size, and the sink scores
// (attention mass on the first token, and on the first four) of every layer and head.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <errno.h>

#include "attnmap.h"
#include "axes.h"
#include "cli.h"
#include "font.h"
#include "lineplot.h"

typedef struct {
    const char *source;  // the text's file name, for titles
    char policy[64];     // "dense", "sinks 4+1020", ...
    Aggregate agg;
    ColorScale cs;
} Look;

static const char *basename_of(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

// An image width that fits the title, drawn at scale 2 from x = 20.
static int wide_enough(int w, const char *title) {
    int t = text_width(title, 2) + 40;
    return w > t ? w : t;
}

// "how the map was shrunk", said on every image that shows one
static void binning_note(char *buf, size_t n, const AttnMap *a, const Look *k) {
    if (a->res == a->n_tokens) snprintf(buf, n, "every position");
    else
        snprintf(buf, n, "%s over %.1f x %.1f positions per pixel", k->agg == AGG_MAX ? "max" : "mean",
                 (double)a->n_tokens / a->res, (double)a->n_tokens / a->res);
}

// ANCHOR: layer_grid
#define GRID_KEY_PX 4 // pixels per key in the magnified strip of the first keys (grid panels)
#define HEAD_KEY_PX 8 // ... in the single-head picture

// Size of one head's panel in a layer grid: ticks left, the key map, ticks below, a name above.
static void grid_panel(const AttnMap *a, int panel, int *cell, int *pw, int *ph) {
    *cell = panel / a->res > 1 ? panel / a->res : 1;
    KeyMap km = {.cols = a->res, .cell = *cell, .n_first = ATTN_FIRST, .first_cell = GRID_KEY_PX};
    *pw = 44 + keymap_map_x(&km, 0) + a->res * *cell + 16;
    *ph = a->res * *cell + 40;
}

// Every head of layer l in a grid of panels, from (x0, y0): a caption line, then the panels.
static void draw_layer_grid(Image *im, int x0, int y0, const AttnMap *a, int l, int panel, const Look *k) {
    int H = a->n_heads, cols = (int)ceil(sqrt(H)), cell, pw, ph;
    grid_panel(a, panel, &cell, &pw, &ph);
    for (int h = 0; h < H; h++) {
        int x = x0 + (h % cols) * pw + 44, y = y0 + (h / cols) * ph + 14;
        char name[32];
        snprintf(name, sizeof name, "head %d", h);
        draw_text(im, x, y - 12, name, 1, RGB_BLACK);
        KeyMap km = {attnmap_map(a, l, h), a->res, a->res, cell, attnmap_first_keys(a, l, h), ATTN_FIRST,
                     GRID_KEY_PX, 0, a->n_tokens, 0, a->n_tokens, NULL, NULL, 3};
        keymap_draw(im, x, y, &km, &k->cs);
    }
}

static int write_layer(const AttnMap *a, int l, int panel, const Look *k, const char *path, Error *err) {
    int H = a->n_heads, cols = (int)ceil(sqrt(H)), rows = (H + cols - 1) / cols, cell, pw, ph;
    grid_panel(a, panel, &cell, &pw, &ph);
    char title[256], note[128];
    snprintf(title, sizeof title, "layer %d of %d: %s cache, %d tokens of %s", l, a->n_layers, k->policy,
             a->n_tokens, k->source);
    Image im;
    if (image_init(&im, wide_enough(20 + cols * pw + 90, title), 56 + rows * ph + 20, RGB_WHITE, err)) return -1;
    draw_text(&im, 20, 10, title, 2, RGB_BLACK);
    binning_note(note, sizeof note, a, k);
    snprintf(title, sizeof title, "rows: query position, columns: key position (left strip: keys 0-3 magnified); %s",
             note);
    draw_text(&im, 20, 32, title, 1, RGB_BLACK);
    draw_layer_grid(&im, 20, 56, a, l, panel, k);
    colorbar_draw(&im, 20 + cols * pw + 10, 70, 14, rows * ph - 40, &k->cs, "attention probability");
    int rc = image_write_png(&im, path, err);
    image_free(&im);
    return rc;
}
// END: layer_grid

// Two layers' grids side by side (the layer where the sink switches on beside the one before).
static int write_compare(const AttnMap *a, const int *ls, int panel, const Look *k, const char *path, Error *err) {
    int H = a->n_heads, cols = (int)ceil(sqrt(H)), rows = (H + cols - 1) / cols, cell, pw, ph;
    grid_panel(a, panel, &cell, &pw, &ph);
    int gw = cols * pw + 30;
    char title[256], note[128];
    snprintf(title, sizeof title, "layers %d and %d: %s cache, %d tokens of %s", ls[0], ls[1], k->policy, a->n_tokens,
             k->source);
    Image im;
    if (image_init(&im, wide_enough(20 + 2 * gw + 90, title), 76 + rows * ph + 20, RGB_WHITE, err)) return -1;
    draw_text(&im, 20, 10, title, 2, RGB_BLACK);
    binning_note(note, sizeof note, a, k);
    snprintf(title, sizeof title, "rows: query position, columns: key position (left strip: keys 0-3 magnified); %s",
             note);
    draw_text(&im, 20, 32, title, 1, RGB_BLACK);
    for (int i = 0; i < 2; i++) {
        snprintf(title, sizeof title, "layer %d", ls[i]);
        draw_text(&im, 20 + i * gw + 44, 52, title, 2, RGB_BLACK);
        draw_layer_grid(&im, 20 + i * gw, 76, a, ls[i], panel, k);
        if (i) image_fill_rect(&im, 20 + gw - 16, 52, 1, rows * ph + 24, RGB_GREY); // between the layers
    }
    colorbar_draw(&im, 20 + 2 * gw, 90, 14, rows * ph - 40, &k->cs, "attention probability");
    int rc = image_write_png(&im, path, err);
    image_free(&im);
    return rc;
}

// One head at full size, and under it the attention that each query pays to key 0: a head that
// sends everything to the sink is a line at 1, whatever the colours suggest.
static int write_head(const AttnMap *a, int l, int h, int size, const Look *k, const char *path, Error *err) {
    int cell = size / a->res > 1 ? size / a->res : 1, side = a->res * cell, plot_h = 220;
    KeyMap km = {attnmap_map(a, l, h), a->res, a->res, cell, attnmap_first_keys(a, l, h), ATTN_FIRST, HEAD_KEY_PX,
                 0, a->n_tokens, 0, a->n_tokens, "key position", "query position", 6};
    int mapx = 70, right = mapx + keymap_map_x(&km, 0) + side; // right edge of the map
    char title[256], note[128];
    snprintf(title, sizeof title, "layer %d, head %d: %s cache, %d tokens of %s", l, h, k->policy, a->n_tokens,
             k->source);
    Image im;
    if (image_init(&im, wide_enough(right + 130, title), side + 110 + plot_h, RGB_WHITE, err)) return -1;
    draw_text(&im, 20, 10, title, 2, RGB_BLACK);
    binning_note(note, sizeof note, a, k);
    draw_text(&im, 20, 32, note, 1, RGB_BLACK);
    keymap_draw(&im, mapx, 56, &km, &k->cs);
    colorbar_draw(&im, right + 14, 56, 14, side, &k->cs, "attention probability");
    // the companion chart: attention on key 0 (and on keys 1-3 together) by query position
    double *x = malloc((size_t)a->res * sizeof(double)), *y0 = malloc((size_t)a->res * sizeof(double)),
           *y13 = malloc((size_t)a->res * sizeof(double));
    int rc = -1;
    if (!x || !y0 || !y13) {
        err_set(err, "out of memory");
        goto out;
    }
    const float *f = attnmap_first_keys(a, l, h);
    for (int i = 0; i < a->res; i++) {
        x[i] = (double)i * a->n_tokens / a->res; // the first query position of bin i
        y0[i] = f[(size_t)i * ATTN_FIRST];
        y13[i] = 0;
        for (int j = 1; j < ATTN_FIRST; j++) y13[i] += f[(size_t)i * ATTN_FIRST + j];
    }
    Series s[2] = {{"key 0", x, y0, a->res, NULL, NULL}, {"keys 1-3 together", x, y13, a->res, NULL, NULL}};
    PlotSpec spec = {.title = k->agg == AGG_MAX ? "attention on the first keys by query position (max per pixel)"
                                                : "attention on the first keys by query position (mean per pixel)",
                     .xlabel = "query position", .ylabel = "attention", .ymin = -0.02, .ymax = 1.05, .vline = NAN};
    if (lineplot_draw(&im, 0, side + 100, right + 10, plot_h, &spec, s, 2, err)) goto out;
    rc = image_write_png(&im, path, err);
out:
    free(x), free(y0), free(y13);
    image_free(&im);
    return rc;
}

// ANCHOR: sink_scores
// Two heatmaps, layers down and heads across: the mean attention that queries far from the
// start pay to the first token, and to the first four.
static int write_sink_scores(const AttnMap *a, const Look *k, const char *png, const char *csv, Error *err) {
    FILE *f = fopen(csv, "w");
    if (!f) return err_set(err, "%s: cannot write", csv);
    fprintf(f, "layer,head,first1,first4\n");
    int L = a->n_layers, H = a->n_heads;
    float *m1 = malloc((size_t)L * H * sizeof(float)), *m4 = malloc((size_t)L * H * sizeof(float));
    if (!m1 || !m4) {
        free(m1), free(m4), fclose(f);
        return err_set(err, "out of memory");
    }
    for (int l = 0; l < L; l++)
        for (int h = 0; h < H; h++) {
            m1[l * H + h] = (float)attnmap_sink_score(a, l, h, 1);
            m4[l * H + h] = (float)attnmap_sink_score(a, l, h, 4);
            fprintf(f, "%d,%d,%.4f,%.4f\n", l, h, m1[l * H + h], m4[l * H + h]);
        }
    int bad = fclose(f) != 0;
    int cell = 14, mw = H * cell, mh = L * cell;
    char title[256];
    snprintf(title, sizeof title, "sink scores: %s cache, %d tokens of %s", k->policy, a->n_tokens, k->source);
    Image im;
    int rc = bad ? err_set(err, "%s: cannot write", csv)
                 : image_init(&im, wide_enough(2 * (mw + 90) + 120, title), mh + 110, RGB_WHITE, err);
    if (!rc) {
        ColorScale cs = {0, 1, 0};
        draw_text(&im, 20, 10, title, 2, RGB_BLACK);
        snprintf(title, sizeof title, "mean attention of the %ld queries at positions >= %d", a->n_far, a->far);
        draw_text(&im, 20, 32, title, 1, RGB_BLACK);
        const float *m[2] = {m1, m4};
        const char *name[2] = {"on the first token", "on the first 4 tokens"};
        for (int i = 0; i < 2; i++) {
            int x = 60 + i * (mw + 90), y = 70;
            draw_text(&im, x, y - 14, name[i], 1, RGB_BLACK);
            // cells centred on their numbers
            heatmap_axes_draw(&im, x, y, m[i], L, H, cell, &cs, -0.5, H - 0.5, -0.5, L - 0.5, "head",
                              i ? NULL : "layer", 4);
        }
        colorbar_draw(&im, 60 + 2 * (mw + 90) - 30, 70, 14, mh, &cs, "attention mass");
        rc = image_write_png(&im, png, err);
        image_free(&im);
    }
    free(m1);
    free(m4);
    return rc;
}
// END: sink_scores

static int parse_layers(unsigned char *on, int L, const char *s, Error *err) {
    if (!s || !strcmp(s, "all")) {
        memset(on, 1, (size_t)L);
        return 0;
    }
    memset(on, 0, (size_t)L);
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v >= L || (*end && *end != ','))
            return err_set(err, "--layers '%s': want layer numbers 0..%d separated by commas, or all", s, L - 1);
        on[v] = 1;
        p = *end ? end + 1 : end;
    }
    return 0;
}

int cmd_attn(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *file = NULL, *prompt = NULL, *out_dir = "attn", *layers = NULL, *head = NULL, *compare = NULL;
    const char *agg_name = "max";
    int tokens = 512, skip = 0, threads = 0, panel = 128, head_size = 512, far = -1, log_scale = 0;
    PolicyOpts po = POLICY_DEFAULTS;
    po.name = "dense";
    Opt opts[] = {
        MODEL_OPT(model),
        TOKENIZER_OPT(tokenizer),
        {"--file", OPT_STR, &file, "the text to run, e.g. ../shared/data/war-and-peace.txt", 0, 0, "-f"},
        {"--prompt", OPT_STR, &prompt, "or a text given here", 0, 0, "-p"},
        {"--tokens", OPT_INT, &tokens, "tokens of it to run (default 512)", 2, 1048576, NULL},
        {"--skip", OPT_INT, &skip, "start this many tokens into the text (default 0)", 0, 1000000000, NULL},
        {"--out-dir", OPT_STR, &out_dir, "where the PNGs and the CSV go (default attn/)", 0, 0, NULL},
        {"--layers", OPT_STR, &layers, "layers to draw, e.g. 0,1,15 (default all)", 0, 0, NULL},
        {"--compare", OPT_STR, &compare, "L1,L2: also OUT/layers_L1_L2.png, the two layers side by side", 0, 0, NULL},
        {"--head", OPT_STR, &head, "LAYER.HEAD drawn alone at full size (default: the head with the strongest sink)", 0, 0, NULL},
        {"--size", OPT_INT, &panel, "pixels per head in the layer grids (default 128)", 16, 1024, NULL},
        {"--head-size", OPT_INT, &head_size, "pixels of the single-head map (default 512)", 16, 4096, NULL},
        {"--agg", OPT_STR, &agg_name, "how many positions share a pixel: max or mean (default max)", 0, 0, NULL},
        {"--log", OPT_FLAG, &log_scale, "colour by log10 probability, from 1e-4 to 1", 0, 0, NULL},
        {"--far", OPT_INT, &far, "queries at this position or later count in the sink scores (default tokens/4)", 0, 1048576, NULL},
        THREADS_OPT(threads),
        POLICY_OPTS_DEFAULT(po, "dense"),
        DEVICE_OPT(po.device),
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    int pr = parse_opts(argc, argv, opts,
                        "usage: sinks attn (--file TEXT | --prompt TEXT) [options]\n\n"
                        "Runs the text under a KV cache policy and writes attention maps:\n"
                        "OUT/layer_NN.png (every head of a layer), OUT/head_L_H.png (one head, larger),\n"
                        "OUT/sink_scores.png and OUT/sink_scores.csv (attention on the first 1 and 4 tokens).");
    if (pr) return pr > 0 ? EXIT_OK : EXIT_USAGE;
    Aggregate agg = AGG_MAX;
    if (!strcmp(agg_name, "mean")) agg = AGG_MEAN;
    else if (strcmp(agg_name, "max")) {
        fprintf(stderr, "error: --agg '%s': want max or mean\n", agg_name);
        return 2;
    }
    if (!file == !prompt) {
        fprintf(stderr, "error: give one of --file and --prompt (see --help)\n");
        return 2;
    }
    Loaded L;
    Policy pol;
    int lr = load_for_streaming(&L, &pol, model, tokenizer, &po, threads);
    if (lr) return lr;
    if (pol.kind == POLICY_RECOMPUTE) {
        fprintf(stderr, "error: --policy recompute re-runs a window per token: there is no single cache to draw\n");
        loaded_free(&L);
        return 2;
    }
    const Config *cfg = &L.model.cfg;
    Error err = {{0}};
    TokenList ids = {0};
    Stream st;
    memset(&st, 0, sizeof st);
    AttnMap grid, big;
    memset(&grid, 0, sizeof grid);
    memset(&big, 0, sizeof big);
    unsigned char *on = malloc((size_t)cfg->n_layers);
    int rc = 1, hl = -1, hh = -1;
    if (!on || parse_layers(on, cfg->n_layers, layers, &err)) {
        rc = 2;
        goto done;
    }
    if (head) {
        char *end;
        hl = (int)strtol(head, &end, 10);
        hh = *end == '.' ? (int)strtol(end + 1, &end, 10) : -1;
        if (*end || hl < 0 || hl >= cfg->n_layers || hh < 0 || hh >= cfg->n_heads) {
            err_set(&err, "--head '%s': want LAYER.HEAD with layer 0..%d and head 0..%d", head, cfg->n_layers - 1,
                    cfg->n_heads - 1);
            rc = 2;
            goto done;
        }
    }
    if (file ? tokenize_file(&L.tok, file, 1, &ids, &err)
             : tokenizer_encode(&L.tok, prompt, strlen(prompt), 1, &ids, &err))
        goto done;
    if (skip >= ids.n) {
        err_set(&err, "%s: --skip %d leaves nothing of its %d tokens", file ? file : "--prompt", skip, ids.n);
        goto done;
    }
    int n = ids.n - skip < tokens ? ids.n - skip : tokens, *toks = ids.ids + skip;
    if (far < 0) far = n / 4;
    Look look = {file ? basename_of(file) : "the prompt", "", agg, {log_scale ? 1e-4 : 0, 1, log_scale}};
    policy_label(look.policy, sizeof look.policy, &pol);
    if (mkdir(out_dir, 0755) && errno != EEXIST) {
        err_set(&err, "--out-dir %s: cannot create it (%s)", out_dir, strerror(errno));
        goto done;
    }
    if (stream_open(&st, &L.model, &pol, n, po.device, &err)) goto done;
    if (attnmap_init(&grid, cfg, n, n < panel ? n : panel, agg, -1, far, &err)) goto done;
    if (attnmap_attach(&grid, &st, &err)) goto done;
    if (feed_with_progress(&st, toks, n, NULL, "maps of every layer", &err)) goto done;
    attnmap_finish(&grid);
    if (hl < 0) { // the head that gives the first token the most attention
        hl = 0, hh = 0;
        for (int l = 0; l < cfg->n_layers; l++)
            for (int h = 0; h < cfg->n_heads; h++)
                if (attnmap_sink_score(&grid, l, h, 1) > attnmap_sink_score(&grid, hl, hh, 1)) hl = l, hh = h;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/sink_scores.png", out_dir);
    char csv[4096];
    snprintf(csv, sizeof csv, "%s/sink_scores.csv", out_dir);
    if (write_sink_scores(&grid, &look, path, csv, &err)) {
        rc = EXIT_IO; // a file that could not be written
        goto done;
    }
    printf("%s\n%s\n", csv, path);
    for (int l = 0; l < cfg->n_layers; l++) {
        if (!on[l]) continue;
        snprintf(path, sizeof path, "%s/layer_%02d.png", out_dir, l);
        if (write_layer(&grid, l, panel, &look, path, &err)) {
            rc = EXIT_IO;
            goto done;
        }
        printf("%s\n", path);
    }
    if (compare) {
        int ls[2];
        char *end;
        ls[0] = (int)strtol(compare, &end, 10);
        ls[1] = *end == ',' ? (int)strtol(end + 1, &end, 10) : -1;
        if (*end || ls[0] < 0 || ls[0] >= cfg->n_layers || ls[1] < 0 || ls[1] >= cfg->n_layers) {
            err_set(&err, "--compare '%s': want two layers L1,L2 in 0..%d", compare, cfg->n_layers - 1);
            rc = 2;
            goto done;
        }
        snprintf(path, sizeof path, "%s/layers_%02d_%02d.png", out_dir, ls[0], ls[1]);
        if (write_compare(&grid, ls, panel, &look, path, &err)) {
            rc = EXIT_IO;
            goto done;
        }
        printf("%s\n", path);
    }
    // the single head again, at its own resolution: a second pass keeps memory at one map
    stream_reset(&st);
    if (attnmap_init(&big, cfg, n, n < head_size ? n : head_size, agg, hl, far, &err)) goto done;
    if (attnmap_attach(&big, &st, &err)) goto done;
    char what[64];
    snprintf(what, sizeof what, "layer %d head %d", hl, hh);
    if (feed_with_progress(&st, toks, n, NULL, what, &err)) goto done;
    attnmap_finish(&big);
    snprintf(path, sizeof path, "%s/head_%d_%d.png", out_dir, hl, hh);
    if (write_head(&big, hl, hh, head_size, &look, path, &err)) {
        rc = EXIT_IO;
        goto done;
    }
    printf("%s\n", path);
    rc = 0;
done:
    if (rc) fprintf(stderr, "error: %s\n", err.msg);
    attnmap_free(&grid);
    attnmap_free(&big);
    stream_free(&st);
    tokenlist_free(&ids);
    free(on);
    loaded_free(&L);
    return rc;
}
