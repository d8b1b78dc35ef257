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
 * Tensors: gamma, beta (trained); moving_mean, moving_variance (state). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/dist.h"
#include "nn/error.h"
#include "nn/layer.h"

typedef struct {
    int c, hw;
    float eps, momentum;
    double *sums;          /* (4C) forward: sum, sumsq; backward: sum dy, sum dy*xhat */
    float *mean, *inv_std; /* (C) of the last training forward, for backward */
} bn_priv;

static int bn_setup(nn_layer *l) {
    bn_priv *p = nn_calloc(1, sizeof *p, "batchnorm layer");
    if (!p) return NN_ERR;
    l->priv = p;
    NN_TRY(nn_layer_opt_float(l, "eps", 1e-5f, 0.0f, 1.0f, &p->eps));
    NN_TRY(nn_layer_opt_float(l, "momentum", 0.9f, 0.0f, 1.0f, &p->momentum));
    p->c = l->in.c;
    p->hw = l->in.h * l->in.w;
    p->sums = nn_calloc(4 * (size_t)p->c, sizeof(double), "batchnorm sums");
    p->mean = nn_calloc((size_t)p->c, sizeof(float), "batchnorm mean");
    p->inv_std = nn_calloc((size_t)p->c, sizeof(float), "batchnorm inv_std");
    if (!p->sums || !p->mean || !p->inv_std) return NN_ERR;
    l->out = l->in;
    nn_layer_add_param(l, "gamma", 1, (int[]){p->c});
    nn_layer_add_param(l, "beta", 1, (int[]){p->c});
    nn_layer_add_state(l, "moving_mean", 1, (int[]){p->c});
    nn_layer_add_state(l, "moving_variance", 1, (int[]){p->c});
    return NN_OK;
}

static void bn_free(nn_layer *l) {
    bn_priv *p = l->priv;
    free(p->sums);
    free(p->mean);
    free(p->inv_std);
}

static void bn_init(nn_layer *l, nn_rng *rng) {
    (void)rng;
    const bn_priv *p = l->priv;
    for (int k = 0; k < p->c; k++) {
        l->w[k] = 1.0f;         /* gamma */
        l->w[p->c + k] = 0.0f;  /* beta */
        l->state[k] = 0.0f;     /* moving mean */
        l->state[p->c + k] = 1.0f; /* moving variance */
    }
}

/* Reduce 2C doubles over ranks when the statistics are global. */
static int reduce(const nn_ctx *c, double *v, size_t n) {
    if (c->bn_sync && c->dist) return nn_dist_allreduce_sum_f64(c->dist, v, n);
    return NN_OK;
}

static int bn_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    bn_priv *p = l->priv;
    const int C = p->c, HW = p->hw, N = c->n;
    const float *gamma = l->w, *beta = l->w + C;
    float *rmean = l->state, *rvar = l->state + C;
    if (!c->train) {
        for (int n = 0; n < N; n++)
            for (int k = 0; k < C; k++) {
                float s = gamma[k] / sqrtf(rvar[k] + p->eps), b = beta[k] - s * rmean[k];
                const float *xs = x + ((size_t)n * C + k) * HW;
                float *ys = y + ((size_t)n * C + k) * HW;
                for (int i = 0; i < HW; i++) ys[i] = s * xs[i] + b;
            }
        return NN_OK;
    }
    double *sum = p->sums, *sq = p->sums + C;
    memset(p->sums, 0, 2 * (size_t)C * sizeof(double));
    for (int n = 0; n < N; n++)
        for (int k = 0; k < C; k++) {
            const float *xs = x + ((size_t)n * C + k) * HW;
            double s = 0, s2 = 0;
            for (int i = 0; i < HW; i++) s += xs[i], s2 += (double)xs[i] * xs[i];
            sum[k] += s, sq[k] += s2;
        }
    NN_TRY(reduce(c, p->sums, 2 * (size_t)C));
    const double m = (double)(c->bn_sync ? c->global_n : N) * HW;
    if (m < 1) return NN_OK; /* an empty slice in local mode: nothing to normalise */
    for (int k = 0; k < C; k++) {
        double mu = sum[k] / m, var = fmax(sq[k] / m - mu * mu, 0.0);
        p->mean[k] = (float)mu;
        p->inv_std[k] = (float)(1.0 / sqrt(var + p->eps));
        double unbiased = m > 1 ? var * m / (m - 1) : var;
        rmean[k] = p->momentum * rmean[k] + (1.0f - p->momentum) * (float)mu;
        rvar[k] = p->momentum * rvar[k] + (1.0f - p->momentum) * (float)unbiased;
    }
    for (int n = 0; n < N; n++)
        for (int k = 0; k < C; k++) {
            const float *xs = x + ((size_t)n * C + k) * HW;
            float *ys = y + ((size_t)n * C + k) * HW;
            float s = gamma[k] * p->inv_std[k], b = beta[k] - s * p->mean[k];
            for (int i = 0; i < HW; i++) ys[i] = s * xs[i] + b;
        }
    return NN_OK;
}

static int bn_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                       const float *dy, float *dx) {
    (void)y;
    bn_priv *p = l->priv;
    const int C = p->c, HW = p->hw, N = c->n;
    const float *gamma = l->w;
    float *dgamma = l->dw, *dbeta = l->dw + C;
    double *sdy = p->sums + 2 * (size_t)C, *sdyx = p->sums + 3 * (size_t)C;
    memset(sdy, 0, 2 * (size_t)C * sizeof(double));
    for (int n = 0; n < N; n++)
        for (int k = 0; k < C; k++) {
            const float *xs = x + ((size_t)n * C + k) * HW, *ds = dy + ((size_t)n * C + k) * HW;
            double a = 0, b = 0;
            for (int i = 0; i < HW; i++) {
                float xhat = (xs[i] - p->mean[k]) * p->inv_std[k];
                a += ds[i], b += (double)ds[i] * xhat;
            }
            sdy[k] += a, sdyx[k] += b;
        }
    /* dgamma/dbeta: local sums; the trainer's allreduce adds the ranks. */
    for (int k = 0; k < C; k++) dgamma[k] += (float)sdyx[k], dbeta[k] += (float)sdy[k];
    if (!dx) return NN_OK;
    NN_TRY(reduce(c, sdy, 2 * (size_t)C));
    const double m = (double)(c->bn_sync ? c->global_n : N) * HW;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < C; k++) {
            const float *xs = x + ((size_t)n * C + k) * HW, *ds = dy + ((size_t)n * C + k) * HW;
            float *dxs = dx + ((size_t)n * C + k) * HW;
            float g = gamma[k] * p->inv_std[k];
            float mdy = (float)(sdy[k] / m), mdyx = (float)(sdyx[k] / m);
            for (int i = 0; i < HW; i++) {
                float xhat = (xs[i] - p->mean[k]) * p->inv_std[k];
                dxs[i] = g * (ds[i] - mdy - xhat * mdyx);
            }
        }
    return NN_OK;
}

static double bn_flops(const nn_layer *l) { return 2.0 * (double)nn_shape_size(l->in); }

const nn_layer_ops nn_batchnorm_ops = {
    .type = "batchnorm",
    .help = "batchnorm [eps=1e-5] [momentum=0.9] (per channel; --bn sync|local)",
    .setup = bn_setup,
    .init = bn_init,
    .forward = bn_forward,
    .backward = bn_backward,
    .free = bn_free,
    .flops = bn_flops,
};
