/* make_faces.c: a face-folder-shaped data set for the streaming benchmarks:
 * DIR/{train,test}/{smile,nonsmile}/NNNNNN.jpg, colour JPEGs of W x H
 * (default 178 x 218, the course's CelebA crops), quality 90, 4:2:0. Each
 * image is a different smooth pattern plus noise (so files differ and decode
 * like photographs, about 8-12 KB each), 28% smiles as in SMILEsmileD.
 *   make_faces DIR N_TRAIN N_TEST [W H]
 * Deterministic: the same arguments give the same bytes. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h> /* after stdio.h: it uses FILE and size_t */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static unsigned next(void) { /* xorshift64* */
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (unsigned)((rng * 2685821657736338717ULL) >> 32);
}

static int mkdir_p(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int write_jpeg(const char *path, int w, int h, const unsigned char *rgb) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 90, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)ci.next_scanline * w * 3);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return fclose(f);
}

static void pattern(unsigned char *rgb, int w, int h, int smile) {
    const float fx = 0.02f + (float)(next() % 100) / 2000.0f, fy = 0.02f + (float)(next() % 100) / 2000.0f;
    const float ph = (float)(next() % 628) / 100.0f;
    const int cx = w / 2, cy = h * 2 / 3;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float v = 128 + 60 * sinf(fx * (float)x + ph) * cosf(fy * (float)y);
            /* a "mouth": a bright arc for smiles, a dark bar otherwise */
            const int dx = x - cx, dy = y - cy;
            if (abs(dx) < w / 5 && abs(dy - (smile ? dx * dx / (w / 3) : 0)) < 3) v = smile ? 240 : 30;
            for (int c = 0; c < 3; c++) {
                int p = (int)v + (int)(next() % 17) - 8 + c * 10;
                rgb[((size_t)y * w + x) * 3 + c] = (unsigned char)(p < 0 ? 0 : p > 255 ? 255 : p);
            }
        }
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: make_faces DIR N_TRAIN N_TEST [W H]\n");
        return 2;
    }
    const long n[2] = {atol(argv[2]), atol(argv[3])};
    const int w = argc == 6 ? atoi(argv[4]) : 178, h = argc == 6 ? atoi(argv[5]) : 218;
    if (n[0] < 1 || n[1] < 1 || w < 8 || h < 8) {
        fprintf(stderr, "make_faces: bad sizes\n");
        return 2;
    }
    unsigned char *rgb = malloc((size_t)w * h * 3);
    static const char *const split[2] = {"train", "test"}, *const cls[2] = {"nonsmile", "smile"};
    char path[4096];
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < 2; c++) {
            snprintf(path, sizeof path, "%s/%s/%s", argv[1], split[s], cls[c]);
            if (mkdir_p(path) != 0) {
                perror(path);
                return 1;
            }
        }
    for (int s = 0; s < 2; s++)
        for (long i = 0; i < n[s]; i++) {
            const int smile = (next() % 100) < 28;
            pattern(rgb, w, h, smile);
            snprintf(path, sizeof path, "%s/%s/%s/%06ld.jpg", argv[1], split[s], cls[smile], i);
            if (write_jpeg(path, w, h, rgb) != 0) {
                perror(path);
                return 1;
            }
        }
    free(rgb);
    return 0;
}
