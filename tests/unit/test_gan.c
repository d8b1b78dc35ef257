/* test_gan.c: the pieces a GAN adds: the generator's gradient through the
 * discriminator (G-through-D, against finite differences on a tiny G + D),
 * the Inception-style score, and the sample grid PNG. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/error.h"
#include "nn/image.h"
#include "nn/loss.h"
#include "nn/net.h"
#include "nn/rng.h"
#include "nn/score.h"
#include "nn/train.h"
#include "testutil.h"

enum { NZ = 3, IMG = 6, NB = 4 };

/* L(G) = mean BCE(D(G(z)), 1): the generator's loss, forward only. */
static double g_loss(nn_net *g, nn_net *d, const float *z) {
    nn_ctx c = {.train = true, .n = NB, .global_n = NB};
    const float *fake, *logit;
    CU_ASSERT_EQUAL_FATAL(nn_net_forward(g, &c, z, &fake), NN_OK);
    CU_ASSERT_EQUAL_FATAL(nn_net_forward(d, &c, fake, &logit), NN_OK);
    float t[NB] = {1, 1, 1, 1};
    return nn_sigmoid_xent(logit, t, NB, 1.0f, NULL) / NB;
}

static void test_g_through_d(void) {
    nn_net g, d;
    const char *gs = "dense 5; tanh; dense 6; tanh", *ds = "dense 4; leaky_relu alpha=0.2; dense 1";
    CU_ASSERT_EQUAL_FATAL(
        nn_net_create(&g, gs, "g", (nn_shape){NZ, 1, 1}, IMG, NB, nn_backend_current()), NN_OK);
    CU_ASSERT_EQUAL_FATAL(
        nn_net_create(&d, ds, "d", (nn_shape){IMG, 1, 1}, 1, NB, nn_backend_current()), NN_OK);
    nn_net_init(&g, 11);
    nn_net_init(&d, 12);
    float z[NB * NZ];
    for (int i = 0; i < NB * NZ; i++) z[i] = sinf(1.7f * (float)i + 0.3f);
    /* Analytic: D backward into its input, G backward from there. */
    nn_ctx c = {.train = true, .n = NB, .global_n = NB};
    const float *fake, *logit;
    CU_ASSERT_EQUAL_FATAL(nn_net_forward(&g, &c, z, &fake), NN_OK);
    CU_ASSERT_EQUAL_FATAL(nn_net_forward(&d, &c, fake, &logit), NN_OK);
    float t[NB] = {1, 1, 1, 1}, dlog[NB], dx[NB * IMG];
    nn_sigmoid_xent(logit, t, NB, 1.0f / NB, dlog);
    nn_net_zero_grad(&g);
    nn_net_zero_grad(&d);
    CU_ASSERT_EQUAL_FATAL(nn_net_backward_dx(&d, &c, fake, dlog, dx), NN_OK);
    CU_ASSERT_EQUAL_FATAL(nn_net_backward(&g, &c, z, dx), NN_OK);
    double worst = 0;
    for (size_t i = 0; i < g.nparams; i++) {
        const float keep = g.params[i], h = 1e-3f;
        g.params[i] = keep + h;
        double lp = g_loss(&g, &d, z);
        g.params[i] = keep - h;
        double lm = g_loss(&g, &d, z);
        g.params[i] = keep;
        double num = (lp - lm) / (2.0 * h), ana = g.grads[i];
        double err = fabs(num - ana) / fmax(1e-3, fabs(num) + fabs(ana));
        if (err > worst) worst = err;
    }
    CU_ASSERT(worst < 2e-2);
    /* And the input gradient D hands back is D's, not zero. */
    double norm = 0;
    for (int i = 0; i < NB * IMG; i++) norm += fabs(dx[i]);
    CU_ASSERT(norm > 0);
    /* no_param_grads: the same dx, and D's parameter gradients untouched. */
    float dx2[NB * IMG];
    nn_net_zero_grad(&d);
    c.no_param_grads = true;
    CU_ASSERT_EQUAL_FATAL(nn_net_forward(&d, &c, fake, &logit), NN_OK);
    CU_ASSERT_EQUAL_FATAL(nn_net_backward_dx(&d, &c, fake, dlog, dx2), NN_OK);
    CU_ASSERT(memcmp(dx, dx2, sizeof dx) == 0);
    double dsum = 0;
    for (size_t i = 0; i < d.nparams; i++) dsum += fabs(d.grads[i]);
    CU_ASSERT(dsum == 0);
    nn_net_free(&g);
    nn_net_free(&d);
}

static void test_score(void) {
    enum { K = 10, N = 200 };
    float *p = calloc((size_t)N * K, sizeof *p);
    double hist[K];
    nn_score s = {.hist = hist};
    /* Every image one class for sure, all classes equally often: k. */
    for (int i = 0; i < N; i++) p[i * K + i % K] = 1.0f;
    nn_inception_score(p, N, K, &s);
    CU_ASSERT_DOUBLE_EQUAL(s.score, 10.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(s.confident, 1.0, 1e-12);
    for (int j = 0; j < K; j++) CU_ASSERT_DOUBLE_EQUAL(hist[j], 0.1, 1e-12);
    /* All one class: 1, however confident. */
    memset(p, 0, (size_t)N * K * sizeof *p);
    for (int i = 0; i < N; i++) p[i * K + 3] = 1.0f;
    nn_inception_score(p, N, K, &s);
    CU_ASSERT_DOUBLE_EQUAL(s.score, 1.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(hist[3], 1.0, 1e-12);
    /* Uniform predictions: 1, none confident. */
    for (int i = 0; i < N * K; i++) p[i] = 0.1f;
    nn_inception_score(p, N, K, &s);
    CU_ASSERT_DOUBLE_EQUAL(s.score, 1.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(s.confident, 0.0, 1e-12);
    /* Two classes, half each, each image 0.9 sure: exp(KL) by hand. */
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < K; j++) p[i * K + j] = 0;
        p[i * K + (i & 1)] = 0.9f, p[i * K + 1 - (i & 1)] = 0.1f;
    }
    nn_inception_score(p, N, K, &s);
    double kl = 0.9 * log(0.9 / 0.5) + 0.1 * log(0.1 / 0.5);
    CU_ASSERT_DOUBLE_EQUAL(s.score, exp(kl), 1e-5);
    free(p);
}

static void test_grid_png(void) {
    float x[5 * 2 * 3];
    for (int i = 0; i < 30; i++) x[i] = (float)i / 15.0f - 1.0f;
    const char *png = tu_path("grid.png");
    CU_ASSERT_EQUAL_FATAL(nn_png_write_grid(png, x, 5, (nn_shape){1, 2, 3}, 3, -1, 1), NN_OK);
    FILE *f = fopen(png, "rb");
    unsigned char h[24] = {0};
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_EQUAL(fread(h, 1, 24, f), 24);
    fclose(f);
    CU_ASSERT(!memcmp(h, "\x89PNG\r\n\x1a\n", 8));
    /* IHDR: 3 columns of (3 + 2) + 2 = 17 wide, 2 rows of (2 + 2) + 2 = 10 high. */
    unsigned w = (unsigned)h[16] << 24 | (unsigned)h[17] << 16 | (unsigned)h[18] << 8 | h[19];
    unsigned ht = (unsigned)h[20] << 24 | (unsigned)h[21] << 16 | (unsigned)h[22] << 8 | h[23];
    CU_ASSERT_EQUAL(w, 17);
    CU_ASSERT_EQUAL(ht, 10);
    CU_ASSERT_EQUAL(nn_png_write_grid(tu_path("no/such/dir/g.png"), x, 5, (nn_shape){1, 2, 3}, 3,
                                      -1, 1),
                    NN_ERR);
}

/* Regression: D's dropout masks on fakes are keyed by these ids; ids that
 * repeated from step to step (they did) let G learn the few masks D used. */
/* sample --truncation's noise: every draw within [-t, t], symmetric, with the
 * variance of a standard normal truncated there, 1 - 2 t phi(t) / (2 Phi(t) - 1)
 * (0.2911 at t = 1, 0.0796 at t = 0.5), and the same draws for the same stream. */
static void test_truncated_noise(void) {
    const float ts[] = {0.5f, 1.0f, 2.0f};
    for (int c = 0; c < 3; c++) {
        const double t = ts[c], phi = exp(-0.5 * t * t) / sqrt(2.0 * M_PI);
        const double want = 1.0 - 2.0 * t * phi / erf(t / sqrt(2.0));
        nn_rng r, again;
        nn_rng_seed(&r, 7, (uint64_t)c);
        nn_rng_seed(&again, 7, (uint64_t)c);
        const int n = 200000;
        double s = 0, s2 = 0;
        int beyond = 0, differ = 0;
        for (int i = 0; i < n; i++) {
            const float z = nn_rng_normal_truncated(&r, ts[c]);
            beyond += fabsf(z) > ts[c];
            differ += z != nn_rng_normal_truncated(&again, ts[c]);
            s += z, s2 += (double)z * z;
        }
        CU_ASSERT_EQUAL(beyond, 0);
        CU_ASSERT_EQUAL(differ, 0);
        CU_ASSERT(fabs(s / n) < 0.01);
        CU_ASSERT(fabs(s2 / n - want) < 0.01 * want + 0.002);
    }
}

static void test_fake_ids(void) {
    enum { STEPS = 50, N = 64 };
    static uint64_t seen[2 * STEPS * N];
    size_t k = 0;
    for (uint64_t step = 1; step <= STEPS; step++)
        for (int which = 0; which < 2; which++)
            for (uint64_t i = 0; i < N; i++) {
                uint64_t id = nn_gan_fake_id(step, which, i);
                CU_ASSERT(id >> 63); /* apart from the data set's ids */
                CU_ASSERT_EQUAL(id, nn_gan_fake_id(step, which, i)); /* a function of its key */
                seen[k++] = id;
            }
    size_t dup = 0; /* every (step, pass, fake) has its own id */
    for (size_t a = 0; a < k; a++)
        for (size_t b = a + 1; b < k; b++) dup += seen[a] == seen[b];
    CU_ASSERT_EQUAL(dup, 0);
}

void register_gan_tests(void) {
    CU_pSuite s = CU_add_suite("gan", NULL, NULL);
    CU_add_test(s, "truncated noise: bound, mean, variance, repeatable", test_truncated_noise);
    CU_add_test(s, "G-through-D gradient vs finite differences", test_g_through_d);
    CU_add_test(s, "Inception-style score: k, 1, uniform, by hand", test_score);
    CU_add_test(s, "sample grid PNG: signature, size, bad folder", test_grid_png);
    CU_add_test(s, "fakes' sample ids (D's dropout keys) differ per step and pass", test_fake_ids);
}
