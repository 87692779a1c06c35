// colormap.h: values in [0, 1] to colours.
#ifndef COLORMAP_H
#define COLORMAP_H

#include "image.h"

// t is clamped to [0, 1]; NaN maps to 0.
Rgb colormap_viridis(double t);

#endif
