/* test_layers.c: every layer against central finite differences, and the
 * fused softmax- and sigmoid-cross-entropy against their definitions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/error.h"
#include "nn/loss.h"
#include "nn/net.h"
#include "nn/optim.h"
#include "nn/rng.h"
#include "../../src/layers/conv.h"
#include "testutil.h"

/* nn_conv_forward and nn_conv_backward against their definitions, summed in
 * double, in shapes that take each path of src/layers/conv2d.c: whole images
 * image by image, row bands of an image over the column budget, a shared
 * product for a chunk of small planes, the transposed forward (with one
 * image and with several per chunk), the kernel-row lowering ('same' by
 * the flat shift, 'valid', wider padding, 5x5, non-square); with and without
 * a bias; 'same' (the flat-shift im2col) and strided. Every shape runs
 * twice: with the CPU backend as it is, and without its kernel-row ops (as
 * on a backend that lacks them), so the im2col paths stay covered in the
 * shapes the kernel-row lowering takes over. */
static void test_conv_vs_definition(void) {
    static const struct {
        int c, h, w, k, r, s, p, n;
    } cases[] = {
        {3, 8, 7, 5, 3, 1, 1, 3},     {2, 6, 6, 70, 3, 1, 1, 2},    {1, 28, 28, 8, 3, 1, 1, 2},
        {32, 28, 28, 4, 3, 1, 1, 2},  {4, 9, 5, 3, 3, 2, 1, 4},     {2, 5, 5, 66, 5, 1, 2, 3},
        {3, 32, 32, 40, 3, 1, 1, 2},  {64, 16, 16, 2, 3, 1, 1, 1},  {16, 8, 8, 12, 3, 1, 1, 3},
        {24, 12, 12, 20, 3, 1, 1, 2}, {40, 30, 20, 3, 3, 2, 1, 2},  {16, 20, 18, 6, 3, 1, 0, 2},
        {16, 16, 16, 3, 5, 1, 2, 2},  {24, 20, 14, 5, 3, 1, 1, 2},  {16, 15, 17, 3, 3, 1, 2, 1},
        {64, 32, 32, 3, 3, 1, 1, 1}, /* im2col: row bands (columns of 2.4 MB) */
    };
    nn_backend no_kw = *nn_backend_cpu();
    no_kw.im2col_kw = NULL, no_kw.col2im_kw = NULL, no_kw.kern_kw = NULL, no_kw.add_kern_kw = NULL;
    const size_t ncases = sizeof cases / sizeof *cases;
    nn_rng rng;
    nn_rng_seed(&rng, 9, 9);
    int bad = 0;
    for (size_t t = 0; t < 2 * ncases; t++) {
        const nn_backend *be = t < ncases ? nn_backend_cpu() : &no_kw;
        const int c = cases[t % ncases].c, h = cases[t % ncases].h, w = cases[t % ncases].w, k = cases[t % ncases].k, r = cases[t % ncases].r,
                  st = cases[t % ncases].s, pd = cases[t % ncases].p, n = cases[t % ncases].n;
        nn_conv_geom g = {.in = {c, h, w}, .k = k, .r = r, .s = st, .p = pd};
        g.oh = (h + 2 * pd - r) / st + 1, g.ow = (w + 2 * pd - r) / st + 1;
        const size_t nx = (size_t)n * c * h * w, ohw = (size_t)g.oh * g.ow, crr = (size_t)c * r * r;
        const size_t ny = (size_t)n * k * ohw;
        float *x = malloc(nx * sizeof(float)), *kern = malloc(k * crr * sizeof(float)),
              *b = malloc(k * sizeof(float)), *y = malloc(ny * sizeof(float)),
              *dy = malloc(ny * sizeof(float)), *dx = malloc(nx * sizeof(float)),
              *dk = calloc(k * crr, sizeof(float)), *db = calloc(k, sizeof(float)),
              *scratch = malloc(nn_conv_scratch(be, &g, n) * sizeof(float));
        double *want_dx = calloc(nx, sizeof(double)), *want_dk = calloc(k * crr, sizeof(double));
        for (size_t i = 0; i < nx; i++) x[i] = (float)nn_rng_normal(&rng);
        for (size_t i = 0; i < k * crr; i++) kern[i] = (float)nn_rng_normal(&rng);
        for (int i = 0; i < k; i++) b[i] = (float)nn_rng_normal(&rng);
        for (size_t i = 0; i < ny; i++) dy[i] = (float)nn_rng_normal(&rng);
        const double tol = 1e-4 * (1.0 + sqrt((double)crr));
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            nn_conv_forward(be, &g, n, kern, with_bias ? b : NULL, x, y, scratch);
            for (int i = 0; i < n; i++)
                for (int f = 0; f < k; f++)
                    for (int oy = 0; oy < g.oh; oy++)
                        for (int ox = 0; ox < g.ow; ox++) {
                            const size_t yo = ((size_t)i * k + f) * ohw + (size_t)oy * g.ow + ox;
                            double want = with_bias ? b[f] : 0.0;
                            for (int ch = 0; ch < c; ch++)
                                for (int ki = 0; ki < r; ki++)
                                    for (int kj = 0; kj < r; kj++) {
                                        const int iy = oy * st - pd + ki, ix = ox * st - pd + kj;
                                        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                        const size_t wi = ((size_t)f * c + ch) * r * r + ki * r + kj,
                                                     xi = (((size_t)i * c + ch) * h + iy) * w + ix;
                                        want += (double)kern[wi] * x[xi];
                                        if (with_bias) /* the gradients, once */
                                            want_dx[xi] += (double)kern[wi] * dy[yo],
                                                want_dk[wi] += (double)dy[yo] * x[xi];
                                    }
                            bad += fabs(y[yo] - want) > tol;
                        }
        }
        nn_conv_backward(be, &g, n, kern, x, dy, dk, db, dx, scratch);
        for (size_t i = 0; i < nx; i++) bad += fabs(dx[i] - want_dx[i]) > tol;
        for (size_t i = 0; i < k * crr; i++)
            bad += fabs(dk[i] - want_dk[i]) > tol * sqrt((double)(n * ohw));
        for (int f = 0; f < k; f++) {
            double s = 0;
            for (int i = 0; i < n; i++)
                for (size_t j = 0; j < ohw; j++) s += dy[((size_t)i * k + f) * ohw + j];
            bad += fabs(db[f] - s) > tol * sqrt((double)(n * ohw));
        }
        free(x), free(kern), free(b), free(y), free(dy), free(dx), free(dk), free(db);
        free(scratch), free(want_dx), free(want_dk);
    }
    CU_ASSERT_EQUAL(bad, 0);
}

static void check_spec(const char *spec, nn_shape in, int n, double tol) {
    nn_net net;
    int rc = nn_net_create(&net, spec, "test", in, 0, n, nn_backend_current());
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
/* GELU is smooth; its backward reads the layer's input, so a conv and a
 * BatchNorm before it (airbench's block) check that x reaches it intact. */
static void test_gelu_grad(void) {
    check_spec("dense 6; gelu; dense 2", (nn_shape){4, 1, 1}, 3, 1e-2);
    check_spec("conv2d 3 size=3 pad=same; batchnorm; gelu; flatten; dense 2", (nn_shape){2, 5, 5},
               3, 1e-2);
}
static void test_leaky_relu_grad(void) {
    check_spec("dense 6; leaky_relu; dense 2", (nn_shape){4, 1, 1}, 3, 1e-2);
}
/* The slope is an option now; DCGAN's 0.2 (the default) and another one. */
static void test_leaky_relu_alpha_grad(void) {
    check_spec("dense 6; leaky_relu alpha=0.2; dense 2", (nn_shape){4, 1, 1}, 3, 1e-2);
    check_spec("dense 6; leaky_relu 0.5; dense 2", (nn_shape){4, 1, 1}, 3, 1e-2);
}

/* The slope reaches the backend, both ways: y = alpha x and dx = alpha dy
 * for x < 0, for the default (0.2), key=value and positional forms. */
static void test_leaky_relu_alpha_values(void) {
    const char *specs[3] = {"leaky_relu", "leaky_relu alpha=0.05", "leaky_relu 0.3"};
    const float alphas[3] = {0.2f, 0.05f, 0.3f};
    for (int t = 0; t < 3; t++) {
        nn_net net;
        CU_ASSERT_FATAL(nn_net_create(&net, specs[t], "t", (nn_shape){4, 1, 1}, 0, 1,
                                      nn_backend_current()) == 0);
        float x[4] = {-2, 3, -0.5f, 0}, dy[4] = {1, 2, 3, 4}, dx[4];
        uint64_t id = 0;
        nn_ctx c = {.train = true, .n = 1, .global_n = 1, .sample_ids = &id};
        const float *y;
        CU_ASSERT_FATAL(nn_net_forward(&net, &c, x, &y) == 0);
        const float a = alphas[t];
        CU_ASSERT_DOUBLE_EQUAL(y[0], -2 * a, 1e-7);
        CU_ASSERT_EQUAL(y[1], 3);
        CU_ASSERT_DOUBLE_EQUAL(y[2], -0.5 * a, 1e-7);
        CU_ASSERT_EQUAL(y[3], 0);
        nn_layer *l = &net.layers[0];
        CU_ASSERT_FATAL(l->ops->backward(l, &c, x, y, dy, dx) == 0);
        CU_ASSERT_DOUBLE_EQUAL(dx[0], a, 1e-7);
        CU_ASSERT_EQUAL(dx[1], 2);
        CU_ASSERT_DOUBLE_EQUAL(dx[2], 3 * a, 1e-6);
        nn_net_free(&net);
    }
    nn_net net;
    CU_ASSERT(nn_net_create(&net, "dense 3\nleaky_relu alpha=1.5", "m", (nn_shape){4, 1, 1}, 0, 1,
                            nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "line 2") && strstr(nn_errmsg(), "alpha=1.5"));
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

/* scale=false: no gamma (fixed at 1), beta only; and the logits times a
 * constant (mul). bias_lr changes the optimizer's rate, not the gradient. */
static void test_batchnorm_noscale_mul_grad(void) {
    check_spec("dense 6; batchnorm scale=false bias_lr=64 eps=0.001; tanh; dense 2; mul 0.25",
               (nn_shape){3, 1, 1}, 5, 1e-2);
    check_spec("conv2d 3 size=3 dirac=true; batchnorm scale=false; tanh; flatten; dense 2; "
               "mul -3",
               (nn_shape){2, 4, 5}, 3, 1e-2);
}

/* batchnorm scale=false declares beta only, at 0; bias_lr marks beta's rate;
 * the net turns the layers' rates into the optimizer's runs, merged, and a
 * sgd step moves beta bias_lr times as far with the same decay per step. */
static void test_batchnorm_noscale_lr_runs(void) {
    nn_net net;
    CU_ASSERT_FATAL(nn_net_create(&net, "dense 3; batchnorm scale=false bias_lr=8; dense 2",
                                  "m", (nn_shape){2, 1, 1}, 2, 4, nn_backend_current()) == 0);
    nn_net_init(&net, 1);
    const nn_layer *bn = &net.layers[1];
    CU_ASSERT_EQUAL(bn->nparam_tensors, 1);
    CU_ASSERT_STRING_EQUAL(bn->params[0].name, "beta");
    CU_ASSERT_EQUAL(bn->nparams, 3);
    CU_ASSERT_EQUAL(bn->params[0].lr_scale, 8.0f);
    for (int k = 0; k < 3; k++) CU_ASSERT_EQUAL(bn->w[k], 0.0f);
    nn_optim_cfg cfg;
    nn_optim_defaults("sgd", &cfg);
    cfg.weight_decay = 0.5f;
    nn_optim o;
    CU_ASSERT_FATAL(nn_optim_create(&o, &cfg, net.nparams) == 0);
    CU_ASSERT_FATAL(nn_net_lr_runs(&net, &o, 0) == 0);
    CU_ASSERT_EQUAL_FATAL(o.nruns, 3); /* dense_1 (9), beta (3) at 8, dense_2 (8) */
    CU_ASSERT(o.runs[0].offset == 0 && o.runs[0].n == 9 && o.runs[0].scale == 1.0f);
    CU_ASSERT(o.runs[1].offset == 9 && o.runs[1].n == 3 && o.runs[1].scale == 8.0f);
    CU_ASSERT(o.runs[2].offset == 12 && o.runs[2].n == 8 && o.runs[2].scale == 1.0f);
    for (size_t i = 0; i < net.nparams; i++) net.params[i] = 1.0f, net.grads[i] = 0.25f;
    nn_optim_step(&o, net.params, net.grads, 0.1f);
    /* w -= lr k (g + wd/k w): 1 - 0.1 (0.25 + 0.5) elsewhere, 1 - 0.1 (8 x 0.25 + 0.5) in beta */
    CU_ASSERT_DOUBLE_EQUAL(net.params[0], 0.925, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(net.params[10], 0.75, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(net.params[19], 0.925, 1e-6);
    nn_optim_free(&o);
    /* Without scales the optimizer keeps no runs (one update over the buffer). */
    nn_net plain;
    CU_ASSERT_FATAL(nn_net_create(&plain, "dense 3; batchnorm; dense 2", "m", (nn_shape){2, 1, 1},
                                  2, 4, nn_backend_current()) == 0);
    CU_ASSERT_FATAL(nn_optim_create(&o, &cfg, plain.nparams) == 0);
    CU_ASSERT_FATAL(nn_net_lr_runs(&plain, &o, 0) == 0);
    CU_ASSERT(o.runs == NULL && o.nruns == 0);
    nn_optim_free(&o);
    nn_net_free(&plain);
    nn_net_free(&net);
}

/* whiten bias_epochs=2: the bias is a run of its own that steps in epochs 0
 * and 1 and is frozen from epoch 2 (scale 0: no step, no decay, its
 * momentum untouched) while the rest still steps. */
static void test_frozen_after_epochs(void) {
    nn_net net;
    CU_ASSERT_FATAL(nn_net_create(&net, "whiten size=1 bias_epochs=2; flatten; dense 2", "m",
                                  (nn_shape){1, 2, 2}, 0, 4, nn_backend_current()) == 0);
    nn_net_init(&net, 1);
    const nn_layer *wl = &net.layers[0];
    CU_ASSERT_EQUAL_FATAL(wl->nparam_tensors, 1);
    CU_ASSERT_EQUAL(wl->params[0].epochs, 2);
    nn_optim_cfg cfg;
    nn_optim_defaults("momentum", &cfg);
    cfg.weight_decay = 0.5f;
    nn_optim o;
    CU_ASSERT_FATAL(nn_optim_create(&o, &cfg, net.nparams) == 0);
    for (int epoch = 0; epoch < 4; epoch++) {
        CU_ASSERT_FATAL(nn_net_lr_runs(&net, &o, epoch) == 0);
        float before[64];
        CU_ASSERT_FATAL(net.nparams <= 64);
        for (size_t i = 0; i < net.nparams; i++) before[i] = net.params[i], net.grads[i] = 0.25f;
        float mom_bias = o.slot[0][0];
        nn_optim_step(&o, net.params, net.grads, 0.1f);
        /* the bias (2 channels, the first 2 floats) moves in epochs 0, 1 only */
        for (int i = 0; i < 2; i++) {
            if (epoch < 2) {
                CU_ASSERT(net.params[i] != before[i]);
            } else {
                CU_ASSERT_EQUAL(net.params[i], before[i]);
            }
        }
        if (epoch >= 2) CU_ASSERT_EQUAL(o.slot[0][0], mom_bias);
        for (size_t i = 2; i < net.nparams; i++) CU_ASSERT(net.params[i] != before[i]);
    }
    nn_optim_free(&o);
    nn_net_free(&net);
    /* bias_epochs without a bias is a spec error */
    CU_ASSERT(nn_net_create(&net, "whiten bias=false bias_epochs=3", "m", (nn_shape){1, 2, 2}, 0,
                            1, nn_backend_current()) != 0);
}

/* dirac=true: the first min(K, C) filters pass their channel through; the
 * others keep the random init. mul multiplies. */
static void test_dirac_mul_values(void) {
    nn_net net;
    CU_ASSERT_FATAL(nn_net_create(&net, "conv2d 3 bias=false init=uniform dirac=true; mul 0.5", "m",
                                  (nn_shape){2, 3, 4}, 0, 2, nn_backend_current()) == 0);
    nn_net_init(&net, 7);
    float x[2 * 2 * 12];
    for (int i = 0; i < 48; i++) x[i] = (float)(i % 7) - 3.0f;
    nn_ctx c = {.train = false, .n = 2, .global_n = 2};
    const float *y;
    CU_ASSERT_FATAL(nn_net_forward(&net, &c, x, &y) == 0);
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 2; k++) /* output channel k = 0.5 x input channel k */
            for (int i = 0; i < 12; i++)
                CU_ASSERT_DOUBLE_EQUAL(y[(s * 3 + k) * 12 + i], 0.5 * x[(s * 2 + k) * 12 + i],
                                       1e-6);
    double nz = 0; /* filter 2 is random, U(-1/sqrt(18), 1/sqrt(18)): not all zero */
    int outside = 0;
    for (int i = 0; i < 18; i++) {
        nz += fabs(net.params[2 * 18 + i]);
        outside += fabsf(net.params[2 * 18 + i]) > 1.0f / sqrtf(18.0f);
    }
    CU_ASSERT(nz > 0.1);
    CU_ASSERT_EQUAL(outside, 0);
    nn_net_free(&net);
    const char *bad[][2] = {
        {"conv2d 3 dirac=true size=2", "odd filter size"},
        {"conv2d 3 dirac=true stride=2", "stride 1"},
        {"conv2d 3 dirac=true pad=valid", "pad=same"},
        {"conv2d 3 init=xavier", "he or uniform"},
        {"mul 0", "zero factor"},
        {"mul", "zero factor"},
        {"batchnorm bias_lr=0", "bias_lr"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CU_ASSERT(nn_net_create(&net, bad[i][0], "m.spec", (nn_shape){2, 6, 6}, 0, 2,
                                nn_backend_current()) != 0);
        if (!strstr(nn_errmsg(), bad[i][1]) || !strstr(nn_errmsg(), "m.spec"))
            fprintf(stderr, "\n  %s: %s\n", bad[i][0], nn_errmsg());
        CU_ASSERT(strstr(nn_errmsg(), bad[i][1]) != NULL);
    }
}

/* Eval mode: y = gamma (x - E[x]) / sqrt(Var[x] + eps) + beta with the
 * running estimates, which training moved towards the batch statistics. */
static void test_batchnorm_eval_formula(void) {
    nn_net net;
    CU_ASSERT_FATAL(nn_net_create(&net, "batchnorm eps=0.01 momentum=0.5", "t", (nn_shape){3, 1, 1},
                                  0, 4, nn_backend_current()) == 0);
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
                                  nn_backend_current()) == 0);
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
/* deconv2d over kernel sizes, strides, paddings (also P >= R, cropping whole
 * grid rows), channel counts, non-square inputs, with and without bias. */
static void test_deconv_grad(void) {
    check_spec("deconv2d 3", (nn_shape){2, 3, 4}, 2, 1e-2); /* 4/2/1: 3x4 -> 6x8 */
    check_spec("deconv2d 2 size=3 stride=1 pad=1", (nn_shape){3, 4, 5}, 2, 1e-2);
    check_spec("deconv2d 2 size=3 stride=2 pad=0 bias=false", (nn_shape){1, 3, 2}, 3, 1e-2);
    check_spec("deconv2d 4 size=5 stride=3 pad=2", (nn_shape){2, 3, 3}, 1, 1e-2);
    check_spec("deconv2d 1 size=2 stride=2 pad=0", (nn_shape){3, 2, 4}, 2, 1e-2);
    check_spec("deconv2d 2 size=3 stride=1 pad=3", (nn_shape){1, 6, 5}, 2, 1e-2); /* 2x1 out */
    check_spec("deconv2d 2 size=5 stride=2 pad=2 out_pad=1", (nn_shape){2, 3, 2}, 2, 1e-2);
}
/* DCGAN's generator path: dense -> reshape -> deconv2d -> squashing (sigmoid
 * here: tanh's curvature at h = 1e-2 alone nears the 1e-2 tolerance). */
static void test_reshape_grad(void) {
    check_spec("dense 48; reshape 3x4x4; deconv2d 2; sigmoid", (nn_shape){5, 1, 1}, 2, 1e-2);
    check_spec("reshape 2x2x3; conv2d 2 size=2 pad=valid", (nn_shape){12, 1, 1}, 2, 1e-2);
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
    /* Non-square, as face images are (218 x 178 at full size): conv, pool
     * and dense over H != W, both ways round, odd sides included. The pool
     * comes first (see above: behind parameters, a step of h moves window
     * maxima and finite differences jump). */
    check_spec("maxpool 2; conv2d 3 size=3; tanh; conv2d 2 size=3 stride=2 pad=1; dense 3",
               (nn_shape){3, 9, 6}, 2, 1e-2);
    check_spec("maxpool 2; conv2d 2 size=3; tanh; dense 3", (nn_shape){1, 4, 10}, 2, 1e-2);
}

/* The layer's im2col + GEMM against the definition, a 7-deep loop:
 * y[n][k][oy][ox] = b[k] + sum_c sum_i sum_j W[k][c][i][j] x[n][c][oy*s-p+i][ox*s-p+j]. */
static void test_conv_vs_naive(void) {
    const int N = 2, C = 3, H = 7, W = 6, K = 4, R = 3, S = 2, P = 1;
    nn_net net;
    CU_ASSERT_FATAL(nn_net_create(&net, "conv2d 4 size=3 stride=2 pad=1", "t", (nn_shape){C, H, W},
                                  0, N, nn_backend_current()) == 0);
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

/* whiten: the bias and dL/dx (the kernel is state, never trained), at the
 * input and after other layers, with and without a bias. */
static void test_whiten_grad(void) {
    check_spec("whiten; dense 3", (nn_shape){2, 4, 5}, 2, 1e-2);
    check_spec("conv2d 2; whiten size=3 bias=false; tanh; dense 2", (nn_shape){1, 5, 4}, 2, 1e-2);
    check_spec("tanh; whiten size=1; flatten; dense 2", (nn_shape){3, 3, 3}, 3, 1e-2);
}

/* whiten's fit: on images whose channels and neighbouring pixels are
 * correlated, the fitted layer's first C*R*R output channels have (over
 * the fitted patches) the covariance diag(l / (l + eps)) ~ I, its other
 * channels are their negatives, and the patch's largest direction comes
 * first. Before any fit the output is the patch itself. */
static void test_whiten_fit(void) {
    enum { N = 40, C = 3, H = 6, W = 7, R = 2, D = C * R * R, OH = H - R + 1, OW = W - R + 1 };
    nn_net net;
    CU_ASSERT_FATAL(nn_net_create(&net, "whiten eps=1e-6", "t", (nn_shape){C, H, W}, 0, N,
                                  nn_backend_current()) == 0);
    nn_net_init(&net, 1);
    nn_layer *l = &net.layers[0];
    CU_ASSERT_EQUAL(l->out.c, 2 * D);
    CU_ASSERT_EQUAL(l->out.h, OH);
    CU_ASSERT_EQUAL(l->nparams, (size_t)2 * D); /* the bias alone */
    static float x[N * C * H * W], z[N * C * H * W];
    nn_rng r;
    nn_rng_seed(&r, 4, 4);
    for (size_t i = 0; i < sizeof z / sizeof *z; i++) z[i] = nn_rng_normal(&r);
    for (int n = 0; n < N; n++) /* mix the channels, then blur to the right */
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++) {
                    const float *zn = z + (size_t)n * C * H * W;
                    double v = 0;
                    for (int k = 0; k <= c; k++) {
                        const float *p = zn + ((size_t)k * H + y) * W;
                        v += (1.0 + k) * (p[xx] + (xx + 1 < W ? 0.7 * p[xx + 1] : 0.0));
                    }
                    x[(((size_t)n * C + c) * H + y) * W + xx] = (float)v + 0.5f;
                }
    uint64_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = (uint64_t)i;
    nn_ctx c = {.train = false, .n = N, .global_n = N, .sample_ids = ids};
    const float *y;
    CU_ASSERT_FATAL(nn_net_forward(&net, &c, x, &y) == 0); /* identity before a fit */
    CU_ASSERT_EQUAL(y[0], x[0]);
    CU_ASSERT_EQUAL(y[1], x[1]);
    CU_ASSERT_EQUAL(y[(size_t)OH * OW], x[1]);                 /* channel 1 = patch (0, 0, 1) */
    CU_ASSERT_EQUAL(y[(size_t)D * OH * OW], -x[0]);            /* channel D = -channel 0 */
    size_t images = 0;
    double *acc = calloc(l->ops->fit_size(l, &images), sizeof *acc);
    CU_ASSERT_EQUAL(images, 5000); /* the default fit=5000 */
    CU_ASSERT_FATAL(acc != NULL);
    l->ops->fit_batch(l, x, N / 2, acc); /* in two batches */
    l->ops->fit_batch(l, x + (size_t)(N / 2) * C * H * W, N - N / 2, acc);
    CU_ASSERT_EQUAL(acc[D * D], (double)N * OH * OW);
    CU_ASSERT_FATAL(l->ops->fit_finish(l, acc) == 0);
    CU_ASSERT_FATAL(nn_net_forward(&net, &c, x, &y) == 0);
    double worst = 0, var_first = 0, var_last = 0;
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double s = 0;
            for (int n = 0; n < N; n++)
                for (int p = 0; p < OH * OW; p++) {
                    const float *yn = y + (size_t)n * 2 * D * OH * OW;
                    s += (double)yn[(size_t)a * OH * OW + p] * yn[(size_t)b * OH * OW + p];
                    if (a == b) /* the negated copy */
                        worst = fmax(worst, fabs(yn[(size_t)(D + a) * OH * OW + p] +
                                                 yn[(size_t)a * OH * OW + p]));
                }
            s /= (double)N * OH * OW;
            worst = fmax(worst, fabs(s - (a == b)));
        }
    CU_ASSERT(worst < 1e-3);
    /* Largest direction first: the unscaled kernel rows' variance decreases. */
    for (int e = 0; e < D; e += D - 1) {
        double nrm = 0;
        for (int j = 0; j < D; j++) nrm += (double)l->state[e * D + j] * l->state[e * D + j];
        if (e == 0) var_first = 1 / nrm; /* |v / sqrt(l)|^2 = 1 / l */
        else var_last = 1 / nrm;
    }
    CU_ASSERT(var_first > 10 * var_last);
    /* No patches: an error, not a division by zero. */
    memset(acc, 0, l->ops->fit_size(l, &images) * sizeof *acc);
    CU_ASSERT(l->ops->fit_finish(l, acc) != 0);
    free(acc);
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
                                  nn_backend_current()) == 0);
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

/* deconv2d's forward, input gradient and parameter gradients against the
 * scatter definition, in double:
 *   y[n][k][i*S-P+a][j*S-P+b] += x[n][c][i][j] W[c][k][a][b]  (+ b[k] everywhere),
 * dx and dW the same loop read the other way, db = sums of dy. N and the
 * sizes pick the chunking: whole batch, chunks of 10 + a remainder, or g = 1. */
static void deconv_vs_naive(int N, int C, int H, int W, int K, int R, int S, int P, int O,
                            bool bias) {
    char spec[128];
    snprintf(spec, sizeof spec, "deconv2d %d size=%d stride=%d pad=%d out_pad=%d bias=%s", K, R, S,
             P, O, bias ? "true" : "false");
    nn_net net;
    CU_ASSERT_FATAL(nn_net_create(&net, spec, "t", (nn_shape){C, H, W}, 0, N, nn_backend_current()) ==
                    0);
    nn_layer *l = &net.layers[0];
    const int OH = (H - 1) * S - 2 * P + R + O, OW = (W - 1) * S - 2 * P + R + O;
    CU_ASSERT_FATAL(l->out.c == K && l->out.h == OH && l->out.w == OW);
    const size_t in = (size_t)C * H * W, out = (size_t)K * OH * OW, nw = (size_t)C * K * R * R;
    CU_ASSERT_FATAL(net.nparams == nw + (bias ? (size_t)K : 0));
    CU_ASSERT_STRING_EQUAL(l->params[0].name, "kernel");
    CU_ASSERT(l->params[0].dims[0] == C && l->params[0].dims[1] == K); /* (C, K, R, R) */
    float *x = malloc(sizeof(float) * in * N), *dy = malloc(sizeof(float) * out * N);
    float *y = malloc(sizeof(float) * out * N), *dx = malloc(sizeof(float) * in * N);
    double *yr = calloc(out * N, sizeof(double)), *dxr = calloc(in * N, sizeof(double));
    double *dwr = calloc(nw + K, sizeof(double));
    nn_rng r;
    nn_rng_seed(&r, 21, (uint64_t)(C * 1000 + K * 100 + R * 10 + S));
    for (size_t i = 0; i < in * N; i++) x[i] = nn_rng_normal(&r);
    for (size_t i = 0; i < out * N; i++) dy[i] = nn_rng_normal(&r);
    for (size_t i = 0; i < net.nparams; i++) net.params[i] = nn_rng_normal(&r);
    const float *w = l->w, *b = bias ? l->w + nw : NULL;
    uint64_t ids[64];
    for (int i = 0; i < N; i++) ids[i] = (uint64_t)i;
    nn_ctx c = {.train = true, .n = N, .global_n = N, .sample_ids = ids};
    nn_net_zero_grad(&net);
    CU_ASSERT_FATAL(l->ops->forward(l, &c, x, y) == 0);
    CU_ASSERT_FATAL(l->ops->backward(l, &c, x, y, dy, dx) == 0);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int o = 0; o < OH * OW; o++) {
                yr[((size_t)n * K + k) * OH * OW + o] = b ? b[k] : 0.0;
                dwr[nw + k] += dy[((size_t)n * K + k) * OH * OW + o];
            }
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++)
                    for (int k = 0; k < K; k++)
                        for (int a = 0; a < R; a++)
                            for (int bb = 0; bb < R; bb++) {
                                const int oy = i * S - P + a, ox = j * S - P + bb;
                                if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
                                const size_t xi = (((size_t)n * C + ch) * H + i) * W + j;
                                const size_t yi = (((size_t)n * K + k) * OH + oy) * OW + ox;
                                const size_t wi = (((size_t)ch * K + k) * R + a) * R + bb;
                                yr[yi] += (double)x[xi] * w[wi];
                                dxr[xi] += (double)dy[yi] * w[wi];
                                dwr[wi] += (double)x[xi] * dy[yi];
                            }
    double ey = 0, edx = 0, edw = 0;
    for (size_t i = 0; i < out * N; i++) ey = fmax(ey, fabs(y[i] - yr[i]) / (1 + fabs(yr[i])));
    for (size_t i = 0; i < in * N; i++) edx = fmax(edx, fabs(dx[i] - dxr[i]) / (1 + fabs(dxr[i])));
    for (size_t i = 0; i < net.nparams; i++)
        edw = fmax(edw, fabs(l->dw[i] - dwr[i]) / (1 + fabs(dwr[i])));
    if (ey > 1e-4 || edx > 1e-4 || edw > 1e-4)
        fprintf(stderr, "\n  %s on %dx%dx%d, N=%d: y err %.2e, dx err %.2e, dw err %.2e\n", spec,
                C, H, W, N, ey, edx, edw);
    CU_ASSERT(ey < 1e-4);
    CU_ASSERT(edx < 1e-4);
    CU_ASSERT(edw < 1e-4);
    /* Without dx (first layer) the parameter gradients still accumulate. */
    CU_ASSERT_FATAL(l->ops->backward(l, &c, x, y, dy, NULL) == 0);
    double e2 = 0;
    for (size_t i = 0; i < net.nparams; i++)
        e2 = fmax(e2, fabs(l->dw[i] - 2 * dwr[i]) / (1 + fabs(dwr[i])));
    CU_ASSERT(e2 < 1e-4);
    free(x), free(dy), free(y), free(dx), free(yr), free(dxr), free(dwr);
    nn_net_free(&net);
}

static void test_deconv_vs_naive(void) {
    deconv_vs_naive(2, 3, 4, 5, 2, 4, 2, 1, 0, true);    /* DCGAN's 4/2/1, non-square */
    deconv_vs_naive(3, 2, 3, 3, 3, 3, 3, 2, 0, true);    /* stride 3, pad 2 */
    deconv_vs_naive(2, 1, 5, 2, 2, 3, 1, 0, 0, false);   /* stride 1, no padding */
    deconv_vs_naive(2, 2, 5, 4, 2, 2, 1, 2, 0, true);    /* pad >= size: 2x1, a cropped border */
    deconv_vs_naive(2, 2, 7, 5, 3, 5, 2, 2, 1, true);    /* out_pad 1: 7x5 -> 14x10 */
    deconv_vs_naive(2, 1, 3, 4, 2, 3, 3, 1, 2, false);   /* out_pad 2 of stride 3 */
    deconv_vs_naive(23, 3, 14, 14, 4, 4, 2, 1, 0, true); /* chunks of 10, 10, 3 */
    deconv_vs_naive(2, 2, 17, 16, 32, 4, 2, 1, 0, true); /* one image per chunk */
}

/* deconv2d is conv2d's adjoint: with the same (C, K, R, R) weights, no bias,
 * <conv(u), v> = <u, deconv(v)> for u (K, OH, OW), v (C, H, W). */
static void deconv_adjoint(int C, int H, int W, int K, int R, int S, int P, int O) {
    char ds[128], cs[128];
    snprintf(ds, sizeof ds, "deconv2d %d size=%d stride=%d pad=%d out_pad=%d bias=false", K, R, S,
             P, O);
    snprintf(cs, sizeof cs, "conv2d %d size=%d stride=%d pad=%d bias=false", C, R, S, P);
    const int N = 2, OH = (H - 1) * S - 2 * P + R + O, OW = (W - 1) * S - 2 * P + R + O;
    nn_net dn, cn;
    CU_ASSERT_FATAL(nn_net_create(&dn, ds, "t", (nn_shape){C, H, W}, 0, N, nn_backend_current()) == 0);
    CU_ASSERT_FATAL(nn_net_create(&cn, cs, "t", (nn_shape){K, OH, OW}, 0, N, nn_backend_current()) ==
                    0);
    CU_ASSERT_FATAL(cn.layers[0].out.c == C && cn.layers[0].out.h == H &&
                    cn.layers[0].out.w == W);
    CU_ASSERT_FATAL(dn.nparams == cn.nparams);
    nn_rng r;
    nn_rng_seed(&r, 5, (uint64_t)(R * 100 + S * 10 + P));
    for (size_t i = 0; i < dn.nparams; i++) cn.params[i] = dn.params[i] = nn_rng_normal(&r);
    const size_t nu = (size_t)N * K * OH * OW, nv = (size_t)N * C * H * W;
    float *u = malloc(sizeof(float) * nu), *v = malloc(sizeof(float) * nv);
    for (size_t i = 0; i < nu; i++) u[i] = nn_rng_normal(&r);
    for (size_t i = 0; i < nv; i++) v[i] = nn_rng_normal(&r);
    uint64_t ids[2] = {0, 1};
    nn_ctx c = {.train = false, .n = N, .global_n = N, .sample_ids = ids};
    const float *cu, *dv;
    CU_ASSERT_FATAL(nn_net_forward(&cn, &c, u, &cu) == 0);
    CU_ASSERT_FATAL(nn_net_forward(&dn, &c, v, &dv) == 0);
    double lhs = 0, rhs = 0, mag = 0;
    for (size_t i = 0; i < nv; i++) lhs += (double)cu[i] * v[i], mag += fabs((double)cu[i] * v[i]);
    for (size_t i = 0; i < nu; i++) rhs += (double)u[i] * dv[i];
    if (fabs(lhs - rhs) > 1e-5 * mag)
        fprintf(stderr, "\n  %s: <conv(u), v> = %.8g, <u, deconv(v)> = %.8g\n", ds, lhs, rhs);
    CU_ASSERT(fabs(lhs - rhs) <= 1e-5 * mag);
    CU_ASSERT(mag > 1.0);
    free(u), free(v);
    nn_net_free(&dn);
    nn_net_free(&cn);
}

static void test_deconv_adjoint(void) {
    deconv_adjoint(2, 5, 3, 3, 4, 2, 1, 0);
    deconv_adjoint(3, 4, 4, 2, 3, 1, 1, 0);
    deconv_adjoint(1, 3, 6, 2, 5, 3, 2, 0);
    deconv_adjoint(2, 4, 3, 2, 3, 2, 2, 0);
    deconv_adjoint(4, 7, 7, 8, 4, 2, 1, 0);
    deconv_adjoint(2, 7, 7, 3, 5, 2, 2, 1); /* out_pad: conv2d still maps 14x14 back to 7x7 */
    deconv_adjoint(1, 3, 5, 2, 3, 3, 0, 2);
}

/* DCGAN's init: N(0, 0.02^2) for the kernel whatever the fan-in, bias 0. */
static void test_deconv_init(void) {
    nn_net net;
    CU_ASSERT_FATAL(nn_net_create(&net, "deconv2d 64", "m", (nn_shape){64, 4, 4}, 0, 1,
                                  nn_backend_current()) == 0);
    nn_net_init(&net, 4);
    const size_t nw = 64 * 64 * 16;
    CU_ASSERT_EQUAL_FATAL(net.nparams, nw + 64);
    double s = 0, s2 = 0;
    for (size_t i = 0; i < nw; i++) s += net.params[i], s2 += (double)net.params[i] * net.params[i];
    double mean = s / nw, sd = sqrt(s2 / nw - mean * mean);
    CU_ASSERT(fabs(mean) < 0.0005);
    CU_ASSERT(fabs(sd - 0.02) < 0.0005);
    int zero = 1;
    for (size_t i = nw; i < net.nparams; i++) zero &= net.params[i] == 0.0f;
    CU_ASSERT(zero);
    CU_ASSERT_EQUAL(net.layers[0].out.h, 8); /* (4-1)*2 - 2 + 4 */
    nn_net_free(&net);
}

/* reshape: the same row-major values, the new shape; backward copies. */
static void test_reshape_values(void) {
    const char *specs[2] = {"reshape 2x3x2", "reshape c=2 h=3 w=2"};
    for (int t = 0; t < 2; t++) {
        nn_net net;
        CU_ASSERT_FATAL(nn_net_create(&net, specs[t], "t", (nn_shape){12, 1, 1}, 0, 2,
                                      nn_backend_current()) == 0);
        nn_layer *l = &net.layers[0];
        CU_ASSERT(l->out.c == 2 && l->out.h == 3 && l->out.w == 2);
        CU_ASSERT_EQUAL(net.nparams, 0);
        float x[24], dy[24], dx[24];
        for (int i = 0; i < 24; i++) x[i] = (float)i - 5.5f, dy[i] = 2.0f * (float)i;
        uint64_t ids[2] = {0, 1};
        nn_ctx c = {.train = true, .n = 2, .global_n = 2, .sample_ids = ids};
        const float *y;
        CU_ASSERT_FATAL(nn_net_forward(&net, &c, x, &y) == 0);
        CU_ASSERT(memcmp(x, y, sizeof x) == 0);
        CU_ASSERT_FATAL(l->ops->backward(l, &c, x, y, dy, dx) == 0);
        CU_ASSERT(memcmp(dx, dy, sizeof dx) == 0);
        nn_net_free(&net);
    }
}

static void test_deconv_reshape_spec_errors(void) {
    nn_net net;
    nn_shape in = {1, 3, 3};
    CU_ASSERT(nn_net_create(&net, "deconv2d", "m", in, 0, 1, nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "line 1") && strstr(nn_errmsg(), "filters"));
    /* (3-1)*1 - 2*2 + 1 = -1 */
    CU_ASSERT(nn_net_create(&net, "deconv2d 2 size=3\ndeconv2d 2 size=1 stride=1 pad=5", "m", in,
                            0, 1, nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "line 2") && strstr(nn_errmsg(), "output size") &&
              strstr(nn_errmsg(), "-5x-5"));
    CU_ASSERT(nn_net_create(&net, "deconv2d 2 size=0", "m", in, 0, 1, nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "size=0") != NULL);
    CU_ASSERT(nn_net_create(&net, "deconv2d 2 stride=2 out_pad=2", "m", in, 0, 1,
                            nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "out_pad=2") && strstr(nn_errmsg(), "stride"));
    CU_ASSERT(nn_net_create(&net, "dense 50\nreshape 3x4x4", "m", in, 0, 1, nn_backend_current()) !=
              0);
    CU_ASSERT(strstr(nn_errmsg(), "line 2") && strstr(nn_errmsg(), "48") &&
              strstr(nn_errmsg(), "50"));
    CU_ASSERT(nn_net_create(&net, "reshape 3x3", "m", in, 0, 1, nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "line 1") && strstr(nn_errmsg(), "3x3") &&
              strstr(nn_errmsg(), "CxHxW"));
    CU_ASSERT(nn_net_create(&net, "reshape c=3 h=3", "m", in, 0, 1, nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "missing") != NULL);
    CU_ASSERT(nn_net_create(&net, "reshape 0x3x3", "m", in, 0, 1, nn_backend_current()) != 0);
    CU_ASSERT(nn_net_create(&net, "reshape 1x3x3junk", "m", in, 0, 1, nn_backend_current()) != 0);
    CU_ASSERT_FATAL(nn_net_create(&net, "reshape 9,1,1; reshape 1x3x3", "m", in, 0, 1,
                                  nn_backend_current()) == 0);
    nn_net_free(&net);
}

/* Skip connections: the gradient reaches the saved point by both paths. A
 * save at the input (dL/dx through the join), a conv-BN-tanh block, two
 * blocks in a row, a block nested in another, a join right after its save. */
static void test_residual_grad(void) {
    check_spec("save r; dense 6; tanh; dense 6; add r; dense 3", (nn_shape){6, 1, 1}, 3, 1e-2);
    check_spec("conv2d 3; save a; conv2d 3; batchnorm; tanh; add a; tanh; save b; conv2d 3; "
               "add b; flatten; dense 4",
               (nn_shape){2, 5, 4}, 3, 1e-2);
    check_spec("dense 5; save out; tanh; save in; dense 5; sigmoid; add in; dense 5; add out; "
               "save r; add r; dense 2",
               (nn_shape){4, 1, 1}, 2, 1e-2);
}

/* y = x + saved exactly; dx = dy (block) + dy (skip): by hand. */
static void test_residual_values(void) {
    nn_net net;
    CU_ASSERT_FATAL(nn_net_create(&net, "save r; relu; add r", "t", (nn_shape){4, 1, 1}, 0, 1,
                                  nn_backend_current()) == 0);
    float x[4] = {1, -2, 3, -4}, dy[4] = {1, 2, 3, 4}, dx[4];
    uint64_t id = 0;
    nn_ctx c = {.train = true, .n = 1, .global_n = 1, .sample_ids = &id};
    const float *y;
    CU_ASSERT_FATAL(nn_net_forward(&net, &c, x, &y) == 0);
    const float want_y[4] = {2, -2, 6, -4}; /* relu(x) + x */
    for (int i = 0; i < 4; i++) CU_ASSERT_EQUAL(y[i], want_y[i]);
    CU_ASSERT_FATAL(nn_net_backward_dx(&net, &c, x, dy, dx) == 0);
    const float want_dx[4] = {2, 2, 6, 4}; /* dy * relu'(x) + dy */
    for (int i = 0; i < 4; i++) CU_ASSERT_EQUAL(dx[i], want_dx[i]);
    nn_net_free(&net);
}

static void test_residual_spec_errors(void) {
    nn_net net;
    const nn_shape in = {2, 3, 3};
    const struct {
        const char *spec, *want1, *want2;
    } bad[] = {
        {"save r; dense 4", "'save r' has no later 'add r'", "line 1"},
        {"relu\nadd r", "line 2", "no earlier layer saved"},
        {"save r\nconv2d 4\nadd r", "must keep the shape", "(4, 3, 3)"},
        {"save r; relu; add r; add r", "already joined", "one join per saved point"},
        {"save; relu", "save needs a name", "line 1"},
        {"save r; add", "add needs a name", "line 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CU_ASSERT(nn_net_create(&net, bad[i].spec, "m.spec", in, 0, 1, nn_backend_current()) !=
                  0);
        const char *m = nn_errmsg();
        const int ok = strstr(m, bad[i].want1) && strstr(m, bad[i].want2) && strstr(m, "m.spec");
        if (!ok) fprintf(stderr, "\n  %s: %s\n", bad[i].spec, m);
        CU_ASSERT(ok);
    }
    /* A name saved again after its join starts a new skip. */
    CU_ASSERT_FATAL(nn_net_create(&net, "save r; relu; add r; save r; tanh; add r", "m", in, 0, 1,
                                  nn_backend_current()) == 0);
    CU_ASSERT(net.layers[5].link == &net.layers[3]);
    nn_net_free(&net);
}

static void test_pool_values(void) {
    nn_net net;
    CU_ASSERT_FATAL(nn_net_create(&net, "maxpool 2", "t", (nn_shape){1, 2, 4}, 0, 1,
                                  nn_backend_current()) == 0);
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

/* The backend's maxpool backward (2x2 has its own branch-free path) against
 * the definition: each output's gradient to the first maximum of its window
 * in row-major order, 0 everywhere else (dx starts as garbage: every element
 * must be written). Values from {0, 1, 2} make ties common; odd sizes leave
 * rows and columns no window covers. */
static void test_pool_backward_definition(void) {
    const nn_backend *be = nn_backend_current();
    const int sizes[][4] = {{2, 2, 2, 2}, {4, 6, 2, 2}, {5, 7, 2, 2}, {3, 3, 2, 2},
                            {9, 4, 2, 2}, {7, 5, 3, 2}, {6, 6, 3, 3}, {5, 5, 2, 1}};
    nn_rng r;
    nn_rng_seed(&r, 11, 0);
    for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
        const int h = sizes[t][0], w = sizes[t][1], d = sizes[t][2], s = sizes[t][3];
        const int oh = (h - d) / s + 1, ow = (w - d) / s + 1, planes = 3;
        const size_t nx = (size_t)planes * h * w, ny = (size_t)planes * oh * ow;
        float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy),
              *dx = malloc(nx * sizeof *dx), *want = calloc(nx, sizeof *want);
        CU_ASSERT_FATAL(x && y && dy && dx && want);
        for (size_t i = 0; i < nx; i++) x[i] = (float)(int)(3 * nn_rng_uniform(&r)), dx[i] = 1e9f;
        for (size_t i = 0; i < ny; i++) dy[i] = 1.0f + (float)i;
        be->maxpool_forward(planes, h, w, d, s, oh, ow, x, y);
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    const size_t o = ((size_t)p * oh + oy) * ow + ox;
                    size_t best = 0;
                    float m = -1;
                    for (int i = 0; i < d; i++)
                        for (int j = 0; j < d; j++) {
                            const size_t k = ((size_t)p * h + oy * s + i) * w + ox * s + j;
                            if (x[k] > m) m = x[k], best = k;
                        }
                    CU_ASSERT_EQUAL(y[o], m);
                    want[best] += dy[o];
                }
        be->maxpool_backward(planes, h, w, d, s, oh, ow, x, y, dy, dx);
        int bad = 0;
        for (size_t i = 0; i < nx; i++) bad += dx[i] != want[i];
        if (bad) fprintf(stderr, "\n  maxpool %d stride %d on %dx%d: %d wrong\n", d, s, h, w, bad);
        CU_ASSERT(bad == 0);
        free(x), free(y), free(dy), free(dx), free(want);
    }
}

static void test_conv_spec_errors(void) {
    nn_net net;
    CU_ASSERT(nn_net_create(&net, "conv2d 8 size=7 pad=valid", "m", (nn_shape){1, 5, 5}, 0, 1,
                            nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "does not fit") != NULL);
    CU_ASSERT(nn_net_create(&net, "conv2d 8 pad=wide", "m", (nn_shape){1, 5, 5}, 0, 1,
                            nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "pad=wide") != NULL);
    CU_ASSERT(nn_net_create(&net, "maxpool 4", "m", (nn_shape){1, 3, 3}, 0, 1,
                            nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "does not fit") != NULL);
    /* whiten: a patch larger than the input, patches too long to whiten, a bad option */
    CU_ASSERT(nn_net_create(&net, "whiten size=3", "m", (nn_shape){3, 2, 5}, 0, 1,
                            nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "line 1: layer whiten_1: a 3x3 patch does not fit the 2x5 input") !=
              NULL);
    CU_ASSERT(nn_net_create(&net, "dense 600; reshape 100x2x3; whiten size=2", "m",
                            (nn_shape){4, 1, 1}, 0, 1, nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "patches of 400 values (100 channels x 2x2); at most 256") !=
              NULL);
    CU_ASSERT(nn_net_create(&net, "whiten fit=0", "m", (nn_shape){3, 4, 4}, 0, 1,
                            nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "fit=0") != NULL);
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

/* The smoothed, weighted cross-entropy of one batch, in double: sum over i
 * of w[y_i] * -sum_j q_ij log softmax(z_i)_j, q = (1 - eps) onehot + eps / k. */
static double smoothed_xent(const float *z, const int *y, const float *w, int n, int k, double eps) {
    double total = 0;
    for (int i = 0; i < n; i++) {
        double m = -1e300, s = 0, l = 0;
        for (int j = 0; j < k; j++) m = fmax(m, z[i * k + j]);
        for (int j = 0; j < k; j++) s += exp(z[i * k + j] - m);
        for (int j = 0; j < k; j++) {
            const double q = (j == y[i] ? 1 - eps : 0) + eps / k;
            l -= q * (z[i * k + j] - m - log(s));
        }
        total += (w ? w[y[i]] : 1) * l;
    }
    return total;
}

/* --label-smoothing: dlogits of the onehot loss + nn_label_smoothing_term =
 * the gradient of the smoothed loss (finite differences), weighted or not;
 * eps = 0 adds nothing. */
static void test_label_smoothing(void) {
    const int n = 3, k = 4;
    float z[12] = {1, 2, 3, 4, -1, 0, 5, 0.5f, 0.3f, -2, 3, 2};
    int y[3] = {3, 0, 2};
    const float w[4] = {0.5f, 2.0f, 1.0f, 1.25f};
    for (int weighted = 0; weighted < 2; weighted++) {
        const float *wp = weighted ? w : NULL;
        const float eps = 0.2f, scale = 1.0f / n;
        float d[12], t[12];
        nn_softmax_xent_weighted(z, y, wp, n, k, scale, d, NULL);
        nn_label_smoothing_term(y, wp, n, k, eps, scale, t);
        const double h = 1e-2;
        for (int i = 0; i < n * k; i++) {
            const float keep = z[i];
            z[i] = keep + (float)h;
            const double lp = smoothed_xent(z, y, wp, n, k, eps) * scale;
            z[i] = keep - (float)h;
            const double lm = smoothed_xent(z, y, wp, n, k, eps) * scale;
            z[i] = keep;
            CU_ASSERT_DOUBLE_EQUAL(d[i] + t[i], (lp - lm) / (2 * h), 2e-4);
        }
        nn_label_smoothing_term(y, wp, n, k, 0.0f, scale, t);
        for (int i = 0; i < n * k; i++) CU_ASSERT_EQUAL(t[i], 0.0f);
    }
}

/* Weighted softmax-CE (--class-weight): the loss is the sum of w[label] times
 * each sample's cross-entropy, dlogits matches finite differences of the
 * weighted mean, a weight-0 class contributes nothing, weights of 1 and no
 * weights give the unweighted results bit for bit; and the balanced weights
 * N / (K n_c) of a label histogram with an empty class. */
static void test_softmax_xent_weighted(void) {
    const int n = 4, k = 4;
    float z[16] = {1, 2, 3, 4, -1, 0, 5, 0.5f, 100, -100, 3, 2, 0.2f, -0.3f, 0.1f, 0.7f};
    int y[4] = {3, 0, 2, 1};
    const float w[4] = {0.5f, 2.0f, 0.0f, 1.25f};
    float d[16], d0[16], d1[16];
    long correct = 0, correct0 = 0;
    double loss = nn_softmax_xent_weighted(z, y, w, n, k, 1.0f / n, d, &correct);
    double want = 0;
    for (int i = 0; i < n; i++)
        want += w[y[i]] * nn_softmax_xent(z + i * k, y + i, 1, k, 0, NULL, NULL);
    CU_ASSERT_DOUBLE_EQUAL(loss, want, 1e-12 * fabs(want));
    /* Sample 2 (class 2, weight 0): no loss and no gradient. */
    for (int j = 0; j < k; j++) CU_ASSERT_EQUAL(d[2 * k + j], 0.0f);
    /* Weights change the loss, never the count of correct predictions. */
    nn_softmax_xent(z, y, n, k, 1.0f / n, d0, &correct0);
    CU_ASSERT_EQUAL(correct, correct0);
    const float h = 1e-2f;
    for (int i = 0; i < n * k; i++) {
        float keep = z[i];
        z[i] = keep + h;
        double lp = nn_softmax_xent_weighted(z, y, w, n, k, 0, NULL, NULL) / n;
        z[i] = keep - h;
        double lm = nn_softmax_xent_weighted(z, y, w, n, k, 0, NULL, NULL) / n;
        z[i] = keep;
        CU_ASSERT_DOUBLE_EQUAL(d[i], (lp - lm) / (2 * h), 2e-3);
    }
    /* No weights (NULL) and weights of 1: exactly the unweighted loss. */
    const float ones[4] = {1, 1, 1, 1};
    double l0 = nn_softmax_xent(z, y, n, k, 1.0f / n, d0, NULL);
    CU_ASSERT(nn_softmax_xent_weighted(z, y, NULL, n, k, 1.0f / n, d1, NULL) == l0);
    CU_ASSERT(memcmp(d0, d1, sizeof d0) == 0);
    CU_ASSERT(nn_softmax_xent_weighted(z, y, ones, n, k, 1.0f / n, d1, NULL) == l0);
    CU_ASSERT(memcmp(d0, d1, sizeof d0) == 0);

    /* Balanced weights: N = 8 samples, K = 4 classes, n = (3, 1, 0, 4). */
    const double counts[4] = {3, 1, 0, 4};
    float bw[4];
    nn_class_weights(NN_CLASS_WEIGHT_BALANCED, counts, 4, bw);
    CU_ASSERT_DOUBLE_EQUAL(bw[0], 8.0 / 12, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(bw[1], 2.0, 1e-7);
    CU_ASSERT_EQUAL(bw[2], 0.0f); /* no samples: weight 0 */
    CU_ASSERT_DOUBLE_EQUAL(bw[3], 0.5, 1e-7);
    /* Each present class then weighs N/K in all: 3 * 2/3 = 1 * 2 = 4 * 1/2. */
    CU_ASSERT_DOUBLE_EQUAL(counts[0] * bw[0], counts[3] * bw[3], 1e-6);
    CU_ASSERT_EQUAL(nn_class_weight_parse("balanced"), NN_CLASS_WEIGHT_BALANCED);
    CU_ASSERT_EQUAL(nn_class_weight_parse("none"), NN_CLASS_WEIGHT_NONE);
    CU_ASSERT_EQUAL(nn_class_weight_parse("Balanced"), -1);
    CU_ASSERT_EQUAL(nn_class_weight_parse(NULL), -1);
    CU_ASSERT_STRING_EQUAL(nn_class_weight_name(NN_CLASS_WEIGHT_BALANCED), "balanced");
    /* sqrt: n = (9, 1, 0, 4) (N = 14), sum of roots 3 + 1 + 0 + 2 = 6, so
     * w = 14 / (6 sqrt(n_c)) = (7/9, 7/3, 0, 7/6); the mean weight per sample
     * stays 1 (9 * 7/9 + 1 * 7/3 + 4 * 7/6 = 14), and the rare class's weight
     * over the common one's is sqrt(9/1) = 3, against 9 balanced. */
    const double c2[4] = {9, 1, 0, 4};
    float sw[4];
    nn_class_weights(NN_CLASS_WEIGHT_SQRT, c2, 4, sw);
    CU_ASSERT_DOUBLE_EQUAL(sw[0], 7.0 / 9, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(sw[1], 7.0 / 3, 1e-7);
    CU_ASSERT_EQUAL(sw[2], 0.0f);
    CU_ASSERT_DOUBLE_EQUAL(sw[3], 7.0 / 6, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(9 * sw[0] + 1 * sw[1] + 4 * sw[3], 14.0, 1e-5);
    CU_ASSERT_EQUAL(nn_class_weight_parse("sqrt"), NN_CLASS_WEIGHT_SQRT);
    CU_ASSERT_STRING_EQUAL(nn_class_weight_name(NN_CLASS_WEIGHT_SQRT), "sqrt");
    /* none: every class 1, an empty one too. */
    float nw[4];
    nn_class_weights(NN_CLASS_WEIGHT_NONE, c2, 4, nw);
    for (int c = 0; c < 4; c++) CU_ASSERT_EQUAL(nw[c], 1.0f);
}

/* Sigmoid cross-entropy on logits against -[t log s + (1-t) log(1-s)] in
 * double, dlogits against finite differences of the mean, and |z| = 100,
 * where log(s(z)) in float is log(0) = -inf, against the asymptotic values. */
static void test_sigmoid_xent(void) {
    const int n = 6;
    float z[6] = {0.3f, -1.2f, 2.5f, 0.0f, -4.0f, 1.0f}, t[6] = {1, 0, 0, 1, 0.9f, 0.25f};
    float d[6];
    double loss = nn_sigmoid_xent(z, t, n, 1.0f / n, d), want = 0;
    for (int i = 0; i < n; i++) {
        double s = 1.0 / (1.0 + exp(-(double)z[i]));
        want += -(t[i] * log(s) + (1 - t[i]) * log(1 - s));
    }
    CU_ASSERT_DOUBLE_EQUAL(loss, want, 1e-9 * want);
    const float h = 1e-2f;
    for (int i = 0; i < n; i++) {
        float keep = z[i];
        z[i] = keep + h;
        double lp = nn_sigmoid_xent(z, t, n, 0, NULL) / n;
        z[i] = keep - h;
        double lm = nn_sigmoid_xent(z, t, n, 0, NULL) / n;
        z[i] = keep;
        CU_ASSERT_DOUBLE_EQUAL(d[i], (lp - lm) / (2 * h), 1e-5);
    }
    /* Huge logits: exact values up to e^-100 ~ 3.7e-44. */
    float zb[5] = {100, 100, -100, -100, 100}, tb[5] = {1, 0, 1, 0, 0.5f}, db[5];
    const double wantb[5] = {0, 100, 100, 0, 50};
    for (int i = 0; i < 5; i++) {
        double li = nn_sigmoid_xent(zb + i, tb + i, 1, 2.0f, db + i);
        CU_ASSERT(isfinite(li));
        CU_ASSERT_DOUBLE_EQUAL(li, wantb[i], 1e-12);
        CU_ASSERT(isfinite(db[i]));
    }
    CU_ASSERT(nn_sigmoid_xent(zb, tb, 1, 1, NULL) > 0); /* e^-100, not rounded to a negative */
    CU_ASSERT_DOUBLE_EQUAL(db[0], 0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(db[1], 2, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(db[2], -2, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(db[3], 0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(db[4], 1, 1e-12);
    /* Moderate |z| where log1p matters: z = 20, t = 1 is e^-20 ~ 2.06e-9. */
    float z20 = 20, t1 = 1;
    CU_ASSERT_DOUBLE_EQUAL(nn_sigmoid_xent(&z20, &t1, 1, 1, NULL), exp(-20.0), 1e-15);
    /* nn_sigmoid: stable at the extremes, in place allowed. */
    float sz[5] = {-100, -20, 0, 2, 100};
    nn_sigmoid(sz, 5, sz);
    CU_ASSERT_EQUAL(sz[0], (float)exp(-100.0));
    CU_ASSERT_DOUBLE_EQUAL(sz[1], 1 / (1 + exp(20.0)), 1e-15);
    CU_ASSERT_EQUAL(sz[2], 0.5f);
    CU_ASSERT_DOUBLE_EQUAL(sz[3], 1 / (1 + exp(-2.0)), 1e-7);
    CU_ASSERT_EQUAL(sz[4], 1.0f);
}

static void test_spec_errors(void) {
    nn_net net;
    nn_shape in = {1, 28, 28};
    CU_ASSERT(nn_net_create(&net, "dense 10; sigmoud", "spec.txt", in, 0, 4, nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "spec.txt") && strstr(nn_errmsg(), "line 1") &&
              strstr(nn_errmsg(), "sigmoud"));
    CU_ASSERT(nn_net_create(&net, "dense 10\ndense unit=3", "m", in, 0, 4, nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "line 2") && strstr(nn_errmsg(), "unit"));
    CU_ASSERT(nn_net_create(&net, "dense -3", "m", in, 0, 4, nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "units") != NULL);
    CU_ASSERT(nn_net_create(&net, "dense 7", "m", in, 10, 4, nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "10 classes") != NULL);
    CU_ASSERT(nn_net_create(&net, "  # nothing\n", "m", in, 0, 4, nn_backend_current()) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "empty") != NULL);
    /* Positional and key=value forms, comments and ';' all parse. */
    CU_ASSERT_FATAL(nn_net_create(&net, "dense units=100 # hidden\nsigmoid; dense 10", "m", in,
                                  10, 4, nn_backend_current()) == 0);
    CU_ASSERT_EQUAL(net.nlayers, 3);
    CU_ASSERT_EQUAL(net.nparams, 784 * 100 + 100 + 100 * 10 + 10);
    CU_ASSERT_STRING_EQUAL(net.layers[2].name, "dense_2");
    nn_net_free(&net);
}

/* The course's init: N(0, 1/fan_in), same for the same seed. */
static void test_init_stats(void) {
    nn_net a, b;
    nn_shape in = {1, 28, 28};
    CU_ASSERT_FATAL(nn_net_create(&a, "dense 100", "m", in, 0, 1, nn_backend_current()) == 0);
    CU_ASSERT_FATAL(nn_net_create(&b, "dense 100", "m", in, 0, 1, nn_backend_current()) == 0);
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

/* Issue 29.6: NaN through the activations built on vexpf comes out NaN
 * (its exponent was built from (int32_t)NaN: undefined behaviour, reported
 * by UBSan in make SANITIZE=1); +-inf and large values give their limits. */
static void test_act_nan_inf(void) {
    const nn_backend *be = nn_backend_current();
    const float x[6] = {NAN, -NAN, INFINITY, -INFINITY, 1e30f, -1e30f};
    const nn_act acts[3] = {NN_ACT_SIGMOID, NN_ACT_TANH, NN_ACT_GELU};
    for (int a = 0; a < 3; a++) {
        float y[6];
        be->act_forward(acts[a], 0.0f, 6, x, y);
        CU_ASSERT(isnan(y[0]) && isnan(y[1]));
        for (int i = 2; i < 6; i++) /* gelu(-inf) = -inf x Phi(-inf) = -inf x 0 */
            CU_ASSERT(!isnan(y[i]) || (acts[a] == NN_ACT_GELU && i == 3));
    }
}

void register_layer_tests(void) {
    CU_pSuite s = CU_add_suite("layers", NULL, NULL);
    CU_add_test(s, "conv forward and backward vs their definitions, each path",
                test_conv_vs_definition);
    CU_add_test(s, "dense gradient", test_dense_grad);
    CU_add_test(s, "dense without bias gradient", test_dense_nobias_grad);
    CU_add_test(s, "sigmoid, tanh, gelu of NaN are NaN (no UB), of +-inf not", test_act_nan_inf);
    CU_add_test(s, "sigmoid gradient", test_sigmoid_grad);
    CU_add_test(s, "tanh gradient", test_tanh_grad);
    CU_add_test(s, "relu gradient", test_relu_grad);
    CU_add_test(s, "leaky_relu gradient", test_leaky_relu_grad);
    CU_add_test(s, "whiten bias_epochs freezes the bias", test_frozen_after_epochs);
    CU_add_test(s, "gelu gradient (dense; conv, batchnorm)", test_gelu_grad);
    CU_add_test(s, "leaky_relu alpha=0.2 / 0.5 gradient", test_leaky_relu_alpha_grad);
    CU_add_test(s, "leaky_relu alpha reaches the backend", test_leaky_relu_alpha_values);
    CU_add_test(s, "3-layer MLP gradient", test_mlp_grad);
    CU_add_test(s, "dropout gradient (fixed mask)", test_dropout_grad);
    CU_add_test(s, "batchnorm gradient (training mode)", test_batchnorm_grad);
    CU_add_test(s, "batchnorm + tanh gradient", test_batchnorm_tanh_grad);
    CU_add_test(s, "batchnorm eval mode = formula", test_batchnorm_eval_formula);
    CU_add_test(s, "batchnorm scale=false, mul, conv dirac=true gradients",
                test_batchnorm_noscale_mul_grad);
    CU_add_test(s, "batchnorm bias_lr: the optimizer's runs and step",
                test_batchnorm_noscale_lr_runs);
    CU_add_test(s, "conv2d init=uniform dirac=true and mul values; their spec errors", test_dirac_mul_values);
    CU_add_test(s, "dropout keep rate, scale, mask by sample", test_dropout_stats);
    CU_add_test(s, "conv2d gradient (strides, padding, channels, non-square)", test_conv_grad);
    CU_add_test(s, "deconv2d gradient (strides, padding, channels, non-square)",
                test_deconv_grad);
    CU_add_test(s, "reshape gradient (dense-reshape-deconv2d)", test_reshape_grad);
    CU_add_test(s, "maxpool gradient", test_pool_grad);
    CU_add_test(s, "conv-bn-dense gradient; conv-pool-dense on non-square inputs", test_cnn_grad);
    CU_add_test(s, "normalize gradient", test_normalize_grad);
    CU_add_test(s, "conv2d (im2col + GEMM) vs naive loops", test_conv_vs_naive);
    CU_add_test(s, "whiten gradient (bias, input; at the input and after layers)",
                test_whiten_grad);
    CU_add_test(s, "whiten fit: output covariance I, negated copies, identity before",
                test_whiten_fit);
    CU_add_test(s, "conv2d in cache-sized chunks == one image at a time", test_conv_chunks);
    CU_add_test(s, "deconv2d vs naive scatter (forward, dx, dW, db; chunks)",
                test_deconv_vs_naive);
    CU_add_test(s, "deconv2d is the adjoint of conv2d", test_deconv_adjoint);
    CU_add_test(s, "deconv2d init N(0,0.02)", test_deconv_init);
    CU_add_test(s, "reshape values", test_reshape_values);
    CU_add_test(s, "save/add (skip connection) gradient: blocks, nested, at the input",
                test_residual_grad);
    CU_add_test(s, "save/add values by hand", test_residual_values);
    CU_add_test(s, "label smoothing: gradient of the smoothed (weighted) loss", test_label_smoothing);
    CU_add_test(s, "save/add spec errors name the line and the problem",
                test_residual_spec_errors);
    CU_add_test(s, "deconv2d/reshape spec errors", test_deconv_reshape_spec_errors);
    CU_add_test(s, "maxpool values and routing", test_pool_values);
    CU_add_test(s, "maxpool backward against its definition (ties, odd sizes)",
                test_pool_backward_definition);
    CU_add_test(s, "conv/pool spec errors", test_conv_spec_errors);
    CU_add_test(s, "softmax cross-entropy", test_softmax_xent);
    CU_add_test(s, "weighted softmax cross-entropy, balanced class weights",
                test_softmax_xent_weighted);
    CU_add_test(s, "sigmoid cross-entropy (stable at |z| = 100)", test_sigmoid_xent);
    CU_add_test(s, "model spec errors", test_spec_errors);
    CU_add_test(s, "weight init N(0,1/fan_in)", test_init_stats);
}
