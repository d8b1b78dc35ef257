/* pool.c: max pooling and flatten.
 * maxpool: window d x d, stride s (default d), no padding; x (N, C, H, W) ->
 * (N, C, OH, OW), OH = (H - d) / s + 1. Backward routes each output's
 * gradient to the input that was the maximum (the first one on ties), found
 * again from x and y instead of stored indices.
 * flatten: (C, H, W) -> (C*H*W); data unchanged (Keras' Flatten). */
#include <string.h>

#include "nn/error.h"
#include "nn/layer.h"

typedef struct {
    int d, s;
} pool_priv;

static int pool_setup(nn_layer *l) {
    pool_priv *p = nn_calloc(1, sizeof *p, "maxpool layer");
    if (!p) return NN_ERR;
    l->priv = p;
    NN_TRY(nn_layer_opt_int(l, "size", 2, 1, 64, &p->d));
    NN_TRY(nn_layer_opt_int(l, "stride", p->d, 1, 64, &p->s));
    if (l->in.h < p->d || l->in.w < p->d)
        return nn_fail("model spec line %d: layer %s: a %dx%d window does not fit the %dx%d input",
                       l->line, l->name, p->d, p->d, l->in.h, l->in.w);
    l->out = (nn_shape){l->in.c, (l->in.h - p->d) / p->s + 1, (l->in.w - p->d) / p->s + 1};
    return NN_OK;
}

static int pool_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    const pool_priv *p = l->priv;
    l->be->maxpool_forward((size_t)c->n * l->in.c, l->in.h, l->in.w, p->d, p->s, l->out.h,
                           l->out.w, x, y);
    return NN_OK;
}

static int pool_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                         const float *dy, float *dx) {
    if (!dx) return NN_OK;
    const pool_priv *p = l->priv;
    l->be->maxpool_backward((size_t)c->n * l->in.c, l->in.h, l->in.w, p->d, p->s, l->out.h,
                            l->out.w, x, y, dy, dx);
    return NN_OK;
}

static double pool_flops(const nn_layer *l) {
    const pool_priv *p = l->priv;
    return (double)nn_shape_size(l->out) * p->d * p->d;
}

const nn_layer_ops nn_maxpool_ops = {
    .type = "maxpool",
    .help = "maxpool SIZE [stride=SIZE]",
    .positional = "size",
    .setup = pool_setup,
    .forward = pool_forward,
    .backward = pool_backward,
    .flops = pool_flops,
};

static int flatten_setup(nn_layer *l) {
    l->out = (nn_shape){(int)nn_shape_size(l->in), 1, 1};
    return NN_OK;
}

static int flatten_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    l->be->copy((size_t)c->n * nn_shape_size(l->in), x, y);
    return NN_OK;
}

static int flatten_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                            const float *dy, float *dx) {
    (void)x, (void)y;
    if (dx) l->be->copy((size_t)c->n * nn_shape_size(l->in), dy, dx);
    return NN_OK;
}

const nn_layer_ops nn_flatten_ops = {
    .type = "flatten",
    .help = "flatten (no options)",
    .setup = flatten_setup,
    .forward = flatten_forward,
    .backward = flatten_backward,
};
