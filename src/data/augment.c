/* augment.c: random crop (zero or reflect fill), horizontal flip, normalisation. */
#include "nn/augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/error.h"
#include "nn/rng.h"

/* i mirrored into [0, n) about the end pixels, for any i (period 2(n-1)). */
static int mirror(int i, int n) {
    if (n == 1) return 0;
    const int period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

/* Reflect fill: rows moved through a copy of each line, then columns. */
static void shift_reflect(nn_shape s, float *x, int dx, int dy) {
    float line[NN_SHIFT_MAX_SIDE];
    const int H = s.h, W = s.w;
    for (int c = 0; c < s.c; c++) {
        float *p = x + (size_t)c * H * W;
        if (dx)
            for (int y = 0; y < H; y++) {
                float *row = p + (size_t)y * W;
                memcpy(line, row, (size_t)W * sizeof *row);
                for (int i = 0; i < W; i++) row[i] = line[mirror(i + dx, W)];
            }
        if (dy)
            for (int xi = 0; xi < W; xi++) {
                for (int y = 0; y < H; y++) line[y] = p[(size_t)y * W + xi];
                for (int y = 0; y < H; y++) p[(size_t)y * W + xi] = line[mirror(y + dy, H)];
            }
    }
}

int nn_shift_check(nn_shape s, bool reflect, const char *what) {
    if (reflect && (s.h > NN_SHIFT_MAX_SIDE || s.w > NN_SHIFT_MAX_SIDE))
        return nn_fail("%s: reflect fill is for images up to %d pixels a side; these are %d x %d "
                       "(use the zero fill)",
                       what, NN_SHIFT_MAX_SIDE, s.h, s.w);
    return NN_OK;
}

/* Zero fill: rows and columns are visited in the order that reads each source
 * pixel before it is overwritten (forward for a positive shift, backward else). */
void nn_shift(nn_shape s, float *x, int dx, int dy, bool reflect) {
    if (reflect) {
        shift_reflect(s, x, dx, dy);
        return;
    }
    const int H = s.h, W = s.w;
    for (int c = 0; c < s.c; c++) {
        float *p = x + (size_t)c * H * W;
        for (int yi = 0; yi < H; yi++) {
            const int y = dy >= 0 ? yi : H - 1 - yi, sy = y + dy;
            float *row = p + (size_t)y * W;
            if (sy < 0 || sy >= H) {
                memset(row, 0, (size_t)W * sizeof *row);
                continue;
            }
            const float *src = p + (size_t)sy * W;
            for (int xi = 0; xi < W; xi++) {
                const int xx = dx >= 0 ? xi : W - 1 - xi, sx = xx + dx;
                row[xx] = sx >= 0 && sx < W ? src[sx] : 0.0f;
            }
        }
    }
}

void nn_flip_h(nn_shape s, float *x) {
    const size_t rows = (size_t)s.c * s.h;
    for (size_t r = 0; r < rows; r++) {
        float *row = x + r * s.w;
        for (int i = 0, j = s.w - 1; i < j; i++, j--) {
            float t = row[i];
            row[i] = row[j];
            row[j] = t;
        }
    }
}

void nn_augment_apply(const nn_augment *a, nn_shape s, float *x, uint64_t seed, uint64_t epoch,
                      uint64_t sample_id, bool train) {
    if (train) {
        nn_rng r;
        nn_rng_seed(&r, nn_hash64(seed, 0xa0a0 + epoch), sample_id);
        const int pad = a->pad > 0 ? a->pad : 0;
        const uint64_t span = 2 * (uint64_t)pad + 1;
        const int dx = (int)nn_rng_below(&r, span) - pad;
        const int dy = (int)nn_rng_below(&r, span) - pad;
        bool flip = nn_rng_u64(&r) >> 63;
        if (a->alternate) {
            nn_rng r0; /* epoch 0's stream: its third draw is the flip */
            nn_rng_seed(&r0, nn_hash64(seed, 0xa0a0), sample_id);
            nn_rng_below(&r0, span), nn_rng_below(&r0, span);
            flip = (bool)(nn_rng_u64(&r0) >> 63) != (bool)(epoch & 1);
        }
        if (dx || dy) nn_shift(s, x, dx, dy, a->reflect);
        if (a->flip && flip) nn_flip_h(s, x);
    }
    if (a->normalize) {
        const size_t plane = (size_t)s.h * s.w;
        for (int c = 0; c < s.c; c++) {
            const int k = c < NN_AUGMENT_MAX_C ? c : NN_AUGMENT_MAX_C - 1;
            const float m = a->mean[k], sd = a->std[k];
            float *p = x + (size_t)c * plane;
            for (size_t i = 0; i < plane; i++) p[i] = (p[i] - m) / sd;
        }
    }
}

int nn_dataset_channel_sums(const nn_dataset *d, double *sum, double *sumsq, double *count) {
    const int C = d->shape.c;
    const size_t plane = (size_t)d->shape.h * d->shape.w;
    for (int c = 0; c < C; c++) sum[c] = sumsq[c] = count[c] = 0;
    float *x = nn_alloc(nn_shape_size(d->shape) * sizeof *x, "channel statistics");
    if (!x) return NN_ERR;
    int rc = NN_OK;
    for (size_t i = d->shard.begin; rc == NN_OK && i < d->shard.end; i++) {
        int label;
        rc = d->ops->get(d, i, x, &label);
        for (int c = 0; rc == NN_OK && c < C; c++) {
            const float *p = x + (size_t)c * plane;
            double s = 0, q = 0;
            for (size_t k = 0; k < plane; k++) {
                s += p[k];
                q += (double)p[k] * p[k];
            }
            sum[c] += s;
            sumsq[c] += q;
            count[c] += (double)plane;
        }
    }
    free(x);
    return rc;
}

void nn_augment_set_stats(nn_augment *a, int channels, const double *sum, const double *sumsq,
                          const double *count) {
    for (int c = 0; c < channels && c < NN_AUGMENT_MAX_C; c++) {
        double n = count[c] > 0 ? count[c] : 1;
        double m = sum[c] / n, var = sumsq[c] / n - m * m;
        double sd = var > 0 ? sqrt(var) : 0;
        a->mean[c] = (float)m;
        a->std[c] = sd >= 1e-6 ? (float)sd : 1.0f;
    }
    a->normalize = true;
}
