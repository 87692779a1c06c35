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

// An attention map with its first keys magnified. Position 0 takes one pixel column of a map of
// hundreds of keys, so a head that puts all its attention there looks empty; here the first
// keys also get a strip of their own, each key first_cell pixels wide, in a frame left of the
// map (an axis broken after key n_first-1), with a white gap inside every frame.
typedef struct {
    const float *map;           // [rows, cols], cell x cell pixels each
    int rows, cols, cell;
    const float *first;         // [rows, n_first]: attention on keys 0..n_first-1, each alone
    int n_first, first_cell;
    double x0, x1, y0, y1;      // data units of the map's columns and rows, as heatmap_axes_draw
    const char *xlabel, *ylabel; // may be NULL; with an xlabel the strip says "keys 0-3"
    int n_ticks;
} KeyMap;

#define KEYMAP_PAD 2 // white pixels inside each frame
#define KEYMAP_GAP 6 // white pixels between the strip's frame and the map's

// x of the map's first column when the strip's first column is at x.
int keymap_map_x(const KeyMap *k, int x);
// Draws it with the strip's top-left data pixel at (x, y); returns the width used right of x,
// up to and including the map's frame.
int keymap_draw(Image *im, int x, int y, const KeyMap *k, const ColorScale *cs);

#endif
