/* normalize.c: per-channel input standardisation, y = (x - mean[c]) / std[c]
 * (Keras' Normalization layer). mean and std are state, not trained: the
 * trainer "adapts" them once from the training set (summed over all ranks)
 * when the net starts with this layer, and checkpoints carry them, so eval
 * and predict standardise exactly as training did. */
#include "nn/error.h"
#include "nn/layer.h"

static int norm_setup(nn_layer *l) {
    l->priv = nn_calloc(2 * (size_t)l->in.c, sizeof(float), "normalize layer");
    if (!l->priv) return NN_ERR;
    l->out = l->in;
    nn_layer_add_state(l, "mean", 1, (int[]){l->in.c});
    nn_layer_add_state(l, "std", 1, (int[]){l->in.c});
    return NN_OK;
}

static void norm_init(nn_layer *l, nn_rng *rng) {
    (void)rng;
    for (int k = 0; k < l->in.c; k++) l->state[k] = 0.0f, l->state[l->in.c + k] = 1.0f;
}

/* y = (x - mean) * (1 / std) per channel; scratch (C floats of host
 * memory, set up by norm_setup) holds the reciprocals. */
static int norm_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    const int C = l->in.c;
    float *inv = l->priv;
    for (int k = 0; k < C; k++) inv[k] = 1.0f / l->state[C + k];
    l->be->chan_standardize(c->n, C, (size_t)l->in.h * l->in.w, x, l->state, inv, y);
    return NN_OK;
}

static int norm_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                         const float *dy, float *dx) {
    (void)x, (void)y;
    if (!dx) return NN_OK;
    const int C = l->in.c;
    float *inv = l->priv, *zero = inv + C;
    for (int k = 0; k < C; k++) inv[k] = 1.0f / l->state[C + k], zero[k] = 0.0f;
    l->be->chan_affine(c->n, C, (size_t)l->in.h * l->in.w, dy, inv, zero, dx);
    return NN_OK;
}

const nn_layer_ops nn_normalize_ops = {
    .type = "normalize",
    .help = "normalize (per-channel mean/std, adapted from the training set)",
    .setup = norm_setup,
    .init = norm_init,
    .forward = norm_forward,
    .backward = norm_backward,
};
