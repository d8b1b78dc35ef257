/* data.h: a data set is an ops table over samples addressed by their GLOBAL
 * index 0..count-1. A rank opens a data set with the shard it owns and holds
 * only those samples in memory; reading a sample outside the shard is an
 * error. Pixels are kept as bytes and converted to float in [0, 1] on read,
 * so MNIST costs 47 MB, not 188 MB. */
#ifndef NN_DATA_H
#define NN_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/layer.h"

/* The contiguous range [begin, end) of global sample indices a rank holds. */
typedef struct {
    size_t begin, end;
} nn_shard;

/* Rank r of n owns samples [r*count/n, (r+1)*count/n). */
nn_shard nn_shard_of(size_t count, int rank, int nranks);
/* The rank whose shard holds sample i (i < count). */
int nn_shard_owner(size_t count, int nranks, size_t i);
/* Whether a loader that can stream (image folders) keeps the shard's decoded
 * pixels in memory: auto (the default) keeps them when they fit a quarter
 * of the node's available memory shared by its ranks (nn_cache_choose). */
typedef enum { NN_CACHE_AUTO, NN_CACHE_RAM, NN_CACHE_NONE } nn_cache;

/* Which part of a data set a process loads: rank of nranks. */
typedef struct {
    int rank, nranks;
    size_t limit; /* use only the first `limit` samples (0 = all), then shard those */
    nn_cache cache;
    int local_ranks; /* ranks on this node, for the cache budget (0 = 1) */
    /* Image folders: paths left out of the listing (sorted by strcmp; found
     * by nn_data_check, for train --skip-bad): files, and empty class folders,
     * which are then no class. */
    char *const *skip;
    size_t nskip;
    /* Image folders without test/: this fraction of each class of train/ is
     * the test split, the rest the train split; which files, by val_seed. */
    float val_split;
    uint64_t val_seed;
} nn_part;
#define NN_PART_ALL ((nn_part){.rank = 0, .nranks = 1, .local_ranks = 1})

/* The cache decision for a shard of `bytes` decoded bytes with `avail` bytes
 * of memory available on a node of local_ranks ranks: 1 = stream, 0 = keep
 * in memory; why (n bytes) says which and why, for the start-up line. */
int nn_cache_choose(nn_cache want, size_t bytes, size_t avail, int local_ranks, char *why,
                    size_t n);

/* The number of samples a data set of `count` presents under part. */
static inline size_t nn_part_count(nn_part part, size_t count) {
    return part.limit > 0 && part.limit < count ? part.limit : count;
}

typedef struct nn_dataset nn_dataset;

typedef struct {
    /* x: (C*H*W) floats; *label in [0, classes). i is a global index inside
     * the shard. */
    int (*get)(const nn_dataset *d, size_t i, float *x, int *label);
    /* Optional: the file sample i (held by this process) came from, or NULL. */
    const char *(*source)(const nn_dataset *d, size_t i);
    /* Optional: sample i's label alone, without its pixels (a streamed folder
     * would otherwise decode the file); NULL = through get(). */
    int (*label)(const nn_dataset *d, size_t i, int *label);
    void (*free)(nn_dataset *d);
} nn_dataset_ops;

struct nn_dataset {
    const nn_dataset_ops *ops;
    char name[256]; /* what it was opened from, for messages */
    size_t count;   /* global number of samples */
    nn_shard shard; /* what this process holds (clamped to count) */
    nn_shape shape;
    int classes;
    /* class names (`classes` entries, e.g. the class folder names), owned by the
     * data set and freed by nn_dataset_free; NULL when the format has none (IDX). */
    char **class_names;
    /* Streamed: get() reads and decodes a file each time (thread-safe, so a
     * prefetcher's workers call it concurrently); else the shard is held in
     * memory. cache_note: the loader's choice and why ("" = no choice). */
    bool streamed;
    char cache_note[256];
    void *priv;
};

void nn_dataset_free(nn_dataset *d);
/* Where sample i came from (an image file), or NULL when the format has no
 * per-sample source or this process does not hold i. */
const char *nn_dataset_source(const nn_dataset *d, size_t i);

/* For loaders that keep their samples in memory as bytes: the position of
 * global sample i among the held samples [begin, end), or an error naming the
 * data set when this process does not hold it. */
int nn_dataset_held(const nn_dataset *d, size_t i, size_t begin, size_t end, size_t *pos);
/* x[k] = px[k] / 255 exactly (a division, not a multiply by 1/255, which is
 * one ulp off for half the byte values). */
void nn_bytes_to_unit(const uint8_t *px, size_t n, float *x);
/* "a, b, c" (the first 8 of k names, then "...") into buf, for messages. */
void nn_class_names_list(char *buf, size_t n, char *const *names, int k);
/* Where both sides name their k classes, label i must name the same class on
 * both: else an error naming both lists. NULL on either side passes. */
int nn_class_names_check(const char *what_a, char *const *a, const char *what_b, char *const *b,
                         int k);
/* Read n samples by global index into x (n, C*H*W) and labels (n). */
int nn_dataset_get_batch(const nn_dataset *d, const uint64_t *ids, int n, float *x, int *labels);
/* counts[c] = samples of class c in this process's shard (d->classes entries;
 * one pass over the shard). Sum over ranks for the whole set. */
int nn_dataset_label_counts(const nn_dataset *d, double *counts);

/* IDX files (MNIST, Fashion-MNIST): images (magic 0x00000803, dims N x H x W)
 * and labels (0x00000801, N); plain or gzip (detected from the content).
 * Validates magic, dims, counts, file size and label range. */
int nn_idx_open(nn_dataset *d, const char *images_path, const char *labels_path, int classes,
                nn_part part);

/* CIFAR-10 binary version in dir: split "train" = data_batch_1.bin ..
 * data_batch_5.bin, "test" = test_batch.bin; each a sequence of 3073-byte
 * records (label byte 0..9, then 32x32 R, G, B planes, row-major). Shape
 * (3, 32, 32), 10 classes (official names). Checks that every file exists,
 * that its size is a non-zero multiple of 3073, and the labels of the shard's
 * records. Only the shard's records are read and kept (as bytes). */
int nn_cifar_open(nn_dataset *d, const char *dir, const char *split, nn_part part);

/* Image folders: root/split/<class>/<file>.{jpg,jpeg,png} (extension case-
 * insensitive; other files and names starting with '.' are ignored; an entry with an
 * image extension that is not a regular file is an error). Images over 64 MP or
 * 65535 pixels a side (from the header, before decoding) and files over 1 GiB are
 * refused. Classes
 * are the sub-folders in strcmp order; samples are numbered class by class,
 * files in strcmp order within a class. JPEG (libjpeg) and PNG (libpng) are
 * told apart by their signature, not the extension.
 * channels: 1 (grayscale, Rec.601 luma) or 3 (RGB; gray is replicated), or 0
 * = from the first image of the data set (1 if it is grayscale, else 3).
 * height, width: images are resized (bilinear, pixel centres aligned) to
 * that; both 0 = the first image's. PNG alpha is composited onto black.
 * A rank lists every folder (the numbering needs all names) but keeps only
 * its shard's paths and labels. Cached (part.cache, nn_cache_choose), the
 * shard's images are decoded at open and kept as bytes (C, H, W), and a
 * corrupt image fails the open with the file and the decoder's message;
 * streamed, get() reads and decodes the file each time (then the error comes
 * from get()). get() returns byte / 255 either way, so a streamed and a
 * cached data set give the same floats. class_names are the folder names. */
int nn_folder_open(nn_dataset *d, const char *root, const char *split, int channels, int height,
                   int width, nn_part part);
/* One JPEG or PNG file decoded as the folders decode it (s.c channels,
 * resized to s.h x s.w, byte / 255) into x; *orig_h, *orig_w: its own size.
 * predict IMAGE... reads user images with it. */
int nn_image_file_read(const char *path, nn_shape s, float *x, int *orig_h, int *orig_w);

/* check-data: what one split holds and what is wrong with it, for the part of
 * the files this rank read (rank of nranks; the counts summed over ranks
 * are the whole split's). */
typedef struct {
    int c, h, w;
    size_t n;
} nn_size_count;
typedef struct {
    int classes;
    char **class_names;   /* (classes); NULL when the format has none */
    double *class_count;  /* (classes) readable samples per class */
    nn_size_count *sizes; /* the image sizes found (C, H, W) and how many of each */
    int nsizes;
    char **problems;      /* "path: reason" for every unreadable, corrupt, empty or
                             unsupported file or folder entry */
    char **problem_paths; /* (nproblems) their paths alone; NULL for IDX, CIFAR */
    size_t nproblems;
    size_t checked;       /* files (folders) or samples (IDX, CIFAR) read */
} nn_data_report;
void nn_data_report_free(nn_data_report *r);
/* An image folder's split: lists root/split like nn_folder_open but records
 * what the open would refuse (an empty class folder, an entry that is not a
 * regular file, a symlink loop) instead of failing, then reads and fully
 * decodes the files [rank*n/nranks, (rank+1)*n/nranks) of the listing.
 * Fails only when the listing itself is impossible (no such folder, no
 * class folders) or memory runs out. */
int nn_folder_check(const char *root, const char *split, int rank, int nranks, nn_data_report *r);
/* nn_folder_check for folder data sets; for IDX and CIFAR, opens this rank's
 * shard (the loaders check every header, size and label) and counts labels:
 * a failed open is the report's one problem. */
int nn_data_check(const char *spec, const char *split, int rank, int nranks, nn_data_report *r);

/* A named data set; split is "train" or "test" (folders: any split folder).
 *   mnist[:DIR]          the four IDX files (plain or .gz) in DIR; default
 *                        $NNTRAIN_DATA/mnist, else datasets/data/mnist
 *   fashion-mnist[:DIR]  the same; default $NNTRAIN_DATA/fashion-mnist, else
 *                        /usr/share/datasets/fashion-mnist, else datasets/data/fashion-mnist
 *   cifar10[:DIR]        CIFAR-10 binary batches; default $NNTRAIN_DATA/cifar10, else
 *                        datasets/data/cifar10 (either with a cifar-10-batches-bin
 *                        sub-folder, as the official archive unpacks, or without)
 *   folder:DIR[:CxS|:CxHxW]  image folders DIR/split/<class>/<image>; C channels (1 or
 *                        3) and S x S (or H x W) pixels, 0 or omitted = from the first image
 *   cifar10-jpeg[:DIR]   = folder:DIR:3x32, default $NNTRAIN_DATA/cifar10-jpeg, else
 *                        datasets/data/cifar10-jpeg
 *   smiles[:DIR]         = folder:DIR:1x64, default $NNTRAIN_DATA/smiles, else
 *                        datasets/data/smiles */
int nn_data_open(nn_dataset *d, const char *spec, const char *split, nn_part part);
/* The input shape and classes of a data set spec without reading a file
 * (classes 0 where only the files tell: a folder's). */
int nn_data_shape(const char *spec, nn_shape *shape, int *classes);

#endif
