/* deconv2d.c: transposed 2-D convolution (PyTorch's ConvTranspose2d), the
 * adjoint of conv2d:
 *     deconv2d FILTERS [size=4] [stride=2] [pad=1] [out_pad=0] [bias=true]
 * x: (N, C, H, W), y: (N, K, OH, OW), kernel (C, K, R, R) (in-channels first,
 * PyTorch's layout), bias (K).
 *     OH = (H - 1) * S - 2P + R + O,   OW = (W - 1) * S - 2P + R + O
 * with O = out_pad in [0, S-1] (PyTorch's output_padding: O more rows and
 * columns at the bottom and right, so size=5 stride=2 pad=2 out_pad=1 doubles
 * 7 to 14). The defaults 4/2/1 double H and W (DCGAN's up-step); a conv2d with
 * the same R, S, P maps OH x OW back to exactly H x W, since O < S.
 * Scatter form: y[k, i*S - P + a, j*S - P + b] += x[c, i, j] W[c, k, a, b],
 * terms outside 0..OH-1 x 0..OW-1 dropped (that is what the padding crops).
 * Built from the backend's conv2d lowering, conv2d's passes swapped:
 *   forward  = conv2d's backward-data: cols(K*R*R, H*W) = W^T(K*R*R, C) x(C, H*W)
 *              by GEMM, then col2im into y (the "image" is OH x OW, the grid H x W);
 *   backward = dx: conv2d's forward of dy with the same W (im2col of dy, GEMM),
 *              dW(C, K*R*R) += x(C, H*W) cols(dy)^T, db = sums of dy.
 * Init: N(0, 0.02^2) (DCGAN's), bias 0, whatever the fan-in.
 * The batch goes in chunks of images whose columns fit in 512 KB like conv2d's,
 * in the net's shared scratch, so the layer holds no batch memory of its own. */
#include <string.h>

#include "nn/error.h"
#include "nn/layer.h"

typedef struct {
    int k, r, s, p, op, oh, ow;
    bool bias;
} deconv_priv;

#define DECONV_MAX_SIDE (1 << 16)

static int deconv_setup(nn_layer *l) {
    deconv_priv *p = nn_calloc(1, sizeof *p, "deconv2d layer");
    if (!p) return NN_ERR;
    l->priv = p;
    NN_TRY(nn_layer_opt_int(l, "filters", 0, 1, 1 << 16, &p->k));
    NN_TRY(nn_layer_opt_int(l, "size", 4, 1, 64, &p->r));
    NN_TRY(nn_layer_opt_int(l, "stride", 2, 1, 64, &p->s));
    NN_TRY(nn_layer_opt_int(l, "pad", 1, 0, 64, &p->p));
    NN_TRY(nn_layer_opt_int(l, "out_pad", 0, 0, 63, &p->op));
    NN_TRY(nn_layer_opt_bool(l, "bias", true, &p->bias));
    if (p->k == 0)
        return nn_fail("model spec line %d: layer %s: missing the number of filters (%s)", l->line,
                       l->name, l->ops->help);
    if (p->op >= p->s)
        return nn_fail("model spec line %d: layer %s: out_pad=%d: expected less than the stride "
                       "(%d) (%s)",
                       l->line, l->name, p->op, p->s, l->ops->help);
    long oh = (long)(l->in.h - 1) * p->s - 2L * p->p + p->r + p->op;
    long ow = (long)(l->in.w - 1) * p->s - 2L * p->p + p->r + p->op;
    if (oh < 1 || ow < 1)
        return nn_fail("model spec line %d: layer %s: output size (H-1)*S - 2*P + R + out_pad is "
                       "%ldx%ld for the %dx%d input (S=%d, P=%d, R=%d, out_pad=%d), expected at "
                       "least 1x1 (less padding?)",
                       l->line, l->name, oh, ow, l->in.h, l->in.w, p->s, p->p, p->r, p->op);
    if (oh > DECONV_MAX_SIDE || ow > DECONV_MAX_SIDE)
        return nn_fail("model spec line %d: layer %s: output %ldx%ld for the %dx%d input, expected "
                       "at most %dx%d",
                       l->line, l->name, oh, ow, l->in.h, l->in.w, DECONV_MAX_SIDE,
                       DECONV_MAX_SIDE);
    p->oh = (int)oh;
    p->ow = (int)ow;
    l->out = (nn_shape){p->k, p->oh, p->ow};
    nn_layer_add_param(l, "kernel", 4, (int[]){l->in.c, p->k, p->r, p->r});
    if (p->bias) nn_layer_add_param(l, "bias", 1, (int[]){p->k});
    return NN_OK;
}

static void deconv_init(nn_layer *l, nn_rng *rng) {
    const deconv_priv *p = l->priv;
    size_t nw = (size_t)l->in.c * p->k * p->r * p->r;
    for (size_t i = 0; i < nw; i++) l->w[i] = 0.02f * nn_rng_normal(rng);
    if (p->bias) memset(l->w + nw, 0, (size_t)p->k * sizeof(float));
}

#ifndef DECONV_COL_BUDGET
#define DECONV_COL_BUDGET (512u * 1024u)
#endif

/* Images per chunk: their columns (K*R*R, g*H*W) fit the budget, g >= 1. */
static int chunk_images(const nn_layer *l, int n) {
    const deconv_priv *p = l->priv;
    size_t per = (size_t)p->k * p->r * p->r * l->in.h * l->in.w * sizeof(float);
    size_t g = per ? DECONV_COL_BUDGET / per : (size_t)n;
    if (g < 1) g = 1;
    return g < (size_t)n ? (int)g : n;
}

/* scratch: columns (K*R*R, g*H*W), then x or dx staged as (C, g*H*W). */
static size_t deconv_scratch(const nn_layer *l, int n) {
    const deconv_priv *p = l->priv;
    size_t np = (size_t)chunk_images(l, n) * l->in.h * l->in.w;
    return np * ((size_t)p->k * p->r * p->r + (size_t)l->in.c);
}

/* Images [i0, i0+g) of a (N, C, HW) batch side by side as (C, g*HW). */
static void stage_in(const float *x, int i0, int g, int c, size_t hw, float *st) {
    const size_t np = (size_t)g * hw;
    for (int i = 0; i < g; i++)
        for (int ch = 0; ch < c; ch++)
            memcpy(st + (size_t)ch * np + (size_t)i * hw, x + ((size_t)(i0 + i) * c + ch) * hw,
                   hw * sizeof(float));
}

static void stage_out(const float *st, int i0, int g, int c, size_t hw, float *x) {
    const size_t np = (size_t)g * hw;
    for (int i = 0; i < g; i++)
        for (int ch = 0; ch < c; ch++)
            memcpy(x + ((size_t)(i0 + i) * c + ch) * hw, st + (size_t)ch * np + (size_t)i * hw,
                   hw * sizeof(float));
}

static int deconv_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    const deconv_priv *p = l->priv;
    const int n = c->n, C = l->in.c, krr = p->k * p->r * p->r, gmax = chunk_images(l, n);
    const size_t hw = (size_t)l->in.h * l->in.w, ohw = (size_t)p->oh * p->ow;
    const float *b = p->bias ? l->w + (size_t)C * krr : NULL;
    float *col = l->scratch;
    for (int i0 = 0; i0 < n; i0 += gmax) {
        const int g = n - i0 < gmax ? n - i0 : gmax;
        const size_t np = (size_t)g * hw;
        const float *xs = x + (size_t)i0 * C * hw;
        if (g > 1) {
            float *st = l->scratch + (size_t)krr * np;
            stage_in(x, i0, g, C, hw, st);
            xs = st;
        }
        /* cols(KRR, g*HW) = W^T(KRR, C) xs(C, g*HW); W is (C, KRR) row-major. */
        l->be->gemm(true, false, krr, (int)np, C, 1.0f, l->w, krr, xs, (int)np, 0.0f, col,
                    (int)np);
        for (int i = 0; i < g; i++) {
            float *yi = y + (size_t)(i0 + i) * p->k * ohw;
            for (int k = 0; k < p->k; k++) {
                const float bk = b ? b[k] : 0.0f;
                float *yk = yi + (size_t)k * ohw;
                for (size_t j = 0; j < ohw; j++) yk[j] = bk;
            }
            /* The scatter: y (K, OH, OW) += columns on the H x W grid. */
            l->be->col2im(col, np, (size_t)i * hw, p->k, p->oh, p->ow, p->r, p->s, p->p, l->in.h,
                          l->in.w, 0, l->in.h, yi);
        }
    }
    return NN_OK;
}

static int deconv_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                           const float *dy, float *dx) {
    (void)y;
    const deconv_priv *p = l->priv;
    const int n = c->n, C = l->in.c, krr = p->k * p->r * p->r, gmax = chunk_images(l, n);
    const size_t hw = (size_t)l->in.h * l->in.w, ohw = (size_t)p->oh * p->ow;
    float *db = p->bias ? l->dw + (size_t)C * krr : NULL, *col = l->scratch;
    for (int i0 = 0; i0 < n; i0 += gmax) {
        const int g = n - i0 < gmax ? n - i0 : gmax;
        const size_t np = (size_t)g * hw;
        float *st = l->scratch + (size_t)krr * np;
        for (int i = 0; i < g; i++) {
            const float *dyi = dy + (size_t)(i0 + i) * p->k * ohw;
            /* cols(KRR, g*HW) of dy: the conv2d lowering of (K, OH, OW). */
            l->be->im2col(dyi, p->k, p->oh, p->ow, p->r, p->s, p->p, l->in.h, l->in.w, 0, l->in.h,
                          col, np, (size_t)i * hw);
            if (db && !c->no_param_grads)
                for (int k = 0; k < p->k; k++) {
                    const float *src = dyi + (size_t)k * ohw;
                    float s = 0.0f;
                    for (size_t j = 0; j < ohw; j++) s += src[j];
                    db[k] += s;
                }
        }
        const float *xs = x + (size_t)i0 * C * hw;
        if (g > 1) {
            stage_in(x, i0, g, C, hw, st);
            xs = st;
        }
        /* dW(C, KRR) += xs(C, g*HW) cols^T(g*HW, KRR) */
        if (!c->no_param_grads)
            l->be->gemm(false, true, C, krr, (int)np, 1.0f, xs, (int)np, col, (int)np, 1.0f,
                        l->dw, krr);
        if (!dx) continue;
        /* dx(C, g*HW) = W(C, KRR) cols(KRR, g*HW): conv2d's forward of dy. */
        float *dxs = g > 1 ? st : dx + (size_t)i0 * C * hw;
        l->be->gemm(false, false, C, (int)np, krr, 1.0f, l->w, krr, col, (int)np, 0.0f, dxs,
                    (int)np);
        if (g > 1) stage_out(st, i0, g, C, hw, dx);
    }
    return NN_OK;
}

static double deconv_flops(const nn_layer *l) {
    const deconv_priv *p = l->priv;
    return 2.0 * l->in.c * p->k * p->r * p->r * l->in.h * l->in.w;
}

const nn_layer_ops nn_deconv2d_ops = {
    .type = "deconv2d",
    .help = "deconv2d FILTERS [size=4] [stride=2] [pad=1] [out_pad=0] [bias=true]",
    .positional = "filters",
    .setup = deconv_setup,
    .init = deconv_init,
    .scratch = deconv_scratch,
    .forward = deconv_forward,
    .backward = deconv_backward,
    .flops = deconv_flops,
};
