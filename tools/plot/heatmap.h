// heatmap.h: a matrix drawn as coloured cells, shrunk first when it has more rows or columns
// than the picture has pixels, and the colour bar that says what the colours mean.
#ifndef HEATMAP_H
#define HEATMAP_H

#include "image.h"

typedef enum { AGG_MAX, AGG_MEAN } Aggregate;

// out[orows, ocols] from m[rows, cols] (orows <= rows, ocols <= cols): each output cell is the
// max (a single strong weight stays visible) or the mean (mass is kept) of the block of input
// cells that falls in it. Blocks differ by at most one row or column when sizes do not divide.
void downsample_forward(float *out, const float *m, int rows, int cols, int orows, int ocols, Aggregate agg);

typedef struct {
    double lo, hi; // values at the two ends of the colour map
    int log;       // colour by log10(value); lo must then be > 0
} ColorScale;

Rgb colorscale_rgb(const ColorScale *cs, double v);
// Each value of m[rows, cols] as a cell x cell square, row 0 at the top, from (x, y).
void heatmap_draw(Image *im, int x, int y, const float *m, int rows, int cols, int cell, const ColorScale *cs);
// A vertical bar, hi at the top, with ticks and an optional label beside it.
void colorbar_draw(Image *im, int x, int y, int w, int h, const ColorScale *cs, const char *label);

// A heatmap on axes: m[rows, cols] drawn cell x cell from (x, y), with ticks in data units:
// columns span [x0, x1) left to right, rows [y0, y1) top to bottom. Labels may be NULL.
void heatmap_axes_draw(Image *im, int x, int y, const float *m, int rows, int cols, int cell, const ColorScale *cs,
                       double x0, double x1, double y0, double y1, const char *xlabel, const char *ylabel,
                       int n_ticks);

#endif
