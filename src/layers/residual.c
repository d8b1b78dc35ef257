/* residual.c: skip connections in a sequential spec, by name.
 *
 *     save res1        # y = x; remembers x as "res1"
 *     conv2d 64 ...    # the block
 *     batchnorm
 *     relu
 *     add res1         # y = x + res1 (the same shape)
 *
 * The net links each `add` to the nearest earlier `save` of that name, one
 * `add` per `save` (src/core/net.c), and binds their shared buffers: the add
 * reads the save's output (l->link_act) and leaves dL/dy in l->link_grad,
 * which the save's backward adds to the gradient that came down the block.
 * Blocks may nest and follow each other; names are any token. */
#include <string.h>

#include "nn/error.h"
#include "nn/layer.h"

static int save_setup(nn_layer *l) {
    const char *name = nn_layer_opt_str(l, "name", "");
    if (!l->link)
        return nn_fail("model spec line %d: layer %s: 'save %s' has no later 'add %s' to join it",
                       l->line, l->name, name, name);
    l->out = l->in;
    return NN_OK;
}

static int save_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    l->be->copy((size_t)c->n * nn_shape_size(l->in), x, y);
    return NN_OK;
}

/* Two paths leave this point: the block (dy) and the skip (link_grad). */
static int save_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                         const float *dy, float *dx) {
    (void)x, (void)y;
    if (dx) l->be->add((size_t)c->n * nn_shape_size(l->in), dy, l->link_grad, dx);
    return NN_OK;
}

static int add_setup(nn_layer *l) {
    const char *from = nn_layer_opt_str(l, "from", "");
    const nn_shape s = l->link->out;
    if (s.c != l->in.c || s.h != l->in.h || s.w != l->in.w)
        return nn_fail("model spec line %d: layer %s: 'add %s' joins an input of shape (%d, %d, "
                       "%d) to the one saved as '%s' at line %d, of shape (%d, %d, %d): a "
                       "residual block must keep the shape",
                       l->line, l->name, from, l->in.c, l->in.h, l->in.w, from, l->link->line, s.c,
                       s.h, s.w);
    l->out = l->in;
    return NN_OK;
}

static int add_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    l->be->add((size_t)c->n * nn_shape_size(l->in), x, l->link_act, y);
    return NN_OK;
}

/* dL/dx = dL/d(saved) = dy: one copy down the block, one to the save. */
static int add_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                        const float *dy, float *dx) {
    (void)x, (void)y;
    const size_t n = (size_t)c->n * nn_shape_size(l->in);
    l->be->copy(n, dy, l->link_grad);
    if (dx) l->be->copy(n, dy, dx);
    return NN_OK;
}

static double add_flops(const nn_layer *l) { return (double)nn_shape_size(l->in); }

const nn_layer_ops nn_save_ops = {
    .type = "save",
    .help = "save NAME (a point that a later 'add NAME' joins: a skip connection)",
    .positional = "name",
    .setup = save_setup,
    .forward = save_forward,
    .backward = save_backward,
    .label_key = "name",
};

const nn_layer_ops nn_add_ops = {
    .type = "add",
    .help = "add NAME (y = x + the output of the earlier 'save NAME'; same shape)",
    .positional = "from",
    .setup = add_setup,
    .forward = add_forward,
    .backward = add_backward,
    .flops = add_flops,
    .join_key = "from",
};
