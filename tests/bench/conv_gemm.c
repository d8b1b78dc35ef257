/* tests/bench/conv_gemm.c: the GEMMs a network's 3x3 convolutions make, as
 * src/layers/conv2d.c makes them (by kernel rows, image by image, or from
 * im2col chunks of g images whose columns fit its 2 MB budget), timed
 * alone with OpenBLAS: the rate the convolutions would reach if the
 * lowering, its adjoint, the bias and layout copies cost nothing.
 * Set against a training's measured rate it splits the gap to the sgemm
 * ceiling into "GEMM shapes" and "everything else".
 *
 *   cc -O2 tests/bench/conv_gemm.c -o conv_gemm -lopenblas
 *   OPENBLAS_NUM_THREADS=1 ./conv_gemm N C,H,K [C,H,K ...]
 *
 * N: images per rank and step; each C,H,K: a 3x3 'same' conv of C input
 * channels on H x H to K filters. Per conv: forward Y = W col (or, with
 * fewer than 48 filters over 128+ rows, Y^T = col^T W^T), weight gradient dW^T += col dY^T,
 * input gradient dcol = W^T dY (the first conv of a net has no input
 * gradient: give its C negative); or, where conv2d lowers by kernel rows
 * (planes of 64+ outputs, 3+ channels), the same three per image and kernel
 * row at depth 3C; the forms conv2d does not use are printed too, marked. Prints each GEMM's GFLOP/s and the FLOP-weighted total of the
 * ones used. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Seconds per call of C(m,n) = op(A) op(B), best of 5 batches of calls. */
static double time_gemm(int ta, int tb, int m, int n, int k, float beta, int pa, int pb, int pc) {
    /* pa, pb, pc: extra floats per row of A, B, C (the kernel-row lowering's
     * views have rows (OH+R-1)*OW apart, not OH*OW) */
    const int lda = (ta ? m : k) + pa, ldb = (tb ? k : n) + pb, ldc = n + pc;
    const size_t arows = ta ? (size_t)k : (size_t)m, brows = tb ? (size_t)n : (size_t)k;
    float *a = malloc(sizeof(float) * arows * lda), *b = malloc(sizeof(float) * brows * ldb),
          *c = calloc((size_t)m * ldc, sizeof(float));
    if (!a || !b || !c) exit(1);
    for (size_t i = 0; i < arows * lda; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < brows * ldb; i++) b[i] = (float)(i % 5) * 0.1f;
    const double fl = 2.0 * m * n * k;
    const int reps = (int)(2e9 / fl) + 1;
    double best = 1e30;
    for (int t = 0; t < 5; t++) {
        double t0 = now();
        for (int r = 0; r < reps; r++)
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                        tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, beta, c,
                        ldc);
        double d = (now() - t0) / reps;
        if (d < best) best = d;
    }
    free(a), free(b), free(c);
    return best;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s N C,H,K [C,H,K ...]\n", argv[0]);
        return 2;
    }
    const int n = atoi(argv[1]);
    double flops = 0, secs = 0;
    printf("%-14s %-8s %6s %7s %6s %9s\n", "conv C,H,K", "gemm", "m", "n", "k", "GFLOP/s");
    for (int i = 2; i < argc; i++) {
        int c, h, kf;
        if (sscanf(argv[i], "%d,%d,%d", &c, &h, &kf) != 3) return 2;
        const int first = c < 0;
        if (first) c = -c;
        const int crr = c * 9, ohw = h * h;
        int g = (int)((2048u * 1024u) / ((size_t)crr * ohw * sizeof(float)));
        if (g < 1) g = 1;
        if (g > n) g = n;
        const int np = g * ohw, chunks = (n + g - 1) / g;
        /* The products conv2d makes (used = 1) and the forms it does not
         * (used = 0, printed for comparison, not counted in the total).
         * Planes of 64+ outputs with 3+ input channels take the kernel-row
         * lowering: per image and kernel row, W_ki (K, 3C) times a view of
         * rows (H+2)*H apart, dW_ki^T = view dY^T, dcol view = W_ki^T dY.
         * Otherwise im2col: forward transposed below 48 filters over 128+
         * column rows, the weight gradient always transposed. */
        const int kw = ohw >= 64 && 3 * c >= 8, pad = 2 * h;
        const int fwd_t = kf < 48 && crr >= 128;
        struct { const char *name; int ta, tb, m, nn, k; float beta; int used, pa, pb, pc, calls; } gm[8] = {
            {"forward", 0, 0, kf, np, crr, 0.0f, !kw && !fwd_t, 0, 0, 0, chunks},
            {"fwd^T", 1, 1, np, kf, crr, 0.0f, !kw && fwd_t, 0, 0, 0, chunks},
            {"dW", 0, 1, kf, crr, np, 1.0f, 0, 0, 0, 0, chunks},
            {"dW^T", 0, 1, crr, kf, np, 1.0f, !kw, 0, 0, 0, chunks},
            {"kw fwd", 0, 0, kf, ohw, 3 * c, 1.0f, kw, 0, pad, 0, 3 * n},
            {"kw dW^T", 0, 1, 3 * c, kf, ohw, 1.0f, kw, pad, 0, 0, 3 * n},
            {"dcol", 1, 0, crr, np, kf, 0.0f, !kw, 0, 0, 0, chunks},
            {"kw dcol", 1, 0, 3 * c, ohw, kf, 1.0f, kw, 0, 0, pad, 3 * n},
        };
        for (int j = 0; j < 8; j++) {
            if (first && (j == 6 || j == 7)) continue; /* no input gradient */
            const double s = time_gemm(gm[j].ta, gm[j].tb, gm[j].m, gm[j].nn, gm[j].k, gm[j].beta,
                                       gm[j].pa, gm[j].pb, gm[j].pc);
            const double f = 2.0 * gm[j].m * gm[j].nn * gm[j].k;
            printf("%4d,%3d,%4d  %-8s %6d %7d %6d %9.1f%s\n", c, h, kf, gm[j].name, gm[j].m,
                   gm[j].nn, gm[j].k, f / s / 1e9, gm[j].used ? "" : "  (not used)");
            if (gm[j].used) flops += f * gm[j].calls, secs += s * gm[j].calls;
        }
    }
    printf("all convolution GEMMs of a step (%d images): %.1f GFLOP/s, %.2f ms\n", n,
           flops / secs / 1e9, secs * 1e3);
    return 0;
}
