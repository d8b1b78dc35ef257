/* backend.h: the compute a layer may ask for, as a table of function pointers.
 * Layer code calls these and never contains device-specific code; the CPU
 * backend (OpenBLAS) is src/backend/cpu.c. A CUDA backend fills the same table.
 * All matrices are row-major float32. */
#ifndef NN_BACKEND_H
#define NN_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { NN_ACT_SIGMOID, NN_ACT_RELU, NN_ACT_TANH, NN_ACT_LEAKY_RELU, NN_ACT_COUNT } nn_act;

/* leaky_relu's default slope for x < 0 (the layer's alpha=). */
#define NN_LEAKY_SLOPE 0.2f

typedef struct nn_backend {
    const char *name;
    /* C(M,N) = alpha * op(A)(M,K) * op(B)(K,N) + beta * C. */
    void (*gemm)(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);
    /* y(rows, cols) += bias(cols) broadcast over rows. */
    void (*add_row_bias)(int rows, int cols, const float *bias, float *y);
    /* acc(cols) += sum over rows of x(rows, cols). */
    void (*sum_rows)(int rows, int cols, const float *x, float *acc);
    /* y = f(x), elementwise over n values; y and x do not overlap. alpha is
     * the activation's parameter: leaky_relu's slope for x < 0 (in [0, 1],
     * the layer's default NN_LEAKY_SLOPE); the other activations ignore it. */
    void (*act_forward)(nn_act act, float alpha, size_t n, const float *x, float *y);
    /* dx = f'(x) * dy, computed from the forward output y (all our activations
     * allow it: leaky_relu's sign(y) = sign(x) needs alpha >= 0); alpha as in
     * act_forward; no two of y, dy, dx overlap. */
    void (*act_backward)(nn_act act, float alpha, size_t n, const float *y, const float *dy,
                         float *dx);
    /* Convolution lowering for ONE sample x (C, H, W), filters R x R, stride
     * s, zero padding p, output (OH, OW): column matrix rows (c, ki, kj) =
     * C*R*R, columns (oh, ow) written at col[row * ldc + col0 + oh*OW + ow],
     * so a batch's columns sit side by side in one (C*R*R, N*OH*OW) matrix. */
    void (*im2col)(const float *x, int c, int h, int w, int r, int s, int p, int oh, int ow,
                   float *col, size_t ldc, size_t col0);
    /* The adjoint: dx (C, H, W) += the column gradients scattered back. */
    void (*col2im)(const float *col, size_t ldc, size_t col0, int c, int h, int w, int r, int s,
                   int p, int oh, int ow, float *dx);
} nn_backend;

/* The CPU backend (OpenBLAS sgemm + plain loops the compiler vectorises). */
const nn_backend *nn_backend_cpu(void);

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
