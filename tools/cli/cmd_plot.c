// sinks plot: a line chart from a CSV file, one line per value of a series column.
// The book's perplexity, memory and latency charts are drawn by it from data/results.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lineplot.h"

#define MAX_SERIES 16
#define MAX_COLS 64

typedef struct {
    char name[128];
    double *x, *y;
    int n, cap;
} Line;

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
    int logx = 0, logy = 0, width = 800, height = 480;
    double vline = NAN;
    float vline_f = NAN;
    Opt opts[] = {
        {"--csv", OPT_STR, &csv, "the data (required): a header row, then comma-separated rows"},
        {"--x", OPT_STR, &xcol, "column of x values (required)"},
        {"--y", OPT_STR, &ycol, "column of y values (required)"},
        {"--series", OPT_STR, &scol, "column naming the line each row belongs to (default: one line)"},
        {"--out", OPT_STR, &out, "the PNG (default plot.png)"},
        {"--title", OPT_STR, &title, "title above the chart"},
        {"--xlabel", OPT_STR, &xlabel, "x axis label (default: the column name)"},
        {"--ylabel", OPT_STR, &ylabel, "y axis label (default: the column name)"},
        {"--logx", OPT_FLAG, &logx, "log scale on x"},
        {"--logy", OPT_FLAG, &logy, "log scale on y"},
        {"--vline", OPT_FLOAT, &vline_f, "a dashed vertical marker at this x"},
        {"--vline-label", OPT_STR, &vline_label, "text beside the marker"},
        {"--width", OPT_INT, &width, "pixels (default 800)"},
        {"--height", OPT_INT, &height, "pixels (default 480)"},
        {NULL, 0, NULL, NULL},
    };
    int pr = parse_opts(argc, argv, opts,
                        "usage: sinks plot --csv FILE --x COL --y COL [--series COL] [options]\n\n"
                        "Draws a line chart of the CSV's rows to PNG, one line per distinct --series value,\n"
                        "in the order they first appear.");
    if (pr) return pr > 0 ? 0 : 2;
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
    while (fgets(buf, sizeof buf, in)) {
        lineno++;
        if (buf[strspn(buf, " \r\n")] == 0) continue;
        int nf = split(buf, f, MAX_COLS);
        double x, y;
        if (nf != nh) {
            err_set(&err, "%s:%d: %d fields where the header has %d", csv, lineno, nf, nh);
            goto done;
        }
        if (!parse_num(&x, f[xi]) || !parse_num(&y, f[yi])) {
            err_set(&err, "%s:%d: '%s' or '%s' is not a number", csv, lineno, f[xi], f[yi]);
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
            if (!nx || !ny) {
                err_set(&err, "out of memory");
                goto done;
            }
        }
        l->x[l->n] = x, l->y[l->n++] = y;
    }
    Series s[MAX_SERIES];
    for (int k = 0; k < n_lines; k++) s[k] = (Series){lines[k].name, lines[k].x, lines[k].y, lines[k].n};
    PlotSpec spec = {.title = title, .xlabel = xlabel ? xlabel : xcol, .ylabel = ylabel ? ylabel : ycol,
                     .logx = logx, .logy = logy, .vline = vline, .vline_label = vline_label};
    if (image_init(&im, width, height, RGB_WHITE, &err)) goto done;
    if (lineplot_draw(&im, 0, 0, width, height, &spec, s, n_lines, &err)) goto done;
    if (image_write_png(&im, out, &err)) goto done;
    printf("%s\n", out);
    rc = 0;
done:
    if (rc) fprintf(stderr, "error: %s\n", err.msg);
    fclose(in);
    image_free(&im);
    for (int k = 0; k < n_lines; k++) free(lines[k].x), free(lines[k].y);
    return rc;
}
