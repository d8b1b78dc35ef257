/* batchnorm.c: batch normalisation per channel, after dense (C = units) or
 * convolution layers. x, y: (N, C, H, W); statistics over N*H*W per channel.
 *
 * Training: mu, var = batch mean and (biased) variance; y = gamma xhat + beta
 * with xhat = (x - mu) / sqrt(var + eps). With ctx->bn_sync the sums run over
 * the GLOBAL batch (one allreduce of 2C floats forward and 2C backward), so
 * results do not change with the number of ranks; otherwise over this rank's
 * slice. Running estimates (the course's inference formula, as in Ioffe &
 * Szegedy): E[x] <- avg of batch means, Var[x] <- avg of m/(m-1) batch
 * variances, as exponential moving averages (momentum). Test time:
 *     y = gamma (x - E[x]) / sqrt(Var[x] + eps) + beta.
 * Tensors: gamma, beta (trained); moving_mean, moving_variance (state).
 * scale=false drops gamma (fixed at 1, as in airbench: the next layer's
 * weights can scale instead); bias_lr=K trains beta at K times the
 * learning rate (weight decay divided by K: the same decay per step). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/dist.h"
#include "nn/error.h"
#include "nn/layer.h"

typedef struct {
    int c, hw;
    float eps, momentum;
    bool scale;            /* gamma trained (else fixed at 1: `ones`) */
    float *ones;           /* (C) gamma when scale=false */
    double *sums;          /* (4C) forward: sum, sumsq; backward: sum dy, sum dy*xhat */
    float *mean, *inv_std; /* (C) of the last training forward, for backward */
    float *g, *a, *b;      /* (C) per-channel coefficients handed to the backend */
} bn_priv;

static int bn_setup(nn_layer *l) {
    bn_priv *p = nn_calloc(1, sizeof *p, "batchnorm layer");
    if (!p) return NN_ERR;
    l->priv = p;
    NN_TRY(nn_layer_opt_float(l, "eps", 1e-5f, 0.0f, 1.0f, &p->eps));
    NN_TRY(nn_layer_opt_float(l, "momentum", 0.9f, 0.0f, 1.0f, &p->momentum));
    NN_TRY(nn_layer_opt_bool(l, "scale", true, &p->scale));
    float bias_lr;
    NN_TRY(nn_layer_opt_float(l, "bias_lr", 1.0f, 1e-6f, 1e6f, &bias_lr));
    p->c = l->in.c;
    p->hw = l->in.h * l->in.w;
    p->sums = nn_calloc(4 * (size_t)p->c, sizeof(double), "batchnorm sums");
    p->mean = nn_calloc((size_t)p->c, sizeof(float), "batchnorm mean");
    p->inv_std = nn_calloc((size_t)p->c, sizeof(float), "batchnorm inv_std");
    p->g = nn_calloc(3 * (size_t)p->c, sizeof(float), "batchnorm coefficients");
    if (!p->sums || !p->mean || !p->inv_std || !p->g) return NN_ERR;
    p->a = p->g + p->c, p->b = p->g + 2 * (size_t)p->c;
    l->out = l->in;
    if (p->scale) {
        nn_layer_add_param(l, "gamma", 1, (int[]){p->c});
    } else {
        p->ones = nn_calloc((size_t)p->c, sizeof(float), "batchnorm gamma");
        if (!p->ones) return NN_ERR;
        for (int k = 0; k < p->c; k++) p->ones[k] = 1.0f;
    }
    nn_layer_add_param(l, "beta", 1, (int[]){p->c});
    l->params[l->nparam_tensors - 1].lr_scale = bias_lr;
    nn_layer_add_state(l, "moving_mean", 1, (int[]){p->c});
    nn_layer_add_state(l, "moving_variance", 1, (int[]){p->c});
    return NN_OK;
}

static void bn_free(nn_layer *l) {
    bn_priv *p = l->priv;
    free(p->sums);
    free(p->mean);
    free(p->inv_std);
    free(p->g);
    free(p->ones);
}

/* gamma (C; ones when scale=false) and beta (C) in the layer's slice. */
static const float *bn_gamma(const nn_layer *l) {
    const bn_priv *p = l->priv;
    return p->scale ? l->w : p->ones;
}
static size_t bn_beta_at(const nn_layer *l) {
    const bn_priv *p = l->priv;
    return p->scale ? (size_t)p->c : 0;
}

static void bn_init(nn_layer *l, nn_rng *rng) {
    (void)rng;
    const bn_priv *p = l->priv;
    for (int k = 0; k < p->c; k++) {
        if (p->scale) l->w[k] = 1.0f; /* gamma */
        l->w[bn_beta_at(l) + k] = 0.0f; /* beta */
        l->state[k] = 0.0f;     /* moving mean */
        l->state[p->c + k] = 1.0f; /* moving variance */
    }
}

/* Reduce 2C doubles over ranks when the statistics are global. */
static int reduce(const nn_ctx *c, double *v, size_t n) {
    if (c->bn_sync && c->dist) return nn_dist_allreduce_sum_f64(c->dist, v, n);
    return NN_OK;
}

/* The per-element work is the backend's (chan_sums, chan_affine,
 * bn_grad_sums, bn_grad_input); this file does the per-channel arithmetic
 * on C values and the reductions across ranks. */
static int bn_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    bn_priv *p = l->priv;
    const int C = p->c, N = c->n;
    const float *gamma = bn_gamma(l), *beta = l->w + bn_beta_at(l);
    float *rmean = l->state, *rvar = l->state + C, *scale = p->g, *shift = p->a;
    if (!c->train) {
        for (int k = 0; k < C; k++) {
            scale[k] = gamma[k] / sqrtf(rvar[k] + p->eps);
            shift[k] = beta[k] - scale[k] * rmean[k];
        }
        l->be->chan_affine(N, C, (size_t)p->hw, x, scale, shift, y);
        return NN_OK;
    }
    double *sum = p->sums, *sq = p->sums + C;
    memset(p->sums, 0, 2 * (size_t)C * sizeof(double));
    l->be->chan_sums(N, C, (size_t)p->hw, x, p->sums);
    NN_TRY(reduce(c, p->sums, 2 * (size_t)C));
    const double m = (double)(c->bn_sync ? c->global_n : N) * p->hw;
    if (m < 1) return NN_OK; /* an empty slice in local mode: nothing to normalise */
    for (int k = 0; k < C; k++) {
        double mu = sum[k] / m, var = fmax(sq[k] / m - mu * mu, 0.0);
        p->mean[k] = (float)mu;
        p->inv_std[k] = (float)(1.0 / sqrt(var + p->eps));
        double unbiased = m > 1 ? var * m / (m - 1) : var;
        rmean[k] = p->momentum * rmean[k] + (1.0f - p->momentum) * (float)mu;
        rvar[k] = p->momentum * rvar[k] + (1.0f - p->momentum) * (float)unbiased;
        scale[k] = gamma[k] * p->inv_std[k];
        shift[k] = beta[k] - scale[k] * p->mean[k];
    }
    l->be->chan_affine(N, C, (size_t)p->hw, x, scale, shift, y);
    return NN_OK;
}

static int bn_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                       const float *dy, float *dx) {
    (void)y;
    bn_priv *p = l->priv;
    const int C = p->c, N = c->n;
    const float *gamma = bn_gamma(l);
    float *dgamma = p->scale ? l->dw : NULL, *dbeta = l->dw + bn_beta_at(l);
    double *sdy = p->sums + 2 * (size_t)C, *sdyx = p->sums + 3 * (size_t)C;
    memset(sdy, 0, 2 * (size_t)C * sizeof(double));
    l->be->bn_grad_sums(N, C, (size_t)p->hw, x, dy, p->mean, p->inv_std, sdy);
    /* dgamma/dbeta: local sums; the trainer's allreduce adds the ranks. */
    for (int k = 0; k < C; k++) {
        if (dgamma) dgamma[k] += (float)sdyx[k];
        dbeta[k] += (float)sdy[k];
    }
    if (!dx) return NN_OK;
    NN_TRY(reduce(c, sdy, 2 * (size_t)C));
    const double m = (double)(c->bn_sync ? c->global_n : N) * p->hw;
    for (int k = 0; k < C; k++) {
        p->g[k] = gamma[k] * p->inv_std[k];
        p->a[k] = (float)(sdy[k] / m);
        p->b[k] = (float)(sdyx[k] / m);
    }
    l->be->bn_grad_input(N, C, (size_t)p->hw, x, dy, p->mean, p->inv_std, p->g, p->a, p->b, dx);
    return NN_OK;
}

static double bn_flops(const nn_layer *l) { return 2.0 * (double)nn_shape_size(l->in); }

const nn_layer_ops nn_batchnorm_ops = {
    .type = "batchnorm",
    .help = "batchnorm [eps=1e-5] [momentum=0.9] [scale=true] [bias_lr=1] (per channel; "
            "--bn sync|local)",
    .setup = bn_setup,
    .init = bn_init,
    .forward = bn_forward,
    .backward = bn_backward,
    .free = bn_free,
    .flops = bn_flops,
};
