/* test_layers.c: every layer against central finite differences, and the
 * fused softmax-cross-entropy against its definition. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/error.h"
#include "nn/loss.h"
#include "nn/net.h"
#include "nn/rng.h"
#include "testutil.h"

static void check_spec(const char *spec, nn_shape in, int n, double tol) {
    nn_net net;
    int rc = nn_net_create(&net, spec, "test", in, 0, n, nn_backend_cpu());
    if (rc != 0) fprintf(stderr, "%s: %s\n", spec, nn_errmsg());
    CU_ASSERT_FATAL(rc == 0);
    nn_net_init(&net, 5);
    /* Small random biases too, so activations are away from symmetric points. */
    nn_rng r;
    nn_rng_seed(&r, 3, 3);
    for (size_t i = 0; i < net.nparams; i++) net.params[i] += 0.1f * nn_rng_normal(&r);
    double in_err = 0, err = tu_gradcheck(&net, n, 17, &in_err);
    if (err > tol || in_err > tol)
        fprintf(stderr, "\n  %s: param rel err %.2e, input rel err %.2e\n", spec, err, in_err);
    CU_ASSERT(err < tol);
    CU_ASSERT(in_err < tol);
    nn_net_free(&net);
}

static void test_dense_grad(void) { check_spec("dense 4", (nn_shape){3, 1, 2}, 3, 1e-2); }
static void test_dense_nobias_grad(void) {
    check_spec("dense 3 bias=false", (nn_shape){5, 1, 1}, 2, 1e-2);
}
static void test_sigmoid_grad(void) { check_spec("dense 4; sigmoid", (nn_shape){3, 1, 1}, 3, 1e-2); }
static void test_tanh_grad(void) { check_spec("dense 4; tanh", (nn_shape){3, 1, 1}, 3, 1e-2); }
static void test_relu_grad(void) {
    /* ReLU has a kink at 0; random inputs hit it with probability ~0. */
    check_spec("dense 6; relu; dense 2", (nn_shape){4, 1, 1}, 3, 1e-2);
}
static void test_leaky_relu_grad(void) {
    check_spec("dense 6; leaky_relu; dense 2", (nn_shape){4, 1, 1}, 3, 1e-2);
}
static void test_mlp_grad(void) {
    check_spec("dense 7; sigmoid; dense 5; tanh; dense 3", (nn_shape){1, 2, 3}, 4, 1e-2);
}

static void test_dropout_grad(void) {
    check_spec("dense 8; dropout 0.4; dense 3", (nn_shape){4, 1, 1}, 3, 1e-2);
}
static void test_batchnorm_grad(void) {
    check_spec("dense 5; batchnorm; dense 3", (nn_shape){4, 1, 1}, 6, 1e-2);
}
static void test_batchnorm_tanh_grad(void) {
    /* tanh, not relu: BN moves every unit when a weight moves, so a finite
     * difference would cross relu's kink somewhere. */
    check_spec("dense 6; batchnorm eps=0.001; tanh; dense 2", (nn_shape){3, 1, 1}, 5, 1e-2);
}

/* Eval mode: y = gamma (x - E[x]) / sqrt(Var[x] + eps) + beta with the
 * running estimates, which training moved towards the batch statistics. */
static void test_batchnorm_eval_formula(void) {
    nn_net net;
    CU_ASSERT_FATAL(nn_net_create(&net, "batchnorm eps=0.01 momentum=0.5", "t", (nn_shape){3, 1, 1},
                                  0, 4, nn_backend_cpu()) == 0);
    nn_net_init(&net, 1);
    float x[12] = {1, 2, 3, 2, 4, 6, 3, 6, 9, 4, 8, 12}; /* (4, 3) */
    uint64_t ids[4] = {0, 1, 2, 3};
    nn_ctx tr = {.train = true, .n = 4, .global_n = 4, .sample_ids = ids};
    const float *y;
    CU_ASSERT_FATAL(nn_net_forward(&net, &tr, x, &y) == 0);
    /* Training output: each channel normalised to mean 0, variance v/(v+eps). */
    for (int k = 0; k < 3; k++) {
        double m = 0, v = 0;
        for (int n = 0; n < 4; n++) m += y[n * 3 + k];
        for (int n = 0; n < 4; n++) v += (y[n * 3 + k] - m / 4) * (y[n * 3 + k] - m / 4);
        CU_ASSERT_DOUBLE_EQUAL(m / 4, 0.0, 1e-5);
        double bv = (k + 1) * (k + 1) * 1.25; /* biased variance of {1,2,3,4}*(k+1) */
        CU_ASSERT_DOUBLE_EQUAL(v / 4, bv / (bv + 0.01), 1e-4);
    }
    /* Running estimates after one step with momentum 0.5 from (0, 1):
     * mean 0.5 * 2.5(k+1), var 0.5 + 0.5 * unbiased variance. */
    const float *st = net.state;
    for (int k = 0; k < 3; k++) {
        CU_ASSERT_DOUBLE_EQUAL(st[k], 0.5 * 2.5 * (k + 1), 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(st[3 + k], 0.5 + 0.5 * (k + 1) * (k + 1) * 5.0 / 3.0, 1e-4);
    }
    net.params[0] = 2.0f, net.params[3 + 1] = -1.0f; /* gamma_0 = 2, beta_1 = -1 */
    nn_ctx ev = {.train = false, .n = 4, .global_n = 4, .sample_ids = ids};
    CU_ASSERT_FATAL(nn_net_forward(&net, &ev, x, &y) == 0);
    for (int n = 0; n < 4; n++)
        for (int k = 0; k < 3; k++) {
            double g = net.params[k], b = net.params[3 + k];
            double want = g * (x[n * 3 + k] - st[k]) / sqrt(st[3 + k] + 0.01) + b;
            CU_ASSERT_DOUBLE_EQUAL(y[n * 3 + k], want, 1e-5);
        }
    CU_ASSERT_EQUAL(net.nstate, 6);
    CU_ASSERT_STRING_EQUAL(net.layers[0].states[1].name, "moving_variance");
    nn_net_free(&net);
}

/* Keep rate ~ 1 - rate; kept units scaled by 1/(1-rate); identity at test
 * time; the mask of a sample depends on its id, not its slot in the slice. */
static void test_dropout_stats(void) {
    nn_net net;
    const int units = 1000, n = 20;
    CU_ASSERT_FATAL(nn_net_create(&net, "dropout rate=0.3", "t", (nn_shape){units, 1, 1}, 0, n,
                                  nn_backend_cpu()) == 0);
    float *x = malloc(sizeof(float) * units * n);
    for (int i = 0; i < units * n; i++) x[i] = 1.0f;
    uint64_t ids[20], rev[20];
    for (int i = 0; i < n; i++) ids[i] = 100 + (uint64_t)i, rev[i] = 100 + (uint64_t)(n - 1 - i);
    nn_ctx c = {.train = true, .n = n, .global_n = n, .sample_ids = ids, .seed = 4, .epoch = 2};
    const float *y;
    CU_ASSERT_FATAL(nn_net_forward(&net, &c, x, &y) == 0);
    long kept = 0;
    int scale_ok = 1;
    for (int i = 0; i < units * n; i++) {
        if (y[i] != 0.0f) kept++;
        if (y[i] != 0.0f && fabsf(y[i] - 1.0f / 0.7f) > 1e-6f) scale_ok = 0;
    }
    double rate = (double)kept / (units * n); /* 20000 draws: sd ~ 0.0032 */
    CU_ASSERT(fabs(rate - 0.7) < 0.015);
    CU_ASSERT(scale_ok);
    float *first = malloc(sizeof(float) * units);
    memcpy(first, y, sizeof(float) * units); /* sample id 100 */
    c.sample_ids = rev;
    CU_ASSERT_FATAL(nn_net_forward(&net, &c, x, &y) == 0);
    CU_ASSERT(memcmp(first, y + (size_t)(n - 1) * units, sizeof(float) * units) == 0);
    c.epoch = 3; /* a new epoch draws a new mask */
    CU_ASSERT_FATAL(nn_net_forward(&net, &c, x, &y) == 0);
    CU_ASSERT(memcmp(first, y + (size_t)(n - 1) * units, sizeof(float) * units) != 0);
    nn_ctx ev = {.train = false, .n = n, .global_n = n, .sample_ids = ids};
    CU_ASSERT_FATAL(nn_net_forward(&net, &ev, x, &y) == 0);
    int identity = 1;
    for (int i = 0; i < units * n; i++) identity &= y[i] == 1.0f;
    CU_ASSERT(identity);
    free(x), free(first);
    nn_net_free(&net);
}

static void test_conv_grad(void) {
    check_spec("conv2d 3 size=3", (nn_shape){2, 5, 4}, 2, 1e-2);                 /* same, non-square */
    check_spec("conv2d 2 size=3 pad=valid", (nn_shape){3, 6, 5}, 2, 1e-2);       /* valid */
    check_spec("conv2d 4 size=3 stride=2 pad=1", (nn_shape){2, 7, 6}, 2, 1e-2);  /* stride 2 */
    check_spec("conv2d 2 size=2 stride=2 pad=valid bias=false", (nn_shape){1, 4, 6}, 3, 1e-2);
    check_spec("conv2d 2 size=5 pad=2", (nn_shape){1, 5, 5}, 1, 1e-2);
}
static void test_pool_grad(void) {
    check_spec("maxpool 2", (nn_shape){2, 4, 6}, 2, 1e-2);
    check_spec("maxpool 3 stride=2", (nn_shape){1, 7, 5}, 2, 1e-2); /* overlapping windows */
}
/* Conv + per-channel BatchNorm over (N, H, W). No maxpool here: moving one
 * weight moves every value through BN, and a finite difference would then
 * cross some window's max; maxpool has its own check above. */
static void test_normalize_grad(void) {
    check_spec("normalize; conv2d 2; flatten; dense 3", (nn_shape){2, 4, 4}, 2, 1e-2);
}

static void test_cnn_grad(void) {
    check_spec("conv2d 3; batchnorm; tanh; flatten; dense 4", (nn_shape){2, 6, 6}, 3, 1e-2);
}

/* The layer's im2col + GEMM against the definition, a 7-deep loop:
 * y[n][k][oy][ox] = b[k] + sum_c sum_i sum_j W[k][c][i][j] x[n][c][oy*s-p+i][ox*s-p+j]. */
static void test_conv_vs_naive(void) {
    const int N = 2, C = 3, H = 7, W = 6, K = 4, R = 3, S = 2, P = 1;
    nn_net net;
    CU_ASSERT_FATAL(nn_net_create(&net, "conv2d 4 size=3 stride=2 pad=1", "t", (nn_shape){C, H, W},
                                  0, N, nn_backend_cpu()) == 0);
    nn_net_init(&net, 3);
    nn_rng r;
    nn_rng_seed(&r, 8, 8);
    for (int k = 0; k < K; k++) net.params[K * C * R * R + k] = nn_rng_normal(&r); /* bias */
    float x[2 * 3 * 7 * 6];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = nn_rng_normal(&r);
    uint64_t ids[2] = {0, 1};
    nn_ctx c = {.train = false, .n = N, .global_n = N, .sample_ids = ids};
    const float *y;
    CU_ASSERT_FATAL(nn_net_forward(&net, &c, x, &y) == 0);
    const int OH = (H + 2 * P - R) / S + 1, OW = (W + 2 * P - R) / S + 1;
    CU_ASSERT_EQUAL(net.layers[0].out.h, OH);
    CU_ASSERT_EQUAL(net.layers[0].out.w, OW);
    double worst = 0;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double s = net.params[K * C * R * R + k];
                    for (int ch = 0; ch < C; ch++)
                        for (int i = 0; i < R; i++)
                            for (int j = 0; j < R; j++) {
                                int iy = oy * S - P + i, ix = ox * S - P + j;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                s += (double)net.params[((k * C + ch) * R + i) * R + j] *
                                     x[((n * C + ch) * H + iy) * W + ix];
                            }
                    double e = fabs(s - y[((n * K + k) * OH + oy) * OW + ox]);
                    if (e > worst) worst = e;
                }
    CU_ASSERT(worst < 1e-4);
    nn_net_free(&net);
}

/* The layer works through the batch in chunks whose columns fit in cache
 * (here 2 images, then 2, then a last chunk of 1 that writes y directly).
 * Outputs, weight gradients and input gradients must equal those of the
 * images taken one at a time (the path the finite-difference checks cover
 * with whole-batch chunks). */
static void test_conv_chunks(void) {
    const int N = 5, C = 8, H = 28, W = 28, K = 4;
    const size_t in = (size_t)C * H * W, out = (size_t)K * H * W;
    nn_net net;
    CU_ASSERT_FATAL(nn_net_create(&net, "conv2d 4 size=3", "t", (nn_shape){C, H, W}, 0, N,
                                  nn_backend_cpu()) == 0);
    nn_net_init(&net, 3);
    nn_layer *l = &net.layers[0];
    float *x = malloc(sizeof(float) * in * N), *dy = malloc(sizeof(float) * out * N);
    float *y = malloc(sizeof(float) * out * N), *dx = malloc(sizeof(float) * in * N);
    float *y1 = malloc(sizeof(float) * out), *dx1 = malloc(sizeof(float) * in);
    float *dw = calloc(net.nparams, sizeof(float));
    nn_rng r;
    nn_rng_seed(&r, 9, 9);
    for (size_t i = 0; i < in * N; i++) x[i] = nn_rng_normal(&r);
    for (size_t i = 0; i < out * N; i++) dy[i] = nn_rng_normal(&r);
    for (int k = 0; k < K; k++) l->w[K * C * 9 + k] = nn_rng_normal(&r);
    uint64_t ids[5] = {0, 1, 2, 3, 4};
    nn_ctx c = {.train = true, .n = N, .global_n = N, .sample_ids = ids};
    nn_net_zero_grad(&net);
    CU_ASSERT_FATAL(l->ops->forward(l, &c, x, y) == 0);
    CU_ASSERT_FATAL(l->ops->backward(l, &c, x, y, dy, dx) == 0);
    memcpy(dw, l->dw, net.nparams * sizeof(float));
    double ey = 0, edx = 0, edw = 0;
    nn_net_zero_grad(&net);
    for (int i = 0; i < N; i++) {
        nn_ctx c1 = {.train = true, .n = 1, .global_n = 1, .sample_ids = &ids[i]};
        CU_ASSERT_FATAL(l->ops->forward(l, &c1, x + i * in, y1) == 0);
        CU_ASSERT_FATAL(l->ops->backward(l, &c1, x + i * in, y1, dy + i * out, dx1) == 0);
        for (size_t j = 0; j < out; j++) ey = fmax(ey, fabs(y1[j] - y[i * out + j]));
        for (size_t j = 0; j < in; j++) edx = fmax(edx, fabs(dx1[j] - dx[i * in + j]));
    }
    for (size_t j = 0; j < net.nparams; j++)
        edw = fmax(edw, fabs(l->dw[j] - dw[j]) / (1.0 + fabs(dw[j])));
    CU_ASSERT(ey < 1e-4);
    CU_ASSERT(edx < 1e-4);
    CU_ASSERT(edw < 1e-4);
    free(x), free(dy), free(y), free(dx), free(y1), free(dx1), free(dw);
    nn_net_free(&net);
}

static void test_pool_values(void) {
    nn_net net;
    CU_ASSERT_FATAL(nn_net_create(&net, "maxpool 2", "t", (nn_shape){1, 2, 4}, 0, 1,
                                  nn_backend_cpu()) == 0);
    float x[8] = {1, 5, 2, 2, 3, -1, 7, 0}; /* rows {1 5 2 2} {3 -1 7 0} */
    uint64_t id = 0;
    nn_ctx c = {.train = true, .n = 1, .global_n = 1, .sample_ids = &id};
    const float *y;
    CU_ASSERT_FATAL(nn_net_forward(&net, &c, x, &y) == 0);
    CU_ASSERT_EQUAL(y[0], 5);
    CU_ASSERT_EQUAL(y[1], 7);
    float dy[2] = {10, 20}, dx[8];
    nn_layer *l = &net.layers[0];
    CU_ASSERT_FATAL(l->ops->backward(l, &c, x, y, dy, dx) == 0);
    float want[8] = {0, 10, 0, 0, 0, 0, 20, 0}; /* gradient goes to the maximum only */
    for (int i = 0; i < 8; i++) CU_ASSERT_EQUAL(dx[i], want[i]);
    nn_net_free(&net);
}

static void test_conv_spec_errors(void) {
    nn_net net;
    CU_ASSERT(nn_net_create(&net, "conv2d 8 size=7 pad=valid", "m", (nn_shape){1, 5, 5}, 0, 1,
                            nn_backend_cpu()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "does not fit") != NULL);
    CU_ASSERT(nn_net_create(&net, "conv2d 8 pad=wide", "m", (nn_shape){1, 5, 5}, 0, 1,
                            nn_backend_cpu()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "pad=wide") != NULL);
    CU_ASSERT(nn_net_create(&net, "maxpool 4", "m", (nn_shape){1, 3, 3}, 0, 1,
                            nn_backend_cpu()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "does not fit") != NULL);
}

/* softmax-CE: the loss equals -log(softmax) computed naively in double, and
 * dlogits matches finite differences of the mean loss. */
static void test_softmax_xent(void) {
    const int n = 3, k = 4;
    float z[12] = {1, 2, 3, 4, -1, 0, 5, 0.5f, 100, -100, 3, 2}; /* includes huge logits */
    int y[3] = {3, 0, 0};
    float d[12];
    long correct = 0;
    double loss = nn_softmax_xent(z, y, n, k, 1.0f / n, d, &correct);
    double want = 0;
    for (int i = 0; i < n; i++) {
        double m = -1e30, s = 0;
        for (int j = 0; j < k; j++) m = fmax(m, z[i * k + j]);
        for (int j = 0; j < k; j++) s += exp(z[i * k + j] - m);
        want += -(z[i * k + y[i]] - m - log(s));
    }
    CU_ASSERT_DOUBLE_EQUAL(loss, want, 1e-6 * fabs(want));
    CU_ASSERT(isfinite(loss));
    CU_ASSERT_EQUAL(correct, 2); /* rows 0 and 2 are right, row 1 predicts class 2 */
    const float h = 1e-2f;
    for (int i = 0; i < n * k; i++) {
        float keep = z[i];
        z[i] = keep + h;
        double lp = nn_softmax_xent(z, y, n, k, 0, NULL, NULL) / n;
        z[i] = keep - h;
        double lm = nn_softmax_xent(z, y, n, k, 0, NULL, NULL) / n;
        z[i] = keep;
        CU_ASSERT_DOUBLE_EQUAL(d[i], (lp - lm) / (2 * h), 2e-3);
    }
}

static void test_spec_errors(void) {
    nn_net net;
    nn_shape in = {1, 28, 28};
    CU_ASSERT(nn_net_create(&net, "dense 10; sigmoud", "spec.txt", in, 0, 4, nn_backend_cpu()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "spec.txt") && strstr(nn_errmsg(), "line 1") &&
              strstr(nn_errmsg(), "sigmoud"));
    CU_ASSERT(nn_net_create(&net, "dense 10\ndense unit=3", "m", in, 0, 4, nn_backend_cpu()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "line 2") && strstr(nn_errmsg(), "unit"));
    CU_ASSERT(nn_net_create(&net, "dense -3", "m", in, 0, 4, nn_backend_cpu()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "units") != NULL);
    CU_ASSERT(nn_net_create(&net, "dense 7", "m", in, 10, 4, nn_backend_cpu()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "10 classes") != NULL);
    CU_ASSERT(nn_net_create(&net, "  # nothing\n", "m", in, 0, 4, nn_backend_cpu()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "empty") != NULL);
    /* Positional and key=value forms, comments and ';' all parse. */
    CU_ASSERT_FATAL(nn_net_create(&net, "dense units=100 # hidden\nsigmoid; dense 10", "m", in,
                                  10, 4, nn_backend_cpu()) == 0);
    CU_ASSERT_EQUAL(net.nlayers, 3);
    CU_ASSERT_EQUAL(net.nparams, 784 * 100 + 100 + 100 * 10 + 10);
    CU_ASSERT_STRING_EQUAL(net.layers[2].name, "dense_2");
    nn_net_free(&net);
}

/* The course's init: N(0, 1/fan_in), same for the same seed. */
static void test_init_stats(void) {
    nn_net a, b;
    nn_shape in = {1, 28, 28};
    CU_ASSERT_FATAL(nn_net_create(&a, "dense 100", "m", in, 0, 1, nn_backend_cpu()) == 0);
    CU_ASSERT_FATAL(nn_net_create(&b, "dense 100", "m", in, 0, 1, nn_backend_cpu()) == 0);
    nn_net_init(&a, 9);
    nn_net_init(&b, 9);
    CU_ASSERT(memcmp(a.params, b.params, a.nparams * sizeof(float)) == 0);
    double s = 0, s2 = 0;
    size_t n = 784 * 100;
    for (size_t i = 0; i < n; i++) s += a.params[i], s2 += (double)a.params[i] * a.params[i];
    double mean = s / n, var = s2 / n - mean * mean;
    CU_ASSERT(fabs(mean) < 0.002);
    CU_ASSERT(fabs(var * 784 - 1.0) < 0.03);
    nn_net_free(&a);
    nn_net_free(&b);
}

void register_layer_tests(void) {
    CU_pSuite s = CU_add_suite("layers", NULL, NULL);
    CU_add_test(s, "dense gradient", test_dense_grad);
    CU_add_test(s, "dense without bias gradient", test_dense_nobias_grad);
    CU_add_test(s, "sigmoid gradient", test_sigmoid_grad);
    CU_add_test(s, "tanh gradient", test_tanh_grad);
    CU_add_test(s, "relu gradient", test_relu_grad);
    CU_add_test(s, "leaky_relu gradient", test_leaky_relu_grad);
    CU_add_test(s, "3-layer MLP gradient", test_mlp_grad);
    CU_add_test(s, "dropout gradient (fixed mask)", test_dropout_grad);
    CU_add_test(s, "batchnorm gradient (training mode)", test_batchnorm_grad);
    CU_add_test(s, "batchnorm + tanh gradient", test_batchnorm_tanh_grad);
    CU_add_test(s, "batchnorm eval mode = formula", test_batchnorm_eval_formula);
    CU_add_test(s, "dropout keep rate, scale, mask by sample", test_dropout_stats);
    CU_add_test(s, "conv2d gradient (strides, padding, channels, non-square)", test_conv_grad);
    CU_add_test(s, "maxpool gradient", test_pool_grad);
    CU_add_test(s, "conv-bn-dense gradient", test_cnn_grad);
    CU_add_test(s, "normalize gradient", test_normalize_grad);
    CU_add_test(s, "conv2d (im2col + GEMM) vs naive loops", test_conv_vs_naive);
    CU_add_test(s, "conv2d in cache-sized chunks == one image at a time", test_conv_chunks);
    CU_add_test(s, "maxpool values and routing", test_pool_values);
    CU_add_test(s, "conv/pool spec errors", test_conv_spec_errors);
    CU_add_test(s, "softmax cross-entropy", test_softmax_xent);
    CU_add_test(s, "model spec errors", test_spec_errors);
    CU_add_test(s, "weight init N(0,1/fan_in)", test_init_stats);
}
