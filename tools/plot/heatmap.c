// heatmap.c: matrices to pixels through the viridis colour map.
#include "heatmap.h"

#include <math.h>
#include <stdio.h>

#include "axes.h"
#include "colormap.h"
#include "font.h"

// ANCHOR: downsample
void downsample_forward(float *out, const float *m, int rows, int cols, int orows, int ocols, Aggregate agg) {
    for (int i = 0; i < orows; i++) {
        int r0 = (int)((long)i * rows / orows), r1 = (int)((long)(i + 1) * rows / orows);
        for (int j = 0; j < ocols; j++) {
            int c0 = (int)((long)j * cols / ocols), c1 = (int)((long)(j + 1) * cols / ocols);
            double acc = agg == AGG_MAX ? -INFINITY : 0;
            for (int r = r0; r < r1; r++)
                for (int c = c0; c < c1; c++) {
                    float v = m[(size_t)r * cols + c];
                    acc = agg == AGG_MAX ? fmax(acc, v) : acc + v;
                }
            out[(size_t)i * ocols + j] = (float)(agg == AGG_MAX ? acc : acc / ((double)(r1 - r0) * (c1 - c0)));
        }
    }
}
// END: downsample

Rgb colorscale_rgb(const ColorScale *cs, double v) {
    double t;
    if (cs->log) t = (log10(fmax(v, cs->lo)) - log10(cs->lo)) / (log10(cs->hi) - log10(cs->lo));
    else t = (v - cs->lo) / (cs->hi - cs->lo);
    return colormap_viridis(t);
}

void heatmap_draw(Image *im, int x, int y, const float *m, int rows, int cols, int cell, const ColorScale *cs) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            image_fill_rect(im, x + c * cell, y + r * cell, cell, cell, colorscale_rgb(cs, m[(size_t)r * cols + c]));
}

void colorbar_draw(Image *im, int x, int y, int w, int h, const ColorScale *cs, const char *label) {
    Axes a = {.x = x, .y = y, .w = w, .h = h, .xmin = 0, .xmax = 1, .ymin = cs->lo, .ymax = cs->hi, .logy = cs->log};
    for (int py = 0; py < h; py++) {
        double f = 1 - (py + 0.5) / h; // fraction of the way from lo to hi
        double v = cs->log ? cs->lo * pow(cs->hi / cs->lo, f) : cs->lo + f * (cs->hi - cs->lo);
        image_fill_rect(im, x, y + py, w, 1, colorscale_rgb(cs, v));
    }
    image_rect_outline(im, x - 1, y - 1, w + 2, h + 2, RGB_BLACK);
    double t[32];
    char buf[32];
    int nt = axes_ticks(t, 32, cs->lo, cs->hi, cs->log, 5), widest = 0;
    for (int i = 0; i < nt; i++) {
        int py = (int)lround(axes_px_y(&a, t[i]));
        image_fill_rect(im, x + w, py, 4, 1, RGB_BLACK);
        axes_format(buf, sizeof buf, t[i]);
        draw_text(im, x + w + 7, py - FONT_H / 2, buf, 1, RGB_BLACK);
        widest = text_width(buf, 1) > widest ? text_width(buf, 1) : widest;
    }
    if (label) draw_text_up(im, x + w + 7 + widest + 6, y + h / 2 - text_width(label, 1) / 2, label, 1, RGB_BLACK);
}

void heatmap_axes_draw(Image *im, int x, int y, const float *m, int rows, int cols, int cell, const ColorScale *cs,
                       double x0, double x1, double y0, double y1, const char *xlabel, const char *ylabel,
                       int n_ticks) {
    heatmap_draw(im, x, y, m, rows, cols, cell, cs);
    Axes a = {.x = x, .y = y, .w = cols * cell, .h = rows * cell, .xmin = x0, .xmax = x1, .ymin = y0, .ymax = y1,
              .flipy = 1};
    axes_draw(im, &a, xlabel, ylabel, n_ticks);
}

// ANCHOR: keymap
int keymap_map_x(const KeyMap *k, int x) {
    return x + k->n_first * k->first_cell + 2 * KEYMAP_PAD + 2 + KEYMAP_GAP;
}

int keymap_draw(Image *im, int x, int y, const KeyMap *k, const ColorScale *cs) {
    int h = k->rows * k->cell, sw = k->n_first * k->first_cell, mx = keymap_map_x(k, x);
    // the strip: rows as in the map, each of the first keys a first_cell-wide column
    for (int r = 0; r < k->rows; r++)
        for (int c = 0; c < k->n_first; c++)
            image_fill_rect(im, x + c * k->first_cell, y + r * k->cell, k->first_cell, k->cell,
                            colorscale_rgb(cs, k->first[(size_t)r * k->n_first + c]));
    Axes strip = {.x = x, .y = y, .w = sw, .h = h, .xmin = 0, .xmax = 1, .ymin = k->y0, .ymax = k->y1,
                  .flipy = 1, .pad = KEYMAP_PAD, .hide_x = 1};
    axes_draw(im, &strip, NULL, k->ylabel, k->n_ticks);
    char name[32];
    snprintf(name, sizeof name, "0-%d", k->n_first - 1);
    image_fill_rect(im, x + sw / 2, y + h + KEYMAP_PAD, 1, 4, RGB_BLACK);
    draw_text_centred(im, x + sw / 2, y + h + KEYMAP_PAD + 6, name, 1, RGB_BLACK);
    if (k->xlabel) {
        snprintf(name, sizeof name, "keys 0-%d", k->n_first - 1);
        draw_text_centred(im, x + sw / 2, y + h + KEYMAP_PAD + 18, name, 1, RGB_BLACK);
    }
    // the map, all keys (the first ones again, at their true width)
    heatmap_draw(im, mx, y, k->map, k->rows, k->cols, k->cell, cs);
    Axes map = {.x = mx, .y = y, .w = k->cols * k->cell, .h = h, .xmin = k->x0, .xmax = k->x1, .ymin = k->y0,
                .ymax = k->y1, .flipy = 1, .pad = KEYMAP_PAD, .hide_y = 1};
    axes_draw(im, &map, k->xlabel, NULL, k->n_ticks);
    return mx - x + k->cols * k->cell + KEYMAP_PAD + 1;
}
// END: keymap
