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

/* y = x * mask / (1 - rate), the masks drawn by the backend from the
 * streams of (seed, epoch) and (sample id, layer). */
static void apply_mask(const nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    const dropout_priv *p = l->priv;
    l->be->dropout(c->n, nn_shape_size(l->in), p->rate, nn_hash64(c->seed, 0xd50d0000ULL + c->epoch),
                   c->sample_ids, (uint64_t)l->index, x, y);
}

static int dropout_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    const dropout_priv *p = l->priv;
    if (!c->train || p->rate == 0.0f)
        l->be->copy((size_t)c->n * nn_shape_size(l->in), x, y);
    else
        apply_mask(l, c, x, y);
    return NN_OK;
}

static int dropout_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                            const float *dy, float *dx) {
    (void)x, (void)y;
    if (dx) apply_mask(l, c, dy, dx); /* the same mask and scale on the gradient */
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
