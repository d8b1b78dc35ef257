/* test_optim.c: each optimizer's first steps on a fixed quadratic against an
 * independent computation (tests/unit/optim_reference.py, which printed the
 * table below), and the learning-rate schedules. */
#include <math.h>
#include <string.h>

#include "nn/error.h"
#include "nn/optim.h"
#include "testutil.h"

static const struct {
    const char *name;
    double w[4];
} g_ref[] = {
    {"sgd", {0.3645, -0.024, 1.572125, 0.196}},
    {"momentum", {0.4721895, -0.779424, 1.91620963, 0.054196}},
    {"nesterov", {0.46044697, -0.689056656, 1.88030553, 0.075036544}}, /* momentum's form */
    {"adagrad", {0.497717182, -0.997715952, 1.99771582, 0.00228117331}},
    {"rmsprop", {0.492638777, -0.99262664, 1.9926253, 0.00734487599}},
    {"adadelta", {0.486498537, -0.986447747, 1.98644225, 0.0134340031}},
    {"adam", {0.497000193, -0.997000048, 1.99700003, 0.00299960924}},
};

static const float W0[4] = {0.5f, -1.0f, 2.0f, 0.0f}, A[4] = {1, 2, 0.5f, 4},
                   C[4] = {0, 1, -1, 0.25f};

static void test_reference_steps(void) {
    for (size_t k = 0; k < sizeof g_ref / sizeof *g_ref; k++) {
        nn_optim_cfg cfg;
        const bool nesterov = !strcmp(g_ref[k].name, "nesterov");
        CU_ASSERT_FATAL(nn_optim_defaults(nesterov ? "momentum" : g_ref[k].name, &cfg) == 0);
        cfg.nesterov = nesterov;
        nn_optim o;
        CU_ASSERT_FATAL(nn_optim_create(&o, &cfg, 4) == 0);
        float w[4], g[4];
        memcpy(w, W0, sizeof w);
        for (int step = 0; step < 3; step++) {
            for (int i = 0; i < 4; i++) g[i] = A[i] * (w[i] - C[i]);
            nn_optim_step(&o, w, g, cfg.lr);
        }
        for (int i = 0; i < 4; i++) {
            double e = fabs(w[i] - g_ref[k].w[i]);
            if (e > 1e-6 + 1e-5 * fabs(g_ref[k].w[i]))
                fprintf(stderr, "\n  %s w[%d] = %.9g, reference %.9g\n", g_ref[k].name, i, w[i],
                        g_ref[k].w[i]);
            CU_ASSERT(e <= 1e-6 + 1e-5 * fabs(g_ref[k].w[i]));
        }
        CU_ASSERT_EQUAL(o.t, 3);
        nn_optim_free(&o);
    }
}

static void test_defaults_and_errors(void) {
    nn_optim_cfg c;
    CU_ASSERT(nn_optim_defaults("momentum", &c) == 0 && fabsf(c.lr - 0.01f) < 1e-9f &&
              fabsf(c.momentum - 0.9f) < 1e-7f);
    CU_ASSERT(nn_optim_defaults("adadelta", &c) == 0 && fabsf(c.rho - 0.95f) < 1e-7f &&
              fabsf(c.eps - 1e-6f) < 1e-12f);
    CU_ASSERT(nn_optim_defaults("adam", &c) == 0 && fabsf(c.beta2 - 0.999f) < 1e-7f);
    CU_ASSERT(nn_optim_defaults("adamw", &c) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "adamw") && strstr(nn_errmsg(), "rmsprop"));
}

/* Issue 29.6: eps 0 for the rules that divide by it is refused, naming --eps
 * and the range (it diverged with the hint "lower --lr"). */
static void test_eps_zero_refused(void) {
    const char *rules[3] = {"rmsprop", "adadelta", "adam"};
    for (int k = 0; k < 3; k++) {
        nn_optim_cfg c;
        CU_ASSERT_FATAL(nn_optim_defaults(rules[k], &c) == 0);
        CU_ASSERT(nn_optim_check(&c) == 0);
        c.eps = 0.0f;
        nn_err_clear();
        CU_ASSERT(nn_optim_check(&c) != 0);
        CU_ASSERT(strstr(nn_errmsg(), "--eps 0") && strstr(nn_errmsg(), "(0, 1]") &&
                  strstr(nn_errmsg(), rules[k]));
        nn_optim o;
        CU_ASSERT(nn_optim_create(&o, &c, 4) != 0); /* the library refuses it too */
        c.eps = -1e-3f;
        CU_ASSERT(nn_optim_check(&c) != 0);
    }
}

static void test_weight_decay(void) {
    nn_optim_cfg cfg;
    nn_optim_defaults("sgd", &cfg);
    cfg.weight_decay = 0.1f;
    nn_optim o;
    nn_optim_create(&o, &cfg, 1);
    float w = 2.0f, g = 0.0f;
    nn_optim_step(&o, &w, &g, 0.5f);
    CU_ASSERT_DOUBLE_EQUAL(w, 2.0 - 0.5 * 0.1 * 2.0, 1e-7);
    nn_optim_free(&o);
}

static void test_schedules(void) {
    nn_sched s;
    CU_ASSERT(nn_sched_parse("step:10:0.5", &s) == 0);
    s.base_lr = 1.0f, s.warmup_epochs = 0;
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 9.9, 30), 1.0, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 10.0, 30), 0.5, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 25.0, 30), 0.25, 1e-7);
    CU_ASSERT(nn_sched_parse("cosine", &s) == 0);
    s.base_lr = 1.0f, s.warmup_epochs = 2;
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 10.0, 20), 0.5, 1e-6);
    CU_ASSERT(nn_sched_lr(&s, 0.5, 20) < 0.3f); /* warming up */
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 20.0, 20), 0.0, 1e-6);
    CU_ASSERT(nn_sched_parse("linear", &s) == 0); /* with warmup: a triangle */
    s.base_lr = 2.0f, s.warmup_epochs = 2;
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 1.0, 10), 2.0 * (1.0 + 1e-3) / 2, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 2.0, 10), 2.0, 1e-6); /* the peak */
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 5.0, 10), 2.0 * 5 / 8, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 7.5, 10), 2.0 * 2.5 / 8, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 10.0, 10), 0.0, 1e-6);
    /* linear:START:END, airbench's triangle 0.2 -> 1 -> 0.07, peak at 2.3 of 10 */
    CU_ASSERT(nn_sched_parse("linear:0.2:0.07", &s) == 0);
    s.base_lr = 2.0f, s.warmup_epochs = 2.3f;
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 0.0, 10), 2.0 * 0.2, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 1.15, 10), 2.0 * 0.6, 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 2.3, 10), 2.0, 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 2.3 + 7.7 / 2, 10), 2.0 * (1 + 0.07) / 2, 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 10.0, 10), 2.0 * 0.07, 1e-6);
    CU_ASSERT(nn_sched_parse("linear:0:0", &s) == 0); /* the plain triangle, exactly 0 at 0 */
    s.base_lr = 1.0f, s.warmup_epochs = 2;
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 0.0, 10), 0.0, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(nn_sched_lr(&s, 6.0, 10), 0.5, 1e-6);
    const char *bad[] = {"linear:0.2", "linear:1.5:0", "linear:0.2:-1", "linear:0.2:0.1x",
                         "linear:a:b"};
    for (int i = 0; i < 5; i++) {
        CU_ASSERT(nn_sched_parse(bad[i], &s) != 0);
        CU_ASSERT(strstr(nn_errmsg(), "linear:START:END") != NULL);
    }
    CU_ASSERT(nn_sched_parse("step:0:1", &s) != 0);
    CU_ASSERT(strstr(nn_errmsg(), "step:EVERY:GAMMA") != NULL);
}

/* The moving average against the formula, warm-up included: update t uses
 * d = min(decay, (1+t)/(10+t)). */
static void test_ema(void) {
    float avg[2] = {1.0f, -2.0f};
    const float x[2] = {3.0f, 0.0f};
    double ref[2] = {1.0, -2.0};
    for (uint64_t t = 1; t <= 200; t++) {
        nn_ema_update(avg, x, 2, 0.9f, t);
        double d = fmin(0.9, (1.0 + (double)t) / (10.0 + (double)t));
        for (int i = 0; i < 2; i++) ref[i] = d * ref[i] + (1 - d) * x[i];
        if (t == 1) CU_ASSERT_DOUBLE_EQUAL(avg[0], (2.0 * 1.0 + 9.0 * 3.0) / 11.0, 1e-6); /* d = 2/11 */
    }
    CU_ASSERT_DOUBLE_EQUAL(avg[0], ref[0], 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(avg[1], ref[1], 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(avg[0], 3.0, 1e-5); /* a constant input is reached */
    float a0 = 5.0f;
    nn_ema_update(&a0, x, 1, 0.0f, 7); /* decay 0: the input itself */
    CU_ASSERT_EQUAL(a0, 3.0f);
}

void register_optim_tests(void) {
    CU_pSuite s = CU_add_suite("optim", NULL, NULL);
    CU_add_test(s, "six optimizers vs independent reference", test_reference_steps);
    CU_add_test(s, "defaults and unknown names", test_defaults_and_errors);
    CU_add_test(s, "eps 0 refused for rmsprop, adadelta, adam", test_eps_zero_refused);
    CU_add_test(s, "weight decay", test_weight_decay);
    CU_add_test(s, "lr schedules with warmup", test_schedules);
    CU_add_test(s, "moving average of weights (--ema)", test_ema);
}
