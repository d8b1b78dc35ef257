/* backend.h: the compute a layer may ask for, as a table of function pointers.
 * Layer code calls these and never contains device-specific code; the CPU
 * backend (OpenBLAS) is src/backend/cpu.c. A CUDA backend fills the same table.
 * All matrices are row-major float32. */
#ifndef NN_BACKEND_H
#define NN_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    NN_ACT_SIGMOID,
    NN_ACT_RELU,
    NN_ACT_TANH,
    NN_ACT_LEAKY_RELU,
    NN_ACT_GELU,
    NN_ACT_COUNT
} nn_act;

/* The optimizers' update rules (optim.h has their formulas). */
typedef enum {
    NN_OPT_SGD,
    NN_OPT_MOMENTUM,
    NN_OPT_ADAGRAD,
    NN_OPT_RMSPROP,
    NN_OPT_ADADELTA,
    NN_OPT_ADAM,
    NN_OPT_COUNT
} nn_optim_kind;

/* One optimizer step's scalars: lr and weight decay wd for every rule;
 * a: momentum's alpha, rmsprop's / adadelta's rho, adam's beta1; b: adam's
 * beta2; eps; adam's bias corrections folded into step = lr / (1 - b1^t)
 * and isq = 1 / sqrt(1 - b2^t). */
typedef struct {
    nn_optim_kind rule;
    float lr, wd, a, b, eps, step, isq;
    bool nesterov; /* momentum: w += a v - lr g (Nesterov) instead of w += v */
} nn_update;

/* leaky_relu's default slope for x < 0 (the layer's alpha=). */
#define NN_LEAKY_SLOPE 0.2f

typedef struct nn_backend {
    const char *name;
    /* Memory the net owns (parameters, gradients, state, activations,
     * scratch) lives where the backend computes: alloc returns `bytes`
     * zeroed (NULL when out of memory), zero clears, to_host / from_host
     * copy to and from host memory (the CPU backend: malloc and memcpy). */
    void *(*alloc)(size_t bytes);
    void (*free)(void *p);
    void (*zero)(void *p, size_t bytes);
    void (*to_host)(void *host, const void *src, size_t bytes);
    void (*from_host)(void *dst, const void *host, size_t bytes);
    /* C(M,N) = alpha * op(A)(M,K) * op(B)(K,N) + beta * C. */
    void (*gemm)(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);
    /* y(rows, cols) += bias(cols) broadcast over rows. */
    void (*add_row_bias)(int rows, int cols, const float *bias, float *y);
    /* acc(cols) += sum over rows of x(rows, cols). */
    void (*sum_rows)(int rows, int cols, const float *x, float *acc);
    /* c(rows, cols) += a^T, a being (cols, rows); a and c do not overlap. */
    void (*add_transposed)(int rows, int cols, const float *a, float *c);
    /* y = f(x), elementwise over n values; y and x do not overlap. alpha is
     * the activation's parameter: leaky_relu's slope for x < 0 (in [0, 1],
     * the layer's default NN_LEAKY_SLOPE); the other activations ignore it. */
    void (*act_forward)(nn_act act, float alpha, size_t n, const float *x, float *y);
    /* dx = f'(x) * dy. sigmoid, relu, tanh and leaky_relu compute it from the
     * forward output y (leaky_relu's sign(y) = sign(x) needs alpha >= 0); gelu,
     * whose y does not determine x, from the input x. alpha as in act_forward;
     * dx overlaps none of x, y, dy. */
    void (*act_backward)(nn_act act, float alpha, size_t n, const float *x, const float *y,
                         const float *dy, float *dx);
    /* Convolution lowering for ONE sample x (C, H, W), filters R x R, stride
     * s, zero padding p, output (OH, OW), output rows [oy0, oy1) of it:
     * column matrix rows (c, ki, kj) = C*R*R, columns (oh - oy0, ow) written
     * at col[row * ldc + col0 + (oh - oy0)*OW + ow], so a batch's columns sit
     * side by side in one (C*R*R, N*OH*OW) matrix, and a large image can be
     * lowered in bands of rows that fit a cache. */
    void (*im2col)(const float *x, int c, int h, int w, int r, int s, int p, int oh, int ow,
                   int oy0, int oy1, float *col, size_t ldc, size_t col0);
    /* The adjoint: dx (C, H, W) += the column gradients of output rows
     * [oy0, oy1) scattered back. col is scratch to it: entries that fall
     * outside dx may be zeroed. */
    void (*col2im)(float *col, size_t ldc, size_t col0, int c, int h, int w, int r, int s,
                   int p, int oh, int ow, int oy0, int oy1, float *dx);
    /* Kernel-row lowering of a stride-1 convolution (optional: a backend
     * offers all four or none; conv2d lowers with im2col where they are
     * NULL). For kernel row ki the im2col rows (c, ki, kj) are the rows
     * (c, 0, kj) moved down ki output rows, so one lowering col (C*R, L),
     * L = (OH + R - 1) * OW, whose row (c, kj) holds padded rows
     * [0, OH + R - 1) of the input (input row y - p, column x + kj - p, zero
     * outside), gives every kernel row's (C*R, OH*OW) columns as a view
     * ki*OW floats in with leading dimension L: Y = sum over ki of
     * kw[ki] (K, C*R) times that view. im2col_kw writes col for one sample
     * x (C, H, W); col2im_kw is its adjoint, dx += (col's entries that fall
     * outside dx may be zeroed); kern_kw permutes a (K, C, R, R) kernel into
     * kw[ki][k][c*R + kj]; add_kern_kw adds per-kernel-row gradients, each
     * transposed, dkwt[ki][c*R + kj][k], into dkern (K, C, R, R). */
    void (*im2col_kw)(const float *x, int c, int h, int w, int r, int p, int oh, int ow,
                      float *col);
    void (*col2im_kw)(float *col, int c, int h, int w, int r, int p, int oh, int ow, float *dx);
    void (*kern_kw)(int k, int c, int r, const float *kern, float *kw);
    void (*add_kern_kw)(int k, int c, int r, const float *dkwt, float *dkern);

    /* Per-channel ops over (n, c, hw) tensors (BatchNorm, normalize). The
     * tensors are the backend's memory; the per-channel vectors (c values)
     * and the double sums (which the layer reduces across ranks) are host
     * memory. */
    /* sums[k] += the sum of x over n and hw; sums[c + k] += the sum of x^2. */
    void (*chan_sums)(int n, int c, size_t hw, const float *x, double *sums);
    /* y = scale[k] * x + shift[k] (y may be x). */
    void (*chan_affine)(int n, int c, size_t hw, const float *x, const float *scale,
                        const float *shift, float *y);
    /* y = (x - mean[k]) * inv[k] (normalize's exact form). */
    void (*chan_standardize)(int n, int c, size_t hw, const float *x, const float *mean,
                             const float *inv, float *y);
    /* BatchNorm backward, with xhat = (x - mean[k]) * inv_std[k]:
     * sums[k] += the sum of dy, sums[c + k] += the sum of dy * xhat. */
    void (*bn_grad_sums)(int n, int c, size_t hw, const float *x, const float *dy,
                         const float *mean, const float *inv_std, double *sums);
    /* dx = g[k] * (dy - a[k] - xhat * b[k]). */
    void (*bn_grad_input)(int n, int c, size_t hw, const float *x, const float *dy,
                          const float *mean, const float *inv_std, const float *g,
                          const float *a, const float *b, float *dx);
    /* Max pooling over `planes` planes of h x w: d x d windows at stride s
     * -> oh x ow. */
    void (*maxpool_forward)(size_t planes, int h, int w, int d, int s, int oh, int ow,
                            const float *x, float *y);
    /* dx = 0, then each window's dy to the first position holding its
     * maximum y (found again from x: no indices are stored). */
    void (*maxpool_backward)(size_t planes, int h, int w, int d, int s, int oh, int ow,
                             const float *x, const float *y, const float *dy, float *dx);
    /* Inverted dropout of n samples of m values: y = x / (1 - rate) or 0,
     * unit j of sample i dropped when the j-th uniform of the nn_rng stream
     * (key, nn_hash64(ids[i], salt)) is below rate. Backward is the same
     * call on dy: the masks are recomputed, never stored. */
    void (*dropout)(int n, size_t m, float rate, uint64_t key, const uint64_t *ids, uint64_t salt,
                    const float *x, float *y);
    /* y = x over n values. */
    void (*copy)(size_t n, const float *x, float *y);
    /* y = a + b over n values (y may be a or b): a residual join. */
    void (*add)(size_t n, const float *a, const float *b, float *y);
    /* One optimizer step over n parameters w with gradients g and the
     * rule's state s0, s1 (NULL where the rule has none). */
    void (*update)(const nn_update *u, size_t n, float *w, const float *g, float *s0, float *s1);
    /* The losses on logits (loss.h has their exact definitions): the summed
     * loss in double; dlogits (when not NULL) = the gradient times scale;
     * *correct (when not NULL) += the rows whose argmax is their label.
     * labels, w (class weights, may be NULL), targets: backend memory. */
    double (*softmax_xent)(const float *logits, const int *labels, const float *w, int n, int k,
                           float scale, float *dlogits, long *correct);
    double (*sigmoid_xent)(const float *logits, const float *targets, int n, float scale,
                           float *dlogits);
} nn_backend;

/* The CPU backend (OpenBLAS sgemm + plain loops the compiler vectorises). */
const nn_backend *nn_backend_cpu(void);

/* The backend this process computes on: the CPU's unless nn_backend_select
 * chose another (src/backend/select.c). Nets and optimizers are made on it. */
const nn_backend *nn_backend_current(void);
/* --device cpu|cuda|auto for the rank with this node-local index (it gets
 * GPU local_rank mod the GPUs visible). auto: cuda when the binary has it
 * and a GPU is visible, else cpu. Fails (message set) for cuda without one. */
int nn_backend_select(const char *device, int local_rank);
/* What was chosen, for the start-up line: "cpu", "cuda (GPU 0 of 4: ...)". */
const char *nn_backend_note(void);

#ifdef NN_CUDA
/* The CUDA backend (src/backend/cuda/, make CUDA=1): open device
 * local_rank mod count (0, or -1 with the reason in msg), the table, close. */
int nn_cuda_open(int local_rank, char *msg, size_t msg_size);
const nn_backend *nn_backend_cuda(void);
void nn_cuda_close(void);
#endif

/* OpenBLAS set-up for this process: pick threads so ranks x threads = cores,
 * and report which kernel the library chose. See src/backend/blas_setup.c. */
void nn_blas_set_threads(int threads);
const char *nn_blas_corename(void);
int nn_blas_threads(void);
/* If OpenBLAS fell back to a generic kernel on a CPU that has AVX-512/AVX2,
 * re-exec the program with OPENBLAS_CORETYPE set (the core type is read when
 * the library loads). Returns only when no re-exec is needed or possible. */
void nn_blas_fix_coretype(int argc, char **argv);

#endif
