// image.c: the canvas, and PNG files through libpng's simplified API (png_image), which handles
// the colour types, bit depths and interlacing a hand-rolled reader would have to.
#include "image.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int image_init(Image *im, int w, int h, Rgb fill, Error *err) {
    memset(im, 0, sizeof *im);
    if (w <= 0 || h <= 0 || w > 16384 || h > 16384) return err_set(err, "image size %dx%d out of range", w, h);
    im->px = malloc((size_t)w * h * 3);
    if (!im->px) return err_set(err, "out of memory for a %dx%d image", w, h);
    im->w = w;
    im->h = h;
    image_fill_rect(im, 0, 0, w, h, fill);
    return 0;
}

void image_free(Image *im) {
    free(im->px);
    memset(im, 0, sizeof *im);
}

void image_set(Image *im, int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= im->w || y >= im->h) return;
    unsigned char *p = im->px + ((size_t)y * im->w + x) * 3;
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
}

Rgb image_get(const Image *im, int x, int y) {
    if (x < 0 || y < 0 || x >= im->w || y >= im->h) return RGB_BLACK;
    const unsigned char *p = im->px + ((size_t)y * im->w + x) * 3;
    return (Rgb){p[0], p[1], p[2]};
}

void image_fill_rect(Image *im, int x0, int y0, int w, int h, Rgb c) {
    for (int y = y0 < 0 ? 0 : y0; y < y0 + h && y < im->h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x0 + w && x < im->w; x++) image_set(im, x, y, c);
}

void image_rect_outline(Image *im, int x0, int y0, int w, int h, Rgb c) {
    image_fill_rect(im, x0, y0, w, 1, c);
    image_fill_rect(im, x0, y0 + h - 1, w, 1, c);
    image_fill_rect(im, x0, y0, 1, h, c);
    image_fill_rect(im, x0 + w - 1, y0, 1, h, c);
}

void image_line(Image *im, double x0, double y0, double x1, double y1, int width, int dash, Rgb c) {
    // Step one pixel at a time along the longer axis and stamp a width x width square: thick
    // lines without gaps at any slope, which is all a chart needs.
    double dx = x1 - x0, dy = y1 - y0, len = fmax(fabs(dx), fabs(dy));
    int n = (int)ceil(len), r0 = -(width - 1) / 2, r1 = width / 2;
    if (!(len < 1e6)) return; // NaN or absurd coordinates: draw nothing
    for (int i = 0; i <= n; i++) {
        if (dash > 0 && (i / dash) % 2) continue;
        double t = n ? (double)i / n : 0;
        int x = (int)lround(x0 + t * dx), y = (int)lround(y0 + t * dy);
        for (int a = r0; a <= r1; a++)
            for (int b = r0; b <= r1; b++) image_set(im, x + a, y + b, c);
    }
}

int image_write_png(const Image *im, const char *path, Error *err) {
    png_image p;
    memset(&p, 0, sizeof p);
    p.version = PNG_IMAGE_VERSION;
    p.width = (png_uint_32)im->w;
    p.height = (png_uint_32)im->h;
    p.format = PNG_FORMAT_RGB;
    // our own FILE, not png_image_write_to_file: on a failed write that one remove()s the path,
    // which, run as root with --out /dev/full, deletes the device
    FILE *f = fopen(path, "wb");
    if (!f) return err_set(err, "%s: cannot write PNG (%s)", path, strerror(errno));
    int ok = png_image_write_to_stdio(&p, f, 0, im->px, im->w * 3, NULL);
    int flushed = fflush(f) == 0 && !ferror(f);
    int why = errno;
    struct stat st;
    if (fclose(f) != 0) flushed = 0;
    if (ok && flushed) return 0;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) remove(path); // no half-written PNG left behind
    return err_set(err, "%s: cannot write PNG (%s)", path, ok ? strerror(why) : p.message);
}

int image_read_png(Image *im, const char *path, Error *err) {
    memset(im, 0, sizeof *im);
    png_image p;
    memset(&p, 0, sizeof p);
    p.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&p, path)) return err_set(err, "%s: not a readable PNG (%s)", path, p.message);
    p.format = PNG_FORMAT_RGB;
    if (p.width > 16384 || p.height > 16384) {
        png_image_free(&p);
        return err_set(err, "%s: PNG of %ux%u is too large", path, p.width, p.height);
    }
    if (image_init(im, (int)p.width, (int)p.height, RGB_BLACK, err)) {
        png_image_free(&p);
        return -1;
    }
    if (!png_image_finish_read(&p, NULL, im->px, im->w * 3, NULL)) {
        image_free(im);
        return err_set(err, "%s: cannot decode PNG (%s)", path, p.message);
    }
    return 0;
}
