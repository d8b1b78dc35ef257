/* activation.c: elementwise activations (sigmoid, relu, tanh, leaky_relu,
 * gelu). They have no parameters. Backward uses the forward output y where it
 * determines the slope (sigmoid' = y(1-y), tanh' = 1-y^2, relu' = [y>0],
 * leaky_relu' = [y>0] + alpha [y<=0], since alpha >= 0 keeps sign(y) =
 * sign(x)), and the input x for gelu (y = x Phi(x) is not one-to-one).
 * leaky_relu [alpha=0.2] (also "leaky_relu 0.2"): y = x for x > 0, alpha x otherwise; alpha in
 * [0, 1] (0.2 is DCGAN's slope and was the fixed slope before the option).
 * gelu: y = x Phi(x), Phi the standard normal cdf (PyTorch's nn.GELU, the
 * erf form); airbench's CIFAR-10 net uses it where the other nets use relu. */
#include "nn/error.h"
#include "nn/layer.h"

typedef struct {
    nn_act act;
    float alpha; /* the backend's activation parameter (leaky_relu's slope) */
} act_priv;

static int act_setup(nn_layer *l, nn_act act) {
    float alpha = 0.0f;
    if (act == NN_ACT_LEAKY_RELU)
        NN_TRY(nn_layer_opt_float(l, "alpha", NN_LEAKY_SLOPE, 0.0f, 1.0f, &alpha));
    act_priv *p = nn_calloc(1, sizeof *p, "activation layer");
    if (!p) return NN_ERR;
    p->act = act;
    p->alpha = alpha;
    l->priv = p;
    l->out = l->in;
    return NN_OK;
}

static int act_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    const act_priv *p = l->priv;
    l->be->act_forward(p->act, p->alpha, (size_t)c->n * nn_shape_size(l->in), x, y);
    return NN_OK;
}

static int act_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                        const float *dy, float *dx) {
    const act_priv *p = l->priv;
    if (dx)
        l->be->act_backward(p->act, p->alpha, (size_t)c->n * nn_shape_size(l->in), x, y, dy, dx);
    return NN_OK;
}

static double act_flops(const nn_layer *l) { return (double)nn_shape_size(l->in); }

#define NN_ACTIVATION(NAME, ACT, HELP, POS)                                                        \
    static int NAME##_setup(nn_layer *l) { return act_setup(l, ACT); }                             \
    const nn_layer_ops nn_##NAME##_ops = {                                                         \
        .type = #NAME,                                                                             \
        .help = HELP,                                                                              \
        .positional = POS,                                                                         \
        .setup = NAME##_setup,                                                                     \
        .forward = act_forward,                                                                    \
        .backward = act_backward,                                                                  \
        .flops = act_flops,                                                                        \
    };

NN_ACTIVATION(sigmoid, NN_ACT_SIGMOID, "sigmoid (no options)", NULL)
NN_ACTIVATION(relu, NN_ACT_RELU, "relu (no options)", NULL)
NN_ACTIVATION(tanh, NN_ACT_TANH, "tanh (no options)", NULL)
NN_ACTIVATION(leaky_relu, NN_ACT_LEAKY_RELU, "leaky_relu [alpha=0.2]", "alpha")
NN_ACTIVATION(gelu, NN_ACT_GELU, "gelu (no options; x Phi(x))", NULL)
