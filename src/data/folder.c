/* folder.c: image-folder data sets, root/split/<class>/<image>.{jpg,jpeg,png}.
 *
 * Classes are the sub-folders of root/split in strcmp order (Keras'
 * flow_from_directory order). The files, listed class by class in strcmp
 * order, are then numbered through a fixed pseudo-random permutation, so
 * every rank computes the same global numbering from the listing alone, and
 * each rank's shard and every --limit prefix hold all classes in proportion
 * (numbered class by class, --limit 2560 of CIFAR-10 would be airplanes only,
 * and --bn local would see one class per rank). The open
 * lists the folders (all ranks list everything: the count and the shard come
 * from it), probes the first image when channels or size are to be taken
 * from it, then decodes only the shard's images, converts them to the wanted
 * channels, resizes them (bilinear) and keeps them as bytes in (C, H, W)
 * order. get() converts bytes to floats like the IDX reader.
 *
 * Decoders: libjpeg (libjpeg-turbo) with an error manager that longjmps back
 * instead of exit()ing, and that treats warnings ("Premature end of JPEG
 * file", "Corrupt JPEG data: ...") as errors too, since libjpeg would
 * otherwise hand back made-up pixels; libpng's simplified png_image API. The
 * format is told by the file's signature, not its extension.
 *
 * Limits, checked before anything is allocated from a file's word: an image
 * file is opened with O_NONBLOCK and fstat'ed, and must be a regular file
 * (a FIFO, device or folder named x.jpg is refused, it would block a plain
 * open forever) of at most MAX_IMAGE_FILE_BYTES; the dimensions a JPEG or
 * PNG header declares are checked before decoding: sides 1..MAX_SIDE and at
 * most MAX_IMAGE_PIXELS pixels (64 MP, 8192 x 8192: decoded RGB takes
 * 192 MB; a 16384 x 16384 image would take 805 MB). */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "nn/data.h"
#include "nn/error.h"
#include "nn/progress.h"
#include "nn/fileutil.h"
#include "nn/rng.h"

/* Largest image accepted (pixels: 64 MP, 8192 x 8192), to refuse absurd
 * headers before decoding. A build may lower it (the fuzz targets do, so an
 * input cannot make every run decode 64 MP). */
#ifndef NN_MAX_IMAGE_PIXELS
#define NN_MAX_IMAGE_PIXELS (8192u * 8192u)
#endif
#define MAX_IMAGE_PIXELS ((unsigned long long)NN_MAX_IMAGE_PIXELS)
#define MAX_SIDE 65535u
/* decode_file's want_c for "in the file's own channels" (check-data). */
#define NATIVE_C (-1)
/* Largest image file read (bytes). */
#define MAX_IMAGE_FILE_BYTES (1ull << 30)

typedef struct {
    uint8_t *pixels; /* (held, C*H*W); NULL when streamed */
    int *labels;     /* (held) */
    char **paths;    /* (held) the files, decoded again by get() when streamed */
    size_t begin, end; /* global indices held (the shard at open) */
    size_t dim;        /* C*H*W */
    int c, h, w;
} folder_priv;

/* ---- small helpers ---- */

typedef struct {
    char **v;
    size_t n, cap;
} strvec;

static int strvec_push(strvec *s, const char *str) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v) return nn_fail("out of memory listing a folder (%zu names)", cap);
        s->v = v;
        s->cap = cap;
    }
    size_t len = strlen(str);
    char *c = nn_alloc(len + 1, "file name");
    if (!c) return NN_ERR;
    memcpy(c, str, len + 1);
    s->v[s->n++] = c;
    return NN_OK;
}

static void strvec_free(strvec *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* check-data's findings: "path: reason", and the paths alone. */
typedef struct {
    strvec msgs, paths;
} problems;

/* Record path with reason; a reason that already starts with the path (a
 * decoder's message) is kept whole. */
static int problem(problems *pr, const char *path, const char *reason) {
    size_t n = strlen(path) + strlen(reason) + 3;
    char *s = nn_alloc(n, "problem list");
    if (!s) return NN_ERR;
    if (!strncmp(reason, path, strlen(path)))
        snprintf(s, n, "%s", reason);
    else
        snprintf(s, n, "%s: %s", path, reason);
    int rc = strvec_push(&pr->msgs, s);
    free(s);
    return rc == NN_OK ? strvec_push(&pr->paths, path) : rc;
}

static int in_sorted(char *const *v, size_t n, const char *s) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v[mid], s);
        if (!c) return 1;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* a + "/" + b, allocated (NULL with the message set when out of memory). */
static char *path_join(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *p = nn_alloc(na + nb + 2, "path");
    if (!p) return NULL;
    memcpy(p, a, na);
    p[na] = '/';
    memcpy(p + na + 1, b, nb + 1);
    return p;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}


static int has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
                   !strcasecmp(dot, ".png"));
}

/* Names in dir, sorted: sub-folders (want_dirs; other entries are skipped)
 * or image files (names with an image extension, which must be regular
 * files: a FIFO, device or folder named x.jpg is an error naming it, not a
 * silently dropped sample). Names starting with '.' are skipped. With
 * `found` (check-data), such an entry is recorded there as "path: reason"
 * and left out instead, and an entry that cannot be stat'ed (a symlink loop,
 * a dangling link) is recorded even among the sub-folders. */
static int list_dir(const char *dir, int want_dirs, strvec *out, problems *found,
                    char *const *skip, size_t nskip) {
    DIR *dp = opendir(dir);
    if (!dp) return nn_fail("%s: cannot open folder: %s", dir, strerror(errno));
    int rc = NN_OK;
    struct dirent *e;
    while (rc == NN_OK && (errno = 0, e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (!want_dirs && !has_image_ext(e->d_name)) continue;
        char *full = path_join(dir, e->d_name);
        if (!full) {
            rc = NN_ERR;
            break;
        }
        if (nskip && in_sorted(skip, nskip, full)) { /* --skip-bad */
            free(full);
            continue;
        }
        struct stat st;
        int ok;
        if (found && stat(full, &st) != 0) {
            char msg[64];
            snprintf(msg, sizeof msg, "cannot open: %s", strerror(errno));
            ok = 0;
            rc = problem(found, full, msg);
        } else if (found && !want_dirs && !S_ISREG(st.st_mode)) {
            char msg[96];
            snprintf(msg, sizeof msg, "not a regular file (%s)", nn_file_kind(st.st_mode));
            ok = 0;
            rc = problem(found, full, msg);
        } else if (want_dirs) {
            ok = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
        } else if (stat(full, &st) != 0) {
            ok = 0;
            rc = nn_fail("%s: cannot open: %s (JPEG or PNG image expected)", full,
                         strerror(errno));
        } else if (!S_ISREG(st.st_mode)) {
            ok = 0;
            rc = nn_fail("%s: not a regular file (%s); expected a JPEG or PNG image", full,
                         nn_file_kind(st.st_mode));
        } else {
            ok = 1;
        }
        free(full);
        if (ok) rc = strvec_push(out, e->d_name);
    }
    if (rc == NN_OK && errno != 0) rc = nn_fail("%s: cannot list folder: %s", dir, strerror(errno));
    closedir(dp);
    if (rc == NN_OK && out->n > 1) qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return rc;
}

/* A whole file in memory (reused between files). */
typedef nn_filebuf filebuf;

static int read_file(const char *path, filebuf *b) {
    return nn_read_regular(path, MAX_IMAGE_FILE_BYTES, "a JPEG or PNG image", b);
}

/* ---- decoders ---- */

/* The dimensions a header declares, before anything is decoded. */
static int check_dims(const char *path, const char *fmt, unsigned long long w,
                      unsigned long long h) {
    if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE)
        return nn_fail("%s: bad %s image size %llu x %llu, expected sides of 1..%u pixels", path,
                       fmt, w, h, MAX_SIDE);
    if (w * h > MAX_IMAGE_PIXELS)
        return nn_fail("%s: %s image is %llu x %llu pixels (%llu), more than the %llu (%.0f MP) "
                       "accepted; downscale it first",
                       path, fmt, w, h, w * h, MAX_IMAGE_PIXELS,
                       (double)MAX_IMAGE_PIXELS / (1 << 20));
    return NN_OK;
}

/* A decoded image, interleaved (H, W, c), c = 1 or 3. */
typedef struct {
    uint8_t *px;
    int w, h, c;
} image;

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_err_exit(j_common_ptr ci) {
    jpeg_err *e = (jpeg_err *)ci->err;
    ci->err->format_message(ci, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings (level -1) mean corrupt data: fail. Trace messages are dropped. */
static void jpeg_err_emit(j_common_ptr ci, int level) {
    if (level < 0) jpeg_err_exit(ci);
}

static void jpeg_err_output(j_common_ptr ci) { (void)ci; }

/* State of one JPEG decode, outside the frame that calls setjmp (nothing
 * there is modified between setjmp and a longjmp). */
typedef struct {
    struct jpeg_decompress_struct ci;
    jpeg_err err;
    unsigned char *row; /* a CMYK scanline (freed on every exit) */
} jpeg_job;

/* One decoded CMYK scanline (4 bytes a pixel) as c = 1 or 3 channels.
 * Adobe's files (an APP14 marker: Photoshop, most CMYK JPEGs) store the
 * inks inverted (255 = none), so R = C K / 255 with the stored values;
 * others store them plain, R = (255 - C)(255 - K) / 255. Grey is then
 * Rec. 601's luma, as libjpeg makes it from RGB. */
static void cmyk_row(const unsigned char *in, int w, bool inverted, int c, unsigned char *out) {
    for (int x = 0; x < w; x++) {
        unsigned v[4];
        for (int q = 0; q < 4; q++) v[q] = inverted ? in[4 * x + q] : 255u - in[4 * x + q];
        const unsigned r = (v[0] * v[3] + 127) / 255, g = (v[1] * v[3] + 127) / 255,
                       b = (v[2] * v[3] + 127) / 255;
        if (c == 3)
            out[3 * x] = (unsigned char)r, out[3 * x + 1] = (unsigned char)g,
                    out[3 * x + 2] = (unsigned char)b;
        else
            out[x] = (unsigned char)((299 * r + 587 * g + 114 * b + 500) / 1000);
    }
}

/* want_c: 1 or 3 = decode to that; NATIVE_C = decode in the file's own
 * channels (1 for grayscale JPEGs, else 3); 0 = read the header only (img->c = 1 for
 * grayscale JPEGs, else 3). */
static int decode_jpeg(const char *path, const filebuf *b, int want_c, image *img, jpeg_job *j) {
    j->ci.err = jpeg_std_error(&j->err.pub);
    j->err.pub.error_exit = jpeg_err_exit;
    j->err.pub.emit_message = jpeg_err_emit;
    j->err.pub.output_message = jpeg_err_output;
    j->err.msg[0] = 0;
    j->row = NULL;
    if (setjmp(j->err.jb)) {
        jpeg_destroy_decompress(&j->ci);
        free(j->row);
        j->row = NULL;
        return nn_fail("%s: corrupt or unreadable JPEG: %s", path, j->err.msg);
    }
    jpeg_create_decompress(&j->ci);
    jpeg_mem_src(&j->ci, b->data, (unsigned long)b->n);
    jpeg_read_header(&j->ci, TRUE);
    if (check_dims(path, "JPEG", j->ci.image_width, j->ci.image_height) != NN_OK) {
        jpeg_destroy_decompress(&j->ci);
        return NN_ERR;
    }
    img->w = (int)j->ci.image_width;
    img->h = (int)j->ci.image_height;
    const int native = j->ci.jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
    if (!want_c) {
        img->c = native;
        jpeg_destroy_decompress(&j->ci);
        return NN_OK;
    }
    const int c = want_c == NATIVE_C ? native : want_c;
    /* CMYK and YCCK (libjpeg-turbo makes CMYK of both): converted here. */
    const bool cmyk = j->ci.jpeg_color_space == JCS_CMYK || j->ci.jpeg_color_space == JCS_YCCK;
    j->ci.out_color_space = cmyk ? JCS_CMYK : c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&j->ci);
    img->c = c;
    if ((int)j->ci.output_components != (cmyk ? 4 : c)) {
        jpeg_destroy_decompress(&j->ci);
        return nn_fail("%s: JPEG decoder gave %d components, expected %d", path,
                       j->ci.output_components, c);
    }
    const size_t stride = (size_t)img->w * (size_t)c;
    img->px = nn_alloc(stride * (size_t)img->h, "decoded image");
    if (!img->px) {
        jpeg_destroy_decompress(&j->ci);
        return NN_ERR;
    }
    if (cmyk && !(j->row = nn_alloc((size_t)img->w * 4, "CMYK scanline"))) {
        jpeg_destroy_decompress(&j->ci);
        return NN_ERR;
    }
    while (j->ci.output_scanline < j->ci.output_height) {
        const size_t y = j->ci.output_scanline;
        JSAMPROW row = cmyk ? j->row : img->px + stride * y;
        jpeg_read_scanlines(&j->ci, &row, 1);
        if (cmyk) cmyk_row(j->row, img->w, j->ci.saw_Adobe_marker, c, img->px + stride * y);
    }
    jpeg_finish_decompress(&j->ci);
    jpeg_destroy_decompress(&j->ci);
    free(j->row);
    j->row = NULL;
    return NN_OK;
}

/* Like decode_jpeg; the PNG is decoded in its own colour type (gray or RGB),
 * alpha composited onto black, and converted to want_c afterwards. */
static int decode_png(const char *path, const filebuf *b, int want_c, image *img) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    /* 16-bit files without gamma information: sRGB like 8-bit files (take the
     * high byte), not linear light. */
    im.flags = PNG_IMAGE_FLAG_16BIT_sRGB;
    if (!png_image_begin_read_from_memory(&im, b->data, b->n)) {
        int rc = nn_fail("%s: corrupt or unreadable PNG: %s", path, im.message);
        png_image_free(&im);
        return rc;
    }
    if (check_dims(path, "PNG", im.width, im.height) != NN_OK) {
        png_image_free(&im);
        return NN_ERR;
    }
    img->w = (int)im.width;
    img->h = (int)im.height;
    const int native = (im.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
    if (!want_c) {
        img->c = native;
        png_image_free(&im);
        return NN_OK;
    }
    if (want_c == NATIVE_C) want_c = native;
    im.format = native == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    const size_t n = (size_t)im.width * im.height;
    uint8_t *px = nn_alloc(n * (size_t)(want_c > native ? want_c : native), "decoded image");
    if (!px) {
        png_image_free(&im);
        return NN_ERR;
    }
    png_color black = {0, 0, 0};
    if (!png_image_finish_read(&im, &black, px, 0, NULL)) {
        int rc = nn_fail("%s: corrupt or unreadable PNG: %s", path, im.message);
        png_image_free(&im);
        free(px);
        return rc;
    }
    png_image_free(&im);
    if (want_c == 1 && native == 3) {
        /* Rec.601 luma, as libjpeg computes it for grayscale output. */
        for (size_t k = 0; k < n; k++) {
            const uint8_t *p = px + 3 * k;
            px[k] = (uint8_t)((299u * p[0] + 587u * p[1] + 114u * p[2] + 500u) / 1000u);
        }
    } else if (want_c == 3 && native == 1) {
        for (size_t k = n; k-- > 0;) px[3 * k] = px[3 * k + 1] = px[3 * k + 2] = px[k];
    }
    img->px = px;
    img->c = want_c;
    return NN_OK;
}

/* Read and decode path into img (want_c 1, 3 or NATIVE_C; 0 = header only). */
static int decode_file(const char *path, filebuf *b, int want_c, image *img, jpeg_job *j) {
    NN_TRY(read_file(path, b));
    if (b->n == 0) return nn_fail("%s: empty file (JPEG or PNG image expected)", path);
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (b->n >= 3 && b->data[0] == 0xff && b->data[1] == 0xd8 && b->data[2] == 0xff)
        NN_TRY(decode_jpeg(path, b, want_c, img, j));
    else if (b->n >= 8 && !memcmp(b->data, png_sig, 8))
        NN_TRY(decode_png(path, b, want_c, img));
    else
        return nn_fail("%s: not a JPEG or PNG file (first bytes 0x%02x 0x%02x 0x%02x); expected "
                       "an image as its extension says",
                       path, b->data[0], b->n > 1 ? b->data[1] : 0, b->n > 2 ? b->data[2] : 0);
    return NN_OK;
}

/* Bilinear resampling with pixel centres aligned (source coordinate
 * (x + 0.5) * sw / dw - 0.5, clamped to the edge), the convention of
 * OpenCV's INTER_LINEAR and PyTorch's align_corners=False, without
 * antialiasing. Writes (C, H, W) bytes; a same-size image is only
 * transposed, exactly. */
static int resize_to_chw(const image *s, int H, int W, uint8_t *dst) {
    const int C = s->c;
    const size_t plane = (size_t)H * W;
    if (s->w == W && s->h == H) {
        for (size_t k = 0; k < plane; k++)
            for (int c = 0; c < C; c++) dst[(size_t)c * plane + k] = s->px[k * C + c];
        return NN_OK;
    }
    int *x0 = nn_alloc((size_t)W * 2 * sizeof(int), "resize table");
    float *fx = nn_alloc((size_t)W * sizeof(float), "resize table");
    if (!x0 || !fx) {
        free(x0);
        free(fx);
        return NN_ERR;
    }
    int *x1 = x0 + W;
    const float scale_x = (float)s->w / (float)W, scale_y = (float)s->h / (float)H;
    for (int x = 0; x < W; x++) {
        float sx = ((float)x + 0.5f) * scale_x - 0.5f;
        if (sx < 0) sx = 0;
        if (sx > (float)(s->w - 1)) sx = (float)(s->w - 1);
        x0[x] = (int)sx;
        x1[x] = x0[x] + 1 < s->w ? x0[x] + 1 : s->w - 1;
        fx[x] = sx - (float)x0[x];
    }
    const size_t sstride = (size_t)s->w * C;
    for (int y = 0; y < H; y++) {
        float sy = ((float)y + 0.5f) * scale_y - 0.5f;
        if (sy < 0) sy = 0;
        if (sy > (float)(s->h - 1)) sy = (float)(s->h - 1);
        const int y0 = (int)sy, y1 = y0 + 1 < s->h ? y0 + 1 : s->h - 1;
        const float fy = sy - (float)y0;
        const uint8_t *r0 = s->px + (size_t)y0 * sstride, *r1 = s->px + (size_t)y1 * sstride;
        for (int x = 0; x < W; x++) {
            const size_t a = (size_t)x0[x] * C, b = (size_t)x1[x] * C;
            for (int c = 0; c < C; c++) {
                float top = (1 - fx[x]) * r0[a + c] + fx[x] * r0[b + c];
                float bot = (1 - fx[x]) * r1[a + c] + fx[x] * r1[b + c];
                float v = (1 - fy) * top + fy * bot + 0.5f;
                dst[(size_t)c * plane + (size_t)y * W + x] = (uint8_t)(v >= 255.0f ? 255 : v);
            }
        }
    }
    free(x0);
    free(fx);
    return NN_OK;
}

/* Decode path to C channels, resize to H x W, as (C, H, W) bytes in dst.
 * fb and job are the caller's (reused between files by the open; one per
 * call of a streamed get(), which worker threads call concurrently). */
static int decode_to(const char *path, filebuf *fb, jpeg_job *job, int C, int H, int W,
                     uint8_t *dst) {
    image img = {0};
    int rc = decode_file(path, fb, C, &img, job);
    if (rc == NN_OK) rc = resize_to_chw(&img, H, W, dst);
    free(img.px);
    return rc;
}

/* ---- the data set ---- */

/* Thread-safe: a streamed get() allocates its own buffers (a decode costs
 * far more than the allocations). */
static int folder_get(const nn_dataset *d, size_t i, float *x, int *label) {
    const folder_priv *p = d->priv;
    size_t k;
    NN_TRY(nn_dataset_held(d, i, p->begin, p->end, &k));
    *label = p->labels[k];
    if (p->pixels) {
        nn_bytes_to_unit(p->pixels + k * p->dim, p->dim, x);
        return NN_OK;
    }
    filebuf fb = {0};
    jpeg_job *job = nn_alloc(sizeof *job, "JPEG decoder");
    uint8_t *px = nn_alloc(p->dim, "decoded image");
    int rc = job && px ? decode_to(p->paths[k], &fb, job, p->c, p->h, p->w, px) : NN_ERR;
    if (rc == NN_OK) nn_bytes_to_unit(px, p->dim, x);
    free(fb.data), free(job), free(px);
    return rc;
}

int nn_cache_choose(nn_cache want, size_t bytes, size_t avail, int local_ranks, char *why,
                    size_t n) {
    const size_t budget = avail / 4 / (size_t)(local_ranks > 0 ? local_ranks : 1);
    const double mb = 1.0 / (1 << 20);
    int stream;
    if (want == NN_CACHE_RAM || want == NN_CACHE_NONE) {
        stream = want == NN_CACHE_NONE;
        snprintf(why, n, "--cache %s", stream ? "none" : "ram");
    } else {
        stream = bytes > budget;
        snprintf(why, n, "--cache auto: the shard decoded is %.0f MB, %s the %.0f MB budget "
                 "(a quarter of the %.0f MB available, over %d rank%s on the node)",
                 (double)bytes * mb, stream ? "over" : "within", (double)budget * mb,
                 (double)avail * mb, local_ranks > 0 ? local_ranks : 1,
                 local_ranks > 1 ? "s" : "");
    }
    return stream;
}

/* MemAvailable of /proc/meminfo (bytes); else the free pages. */
static size_t mem_available(void) { return nn_mem_available(); }

static void folder_priv_free(folder_priv *p, size_t held) {
    if (!p) return;
    free(p->pixels);
    free(p->labels);
    if (p->paths)
        for (size_t k = 0; k < held; k++) free(p->paths[k]);
    free(p->paths);
}

static void folder_free(nn_dataset *d) {
    folder_priv *p = d->priv;
    if (p) folder_priv_free(p, p->end - p->begin);
}

static const char *folder_source(const nn_dataset *d, size_t i) {
    const folder_priv *p = d->priv;
    return i >= p->begin && i < p->end ? p->paths[i - p->begin] : NULL;
}

static int folder_label(const nn_dataset *d, size_t i, int *label) {
    const folder_priv *p = d->priv;
    size_t k;
    NN_TRY(nn_dataset_held(d, i, p->begin, p->end, &k));
    *label = p->labels[k];
    return NN_OK;
}

static const nn_dataset_ops g_folder_ops = {
    .get = folder_get, .source = folder_source, .label = folder_label, .free = folder_free};

/* The listing: class names and, per class, its sorted image file names. */
typedef struct {
    strvec classes;
    strvec *files; /* (classes.n) */
    size_t count;
    size_t *order; /* (count) global sample number -> position class by class */
    problems *problems; /* check-data: record bad entries here instead of failing */
    char *const *skip;  /* --skip-bad: these paths (sorted) are left out */
    size_t nskip;
    float val_split;    /* --val-split: keep only this split's files of each class */
    uint64_t val_seed;
    bool val_test;      /* the held-out files (the test split), else the rest */
} listing;

/* --val-split: of each class's n files (sorted by name), the first
 * round(frac n) (at least 1 when n >= 2) in the order of a hash of (seed,
 * name) are the test split; files keeps only those of the split asked for,
 * in name order. The same on every rank and for train and eval. */
typedef struct {
    uint64_t key;
    size_t i;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    return x->key != y->key ? (x->key < y->key ? -1 : 1) : (x->i < y->i ? -1 : x->i > y->i);
}

static void val_filter(strvec *files, float frac, uint64_t seed, bool test) {
    const size_t n = files->n;
    size_t held = n >= 2 ? (size_t)(frac * (double)n + 0.5) : 0;
    if (n >= 2 && held == 0) held = 1;
    if (held >= n && n > 0) held = n - 1;
    keyed *k = malloc((n ? n : 1) * sizeof *k);
    bool *out = calloc(n ? n : 1, sizeof *out);
    if (!k || !out) { /* keeps every file: the start-up counts then say so */
        free(k), free(out);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t h = 1469598103934665603ULL;
        for (const char *c = files->v[i]; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ULL;
        k[i] = (keyed){nn_hash64(seed, h), i};
    }
    qsort(k, n, sizeof *k, cmp_keyed);
    for (size_t j = 0; j < held; j++) out[k[j].i] = true;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i] == test) files->v[kept++] = files->v[i];
        else free(files->v[i]);
    }
    files->n = kept;
    free(k), free(out);
}

static void listing_free(listing *l) {
    if (l->files)
        for (size_t c = 0; c < l->classes.n; c++) strvec_free(&l->files[c]);
    free(l->files);
    free(l->order);
    strvec_free(&l->classes);
}

static int list_folders(const char *root, const char *split, const char *dir, listing *l) {
    if (!is_dir(root))
        return nn_fail("%s: no such folder (image-folder data set root, expected "
                       "ROOT/%s/<class>/<image>.{jpg,jpeg,png})",
                       root, split);
    if (!is_dir(dir))
        return nn_fail("%s: no such folder (split '%s' of image-folder data set %s, expected "
                       "%s/<class>/<image>.{jpg,jpeg,png})",
                       dir, split, root, dir);
    NN_TRY(list_dir(dir, 1, &l->classes, l->problems, l->skip, l->nskip));
    if (l->classes.n == 0)
        return nn_fail("%s: no class folders; expected %s/<class>/<image>.{jpg,jpeg,png}", dir,
                       dir);
    if (l->classes.n > (1u << 20))
        return nn_fail("%s: %zu class folders, more than the %u accepted", dir, l->classes.n,
                       1u << 20);
    l->files = nn_calloc(l->classes.n, sizeof *l->files, "class listing");
    if (!l->files) return NN_ERR;
    for (size_t c = 0; c < l->classes.n; c++) {
        char *cdir = path_join(dir, l->classes.v[c]);
        if (!cdir) return NN_ERR;
        int rc = list_dir(cdir, 0, &l->files[c], l->problems, l->skip, l->nskip);
        if (rc == NN_OK && l->val_split > 0)
            val_filter(&l->files[c], l->val_split, l->val_seed, l->val_test);
        if (rc == NN_OK && l->files[c].n == 0 && l->problems)
            rc = problem(l->problems, cdir, "empty class folder: no readable .jpg, .jpeg or .png");
        else if (rc == NN_OK && l->files[c].n == 0)
            rc = nn_fail("%s: class folder %s is empty: no .jpg, .jpeg or .png files in it",
                         cdir, l->classes.v[c]);
        free(cdir);
        NN_TRY(rc);
        l->count += l->files[c].n;
    }
    /* The numbering: a Fisher-Yates shuffle from a fixed seed (not --seed:
     * the numbering is part of the data set, like the order of an IDX file). */
    l->order = nn_alloc((l->count ? l->count : 1) * sizeof *l->order, "image-folder numbering");
    if (!l->order) return NN_ERR;
    nn_rng r;
    nn_rng_seed(&r, 0x6e6e747261696eULL, l->count);
    for (size_t i = 0; i < l->count; i++) l->order[i] = i;
    for (size_t i = l->count; i > 1; i--) {
        size_t j = (size_t)nn_rng_below(&r, i), t = l->order[i - 1];
        l->order[i - 1] = l->order[j];
        l->order[j] = t;
    }
    return NN_OK;
}

/* Path and class of the file at position pos of the class-by-class listing. */
static char *listed_path(const listing *l, const char *dir, size_t i, int *cls) {
    size_t c = 0;
    while (i >= l->files[c].n) i -= l->files[c++].n;
    *cls = (int)c;
    char *cdir = path_join(dir, l->classes.v[c]);
    if (!cdir) return NULL;
    char *p = path_join(cdir, l->files[c].v[i]);
    free(cdir);
    return p;
}

/* Path and class of global sample i. */
static char *sample_path(const listing *l, const char *dir, size_t i, int *cls) {
    return listed_path(l, dir, l->order[i], cls);
}

int nn_folder_open(nn_dataset *d, const char *root, const char *split, int channels, int height,
                   int width, nn_part part) {
    memset(d, 0, sizeof *d);
    if (part.nranks < 1 || part.rank < 0 || part.rank >= part.nranks)
        return nn_fail("%s: bad part: rank %d of %d", root, part.rank, part.nranks);
    if (channels != 0 && channels != 1 && channels != 3)
        return nn_fail("%s: %d channels requested, expected 1 (grayscale), 3 (RGB) or 0 (from "
                       "the first image)",
                       root, channels);
    if (height < 0 || height > 4096 || width < 0 || width > 4096 || (!height != !width))
        return nn_fail("%s: image size %d x %d (height x width) requested, expected 1..4096 "
                       "each, or both 0 (from the first image)",
                       root, height, width);
    /* --val-split: both splits come from train/, which must then stand alone. */
    char *dir = path_join(root, part.val_split > 0 ? "train" : split);
    if (!dir) return NN_ERR;
    if (part.val_split > 0) {
        char *test = path_join(root, "test");
        const int has = test && is_dir(test);
        free(test);
        if (has) {
            free(dir);
            return nn_fail("%s has a test/ folder: --val-split is for folders with train/ only "
                           "(it holds out part of train/ as the test set)",
                           root);
        }
    } else if (!strcmp(split, "test") && is_dir(root) && !is_dir(dir)) {
        char *train = path_join(root, "train");
        const int has = train && is_dir(train);
        free(train);
        if (has) {
            int rc = nn_fail("%s: no such folder; %s has train/ only: give --val-split FRACTION "
                             "(e.g. 0.1) to hold out part of it as the test set",
                             dir, root);
            free(dir);
            return rc;
        }
    }
    listing l;
    memset(&l, 0, sizeof l);
    filebuf fb = {0};
    image img = {0};
    jpeg_job *job = nn_calloc(1, sizeof *job, "JPEG decoder");
    folder_priv *p = nn_calloc(1, sizeof *p, "image-folder data set");
    char **names = NULL;
    size_t held = 0;
    int stream = 0;
    int rc = job && p ? NN_OK : NN_ERR;
    l.skip = part.skip, l.nskip = part.nskip;
    l.val_split = part.val_split, l.val_seed = part.val_seed, l.val_test = !strcmp(split, "test");
    if (rc == NN_OK) rc = list_folders(root, split, dir, &l);

    /* Channels and size from the first image of the first class (the same
     * on every rank, whatever its shard). */
    int C = channels, H = height, W = width;
    if (rc == NN_OK && (C == 0 || H == 0)) {
        int cls;
        char *first = listed_path(&l, dir, 0, &cls);
        rc = first ? decode_file(first, &fb, 0, &img, job) : NN_ERR;
        if (rc == NN_OK) {
            if (C == 0) C = img.c;
            if (H == 0) H = img.h, W = img.w;
            if ((size_t)H * W > 4096u * 4096u)
                rc = nn_fail("%s: %d x %d pixels; give a size (folder:DIR:CxHxW) to resize to",
                             first, W, H);
        }
        free(first);
    }
    nn_shard shard = nn_shard_of(nn_part_count(part, l.count), part.rank, part.nranks);
    if (rc == NN_OK) {
        held = shard.end - shard.begin;
        p->begin = shard.begin;
        p->end = shard.end;
        p->dim = (size_t)C * H * W;
        p->c = C, p->h = H, p->w = W;
        stream = nn_cache_choose(part.cache, held * p->dim, mem_available(), part.local_ranks,
                                 d->cache_note, sizeof d->cache_note);
        p->pixels = stream ? NULL : nn_alloc((held ? held : 1) * p->dim, "image-folder pixels");
        p->labels = nn_alloc((held ? held : 1) * sizeof *p->labels, "image-folder labels");
        p->paths = nn_calloc(held ? held : 1, sizeof *p->paths, "image-folder paths");
        names = nn_calloc(l.classes.n, sizeof *names, "class names");
        if ((!stream && !p->pixels) || !p->labels || !p->paths || !names) rc = NN_ERR;
    }
    /* The shard's files; decoded now unless streamed (then by get()). */
    for (size_t k = 0; rc == NN_OK && k < held; k++) {
        p->paths[k] = sample_path(&l, dir, shard.begin + k, &p->labels[k]);
        if (!p->paths[k])
            rc = NN_ERR;
        else if (!stream)
            rc = decode_to(p->paths[k], &fb, job, C, H, W, p->pixels + k * p->dim);
    }
    /* Class names: the folder names (moved out of the listing). */
    for (size_t c = 0; rc == NN_OK && c < l.classes.n; c++) {
        names[c] = l.classes.v[c];
        l.classes.v[c] = NULL;
    }
    free(fb.data);
    free(job);
    if (rc != NN_OK) {
        if (names)
            for (size_t c = 0; c < l.classes.n; c++) free(names[c]);
        free(names);
        folder_priv_free(p, held);
        free(p);
        listing_free(&l);
        free(dir);
        return NN_ERR;
    }
    d->ops = &g_folder_ops;
    snprintf(d->name, sizeof d->name, "%s", dir);
    d->count = nn_part_count(part, l.count);
    d->shard = shard;
    d->shape = (nn_shape){C, H, W};
    d->classes = (int)l.classes.n;
    d->class_names = names;
    d->streamed = stream != 0;
    d->priv = p;
    listing_free(&l);
    free(dir);
    return NN_OK;
}

/* ---- check-data ---- */

static int add_size(nn_data_report *r, int c, int h, int w) {
    for (int k = 0; k < r->nsizes; k++)
        if (r->sizes[k].c == c && r->sizes[k].h == h && r->sizes[k].w == w) {
            r->sizes[k].n++;
            return NN_OK;
        }
    nn_size_count *v = realloc(r->sizes, (size_t)(r->nsizes + 1) * sizeof *v);
    if (!v) return nn_fail("out of memory (image size table)");
    r->sizes = v;
    r->sizes[r->nsizes++] = (nn_size_count){c, h, w, 1};
    return NN_OK;
}

int nn_folder_check(const char *root, const char *split, int rank, int nranks, nn_data_report *r) {
    memset(r, 0, sizeof *r);
    char *dir = path_join(root, split);
    if (!dir) return NN_ERR;
    problems pr = {0};
    listing l;
    memset(&l, 0, sizeof l);
    l.problems = &pr;
    int rc = list_folders(root, split, dir, &l);
    filebuf fb = {0};
    jpeg_job *job = rc == NN_OK ? nn_calloc(1, sizeof *job, "JPEG decoder") : NULL;
    if (rc == NN_OK && !job) rc = NN_ERR;
    if (rc == NN_OK) {
        r->classes = (int)l.classes.n;
        r->class_names = nn_calloc(l.classes.n, sizeof *r->class_names, "class names");
        r->class_count = nn_calloc(l.classes.n, sizeof *r->class_count, "class counts");
        if (!r->class_names || !r->class_count) rc = NN_ERR;
    }
    /* The listing's problems are the same on every rank: rank 0 keeps them. */
    if (rank != 0) {
        strvec_free(&pr.msgs);
        strvec_free(&pr.paths);
    }
    /* This rank's part of the files, in listing order; each is read whole
     * and decoded in its own channels, so corrupt data is found too. */
    const nn_shard part = nn_shard_of(l.count, rank, nranks);
    nn_meter meter; /* rank 0's part: the others read as much */
    char what[80];
    snprintf(what, sizeof what, "check-data %s", split);
    nn_meter_start(&meter, NN_PROGRESS_AUTO, rank == 0, what, part.end - part.begin);
    meter.unit = "files/s";
    for (size_t i = part.begin; rc == NN_OK && i < part.end; i++) {
        int cls;
        char *path = listed_path(&l, dir, i, &cls);
        if (!path) {
            rc = NN_ERR;
            break;
        }
        image img = {0};
        nn_err_clear();
        int ok = decode_file(path, &fb, NATIVE_C, &img, job);
        free(img.px);
        r->checked++;
        if (ok == NN_OK) {
            r->class_count[cls] += 1;
            rc = add_size(r, img.c, img.h, img.w);
        } else {
            rc = problem(&pr, path, nn_errmsg());
        }
        free(path);
        nn_meter_update(&meter, i + 1 - part.begin, (double)(i + 1 - part.begin), NULL);
    }
    nn_meter_end(&meter);
    for (size_t c = 0; rc == NN_OK && c < l.classes.n; c++) {
        r->class_names[c] = l.classes.v[c];
        l.classes.v[c] = NULL;
    }
    r->problems = pr.msgs.v;
    r->problem_paths = pr.paths.v;
    r->nproblems = pr.msgs.n;
    free(fb.data);
    free(job);
    listing_free(&l);
    free(dir);
    if (rc != NN_OK) {
        nn_data_report_free(r);
        return NN_ERR;
    }
    return NN_OK;
}

void nn_data_report_free(nn_data_report *r) {
    if (r->class_names)
        for (int c = 0; c < r->classes; c++) free(r->class_names[c]);
    free(r->class_names);
    free(r->class_count);
    free(r->sizes);
    for (size_t k = 0; k < r->nproblems; k++) {
        free(r->problems[k]);
        if (r->problem_paths) free(r->problem_paths[k]);
    }
    free(r->problems);
    free(r->problem_paths);
    memset(r, 0, sizeof *r);
}

int nn_image_file_read(const char *path, nn_shape s, float *x, int *orig_h, int *orig_w) {
    filebuf fb = {0};
    image img = {0};
    jpeg_job *job = nn_alloc(sizeof *job, "JPEG decoder");
    uint8_t *px = nn_alloc(nn_shape_size(s), "decoded image");
    int rc = job && px ? decode_file(path, &fb, s.c, &img, job) : NN_ERR;
    if (rc == NN_OK) {
        *orig_h = (int)img.h, *orig_w = (int)img.w;
        rc = resize_to_chw(&img, s.h, s.w, px);
    }
    if (rc == NN_OK) nn_bytes_to_unit(px, nn_shape_size(s), x);
    free(img.px), free(fb.data), free(job), free(px);
    return rc;
}
