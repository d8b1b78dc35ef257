/* cifar.c: CIFAR-10, binary version.
 *
 * Format: data_batch_1.bin .. data_batch_5.bin (train) and test_batch.bin
 * (test), each a plain sequence of 3073-byte records: one label byte 0..9,
 * then 3072 pixel bytes, the 32x32 R plane, then G, then B, each row-major.
 * That is already (C, H, W) order, so a record's pixels are kept as they are.
 * The files are plain and seekable: all sizes are checked first (they give
 * the global count and so the shard), then only the shard's records are read.
 * Each file is opened once, with O_NONBLOCK, and checked with fstat on that
 * descriptor: a FIFO, a folder or a device in place of a batch file is
 * refused (a plain open of a FIFO blocks forever), and the records are read
 * from the very file whose size was checked (pread), so nothing is sized
 * from one file and read from another. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/data.h"
#include "nn/error.h"
#include "nn/fileutil.h"

#define CIFAR_SIDE 32
#define CIFAR_DIM (3 * CIFAR_SIDE * CIFAR_SIDE) /* 3072 */
#define CIFAR_REC (1 + CIFAR_DIM)               /* 3073 */
#define CIFAR_CLASSES 10
#define CIFAR_MAX_FILES 5

static const char *const g_cifar_names[CIFAR_CLASSES] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};

typedef struct {
    uint8_t *pixels; /* (shard count, 3072), CHW */
    uint8_t *labels; /* (shard count) */
    size_t begin, end; /* the global indices held (the shard at open) */
} cifar_priv;

typedef struct {
    char path[1100];
    int fd;              /* open from cifar_stat to the end of the open; -1 = closed */
    size_t first, count; /* global index of its first record, records */
} cifar_file;

static int cifar_get(const nn_dataset *d, size_t i, float *x, int *label) {
    const cifar_priv *p = d->priv;
    size_t k;
    NN_TRY(nn_dataset_held(d, i, p->begin, p->end, &k));
    nn_bytes_to_unit(p->pixels + k * CIFAR_DIM, CIFAR_DIM, x);
    *label = p->labels[k];
    return NN_OK;
}

static void cifar_free(nn_dataset *d) {
    cifar_priv *p = d->priv;
    if (p) {
        free(p->pixels);
        free(p->labels);
    }
}

static const nn_dataset_ops g_cifar_ops = {.get = cifar_get, .free = cifar_free};


/* Open one batch file (f->fd) and check its size. */
static int cifar_stat(cifar_file *f) {
    f->fd = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f->fd < 0)
        return nn_fail("%s: cannot open: %s (CIFAR-10 binary batch file expected)", f->path,
                       strerror(errno));
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return nn_fail("%s: cannot stat: %s", f->path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return nn_fail("%s: not a regular file (%s); CIFAR-10 binary batch file expected",
                       f->path, nn_file_kind(st.st_mode));
    size_t size = (size_t)st.st_size;
    if (size == 0)
        return nn_fail("%s: empty file; expected 3073-byte records (1 label byte + 3072 pixel "
                       "bytes)",
                       f->path);
    if (size % CIFAR_REC != 0)
        return nn_fail("%s: size %zu is not a multiple of the 3073-byte record (1 label byte + "
                       "3072 pixel bytes); %zu whole records and %zu bytes left over: truncated "
                       "or not a CIFAR-10 binary batch",
                       f->path, size, size / CIFAR_REC, size % CIFAR_REC);
    f->count = size / CIFAR_REC;
    return NN_OK;
}

/* Read records [lo, hi) (file-local indices) of f into the shard buffers at
 * slot `at`, checking labels. */
static int cifar_read(const cifar_file *f, size_t lo, size_t hi, cifar_priv *p, size_t at) {
    int rc = NN_OK;
    uint8_t rec[CIFAR_REC];
    for (size_t r = lo; rc == NN_OK && r < hi; r++, at++) {
        size_t got = 0;
        while (got < CIFAR_REC) {
            ssize_t n = pread(f->fd, rec + got, CIFAR_REC - got, (off_t)(r * CIFAR_REC + got));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                rc = nn_fail("%s: %s at record %zu (byte %zu) of the %zu its size promised%s%s",
                             f->path, n < 0 ? "read error" : "truncated (the file shrank)", r,
                             r * CIFAR_REC + got, f->count, n < 0 ? ": " : "",
                             n < 0 ? strerror(errno) : "");
                break;
            }
            got += (size_t)n;
        }
        if (rc != NN_OK) break;
        if (rec[0] >= CIFAR_CLASSES) {
            rc = nn_fail("%s: label %u of record %zu (byte %zu) is out of range, expected 0..%d",
                         f->path, rec[0], r, r * CIFAR_REC, CIFAR_CLASSES - 1);
            break;
        }
        p->labels[at] = rec[0];
        memcpy(p->pixels + at * CIFAR_DIM, rec + 1, CIFAR_DIM);
    }
    return rc;
}

static void cifar_close(cifar_file *files, int nfiles) {
    for (int k = 0; k < nfiles; k++)
        if (files[k].fd >= 0) {
            close(files[k].fd);
            files[k].fd = -1;
        }
}

int nn_cifar_open(nn_dataset *d, const char *dir, const char *split, nn_part part) {
    memset(d, 0, sizeof *d);
    if (part.nranks < 1 || part.rank < 0 || part.rank >= part.nranks)
        return nn_fail("%s: bad part: rank %d of %d", dir, part.rank, part.nranks);
    cifar_file files[CIFAR_MAX_FILES];
    int nfiles = 0;
    if (!strcmp(split, "train")) {
        for (int b = 1; b <= 5; b++)
            snprintf(files[nfiles++].path, sizeof files[0].path, "%s/data_batch_%d.bin", dir, b);
    } else if (!strcmp(split, "test")) {
        snprintf(files[nfiles++].path, sizeof files[0].path, "%s/test_batch.bin", dir);
    } else {
        return nn_fail("%s: unknown CIFAR-10 split '%s', expected train or test", dir, split);
    }
    for (int k = 0; k < nfiles; k++) files[k].fd = -1;
    size_t count = 0;
    for (int k = 0; k < nfiles; k++) {
        if (cifar_stat(&files[k]) != NN_OK) {
            cifar_close(files, nfiles);
            return NN_ERR;
        }
        files[k].first = count;
        count += files[k].count;
    }
    nn_shard shard = nn_shard_of(nn_part_count(part, count), part.rank, part.nranks);
    size_t keep = shard.end - shard.begin;
    cifar_priv *p = nn_calloc(1, sizeof *p, "CIFAR-10 data set");
    if (!p) {
        cifar_close(files, nfiles);
        return NN_ERR;
    }
    p->begin = shard.begin;
    p->end = shard.end;
    p->pixels = nn_alloc(keep * CIFAR_DIM, "CIFAR-10 pixels");
    p->labels = nn_alloc(keep, "CIFAR-10 labels");
    char **names = nn_calloc(CIFAR_CLASSES, sizeof *names, "CIFAR-10 class names");
    int rc = p->pixels && p->labels && names ? NN_OK : NN_ERR;
    for (int c = 0; rc == NN_OK && c < CIFAR_CLASSES; c++) {
        names[c] = nn_alloc(strlen(g_cifar_names[c]) + 1, "class name");
        if (names[c])
            strcpy(names[c], g_cifar_names[c]);
        else
            rc = NN_ERR;
    }
    /* The part of each file that overlaps the shard. */
    for (int k = 0; rc == NN_OK && k < nfiles; k++) {
        size_t lo = files[k].first > shard.begin ? files[k].first : shard.begin;
        size_t hi = files[k].first + files[k].count < shard.end
                        ? files[k].first + files[k].count
                        : shard.end;
        if (lo < hi)
            rc = cifar_read(&files[k], lo - files[k].first, hi - files[k].first, p,
                            lo - shard.begin);
    }
    cifar_close(files, nfiles);
    if (rc != NN_OK) {
        if (names)
            for (int c = 0; c < CIFAR_CLASSES; c++) free(names[c]);
        free(names);
        free(p->pixels);
        free(p->labels);
        free(p);
        return NN_ERR;
    }
    d->ops = &g_cifar_ops;
    snprintf(d->name, sizeof d->name, "%s", dir);
    d->count = nn_part_count(part, count);
    d->shard = shard;
    d->shape = (nn_shape){3, CIFAR_SIDE, CIFAR_SIDE};
    d->classes = CIFAR_CLASSES;
    d->class_names = names;
    d->priv = p;
    return NN_OK;
}
