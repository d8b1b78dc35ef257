/* conv2d.c: 2-D convolution by im2col + GEMM, as the course describes:
 * W as K x (C*R*R), the batch's columns X as (C*R*R) x (N*OH*OW), Y = W X;
 * on a backend with the kernel-row ops, stride-1 layers lower R times less
 * (one (C*R) x ((OH+R-1)*OW) lowering per image, one product per kernel row:
 * plan_of, kw_forward).
 * x: (N, C, H, W), y: (N, K, OH, OW), kernel (K, C, R, R), bias (K).
 * OH = (H + 2P - R) / S + 1. pad=same keeps H x W at stride 1 (P = R/2).
 * Init: N(0, 2/fan_in) (He), fan_in = C*R*R, suited to the ReLUs that follow.
 * init=uniform: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default, a
 * 2.4x smaller scale than He's. Before BatchNorm the scale does not change
 * what the layer computes, but it sets the effective learning rate (a step
 * moves a smaller kernel by a larger angle): airbench's recipe is tuned for it.
 * dirac=true (odd R, pad=same, stride 1): the first min(K, C) filters are
 * the identity instead (filter k passes input channel k through), so a
 * deep plain chain starts close to a shallower one (airbench: with uniform).
 * The columns are rebuilt in backward rather than kept, so the layer holds no
 * per-batch memory of its own (it uses the net's shared scratch). */
#include <math.h>
#include <string.h>

#include "conv.h"
#include "nn/error.h"

typedef struct {
    nn_conv_geom g;
    bool bias, uniform, dirac;
} conv_priv;

static int conv_setup(nn_layer *l) {
    conv_priv *p = nn_calloc(1, sizeof *p, "conv2d layer");
    if (!p) return NN_ERR;
    l->priv = p;
    NN_TRY(nn_layer_opt_int(l, "filters", 0, 1, 1 << 16, &p->g.k));
    NN_TRY(nn_layer_opt_int(l, "size", 3, 1, 64, &p->g.r));
    NN_TRY(nn_layer_opt_int(l, "stride", 1, 1, 64, &p->g.s));
    NN_TRY(nn_layer_opt_bool(l, "bias", true, &p->bias));
    const char *init = nn_layer_opt_str(l, "init", "he");
    if (strcmp(init, "he") && strcmp(init, "uniform"))
        return nn_fail("model spec line %d: layer %s: init=%s: expected he or uniform", l->line,
                       l->name, init);
    p->uniform = !strcmp(init, "uniform");
    NN_TRY(nn_layer_opt_bool(l, "dirac", false, &p->dirac));
    const char *pad = nn_layer_opt_str(l, "pad", "same");
    if (!strcmp(pad, "same"))
        p->g.p = p->g.r / 2;
    else if (!strcmp(pad, "valid"))
        p->g.p = 0;
    else if (nn_layer_opt_int(l, "pad", 0, 0, 64, &p->g.p) != NN_OK)
        return nn_fail("model spec line %d: layer %s: pad=%s: expected same, valid or a number",
                       l->line, l->name, pad);
    if (p->g.k == 0)
        return nn_fail("model spec line %d: layer %s: missing the number of filters (%s)", l->line,
                       l->name, l->ops->help);
    int h = l->in.h + 2 * p->g.p - p->g.r, w = l->in.w + 2 * p->g.p - p->g.r;
    if (h < 0 || w < 0)
        return nn_fail("model spec line %d: layer %s: a %dx%d filter does not fit the %dx%d input "
                       "(padding %d)",
                       l->line, l->name, p->g.r, p->g.r, l->in.h, l->in.w, p->g.p);
    if (p->dirac && (p->g.r % 2 == 0 || p->g.s != 1 || 2 * p->g.p != p->g.r - 1))
        return nn_fail("model spec line %d: layer %s: dirac=true needs an odd filter size, "
                       "stride 1 and pad=same (the identity filter keeps the image in place)",
                       l->line, l->name);
    p->g.oh = h / p->g.s + 1;
    p->g.ow = w / p->g.s + 1;
    p->g.in = l->in;
    l->out = (nn_shape){p->g.k, p->g.oh, p->g.ow};
    nn_layer_add_param(l, "kernel", 4, (int[]){p->g.k, l->in.c, p->g.r, p->g.r});
    if (p->bias) nn_layer_add_param(l, "bias", 1, (int[]){p->g.k});
    return NN_OK;
}

static void conv_init(nn_layer *l, nn_rng *rng) {
    const conv_priv *p = l->priv;
    size_t fan_in = (size_t)l->in.c * p->g.r * p->g.r, nw = (size_t)p->g.k * fan_in;
    float sd = sqrtf(2.0f / (float)fan_in);
    const float bound = 1.0f / sqrtf((float)fan_in);
    for (size_t i = 0; i < nw; i++)
        l->w[i] = p->uniform ? bound * (2.0f * nn_rng_uniform(rng) - 1.0f)
                             : sd * nn_rng_normal(rng);
    if (p->dirac) {
        const int r = p->g.r, mid = r / 2 * r + r / 2;
        for (int k = 0; k < p->g.k && k < l->in.c; k++) {
            float *f = l->w + (size_t)k * fan_in; /* filter k: (C, R, R) */
            memset(f, 0, fan_in * sizeof(float));
            f[(size_t)k * r * r + mid] = 1.0f;
        }
    }
    if (p->bias) memset(l->w + nw, 0, (size_t)p->g.k * sizeof(float));
}

/* The columns of a whole batch (C*R*R x N*OH*OW) are far larger than the
 * caches for MNIST-sized inputs (288 x 25,088 floats = 29 MB at batch 32), and
 * streaming them through memory twice (im2col, then OpenBLAS's packing) cost
 * more than the GEMM itself. So the columns are built a few cache's worth at
 * a time: chunks of g images whose columns fit the budget, or, when one
 * image's do not, bands of its output rows that do (OpenBLAS alone, 1
 * thread, SkylakeX: 32 filters x 288 rows over 512 columns 133-141 GFLOP/s
 * against 91-125 over 1,024). Since the kernel-row lowering took the large
 * planes, what im2col still lowers on the CPU is mostly deep layers on small
 * planes, where one image's columns nearly fill a small budget and the
 * products get too few columns: 2 MB rather than 512 KB made 256 -> 256
 * filters on 7x7 1.25x forward, 1.15x backward, on 3x3 1.24x and 1.15x, 192
 * on 4x4 1.06x (conv_layer.c, alternately), and trained the airbench nets
 * 1.07x, the DCGAN 1.05x, the resnet and cnn presets 0.99-1.01x (ab.sh). */
#ifndef CONV_COL_BUDGET
#define CONV_COL_BUDGET (2048u * 1024u)
#endif

/* Bands pay with few filters, where each packed column is used by only K
 * rows of W and so must stay in L2 (tests/bench/conv_layer.c against whole
 * images: 32 filters over 32 channels of 32x32 1.05-1.15x, 48 over 24
 * channels 1.1x forward); with 64 filters the shorter products lost (28x28:
 * 0.95x, 16x16 in two bands of 128 columns: 0.8-0.97x). */
#ifndef CONV_BAND_BELOW
#define CONV_BAND_BELOW 64
#endif

/* A chunk's products run image by image (band by band), straight from and
 * into the (N, K, OH, OW) tensors, when its plane is large enough for a GEMM
 * of its own: no restaging copy of y or dy. Small planes (8x8, 4x4) share
 * one product across a chunk of g images instead. */
#ifndef CONV_PER_IMAGE_MIN_OHW
#define CONV_PER_IMAGE_MIN_OHW 512
#endif

/* With few filters over many column rows the product is faster transposed,
 * Y^T(NP, K) = col^T W^T, even with the pass that transposes it back into y
 * (tests/bench/conv_layer.c, alternately against a build without it: K = 32
 * over 288 rows 1.05-1.1x; from 48 filters on they tie, and a first layer's
 * 9 or 27 rows are 1.5-2x faster untransposed, image by image). */
#ifndef CONV_FWD_T_BELOW
#define CONV_FWD_T_BELOW 48
#endif

/* Stride-1 convolutions over planes of 64+ outputs lower image by image by
 * kernel rows where the backend can (backend.h, im2col_kw): R times fewer
 * columns to build and read than im2col, one image's (C*R, (OH+R-1)*OW)
 * lowering stays in L2 (32 channels of 32x32: 418 KB against 1.2 MB), and
 * R products of depth C*R go straight into y. tests/bench/conv_layer.c,
 * alternately against the im2col plans (forward, backward): 32 -> 32 filters
 * on 32x32 1.24x, 1.14x; 64 -> 64 on 32x32 1.32x, 1.07x; 48 -> 48 on 16x16
 * 1.26x, 1.15x; 3 -> 32 on 32x32 1.6x, 1.45x; 128 -> 128 on 8x8 1.05x,
 * 1.05x. On 4x4 planes it lost (256 -> 256: 0.85x), and with one input
 * channel (depth 3) the forward did (0.6x). */
#ifndef CONV_KW_MIN_OHW
#define CONV_KW_MIN_OHW 64
#endif
#ifndef CONV_KW_MIN_DEPTH
#define CONV_KW_MIN_DEPTH 8
#endif

typedef struct {
    int g;       /* images per chunk */
    int band;    /* output rows per band (oh: whole images) */
    bool shared; /* one product for the chunk's g images (small planes) */
    bool trans;  /* forward by the transposed product (whole images only) */
    bool kw;     /* kernel-row lowering, image by image (g = 1) */
} conv_plan;

static conv_plan plan_of(const nn_backend *be, const nn_conv_geom *p, int n) {
    const size_t crr = (size_t)p->in.c * p->r * p->r, ohw = (size_t)p->oh * p->ow;
    const size_t per = crr * ohw * sizeof(float);
    conv_plan c = {.g = 1, .band = p->oh};
    if (be->im2col_kw && p->s == 1 && p->r > 1 && ohw >= CONV_KW_MIN_OHW &&
        p->in.c * p->r >= CONV_KW_MIN_DEPTH) {
        c.kw = true;
        return c;
    }
    if (per > CONV_COL_BUDGET && p->oh > 1 && p->k < CONV_BAND_BELOW) {
        const size_t bands = (per + CONV_COL_BUDGET - 1) / CONV_COL_BUDGET;
        c.band = (int)(((size_t)p->oh + bands - 1) / bands);
    } else if (per > 0) {
        const size_t g = CONV_COL_BUDGET / per;
        c.g = g < 1 ? 1 : g < (size_t)n ? (int)g : n;
    }
    c.shared = c.g > 1 && ohw < CONV_PER_IMAGE_MIN_OHW;
    c.trans = p->k < CONV_FWD_T_BELOW && crr >= 128 && c.band == p->oh;
    return c;
}

/* Columns per chunk: g whole images or one band. */
static size_t plan_cols(const nn_conv_geom *p, conv_plan c) {
    return (size_t)c.g * c.band * p->ow;
}

/* Columns of one image's kernel-row lowering (C*R, (OH+R-1)*OW). */
static size_t kw_len(const nn_conv_geom *p) {
    return (size_t)(p->oh + p->r - 1) * p->ow;
}

/* The scratch, in floats: the lowering (C*R*R, cols), or with kw (C*R, len);
 * then the staging matrix (K, cols), or with kw the permuted kernel; then the
 * transposed kernel gradient (C*R*R, K). */
static size_t col_floats(const nn_conv_geom *p, conv_plan c) {
    return c.kw ? (size_t)p->in.c * p->r * kw_len(p)
                : (size_t)p->in.c * p->r * p->r * plan_cols(p, c);
}

static size_t stage_floats(const nn_conv_geom *p, conv_plan c) {
    return c.kw ? (size_t)p->in.c * p->r * p->r * p->k : (size_t)p->k * plan_cols(p, c);
}

size_t nn_conv_scratch(const nn_backend *be, const nn_conv_geom *p, int n) {
    const conv_plan c = plan_of(be, p, n);
    return col_floats(p, c) + stage_floats(p, c) + (size_t)p->in.c * p->r * p->r * p->k;
}

/* Columns of images [i0, i0+g), output rows [y0, y1) into col (CRR, g*(y1-y0)*OW). */
static void build_columns(const nn_backend *be, const nn_conv_geom *p, int i0, int g, int y0,
                          int y1, const float *x, float *col) {
    const size_t cols = (size_t)(y1 - y0) * p->ow, in = nn_shape_size(p->in);
    for (int i = 0; i < g; i++)
        be->im2col(x + (size_t)(i0 + i) * in, p->in.c, p->in.h, p->in.w, p->r, p->s, p->p,
                   p->oh, p->ow, y0, y1, col, (size_t)g * cols, (size_t)i * cols);
}

/* y(K, len), rows ld apart, = the bias of each row. */
static void fill_bias(int k, size_t len, size_t ld, const float *b, float *y) {
    for (int r = 0; r < k; r++) {
        float *row = y + (size_t)r * ld;
        for (size_t j = 0; j < len; j++) row[j] = b[r];
    }
}

/* The kernel-row plan (plan_of): per image, y = b + sum over ki of
 * kw[ki] (K, C*R) times the lowering's view ki*OW in (C*R, OH*OW, leading
 * dimension (OH+R-1)*OW), straight into y. */
static void kw_forward(const nn_backend *be, const nn_conv_geom *p, int n, const float *kern,
                       const float *b, const float *x, float *y, float *col, float *kw) {
    const int cr = p->in.c * p->r, ohw = p->oh * p->ow, len = (int)kw_len(p);
    const size_t in = nn_shape_size(p->in);
    be->kern_kw(p->k, p->in.c, p->r, kern, kw);
    for (int i = 0; i < n; i++) {
        float *yi = y + (size_t)i * p->k * ohw;
        be->im2col_kw(x + (size_t)i * in, p->in.c, p->in.h, p->in.w, p->r, p->p, p->oh, p->ow,
                      col);
        if (b) fill_bias(p->k, (size_t)ohw, (size_t)ohw, b, yi);
        for (int ki = 0; ki < p->r; ki++)
            be->gemm(false, false, p->k, ohw, cr, 1.0f, kw + (size_t)ki * p->k * cr, cr,
                     col + (size_t)ki * p->ow, len, b || ki ? 1.0f : 0.0f, yi, ohw);
    }
}

/* Its backward, per image: dkwt[ki] (C*R, K) (+)= view_ki dy^T; the
 * lowering's gradient = sum over ki of kw[ki]^T dy placed at view ki (the
 * first product covers [0, OH*OW) of each row, the rest of the row is
 * zeroed, the others add), into the same buffer once the lowering is used;
 * then scattered into dx. */
static void kw_backward(const nn_backend *be, const nn_conv_geom *p, int n, const float *kern,
                        const float *x, const float *dy, float *dkern, float *db, float *dx,
                        float *col, float *kw, float *dkwt) {
    const int cr = p->in.c * p->r, ohw = p->oh * p->ow, len = (int)kw_len(p);
    const size_t in = nn_shape_size(p->in);
    if (dx) be->kern_kw(p->k, p->in.c, p->r, kern, kw);
    for (int i = 0; i < n; i++) {
        const float *dyi = dy + (size_t)i * p->k * ohw, *xi = x + (size_t)i * in;
        if (db)
            for (int k = 0; k < p->k; k++) {
                const float *src = dyi + (size_t)k * ohw;
                float s = 0.0f;
                for (int j = 0; j < ohw; j++) s += src[j];
                db[k] += s;
            }
        if (dkern) {
            be->im2col_kw(xi, p->in.c, p->in.h, p->in.w, p->r, p->p, p->oh, p->ow, col);
            for (int ki = 0; ki < p->r; ki++)
                be->gemm(false, true, cr, p->k, ohw, 1.0f, col + (size_t)ki * p->ow, len, dyi,
                         ohw, i ? 1.0f : 0.0f, dkwt + (size_t)ki * cr * p->k, p->k);
        }
        if (!dx) continue;
        float *dxi = dx + (size_t)i * in;
        for (int ki = 0; ki < p->r; ki++) {
            be->gemm(true, false, cr, ohw, p->k, 1.0f, kw + (size_t)ki * p->k * cr, cr, dyi, ohw,
                     ki ? 1.0f : 0.0f, col + (size_t)ki * p->ow, len);
            if (!ki)
                for (int row = 0; row < cr; row++)
                    be->zero(col + (size_t)row * len + ohw, (size_t)(len - ohw) * sizeof(float));
        }
        be->zero(dxi, in * sizeof(float));
        be->col2im_kw(col, p->in.c, p->in.h, p->in.w, p->r, p->p, p->oh, p->ow, dxi);
    }
    if (dkern && n > 0) be->add_kern_kw(p->k, p->in.c, p->r, dkwt, dkern);
}

void nn_conv_forward(const nn_backend *be, const nn_conv_geom *p, int n, const float *kern,
                     const float *b, const float *x, float *y, float *scratch) {
    const int crr = p->in.c * p->r * p->r;
    const conv_plan c = plan_of(be, p, n);
    const size_t ohw = (size_t)p->oh * p->ow;
    float *col = scratch, *stage = scratch + col_floats(p, c);
    if (c.kw) {
        kw_forward(be, p, n, kern, b, x, y, col, stage);
        return;
    }
    for (int i0 = 0; i0 < n; i0 += c.g) {
        const int g = n - i0 < c.g ? n - i0 : c.g;
        const size_t np = (size_t)g * ohw;
        float *yi = y + (size_t)i0 * p->k * ohw;
        if (c.trans) {
            /* yt(NP, K) = col^T W^T; image i's rows are its (OHW, K) block. */
            build_columns(be, p, i0, g, 0, p->oh, x, col);
            be->gemm(true, true, (int)np, p->k, crr, 1.0f, col, (int)np, kern, crr, 0.0f, stage,
                     p->k);
            for (int i = 0; i < g; i++) {
                float *out = yi + (size_t)i * p->k * ohw;
                if (b)
                    fill_bias(p->k, ohw, ohw, b, out);
                else
                    be->zero(out, (size_t)p->k * ohw * sizeof(float));
                be->add_transposed(p->k, (int)ohw, stage + (size_t)i * ohw * p->k, out);
            }
        } else if (c.shared) {
            /* yk(K, g*OHW) = b + W col, then restaged as (g, K, OHW). With a
             * bias, the output starts as the bias and the GEMM adds to it
             * (beta = 1): one write pass instead of OpenBLAS's zeroing pass
             * for beta = 0 and a read and write pass adding the bias. */
            build_columns(be, p, i0, g, 0, p->oh, x, col);
            if (b) fill_bias(p->k, np, np, b, stage);
            be->gemm(false, false, p->k, (int)np, crr, 1.0f, kern, crr, col, (int)np,
                     b ? 1.0f : 0.0f, stage, (int)np);
            for (int i = 0; i < g; i++)
                for (int k = 0; k < p->k; k++)
                    memcpy(yi + ((size_t)i * p->k + k) * ohw,
                           stage + (size_t)k * np + (size_t)i * ohw, ohw * sizeof(float));
        } else
            /* y_i(K, band) = b + W(K, CRR) col(CRR, band), in place. */
            for (int i = 0; i < g; i++)
                for (int y0 = 0; y0 < p->oh; y0 += c.band) {
                    const int y1 = y0 + c.band < p->oh ? y0 + c.band : p->oh;
                    const size_t nb = (size_t)(y1 - y0) * p->ow;
                    float *out = yi + (size_t)i * p->k * ohw + (size_t)y0 * p->ow;
                    build_columns(be, p, i0 + i, 1, y0, y1, x, col);
                    if (b) fill_bias(p->k, nb, ohw, b, out);
                    be->gemm(false, false, p->k, (int)nb, crr, 1.0f, kern, crr, col, (int)nb,
                             b ? 1.0f : 0.0f, out, (int)ohw);
                }
    }
}

void nn_conv_backward(const nn_backend *be, const nn_conv_geom *p, int n, const float *kern,
                      const float *x, const float *dy, float *dkern, float *db, float *dx,
                      float *scratch) {
    const int crr = p->in.c * p->r * p->r;
    const conv_plan c = plan_of(be, p, n);
    const size_t ohw = (size_t)p->oh * p->ow, in = nn_shape_size(p->in);
    float *col = scratch, *dyk = scratch + col_floats(p, c), *dkt = dyk + stage_floats(p, c);
    if (c.kw) {
        kw_backward(be, p, n, kern, x, dy, dkern, db, dx, col, dyk, dkt);
        return;
    }
    bool first = true; /* the first product into dkt overwrites it */
    for (int i0 = 0; i0 < n; i0 += c.g) {
        const int g = n - i0 < c.g ? n - i0 : c.g;
        const size_t np = (size_t)g * ohw;
        const float *dyi = dy + (size_t)i0 * p->k * ohw;
        /* The bias gradient; for a shared product also dy (g, K, OHW)
         * restaged as dyk (K, g*OHW). */
        for (int i = 0; i < g; i++)
            for (int k = 0; k < p->k; k++) {
                const float *src = dyi + ((size_t)i * p->k + k) * ohw;
                float *dst = dyk + (size_t)k * np + (size_t)i * ohw;
                float s = 0.0f;
                if (c.shared)
                    for (size_t j = 0; j < ohw; j++) dst[j] = src[j], s += src[j];
                else
                    for (size_t j = 0; j < ohw; j++) s += src[j];
                if (db) db[k] += s;
            }
        float *dxi = dx ? dx + (size_t)i0 * in : NULL;
        if (dxi) memset(dxi, 0, (size_t)g * in * sizeof(float));
        /* dW^T(CRR, K) (+)= col(CRR, NP) dy^T(NP, K), added to dW(K, CRR) after
         * the last chunk: the transposed product is the faster one in every
         * conv shape measured (1.0-1.6x, the most with few filters:
         * tests/bench/conv_gemm.c prints both). dcol(CRR, NP) = W^T dy, into
         * the column buffer, then scattered into dx. */
        if (c.shared) {
            if (dkern) {
                build_columns(be, p, i0, g, 0, p->oh, x, col);
                be->gemm(false, true, crr, p->k, (int)np, 1.0f, col, (int)np, dyk, (int)np,
                         first ? 0.0f : 1.0f, dkt, p->k);
                first = false;
            }
            if (!dxi) continue;
            be->gemm(true, false, crr, (int)np, p->k, 1.0f, kern, crr, dyk, (int)np, 0.0f, col,
                     (int)np);
            for (int i = 0; i < g; i++)
                be->col2im(col, np, (size_t)i * ohw, p->in.c, p->in.h, p->in.w, p->r, p->s, p->p,
                           p->oh, p->ow, 0, p->oh, dxi + (size_t)i * in);
            continue;
        }
        for (int i = 0; i < g; i++)
            for (int y0 = 0; y0 < p->oh; y0 += c.band) {
                const int y1 = y0 + c.band < p->oh ? y0 + c.band : p->oh;
                const size_t nb = (size_t)(y1 - y0) * p->ow;
                const float *dyb = dyi + (size_t)i * p->k * ohw + (size_t)y0 * p->ow;
                if (dkern) {
                    build_columns(be, p, i0 + i, 1, y0, y1, x, col);
                    be->gemm(false, true, crr, p->k, (int)nb, 1.0f, col, (int)nb, dyb, (int)ohw,
                             first ? 0.0f : 1.0f, dkt, p->k);
                    first = false;
                }
                if (!dxi) continue;
                be->gemm(true, false, crr, (int)nb, p->k, 1.0f, kern, crr, dyb, (int)ohw, 0.0f,
                         col, (int)nb);
                be->col2im(col, nb, 0, p->in.c, p->in.h, p->in.w, p->r, p->s, p->p, p->oh, p->ow,
                           y0, y1, dxi + (size_t)i * in);
            }
    }
    if (dkern && !first) be->add_transposed(p->k, crr, dkt, dkern);
}

static size_t conv_scratch(const nn_layer *l, int n) {
    return nn_conv_scratch(l->be, &((const conv_priv *)l->priv)->g, n);
}

static int conv_forward(nn_layer *l, const nn_ctx *c, const float *x, float *y) {
    const conv_priv *p = l->priv;
    const size_t nw = (size_t)p->g.k * l->in.c * p->g.r * p->g.r;
    nn_conv_forward(l->be, &p->g, c->n, l->w, p->bias ? l->w + nw : NULL, x, y, l->scratch);
    return NN_OK;
}

static int conv_backward(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                         const float *dy, float *dx) {
    (void)y;
    const conv_priv *p = l->priv;
    const size_t nw = (size_t)p->g.k * l->in.c * p->g.r * p->g.r;
    const bool grads = !c->no_param_grads;
    nn_conv_backward(l->be, &p->g, c->n, l->w, x, dy, grads ? l->dw : NULL,
                     grads && p->bias ? l->dw + nw : NULL, dx, l->scratch);
    return NN_OK;
}

double nn_conv_flops(const nn_conv_geom *p) {
    return 2.0 * p->k * p->in.c * p->r * p->r * p->oh * p->ow;
}

static double conv_flops(const nn_layer *l) {
    return nn_conv_flops(&((const conv_priv *)l->priv)->g);
}

const nn_layer_ops nn_conv2d_ops = {
    .type = "conv2d",
    .help = "conv2d FILTERS [size=3] [stride=1] [pad=same|valid|N] [bias=true] [init=he|uniform] [dirac=false]",
    .positional = "filters",
    .setup = conv_setup,
    .init = conv_init,
    .scratch = conv_scratch,
    .forward = conv_forward,
    .backward = conv_backward,
    .flops = conv_flops,
};
