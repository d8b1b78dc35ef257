/* mul.c: y = k x, a constant factor (not trained). airbench multiplies its
 * logits by 1/9 ("mul 0.1111" after the last dense layer): the softmax then
 * starts flat and the last layer's weights, which have no BatchNorm after
 * them, move the logits 1/81 as fast for the same learning rate. */
#include "nn/error.h"
#include "nn/layer.h"

typedef struct {
    float k, zero; /* the factor, and chan_affine's shift */
} mul_priv;

static int mul_setup(nn_layer *l) {
    mul_priv *p = nn_calloc(1, sizeof *p, "mul layer");
    if (!p) return NN_ERR;
    l->priv = p;
    NN_TRY(nn_layer_opt_float(l, "by", 0.0f, -1e6f, 1e6f, &p->k));
    if (p->k == 0.0f)
        return nn_fail("model spec line %d: layer %s: missing or zero factor (%s)", l->line,
                       l->name, l->ops->help);
    l->out = l->in;
    return NN_OK;
}

/* The whole sample as one channel of the backend's per-channel affine map. */
static void apply(const nn_layer *l, int n, const float *x, float *y) {
    const mul_priv *p = l->priv;
    l->be->chan_affine(n, 1, nn_shape_size(l->in), x, &p->k, &p->zero, y);
}

static int mul_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    apply(l, c->n, x, y);
    return NN_OK;
}

static int mul_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                        const float *dy, float *dx) {
    (void)x, (void)y;
    if (dx) apply(l, c->n, dy, dx);
    return NN_OK;
}

const nn_layer_ops nn_mul_ops = {
    .type = "mul",
    .help = "mul K (y = K x; a constant, not trained)",
    .positional = "by",
    .setup = mul_setup,
    .forward = mul_forward,
    .backward = mul_backward,
};
