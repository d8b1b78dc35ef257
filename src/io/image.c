/* image.c: a grid of images as one PNG (see image.h). */
#include "nn/image.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "nn/error.h"
#include "nn/fileutil.h"

/* libpng reports errors by longjmp; keep the message for nn_fail. */
static void png_err(png_structp png, png_const_charp msg) {
    char *keep = png_get_error_ptr(png);
    snprintf(keep, 256, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

int nn_png_write_grid(const char *path, const float *x, int n, nn_shape s, int cols, float lo,
                      float hi) {
    if (n < 1 || cols < 1 || (s.c != 1 && s.c != 3) || !(hi > lo))
        return nn_fail("%s: cannot draw %d images of %dx%dx%d in %d columns", path, n, s.c, s.h,
                       s.w, cols);
    const int pad = 2, rows = (n + cols - 1) / cols;
    const size_t gw = (size_t)cols * (s.w + pad) + pad, gh = (size_t)rows * (s.h + pad) + pad;
    unsigned char *px = nn_calloc(gw * gh * (size_t)s.c, 1, "image grid");
    if (!px) return NN_ERR;
    const float scale = 255.0f / (hi - lo);
    for (int i = 0; i < n; i++) {
        const size_t x0 = (size_t)(i % cols) * (s.w + pad) + pad;
        const size_t y0 = (size_t)(i / cols) * (s.h + pad) + pad;
        const float *img = x + (size_t)i * nn_shape_size(s);
        for (int c = 0; c < s.c; c++)
            for (int yy = 0; yy < s.h; yy++)
                for (int xx = 0; xx < s.w; xx++) {
                    float v = (img[((size_t)c * s.h + yy) * s.w + xx] - lo) * scale + 0.5f;
                    v = v < 0 ? 0 : v > 255 ? 255 : v; /* NaN stays 0 below */
                    px[((y0 + yy) * gw + x0 + xx) * s.c + c] = v == v ? (unsigned char)v : 0;
                }
    }
    char tmp[1100];
    FILE *f = nn_open_temp(path, tmp, sizeof tmp);
    if (!f) {
        free(px);
        return NN_ERR;
    }
    char msg[256] = "";
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, msg, png_err, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rowp = nn_alloc(gh * sizeof *rowp, "image rows");
    int rc = png && info && rowp ? NN_OK : nn_fail("%s: out of memory writing a PNG", path);
    if (rc == NN_OK && setjmp(png_jmpbuf(png)) == 0) {
        png_init_io(png, f);
        png_set_IHDR(png, info, (png_uint_32)gw, (png_uint_32)gh, 8,
                     s.c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        for (size_t r = 0; r < gh; r++) rowp[r] = px + r * gw * (size_t)s.c;
        png_write_info(png, info);
        png_write_image(png, rowp);
        png_write_end(png, NULL);
    } else if (rc == NN_OK) {
        rc = nn_fail("%s: writing the PNG failed (%s)", path, msg);
    }
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    free(rowp);
    free(px);
    if (rc != NN_OK) {
        fclose(f);
        remove(tmp);
        return NN_ERR;
    }
    return nn_commit_temp(f, tmp, path);
}
