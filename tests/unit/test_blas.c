/* test_blas.c: the backend's GEMM (all four transpose cases, with alpha,
 * beta and leading dimensions) against naive loops, the row kernels, and
 * im2col / col2im against their definitions for every small geometry. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/backend.h"
#include "nn/rng.h"
#include "testutil.h"

static void fill(float *x, size_t n, nn_rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = nn_rng_normal(r);
}

static void check_gemm(bool ta, bool tb, int m, int n, int k, float alpha, float beta) {
    const nn_backend *be = nn_backend_cpu();
    nn_rng r;
    nn_rng_seed(&r, 1, (uint64_t)(m * 1000 + n * 10 + k));
    int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 3; /* padded rows */
    int arows = ta ? k : m, brows = tb ? n : k;
    float *a = malloc(sizeof(float) * arows * lda), *b = malloc(sizeof(float) * brows * ldb);
    float *c = malloc(sizeof(float) * m * ldc), *want = malloc(sizeof(float) * m * ldc);
    fill(a, (size_t)arows * lda, &r);
    fill(b, (size_t)brows * ldb, &r);
    fill(c, (size_t)m * ldc, &r);
    for (int i = 0; i < m * ldc; i++) want[i] = c[i];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                float av = ta ? a[p * lda + i] : a[i * lda + p];
                float bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += (double)av * bv;
            }
            want[i * ldc + j] = (float)(alpha * s + beta * c[i * ldc + j]);
        }
    be->gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    double worst = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < ldc; j++) {
            double e = fabs(c[i * ldc + j] - want[i * ldc + j]);
            if (j >= n) CU_ASSERT_EQUAL(c[i * ldc + j], want[i * ldc + j]); /* padding untouched */
            if (e > worst) worst = e;
        }
    CU_ASSERT(worst < 1e-4 * sqrt((double)k) + 1e-5);
    free(a), free(b), free(c), free(want);
}

static void test_gemm_nn(void) { check_gemm(false, false, 7, 5, 9, 1.0f, 0.0f); }
static void test_gemm_tn(void) { check_gemm(true, false, 6, 8, 11, 0.5f, 1.0f); }
static void test_gemm_nt(void) { check_gemm(false, true, 13, 4, 3, 2.0f, -1.0f); }
static void test_gemm_tt(void) { check_gemm(true, true, 5, 5, 5, 1.0f, 0.25f); }
static void test_gemm_large(void) { check_gemm(false, false, 100, 100, 784, 1.0f, 0.0f); }

static void test_row_kernels(void) {
    const nn_backend *be = nn_backend_cpu();
    float y[6] = {1, 2, 3, 4, 5, 6}, bias[3] = {10, 20, 30}, acc[3] = {1, 1, 1};
    be->add_row_bias(2, 3, bias, y);
    float want[6] = {11, 22, 33, 14, 25, 36};
    for (int i = 0; i < 6; i++) CU_ASSERT_EQUAL(y[i], want[i]);
    be->sum_rows(2, 3, y, acc);
    CU_ASSERT_EQUAL(acc[0], 26);
    CU_ASSERT_EQUAL(acc[1], 48);
    CU_ASSERT_EQUAL(acc[2], 70);
    float x[4] = {-2, 0, 0.5f, 40}, s[4];
    be->act_forward(NN_ACT_SIGMOID, 0.0f, 4, x, s);
    for (int i = 0; i < 4; i++) CU_ASSERT_DOUBLE_EQUAL(s[i], 1.0 / (1.0 + exp(-x[i])), 1e-6);
    be->act_forward(NN_ACT_RELU, 0.0f, 4, x, s);
    CU_ASSERT_EQUAL(s[0], 0);
    CU_ASSERT_EQUAL(s[3], 40);
    /* leaky_relu's slope is the alpha argument, in both directions. */
    float dy[4] = {1, 2, 3, 4}, dx[4];
    be->act_forward(NN_ACT_LEAKY_RELU, 0.2f, 4, x, s);
    CU_ASSERT_DOUBLE_EQUAL(s[0], -0.4, 1e-7);
    CU_ASSERT_EQUAL(s[3], 40);
    be->act_backward(NN_ACT_LEAKY_RELU, 0.2f, 4, x, s, dy, dx);
    CU_ASSERT_DOUBLE_EQUAL(dx[0], 0.2, 1e-7);
    CU_ASSERT_EQUAL(dx[3], 4);
    be->act_forward(NN_ACT_LEAKY_RELU, 0.05f, 4, x, s);
    CU_ASSERT_DOUBLE_EQUAL(s[0], -0.1, 1e-7);
    be->act_backward(NN_ACT_LEAKY_RELU, 0.05f, 4, x, s, dy, dx);
    CU_ASSERT_DOUBLE_EQUAL(dx[0], 0.05, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(dx[2], 3, 1e-7);
}

/* gelu against the erf form in double: y = x Phi(x), dx = dy (Phi(x) + x phi(x)),
 * over [-12, 12] (both tails, zero, and the polynomial's whole range). The
 * backward reads x; y is passed as garbage to show it is not used. */
static void test_gelu_kernel(void) {
    const nn_backend *be = nn_backend_cpu();
    enum { N = 2401 };
    static float x[N], y[N], dy[N], dx[N], junk[N];
    for (int i = 0; i < N; i++) {
        x[i] = -12.0f + 0.01f * (float)i;
        dy[i] = 1.0f + 0.001f * (float)(i % 7);
        junk[i] = NAN;
    }
    be->act_forward(NN_ACT_GELU, 0.0f, N, x, y);
    be->act_backward(NN_ACT_GELU, 0.0f, N, x, junk, dy, dx);
    double worst_y = 0, worst_dx = 0;
    for (int i = 0; i < N; i++) {
        double v = x[i], cdf = 0.5 * (1.0 + erf(v / sqrt(2.0)));
        double pdf = exp(-0.5 * v * v) / sqrt(2.0 * M_PI);
        worst_y = fmax(worst_y, fabs(y[i] - v * cdf));
        worst_dx = fmax(worst_dx, fabs(dx[i] - dy[i] * (cdf + v * pdf)));
    }
    CU_ASSERT(worst_y < 2e-6);  /* 1.5e-7 of erf times |x| <= 12, plus rounding */
    CU_ASSERT(worst_dx < 2e-6);
    CU_ASSERT_EQUAL(y[1200], 0.0f); /* x = 0 */
    CU_ASSERT_DOUBLE_EQUAL(y[1300], 0.8413447 * 1.0, 1e-6); /* x = 1: Phi(1) */
}

/* add_transposed: c(rows, cols) += a(cols, rows)^T, for shapes around its
 * 16 x 16 tiles (partial tiles at both edges, one row, one column). */
static void test_add_transposed(void) {
    const nn_backend *be = nn_backend_cpu();
    static const int dims[][2] = {{1, 1}, {1, 37}, {37, 1}, {16, 16}, {17, 33}, {64, 288}, {50, 3}};
    int bad = 0;
    for (size_t t = 0; t < sizeof dims / sizeof *dims; t++) {
        const int rows = dims[t][0], cols = dims[t][1];
        const size_t n = (size_t)rows * cols;
        float *a = malloc(n * sizeof(float)), *c = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) a[i] = (float)i, c[i] = 0.5f * (float)i;
        be->add_transposed(rows, cols, a, c);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++) {
                const size_t i = (size_t)r * cols + j;
                bad += c[i] != 0.5f * (float)i + (float)((size_t)j * rows + r);
            }
        free(a), free(c);
    }
    CU_ASSERT_EQUAL(bad, 0);
}

/* im2col of output rows [y0, y1) writes
 * col[(ch*r + ki)*r + kj][col0 + (y - y0)*ow + xo] = x[ch][y*s - p + ki][xo*s - p + kj]
 * (0 outside the input) and touches nothing else of its rows; col2im adds
 * each such entry back to the input position it came from. Every geometry
 * with c in {1, 2}, h, w in 1..6, r in 1..5, s in {1, 2}, p in 0..r and an
 * output of at least 1x1, for all output rows and for a band of them (the
 * middle, conv2d's row bands of a large image): pad=same planes at stride 1
 * take the flat-shift path (src/backend/cpu.c), the others the row-by-row
 * one. */
static void test_im2col_col2im(void) {
    const nn_backend *be = nn_backend_cpu();
    nn_rng rng;
    nn_rng_seed(&rng, 5, 5);
    float x[2 * 6 * 6], dx[2 * 6 * 6];
    double want_dx[2 * 6 * 6];
    float *col = malloc(sizeof(float) * 2 * 25 * (16 * 16 + 5)); /* oh, ow <= 6 + 2*5 */
    int cases = 0, bands = 0, bad = 0;
    for (int c = 1; c <= 2; c++)
        for (int h = 1; h <= 6; h++)
            for (int w = 1; w <= 6; w++)
                for (int r = 1; r <= 5; r++)
                    for (int s = 1; s <= 2; s++)
                        for (int p = 0; p <= r; p++)
                            for (int band = 0; band < 2; band++) {
                                if (h + 2 * p < r || w + 2 * p < r) continue;
                                const int oh = (h + 2 * p - r) / s + 1, ow = (w + 2 * p - r) / s + 1;
                                const int y0 = band ? oh / 3 : 0, y1 = band ? oh - oh / 4 : oh;
                                if (band && (y0 == 0 && y1 == oh)) continue; /* no inner band */
                                const size_t col0 = 2, n = (size_t)(y1 - y0) * ow, ldc = n + 5;
                                const int rows = c * r * r;
                                fill(x, (size_t)c * h * w, &rng);
                                for (size_t i = 0; i < rows * ldc; i++) col[i] = -777.0f;
                                be->im2col(x, c, h, w, r, s, p, oh, ow, y0, y1, col, ldc, col0);
                                memset(want_dx, 0, sizeof want_dx);
                                for (int ch = 0; ch < c; ch++)
                                    for (int ki = 0; ki < r; ki++)
                                        for (int kj = 0; kj < r; kj++) {
                                            const float *row = col + (size_t)((ch * r + ki) * r + kj) * ldc;
                                            for (size_t j = 0; j < ldc; j++) {
                                                const size_t q = j - col0;
                                                float want = -777.0f;
                                                if (j >= col0 && q < n) {
                                                    int iy = (y0 + (int)(q / ow)) * s - p + ki,
                                                        ix = (int)(q % ow) * s - p + kj;
                                                    bool in = iy >= 0 && iy < h && ix >= 0 && ix < w;
                                                    want = in ? x[(ch * h + iy) * w + ix] : 0.0f;
                                                    if (in) want_dx[(ch * h + iy) * w + ix] += row[j];
                                                }
                                                bad += row[j] != want;
                                            }
                                        }
                                memset(dx, 0, sizeof dx);
                                be->col2im(col, ldc, col0, c, h, w, r, s, p, oh, ow, y0, y1, dx);
                                for (int i = 0; i < c * h * w; i++)
                                    bad += fabs(dx[i] - want_dx[i]) > 1e-5 * (1 + fabs(want_dx[i]));
                                cases++, bands += band;
                            }
    CU_ASSERT(cases > 1000);
    CU_ASSERT(bands > 500);
    CU_ASSERT_EQUAL(bad, 0);
    free(col);
}

/* The kernel-row lowering (stride 1): im2col_kw writes
 * col[ch*r + kj][yy*ow + xo] = x[ch][yy - p][xo + kj - p] (0 outside) for
 * yy in [0, oh + r - 1) and nothing past its rows; col2im_kw adds each entry
 * back where it came from; kern_kw and add_kern_kw permute a kernel and add
 * transposed per-kernel-row gradients. Every stride-1 geometry with c in
 * {1, 2}, h, w in 1..6, r in 1..5, p in 0..r: pad=same planes take the
 * flat-shift path, the others the row-by-row one. */
static void test_im2col_kw(void) {
    const nn_backend *be = nn_backend_cpu();
    nn_rng rng;
    nn_rng_seed(&rng, 6, 6);
    float x[2 * 6 * 6], dx[2 * 6 * 6];
    double want_dx[2 * 6 * 6];
    float *col = malloc(sizeof(float) * 2 * 5 * (20 * 16 + 3)); /* oh + r - 1 <= 20, ow <= 16 */
    int cases = 0, bad = 0;
    for (int c = 1; c <= 2; c++)
        for (int h = 1; h <= 6; h++)
            for (int w = 1; w <= 6; w++)
                for (int r = 1; r <= 5; r++)
                    for (int p = 0; p <= r; p++) {
                        if (h + 2 * p < r || w + 2 * p < r) continue;
                        const int oh = h + 2 * p - r + 1, ow = w + 2 * p - r + 1;
                        const size_t len = (size_t)(oh + r - 1) * ow, rows = (size_t)c * r;
                        fill(x, (size_t)c * h * w, &rng);
                        for (size_t i = 0; i < rows * len + 3; i++) col[i] = -777.0f;
                        be->im2col_kw(x, c, h, w, r, p, oh, ow, col);
                        memset(want_dx, 0, sizeof want_dx);
                        for (int ch = 0; ch < c; ch++)
                            for (int kj = 0; kj < r; kj++)
                                for (size_t j = 0; j < len; j++) {
                                    const float v = col[(ch * r + kj) * len + j];
                                    const int iy = (int)(j / ow) - p, ix = (int)(j % ow) + kj - p;
                                    const bool in = iy >= 0 && iy < h && ix >= 0 && ix < w;
                                    bad += v != (in ? x[(ch * h + iy) * w + ix] : 0.0f);
                                    if (in) want_dx[(ch * h + iy) * w + ix] += v;
                                }
                        for (size_t i = rows * len; i < rows * len + 3; i++) bad += col[i] != -777.0f;
                        for (int i = 0; i < c * h * w; i++) dx[i] = 0.5f, want_dx[i] += 0.5;
                        be->col2im_kw(col, c, h, w, r, p, oh, ow, dx);
                        for (int i = 0; i < c * h * w; i++)
                            bad += fabs(dx[i] - want_dx[i]) > 1e-5 * (1 + fabs(want_dx[i]));
                        cases++;
                    }
    CU_ASSERT(cases > 300);
    /* kern_kw, then add_kern_kw of the permuted kernel read as gradients:
     * kw[ki][k][ch*r + kj] = kern[k][ch][ki][kj]; dkern += dkwt with
     * dkwt[ki][ch*r + kj][k] = kern[k][ch][ki][kj] doubles kern. */
    enum { K = 3, C = 2, R = 3 };
    float kern[K * C * R * R], kw[K * C * R * R], dkwt[K * C * R * R], dk[K * C * R * R];
    fill(kern, K * C * R * R, &rng);
    be->kern_kw(K, C, R, kern, kw);
    for (int k = 0; k < K; k++)
        for (int ch = 0; ch < C; ch++)
            for (int ki = 0; ki < R; ki++)
                for (int kj = 0; kj < R; kj++) {
                    const float v = kern[((k * C + ch) * R + ki) * R + kj];
                    bad += kw[((ki * K + k) * C + ch) * R + kj] != v;
                    dkwt[((ki * C + ch) * R + kj) * K + k] = v;
                }
    memcpy(dk, kern, sizeof dk);
    be->add_kern_kw(K, C, R, dkwt, dk);
    for (int i = 0; i < K * C * R * R; i++) bad += dk[i] != 2.0f * kern[i];
    CU_ASSERT_EQUAL(bad, 0);
    free(col);
}

void register_blas_tests(void) {
    CU_pSuite s = CU_add_suite("backend", NULL, NULL);
    CU_add_test(s, "gemm NN vs naive", test_gemm_nn);
    CU_add_test(s, "gelu forward and backward vs erf", test_gelu_kernel);
    CU_add_test(s, "gemm TN vs naive", test_gemm_tn);
    CU_add_test(s, "gemm NT vs naive", test_gemm_nt);
    CU_add_test(s, "gemm TT vs naive", test_gemm_tt);
    CU_add_test(s, "gemm 100x100x784 vs naive", test_gemm_large);
    CU_add_test(s, "bias, row sums, activations", test_row_kernels);
    CU_add_test(s, "add_transposed vs its definition, tile edges", test_add_transposed);
    CU_add_test(s, "im2col and col2im vs their definitions, every small geometry",
                test_im2col_col2im);
    CU_add_test(s, "kernel-row lowering (im2col_kw, col2im_kw, kernel permutations) vs definitions",
                test_im2col_kw);
}
