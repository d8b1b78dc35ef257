/* cpu.c: the CPU backend. GEMM goes to OpenBLAS; the elementwise kernels are
 * plain loops written so that gcc -O2 vectorises them. */
#include "nn/backend.h"

#include <cblas.h>
#include <math.h>

static void cpu_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void cpu_add_row_bias(int rows, int cols, const float *bias, float *y) {
    for (int r = 0; r < rows; r++) {
        float *yr = y + (size_t)r * cols;
        for (int j = 0; j < cols; j++) yr[j] += bias[j];
    }
}

static void cpu_sum_rows(int rows, int cols, const float *x, float *acc) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * cols;
        for (int j = 0; j < cols; j++) acc[j] += xr[j];
    }
}

static void cpu_act_forward(nn_act act, size_t n, const float *x, float *y) {
    switch (act) {
    case NN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case NN_ACT_RELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case NN_ACT_TANH:
        for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    case NN_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.2f * x[i];
        break;
    case NN_ACT_COUNT:
        break;
    }
}

static void cpu_act_backward(nn_act act, size_t n, const float *y, const float *dy, float *dx) {
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
        for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.2f * dy[i];
        break;
    case NN_ACT_COUNT:
        break;
    }
}

static const nn_backend g_cpu = {
    .name = "cpu",
    .gemm = cpu_gemm,
    .add_row_bias = cpu_add_row_bias,
    .sum_rows = cpu_sum_rows,
    .act_forward = cpu_act_forward,
    .act_backward = cpu_act_backward,
};

const nn_backend *nn_backend_cpu(void) { return &g_cpu; }
