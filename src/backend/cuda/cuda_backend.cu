/* cuda_backend.cu: the CUDA backend (cuBLAS sgemm + plain kernels), the same
 * table as src/backend/cpu.c, which is the reference semantics of every op.
 *
 * Memory model. alloc returns managed memory (cudaMallocManaged), so the
 * trainer's host code (init, checkpoints, MPI reductions, the per-channel
 * arithmetic of BatchNorm) keeps reading and writing the net's buffers
 * directly. Every op also accepts plain host pointers for ANY argument: each
 * pointer is classified with cudaPointerGetAttributes; device, managed and
 * pinned host memory are used in place, while unregistered (malloc'd) host
 * memory is used in place only when the device can read pageable memory
 * (cudaDevAttrPageableMemoryAccess, HMM/ATS) and is otherwise staged: copied
 * into a device scratch pool before the kernels and, for outputs, copied back
 * after them. Outputs are always copied in as well, so accumulating outputs
 * (y += ..., dx += ...) and the untouched gaps of strided outputs survive.
 *
 * Synchronous design. An op enqueues its copies and kernels on the one
 * stream of nn_cuda_open and waits for it (cudaStreamSynchronize) before it
 * returns: the host may read managed memory right after any call. Ops keep
 * global state (the scratch pool, the staging records), so they must be
 * called from one host thread at a time.
 *
 * Errors. An op returns void, so a failed CUDA or cuBLAS call cannot be
 * reported to the caller: it prints one line "nntrain: CUDA error in <op>:
 * <reason>" to stderr and aborts. Only alloc reports out-of-memory, by
 * returning NULL as its contract says; nn_cuda_open returns -1 and a message.
 *
 * Determinism. No float atomics: reductions (sum_rows, chan_sums,
 * bn_grad_sums, the losses) are fixed-shape block trees in double followed
 * by a fixed-order sum of the block partials; col2im and maxpool_backward
 * gather per input element in the CPU's order, so they match it bit for bit.
 * Reruns give identical bits. */
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "nn/backend.h"
}

extern "C" {
const nn_backend *nn_backend_cuda(void);
int nn_cuda_open(int local_rank, char *msg, size_t msg_size);
void nn_cuda_close(void);
}

/* ---- state, errors ---- */

enum { THREADS = 256 };
static const unsigned MAX_BLOCKS = 1u << 20; /* grid-stride loops cover the rest */

static cudaStream_t g_stream;
static cublasHandle_t g_blas;
static int g_dev = -1;
static int g_pageable;         /* the device reads pageable host memory directly */
static char g_desc[320];       /* nn_cuda_open's description, kept for a second call */
static const char *g_op = "setup"; /* the op running, for error messages */

static void fatal(const char *what) {
    fprintf(stderr, "nntrain: CUDA error in %s: %s\n", g_op, what);
    fflush(stderr);
    abort();
}

static void ck(cudaError_t e, const char *call) {
    if (e == cudaSuccess) return;
    char line[256];
    snprintf(line, sizeof line, "%s (%s)", cudaGetErrorString(e), call);
    fatal(line);
}

static void ckb(cublasStatus_t s, const char *call) {
    if (s == CUBLAS_STATUS_SUCCESS) return;
    char line[256];
    snprintf(line, sizeof line, "cuBLAS: %s (%s)", cublasGetStatusString(s), call);
    fatal(line);
}

/* Launch on the op's stream and check the launch itself; faults inside the
 * kernel surface at the op's cudaStreamSynchronize. */
#define LAUNCH(kernel, grid, block, ...)                                                   \
    do {                                                                                   \
        kernel<<<(grid), (block), 0, g_stream>>>(__VA_ARGS__);                             \
        ck(cudaGetLastError(), "launch " #kernel);                                         \
    } while (0)

#define GRID_LOOP(i, n)                                                                    \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                \
         i += (size_t)gridDim.x * blockDim.x)

static unsigned grid_for(size_t n) {
    size_t b = (n + THREADS - 1) / THREADS;
    return b > MAX_BLOCKS ? MAX_BLOCKS : (unsigned)b;
}

/* ---- device scratch: an arena of chunks, emptied after every op ---- */

enum { POOL_CHUNKS = 48 }; /* each new chunk at least doubles the total */
static struct {
    char *base[POOL_CHUNKS];
    size_t size[POOL_CHUNKS];
    int n;
    size_t used;  /* bytes used in the last chunk */
    size_t total; /* bytes in all chunks */
    size_t want;  /* what the last op needed: the next chunk's least size */
} g_pool;

static void *pool_get(size_t bytes) {
    bytes = (bytes + 255) & ~(size_t)255;
    int last = g_pool.n - 1;
    if (last >= 0 && g_pool.size[last] - g_pool.used >= bytes) {
        void *p = g_pool.base[last] + g_pool.used;
        g_pool.used += bytes;
        return p;
    }
    if (g_pool.n == POOL_CHUNKS) fatal("device scratch pool has too many chunks");
    size_t size = bytes;
    if (size < 2 * g_pool.total) size = 2 * g_pool.total;
    if (size < g_pool.want) size = g_pool.want;
    if (size < ((size_t)1 << 20)) size = (size_t)1 << 20;
    void *p = NULL;
    ck(cudaMalloc(&p, size), "cudaMalloc (device scratch)");
    g_pool.base[g_pool.n] = (char *)p;
    g_pool.size[g_pool.n++] = size;
    g_pool.total += size;
    g_pool.used = bytes;
    return p;
}

/* After an op (the stream is idle): keep one chunk; when the op needed
 * several, free them all and let the next op allocate one as large. */
static void pool_reset(void) {
    g_pool.used = 0;
    if (g_pool.n <= 1) return;
    g_pool.want = g_pool.total;
    for (int i = 0; i < g_pool.n; i++) ck(cudaFree(g_pool.base[i]), "cudaFree (device scratch)");
    g_pool.n = 0;
    g_pool.total = 0;
}

/* ---- staging of host pointers ---- */

typedef struct {
    void *host, *dev;
    size_t bytes;
    bool back; /* an output: copied back to host after the op */
} stage_rec;

enum { MAX_STAGED = 16 };
static stage_rec g_staged[MAX_STAGED];
static int g_nstaged;

/* The address a kernel may use for p, or NULL when p must be staged. */
static void *device_view(const void *p) {
    cudaPointerAttributes a;
    cudaError_t e = cudaPointerGetAttributes(&a, p);
    if (e != cudaSuccess) { /* runtimes before 11 reject unregistered memory */
        (void)cudaGetLastError();
        return g_pageable ? (void *)p : NULL;
    }
    switch (a.type) {
    case cudaMemoryTypeDevice:
    case cudaMemoryTypeManaged:
    case cudaMemoryTypeHost: return a.devicePointer;
    default: return g_pageable ? (void *)p : NULL;
    }
}

static void *stage(const void *p, size_t bytes, bool back) {
    if (!p || !bytes) return (void *)p;
    void *d = device_view(p);
    if (d) return d;
    for (int i = 0; i < g_nstaged; i++) /* the same buffer twice (chan_affine's y == x) */
        if (g_staged[i].host == p && g_staged[i].bytes == bytes) {
            g_staged[i].back = g_staged[i].back || back;
            return g_staged[i].dev;
        }
    if (g_nstaged == MAX_STAGED) fatal("too many host buffers staged in one op");
    d = pool_get(bytes);
    ck(cudaMemcpyAsync(d, p, bytes, cudaMemcpyHostToDevice, g_stream),
       "cudaMemcpyAsync (stage in)");
    g_staged[g_nstaged++] = stage_rec{(void *)p, d, bytes, back};
    return d;
}

/* An op's input, or its output (read too), as `count` elements of T. */
template <class T> static const T *in(const T *p, size_t count) {
    return (const T *)stage(p, count * sizeof(T), false);
}
template <class T> static T *io(T *p, size_t count) {
    return (T *)stage(p, count * sizeof(T), true);
}

/* Zeroed device scratch for an op's results (the device never writes to the
 * host stack, even where it could); fetch copies them out, complete once
 * op_end has waited for the stream. */
static void *scratch_zeroed(size_t bytes) {
    void *p = pool_get(bytes);
    ck(cudaMemsetAsync(p, 0, bytes, g_stream), "cudaMemsetAsync (scratch)");
    return p;
}

static void fetch(void *host, const void *dev, size_t bytes) {
    ck(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, g_stream),
       "cudaMemcpyAsync (result)");
}

static void op_begin(const char *name) {
    g_op = name;
    if (!g_stream) fatal("the CUDA backend is used before nn_cuda_open");
    ck(cudaSetDevice(g_dev), "cudaSetDevice"); /* the current device is per host thread */
    g_nstaged = 0;
}

/* Copy staged outputs back, wait for the stream, empty the scratch. */
static void op_end(void) {
    for (int i = 0; i < g_nstaged; i++)
        if (g_staged[i].back)
            ck(cudaMemcpyAsync(g_staged[i].host, g_staged[i].dev, g_staged[i].bytes,
                               cudaMemcpyDeviceToHost, g_stream),
               "cudaMemcpyAsync (stage out)");
    ck(cudaStreamSynchronize(g_stream), "cudaStreamSynchronize");
    g_nstaged = 0;
    pool_reset();
}

/* ---- deterministic reductions ----
 * Group k (c groups) holds the n * hw elements (i * c + k) * hw + j of an
 * (n, c, hw) tensor; f(index, k) maps one to a pair of doubles. Block (k, b)
 * of nb sums its strided share with a fixed shared-memory tree; a finishing
 * kernel adds a group's nb partials in order. Shapes alone fix the order. */

template <class F>
__global__ void k_group_reduce(F f, int c, size_t count, size_t hw, double2 *part) {
    __shared__ double s1[THREADS], s2[THREADS];
    const int k = blockIdx.x;
    const unsigned nb = gridDim.y;
    double a = 0.0, b = 0.0;
    for (size_t e = (size_t)blockIdx.y * THREADS + threadIdx.x; e < count;
         e += (size_t)nb * THREADS) {
        size_t i = e / hw, j = e - i * hw;
        double2 v = f((i * c + k) * hw + j, k);
        a += v.x;
        b += v.y;
    }
    s1[threadIdx.x] = a;
    s2[threadIdx.x] = b;
    __syncthreads();
    for (int off = THREADS / 2; off > 0; off >>= 1) {
        if ((int)threadIdx.x < off) {
            s1[threadIdx.x] += s1[threadIdx.x + off];
            s2[threadIdx.x] += s2[threadIdx.x + off];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) part[(size_t)k * nb + blockIdx.y] = make_double2(s1[0], s2[0]);
}

/* sums[k] += group k's first total, sums[c + k] += its second. */
__global__ void k_finish_sums(int c, unsigned nb, const double2 *part, double *sums) {
    GRID_LOOP(k, (size_t)c) {
        double a = 0.0, b = 0.0;
        for (unsigned i = 0; i < nb; i++) a += part[k * nb + i].x, b += part[k * nb + i].y;
        sums[k] += a;
        sums[c + k] += b;
    }
}

/* acc[k] += group k's first total, rounded to float once. */
__global__ void k_finish_acc(int c, unsigned nb, const double2 *part, float *acc) {
    GRID_LOOP(k, (size_t)c) {
        double a = 0.0;
        for (unsigned i = 0; i < nb; i++) a += part[k * nb + i].x;
        acc[k] += (float)a;
    }
}

/* Reduce an (n, c, hw) tensor's groups into device partials; returns nb. */
template <class F>
static unsigned group_reduce(F f, int n, int c, size_t hw, double2 **part) {
    const size_t count = (size_t)n * hw, per_block = (size_t)THREADS * 8;
    size_t nb = (count + per_block - 1) / per_block;
    nb = nb < 1 ? 1 : nb > 128 ? 128 : nb;
    *part = (double2 *)pool_get((size_t)c * nb * sizeof(double2));
    LAUNCH(k_group_reduce<F>, dim3((unsigned)c, (unsigned)nb), THREADS, f, c, count, hw, *part);
    return (unsigned)nb;
}

/* Reduce into double sums[2c] (host, managed or device memory). */
template <class F> static void reduce_into_sums(F f, int n, int c, size_t hw, double *sums) {
    double2 *part;
    unsigned nb = group_reduce(f, n, c, hw, &part);
    double *s = io(sums, 2 * (size_t)c);
    LAUNCH(k_finish_sums, grid_for((size_t)c), THREADS, c, nb, part, s);
}

/* ---- memory: managed ---- */

static void *cu_alloc(size_t bytes) {
    op_begin("alloc");
    void *p = NULL;
    cudaError_t e = cudaMallocManaged(&p, bytes ? bytes : 1, cudaMemAttachGlobal);
    if (e == cudaErrorMemoryAllocation) { /* the contract: NULL when out of memory */
        (void)cudaGetLastError();
        return NULL;
    }
    ck(e, "cudaMallocManaged");
    ck(cudaMemsetAsync(p, 0, bytes ? bytes : 1, g_stream), "cudaMemsetAsync");
    op_end();
    return p;
}

/* Needs no stream: memory may be freed after nn_cuda_close. */
static void cu_free(void *p) {
    if (!p) return;
    g_op = "free";
    ck(cudaFree(p), "cudaFree");
}

static bool is_device_memory(const void *p) {
    cudaPointerAttributes a;
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
        (void)cudaGetLastError();
        return false;
    }
    return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
}

static void cu_zero(void *p, size_t bytes) {
    if (!p || !bytes) return;
    op_begin("zero");
    if (is_device_memory(p))
        ck(cudaMemsetAsync(p, 0, bytes, g_stream), "cudaMemsetAsync");
    else
        memset(p, 0, bytes); /* host memory, pinned or not */
    op_end();
}

static void copy_bytes(const char *op, void *dst, const void *src, size_t bytes) {
    if (!bytes || dst == src) return;
    op_begin(op);
    ck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, g_stream), "cudaMemcpyAsync");
    op_end();
}

static void cu_to_host(void *host, const void *src, size_t bytes) {
    copy_bytes("to_host", host, src, bytes);
}

static void cu_from_host(void *dst, const void *host, size_t bytes) {
    copy_bytes("from_host", dst, host, bytes);
}

/* ---- gemm: cuBLAS on the transposed problem ---- */

/* Elements spanned by a row-major (rows, cols) matrix with leading dimension ld. */
static size_t extent(int rows, int cols, int ld) {
    return rows <= 0 || cols <= 0 ? 0 : (size_t)(rows - 1) * ld + cols;
}

/* Row-major C = alpha op(A) op(B) + beta C is column-major C^T = alpha
 * op(B)^T op(A)^T + beta C^T: swap A and B, m and n; the flags stay. */
static void cu_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    op_begin("gemm");
    const float *ad = in(a, ta ? extent(k, m, lda) : extent(m, k, lda));
    const float *bd = in(b, tb ? extent(n, k, ldb) : extent(k, n, ldb));
    float *cd = io(c, extent(m, n, ldc));
    /* with k = 0 cuBLAS still checks the leading dimensions (>= 1) */
    ckb(cublasSgemm(g_blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m,
                    k, &alpha, bd, ldb > 0 ? ldb : 1, ad, lda > 0 ? lda : 1, &beta, cd, ldc),
        "cublasSgemm");
    op_end();
}

/* ---- rows, activations ---- */

__global__ void k_add_row_bias(size_t n, int cols, const float *bias, float *y) {
    GRID_LOOP(i, n) y[i] += bias[i % cols];
}

static void cu_add_row_bias(int rows, int cols, const float *bias, float *y) {
    if (rows <= 0 || cols <= 0) return;
    op_begin("add_row_bias");
    const size_t n = (size_t)rows * cols;
    const float *bd = in(bias, (size_t)cols);
    float *yd = io(y, n);
    LAUNCH(k_add_row_bias, grid_for(n), THREADS, n, cols, bd, yd);
    op_end();
}

/* sum_rows is a group reduction with one group per column (hw = 1). */
struct row_val {
    const float *x;
    __device__ double2 operator()(size_t i, int) const { return make_double2(x[i], 0.0); }
};

static void cu_sum_rows(int rows, int cols, const float *x, float *acc) {
    if (rows <= 0 || cols <= 0) return;
    op_begin("sum_rows");
    double2 *part;
    unsigned nb = group_reduce(row_val{in(x, (size_t)rows * cols)}, rows, cols, 1, &part);
    float *ad = io(acc, (size_t)cols);
    LAUNCH(k_finish_acc, grid_for((size_t)cols), THREADS, cols, nb, part, ad);
    op_end();
}

__global__ void k_add_transposed(size_t n, int rows, int cols, const float *a, float *c) {
    GRID_LOOP(i, n) c[i] += a[(i % cols) * rows + i / cols];
}

static void cu_add_transposed(int rows, int cols, const float *a, float *c) {
    if (rows <= 0 || cols <= 0) return;
    op_begin("add_transposed");
    const size_t n = (size_t)rows * cols;
    const float *ad = in(a, n);
    float *cd = io(c, n);
    LAUNCH(k_add_transposed, grid_for(n), THREADS, n, rows, cols, ad, cd);
    op_end();
}

__global__ void k_act_forward(int act, float alpha, size_t n, const float *x, float *y) {
    GRID_LOOP(i, n) {
        const float v = x[i];
        switch (act) {
        case NN_ACT_SIGMOID: y[i] = 1.0f / (1.0f + expf(-v)); break;
        case NN_ACT_RELU: y[i] = v > 0.0f ? v : 0.0f; break;
        case NN_ACT_TANH: y[i] = 2.0f / (1.0f + expf(-2.0f * v)) - 1.0f; break; /* 2 s(2x) - 1 */
        case NN_ACT_GELU: y[i] = v * normcdff(v); break;
        default: y[i] = v > 0.0f ? v : alpha * v; break; /* leaky_relu */
        }
    }
}

__global__ void k_act_backward(int act, float alpha, size_t n, const float *x, const float *y,
                               const float *dy, float *dx) {
    GRID_LOOP(i, n) {
        if (act == NN_ACT_GELU) { /* from x: Phi(x) + x phi(x) */
            const float u = x[i];
            dx[i] = dy[i] * (normcdff(u) + u * 0.39894228040143268f * expf(-0.5f * u * u));
            continue;
        }
        const float v = y[i];
        switch (act) {
        case NN_ACT_SIGMOID: dx[i] = dy[i] * v * (1.0f - v); break;
        case NN_ACT_RELU: dx[i] = v > 0.0f ? dy[i] : 0.0f; break;
        case NN_ACT_TANH: dx[i] = dy[i] * (1.0f - v * v); break;
        default: dx[i] = v > 0.0f ? dy[i] : alpha * dy[i]; break; /* leaky_relu */
        }
    }
}

static void cu_act_forward(nn_act act, float alpha, size_t n, const float *x, float *y) {
    if (!n || (int)act < 0 || (int)act >= NN_ACT_COUNT) return; /* as the CPU: no-op */
    op_begin("act_forward");
    const float *xd = in(x, n);
    float *yd = io(y, n);
    LAUNCH(k_act_forward, grid_for(n), THREADS, (int)act, alpha, n, xd, yd);
    op_end();
}

static void cu_act_backward(nn_act act, float alpha, size_t n, const float *x, const float *y,
                            const float *dy, float *dx) {
    if (!n || (int)act < 0 || (int)act >= NN_ACT_COUNT) return;
    op_begin("act_backward");
    /* gelu reads x, the others y; only the one read is staged */
    const bool from_x = act == NN_ACT_GELU;
    const float *xd = from_x ? in(x, n) : NULL, *yd = from_x ? NULL : in(y, n);
    const float *dyd = in(dy, n);
    float *dxd = io(dx, n);
    LAUNCH(k_act_backward, grid_for(n), THREADS, (int)act, alpha, n, xd, yd, dyd, dxd);
    op_end();
}

/* ---- convolution lowering ---- */

/* One thread per column-matrix element (row (ch, ki, kj), column (y, x)). */
__global__ void k_im2col(const float *x, int c, int h, int w, int r, int s, int p, int ow,
                         int oy0, int oy1, float *col, size_t ldc, size_t col0) {
    const size_t band = (size_t)(oy1 - oy0) * ow;
    GRID_LOOP(e, (size_t)c * r * r * band) {
        const size_t row = e / band, pos = e - row * band;
        const int ch = (int)(row / ((size_t)r * r)), ki = (int)(row / r % r), kj = (int)(row % r);
        const int iy = (oy0 + (int)(pos / ow)) * s - p + ki, ix = (int)(pos % ow) * s - p + kj;
        const bool inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
        col[row * ldc + col0 + pos] = inside ? x[((size_t)ch * h + iy) * w + ix] : 0.0f;
    }
}

/* The adjoint as a gather, one thread per input element: it adds the
 * columns that read it in (ki, kj) order, the CPU's order, so the result
 * matches it exactly and needs no atomics. */
__global__ void k_col2im(const float *col, size_t ldc, size_t col0, int c, int h, int w, int r,
                         int s, int p, int ow, int oy0, int oy1, float *dx) {
    GRID_LOOP(e, (size_t)c * h * w) {
        const int ch = (int)(e / ((size_t)h * w));
        const int iy = (int)(e / w % h), ix = (int)(e % w);
        float v = dx[e];
        for (int ki = 0; ki < r; ki++) {
            const int ty = iy + p - ki; /* = y * s */
            if (ty < 0 || ty % s || ty / s < oy0 || ty / s >= oy1) continue;
            for (int kj = 0; kj < r; kj++) {
                const int tx = ix + p - kj;
                if (tx < 0 || tx % s || tx / s >= ow) continue;
                const size_t row = ((size_t)ch * r + ki) * r + kj;
                v += col[row * ldc + col0 + (size_t)(ty / s - oy0) * ow + tx / s];
            }
        }
        dx[e] = v;
    }
}

static void cu_im2col(const float *x, int c, int h, int w, int r, int s, int p, int oh, int ow,
                      int oy0, int oy1, float *col, size_t ldc, size_t col0) {
    (void)oh;
    const size_t rows = (size_t)c * r * r, band = (size_t)(oy1 - oy0) * ow;
    if (!rows || !band || oy1 <= oy0) return;
    op_begin("im2col");
    const float *xd = in(x, (size_t)c * h * w);
    float *cd = io(col, (rows - 1) * ldc + col0 + band);
    LAUNCH(k_im2col, grid_for(rows * band), THREADS, xd, c, h, w, r, s, p, ow, oy0, oy1, cd, ldc,
           col0);
    op_end();
}

static void cu_col2im(float *col, size_t ldc, size_t col0, int c, int h, int w, int r,
                      int s, int p, int oh, int ow, int oy0, int oy1, float *dx) {
    (void)oh;
    const size_t rows = (size_t)c * r * r, band = (size_t)(oy1 - oy0) * ow, n = (size_t)c * h * w;
    if (!rows || !band || !n || oy1 <= oy0) return;
    op_begin("col2im");
    const float *cd = in(col, (rows - 1) * ldc + col0 + band);
    float *dxd = io(dx, n);
    LAUNCH(k_col2im, grid_for(n), THREADS, cd, ldc, col0, c, h, w, r, s, p, ow, oy0, oy1, dxd);
    op_end();
}

/* ---- per-channel ops (BatchNorm, normalize) ---- */

struct chan_val_sq {
    const float *x;
    __device__ double2 operator()(size_t i, int) const {
        const double v = x[i];
        return make_double2(v, v * v);
    }
};

static void cu_chan_sums(int n, int c, size_t hw, const float *x, double *sums) {
    if (n <= 0 || c <= 0 || !hw) return;
    op_begin("chan_sums");
    reduce_into_sums(chan_val_sq{in(x, (size_t)n * c * hw)}, n, c, hw, sums);
    op_end();
}

__global__ void k_chan_affine(size_t total, int c, size_t hw, const float *x, const float *scale,
                              const float *shift, float *y) {
    GRID_LOOP(i, total) {
        const int k = (int)(i / hw % c);
        y[i] = scale[k] * x[i] + shift[k];
    }
}

static void cu_chan_affine(int n, int c, size_t hw, const float *x, const float *scale,
                           const float *shift, float *y) {
    if (n <= 0 || c <= 0 || !hw) return;
    op_begin("chan_affine");
    const size_t total = (size_t)n * c * hw;
    const float *xd = in(x, total), *sd = in(scale, (size_t)c), *td = in(shift, (size_t)c);
    float *yd = io(y, total); /* y == x: the same staged buffer */
    LAUNCH(k_chan_affine, grid_for(total), THREADS, total, c, hw, xd, sd, td, yd);
    op_end();
}

__global__ void k_chan_standardize(size_t total, int c, size_t hw, const float *x,
                                   const float *mean, const float *inv, float *y) {
    GRID_LOOP(i, total) {
        const int k = (int)(i / hw % c);
        y[i] = (x[i] - mean[k]) * inv[k];
    }
}

static void cu_chan_standardize(int n, int c, size_t hw, const float *x, const float *mean,
                                const float *inv, float *y) {
    if (n <= 0 || c <= 0 || !hw) return;
    op_begin("chan_standardize");
    const size_t total = (size_t)n * c * hw;
    const float *xd = in(x, total), *md = in(mean, (size_t)c), *vd = in(inv, (size_t)c);
    float *yd = io(y, total);
    LAUNCH(k_chan_standardize, grid_for(total), THREADS, total, c, hw, xd, md, vd, yd);
    op_end();
}

struct bn_dy_dyxhat {
    const float *x, *dy, *mean, *inv_std;
    __device__ double2 operator()(size_t i, int k) const {
        const float xhat = (x[i] - mean[k]) * inv_std[k];
        return make_double2(dy[i], (double)dy[i] * xhat);
    }
};

static void cu_bn_grad_sums(int n, int c, size_t hw, const float *x, const float *dy,
                            const float *mean, const float *inv_std, double *sums) {
    if (n <= 0 || c <= 0 || !hw) return;
    op_begin("bn_grad_sums");
    const size_t total = (size_t)n * c * hw;
    bn_dy_dyxhat f{in(x, total), in(dy, total), in(mean, (size_t)c), in(inv_std, (size_t)c)};
    reduce_into_sums(f, n, c, hw, sums);
    op_end();
}

__global__ void k_bn_grad_input(size_t total, int c, size_t hw, const float *x, const float *dy,
                                const float *mean, const float *inv_std, const float *g,
                                const float *a, const float *b, float *dx) {
    GRID_LOOP(i, total) {
        const int k = (int)(i / hw % c);
        const float xhat = (x[i] - mean[k]) * inv_std[k];
        dx[i] = g[k] * (dy[i] - a[k] - xhat * b[k]);
    }
}

static void cu_bn_grad_input(int n, int c, size_t hw, const float *x, const float *dy,
                             const float *mean, const float *inv_std, const float *g,
                             const float *a, const float *b, float *dx) {
    if (n <= 0 || c <= 0 || !hw) return;
    op_begin("bn_grad_input");
    const size_t total = (size_t)n * c * hw, cc = (size_t)c;
    const float *xd = in(x, total), *dyd = in(dy, total), *md = in(mean, cc);
    const float *id = in(inv_std, cc), *gd = in(g, cc), *ad = in(a, cc), *bd = in(b, cc);
    float *dxd = io(dx, total);
    LAUNCH(k_bn_grad_input, grid_for(total), THREADS, total, c, hw, xd, dyd, md, id, gd, ad, bd,
           dxd);
    op_end();
}

/* ---- max pooling ---- */

/* One thread per output: the window's maximum in row-major order. */
__global__ void k_maxpool_forward(size_t planes, int h, int w, int d, int s, int oh, int ow,
                                  const float *x, float *y) {
    const size_t ohw = (size_t)oh * ow;
    GRID_LOOP(e, planes * ohw) {
        const size_t pl = e / ohw, pos = e - pl * ohw;
        const float *win = x + pl * h * w + (pos / ow) * s * w + (pos % ow) * s;
        float m = win[0];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) m = win[i * w + j] > m ? win[i * w + j] : m;
        y[e] = m;
    }
}

/* One thread per input element: the sum, in window order, of the dy of the
 * windows whose first position holding their maximum is this element.
 * Overlapping windows (s < d) need no atomics, and the sums come out in
 * the CPU's order, bit for bit; elements no window routes to get 0. */
__global__ void k_maxpool_backward(size_t planes, int h, int w, int d, int s, int oh, int ow,
                                   const float *x, const float *y, const float *dy, float *dx) {
    const size_t hw = (size_t)h * w, ohw = (size_t)oh * ow;
    GRID_LOOP(e, planes * hw) {
        const size_t pl = e / hw;
        const int iy = (int)((e - pl * hw) / w), ix = (int)(e % w);
        const float *xp = x + pl * hw;
        /* the windows covering (iy, ix): o * s <= i < o * s + d */
        const int y0 = iy < d ? 0 : (iy - d + s) / s, y1 = min(iy / s, oh - 1);
        const int x0 = ix < d ? 0 : (ix - d + s) / s, x1 = min(ix / s, ow - 1);
        float acc = 0.0f;
        for (int oy = y0; oy <= y1; oy++)
            for (int ox = x0; ox <= x1; ox++) {
                const size_t o = pl * ohw + (size_t)oy * ow + ox;
                const float m = y[o];
                if (xp[(size_t)iy * w + ix] != m) continue;
                /* ours unless an earlier position of the window holds m */
                const int by = oy * s, bx = ox * s;
                bool first = true;
                for (int i = by; i <= iy && first; i++)
                    for (int j = bx; j < bx + d && first; j++) {
                        if (i == iy && j == ix) break;
                        if (xp[(size_t)i * w + j] == m) first = false;
                    }
                if (first) acc += dy[o];
            }
        dx[e] = acc;
    }
}

static void cu_maxpool_forward(size_t planes, int h, int w, int d, int s, int oh, int ow,
                               const float *x, float *y) {
    const size_t ny = planes * oh * ow;
    if (!ny) return;
    op_begin("maxpool_forward");
    const float *xd = in(x, planes * h * w);
    float *yd = io(y, ny);
    LAUNCH(k_maxpool_forward, grid_for(ny), THREADS, planes, h, w, d, s, oh, ow, xd, yd);
    op_end();
}

static void cu_maxpool_backward(size_t planes, int h, int w, int d, int s, int oh, int ow,
                                const float *x, const float *y, const float *dy, float *dx) {
    const size_t nx = planes * h * w, ny = planes * oh * ow;
    if (!nx) return;
    op_begin("maxpool_backward");
    const float *xd = in(x, nx), *yd = in(y, ny), *dyd = in(dy, ny);
    float *dxd = io(dx, nx);
    LAUNCH(k_maxpool_backward, grid_for(nx), THREADS, planes, h, w, d, s, oh, ow, xd, yd, dyd,
           dxd);
    op_end();
}

/* ---- dropout, copy ---- */

/* src/core/rng.c's splitmix64, on the device. */
__device__ uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

__device__ uint64_t hash64(uint64_t a, uint64_t b) {
    return mix64(mix64(a + 0x9e3779b97f4a7c15ULL) ^ b);
}

/* Unit j of sample i: the j-th (0-based) nn_rng_uniform of the stream
 * nn_rng_seed(key, nn_hash64(ids[i], salt)), computed directly: the state
 * after j + 1 steps is seed + (j + 1) * golden. The CPU's masks exactly. */
__global__ void k_dropout(size_t total, size_t m, float rate, float scale, uint64_t key,
                          const uint64_t *ids, uint64_t salt, const float *x, float *y) {
    GRID_LOOP(e, total) {
        const size_t i = e / m, j = e - i * m;
        const uint64_t seed = hash64(key, hash64(ids[i], salt));
        const uint64_t z = mix64(seed + (uint64_t)(j + 1) * 0x9e3779b97f4a7c15ULL);
        const float u = (float)(z >> 40) * (1.0f / 16777216.0f);
        y[e] = u < rate ? 0.0f : x[e] * scale;
    }
}

static void cu_dropout(int n, size_t m, float rate, uint64_t key, const uint64_t *ids,
                       uint64_t salt, const float *x, float *y) {
    if (n <= 0 || !m) return;
    op_begin("dropout");
    const size_t total = (size_t)n * m;
    const float scale = 1.0f / (1.0f - rate); /* on the host, as the CPU computes it */
    const uint64_t *idd = in(ids, (size_t)n);
    const float *xd = in(x, total);
    float *yd = io(y, total);
    LAUNCH(k_dropout, grid_for(total), THREADS, total, m, rate, scale, key, idd, salt, xd, yd);
    op_end();
}

/* y = x with memmove's semantics: cudaMemcpy takes any pair of pointers
 * (cudaMemcpyDefault), and overlapping ranges go through the scratch. */
static void cu_copy(size_t n, const float *x, float *y) {
    if (!n || x == y) return;
    op_begin("copy");
    const size_t bytes = n * sizeof(float);
    const uintptr_t xa = (uintptr_t)x, ya = (uintptr_t)y;
    if (xa < ya + bytes && ya < xa + bytes) {
        void *tmp = pool_get(bytes);
        ck(cudaMemcpyAsync(tmp, x, bytes, cudaMemcpyDefault, g_stream), "cudaMemcpyAsync");
        ck(cudaMemcpyAsync(y, tmp, bytes, cudaMemcpyDefault, g_stream), "cudaMemcpyAsync");
    } else {
        ck(cudaMemcpyAsync(y, x, bytes, cudaMemcpyDefault, g_stream), "cudaMemcpyAsync");
    }
    op_end();
}

__global__ void k_add(size_t n, const float *a, const float *b, float *y) {
    GRID_LOOP(i, n) y[i] = a[i] + b[i];
}

static void cu_add(size_t n, const float *a, const float *b, float *y) {
    if (!n) return;
    op_begin("add");
    const float *ad = in(a, n), *bd = in(b, n);
    float *yd = io(y, n);
    LAUNCH(k_add, grid_for(n), THREADS, n, ad, bd, yd);
    op_end();
}

/* ---- optimizer update rules: cpu.c's step_* formulas, one thread each ---- */

__global__ void k_update(nn_update u, size_t n, float *w, const float *g, float *s0, float *s1) {
    GRID_LOOP(i, n) {
        const float gi = g[i] + u.wd * w[i];
        switch (u.rule) {
        case NN_OPT_SGD: w[i] -= u.lr * gi; break;
        case NN_OPT_MOMENTUM:
            s0[i] = u.a * s0[i] - u.lr * gi;
            w[i] += u.nesterov ? u.a * s0[i] - u.lr * gi : s0[i];
            break;
        case NN_OPT_ADAGRAD:
            s0[i] += gi * gi;
            w[i] -= u.lr * gi / sqrtf(s0[i]);
            break;
        case NN_OPT_RMSPROP:
            s0[i] = u.a * s0[i] + (1.0f - u.a) * gi * gi;
            w[i] -= u.lr * gi / (sqrtf(s0[i]) + u.eps);
            break;
        case NN_OPT_ADADELTA: {
            s0[i] = u.a * s0[i] + (1.0f - u.a) * gi * gi;
            const float d = sqrtf(s1[i] + u.eps) / sqrtf(s0[i] + u.eps) * gi;
            s1[i] = u.a * s1[i] + (1.0f - u.a) * d * d;
            w[i] -= u.lr * d;
            break;
        }
        case NN_OPT_ADAM:
            s0[i] = u.a * s0[i] + (1.0f - u.a) * gi;
            s1[i] = u.b * s1[i] + (1.0f - u.b) * gi * gi;
            w[i] -= u.step * s0[i] / (sqrtf(s1[i]) * u.isq + u.eps);
            break;
        default: break;
        }
    }
}

static void cu_update(const nn_update *u, size_t n, float *w, const float *g, float *s0,
                      float *s1) {
    if (!n || (int)u->rule < 0 || (int)u->rule >= NN_OPT_COUNT) return;
    op_begin("update");
    const int states = u->rule == NN_OPT_SGD                                    ? 0
                       : u->rule == NN_OPT_ADADELTA || u->rule == NN_OPT_ADAM ? 2
                                                                               : 1;
    if ((states >= 1 && !s0) || (states == 2 && !s1)) fatal("the update rule's state is NULL");
    float *wd = io(w, n), *s0d = states >= 1 ? io(s0, n) : NULL;
    float *s1d = states == 2 ? io(s1, n) : NULL;
    const float *gd = in(g, n);
    LAUNCH(k_update, grid_for(n), THREADS, *u, n, wd, gd, s0d, s1d);
    op_end();
}

/* ---- losses: one row (one value) per reduced element, loss.c's formulas ---- */

struct softmax_row {
    const float *logits;
    const int *labels;
    const float *w;
    int k;
    float scale;
    float *dlogits;
    int *bad; /* set when a label is outside [0, k) */
    __device__ double2 operator()(size_t i, int) const {
        const float *z = logits + i * k;
        const int lab = labels[i];
        if (lab < 0 || lab >= k) {
            *bad = 1;
            return make_double2(0.0, 0.0);
        }
        int best = 0;
        for (int j = 1; j < k; j++)
            if (z[j] > z[best]) best = j;
        const float max = z[best];
        double sum = 0.0;
        for (int j = 0; j < k; j++) sum += exp((double)(z[j] - max));
        const double lse = log(sum) + max;
        const double li = lse - z[lab];
        if (dlogits) {
            float *d = dlogits + i * k;
            const float s = w ? w[lab] * scale : scale;
            for (int j = 0; j < k; j++) {
                const float p = (float)exp((double)z[j] - lse);
                d[j] = (p - (j == lab ? 1.0f : 0.0f)) * s;
            }
        }
        return make_double2(w ? w[lab] * li : li, best == lab ? 1.0 : 0.0);
    }
};

static double cu_softmax_xent(const float *logits, const int *labels, const float *w, int n, int k,
                              float scale, float *dlogits, long *correct) {
    if (n <= 0 || k <= 0) return 0.0;
    op_begin("softmax_xent");
    const size_t nk = (size_t)n * k;
    double *res = (double *)scratch_zeroed(2 * sizeof(double)); /* the loss, the correct count */
    int *bad = (int *)scratch_zeroed(sizeof(int));
    softmax_row f{in(logits, nk), in(labels, (size_t)n), in(w, w ? (size_t)k : 0), k, scale,
                  io(dlogits, dlogits ? nk : 0), bad};
    reduce_into_sums(f, n, 1, 1, res);
    double out[2];
    int bad_host;
    fetch(out, res, sizeof out);
    fetch(&bad_host, bad, sizeof bad_host);
    op_end();
    if (bad_host) fatal("a label is outside [0, classes)");
    if (correct) *correct += (long)out[1];
    return out[0];
}

__device__ double sigmoid_d(double z) {
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    const double e = exp(z);
    return e / (1.0 + e);
}

struct sigmoid_val {
    const float *logits, *targets;
    float scale;
    float *dlogits;
    __device__ double2 operator()(size_t i, int) const {
        const double z = logits[i], t = targets[i];
        if (dlogits) dlogits[i] = (float)((sigmoid_d(z) - t) * scale);
        return make_double2((z > 0 ? z : 0.0) - z * t + log1p(exp(-fabs(z))), 0.0);
    }
};

static double cu_sigmoid_xent(const float *logits, const float *targets, int n, float scale,
                              float *dlogits) {
    if (n <= 0) return 0.0;
    op_begin("sigmoid_xent");
    const size_t nn = (size_t)n;
    double *res = (double *)scratch_zeroed(2 * sizeof(double));
    sigmoid_val f{in(logits, nn), in(targets, nn), scale, io(dlogits, dlogits ? nn : 0)};
    reduce_into_sums(f, n, 1, 1, res);
    double out[2];
    fetch(out, res, sizeof out);
    op_end();
    return out[0];
}

/* ---- the table, open, close ---- */

static nn_backend make_table(void) {
    nn_backend b{};
    b.name = "cuda";
    b.alloc = cu_alloc;
    b.free = cu_free;
    b.zero = cu_zero;
    b.to_host = cu_to_host;
    b.from_host = cu_from_host;
    b.gemm = cu_gemm;
    b.add_row_bias = cu_add_row_bias;
    b.sum_rows = cu_sum_rows;
    b.add_transposed = cu_add_transposed;
    b.act_forward = cu_act_forward;
    b.act_backward = cu_act_backward;
    b.im2col = cu_im2col;
    b.col2im = cu_col2im;
    b.chan_sums = cu_chan_sums;
    b.chan_affine = cu_chan_affine;
    b.chan_standardize = cu_chan_standardize;
    b.bn_grad_sums = cu_bn_grad_sums;
    b.bn_grad_input = cu_bn_grad_input;
    b.maxpool_forward = cu_maxpool_forward;
    b.maxpool_backward = cu_maxpool_backward;
    b.dropout = cu_dropout;
    b.copy = cu_copy;
    b.add = cu_add;
    b.update = cu_update;
    b.softmax_xent = cu_softmax_xent;
    b.sigmoid_xent = cu_sigmoid_xent;
    return b;
}

static const nn_backend g_cuda = make_table();

const nn_backend *nn_backend_cuda(void) { return &g_cuda; }

/* On failure: msg says why, what was created is released, -1. */
static int open_fail(char *msg, size_t msg_size, const char *what, const char *why) {
    if (msg && msg_size) snprintf(msg, msg_size, "%s: %s", what, why);
    (void)cudaGetLastError();
    nn_cuda_close();
    return -1;
}

int nn_cuda_open(int local_rank, char *msg, size_t msg_size) {
    if (g_stream) { /* already open: the same device */
        if (msg && msg_size) snprintf(msg, msg_size, "%s", g_desc);
        return 0;
    }
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) return open_fail(msg, msg_size, "no usable GPU", cudaGetErrorString(e));
    if (count <= 0) return open_fail(msg, msg_size, "no usable GPU", "no CUDA device visible");
    const int dev = (local_rank < 0 ? 0 : local_rank) % count;
    cudaDeviceProp prop;
    if ((e = cudaSetDevice(dev)) != cudaSuccess || (e = cudaFree(0)) != cudaSuccess ||
        (e = cudaGetDeviceProperties(&prop, dev)) != cudaSuccess)
        return open_fail(msg, msg_size, "cannot use the GPU", cudaGetErrorString(e));
    int managed = 0;
    if ((e = cudaDeviceGetAttribute(&managed, cudaDevAttrManagedMemory, dev)) != cudaSuccess ||
        (e = cudaDeviceGetAttribute(&g_pageable, cudaDevAttrPageableMemoryAccess, dev)) !=
            cudaSuccess)
        return open_fail(msg, msg_size, "cannot query the GPU", cudaGetErrorString(e));
    if (!managed)
        return open_fail(msg, msg_size, prop.name, "no managed memory (cudaMallocManaged)");
    g_pageable = g_pageable == 1;
    if ((e = cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking)) != cudaSuccess)
        return open_fail(msg, msg_size, "cudaStreamCreate", cudaGetErrorString(e));
    cublasStatus_t s;
    if ((s = cublasCreate(&g_blas)) != CUBLAS_STATUS_SUCCESS ||
        (s = cublasSetStream(g_blas, g_stream)) != CUBLAS_STATUS_SUCCESS ||
        (s = cublasSetMathMode(g_blas, CUBLAS_DEFAULT_MATH)) != CUBLAS_STATUS_SUCCESS) /* no TF32 */
        return open_fail(msg, msg_size, "cuBLAS", cublasGetStatusString(s));
    g_dev = dev;
    snprintf(g_desc, sizeof g_desc, "GPU %d of %d: %.200s, %zu GiB, compute %d.%d", dev, count,
             prop.name, (prop.totalGlobalMem + ((size_t)1 << 29)) >> 30, prop.major, prop.minor);
    if (msg && msg_size) snprintf(msg, msg_size, "%s", g_desc);
    return 0;
}

/* Release the handle, the stream and the scratch. Memory from alloc is not
 * released here: the table's free does that, before or after close. */
void nn_cuda_close(void) {
    if (g_blas) cublasDestroy(g_blas);
    if (g_stream) cudaStreamDestroy(g_stream);
    for (int i = 0; i < g_pool.n; i++) cudaFree(g_pool.base[i]);
    memset(&g_pool, 0, sizeof g_pool);
    g_blas = NULL;
    g_stream = NULL;
    g_dev = -1;
    g_pageable = 0;
    g_desc[0] = '\0';
}
