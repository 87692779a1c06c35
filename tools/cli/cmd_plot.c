// sinks plot: a line chart from a CSV file, one line per value of a series column.
// The book's perplexity, memory and latency charts are drawn by it from data/results.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cachediagram.h"
#include "lineplot.h"

#define MAX_SERIES 16
#define MAX_COLS 64

typedef struct {
    char name[128];
    double *x, *y, *lo, *hi; // lo, hi: with --ylo and --yhi
    int n, cap;
} Line;

// ANCHOR: plot_policies
// sinks plot --policies: the schematic of the four cache policies (chapter 10).
static int draw_policies(const char *out, int n_tokens, int cap, int n_sink) {
    Error err = {{0}};
    Image im;
    int w, h, rc = EXIT_IO;
    if (n_tokens < 2 || n_tokens > 24 || cap < 2 || cap >= n_tokens || n_sink < 1 || n_sink >= cap) {
        fprintf(stderr, "error: --policies wants --tokens in 2..24, --cache in 2..tokens-1, --sinks in 1..cache-1\n");
        return EXIT_USAGE;
    }
    policies_size(&w, &h, n_tokens);
    if (image_init(&im, w, h, RGB_WHITE, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        return EXIT_INPUT;
    }
    policies_draw(&im, n_tokens, cap, n_sink);
    if (image_write_png(&im, out, &err)) fprintf(stderr, "error: %s\n", err.msg);
    else printf("%s\n", out), rc = EXIT_OK;
    image_free(&im);
    return rc;
}
// END: plot_policies

// Splits a CSV line in place (no quoting: our results files have none). Returns the field count.
static int split(char *line, char **f, int max) {
    int n = 0;
    line[strcspn(line, "\r\n")] = 0;
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = 0;
        p = c + 1;
    }
    return n;
}

static int column(char **head, int n, const char *name, const char *path, Error *err) {
    for (int i = 0; i < n; i++)
        if (!strcmp(head[i], name)) return i;
    return err_set(err, "%s: no column '%s' in its header", path, name);
}

static int parse_num(double *v, const char *s) {
    char *end;
    *v = strtod(s, &end);
    return end != s && *end == 0;
}

int cmd_plot(int argc, char **argv) {
    const char *csv = NULL, *out = "plot.png", *xcol = NULL, *ycol = NULL, *scol = NULL;
    const char *title = NULL, *xlabel = NULL, *ylabel = NULL, *vline_label = NULL;
    const char *locol = NULL, *hicol = NULL;
    int logx = 0, logy = 0, width = 800, height = 480, xticks_data = 0, policies = 0, pt = 10, pc = 6, ps = 2;
    double vline = NAN;
    float vline_f = NAN;
    Opt opts[] = {
        {"--csv", OPT_STR, &csv, "the data (required): a header row, then comma-separated rows", 0, 0, NULL},
        {"--x", OPT_STR, &xcol, "column of x values (required)", 0, 0, NULL},
        {"--y", OPT_STR, &ycol, "column of y values (required)", 0, 0, NULL},
        {"--series", OPT_STR, &scol, "column naming the line each row belongs to (default: one line)", 0, 0, NULL},
        {"--out", OPT_STR, &out, "the PNG (default plot.png)", 0, 0, "-o"},
        {"--title", OPT_STR, &title, "title above the chart", 0, 0, NULL},
        {"--xlabel", OPT_STR, &xlabel, "x axis label (default: the column name)", 0, 0, NULL},
        {"--ylabel", OPT_STR, &ylabel, "y axis label (default: the column name)", 0, 0, NULL},
        {"--logx", OPT_FLAG, &logx, "log scale on x", 0, 0, NULL},
        {"--logy", OPT_FLAG, &logy, "log scale on y", 0, 0, NULL},
        {"--vline", OPT_FLOAT, &vline_f, "a dashed vertical marker at this x", -1e30, 1e30, NULL},
        {"--vline-label", OPT_STR, &vline_label, "text beside the marker", 0, 0, NULL},
        {"--width", OPT_INT, &width, "pixels (default 800)", 200, 8000, NULL},
        {"--height", OPT_INT, &height, "pixels (default 480)", 150, 8000, NULL},
        {"--ylo", OPT_STR, &locol, "column of each point's lowest value: whiskers from --ylo to --yhi", 0, 0, NULL},
        {"--yhi", OPT_STR, &hicol, "column of each point's highest value", 0, 0, NULL},
        {"--xticks-at-data", OPT_FLAG, &xticks_data, "ticks at the x values of the data (at most 16), not round numbers", 0, 0, NULL},
        {"--policies", OPT_FLAG, &policies, "instead of a chart: the schematic of the four cache policies", 0, 0, NULL},
        {"--tokens", OPT_INT, &pt, "with --policies: tokens streamed (default 10)", 2, 24, NULL},
        {"--cache", OPT_INT, &pc, "with --policies: cache slots (default 6)", 2, 23, NULL},
        {"--sinks", OPT_INT, &ps, "with --policies: sink slots (default 2)", 1, 22, NULL},
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    int pr = parse_opts(argc, argv, opts,
                        "usage: sinks plot --csv FILE --x COL --y COL [--series COL] [options]\n\n"
                        "Draws a line chart of the CSV's rows to PNG, one line per distinct --series value,\n"
                        "in the order they first appear.");
    if (pr) return pr > 0 ? EXIT_OK : EXIT_USAGE;
    if (policies) return draw_policies(out, pt, pc, ps);
    if (!csv || !xcol || !ycol) {
        fprintf(stderr, "error: --csv, --x and --y are required (see --help)\n");
        return 2;
    }
    if (width < 200 || width > 8000 || height < 150 || height > 8000) {
        fprintf(stderr, "error: --width must be in 200..8000 and --height in 150..8000\n");
        return 2;
    }
    vline = vline_f;
    Error err = {{0}};
    Line lines[MAX_SERIES];
    memset(lines, 0, sizeof lines);
    int n_lines = 0, rc = 1, lineno = 1;
    char buf[4096], *head[MAX_COLS], *f[MAX_COLS], header[4096];
    Image im = {0};
    FILE *in = fopen(csv, "r");
    if (!in) {
        fprintf(stderr, "error: %s: cannot open\n", csv);
        return 1;
    }
    if (!fgets(header, sizeof header, in)) {
        err_set(&err, "%s: empty file", csv);
        goto done;
    }
    int nh = split(header, head, MAX_COLS), xi, yi, si = -1;
    if ((xi = column(head, nh, xcol, csv, &err)) < 0 || (yi = column(head, nh, ycol, csv, &err)) < 0) goto done;
    if (scol && (si = column(head, nh, scol, csv, &err)) < 0) goto done;
    int loi = -1, hii = -1;
    if (!locol != !hicol) {
        err_set(&err, "--ylo and --yhi go together");
        goto done;
    }
    if (locol && ((loi = column(head, nh, locol, csv, &err)) < 0 || (hii = column(head, nh, hicol, csv, &err)) < 0))
        goto done;
    while (fgets(buf, sizeof buf, in)) {
        lineno++;
        if (buf[strspn(buf, " \r\n")] == 0) continue;
        int nf = split(buf, f, MAX_COLS);
        double x, y, lo = NAN, hi = NAN;
        if (nf != nh) {
            err_set(&err, "%s:%d: %d fields where the header has %d", csv, lineno, nf, nh);
            goto done;
        }
        if (!parse_num(&x, f[xi]) || !parse_num(&y, f[yi])) {
            err_set(&err, "%s:%d: '%s' or '%s' is not a number", csv, lineno, f[xi], f[yi]);
            goto done;
        }
        if (loi >= 0 && (!parse_num(&lo, f[loi]) || !parse_num(&hi, f[hii]))) {
            err_set(&err, "%s:%d: '%s' or '%s' is not a number", csv, lineno, f[loi], f[hii]);
            goto done;
        }
        const char *name = si >= 0 ? f[si] : ycol;
        int k = 0;
        while (k < n_lines && strcmp(lines[k].name, name)) k++;
        if (k == n_lines) {
            if (n_lines == MAX_SERIES) {
                err_set(&err, "%s: more than %d series", csv, MAX_SERIES);
                goto done;
            }
            snprintf(lines[n_lines++].name, sizeof lines[k].name, "%s", name);
        }
        Line *l = &lines[k];
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 64;
            double *nx = realloc(l->x, l->cap * sizeof(double)), *ny = realloc(l->y, l->cap * sizeof(double));
            if (nx) l->x = nx;
            if (ny) l->y = ny;
            double *nl = realloc(l->lo, l->cap * sizeof(double)), *nu = realloc(l->hi, l->cap * sizeof(double));
            if (nl) l->lo = nl;
            if (nu) l->hi = nu;
            if (!nx || !ny || !nl || !nu) {
                err_set(&err, "out of memory");
                goto done;
            }
        }
        l->x[l->n] = x, l->lo[l->n] = lo, l->hi[l->n] = hi, l->y[l->n++] = y;
    }
    Series s[MAX_SERIES];
    double ticks[16];
    int n_ticks = 0;
    for (int k = 0; k < n_lines; k++) {
        s[k] = (Series){lines[k].name, lines[k].x, lines[k].y, lines[k].n, loi >= 0 ? lines[k].lo : NULL,
                        loi >= 0 ? lines[k].hi : NULL};
        for (int i = 0; xticks_data && i < lines[k].n; i++) { // the distinct x values, sorted
            int j = 0;
            while (j < n_ticks && ticks[j] < lines[k].x[i]) j++;
            if ((j < n_ticks && ticks[j] == lines[k].x[i]) || n_ticks == 16) continue;
            memmove(ticks + j + 1, ticks + j, (size_t)(n_ticks - j) * sizeof(double));
            ticks[j] = lines[k].x[i], n_ticks++;
        }
    }
    PlotSpec spec = {.title = title, .xlabel = xlabel ? xlabel : xcol, .ylabel = ylabel ? ylabel : ycol,
                     .logx = logx, .logy = logy, .vline = vline, .vline_label = vline_label,
                     .xticks = n_ticks ? ticks : NULL, .n_xticks = n_ticks};
    if (image_init(&im, width, height, RGB_WHITE, &err)) goto done;
    if (lineplot_draw(&im, 0, 0, width, height, &spec, s, n_lines, &err)) goto done;
    if (image_write_png(&im, out, &err)) {
        rc = EXIT_IO;
        goto done;
    }
    printf("%s\n", out);
    rc = 0;
done:
    if (rc) fprintf(stderr, "error: %s\n", err.msg);
    fclose(in);
    image_free(&im);
    for (int k = 0; k < n_lines; k++) free(lines[k].x), free(lines[k].y), free(lines[k].lo), free(lines[k].hi);
    return rc;
}
