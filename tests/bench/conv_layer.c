/* tests/bench/conv_layer.c: one 3x3 'same' convolution layer of nntrain
 * (nn_conv_forward / nn_conv_backward, im2col and col2im and every copy
 * included), timed alone on N images: the layer's GFLOP/s to set against
 * conv_gemm.c's (its products alone) and the sgemm rate. A change to
 * src/layers/conv2d.c is measured by building this against both libraries
 * and running them alternately (the VM's speed drifts by 10-20% between
 * minutes, so one pair of runs is not enough).
 *
 *   mpicc -O2 -no-pie -Iinclude -I/usr/include/hdf5/serial tests/bench/conv_layer.c build/libnntrain.a \
 *       -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5 -lopenblas -lz -lm -lpthread -ljpeg \
 *       -lpng -o conv_layer
 *   OPENBLAS_NUM_THREADS=1 ./conv_layer C H K N
 *
 * C input channels on H x H, K filters, N images; best of 12 passes each.
 * "im2col alone": one whole image's columns at a time, N images. */
#include "nn/backend.h"
#include "../../src/layers/conv.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *filled(size_t n, int mod, float scale) {
    float *p = malloc(n * sizeof(float));
    if (!p) exit(1);
    for (size_t i = 0; i < n; i++) p[i] = (float)(i % (size_t)mod) * scale;
    return p;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s C H K N\n", argv[0]);
        return 2;
    }
    const int c = atoi(argv[1]), h = atoi(argv[2]), k = atoi(argv[3]), n = atoi(argv[4]);
    if (c < 1 || h < 1 || k < 1 || n < 1) return 2;
    const nn_conv_geom g = {.in = {c, h, h}, .k = k, .r = 3, .s = 1, .p = 1, .oh = h, .ow = h};
    const nn_backend *be = nn_backend_cpu();
    const size_t in = (size_t)c * h * h, out = (size_t)k * h * h, crr = (size_t)c * 9;
    float *x = filled(in * n, 17, 0.1f), *dy = filled(out * n, 13, 0.1f),
          *w = filled(crr * k, 7, 0.01f), *y = filled(out * n, 1, 0.0f),
          *dx = filled(in * n, 1, 0.0f), *dw = filled(crr * k, 1, 0.0f),
          *scratch = filled(nn_conv_scratch(be, &g, n), 1, 0.0f), *cols = filled(crr * h * h, 1, 0.0f);
    double bf = 1e30, bb = 1e30, bi = 1e30;
    for (int t = 0; t < 12; t++) {
        double t0 = now();
        nn_conv_forward(be, &g, n, w, NULL, x, y, scratch);
        double d = now() - t0;
        if (d < bf) bf = d;
        t0 = now();
        nn_conv_backward(be, &g, n, w, x, dy, dw, NULL, dx, scratch);
        d = now() - t0;
        if (d < bb) bb = d;
        t0 = now();
        for (int i = 0; i < n; i++)
            be->im2col(x + (size_t)i * in, c, h, h, 3, 1, 1, h, h, 0, h, cols, (size_t)h * h, 0);
        d = now() - t0;
        if (d < bi) bi = d;
    }
    const double fl = 2.0 * k * crr * h * h * n;
    printf("c=%d h=%d k=%d n=%d: forward %.2f ms %.1f GFLOP/s, backward %.2f ms %.1f GFLOP/s, "
           "im2col alone %.2f ms\n",
           c, h, k, n, bf * 1e3, fl / bf * 1e-9, bb * 1e3, 2 * fl / bb * 1e-9, bi * 1e3);
    free(x), free(dy), free(w), free(y), free(dx), free(dw), free(scratch), free(cols);
    return 0;
}
