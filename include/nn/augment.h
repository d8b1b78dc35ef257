/* augment.h: per-sample data augmentation and normalisation, applied to one
 * (C, H, W) float image in place after it is read from the data set.
 *
 * Training: a random crop (shift by dx, dy in [-pad, pad], vacated pixels 0
 * in the unnormalised image, or with reflect the image mirrored about its
 * edge pixels, as PyTorch's reflect padding), then a horizontal flip with
 * probability 1/2 (when flip), then normalisation. Evaluation: normalisation
 * only. The randomness of a sample is a pure function of (seed, epoch, sample
 * id): nn_rng seeded with nn_rng_seed(&r, nn_hash64(seed, 0xa0a0 + epoch),
 * sample_id), drawing dx, then dy, then the flip (always all three, whatever
 * is enabled), so it does not depend on the rank that reads the sample, and
 * enabling the flip does not change the crops. With alternate, the flip is
 * epoch 0's draw in even epochs and its opposite in odd ones. */
#ifndef NN_AUGMENT_H
#define NN_AUGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "nn/data.h"
#include "nn/layer.h"

#define NN_AUGMENT_MAX_C 3

typedef struct {
    int pad;   /* random-crop shift range (0 = no crop) */
    bool flip; /* random horizontal flip */
    bool alternate; /* flip: epoch 0's draw, reversed in odd epochs */
    bool reflect;   /* crop: fill with the mirrored image, not 0 (--crop-fill reflect) */
    float mean[NN_AUGMENT_MAX_C], std[NN_AUGMENT_MAX_C];
    bool normalize; /* x = (x - mean[c]) / std[c]; channels >= 3 use mean[2], std[2] */
} nn_augment;

/* Mirror one (s.c, s.h, s.w) image left to right, in place. */
void nn_flip_h(nn_shape s, float *x);
/* Shift every channel in place: out(y, x) = in(y + dy, x + dx), outside the
 * image 0, or with reflect in(m(y + dy), m(x + dx)), m mirroring about the
 * edge pixels (-1 -> 1, H -> H-2; PyTorch's reflect padding) (the training
 * crop's move, and eval --tta translate's). Reflect needs s.h, s.w <=
 * NN_SHIFT_MAX_SIDE (callers check: nn_shift_check). */
#define NN_SHIFT_MAX_SIDE 4096
void nn_shift(nn_shape s, float *x, int dx, int dy, bool reflect);
/* The error for reflect shifts of images larger than NN_SHIFT_MAX_SIDE. */
int nn_shift_check(nn_shape s, bool reflect, const char *what);

/* x: one (s.c, s.h, s.w) image, changed in place. train: crop and flip too. */
void nn_augment_apply(const nn_augment *a, nn_shape s, float *x, uint64_t seed, uint64_t epoch,
                      uint64_t sample_id, bool train);

/* Per-channel sums over the samples this process holds (d->shard), as read
 * by get() (so in [0, 1]): sum[c], sumsq[c] and count[c] (pixels), each
 * d->shape.c doubles. Sum them over ranks (allreduce), then call
 * nn_augment_set_stats. */
int nn_dataset_channel_sums(const nn_dataset *d, double *sum, double *sumsq, double *count);

/* mean = sum / count, std = sqrt(sumsq / count - mean^2) (population; 1 where
 * that is below 1e-6) for channels < NN_AUGMENT_MAX_C; sets a->normalize. */
void nn_augment_set_stats(nn_augment *a, int channels, const double *sum, const double *sumsq,
                          const double *count);

#endif
