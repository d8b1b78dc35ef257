/* data.h: a data set is an ops table over samples addressed by their GLOBAL
 * index 0..count-1. A rank opens a data set with the shard it owns and holds
 * only those samples in memory; reading a sample outside the shard is an
 * error. Pixels are kept as bytes and converted to float in [0, 1] on read,
 * so MNIST costs 47 MB, not 188 MB. */
#ifndef NN_DATA_H
#define NN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "nn/layer.h"

/* The contiguous range [begin, end) of global sample indices a rank holds. */
typedef struct {
    size_t begin, end;
} nn_shard;

/* Rank r of n owns samples [r*count/n, (r+1)*count/n). */
nn_shard nn_shard_of(size_t count, int rank, int nranks);
/* Which part of a data set a process loads: rank of nranks. */
typedef struct {
    int rank, nranks;
} nn_part;
#define NN_PART_ALL ((nn_part){0, 1})

typedef struct nn_dataset nn_dataset;

typedef struct {
    /* x: (C*H*W) floats; *label in [0, classes). i is a global index inside
     * the shard. */
    int (*get)(const nn_dataset *d, size_t i, float *x, int *label);
    void (*free)(nn_dataset *d);
} nn_dataset_ops;

struct nn_dataset {
    const nn_dataset_ops *ops;
    char name[256]; /* what it was opened from, for messages */
    size_t count;   /* global number of samples */
    nn_shard shard; /* what this process holds (clamped to count) */
    nn_shape shape;
    int classes;
    void *priv;
};

void nn_dataset_free(nn_dataset *d);
/* Read n samples by global index into x (n, C*H*W) and labels (n). */
int nn_dataset_get_batch(const nn_dataset *d, const uint64_t *ids, int n, float *x, int *labels);

/* IDX files (MNIST, Fashion-MNIST): images (magic 0x00000803, dims N x H x W)
 * and labels (0x00000801, N); plain or gzip (detected from the content).
 * Validates magic, dims, counts, file size and label range. */
int nn_idx_open(nn_dataset *d, const char *images_path, const char *labels_path, int classes,
                nn_part part);

/* A named data set: "mnist" or "mnist:DIR" (DIR holds the four IDX files,
 * plain or .gz). Without DIR: $NNTRAIN_DATA/mnist, else datasets/data/mnist.
 * split is "train" or "test". */
int nn_data_open(nn_dataset *d, const char *spec, const char *split, nn_part part);

#endif
