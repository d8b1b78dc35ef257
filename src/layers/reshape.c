/* reshape.c: reshape CxHxW (or c=C h=H w=W): (N, IN) -> (N, C, H, W) with
 * C*H*W = IN, the input's C*H*W size whatever its shape (a dense output is
 * (IN, 1, 1)); DCGAN's generator goes dense -> reshape -> deconv2d. The
 * row-major data is unchanged, so forward copies x to y and backward dy to dx
 * (the net gives every layer its own output buffer; no aliasing). The shape
 * is one token, its three numbers joined by 'x' or ','; a space works too
 * where the spec parser hands the three as one value. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nn/error.h"
#include "nn/layer.h"

#define RESHAPE_MAX (1 << 24)

/* "CxHxW", "C,H,W" or "C H W" -> three integers in [1, RESHAPE_MAX]. */
static int parse_shape(const char *s, int dims[3]) {
    const char *q = s;
    for (int i = 0; i < 3; i++) {
        if (i) {
            while (*q == ' ') q++;
            if (*q != 'x' && *q != 'X' && *q != ',' && !(q > s && q[-1] == ' ')) return -1;
            if (*q == 'x' || *q == 'X' || *q == ',') q++;
            while (*q == ' ') q++;
        }
        if (*q < '0' || *q > '9') return -1;
        char *end;
        errno = 0;
        long v = strtol(q, &end, 10);
        if (errno || v < 1 || v > RESHAPE_MAX) return -1;
        dims[i] = (int)v;
        q = end;
    }
    while (*q == ' ') q++;
    return *q ? -1 : 0;
}

static int reshape_setup(nn_layer *l) {
    const char *shape = nn_layer_opt_str(l, "shape", NULL);
    int d[3];
    if (shape) {
        if (parse_shape(shape, d) != 0)
            return nn_fail("model spec line %d: layer %s: shape %s: expected CxHxW, three "
                           "integers in [1, %d] (%s)",
                           l->line, l->name, shape, RESHAPE_MAX, l->ops->help);
    } else {
        NN_TRY(nn_layer_opt_int(l, "c", 0, 1, RESHAPE_MAX, &d[0]));
        NN_TRY(nn_layer_opt_int(l, "h", 0, 1, RESHAPE_MAX, &d[1]));
        NN_TRY(nn_layer_opt_int(l, "w", 0, 1, RESHAPE_MAX, &d[2]));
        if (!d[0] || !d[1] || !d[2])
            return nn_fail("model spec line %d: layer %s: missing the target shape (%s)", l->line,
                           l->name, l->ops->help);
    }
    const size_t in = nn_shape_size(l->in), out = (size_t)d[0] * d[1] * d[2];
    if (out != in)
        return nn_fail("model spec line %d: layer %s: %dx%dx%d holds %zu values but the input "
                       "(%dx%dx%d) holds %zu",
                       l->line, l->name, d[0], d[1], d[2], out, l->in.c, l->in.h, l->in.w, in);
    l->out = (nn_shape){d[0], d[1], d[2]};
    return NN_OK;
}

static int reshape_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    memcpy(y, x, (size_t)c->n * nn_shape_size(l->in) * sizeof(float));
    return NN_OK;
}

static int reshape_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                            const float *dy, float *dx) {
    (void)x, (void)y;
    if (dx) memcpy(dx, dy, (size_t)c->n * nn_shape_size(l->in) * sizeof(float));
    return NN_OK;
}

const nn_layer_ops nn_reshape_ops = {
    .type = "reshape",
    .help = "reshape CxHxW (or c=C h=H w=W)",
    .positional = "shape",
    .setup = reshape_setup,
    .forward = reshape_forward,
    .backward = reshape_backward,
};
