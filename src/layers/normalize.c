/* normalize.c: per-channel input standardisation, y = (x - mean[c]) / std[c]
 * (Keras' Normalization layer). mean and std are state, not trained: the
 * trainer "adapts" them once from the training set (summed over all ranks)
 * when the net starts with this layer, and checkpoints carry them, so eval
 * and predict standardise exactly as training did. */
#include "nn/error.h"
#include "nn/layer.h"

static int norm_setup(nn_layer *l) {
    l->out = l->in;
    nn_layer_add_state(l, "mean", 1, (int[]){l->in.c});
    nn_layer_add_state(l, "std", 1, (int[]){l->in.c});
    return NN_OK;
}

static void norm_init(nn_layer *l, nn_rng *rng) {
    (void)rng;
    for (int k = 0; k < l->in.c; k++) l->state[k] = 0.0f, l->state[l->in.c + k] = 1.0f;
}

static int norm_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    const int C = l->in.c;
    const size_t hw = (size_t)l->in.h * l->in.w;
    for (int n = 0; n < c->n; n++)
        for (int k = 0; k < C; k++) {
            const float m = l->state[k], inv = 1.0f / l->state[C + k];
            const float *xs = x + ((size_t)n * C + k) * hw;
            float *ys = y + ((size_t)n * C + k) * hw;
            for (size_t i = 0; i < hw; i++) ys[i] = (xs[i] - m) * inv;
        }
    return NN_OK;
}

static int norm_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                         const float *dy, float *dx) {
    (void)x, (void)y;
    if (!dx) return NN_OK;
    const int C = l->in.c;
    const size_t hw = (size_t)l->in.h * l->in.w;
    for (int n = 0; n < c->n; n++)
        for (int k = 0; k < C; k++) {
            const float inv = 1.0f / l->state[C + k];
            const float *ds = dy + ((size_t)n * C + k) * hw;
            float *dxs = dx + ((size_t)n * C + k) * hw;
            for (size_t i = 0; i < hw; i++) dxs[i] = ds[i] * inv;
        }
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
