// image.h: an RGB canvas with the few drawing primitives the figures need, written to and read
// from PNG with libpng's simplified API.
#ifndef IMAGE_H
#define IMAGE_H

#include "error.h"

typedef struct {
    unsigned char r, g, b;
} Rgb;

#define RGB_WHITE ((Rgb){255, 255, 255})
#define RGB_BLACK ((Rgb){0, 0, 0})
#define RGB_GREY ((Rgb){200, 200, 200})

typedef struct {
    int w, h;
    unsigned char *px; // [h, w, 3] rows top to bottom
} Image;

int image_init(Image *im, int w, int h, Rgb fill, Error *err);
void image_free(Image *im);
// Pixels outside the image are silently clipped, so callers can draw near the edges.
void image_set(Image *im, int x, int y, Rgb c);
Rgb image_get(const Image *im, int x, int y);
void image_fill_rect(Image *im, int x0, int y0, int w, int h, Rgb c);
void image_rect_outline(Image *im, int x0, int y0, int w, int h, Rgb c);
// A straight line `width` pixels thick; dashed when dash > 0 (dash pixels on, dash off).
void image_line(Image *im, double x0, double y0, double x1, double y1, int width, int dash, Rgb c);
int image_write_png(const Image *im, const char *path, Error *err);
// Reads any PNG as 8-bit RGB (alpha composited on black by libpng).
int image_read_png(Image *im, const char *path, Error *err);

#endif
