// font.h: a 5x7 bitmap font for printable ASCII, enough for titles, tick labels and legends.
#ifndef PLOT_FONT_H
#define PLOT_FONT_H

#include "image.h"

#define FONT_W 5
#define FONT_H 7
#define FONT_ADVANCE 6 // a column of space between characters

// Width and height in pixels of s drawn at `scale` (each font pixel a scale x scale square).
int text_width(const char *s, int scale);
int text_height(int scale);
// Left-to-right text with its top-left corner at (x, y). Characters outside ASCII 32..126
// are drawn as '?'.
void draw_text(Image *im, int x, int y, const char *s, int scale, Rgb c);
// Text turned 90 degrees anticlockwise (it reads upwards, as a y-axis label does), its
// bounding box's top-left corner at (x, y).
void draw_text_up(Image *im, int x, int y, const char *s, int scale, Rgb c);

#endif
