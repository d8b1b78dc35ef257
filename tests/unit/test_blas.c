/* test_blas.c: the backend's GEMM (all four transpose cases, with alpha,
 * beta and leading dimensions) against naive loops, and the row kernels. */
#include <math.h>
#include <stdlib.h>

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
    be->act_backward(NN_ACT_LEAKY_RELU, 0.2f, 4, s, dy, dx);
    CU_ASSERT_DOUBLE_EQUAL(dx[0], 0.2, 1e-7);
    CU_ASSERT_EQUAL(dx[3], 4);
    be->act_forward(NN_ACT_LEAKY_RELU, 0.05f, 4, x, s);
    CU_ASSERT_DOUBLE_EQUAL(s[0], -0.1, 1e-7);
    be->act_backward(NN_ACT_LEAKY_RELU, 0.05f, 4, s, dy, dx);
    CU_ASSERT_DOUBLE_EQUAL(dx[0], 0.05, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(dx[2], 3, 1e-7);
}

void register_blas_tests(void) {
    CU_pSuite s = CU_add_suite("backend", NULL, NULL);
    CU_add_test(s, "gemm NN vs naive", test_gemm_nn);
    CU_add_test(s, "gemm TN vs naive", test_gemm_tn);
    CU_add_test(s, "gemm NT vs naive", test_gemm_nt);
    CU_add_test(s, "gemm TT vs naive", test_gemm_tt);
    CU_add_test(s, "gemm 100x100x784 vs naive", test_gemm_large);
    CU_add_test(s, "bias, row sums, activations", test_row_kernels);
}
