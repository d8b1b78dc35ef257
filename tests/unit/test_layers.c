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
    CU_add_test(s, "softmax cross-entropy", test_softmax_xent);
    CU_add_test(s, "model spec errors", test_spec_errors);
    CU_add_test(s, "weight init N(0,1/fan_in)", test_init_stats);
}
