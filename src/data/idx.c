/* idx.c: IDX files (MNIST, Fashion-MNIST), plain or gzip.
 *
 * Format: big-endian u32 magic 0x00000800 | type<<8 | ndim (type 0x08 = u8),
 * then ndim big-endian u32 dims, then the bytes. zlib's gzread reads plain
 * files transparently, so one code path serves both. Only the records of the
 * shard are kept; the rest are read and dropped (gzip cannot seek cheaply).
 *
 * Nothing is allocated from a header's word alone. The size the header
 * declares is computed without overflow (dims up to 2^28 each: up to 2^84
 * bytes) and checked against the file before any buffer is sized from it:
 * a plain file must hold exactly that many bytes (st_size); a gzip file
 * cannot decompress to more than 1032 times its size (deflate's limit), and
 * its buffers grow only as decompressed bytes actually arrive. Files are
 * opened with O_NONBLOCK and fstat'ed, so a FIFO, a folder or a device in
 * place of a data file is refused instead of blocking the open forever. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "nn/data.h"
#include "nn/error.h"
#include "nn/fileutil.h"

/* deflate's largest compression ratio (zlib FAQ: 1032:1); with gzip's own
 * overhead no .gz file decompresses to more than this many bytes per byte. */
#define GZ_MAX_RATIO 1032u
/* Bytes read from a file at a time (whatever a record's size). */
#define READ_CHUNK ((size_t)1 << 20)
/* Compressed bytes read at a time from a .gz. */
#define ZIN_BYTES ((size_t)1 << 18)

typedef struct {
    uint8_t *pixels; /* (shard count, H*W) */
    uint8_t *labels; /* (shard count) */
    size_t dim;      /* H*W */
    size_t begin, end; /* the global indices held (the shard at open) */
} idx_priv;

/* One IDX file being read, and what its header declares. */
typedef struct {
    const char *path;
    const char *what; /* "images" or "labels" */
    gzFile gz;           /* plain files: zlib's transparent reader */
    int is_gz;           /* gzip magic at the start: read by inflate below */
    int fd;
    z_stream zs;
    unsigned char *zin;  /* compressed input buffer */
    uint64_t raw_read;   /* compressed bytes read from fd */
    int zinit, zend;     /* inflate set up; the last member ended at the file's end */
    uint64_t trailing_at; /* > 0: non-gzip bytes follow a member, from this offset */
    uint64_t file_bytes; /* st_size */
    uint32_t dims[3];
    int ndim;
    uint64_t need; /* header + data bytes the header declares (uncompressed) */
    int need_overflows; /* the declared size does not fit in 64 bits */
} idx_file;


/* Open without blocking (a FIFO would block a plain open until a writer
 * came), fstat the descriptor we got, refuse anything but a regular file. */
static int idx_file_open(idx_file *f, const char *path, const char *what) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->path = path;
    f->what = what;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return nn_fail("%s: cannot open: %s (IDX %s file expected)", path, strerror(errno), what);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return nn_fail("%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return nn_fail("%s: not a regular file (%s); expected an IDX %s file", path,
                       nn_file_kind(st.st_mode), what);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl != -1) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    f->file_bytes = (uint64_t)st.st_size;
    uint8_t m[2] = {0, 0};
    f->is_gz = pread(fd, m, 2, 0) == 2 && m[0] == 0x1f && m[1] == 0x8b;
    if (f->is_gz) {
        /* inflate, not gzread: gzread ignores bytes after the last gzip
         * member that are not another member, so a .gz with trailing
         * garbage passed where the plain file is refused. */
        f->fd = fd;
        f->zin = malloc(ZIN_BYTES);
        if (!f->zin || inflateInit2(&f->zs, 16 + MAX_WBITS) != Z_OK) {
            free(f->zin);
            f->zin = NULL;
            close(fd);
            f->fd = -1;
            return nn_fail("%s: cannot open: out of memory for the gzip reader", path);
        }
        f->zinit = 1;
        return NN_OK;
    }
    f->gz = gzdopen(fd, "rb");
    if (!f->gz) {
        close(fd);
        return nn_fail("%s: cannot open: out of memory for the gzip reader", path);
    }
    gzbuffer(f->gz, 1 << 18);
    return NN_OK;
}

static void idx_file_close(idx_file *f) {
    if (f->gz) gzclose(f->gz);
    f->gz = NULL;
    if (f->zinit) inflateEnd(&f->zs);
    f->zinit = 0;
    free(f->zin);
    f->zin = NULL;
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
}

static int gz_read_error(const idx_file *f, uint64_t at) {
    int e;
    const char *m = gzerror(f->gz, &e);
    return nn_fail("%s: read error at byte %llu: %s (corrupt gzip stream?)", f->path,
                   (unsigned long long)at, m);
}

/* More compressed input (keeping what is left); 0 at the file's end. */
static ssize_t gz_fill(idx_file *f) {
    if (f->zs.avail_in > 0) memmove(f->zin, f->zs.next_in, f->zs.avail_in);
    ssize_t r;
    do r = read(f->fd, f->zin + f->zs.avail_in, ZIN_BYTES - f->zs.avail_in);
    while (r < 0 && errno == EINTR);
    if (r > 0) f->raw_read += (uint64_t)r, f->zs.avail_in += (unsigned)r;
    f->zs.next_in = f->zin;
    return r;
}

/* Up to n decompressed bytes of a .gz into buf; *got less than n only at
 * the end of the data (a stream cut short included: the caller reports the
 * truncation against the header). Members follow each other (gzip -c a b);
 * anything else after a member is recorded in trailing_at. */
static int gz_inflate(idx_file *f, void *buf, size_t n, uint64_t at, size_t *got) {
    f->zs.next_out = buf;
    f->zs.avail_out = (unsigned)n;
    while (f->zs.avail_out > 0 && !f->zend && !f->trailing_at) {
        if (f->zs.avail_in == 0) {
            ssize_t r = gz_fill(f);
            if (r < 0)
                return nn_fail("%s: read error after %llu bytes: %s", f->path,
                               (unsigned long long)f->raw_read, strerror(errno));
            if (r == 0) break; /* ended inside a member: truncated */
        }
        int z = inflate(&f->zs, Z_NO_FLUSH);
        if (z == Z_STREAM_END) {
            /* What follows the member: nothing, another member, or junk. */
            if (f->zs.avail_in < 2 && gz_fill(f) < 0)
                return nn_fail("%s: read error after %llu bytes: %s", f->path,
                               (unsigned long long)f->raw_read, strerror(errno));
            if (f->zs.avail_in == 0)
                f->zend = 1;
            else if (f->zs.avail_in >= 2 && f->zs.next_in[0] == 0x1f && f->zs.next_in[1] == 0x8b)
                inflateReset(&f->zs);
            else
                f->trailing_at = f->raw_read - f->zs.avail_in;
        } else if (z != Z_OK && z != Z_BUF_ERROR) {
            return nn_fail("%s: read error at byte %llu: %s (corrupt gzip stream?)", f->path,
                           (unsigned long long)(at + (n - f->zs.avail_out)),
                           f->zs.msg ? f->zs.msg : "invalid data");
        }
    }
    *got = n - f->zs.avail_out;
    return NN_OK;
}

/* Read up to n bytes; *got is what came (less only at the end of the data). */
static int read_some(idx_file *f, void *buf, size_t n, uint64_t at, size_t *got) {
    *got = 0;
    while (*got < n) {
        unsigned chunk = n - *got > (1u << 30) ? (1u << 30) : (unsigned)(n - *got);
        if (f->is_gz) {
            size_t g;
            NN_TRY(gz_inflate(f, (char *)buf + *got, chunk, at + *got, &g));
            *got += g;
            if (g < chunk) break;
            continue;
        }
        int r = gzread(f->gz, (char *)buf + *got, chunk);
        if (r < 0) return gz_read_error(f, at + *got);
        if (r == 0) break;
        *got += (size_t)r;
    }
    return NN_OK;
}

/* "10 images of 28x28" / "10 labels": what the header declares, in words. */
static void declared(const idx_file *f, char *s, size_t n) {
    if (f->ndim == 3)
        snprintf(s, n, "%u images of %ux%u", f->dims[0], f->dims[1], f->dims[2]);
    else
        snprintf(s, n, "%u labels", f->dims[0]);
}

/* The data ended after `have` (decompressed) bytes, short of f->need. */
static int fail_truncated(const idx_file *f, uint64_t have) {
    char d[96];
    declared(f, d, sizeof d);
    if (f->is_gz)
        return nn_fail("%s: truncated: header declares %s (%llu bytes) but the file holds %llu "
                       "bytes once decompressed (%llu compressed)",
                       f->path, d, (unsigned long long)f->need, (unsigned long long)have,
                       (unsigned long long)f->file_bytes);
    return nn_fail("%s: truncated: header declares %s (%llu bytes) but the file holds %llu bytes",
                   f->path, d, (unsigned long long)f->need, (unsigned long long)have);
}

/* Read the 4 + 4*ndim header bytes. */
static int read_header_bytes(idx_file *f, uint8_t *h, size_t n, size_t at) {
    size_t got;
    NN_TRY(read_some(f, h, n, at, &got));
    if (got < n)
        return nn_fail("%s: truncated: the file ends after %zu bytes, inside the %d-byte IDX "
                       "header (IDX %s file expected)",
                       f->path, at + got, 4 + 4 * f->ndim, f->what);
    return NN_OK;
}

static uint32_t be32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* a * b in 64 bits; 0 when it overflows. */
static int mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (a != 0 && b > UINT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}

/* Check magic and rank, read the dims, compute the declared size. */
static int idx_header(idx_file *f, int want_ndim) {
    uint8_t h[16];
    f->ndim = want_ndim;
    NN_TRY(read_header_bytes(f, h, 4, 0));
    uint32_t magic = be32(h), want = 0x00000800u | (uint32_t)want_ndim;
    if (magic != want)
        return nn_fail("%s: bad magic 0x%08x, expected 0x%08x (IDX, unsigned bytes, %d dims); "
                       "HINT: is this the right file (images vs labels), and is it MNIST IDX?",
                       f->path, magic, want, want_ndim);
    NN_TRY(read_header_bytes(f, h, 4 * (size_t)want_ndim, 4));
    for (int i = 0; i < want_ndim; i++) {
        f->dims[i] = be32(h + 4 * i);
        if (f->dims[i] == 0 || f->dims[i] > (1u << 28))
            return nn_fail("%s: dimension %d is %u, expected 1..%u", f->path, i, f->dims[i],
                           1u << 28);
    }
    uint64_t n = 1;
    int ok = 1;
    for (int i = 0; i < want_ndim && ok; i++) ok = mul_u64(n, f->dims[i], &n);
    const uint64_t hdr = 4 + 4 * (uint64_t)want_ndim;
    ok = ok && n <= UINT64_MAX - hdr;
    f->need = ok ? n + hdr : UINT64_MAX;
    f->need_overflows = !ok;
    return NN_OK;
}

/* The declared size against what the file can hold, before anything is
 * allocated from it. */
static int idx_check_size(const idx_file *f) {
    char d[96];
    declared(f, d, sizeof d);
    if (f->need_overflows)
        return nn_fail("%s: header declares %s, more than 2^64 bytes, but the file holds %llu "
                       "bytes; not an IDX %s file",
                       f->path, d, (unsigned long long)f->file_bytes, f->what);
    if (!f->is_gz) {
        if (f->file_bytes < f->need) return fail_truncated(f, f->file_bytes);
        if (f->file_bytes > f->need)
            return nn_fail("%s: file is longer than its header says: header declares %s (%llu "
                           "bytes) but the file holds %llu bytes; dims and file size disagree",
                           f->path, d, (unsigned long long)f->need,
                           (unsigned long long)f->file_bytes);
        return NN_OK;
    }
    uint64_t most;
    if (!mul_u64(f->file_bytes, GZ_MAX_RATIO, &most)) most = UINT64_MAX;
    if (f->need > most)
        return nn_fail("%s: truncated: header declares %s (%llu bytes) but the file holds %llu "
                       "gzip bytes, which decompress to at most %llu (deflate's limit is %u:1)",
                       f->path, d, (unsigned long long)f->need,
                       (unsigned long long)f->file_bytes, (unsigned long long)most, GZ_MAX_RATIO);
    return NN_OK;
}

/* After the last record the file must end: a longer file is not what the
 * header describes. */
static int expect_eof(idx_file *f) {
    char c;
    size_t got = 0;
    int r;
    if (f->is_gz) {
        NN_TRY(gz_inflate(f, &c, 1, f->need, &got));
        r = (int)got;
        if (r == 0 && f->trailing_at)
            return nn_fail("%s: %llu bytes of trailing data after the gzip stream (from byte "
                           "%llu of %llu): not part of the IDX file; is it damaged or two files "
                           "in one?",
                           f->path, (unsigned long long)(f->file_bytes - f->trailing_at),
                           (unsigned long long)f->trailing_at,
                           (unsigned long long)f->file_bytes);
    } else {
        r = gzread(f->gz, &c, 1);
    }
    if (r > 0) {
        char d[96];
        declared(f, d, sizeof d);
        return nn_fail("%s: file is longer than its header says: header declares %s (%llu "
                       "bytes) but the %s holds more; dims and file size disagree",
                       f->path, d, (unsigned long long)f->need,
                       f->is_gz ? "decompressed data" : "file");
    }
    if (r < 0) return gz_read_error(f, f->need);
    return NN_OK;
}

/* A buffer that grows as data arrives, up to `want` bytes; for a gzip
 * file, whose real size shows only as it decompresses. */
typedef struct {
    uint8_t *p;
    size_t cap, want;
    const char *what;
} growbuf;

static int growbuf_reserve(growbuf *b, size_t n) {
    if (n <= b->cap) return NN_OK;
    size_t cap = b->cap ? b->cap : READ_CHUNK;
    while (cap < n) cap = cap > b->want / 2 ? b->want : 2 * cap;
    if (cap > b->want) cap = b->want;
    uint8_t *p = realloc(b->p, cap ? cap : 1);
    if (!p) return nn_fail("out of memory allocating %zu bytes for %s", cap, b->what);
    b->p = p;
    b->cap = cap;
    return NN_OK;
}

/* Read the data after the header (count records of rec bytes) and keep the
 * records [keep_lo, keep_hi) in out (reserved as they come). */
static int read_records(idx_file *f, size_t rec, size_t keep_lo, size_t keep_hi,
                        growbuf *out) {
    const uint64_t hdr = 4 + 4 * (uint64_t)f->ndim, total = f->need - hdr;
    const uint64_t lo = (uint64_t)keep_lo * rec, hi = (uint64_t)keep_hi * rec;
    uint8_t *buf = nn_alloc(READ_CHUNK, "IDX read buffer");
    if (!buf) return NN_ERR;
    int rc = NN_OK;
    for (uint64_t at = 0; at < total && rc == NN_OK;) {
        size_t n = total - at < READ_CHUNK ? (size_t)(total - at) : READ_CHUNK, got;
        rc = read_some(f, buf, n, hdr + at, &got);
        if (rc != NN_OK) break;
        /* The part of [at, at + got) inside the kept bytes [lo, hi). */
        uint64_t a = at > lo ? at : lo, b = at + got < hi ? at + got : hi;
        if (a < b) {
            rc = growbuf_reserve(out, (size_t)(b - lo));
            if (rc == NN_OK) memcpy(out->p + (a - lo), buf + (a - at), (size_t)(b - a));
        }
        at += got;
        if (rc == NN_OK && got < n) rc = fail_truncated(f, hdr + at);
    }
    free(buf);
    if (rc == NN_OK) rc = expect_eof(f);
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
    idx_file fi, fl;
    memset(&fl, 0, sizeof fl);
    NN_TRY(idx_file_open(&fi, images_path, "images"));
    int rc = idx_file_open(&fl, labels_path, "labels");
    if (rc == NN_OK) rc = idx_header(&fi, 3);
    if (rc == NN_OK) rc = idx_header(&fl, 1);
    if (rc == NN_OK && fi.dims[0] != fl.dims[0])
        rc = nn_fail("%s has %u images but %s has %u labels; they must match", images_path,
                     fi.dims[0], labels_path, fl.dims[0]);
    if (rc == NN_OK) rc = idx_check_size(&fi);
    if (rc == NN_OK) rc = idx_check_size(&fl);
    /* From here on the declared sizes are backed by the files (plain) or
     * bounded by them (gzip): count * H * W fits in 64 bits. */
    size_t count = rc == NN_OK ? fi.dims[0] : 0;
    nn_shard shard = nn_shard_of(nn_part_count(part, count), part.rank, part.nranks);
    size_t keep = shard.end - shard.begin, dim = rc == NN_OK ? (size_t)fi.dims[1] * fi.dims[2] : 0;
    growbuf px = {NULL, 0, keep * dim, "IDX pixels"}, lb = {NULL, 0, keep, "IDX labels"};
    /* A plain file holds what it declares: take the shard's memory at once. */
    if (rc == NN_OK && !fi.is_gz) rc = growbuf_reserve(&px, px.want);
    if (rc == NN_OK && !fl.is_gz) rc = growbuf_reserve(&lb, lb.want);
    if (rc == NN_OK) rc = read_records(&fi, dim, shard.begin, shard.end, &px);
    if (rc == NN_OK) rc = read_records(&fl, 1, shard.begin, shard.end, &lb);
    for (size_t i = 0; rc == NN_OK && i < keep; i++)
        if (lb.p[i] >= classes)
            rc = nn_fail("%s: label %u of sample %zu is out of range, expected 0..%d",
                         labels_path, lb.p[i], shard.begin + i, classes - 1);
    idx_file_close(&fi);
    idx_file_close(&fl);
    idx_priv *p = rc == NN_OK ? nn_calloc(1, sizeof *p, "IDX data set") : NULL;
    if (!p) {
        free(px.p);
        free(lb.p);
        return NN_ERR;
    }
    /* (An empty shard holds no buffers: get() refuses every index first.) */
    p->pixels = px.p;
    p->labels = lb.p;
    p->dim = dim;
    p->begin = shard.begin;
    p->end = shard.end;
    d->ops = &g_idx_ops;
    snprintf(d->name, sizeof d->name, "%s", images_path);
    d->count = nn_part_count(part, count);
    d->shard = shard;
    d->shape = (nn_shape){1, (int)fi.dims[1], (int)fi.dims[2]};
    d->classes = classes;
    d->priv = p;
    return NN_OK;
}
