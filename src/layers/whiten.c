/* whiten.c: a patch-whitening convolution fitted to the data, the stem of
 * the fast CIFAR-10 trainers ("airbench"). Every R x R patch of the input,
 * flattened to d = C*R*R values, has a second-moment matrix S = V L V^T over
 * the training images. The layer's 2d filters are the rows of
 * L^-1/2 V^T (scaled eigenvectors, largest eigenvalue first) and their
 * negatives, so its output channels are the patch's coordinates in a basis
 * where the patches are uncorrelated with unit variance (eigenvalues well
 * above eps), in both signs so that a ReLU after it loses nothing.
 *
 * The kernel is state, not a parameter: the trainer fits it once before the
 * first step of a new run (fit_*: the moments of the patches of `fit`
 * training images spread over the set, summed over all ranks), it is never
 * trained, and the checkpoint carries it. Only the bias (2d values) is
 * trained, and with bias_epochs=E only in the first E epochs (airbench
 * freezes it after 3). Before any fit (a net built for a test, a GAN) the kernel is
 * [I; -I], the patch as it is. x: (N, C, H, W), y: (N, 2d, H-R+1, W-R+1); stride 1, no padding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "nn/error.h"

typedef struct {
    nn_conv_geom g;
    int d; /* C*R*R: the patch size */
    bool bias;
    float eps;
    int fit; /* training images to fit to */
    int bias_epochs; /* the bias trains in the first bias_epochs epochs; 0 = always */
} whiten_priv;

static int whiten_setup(nn_layer *l) {
    whiten_priv *p = nn_calloc(1, sizeof *p, "whiten layer");
    if (!p) return NN_ERR;
    l->priv = p;
    NN_TRY(nn_layer_opt_int(l, "size", 2, 1, 8, &p->g.r));
    NN_TRY(nn_layer_opt_float(l, "eps", 5e-4f, 0.0f, 1e6f, &p->eps));
    NN_TRY(nn_layer_opt_bool(l, "bias", true, &p->bias));
    NN_TRY(nn_layer_opt_int(l, "fit", 5000, 1, 1 << 30, &p->fit));
    NN_TRY(nn_layer_opt_int(l, "bias_epochs", 0, 0, 1 << 20, &p->bias_epochs));
    if (p->bias_epochs && !p->bias)
        return nn_fail("model spec line %d: layer %s: bias_epochs=%d needs the bias (bias=false "
                       "given)",
                       l->line, l->name, p->bias_epochs);
    p->d = l->in.c * p->g.r * p->g.r;
    if (l->in.h < p->g.r || l->in.w < p->g.r)
        return nn_fail("model spec line %d: layer %s: a %dx%d patch does not fit the %dx%d input",
                       l->line, l->name, p->g.r, p->g.r, l->in.h, l->in.w);
    if (p->d > 256)
        return nn_fail("model spec line %d: layer %s: patches of %d values (%d channels x %dx%d); "
                       "at most 256 are whitened (it is meant for the input image)",
                       l->line, l->name, p->d, l->in.c, p->g.r, p->g.r);
    p->g = (nn_conv_geom){.in = l->in, .k = 2 * p->d, .r = p->g.r, .s = 1, .p = 0,
                          .oh = l->in.h - p->g.r + 1, .ow = l->in.w - p->g.r + 1};
    l->out = (nn_shape){p->g.k, p->g.oh, p->g.ow};
    nn_layer_add_state(l, "kernel", 4, (int[]){p->g.k, l->in.c, p->g.r, p->g.r});
    if (p->bias) {
        nn_layer_add_param(l, "bias", 1, (int[]){p->g.k});
        l->params[l->nparam_tensors - 1].epochs = p->bias_epochs;
    }
    return NN_OK;
}

/* kernel rows e and d+e: +-row e of m (d x d, row-major). */
static void set_kernel(nn_layer *l, const float *m) {
    const int d = ((const whiten_priv *)l->priv)->d;
    memcpy(l->state, m, (size_t)d * d * sizeof(float));
    for (size_t i = 0; i < (size_t)d * d; i++) l->state[(size_t)d * d + i] = -m[i];
}

static void whiten_init(nn_layer *l, nn_rng *rng) {
    (void)rng;
    const whiten_priv *p = l->priv;
    const size_t dd = (size_t)p->d * p->d;
    for (size_t i = 0; i < dd; i++) /* [I; -I] */
        l->state[i] = i % ((size_t)p->d + 1) == 0 ? 1.0f : 0.0f, l->state[dd + i] = -l->state[i];
    if (p->bias) memset(l->w, 0, (size_t)p->g.k * sizeof(float));
}

static size_t whiten_scratch(const nn_layer *l, int n) {
    return nn_conv_scratch(l->be, &((const whiten_priv *)l->priv)->g, n);
}

static int whiten_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    const whiten_priv *p = l->priv;
    nn_conv_forward(l->be, &p->g, c->n, l->state, p->bias ? l->w : NULL, x, y, l->scratch);
    return NN_OK;
}

static int whiten_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                           const float *dy, float *dx) {
    (void)y;
    const whiten_priv *p = l->priv;
    float *db = p->bias && !c->no_param_grads ? l->dw : NULL;
    if (db || dx) nn_conv_backward(l->be, &p->g, c->n, l->state, x, dy, NULL, db, dx, l->scratch);
    return NN_OK;
}

static double whiten_flops(const nn_layer *l) {
    return nn_conv_flops(&((const whiten_priv *)l->priv)->g);
}

/* acc: the d x d sums of patch outer products, then the patch count. */
static size_t whiten_fit_size(const nn_layer *l, size_t *images) {
    const whiten_priv *p = l->priv;
    *images = (size_t)p->fit;
    return (size_t)p->d * p->d + 1;
}

static void whiten_fit_batch(nn_layer *l, const float *x, int n, double *acc) {
    const whiten_priv *p = l->priv;
    const int d = p->d, r = p->g.r, H = l->in.h, W = l->in.w;
    double v[256];
    for (int i = 0; i < n; i++) {
        const float *img = x + (size_t)i * nn_shape_size(l->in);
        for (int oy = 0; oy < p->g.oh; oy++)
            for (int ox = 0; ox < p->g.ow; ox++) {
                int j = 0; /* (c, ky, kx): the order of the kernel's and im2col's rows */
                for (int ch = 0; ch < l->in.c; ch++)
                    for (int ky = 0; ky < r; ky++)
                        for (int kx = 0; kx < r; kx++)
                            v[j++] = img[((size_t)ch * H + oy + ky) * W + ox + kx];
                for (int a = 0; a < d; a++)
                    for (int b = a; b < d; b++) acc[(size_t)a * d + b] += v[a] * v[b];
            }
        acc[(size_t)d * d] += (double)p->g.oh * p->g.ow;
    }
}

/* Eigen-decomposition of the symmetric d x d matrix a (destroyed) by cyclic
 * Jacobi rotations: a = v diag(lam) v^T, eigenvectors in v's columns. */
static void sym_eigen(int d, double *a, double *v, double *lam) {
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) v[(size_t)i * d + j] = i == j;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, all = 0;
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) {
                double e = a[(size_t)i * d + j] * a[(size_t)i * d + j];
                all += e;
                if (i != j) off += e;
            }
        if (off <= 1e-30 * all) break;
        for (int pi = 0; pi < d - 1; pi++)
            for (int q = pi + 1; q < d; q++) {
                const double apq = a[(size_t)pi * d + q];
                if (apq == 0.0) continue;
                const double th = (a[(size_t)q * d + q] - a[(size_t)pi * d + pi]) / (2 * apq);
                const double t = (th >= 0 ? 1.0 : -1.0) / (fabs(th) + sqrt(th * th + 1));
                const double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < d; k++) { /* a <- a P, v <- v P */
                    double *ak = a + (size_t)k * d, *vk = v + (size_t)k * d;
                    const double x = ak[pi], y = ak[q], vx = vk[pi], vy = vk[q];
                    ak[pi] = c * x - s * y, ak[q] = s * x + c * y;
                    vk[pi] = c * vx - s * vy, vk[q] = s * vx + c * vy;
                }
                for (int k = 0; k < d; k++) { /* a <- P^T a */
                    const double x = a[(size_t)pi * d + k], y = a[(size_t)q * d + k];
                    a[(size_t)pi * d + k] = c * x - s * y;
                    a[(size_t)q * d + k] = s * x + c * y;
                }
            }
    }
    for (int i = 0; i < d; i++) lam[i] = a[(size_t)i * d + i];
}

static int whiten_fit_finish(nn_layer *l, const double *acc) {
    const whiten_priv *p = l->priv;
    const int d = p->d;
    const double count = acc[(size_t)d * d];
    if (!(count > 0))
        return nn_fail("layer %s: no image patches to fit the whitening to", l->name);
    double *a = malloc((size_t)d * d * sizeof *a), *v = malloc((size_t)d * d * sizeof *v);
    double *lam = malloc((size_t)d * sizeof *lam);
    float *m = malloc((size_t)d * d * sizeof *m);
    int *order = malloc((size_t)d * sizeof *order);
    int rc = a && v && lam && m && order ? NN_OK : nn_fail("layer %s: out of memory", l->name);
    if (rc == NN_OK) {
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++)
                a[(size_t)i * d + j] = a[(size_t)j * d + i] = acc[(size_t)i * d + j] / count;
        sym_eigen(d, a, v, lam);
        for (int i = 0; i < d; i++) order[i] = i;
        for (int i = 1; i < d; i++) /* largest eigenvalue first */
            for (int j = i; j > 0 && lam[order[j]] > lam[order[j - 1]]; j--) {
                int t = order[j];
                order[j] = order[j - 1], order[j - 1] = t;
            }
        for (int e = 0; e < d; e++) {
            const int k = order[e];
            const double lk = lam[k] > 0 ? lam[k] : 0, sc = 1 / sqrt(lk + p->eps);
            for (int j = 0; j < d; j++) m[(size_t)e * d + j] = (float)(v[(size_t)j * d + k] * sc);
        }
        if (p->eps == 0 && !(lam[order[d - 1]] > 0))
            rc = nn_fail("layer %s: the patches span fewer than %d dimensions; set eps > 0",
                         l->name, d);
        else
            set_kernel(l, m);
    }
    free(a), free(v), free(lam), free(m), free(order);
    return rc;
}

const nn_layer_ops nn_whiten_ops = {
    .type = "whiten",
    .help = "whiten [size=2] [eps=5e-4] [bias=true] [fit=5000] [bias_epochs=0 (always)]: "
            "2*C*size*size channels",
    .setup = whiten_setup,
    .init = whiten_init,
    .scratch = whiten_scratch,
    .forward = whiten_forward,
    .backward = whiten_backward,
    .flops = whiten_flops,
    .fit_size = whiten_fit_size,
    .fit_batch = whiten_fit_batch,
    .fit_finish = whiten_fit_finish,
};
