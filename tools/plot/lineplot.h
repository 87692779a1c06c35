// lineplot.h: several named series of (x, y) points drawn as lines on shared axes, with a legend.
#ifndef LINEPLOT_H
#define LINEPLOT_H

#include "image.h"

typedef struct {
    const char *name;
    const double *x, *y; // [n] in increasing x; non-finite y (or y <= 0 on a log axis) break the line
    int n;
    const double *lo, *hi; // [n] or NULL: a whisker from lo to hi at each point (the spread of
                           // repeated measurements), capped at both ends
} Series;

typedef struct {
    const char *title, *xlabel, *ylabel;
    int logx, logy;
    double ymin, ymax;      // the y range; both 0: from the data
    double vline;           // a dashed vertical marker at this x; NaN for none
    const char *vline_label;
    const double *xticks;   // [n_xticks] or NULL: ticks at these x values (the sizes measured)
    int n_xticks;
} PlotSpec;

// Half the horizontal offset between series' whiskers at one x, so they do not hide each other.
#define WHISKER_DODGE 3

// The colour of series i: the Okabe-Ito palette, told apart by colour-blind readers too.
Rgb series_colour(int i);
// Draws the plot into the rectangle (x, y, w, h) of the image, margins and title included.
// Fails when no series has a point that can be drawn.
int lineplot_draw(Image *im, int x, int y, int w, int h, const PlotSpec *p, const Series *s, int n_series,
                  Error *err);

#endif
