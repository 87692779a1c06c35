// lineplot.c: the charts of the streaming results (perplexity by position, memory, latency).
#include "lineplot.h"

#include <math.h>

#include "axes.h"
#include "font.h"

Rgb series_colour(int i) {
    static const Rgb okabe_ito[] = {{0, 114, 178}, {213, 94, 0},  {0, 158, 115}, {230, 159, 0},
                                    {204, 121, 167}, {86, 180, 233}, {0, 0, 0}};
    return okabe_ito[i % 7];
}

static int usable(double v, int log) { return isfinite(v) && (!log || v > 0); }

// ANCHOR: lineplot
int lineplot_draw(Image *im, int x, int y, int w, int h, const PlotSpec *p, const Series *s, int n_series,
                  Error *err) {
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int i = 0; i < n_series; i++)
        for (int k = 0; k < s[i].n; k++) {
            if (!usable(s[i].x[k], p->logx) || !usable(s[i].y[k], p->logy)) continue;
            xmin = fmin(xmin, s[i].x[k]), xmax = fmax(xmax, s[i].x[k]);
            ymin = fmin(ymin, s[i].y[k]), ymax = fmax(ymax, s[i].y[k]);
            if (s[i].lo && usable(s[i].lo[k], p->logy)) ymin = fmin(ymin, s[i].lo[k]);
            if (s[i].hi && usable(s[i].hi[k], p->logy)) ymax = fmax(ymax, s[i].hi[k]);
        }
    if (!(xmin <= xmax)) return err_set(err, "plot '%s': no point to draw", p->title ? p->title : "");
    if (p->ymin != 0 || p->ymax != 0) ymin = p->ymin, ymax = p->ymax;
    if (xmax == xmin) xmin -= 0.5, xmax += 0.5;
    if (ymax == ymin) ymin = p->logy ? ymin / 2 : ymin - 0.5, ymax = p->logy ? ymax * 2 : ymax + 0.5;
    else if (p->logy) ymin /= 1.1, ymax *= 1.1; // a little air above and below the data
    else if (p->ymin == 0 && p->ymax == 0) {
        double pad = 0.05 * (ymax - ymin);
        ymin -= pad, ymax += pad;
    }
    // margins: ticks and the y label on the left, ticks and the x label below, the title above
    Axes a = {.x = x + 70, .y = y + 28, .w = w - 90, .h = h - 28 - 40, .xmin = xmin, .xmax = xmax,
              .ymin = ymin, .ymax = ymax, .logx = p->logx, .logy = p->logy, .xticks = p->xticks,
              .n_xticks = p->n_xticks};
    if (a.w < 20 || a.h < 20) return err_set(err, "plot '%s': %dx%d pixels is too small", p->title ? p->title : "", w, h);
    double t[64];
    int nt = axes_ticks(t, 64, ymin, ymax, p->logy, 6);
    for (int i = 0; i < nt; i++) // light grid lines at the y ticks
        image_fill_rect(im, a.x, (int)lround(axes_px_y(&a, t[i])), a.w, 1, (Rgb){230, 230, 230});
    if (isfinite(p->vline) && p->vline >= xmin && p->vline <= xmax) {
        double vx = axes_px_x(&a, p->vline);
        image_line(im, vx, a.y, vx, a.y + a.h, 1, 4, (Rgb){120, 120, 120});
        if (p->vline_label) draw_text(im, (int)vx + 4, a.y + 4, p->vline_label, 1, (Rgb){90, 90, 90});
    }
    for (int i = 0; i < n_series; i++) {
        int have = 0;
        double px = 0, py = 0;
        for (int k = 0; k < s[i].n; k++) {
            if (!usable(s[i].x[k], p->logx) || !usable(s[i].y[k], p->logy)) {
                have = 0;
                continue;
            }
            double vy = fmin(fmax(s[i].y[k], ymin), ymax); // clipped to the axes
            double nx = axes_px_x(&a, s[i].x[k]), ny = axes_px_y(&a, vy);
            if (have) image_line(im, px, py, nx, ny, 2, 0, series_colour(i));
            else image_fill_rect(im, (int)lround(nx) - 1, (int)lround(ny) - 1, 3, 3, series_colour(i));
            px = nx, py = ny, have = 1;
        }
        // ANCHOR: whiskers
        for (int k = 0; s[i].lo && s[i].hi && k < s[i].n; k++) {
            if (!usable(s[i].x[k], p->logx) || !usable(s[i].lo[k], p->logy) || !usable(s[i].hi[k], p->logy)) continue;
            int wx = (int)lround(axes_px_x(&a, s[i].x[k])) + (2 * i - (n_series - 1)) * WHISKER_DODGE;
            int y0 = (int)lround(axes_px_y(&a, fmin(fmax(s[i].hi[k], ymin), ymax)));
            int y1 = (int)lround(axes_px_y(&a, fmin(fmax(s[i].lo[k], ymin), ymax)));
            image_fill_rect(im, wx, y0, 1, y1 - y0 + 1, series_colour(i)); // from max down to min
            image_fill_rect(im, wx - 2, y0, 5, 1, series_colour(i));       // the caps
            image_fill_rect(im, wx - 2, y1, 5, 1, series_colour(i));
            int my = (int)lround(axes_px_y(&a, fmin(fmax(s[i].y[k], ymin), ymax)));
            image_fill_rect(im, wx - 1, my - 1, 3, 3, series_colour(i)); // the median itself
        }
        // END: whiskers
    }
    axes_draw(im, &a, p->xlabel, p->ylabel, 6);
    if (p->title) draw_text_centred(im, a.x + a.w / 2, y + 8, p->title, 1, RGB_BLACK);
    // the legend, top right inside the axes, on white so lines beneath do not show through
    int lw = 0;
    for (int i = 0; i < n_series; i++) lw = text_width(s[i].name, 1) > lw ? text_width(s[i].name, 1) : lw;
    int bx = a.x + a.w - lw - 38, by = a.y + 6, bh = n_series * 12 + 6;
    image_fill_rect(im, bx, by, lw + 32, bh, RGB_WHITE);
    image_rect_outline(im, bx, by, lw + 32, bh, RGB_GREY);
    for (int i = 0; i < n_series; i++) {
        int ly = by + 6 + i * 12;
        image_line(im, bx + 5, ly + 3, bx + 21, ly + 3, 2, 0, series_colour(i));
        draw_text(im, bx + 26, ly, s[i].name, 1, RGB_BLACK);
    }
    return 0;
}
// END: lineplot
