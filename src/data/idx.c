/* idx.c: IDX files (MNIST, Fashion-MNIST), plain or gzip.
 *
 * Format: big-endian u32 magic 0x00000800 | type<<8 | ndim (type 0x08 = u8),
 * then ndim big-endian u32 dims, then the bytes. zlib's gzread reads plain
 * files transparently, so one code path serves both. Only the records of the
 * shard are kept; the rest are read and dropped (gzip cannot seek cheaply). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "nn/data.h"
#include "nn/error.h"

typedef struct {
    uint8_t *pixels; /* (shard count, H*W) */
    uint8_t *labels; /* (shard count) */
    size_t dim;      /* H*W */
    size_t begin, end; /* the global indices held (the shard at open) */
} idx_priv;

static int read_exact(gzFile f, void *buf, size_t n, const char *path, const char *what,
                      size_t at) {
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
        int r = gzread(f, (char *)buf + got, chunk);
        if (r < 0) {
            int e;
            const char *m = gzerror(f, &e);
            return nn_fail("%s: read error in %s at byte %zu: %s (corrupt gzip stream?)", path,
                           what, at + got, m);
        }
        if (r == 0)
            return nn_fail("%s: truncated: the header promises %zu bytes of %s from byte %zu, "
                           "the data ends at byte %zu",
                           path, n, what, at, at + got);
        got += (size_t)r;
    }
    return NN_OK;
}

static uint32_t be32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Open an IDX file, check magic and rank, return dims. */
static int idx_header(gzFile f, const char *path, int want_ndim, uint32_t *dims) {
    uint8_t h[16];
    NN_TRY(read_exact(f, h, 4, path, "the header", 0));
    uint32_t magic = be32(h), want = 0x00000800u | (uint32_t)want_ndim;
    if (magic != want)
        return nn_fail("%s: bad magic 0x%08x, expected 0x%08x (IDX, unsigned bytes, %d dims); "
                       "HINT: is this the right file (images vs labels), and is it MNIST IDX?",
                       path, magic, want, want_ndim);
    NN_TRY(read_exact(f, h, 4 * (size_t)want_ndim, path, "the header", 4));
    for (int i = 0; i < want_ndim; i++) {
        dims[i] = be32(h + 4 * i);
        if (dims[i] == 0 || dims[i] > (1u << 28))
            return nn_fail("%s: dimension %d is %u, expected 1..%u", path, i, dims[i], 1u << 28);
    }
    return NN_OK;
}

/* After the last record the file must end: a longer file is not what the
 * header describes. */
static int expect_eof(gzFile f, const char *path, size_t at) {
    char c;
    int r = gzread(f, &c, 1);
    if (r > 0)
        return nn_fail("%s: file is longer than its header says (%zu bytes expected); "
                       "dims and file size disagree",
                       path, at);
    if (r < 0) {
        int e;
        return nn_fail("%s: read error at byte %zu: %s", path, at, gzerror(f, &e));
    }
    return NN_OK;
}

/* Read `count` records of `rec` bytes; keep those in [keep_lo, keep_hi). */
static int read_records(gzFile f, const char *path, size_t hdr, size_t count, size_t rec,
                        size_t keep_lo, size_t keep_hi, uint8_t *out, const char *what) {
    const size_t chunk_recs = rec >= (1 << 20) ? 1 : (1 << 20) / rec;
    uint8_t *buf = nn_alloc(chunk_recs * rec, "IDX read buffer");
    if (!buf) return NN_ERR;
    int rc = NN_OK;
    for (size_t i = 0; i < count && rc == NN_OK; i += chunk_recs) {
        size_t n = count - i < chunk_recs ? count - i : chunk_recs;
        rc = read_exact(f, buf, n * rec, path, what, hdr + i * rec);
        if (rc != NN_OK) break;
        size_t lo = i > keep_lo ? i : keep_lo, hi = i + n < keep_hi ? i + n : keep_hi;
        if (lo < hi) memcpy(out + (lo - keep_lo) * rec, buf + (lo - i) * rec, (hi - lo) * rec);
    }
    free(buf);
    if (rc == NN_OK) rc = expect_eof(f, path, hdr + count * rec);
    return rc;
}

static int idx_get(const nn_dataset *d, size_t i, float *x, int *label) {
    const idx_priv *p = d->priv;
    size_t k;
    NN_TRY(nn_dataset_held(d, i, p->begin, p->end, &k));
    nn_bytes_to_unit(p->pixels + k * p->dim, p->dim, x);
    *label = p->labels[k];
    return NN_OK;
}

static void idx_free(nn_dataset *d) {
    idx_priv *p = d->priv;
    if (p) {
        free(p->pixels);
        free(p->labels);
    }
}

static const nn_dataset_ops g_idx_ops = {.get = idx_get, .free = idx_free};

int nn_idx_open(nn_dataset *d, const char *images_path, const char *labels_path, int classes,
                nn_part part) {
    memset(d, 0, sizeof *d);
    if (part.nranks < 1 || part.rank < 0 || part.rank >= part.nranks)
        return nn_fail("%s: bad part: rank %d of %d", images_path, part.rank, part.nranks);
    gzFile fi = gzopen(images_path, "rb"), fl = NULL;
    if (!fi) return nn_fail("%s: cannot open (IDX images file expected)", images_path);
    fl = gzopen(labels_path, "rb");
    if (!fl) {
        gzclose(fi);
        return nn_fail("%s: cannot open (IDX labels file expected)", labels_path);
    }
    gzbuffer(fi, 1 << 18);
    idx_priv *p = nn_calloc(1, sizeof *p, "IDX data set");
    uint32_t di[3] = {0}, dl[1] = {0};
    int rc = p ? NN_OK : NN_ERR;
    if (rc == NN_OK) rc = idx_header(fi, images_path, 3, di);
    if (rc == NN_OK) rc = idx_header(fl, labels_path, 1, dl);
    if (rc == NN_OK && di[0] != dl[0])
        rc = nn_fail("%s has %u images but %s has %u labels; they must match", images_path, di[0],
                     labels_path, dl[0]);
    size_t count = rc == NN_OK ? di[0] : 0;
    nn_shard shard = nn_shard_of(nn_part_count(part, count), part.rank, part.nranks);
    size_t keep = shard.end - shard.begin;
    if (rc == NN_OK) {
        p->begin = shard.begin;
        p->end = shard.end;
        p->dim = (size_t)di[1] * di[2];
        p->pixels = nn_alloc(keep * p->dim, "IDX pixels");
        p->labels = nn_alloc(keep, "IDX labels");
        if (!p->pixels || !p->labels) rc = NN_ERR;
    }
    if (rc == NN_OK)
        rc = read_records(fi, images_path, 16, count, p->dim, shard.begin, shard.end, p->pixels,
                          "pixels");
    if (rc == NN_OK)
        rc = read_records(fl, labels_path, 8, count, 1, shard.begin, shard.end, p->labels,
                          "labels");
    for (size_t i = 0; rc == NN_OK && i < keep; i++)
        if (p->labels[i] >= classes)
            rc = nn_fail("%s: label %u of sample %zu is out of range, expected 0..%d",
                         labels_path, p->labels[i], shard.begin + i, classes - 1);
    gzclose(fi);
    gzclose(fl);
    if (rc != NN_OK) {
        if (p) {
            free(p->pixels);
            free(p->labels);
            free(p);
        }
        return NN_ERR;
    }
    d->ops = &g_idx_ops;
    snprintf(d->name, sizeof d->name, "%s", images_path);
    d->count = nn_part_count(part, count);
    d->shard = shard;
    d->shape = (nn_shape){1, (int)di[1], (int)di[2]};
    d->classes = classes;
    d->priv = p;
    return NN_OK;
}
