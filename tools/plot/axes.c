// axes.c: data to pixels, and the furniture around a plot.
#include "axes.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "font.h"

static double scaled(double v, int log) { return log ? log10(v) : v; }

double axes_px_x(const Axes *a, double v) {
    double lo = scaled(a->xmin, a->logx), hi = scaled(a->xmax, a->logx);
    return a->x + (scaled(v, a->logx) - lo) / (hi - lo) * a->w;
}

double axes_px_y(const Axes *a, double v) {
    double lo = scaled(a->ymin, a->logy), hi = scaled(a->ymax, a->logy);
    double f = (scaled(v, a->logy) - lo) / (hi - lo);
    return a->flipy ? a->y + f * a->h : a->y + a->h - f * a->h;
}

int axes_ticks(double *ticks, int max, double lo, double hi, int log, int n_target) {
    int n = 0;
    if (!(hi > lo) || n_target < 1) return 0;
    if (log) {
        if (!(lo > 0)) return 0;
        int e0 = (int)floor(log10(lo)), e1 = (int)ceil(log10(hi));
        static const double all[] = {1, 2, 5}, one[] = {1};
        const double *m = e1 - e0 <= 2 ? all : one;
        int nm = e1 - e0 <= 2 ? 3 : 1;
        for (int e = e0; e <= e1; e++)
            for (int i = 0; i < nm; i++) {
                double v = m[i] * pow(10, e);
                if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) && n < max) ticks[n++] = v;
            }
        return n;
    }
    double raw = (hi - lo) / n_target, mag = pow(10, floor(log10(raw))), step = mag;
    if (raw / mag > 5) step = 10 * mag;
    else if (raw / mag > 2) step = 5 * mag;
    else if (raw / mag > 1) step = 2 * mag;
    for (double v = ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9 && n < max; v += step)
        ticks[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    return n;
}

void axes_format(char *buf, size_t n, double v) {
    double a = fabs(v);
    if (a >= 1e6 && fmod(a, 1e5) == 0) snprintf(buf, n, "%gM", v / 1e6);
    else if (a >= 1000 && fmod(a, 1000) == 0) snprintf(buf, n, "%gK", v / 1000);
    else if (v != 0 && (a < 1e-4 || a >= 1e6)) snprintf(buf, n, "%.0e", v);
    else if (v == floor(v)) snprintf(buf, n, "%.0f", v);
    else snprintf(buf, n, "%.4g", v);
}

void draw_text_centred(Image *im, int cx, int y, const char *s, int scale, Rgb c) {
    draw_text(im, cx - text_width(s, scale) / 2, y, s, scale, c);
}

// Minor ticks at 2..9 x 10^k of a log axis whose labelled ticks are powers of ten only, as
// positions in [lo, hi]. Returns how many (<= max).
static int minor_ticks(double *t, int max, double lo, double hi, const double *major, int n_major) {
    int n = 0;
    for (int i = 0; i < n_major; i++) // only when every labelled tick is a power of ten
        if (fabs(log10(major[i]) - lround(log10(major[i]))) > 1e-9) return 0;
    for (int e = (int)floor(log10(lo)) - 1; e <= (int)ceil(log10(hi)); e++)
        for (int m = 2; m <= 9; m++) {
            double v = m * pow(10, e);
            if (v > lo && v < hi && n < max) t[n++] = v;
        }
    return n;
}

void axes_draw(Image *im, const Axes *a, const char *xlabel, const char *ylabel, int n_ticks) {
    double t[64] = {0}, minor[128];
    char buf[32];
    int p = a->pad, widest = 0, nt, nm;
    if (!a->hide_x) {
        if (a->xticks) {
            nt = a->n_xticks < 64 ? a->n_xticks : 64;
            for (int i = 0; i < nt; i++) t[i] = a->xticks[i];
        } else nt = axes_ticks(t, 64, a->xmin, a->xmax, a->logx, n_ticks);
        nm = a->logx && !a->xticks ? minor_ticks(minor, 128, a->xmin, a->xmax, t, nt) : 0;
        for (int i = 0; i < nm; i++) image_fill_rect(im, (int)lround(axes_px_x(a, minor[i])), a->y + a->h + p, 1, 2, RGB_BLACK);
        for (int i = 0; i < nt; i++) {
            int px = (int)lround(axes_px_x(a, t[i]));
            image_fill_rect(im, px, a->y + a->h + p, 1, 4, RGB_BLACK);
            axes_format(buf, sizeof buf, t[i]);
            draw_text_centred(im, px, a->y + a->h + p + 6, buf, 1, RGB_BLACK);
        }
    }
    if (!a->hide_y) {
        nt = axes_ticks(t, 64, a->ymin, a->ymax, a->logy, n_ticks);
        nm = a->logy ? minor_ticks(minor, 128, a->ymin, a->ymax, t, nt) : 0;
        for (int i = 0; i < nm; i++) image_fill_rect(im, a->x - p - 2, (int)lround(axes_px_y(a, minor[i])), 2, 1, RGB_BLACK);
        for (int i = 0; i < nt; i++) {
            int py = (int)lround(axes_px_y(a, t[i]));
            image_fill_rect(im, a->x - p - 4, py, 4, 1, RGB_BLACK);
            axes_format(buf, sizeof buf, t[i]);
            int w = text_width(buf, 1);
            widest = w > widest ? w : widest;
            draw_text(im, a->x - p - 7 - w, py - FONT_H / 2, buf, 1, RGB_BLACK);
        }
    }
    image_rect_outline(im, a->x - 1 - p, a->y - 1 - p, a->w + 2 + 2 * p, a->h + 2 + 2 * p, RGB_BLACK);
    if (xlabel) draw_text_centred(im, a->x + a->w / 2, a->y + a->h + p + 18, xlabel, 1, RGB_BLACK);
    if (ylabel)
        draw_text_up(im, a->x - p - 7 - widest - 6 - FONT_H, a->y + a->h / 2 - text_width(ylabel, 1) / 2, ylabel, 1,
                     RGB_BLACK);
}
