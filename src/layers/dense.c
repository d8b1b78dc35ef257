/* dense.c: fully connected layer, y = x W + b.
 * x: (N, IN) with IN = C*H*W of the input (flattened implicitly),
 * W "kernel": (IN, UNITS) as in Keras, b "bias": (UNITS).
 * Init: N(0, 1/fan_in), the course's choice; it keeps sigmoid units out of
 * saturation at the start. */
#include <math.h>

#include "nn/error.h"
#include "nn/layer.h"

typedef struct {
    int in, units;
    bool bias;
} dense_priv;

static int dense_setup(nn_layer *l) {
    int units;
    bool bias;
    NN_TRY(nn_layer_opt_int(l, "units", 0, 1, 1 << 24, &units));
    NN_TRY(nn_layer_opt_bool(l, "bias", true, &bias));
    if (units == 0)
        return nn_fail("model spec line %d: layer %s: missing units (%s)", l->line, l->name,
                       l->ops->help);
    dense_priv *p = nn_calloc(1, sizeof *p, "dense layer");
    if (!p) return NN_ERR;
    p->in = (int)nn_shape_size(l->in);
    p->units = units;
    p->bias = bias;
    l->priv = p;
    l->out = (nn_shape){units, 1, 1};
    nn_layer_add_param(l, "kernel", 2, (int[]){p->in, units});
    if (bias) nn_layer_add_param(l, "bias", 1, (int[]){units});
    return NN_OK;
}

static void dense_init(nn_layer *l, nn_rng *rng) {
    dense_priv *p = l->priv;
    float sd = 1.0f / sqrtf((float)p->in);
    for (size_t i = 0; i < (size_t)p->in * p->units; i++) l->w[i] = sd * nn_rng_normal(rng);
    if (p->bias)
        for (int j = 0; j < p->units; j++) l->w[(size_t)p->in * p->units + j] = 0.0f;
}

static int dense_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    dense_priv *p = l->priv;
    const float *W = l->w; /* (IN, UNITS) */
    l->be->gemm(false, false, c->n, p->units, p->in, 1.0f, x, p->in, W, p->units, 0.0f, y,
                p->units);
    if (p->bias) l->be->add_row_bias(c->n, p->units, W + (size_t)p->in * p->units, y);
    return NN_OK;
}

static int dense_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                          const float *dy, float *dx) {
    (void)y;
    dense_priv *p = l->priv;
    if (!c->no_param_grads) {
        /* dW(IN, UNITS) += x^T(IN, N) dy(N, UNITS) */
        l->be->gemm(true, false, p->in, p->units, c->n, 1.0f, x, p->in, dy, p->units, 1.0f,
                    l->dw, p->units);
        if (p->bias) l->be->sum_rows(c->n, p->units, dy, l->dw + (size_t)p->in * p->units);
    }
    /* dx(N, IN) = dy(N, UNITS) W^T(UNITS, IN) */
    if (dx)
        l->be->gemm(false, true, c->n, p->in, p->units, 1.0f, dy, p->units, l->w, p->units, 0.0f,
                    dx, p->in);
    return NN_OK;
}

static double dense_flops(const nn_layer *l) {
    const dense_priv *p = l->priv;
    return 2.0 * p->in * p->units;
}

const nn_layer_ops nn_dense_ops = {
    .type = "dense",
    .help = "dense UNITS [bias=true]",
    .positional = "units",
    .setup = dense_setup,
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
    .flops = dense_flops,
};
