/* dropout.c: in training, each unit's output is zeroed with probability
 * `rate` and the kept ones are scaled by 1/(1-rate) ("inverted" dropout), so
 * at test time the layer is the identity. This equals the course's form
 * (train: drop; test: scale by 1-rate) up to a constant factor that the next
 * layer's weights absorb.
 *
 * The mask of a sample is drawn from a stream keyed by (seed, epoch, sample
 * id, layer), never by rank or position in the slice, so it does not change
 * with the number of ranks; backward recomputes it instead of storing it. */
#include "nn/error.h"
#include "nn/layer.h"

typedef struct {
    float rate;
} dropout_priv;

static int dropout_setup(nn_layer *l) {
    dropout_priv *p = nn_calloc(1, sizeof *p, "dropout layer");
    if (!p) return NN_ERR;
    l->priv = p;
    if (nn_layer_opt_float(l, "rate", 0.5f, 0.0f, 0.99f, &p->rate) != NN_OK) return NN_ERR;
    l->out = l->in;
    return NN_OK;
}

/* y = x * mask * scale for one sample (mask recomputed from its stream). */
static void apply_mask(const nn_layer *l, const nn_ctx *c, int i, const float *x, float *y) {
    const dropout_priv *p = l->priv;
    const size_t m = nn_shape_size(l->in);
    const float scale = 1.0f / (1.0f - p->rate);
    nn_rng r;
    nn_rng_seed(&r, nn_hash64(c->seed, 0xd50d0000ULL + c->epoch),
                nn_hash64(c->sample_ids[i], (uint64_t)l->index));
    for (size_t k = 0; k < m; k++) y[k] = nn_rng_uniform(&r) < p->rate ? 0.0f : x[k] * scale;
}

static int dropout_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    const dropout_priv *p = l->priv;
    const size_t m = nn_shape_size(l->in);
    if (!c->train || p->rate == 0.0f) {
        for (size_t k = 0; k < (size_t)c->n * m; k++) y[k] = x[k];
        return NN_OK;
    }
    for (int i = 0; i < c->n; i++) apply_mask(l, c, i, x + (size_t)i * m, y + (size_t)i * m);
    return NN_OK;
}

static int dropout_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                            const float *dy, float *dx) {
    (void)x, (void)y;
    if (!dx) return NN_OK;
    const size_t m = nn_shape_size(l->in);
    /* The same mask and scale applied to the gradient. */
    for (int i = 0; i < c->n; i++) apply_mask(l, c, i, dy + (size_t)i * m, dx + (size_t)i * m);
    return NN_OK;
}

const nn_layer_ops nn_dropout_ops = {
    .type = "dropout",
    .help = "dropout RATE (fraction of units zeroed in training, default 0.5)",
    .positional = "rate",
    .setup = dropout_setup,
    .forward = dropout_forward,
    .backward = dropout_backward,
};
