/* cpu.c: the CPU backend. GEMM goes to OpenBLAS; the elementwise kernels are
 * branch-free loops over restrict pointers that gcc vectorises, compiled for
 * AVX-512, AVX2 and baseline x86-64 with the best picked at load time
 * (target_clones), so one binary runs everywhere and fast where it can. */
#include "nn/backend.h"
#include "nn/hot.h"
#include "nn/loss.h"
#include "nn/rng.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>


/* exp(x) for float, vectorisable: x = n ln2 + r, |r| <= ln2/2, exp(r) by a
 * degree-6 polynomial (Cephes' coefficients), 2^n by building the exponent.
 * Max relative error ~2 ulp on [-87, 88]; clamped outside. NaN in, NaN out:
 * the clamps keep it and r and p carry it; the exponent is built without a
 * float-to-int conversion (of NaN undefined behaviour: UBSan reported the
 * negative value it gave shifted left), bit for bit the same 2^n otherwise. */
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
    /* 2^n without converting n to an integer: n is a whole number in
     * [-126, 127], so 1.5 * 2^23 + 127 + n is exact and its low mantissa bits
     * are n + 127 (1..254), the biased exponent; shifting left by 23 drops the
     * rest (its low 9 bits are 0). NaN gives some bit pattern, defined in
     * unsigned arithmetic, and p is NaN anyway. */
    float biased = n + 12583039.0f; /* 0x1.8p23 + 127 */
    uint32_t e;
    memcpy(&e, &biased, sizeof e);
    e <<= 23;
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

/* In 16 x 16 tiles: a row of the tile reads a column of a, and a tile's
 * 16 columns of a stay in L1 across its rows. */
NN_HOT static void cpu_add_transposed(int rows, int cols, const float *restrict a,
                                      float *restrict c) {
    enum { B = 16 };
    for (int r0 = 0; r0 < rows; r0 += B)
        for (int j0 = 0; j0 < cols; j0 += B) {
            const int r1 = r0 + B < rows ? r0 + B : rows, j1 = j0 + B < cols ? j0 + B : cols;
            for (int r = r0; r < r1; r++)
                for (int j = j0; j < j1; j++) c[(size_t)r * cols + j] += a[(size_t)j * rows + r];
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

/* GELU's two factors at x: the standard normal's cdf Phi(x) and density
 * phi(x). erf by Abramowitz and Stegun 7.1.26 (absolute error <= 1.5e-7),
 * whose exp(-x^2/2) is also phi's, so one vexpf serves both and the loops
 * vectorise (glibc's erff is a call per element: several times the cost of
 * the convolution's own passes on the activations airbench puts GELU on). */
static inline void gelu_parts(float x, float *cdf, float *pdf) {
    const float z = fabsf(x) * 0.70710678118654752f; /* |x| / sqrt 2 */
    const float t = 1.0f / (1.0f + 0.3275911f * z);
    const float poly =
        t * (0.254829592f +
             t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    const float e = vexpf(-z * z);
    const float erf_abs = 1.0f - poly * e;
    *cdf = 0.5f + 0.5f * (x < 0.0f ? -erf_abs : erf_abs);
    *pdf = 0.39894228040143268f * e; /* exp(-x^2/2) / sqrt(2 pi) */
}

/* y = x Phi(x), PyTorch's nn.GELU (the erf form, not the tanh approximation). */
NN_HOT static void gelu_fwd(size_t n, const float *restrict x, float *restrict y) {
    for (size_t i = 0; i < n; i++) {
        float cdf, pdf;
        gelu_parts(x[i], &cdf, &pdf);
        y[i] = x[i] * cdf;
    }
}

/* GELU' = Phi(x) + x phi(x). */
NN_HOT static void gelu_bwd(size_t n, const float *restrict x, const float *restrict dy,
                            float *restrict dx) {
    for (size_t i = 0; i < n; i++) {
        float cdf, pdf;
        gelu_parts(x[i], &cdf, &pdf);
        dx[i] = dy[i] * (cdf + x[i] * pdf);
    }
}

static void cpu_act_forward(nn_act act, float alpha, size_t n, const float *x, float *y) {
    switch (act) {
    case NN_ACT_SIGMOID: sigmoid_fwd(n, x, y); break;
    case NN_ACT_RELU: relu_fwd(n, x, y); break;
    case NN_ACT_TANH: tanh_fwd(n, x, y); break;
    case NN_ACT_LEAKY_RELU: leaky_fwd(n, alpha, x, y); break;
    case NN_ACT_GELU: gelu_fwd(n, x, y); break;
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
    case NN_ACT_GELU: /* from x: cpu_act_backward */
    case NN_ACT_COUNT:
        break;
    }
}

static void cpu_act_backward(nn_act act, float alpha, size_t n, const float *x, const float *y,
                             const float *dy, float *dx) {
    if (act == NN_ACT_GELU)
        gelu_bwd(n, x, dy, dx);
    else
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

/* 'Same' geometry at stride 1 (r = 2p + 1, the output plane is the input
 * plane): the column row of kernel offset (ki, kj) is the whole plane shifted
 * by d = (ki - p) w + (kj - p), so it is built as ONE flat run over the rows
 * that stay inside, then the |kj - p| columns a row wraps into are zeroed.
 * On the small planes of CNNs (4x4 to 32x32) a copy per output row spent its
 * time in per-row overhead: this is 2-6x faster (tests/bench/conv_layer.c's
 * "im2col alone", against the per-row copy). */
static inline bool flat_same(int h, int w, int r, int s, int p, int oh, int ow) {
    return s == 1 && r == 2 * p + 1 && oh == h && ow == w;
}

/* The shift of kernel offset (ki, kj) on a (h, w) plane, for the band of
 * output rows [oy0, oy1): out[j - j0] = in[j + d] for plane positions j in
 * [a, b) (rows that stay inside, clipped so j + d stays in the plane and j in
 * the band [j0, j1) = [oy0 w, oy1 w)), zero elsewhere; the wrapped columns
 * to zero lie in the band's rows [ylo, yhi) (band-relative). */
typedef struct {
    int d, a, b, ylo, yhi;
} flat_shift;

static inline flat_shift flat_shift_of(int h, int w, int p, int ki, int kj, int oy0, int oy1) {
    flat_shift f;
    const int hw = h * w, j0 = oy0 * w, j1 = oy1 * w;
    const int ylo = p - ki > 0 ? p - ki : 0, yhi = h + p - ki < h ? h + p - ki : h;
    f.d = (ki - p) * w + (kj - p);
    f.a = ylo * w > -f.d ? ylo * w : -f.d;
    f.b = yhi * w < hw - f.d ? yhi * w : hw - f.d;
    f.a = f.a < j0 ? j0 : f.a > j1 ? j1 : f.a;
    f.b = f.b > j1 ? j1 : f.b < f.a ? f.a : f.b;
    f.ylo = (ylo > oy0 ? ylo : oy0) - oy0;
    f.yhi = (yhi < oy1 ? yhi : oy1) - oy0;
    return f;
}

/* Zero the columns a shifted row wraps into (xo < p - kj or xo >= w - (kj - p))
 * in the band's rows [f.ylo, f.yhi) of one column-matrix row. */
static inline void zero_wrapped(float *restrict row, int w, int p, int kj, flat_shift f) {
    if (kj == p) return;
    const int x0 = kj < p || kj - p > w ? 0 : w - (kj - p), x1 = kj < p && p - kj < w ? p - kj : w;
    for (int y = f.ylo; y < f.yhi; y++)
        for (int xo = x0; xo < x1; xo++) row[(size_t)y * w + xo] = 0.0f;
}

NN_HOT static void im2col_same(const float *restrict x, int c, int h, int w, int r, int p,
                               int oy0, int oy1, float *restrict col, size_t ldc, size_t col0) {
    const int hw = h * w, j0 = oy0 * w, j1 = oy1 * w;
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * hw;
        for (int ki = 0; ki < r; ki++)
            for (int kj = 0; kj < r; kj++) {
                float *restrict out = col + ((size_t)(ch * r + ki) * r + kj) * ldc + col0;
                const flat_shift f = flat_shift_of(h, w, p, ki, kj, oy0, oy1);
                for (int j = j0; j < f.a; j++) out[j - j0] = 0.0f;
                for (int j = f.a; j < f.b; j++) out[j - j0] = xc[j + f.d];
                for (int j = f.b; j < j1; j++) out[j - j0] = 0.0f;
                zero_wrapped(out, w, p, kj, f);
            }
    }
}

/* The adjoint. The wrapped columns' gradients belong to no input pixel:
 * they are zeroed in col first, so the flat add leaves their targets as
 * they were (x + 0 = x). */
NN_HOT static void col2im_same(float *restrict col, size_t ldc, size_t col0, int c, int h, int w,
                               int r, int p, int oy0, int oy1, float *restrict dx) {
    const int hw = h * w, j0 = oy0 * w;
    for (int ch = 0; ch < c; ch++) {
        float *dc = dx + (size_t)ch * hw;
        for (int ki = 0; ki < r; ki++)
            for (int kj = 0; kj < r; kj++) {
                float *restrict in = col + ((size_t)(ch * r + ki) * r + kj) * ldc + col0;
                const flat_shift f = flat_shift_of(h, w, p, ki, kj, oy0, oy1);
                zero_wrapped(in, w, p, kj, f);
                for (int j = f.a; j < f.b; j++) dc[j + f.d] += in[j - j0];
            }
    }
}

NN_HOT static void cpu_im2col(const float *restrict x, int c, int h, int w, int r, int s, int p,
                              int oh, int ow, int oy0, int oy1, float *restrict col, size_t ldc,
                              size_t col0) {
    if (flat_same(h, w, r, s, p, oh, ow)) {
        im2col_same(x, c, h, w, r, p, oy0, oy1, col, ldc, col0);
        return;
    }
    for (int ch = 0; ch < c; ch++)
        for (int ki = 0; ki < r; ki++)
            for (int kj = 0; kj < r; kj++) {
                float *row = col + ((size_t)(ch * r + ki) * r + kj) * ldc + col0;
                const float *xc = x + (size_t)ch * h * w;
                int lo, hi;
                valid_range(ow, s, p, kj, w, &lo, &hi);
                for (int y = oy0; y < oy1; y++) {
                    int iy = y * s - p + ki;
                    float *out = row + (size_t)(y - oy0) * ow;
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

NN_HOT static void cpu_col2im(float *restrict col, size_t ldc, size_t col0, int c, int h, int w,
                              int r, int s, int p, int oh, int ow, int oy0, int oy1,
                              float *restrict dx) {
    if (flat_same(h, w, r, s, p, oh, ow)) {
        col2im_same(col, ldc, col0, c, h, w, r, p, oy0, oy1, dx);
        return;
    }
    for (int ch = 0; ch < c; ch++)
        for (int ki = 0; ki < r; ki++)
            for (int kj = 0; kj < r; kj++) {
                const float *row = col + ((size_t)(ch * r + ki) * r + kj) * ldc + col0;
                float *dc = dx + (size_t)ch * h * w;
                int lo, hi;
                valid_range(ow, s, p, kj, w, &lo, &hi);
                for (int y = oy0; y < oy1; y++) {
                    int iy = y * s - p + ki;
                    if (iy < 0 || iy >= h) continue;
                    const float *in = row + (size_t)(y - oy0) * ow;
                    float *out = dc + (size_t)iy * w;
                    const int off = kj - p;
                    if (s == 1) /* the common case, unit stride: vectorised */
                        for (int xo = lo; xo < hi; xo++) out[xo + off] += in[xo];
                    else
                        for (int xo = lo; xo < hi; xo++) out[xo * s + off] += in[xo];
                }
            }
}

/* ---- kernel-row lowering (stride 1) ----
 * The columns of a stride-1 convolution for kernel row ki are those of kernel
 * row 0 moved down ki output rows, so ONE lowering of (C, R) rows over all
 * the output rows any kernel row reads (OH + R - 1 of them, the padded input)
 * serves every kernel row as a view ki*OW floats in: R times fewer columns
 * to write and read back than im2col's C*R*R rows (backend.h). */

/* Padded rows [0, oh + r - 1) of lowering row (c, kj): input row yy - p,
 * input column xo + kj - p. */
NN_HOT static void cpu_im2col_kw(const float *restrict x, int c, int h, int w, int r, int p,
                                 int oh, int ow, float *restrict col) {
    const int rows = oh + r - 1;
    const size_t len = (size_t)rows * ow, hw = (size_t)h * w;
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * hw;
        for (int kj = 0; kj < r; kj++) {
            float *restrict out = col + (size_t)(ch * r + kj) * len;
            if (flat_same(h, w, r, 1, p, oh, ow)) {
                /* out[j] = xc[j + d], one run, then the wrapped columns zeroed */
                const long d = -(long)p * w + (kj - p);
                const long a = d < 0 ? -d : 0, b = (long)hw - d < (long)len ? (long)hw - d : (long)len;
                for (long j = 0; j < a; j++) out[j] = 0.0f;
                for (long j = a; j < b; j++) out[j] = xc[j + d];
                for (long j = b > a ? b : a; j < (long)len; j++) out[j] = 0.0f;
                const flat_shift f = {.ylo = 0, .yhi = rows};
                zero_wrapped(out, w, p, kj, f);
                continue;
            }
            int lo, hi;
            valid_range(ow, 1, p, kj, w, &lo, &hi);
            for (int yy = 0; yy < rows; yy++) {
                const int iy = yy - p;
                float *o = out + (size_t)yy * ow;
                if (iy < 0 || iy >= h) {
                    memset(o, 0, (size_t)ow * sizeof(float));
                    continue;
                }
                for (int xo = 0; xo < lo; xo++) o[xo] = 0.0f;
                if (hi > lo)
                    memcpy(o + lo, xc + (size_t)iy * w + lo + kj - p, (size_t)(hi - lo) * sizeof(float));
                for (int xo = hi; xo < ow; xo++) o[xo] = 0.0f;
            }
        }
    }
}

/* The adjoint: dx += the lowering's gradient col scattered back (col's
 * entries that fall outside dx may be zeroed, as in col2im). */
NN_HOT static void cpu_col2im_kw(float *restrict col, int c, int h, int w, int r, int p, int oh,
                                 int ow, float *restrict dx) {
    const int rows = oh + r - 1;
    const size_t len = (size_t)rows * ow, hw = (size_t)h * w;
    for (int ch = 0; ch < c; ch++) {
        float *dc = dx + (size_t)ch * hw;
        for (int kj = 0; kj < r; kj++) {
            float *restrict in = col + (size_t)(ch * r + kj) * len;
            if (flat_same(h, w, r, 1, p, oh, ow)) {
                const long d = -(long)p * w + (kj - p);
                const long a = d < 0 ? -d : 0, b = (long)hw - d < (long)len ? (long)hw - d : (long)len;
                const flat_shift f = {.ylo = 0, .yhi = rows};
                zero_wrapped(in, w, p, kj, f);
                for (long j = a; j < b; j++) dc[j + d] += in[j];
                continue;
            }
            int lo, hi;
            valid_range(ow, 1, p, kj, w, &lo, &hi);
            for (int yy = 0; yy < rows; yy++) {
                const int iy = yy - p;
                if (iy < 0 || iy >= h) continue;
                const float *i = in + (size_t)yy * ow;
                float *o = dc + (size_t)iy * w + kj - p;
                for (int xo = lo; xo < hi; xo++) o[xo] += i[xo];
            }
        }
    }
}

/* kw[ki][k][c*r + kj] = kern[k][c][ki][kj]. */
static void cpu_kern_kw(int k, int c, int r, const float *restrict kern, float *restrict kw) {
    for (int ki = 0; ki < r; ki++)
        for (int f = 0; f < k; f++)
            for (int ch = 0; ch < c; ch++)
                for (int kj = 0; kj < r; kj++)
                    kw[(((size_t)ki * k + f) * c + ch) * r + kj] =
                        kern[(((size_t)f * c + ch) * r + ki) * r + kj];
}

/* dkern[k][c][ki][kj] += dkwt[ki][c*r + kj][k] (the per-kernel-row
 * gradients, each transposed). */
static void cpu_add_kern_kw(int k, int c, int r, const float *restrict dkwt,
                            float *restrict dkern) {
    for (int f = 0; f < k; f++)
        for (int ch = 0; ch < c; ch++)
            for (int ki = 0; ki < r; ki++)
                for (int kj = 0; kj < r; kj++)
                    dkern[(((size_t)f * c + ch) * r + ki) * r + kj] +=
                        dkwt[(((size_t)ki * c + ch) * r + kj) * k + f];
}

/* ---- per-channel ops (BatchNorm, normalize) ---- */

NN_HOT static void cpu_chan_sums(int n, int c, size_t hw, const float *restrict x,
                                 double *restrict sums) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++) {
            const float *xs = x + ((size_t)i * c + k) * hw;
            double s = 0, s2 = 0;
            for (size_t j = 0; j < hw; j++) s += xs[j], s2 += (double)xs[j] * xs[j];
            sums[k] += s, sums[c + k] += s2;
        }
}

/* No restrict on x and y: y may be x. */
NN_HOT static void cpu_chan_affine(int n, int c, size_t hw, const float *x,
                                   const float *restrict scale, const float *restrict shift,
                                   float *y) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++) {
            const float *xs = x + ((size_t)i * c + k) * hw;
            float *ys = y + ((size_t)i * c + k) * hw;
            const float a = scale[k], b = shift[k];
            for (size_t j = 0; j < hw; j++) ys[j] = a * xs[j] + b;
        }
}

NN_HOT static void cpu_chan_standardize(int n, int c, size_t hw, const float *restrict x,
                                        const float *restrict mean, const float *restrict inv,
                                        float *restrict y) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++) {
            const float *xs = x + ((size_t)i * c + k) * hw;
            float *ys = y + ((size_t)i * c + k) * hw;
            const float m = mean[k], v = inv[k];
            for (size_t j = 0; j < hw; j++) ys[j] = (xs[j] - m) * v;
        }
}

NN_HOT static void cpu_bn_grad_sums(int n, int c, size_t hw, const float *restrict x,
                                    const float *restrict dy, const float *restrict mean,
                                    const float *restrict inv_std, double *restrict sums) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++) {
            const float *xs = x + ((size_t)i * c + k) * hw, *ds = dy + ((size_t)i * c + k) * hw;
            const float m = mean[k], is = inv_std[k];
            double a = 0, b = 0;
            for (size_t j = 0; j < hw; j++) {
                float xhat = (xs[j] - m) * is;
                a += ds[j], b += (double)ds[j] * xhat;
            }
            sums[k] += a, sums[c + k] += b;
        }
}

NN_HOT static void cpu_bn_grad_input(int n, int c, size_t hw, const float *restrict x,
                                     const float *restrict dy, const float *restrict mean,
                                     const float *restrict inv_std, const float *restrict g,
                                     const float *restrict a, const float *restrict b,
                                     float *restrict dx) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++) {
            const float *xs = x + ((size_t)i * c + k) * hw, *ds = dy + ((size_t)i * c + k) * hw;
            float *dxs = dx + ((size_t)i * c + k) * hw;
            const float m = mean[k], is = inv_std[k], gk = g[k], ak = a[k], bk = b[k];
            for (size_t j = 0; j < hw; j++) {
                float xhat = (xs[j] - m) * is;
                dxs[j] = gk * (ds[j] - ak - xhat * bk);
            }
        }
}

/* ---- max pooling ---- */

NN_HOT static void cpu_maxpool_forward(size_t planes, int h, int w, int d, int s, int oh, int ow,
                                       const float *restrict x, float *restrict y) {
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * h * w;
        float *yp = y + pl * oh * ow;
        if (d == 2 && s == 2) { /* the usual 2x2 pool, written out so it vectorises */
            for (int oy = 0; oy < oh; oy++) {
                const float *r0 = xp + (size_t)2 * oy * w, *r1 = r0 + w;
                float *out = yp + (size_t)oy * ow;
                for (int ox = 0; ox < ow; ox++) {
                    float m = r0[2 * ox];
                    m = r0[2 * ox + 1] > m ? r0[2 * ox + 1] : m;
                    m = r1[2 * ox] > m ? r1[2 * ox] : m;
                    m = r1[2 * ox + 1] > m ? r1[2 * ox + 1] : m;
                    out[ox] = m;
                }
            }
            continue;
        }
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const float *win = xp + (size_t)oy * s * w + (size_t)ox * s;
                float m = win[0];
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < d; j++) m = win[i * w + j] > m ? win[i * w + j] : m;
                yp[oy * ow + ox] = m;
            }
    }
}

/* g where c is 1, +0 where c is 0, by a bit mask: no branch (a `c ? g : 0`
 * became one in the loop's scalar remainder, which mispredicted on every
 * other window: 3-4x slower whenever ow is not a multiple of the vector
 * width, as for the 31x31 and 15x15 planes of the airbench-shaped net). */
static inline float select_or_zero(int c, float g) {
    uint32_t u;
    memcpy(&u, &g, sizeof u);
    u &= -(uint32_t)c;
    memcpy(&g, &u, sizeof u);
    return g;
}

/* The usual 2x2 pool: the windows tile the plane, so every dx element is
 * written once (the gradient or 0) without a memset and without branches;
 * rows and columns no window covers (odd sizes) get 0. Routing as below:
 * the first maximum in row-major order. */
NN_HOT static void maxpool2_backward(size_t planes, int h, int w, int oh, int ow,
                                     const float *restrict x, const float *restrict y,
                                     const float *restrict dy, float *restrict dx) {
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * h * w, *yp = y + pl * oh * ow, *dyp = dy + pl * oh * ow;
        float *dxp = dx + pl * h * w;
        for (int oy = 0; oy < oh; oy++) {
            const float *r0 = xp + (size_t)2 * oy * w, *r1 = r0 + w;
            float *d0 = dxp + (size_t)2 * oy * w, *d1 = d0 + w;
            for (int ox = 0; ox < ow; ox++) {
                const float m = yp[oy * ow + ox], g = dyp[oy * ow + ox];
                /* Bitwise, not &&: no branches, so gcc vectorises it (4x). */
                const int a = r0[2 * ox] == m, b = (r0[2 * ox + 1] == m) & !a,
                          c = (r1[2 * ox] == m) & !(a | b),
                          e = (r1[2 * ox + 1] == m) & !(a | b | c);
                d0[2 * ox] = select_or_zero(a, g);
                d0[2 * ox + 1] = select_or_zero(b, g);
                d1[2 * ox] = select_or_zero(c, g);
                d1[2 * ox + 1] = select_or_zero(e, g);
            }
            for (int j = 2 * ow; j < w; j++) d0[j] = d1[j] = 0.0f;
        }
        memset(dxp + (size_t)2 * oh * w, 0, (size_t)(h - 2 * oh) * w * sizeof(float));
    }
}

static void cpu_maxpool_backward(size_t planes, int h, int w, int d, int s, int oh, int ow,
                                 const float *restrict x, const float *restrict y,
                                 const float *restrict dy, float *restrict dx) {
    if (d == 2 && s == 2) {
        maxpool2_backward(planes, h, w, oh, ow, x, y, dy, dx);
        return;
    }
    memset(dx, 0, planes * h * w * sizeof(float));
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * h * w, *yp = y + pl * oh * ow, *dyp = dy + pl * oh * ow;
        float *dxp = dx + pl * h * w;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                size_t base = (size_t)oy * s * w + (size_t)ox * s;
                float m = yp[oy * ow + ox];
                int found = 0;
                for (int i = 0; i < d && !found; i++)
                    for (int j = 0; j < d && !found; j++)
                        if (xp[base + (size_t)i * w + j] == m) {
                            dxp[base + (size_t)i * w + j] += dyp[oy * ow + ox];
                            found = 1;
                        }
            }
    }
}

/* ---- dropout, copy ---- */

static void cpu_dropout(int n, size_t m, float rate, uint64_t key, const uint64_t *ids,
                        uint64_t salt, const float *x, float *y) {
    const float scale = 1.0f / (1.0f - rate);
    for (int i = 0; i < n; i++) {
        nn_rng r;
        nn_rng_seed(&r, key, nn_hash64(ids[i], salt));
        const float *xs = x + (size_t)i * m;
        float *ys = y + (size_t)i * m;
        for (size_t k = 0; k < m; k++) ys[k] = nn_rng_uniform(&r) < rate ? 0.0f : xs[k] * scale;
    }
}

static void cpu_copy(size_t n, const float *x, float *y) {
    if (x != y) memmove(y, x, n * sizeof(float));
}

NN_HOT static void cpu_add(size_t n, const float *a, const float *b, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/* ---- optimizer update rules: one vectorisable pass each ---- */
NN_HOT static void step_sgd(size_t n, float *restrict w, const float *restrict g, float lr,
                            float wd) {
    for (size_t i = 0; i < n; i++) w[i] -= lr * (g[i] + wd * w[i]);
}

/* Plain momentum moves w by v; Nesterov's by the next velocity's estimate
 * a v - lr g. One branch-free loop: w += cv v - cg g with (cv, cg) = (1, 0)
 * or (a, lr); 1 v - 0 g is v exactly. */
NN_HOT static void step_momentum(size_t n, float *restrict w, const float *restrict g,
                                 float *restrict v, float lr, float wd, float alpha,
                                 bool nesterov) {
    const float cv = nesterov ? alpha : 1.0f, cg = nesterov ? lr : 0.0f;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        v[i] = alpha * v[i] - lr * gi;
        w[i] += cv * v[i] - cg * gi;
    }
}

NN_HOT static void step_adagrad(size_t n, float *restrict w, const float *restrict g,
                                float *restrict h, float lr, float wd) {
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        h[i] += gi * gi;
        w[i] -= lr * gi / sqrtf(h[i]);
    }
}

NN_HOT static void step_rmsprop(size_t n, float *restrict w, const float *restrict g,
                                float *restrict h, float lr, float wd, float rho, float eps) {
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        h[i] = rho * h[i] + (1.0f - rho) * gi * gi;
        w[i] -= lr * gi / (sqrtf(h[i]) + eps);
    }
}

NN_HOT static void step_adadelta(size_t n, float *restrict w, const float *restrict g,
                                 float *restrict h, float *restrict s, float lr, float wd,
                                 float rho, float eps) {
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        h[i] = rho * h[i] + (1.0f - rho) * gi * gi;
        float d = sqrtf(s[i] + eps) / sqrtf(h[i] + eps) * gi;
        s[i] = rho * s[i] + (1.0f - rho) * d * d;
        w[i] -= lr * d;
    }
}

NN_HOT static void step_adam(size_t n, float *restrict w, const float *restrict g,
                             float *restrict m, float *restrict v, float step, float isq,
                             float wd, float b1, float b2, float eps) {
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        w[i] -= step * m[i] / (sqrtf(v[i]) * isq + eps);
    }
}


static void cpu_update(const nn_update *u, size_t n, float *w, const float *g, float *s0,
                       float *s1) {
    switch (u->rule) {
    case NN_OPT_SGD: step_sgd(n, w, g, u->lr, u->wd); break;
    case NN_OPT_MOMENTUM: step_momentum(n, w, g, s0, u->lr, u->wd, u->a, u->nesterov); break;
    case NN_OPT_ADAGRAD: step_adagrad(n, w, g, s0, u->lr, u->wd); break;
    case NN_OPT_RMSPROP: step_rmsprop(n, w, g, s0, u->lr, u->wd, u->a, u->eps); break;
    case NN_OPT_ADADELTA: step_adadelta(n, w, g, s0, s1, u->lr, u->wd, u->a, u->eps); break;
    case NN_OPT_ADAM: step_adam(n, w, g, s0, s1, u->step, u->isq, u->wd, u->a, u->b, u->eps); break;
    case NN_OPT_COUNT: break;
    }
}

/* ---- memory: the host's ---- */

static void *cpu_alloc(size_t bytes) { return calloc(1, bytes ? bytes : 1); }
static void cpu_zero(void *p, size_t bytes) { memset(p, 0, bytes); }
static void cpu_copy_bytes(void *dst, const void *src, size_t bytes) {
    if (dst != src) memcpy(dst, src, bytes);
}

static const nn_backend g_cpu = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = free,
    .zero = cpu_zero,
    .to_host = cpu_copy_bytes,
    .from_host = cpu_copy_bytes,
    .gemm = cpu_gemm,
    .add_row_bias = cpu_add_row_bias,
    .sum_rows = cpu_sum_rows,
    .add_transposed = cpu_add_transposed,
    .act_forward = cpu_act_forward,
    .act_backward = cpu_act_backward,
    .im2col = cpu_im2col,
    .col2im = cpu_col2im,
    .im2col_kw = cpu_im2col_kw,
    .col2im_kw = cpu_col2im_kw,
    .kern_kw = cpu_kern_kw,
    .add_kern_kw = cpu_add_kern_kw,
    .chan_sums = cpu_chan_sums,
    .chan_affine = cpu_chan_affine,
    .chan_standardize = cpu_chan_standardize,
    .bn_grad_sums = cpu_bn_grad_sums,
    .bn_grad_input = cpu_bn_grad_input,
    .maxpool_forward = cpu_maxpool_forward,
    .maxpool_backward = cpu_maxpool_backward,
    .dropout = cpu_dropout,
    .copy = cpu_copy,
    .add = cpu_add,
    .update = cpu_update,
    .softmax_xent = nn_softmax_xent_weighted,
    .sigmoid_xent = nn_sigmoid_xent,
};

const nn_backend *nn_backend_cpu(void) { return &g_cpu; }
