/* test_ops.c: every op of the CUDA backend against the CPU backend (the
 * reference semantics) on the same random inputs (fixed seed).
 *
 * The CUDA side gets its buffers from the backend's alloc (managed memory)
 * and, for some checks, as plain malloc'd or pinned host memory, which the
 * backend must stage (or read directly where the device reads pageable
 * memory). Shapes are odd on purpose: 7x7 images, stride 2, padding,
 * lengths that are not multiples of 32, leading dimensions with gaps.
 *
 * Tolerances: err = max |gpu - cpu| / max |cpu| over one output array
 * (absolute when the reference is all zeros); "exact" means every value
 * equal. gemm 1e-4; elementwise ops, updates, losses 1e-5; double sums 1e-6;
 * im2col, maxpool, dropout, copy, memory ops and the correct count exact.
 *
 * No GPU (or no driver): prints "cuda tests: skipped (<reason>)", exits 0.
 * Otherwise one "ok" / "FAIL" line per check, a summary, exit 1 on failure. */
#include "nn/backend.h"
#include "nn/rng.h"

#include <cuda_runtime_api.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* src/backend/cuda/cuda_backend.cu */
const nn_backend *nn_backend_cuda(void);
int nn_cuda_open(int local_rank, char *msg, size_t msg_size);
void nn_cuda_close(void);

static const nn_backend *CPU, *GPU;
static nn_rng g_rng;
static int n_pass, n_fail;

/* ---- checks ---- */

static char g_name[160];
#define NAME(...) (snprintf(g_name, sizeof g_name, __VA_ARGS__), g_name)

static void report(int ok, const char *name, const char *detail) {
    printf("%s %s (%s)\n", ok ? "ok  " : "FAIL", name, detail);
    if (ok)
        n_pass++;
    else
        n_fail++;
}

/* tol 0: exact. */
static void check_f(const char *name, const float *ref, const float *got, size_t n, double tol) {
    double scale = 0.0, err = 0.0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)ref[i]));
    if (scale == 0.0) scale = 1.0;
    int equal = 1;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)ref[i]) / scale;
        if (got[i] != ref[i]) equal = 0;
        if (!(e <= err)) err = e, worst = i; /* NaN counts as worst */
    }
    char detail[160];
    if (tol == 0.0)
        snprintf(detail, sizeof detail, "exact, max err %.2e", err);
    else
        snprintf(detail, sizeof detail, "max err %.2e, tol %.0e", err, tol);
    int ok = tol == 0.0 ? equal : err <= tol;
    if (!ok) {
        size_t len = strlen(detail);
        snprintf(detail + len, sizeof detail - len, "; at [%zu] cpu %.9g gpu %.9g", worst,
                 (double)ref[worst], (double)got[worst]);
    }
    report(ok, name, detail);
}

static void check_d(const char *name, const double *ref, const double *got, size_t n,
                    double tol) {
    double scale = 0.0, err = 0.0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    if (scale == 0.0) scale = 1.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - ref[i]) / scale;
        if (!(e <= err)) err = e, worst = i;
    }
    char detail[160];
    int ok = err <= tol;
    snprintf(detail, sizeof detail, "max err %.2e, tol %.0e", err, tol);
    if (!ok) {
        size_t len = strlen(detail);
        snprintf(detail + len, sizeof detail - len, "; at [%zu] cpu %.17g gpu %.17g", worst,
                 ref[worst], got[worst]);
    }
    report(ok, name, detail);
}

static void check_true(const char *name, int ok, const char *fmt, ...) {
    char detail[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    report(ok, name, detail);
}

/* ---- buffers ---- */

/* Where a CUDA-side buffer lives. */
typedef enum { DEV, HOST, PINNED } mem;
static const char *const mem_name[] = {"device", "host", "pinned"};

static void die(const char *what, size_t bytes) {
    printf("FAIL cannot allocate %zu bytes (%s)\n", bytes, what);
    printf("cuda ops: %d passed, %d failed\n", n_pass, n_fail + 1);
    exit(1);
}

static void *xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) die("malloc", bytes);
    return p;
}

/* A CUDA-side buffer of `bytes`, a copy of init (zeroed when init is NULL). */
static void *gbuf(mem m, const void *init, size_t bytes) {
    void *p = NULL;
    if (m == DEV)
        p = GPU->alloc(bytes);
    else if (m == HOST)
        p = malloc(bytes ? bytes : 1);
    else if (cudaMallocHost(&p, bytes ? bytes : 1) != cudaSuccess)
        p = NULL;
    if (!p) die(mem_name[m], bytes);
    if (init)
        GPU->from_host(p, init, bytes);
    else if (m != DEV) /* alloc zeroes */
        memset(p, 0, bytes);
    return p;
}

static void gfree(mem m, void *p) {
    if (m == DEV)
        GPU->free(p);
    else if (m == HOST)
        free(p);
    else
        cudaFreeHost(p);
}

/* A host copy of a CUDA-side buffer (free it). */
static void *gread(const void *p, size_t bytes) {
    void *h = xmalloc(bytes);
    GPU->to_host(h, p, bytes);
    return h;
}

static float *frand(size_t n, float lo, float hi) {
    float *a = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) a[i] = lo + (hi - lo) * nn_rng_uniform(&g_rng);
    return a;
}

static float *fdup(const float *a, size_t n) {
    float *b = xmalloc(n * sizeof(float));
    memcpy(b, a, n * sizeof(float));
    return b;
}

static float *ffill(size_t n, float v) {
    float *a = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) a[i] = v;
    return a;
}

/* ---- the table, memory ---- */

static void test_table(void) {
    char missing[400] = "";
#define FIELD(f)                                                                           \
    if (!GPU->f) strcat(missing, " " #f);
    FIELD(alloc) FIELD(free) FIELD(zero) FIELD(to_host) FIELD(from_host) FIELD(gemm)
    FIELD(add_row_bias) FIELD(sum_rows) FIELD(add_transposed) FIELD(act_forward) FIELD(act_backward) FIELD(im2col)
    FIELD(col2im) FIELD(chan_sums) FIELD(chan_affine) FIELD(chan_standardize)
    FIELD(bn_grad_sums) FIELD(bn_grad_input) FIELD(maxpool_forward) FIELD(maxpool_backward)
    FIELD(dropout) FIELD(copy) FIELD(add) FIELD(update) FIELD(softmax_xent) FIELD(sigmoid_xent)
#undef FIELD
    int ok = !missing[0] && GPU->name && !strcmp(GPU->name, "cuda");
    check_true("table", ok, ok ? "every op set, name cuda" : "missing:%s, name %s", missing,
               GPU->name ? GPU->name : "NULL");
}

static void test_memory(void) {
    const size_t n = 1037, bytes = n * sizeof(float);
    float *p = GPU->alloc(bytes);
    if (!p) die("alloc", bytes);
    float *zeros = ffill(n, 0.0f), *h = gread(p, bytes);
    check_f("alloc (zeroed)", zeros, h, n, 0);
    free(h);

    float *src = frand(n, -1, 1);
    GPU->from_host(p, src, bytes);
    h = gread(p, bytes);
    check_f("from_host + to_host", src, h, n, 0);
    free(h);

    /* the memory model: the host reads and writes alloc's memory directly */
    int direct = 1;
    for (size_t i = 0; i < n; i++) direct &= p[i] == src[i];
    p[5] = 3.5f;
    h = gread(p, bytes);
    direct &= h[5] == 3.5f;
    check_true("host access to alloc's memory", direct, "read and write");
    free(h);

    GPU->zero(p + 1, bytes - 2 * sizeof(float)); /* all but the first and last value */
    h = gread(p, bytes);
    float *want = ffill(n, 0.0f);
    want[0] = src[0], want[n - 1] = src[n - 1];
    check_f("zero", want, h, n, 0);
    free(h);

    float *hb = fdup(src, n); /* zero on plain host memory */
    GPU->zero(hb, bytes);
    check_f("zero [host]", zeros, hb, n, 0);
    free(hb);

    void *empty = GPU->alloc(0);
    check_true("alloc(0)", empty != NULL, "not NULL");
    GPU->free(empty);
    GPU->free(NULL);
    GPU->free(p);
    free(zeros), free(src), free(want);
}

/* ---- gemm ---- */

static void test_gemm(int ta, int tb, int m, int n, int k, float beta, mem where) {
    const int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
    const size_t na = (size_t)(ta ? k : m) * lda, nb = (size_t)(tb ? n : k) * ldb;
    const size_t nc = (size_t)m * ldc;
    float *a = frand(na, -1, 1), *b = frand(nb, -1, 1), *c = frand(nc, -1, 1);
    float *ga = gbuf(where, a, na * 4), *gb = gbuf(where, b, nb * 4), *gc = gbuf(where, c, nc * 4);
    CPU->gemm(ta, tb, m, n, k, 1.25f, a, lda, b, ldb, beta, c, ldc);
    GPU->gemm(ta, tb, m, n, k, 1.25f, ga, lda, gb, ldb, beta, gc, ldc);
    float *got = gread(gc, nc * 4);
    /* the whole of C, so the gaps between rows must be untouched as well */
    check_f(NAME("gemm %c%c %dx%dx%d beta=%g [%s]", ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k,
                 (double)beta, mem_name[where]),
            c, got, nc, 1e-4);
    gfree(where, ga), gfree(where, gb), gfree(where, gc);
    free(a), free(b), free(c), free(got);
}

/* ---- rows, activations ---- */

static void test_rows(int rows, int cols, mem where) {
    const size_t n = (size_t)rows * cols;
    float *y = frand(n, -1, 1), *bias = frand((size_t)cols, -1, 1);
    float *gy = gbuf(where, y, n * 4), *gbias = gbuf(where, bias, (size_t)cols * 4);
    CPU->add_row_bias(rows, cols, bias, y);
    GPU->add_row_bias(rows, cols, gbias, gy);
    float *got = gread(gy, n * 4);
    check_f(NAME("add_row_bias %dx%d [%s]", rows, cols, mem_name[where]), y, got, n, 1e-5);
    free(got);

    float *acc = frand((size_t)cols, -1, 1);
    float *gacc = gbuf(where, acc, (size_t)cols * 4);
    CPU->sum_rows(rows, cols, y, acc);
    GPU->sum_rows(rows, cols, gy, gacc);
    got = gread(gacc, (size_t)cols * 4);
    check_f(NAME("sum_rows %dx%d [%s]", rows, cols, mem_name[where]), acc, got, (size_t)cols,
            1e-5);
    free(got);

    float *at = frand(n, -1, 1), *gat = gbuf(where, at, n * 4); /* (cols, rows) */
    CPU->add_transposed(rows, cols, at, y);
    GPU->add_transposed(rows, cols, gat, gy);
    got = gread(gy, n * 4);
    check_f(NAME("add_transposed %dx%d [%s]", rows, cols, mem_name[where]), y, got, n, 1e-5);
    gfree(where, gat), free(at);
    gfree(where, gy), gfree(where, gbias), gfree(where, gacc);
    free(y), free(bias), free(acc), free(got);
}

static void test_act(nn_act act, float alpha, size_t n, mem where) {
    static const char *const names[] = {"sigmoid", "relu", "tanh", "leaky_relu", "gelu"};
    float *x = frand(n, -6, 6), *y = xmalloc(n * 4), *dy = frand(n, -1, 1), *dx = xmalloc(n * 4);
    float *gx = gbuf(where, x, n * 4), *gy = gbuf(where, NULL, n * 4);
    CPU->act_forward(act, alpha, n, x, y);
    GPU->act_forward(act, alpha, n, gx, gy);
    float *got = gread(gy, n * 4);
    check_f(NAME("act_forward %s n=%zu [%s]", names[act], n, mem_name[where]), y, got, n, 1e-5);
    free(got);

    /* backward from the same forward input and output on both sides */
    float *gyr = gbuf(where, y, n * 4), *gdy = gbuf(where, dy, n * 4);
    float *gdx = gbuf(where, NULL, n * 4);
    CPU->act_backward(act, alpha, n, x, y, dy, dx);
    GPU->act_backward(act, alpha, n, gx, gyr, gdy, gdx);
    got = gread(gdx, n * 4);
    check_f(NAME("act_backward %s n=%zu [%s]", names[act], n, mem_name[where]), dx, got, n, 1e-5);
    gfree(where, gx), gfree(where, gy), gfree(where, gyr), gfree(where, gdy), gfree(where, gdx);
    free(x), free(y), free(dy), free(dx), free(got);
}

/* ---- convolution lowering: two samples side by side, as conv2d batches them ---- */

static void test_conv(int c, int h, int w, int r, int s, int p, mem where) {
    const int oh = (h + 2 * p - r) / s + 1, ow = (w + 2 * p - r) / s + 1, N = 2;
    const size_t chw = (size_t)c * h * w, ohw = (size_t)oh * ow, rows = (size_t)c * r * r;
    const size_t ldc = N * ohw + 3, ncol = rows * ldc, nx = N * chw; /* 3 columns never written */
    float *x = frand(nx, -1, 1), *col = frand(ncol, -1, 1);
    float *gx = gbuf(where, x, nx * 4), *gcol = gbuf(where, col, ncol * 4);
    /* the second sample as a band of output rows, [oh/2, oh) */
    for (int i = 0; i < N; i++) {
        const int y0 = i ? oh / 2 : 0;
        CPU->im2col(x + i * chw, c, h, w, r, s, p, oh, ow, y0, oh, col, ldc, i * ohw);
        GPU->im2col(gx + i * chw, c, h, w, r, s, p, oh, ow, y0, oh, gcol, ldc, i * ohw);
    }
    float *got = gread(gcol, ncol * 4);
    check_f(NAME("im2col c%d %dx%d r%d s%d p%d [%s]", c, h, w, r, s, p, mem_name[where]), col, got,
            ncol, 0);
    free(got);

    float *cols = frand(ncol, -1, 1), *dx = frand(nx, -1, 1); /* dx accumulates */
    float *gcols = gbuf(where, cols, ncol * 4), *gdx = gbuf(where, dx, nx * 4);
    for (int i = 0; i < N; i++) {
        const int y0 = i ? oh / 2 : 0;
        CPU->col2im(cols, ldc, i * ohw, c, h, w, r, s, p, oh, ow, y0, oh, dx + i * chw);
        GPU->col2im(gcols, ldc, i * ohw, c, h, w, r, s, p, oh, ow, y0, oh, gdx + i * chw);
    }
    got = gread(gdx, nx * 4);
    check_f(NAME("col2im c%d %dx%d r%d s%d p%d [%s]", c, h, w, r, s, p, mem_name[where]), dx, got,
            nx, 1e-5);
    gfree(where, gx), gfree(where, gcol), gfree(where, gcols), gfree(where, gdx);
    free(x), free(col), free(cols), free(dx), free(got);
}

/* ---- per-channel ops: tensors on the CUDA side, channel vectors on the host ---- */

static double *drand(size_t n) {
    double *a = xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) a[i] = nn_rng_uniform(&g_rng) - 0.5;
    return a;
}

static void test_chan(int n, int c, size_t hw, mem where) {
    const size_t total = (size_t)n * c * hw, cc = (size_t)c;
    const char *wn = mem_name[where];
    float *x = frand(total, -2, 3), *dy = frand(total, -1, 1);
    float *scale = frand(cc, 0.5f, 2), *shift = frand(cc, -1, 1);
    float *mean = frand(cc, -0.5f, 1), *inv = frand(cc, 0.5f, 2);
    float *g = frand(cc, 0.5f, 2), *a = frand(cc, -0.1f, 0.1f), *b = frand(cc, -0.1f, 0.1f);
    float *gx = gbuf(where, x, total * 4), *gdy = gbuf(where, dy, total * 4);

    /* chan_sums: accumulates into host doubles */
    double *sr = drand(2 * cc), *sg = xmalloc(2 * cc * sizeof(double));
    memcpy(sg, sr, 2 * cc * sizeof(double));
    CPU->chan_sums(n, c, hw, x, sr);
    GPU->chan_sums(n, c, hw, gx, sg);
    check_d(NAME("chan_sums sum %dx%dx%zu [%s]", n, c, hw, wn), sr, sg, cc, 1e-6);
    check_d(NAME("chan_sums sum of squares %dx%dx%zu [%s]", n, c, hw, wn), sr + cc, sg + cc, cc,
            1e-6);
    double *s1 = calloc(2 * cc, sizeof(double)), *s2 = calloc(2 * cc, sizeof(double));
    if (!s1 || !s2) die("calloc", 2 * cc * sizeof(double));
    GPU->chan_sums(n, c, hw, gx, s1);
    GPU->chan_sums(n, c, hw, gx, s2);
    check_true(NAME("chan_sums deterministic %dx%dx%zu [%s]", n, c, hw, wn),
               !memcmp(s1, s2, 2 * cc * sizeof(double)), "two runs, identical bits");

    /* chan_affine, into y and in place */
    float *y = xmalloc(total * 4), *gy = gbuf(where, NULL, total * 4);
    CPU->chan_affine(n, c, hw, x, scale, shift, y);
    GPU->chan_affine(n, c, hw, gx, scale, shift, gy);
    float *got = gread(gy, total * 4);
    check_f(NAME("chan_affine %dx%dx%zu [%s]", n, c, hw, wn), y, got, total, 1e-5);
    free(got);
    float *gxi = gbuf(where, x, total * 4);
    GPU->chan_affine(n, c, hw, gxi, scale, shift, gxi);
    got = gread(gxi, total * 4);
    check_f(NAME("chan_affine in place %dx%dx%zu [%s]", n, c, hw, wn), y, got, total, 1e-5);
    free(got);

    CPU->chan_standardize(n, c, hw, x, mean, inv, y);
    GPU->chan_standardize(n, c, hw, gx, mean, inv, gy);
    got = gread(gy, total * 4);
    check_f(NAME("chan_standardize %dx%dx%zu [%s]", n, c, hw, wn), y, got, total, 1e-5);
    free(got);

    memcpy(sg, sr, 2 * cc * sizeof(double));
    CPU->bn_grad_sums(n, c, hw, x, dy, mean, inv, sr);
    GPU->bn_grad_sums(n, c, hw, gx, gdy, mean, inv, sg);
    check_d(NAME("bn_grad_sums dy %dx%dx%zu [%s]", n, c, hw, wn), sr, sg, cc, 1e-6);
    check_d(NAME("bn_grad_sums dy*xhat %dx%dx%zu [%s]", n, c, hw, wn), sr + cc, sg + cc, cc,
            1e-6);

    CPU->bn_grad_input(n, c, hw, x, dy, mean, inv, g, a, b, y);
    GPU->bn_grad_input(n, c, hw, gx, gdy, mean, inv, g, a, b, gy);
    got = gread(gy, total * 4);
    check_f(NAME("bn_grad_input %dx%dx%zu [%s]", n, c, hw, wn), y, got, total, 1e-5);
    free(got);

    gfree(where, gx), gfree(where, gdy), gfree(where, gy), gfree(where, gxi);
    free(x), free(dy), free(y), free(scale), free(shift), free(mean), free(inv), free(g), free(a),
        free(b), free(sr), free(sg), free(s1), free(s2);
}

/* ---- max pooling: small integers, so windows hold ties ---- */

static void test_pool(size_t planes, int h, int w, int d, int s, mem where) {
    const int oh = (h - d) / s + 1, ow = (w - d) / s + 1;
    const size_t nx = planes * h * w, ny = planes * oh * ow;
    float *x = xmalloc(nx * 4), *y = xmalloc(ny * 4), *dy = frand(ny, -1, 1);
    for (size_t i = 0; i < nx; i++) x[i] = (float)nn_rng_below(&g_rng, 4);
    float *gx = gbuf(where, x, nx * 4), *gy = gbuf(where, NULL, ny * 4);
    CPU->maxpool_forward(planes, h, w, d, s, oh, ow, x, y);
    GPU->maxpool_forward(planes, h, w, d, s, oh, ow, gx, gy);
    float *got = gread(gy, ny * 4);
    check_f(NAME("maxpool_forward %zux%dx%d d%d s%d [%s]", planes, h, w, d, s, mem_name[where]), y,
            got, ny, 0);
    free(got);

    float *dx = ffill(nx, 7.0f); /* must be overwritten everywhere */
    float *gyr = gbuf(where, y, ny * 4), *gdy = gbuf(where, dy, ny * 4);
    float *gdx = gbuf(where, dx, nx * 4);
    CPU->maxpool_backward(planes, h, w, d, s, oh, ow, x, y, dy, dx);
    GPU->maxpool_backward(planes, h, w, d, s, oh, ow, gx, gyr, gdy, gdx);
    got = gread(gdx, nx * 4);
    check_f(NAME("maxpool_backward %zux%dx%d d%d s%d [%s]", planes, h, w, d, s, mem_name[where]),
            dx, got, nx, 0);
    gfree(where, gx), gfree(where, gy), gfree(where, gyr), gfree(where, gdy), gfree(where, gdx);
    free(x), free(y), free(dy), free(dx), free(got);
}

/* ---- dropout, copy ---- */

static void test_dropout(int n, size_t m, float rate, mem where, mem ids_where) {
    const size_t total = (size_t)n * m;
    uint64_t *ids = xmalloc((size_t)n * sizeof(uint64_t));
    for (int i = 0; i < n; i++) ids[i] = nn_rng_u64(&g_rng) % 100000;
    const uint64_t key = nn_hash64(1234, 0xd50d0000ULL + 3), salt = 2;
    float *x = frand(total, -1, 1), *y = xmalloc(total * 4);
    float *gx = gbuf(where, x, total * 4), *gy = gbuf(where, NULL, total * 4);
    uint64_t *gids = gbuf(ids_where, ids, (size_t)n * sizeof(uint64_t));
    CPU->dropout(n, m, rate, key, ids, salt, x, y);
    GPU->dropout(n, m, rate, key, gids, salt, gx, gy);
    float *got = gread(gy, total * 4);
    check_f(NAME("dropout %dx%zu rate %g [%s, ids %s]", n, m, (double)rate, mem_name[where],
                 mem_name[ids_where]),
            y, got, total, 0);
    gfree(where, gx), gfree(where, gy), gfree(ids_where, gids);
    free(ids), free(x), free(y), free(got);
}

static void test_copy(void) {
    const size_t n = 1037;
    float *x = frand(n + 8, -1, 1);
    float *gx = gbuf(DEV, x, (n + 8) * 4), *gy = gbuf(DEV, NULL, n * 4);
    GPU->copy(n, gx, gy);
    float *got = gread(gy, n * 4);
    check_f("copy [device]", x, got, n, 0);
    free(got);

    float *hy = xmalloc(n * 4);
    GPU->copy(n, gx, hy);
    check_f("copy [device to host]", x, hy, n, 0);
    GPU->copy(n, x, gy);
    got = gread(gy, n * 4);
    check_f("copy [host to device]", x, got, n, 0);
    free(got);

    /* overlapping ranges: memmove's result */
    float *ref = fdup(x, n + 8);
    CPU->copy(n, ref, ref + 5);
    GPU->copy(n, gx, gx + 5);
    got = gread(gx, (n + 8) * 4);
    check_f("copy overlapping [device]", ref, got, n + 8, 0);
    gfree(DEV, gx), gfree(DEV, gy);
    free(x), free(hy), free(ref), free(got);
}

/* y = a + b, out of place and in place: exact */
static void test_add(void) {
    const size_t n = 1037;
    float *a = frand(n, -1, 1), *b = frand(n, -2, 2), *ref = xmalloc(n * 4);
    CPU->add(n, a, b, ref);
    float *ga = gbuf(DEV, a, n * 4), *gb = gbuf(DEV, b, n * 4), *gy = gbuf(DEV, NULL, n * 4);
    GPU->add(n, ga, gb, gy);
    float *got = gread(gy, n * 4);
    check_f("add [device]", ref, got, n, 0);
    free(got);
    GPU->add(n, ga, gb, ga);
    got = gread(ga, n * 4);
    check_f("add in place [device]", ref, got, n, 0);
    gfree(DEV, ga), gfree(DEV, gb), gfree(DEV, gy);
    free(a), free(b), free(ref), free(got);
}

/* ---- optimizer updates: three steps from the optimizer's initial state ---- */

static void test_update(nn_optim_kind rule, mem where, mem state_where) {
    static const char *const names[] = {"sgd",     "momentum", "adagrad",
                                        "rmsprop", "adadelta", "adam"};
    const size_t n = 1037;
    const int states = rule == NN_OPT_SGD                                ? 0
                       : rule == NN_OPT_ADADELTA || rule == NN_OPT_ADAM ? 2
                                                                        : 1;
    nn_update u = {.rule = rule, .lr = 0.01f, .wd = 1e-3f, .eps = 1e-8f};
    switch (rule) {
    case NN_OPT_SGD: u.lr = 0.1f; break;
    case NN_OPT_MOMENTUM: u.a = 0.9f; break;
    case NN_OPT_RMSPROP: u.a = 0.9f; break;
    case NN_OPT_ADADELTA: u.a = 0.95f, u.lr = 1.0f, u.eps = 1e-6f; break;
    case NN_OPT_ADAM: u.a = 0.9f, u.b = 0.999f; break;
    default: break;
    }
    float *w = frand(n, -1, 1), *s0 = ffill(n, rule == NN_OPT_ADAGRAD ? 0.1f : 0.0f);
    float *s1 = ffill(n, 0.0f);
    float *gw = gbuf(where, w, n * 4);
    float *gs0 = states >= 1 ? gbuf(state_where, s0, n * 4) : NULL;
    float *gs1 = states == 2 ? gbuf(state_where, s1, n * 4) : NULL;
    for (int t = 1; t <= 3; t++) {
        if (rule == NN_OPT_ADAM) {
            u.step = (float)(u.lr / (1.0 - pow(u.a, t)));
            u.isq = (float)(1.0 / sqrt(1.0 - pow(u.b, t)));
        }
        float *g = frand(n, -1, 1), *gg = gbuf(where, g, n * 4);
        CPU->update(&u, n, w, g, states >= 1 ? s0 : NULL, states == 2 ? s1 : NULL);
        GPU->update(&u, n, gw, gg, gs0, gs1);
        gfree(where, gg);
        free(g);
    }
    float *got = gread(gw, n * 4);
    check_f(NAME("update %s w, 3 steps [%s, state %s]", names[rule], mem_name[where],
                 mem_name[state_where]),
            w, got, n, 1e-5);
    free(got);
    if (states >= 1) {
        got = gread(gs0, n * 4);
        check_f(NAME("update %s state 0 [%s, state %s]", names[rule], mem_name[where],
                     mem_name[state_where]),
                s0, got, n, 1e-5);
        free(got);
        gfree(state_where, gs0);
    }
    if (states == 2) {
        got = gread(gs1, n * 4);
        check_f(NAME("update %s state 1 [%s, state %s]", names[rule], mem_name[where],
                     mem_name[state_where]),
                s1, got, n, 1e-5);
        free(got);
        gfree(state_where, gs1);
    }
    gfree(where, gw);
    free(w), free(s0), free(s1);
}

/* ---- losses ---- */

static void check_loss(const char *name, double ref, double got) {
    double err = fabs(got - ref) / fmax(fabs(ref), 1e-30);
    check_true(name, err <= 1e-5, "cpu %.12g gpu %.12g, rel err %.2e, tol 1e-05", ref, got, err);
}

/* Rows with ties at the maximum (the first one wins) and a third of the
 * labels at the row's argmax, so `correct` counts something. */
static void test_softmax(int n, int k, int weighted, int with_d, int with_correct, mem where,
                         mem lab_where) {
    const size_t nk = (size_t)n * k;
    float *z = frand(nk, -3, 3), *w = weighted ? frand((size_t)k, 0.2f, 3) : NULL;
    int *lab = xmalloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) {
        float *zi = z + (size_t)i * k;
        if (i % 5 == 1 && k > 2) zi[k - 1] = zi[1] = 5.0f;
        if (i % 7 == 2) /* all equal */
            for (int j = 0; j < k; j++) zi[j] = 0.25f;
        lab[i] = (int)nn_rng_below(&g_rng, (uint64_t)k);
        if (i % 3 == 0) {
            int best = 0;
            for (int j = 1; j < k; j++)
                if (zi[j] > zi[best]) best = j;
            lab[i] = best;
        }
        if (i % 5 == 1 && k > 2 && i % 2) lab[i] = k - 1; /* a tie it loses */
    }
    const float scale = 1.0f / (float)n;
    float *d = with_d ? xmalloc(nk * 4) : NULL;
    float *gz = gbuf(where, z, nk * 4), *gd = with_d ? gbuf(where, NULL, nk * 4) : NULL;
    float *gw = weighted ? gbuf(lab_where, w, (size_t)k * 4) : NULL;
    int *glab = gbuf(lab_where, lab, (size_t)n * sizeof(int));
    long cr = 0, cg = 0;
    double lr = CPU->softmax_xent(z, lab, w, n, k, scale, d, with_correct ? &cr : NULL);
    double lg = GPU->softmax_xent(gz, glab, gw, n, k, scale, gd, with_correct ? &cg : NULL);
    char what[96];
    snprintf(what, sizeof what, "%dx%d%s%s%s [%s, labels %s]", n, k, weighted ? " weighted" : "",
             with_d ? " dlogits" : "", with_correct ? " correct" : "", mem_name[where],
             mem_name[lab_where]);
    check_loss(NAME("softmax_xent loss %s", what), lr, lg);
    if (with_correct)
        check_true(NAME("softmax_xent correct %s", what), cr == cg, "cpu %ld gpu %ld", cr, cg);
    if (with_d) {
        float *got = gread(gd, nk * 4);
        check_f(NAME("softmax_xent dlogits %s", what), d, got, nk, 1e-5);
        free(got);
        gfree(where, gd);
    }
    double again = GPU->softmax_xent(gz, glab, gw, n, k, scale, NULL, NULL);
    check_true(NAME("softmax_xent deterministic %s", what), !memcmp(&again, &lg, sizeof lg),
               "two runs, identical bits");
    gfree(where, gz), gfree(lab_where, glab);
    if (weighted) gfree(lab_where, gw);
    free(z), free(w), free(lab), free(d);
}

static void test_sigmoid(int n, int with_d, mem where, mem t_where) {
    float *z = frand((size_t)n, -40, 40), *t = frand((size_t)n, 0, 1);
    for (int i = 0; i < n; i += 3) t[i] = (float)(i % 2); /* hard 0/1 targets too */
    for (int i = 1; i < n; i += 11) z[i] *= 0.01f;         /* and small logits */
    float *d = with_d ? xmalloc((size_t)n * 4) : NULL;
    float *gz = gbuf(where, z, (size_t)n * 4), *gt = gbuf(t_where, t, (size_t)n * 4);
    float *gd = with_d ? gbuf(where, NULL, (size_t)n * 4) : NULL;
    const float scale = 1.0f / (float)n;
    double lr = CPU->sigmoid_xent(z, t, n, scale, d);
    double lg = GPU->sigmoid_xent(gz, gt, n, scale, gd);
    char what[80];
    snprintf(what, sizeof what, "n=%d%s [%s, targets %s]", n, with_d ? " dlogits" : "",
             mem_name[where], mem_name[t_where]);
    check_loss(NAME("sigmoid_xent loss %s", what), lr, lg);
    if (with_d) {
        float *got = gread(gd, (size_t)n * 4);
        check_f(NAME("sigmoid_xent dlogits %s", what), d, got, (size_t)n, 1e-5);
        free(got);
        gfree(where, gd);
    }
    gfree(where, gz), gfree(t_where, gt);
    free(z), free(t), free(d);
}

int main(void) {
    char msg[512];
    if (nn_cuda_open(0, msg, sizeof msg) != 0) {
        printf("cuda tests: skipped (%s)\n", msg);
        return 0;
    }
    CPU = nn_backend_cpu();
    GPU = nn_backend_cuda();
    nn_rng_seed(&g_rng, 20240607, 1);
    int dev = 0, pageable = 0;
    if (cudaGetDevice(&dev) == cudaSuccess)
        cudaDeviceGetAttribute(&pageable, cudaDevAttrPageableMemoryAccess, dev);
    printf("cuda tests on %s\n", msg);
    printf("note: [host] buffers are %s\n",
           pageable == 1 ? "read in place (the device reads pageable memory)"
                         : "staged through the device scratch");

    test_table();
    test_memory();

    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            test_gemm(ta, tb, 37, 29, 53, 0.0f, DEV);
            test_gemm(ta, tb, 37, 29, 53, 0.5f, DEV);
        }
    test_gemm(0, 0, 1, 300, 7, 0.0f, DEV);
    test_gemm(1, 0, 65, 33, 129, 1.0f, DEV);
    test_gemm(0, 1, 37, 29, 53, 0.5f, HOST);
    test_gemm(1, 1, 37, 29, 53, 1.0f, PINNED);

    test_rows(301, 37, DEV);
    test_rows(3, 1000, DEV);
    test_rows(13, 37, HOST);

    for (int a = 0; a < NN_ACT_COUNT; a++) test_act((nn_act)a, NN_LEAKY_SLOPE, 1037, DEV);
    test_act(NN_ACT_LEAKY_RELU, 0.05f, 1037, HOST);
    test_act(NN_ACT_SIGMOID, 0.0f, 77, PINNED);

    test_conv(3, 7, 7, 3, 2, 1, DEV);
    test_conv(2, 7, 7, 5, 1, 2, DEV);
    test_conv(4, 7, 5, 2, 3, 0, DEV);
    test_conv(3, 8, 6, 3, 3, 2, DEV);
    test_conv(3, 7, 7, 3, 2, 1, HOST);

    test_chan(5, 3, 49, DEV);
    test_chan(301, 37, 1, DEV);
    test_chan(64, 3, 1024, DEV);
    test_chan(5, 3, 49, HOST);

    test_pool(6, 7, 7, 2, 2, DEV);
    test_pool(6, 7, 7, 3, 2, DEV);
    test_pool(6, 7, 7, 3, 1, DEV);
    test_pool(6, 7, 7, 2, 3, DEV);
    test_pool(4, 6, 8, 2, 2, DEV);
    test_pool(6, 7, 7, 3, 1, HOST);

    test_dropout(5, 1037, 0.3f, DEV, HOST);
    test_dropout(7, 33, 0.5f, DEV, DEV);
    test_dropout(5, 1037, 0.3f, HOST, HOST);

    test_copy();
    test_add();

    for (int r = 0; r < NN_OPT_COUNT; r++) {
        test_update((nn_optim_kind)r, DEV, DEV);
        test_update((nn_optim_kind)r, DEV, HOST); /* the optimizer's state is malloc'd */
    }
    test_update(NN_OPT_ADAM, HOST, HOST);
    test_update(NN_OPT_MOMENTUM, PINNED, PINNED);

    test_softmax(37, 10, 0, 1, 1, DEV, DEV);
    test_softmax(37, 10, 1, 1, 1, DEV, HOST);
    test_softmax(5, 1000, 0, 1, 1, DEV, DEV);
    test_softmax(3000, 10, 0, 0, 1, DEV, HOST);
    test_softmax(37, 10, 1, 1, 0, HOST, HOST);

    test_sigmoid(1037, 1, DEV, DEV);
    test_sigmoid(1037, 1, DEV, HOST);
    test_sigmoid(64, 0, HOST, HOST);

    nn_cuda_close();
    printf("cuda ops: %d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
