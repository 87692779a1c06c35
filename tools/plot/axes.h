// axes.h: a rectangle of the image mapped to data coordinates, with its frame, round-numbered
// ticks and labels. Line plots and attention maps both sit on one.
#ifndef AXES_H
#define AXES_H

#include <stddef.h>

#include "image.h"

typedef struct {
    int x, y, w, h;                 // the plotting rectangle, in pixels
    double xmin, xmax, ymin, ymax;  // the data it shows
    int logx, logy;                 // log10 scale (the range must be positive)
    int flipy;                      // y grows downwards, as the rows of a matrix do
    int pad;                        // white pixels between the frame and the data rectangle, so the
                                    // first row or column of a map is not hidden against the frame
    int hide_x, hide_y;             // no ticks on that axis (a panel that shares it with a neighbour)
    const double *xticks;           // [n_xticks] ticks at these x values instead of round numbers
    int n_xticks;
} Axes;

double axes_px_x(const Axes *a, double v);
double axes_px_y(const Axes *a, double v);
// Tick values within [lo, hi]: multiples of 1, 2 or 5 x 10^k, about n_target of them; on a log
// axis the powers of ten (and 2x, 5x when there are few decades). Returns how many (<= max).
int axes_ticks(double *ticks, int max, double lo, double hi, int log, int n_target);
// "1500", "0.25", "0.0001", "20K", "3M": short and exact enough for a tick; whole thousands
// (millions) are written with K (M), so a log axis reads 1, 10, 100, 1K, 10K.
void axes_format(char *buf, size_t n, double v);
// The frame, tick marks with their labels, and the axis labels (either may be NULL). Log axes
// that label only powers of ten get unlabelled minor ticks at 2..9 times them.
void axes_draw(Image *im, const Axes *a, const char *xlabel, const char *ylabel, int n_ticks);
// Text centred on x (draw_text places a top-left corner).
void draw_text_centred(Image *im, int cx, int y, const char *s, int scale, Rgb c);

#endif
