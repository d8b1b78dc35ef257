/* cpu.c: the CPU backend. GEMM goes to OpenBLAS; the elementwise kernels are
 * branch-free loops over restrict pointers that gcc vectorises, compiled for
 * AVX-512, AVX2 and baseline x86-64 with the best picked at load time
 * (target_clones), so one binary runs everywhere and fast where it can. */
#include "nn/backend.h"
#include "nn/hot.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>


/* exp(x) for float, vectorisable: x = n ln2 + r, |r| <= ln2/2, exp(r) by a
 * degree-6 polynomial (Cephes' coefficients), 2^n by building the exponent.
 * Max relative error ~2 ulp on [-87, 88]; clamped outside. */
static inline float vexpf(float x) {
    /* Ternaries, not fminf/fmaxf: those keep NaN semantics and become calls. */
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &e, sizeof scale);
    return p * scale;
}

static void cpu_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

NN_HOT static void cpu_add_row_bias(int rows, int cols, const float *restrict bias,
                                    float *restrict y) {
    for (int r = 0; r < rows; r++) {
        float *yr = y + (size_t)r * cols;
        for (int j = 0; j < cols; j++) yr[j] += bias[j];
    }
}

NN_HOT static void cpu_sum_rows(int rows, int cols, const float *restrict x,
                                float *restrict acc) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * cols;
        for (int j = 0; j < cols; j++) acc[j] += xr[j];
    }
}

NN_HOT static void sigmoid_fwd(size_t n, const float *restrict x, float *restrict y) {
    for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + vexpf(-x[i]));
}

NN_HOT static void relu_fwd(size_t n, const float *restrict x, float *restrict y) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

NN_HOT static void leaky_fwd(size_t n, float alpha, const float *restrict x, float *restrict y) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : alpha * x[i];
}

NN_HOT static void tanh_fwd(size_t n, const float *restrict x, float *restrict y) {
    /* tanh(x) = 2 sigmoid(2x) - 1 */
    for (size_t i = 0; i < n; i++) y[i] = 2.0f / (1.0f + vexpf(-2.0f * x[i])) - 1.0f;
}

static void cpu_act_forward(nn_act act, float alpha, size_t n, const float *x, float *y) {
    switch (act) {
    case NN_ACT_SIGMOID: sigmoid_fwd(n, x, y); break;
    case NN_ACT_RELU: relu_fwd(n, x, y); break;
    case NN_ACT_TANH: tanh_fwd(n, x, y); break;
    case NN_ACT_LEAKY_RELU: leaky_fwd(n, alpha, x, y); break;
    case NN_ACT_COUNT: break;
    }
}

NN_HOT static void act_bwd(nn_act act, float alpha, size_t n, const float *restrict y,
                           const float *restrict dy, float *restrict dx) {
    switch (act) {
    case NN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    case NN_ACT_RELU:
        for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case NN_ACT_TANH:
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    case NN_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : alpha * dy[i];
        break;
    case NN_ACT_COUNT:
        break;
    }
}

static void cpu_act_backward(nn_act act, float alpha, size_t n, const float *y, const float *dy,
                             float *dx) {
    act_bwd(act, alpha, n, y, dy, dx);
}

/* Output columns [lo, hi) of a row read inside the input for filter column
 * kj; the rest read padding. */
static inline void valid_range(int ow, int s, int p, int kj, int w, int *lo, int *hi) {
    int a = p - kj, b = w + p - kj; /* need 0 <= xo*s - p + kj < w */
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    *hi = b <= 0 ? 0 : (b + s - 1) / s;
    if (*hi > ow) *hi = ow;
    if (*lo > *hi) *lo = *hi;
}

NN_HOT static void cpu_im2col(const float *restrict x, int c, int h, int w, int r, int s, int p,
                              int oh, int ow, float *restrict col, size_t ldc, size_t col0) {
    for (int ch = 0; ch < c; ch++)
        for (int ki = 0; ki < r; ki++)
            for (int kj = 0; kj < r; kj++) {
                float *row = col + ((size_t)(ch * r + ki) * r + kj) * ldc + col0;
                const float *xc = x + (size_t)ch * h * w;
                int lo, hi;
                valid_range(ow, s, p, kj, w, &lo, &hi);
                for (int y = 0; y < oh; y++) {
                    int iy = y * s - p + ki;
                    float *out = row + (size_t)y * ow;
                    if (iy < 0 || iy >= h) {
                        memset(out, 0, (size_t)ow * sizeof(float));
                        continue;
                    }
                    const float *in = xc + (size_t)iy * w;
                    const int off = kj - p; /* input column = xo * s + off */
                    for (int xo = 0; xo < lo; xo++) out[xo] = 0.0f;
                    if (s == 1 && hi > lo)
                        memcpy(out + lo, in + lo + off, (size_t)(hi - lo) * sizeof(float));
                    else
                        for (int xo = lo; xo < hi; xo++) out[xo] = in[xo * s + off];
                    for (int xo = hi; xo < ow; xo++) out[xo] = 0.0f;
                }
            }
}

NN_HOT static void cpu_col2im(const float *restrict col, size_t ldc, size_t col0, int c, int h,
                              int w, int r, int s, int p, int oh, int ow, float *restrict dx) {
    for (int ch = 0; ch < c; ch++)
        for (int ki = 0; ki < r; ki++)
            for (int kj = 0; kj < r; kj++) {
                const float *row = col + ((size_t)(ch * r + ki) * r + kj) * ldc + col0;
                float *dc = dx + (size_t)ch * h * w;
                int lo, hi;
                valid_range(ow, s, p, kj, w, &lo, &hi);
                for (int y = 0; y < oh; y++) {
                    int iy = y * s - p + ki;
                    if (iy < 0 || iy >= h) continue;
                    const float *in = row + (size_t)y * ow;
                    float *out = dc + (size_t)iy * w;
                    const int off = kj - p;
                    if (s == 1) /* the common case, unit stride: vectorised */
                        for (int xo = lo; xo < hi; xo++) out[xo + off] += in[xo];
                    else
                        for (int xo = lo; xo < hi; xo++) out[xo * s + off] += in[xo];
                }
            }
}

static const nn_backend g_cpu = {
    .name = "cpu",
    .gemm = cpu_gemm,
    .add_row_bias = cpu_add_row_bias,
    .sum_rows = cpu_sum_rows,
    .act_forward = cpu_act_forward,
    .act_backward = cpu_act_backward,
    .im2col = cpu_im2col,
    .col2im = cpu_col2im,
};

const nn_backend *nn_backend_cpu(void) { return &g_cpu; }
