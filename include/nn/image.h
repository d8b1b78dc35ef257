/* image.h: writing images: a grid of samples as one PNG (libpng), for GAN
 * samples and for looking at data. Written atomically (temp + rename). */
#ifndef NN_IMAGE_H
#define NN_IMAGE_H

#include "nn/layer.h"

/* x: (n, C, H, W) floats, C = 1 (grey) or 3 (RGB), mapped from [lo, hi] to
 * 0..255 (clamped). Laid out `cols` images a row, with a 2-pixel border. */
int nn_png_write_grid(const char *path, const float *x, int n, nn_shape s, int cols, float lo,
                      float hi);

#endif
