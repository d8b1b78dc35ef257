/* test_images.c: the CIFAR-10 binary loader, the image-folder loader (JPEG
 * and PNG, channel conversion, resizing, corrupt files), the data-set names
 * that reach them, and augmentation / normalisation. Every fixture is
 * written by the test itself into tu_tmpdir(), images with libjpeg/libpng. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "nn/augment.h"
#include "nn/data.h"
#include "nn/error.h"
#include "testutil.h"

/* ---- shared helpers ---- */

static void mkdirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
}

static char *join2(char *out, size_t n, const char *a, const char *b) {
    snprintf(out, n, "%s/%s", a, b);
    return out;
}

/* Whether the last error message holds each of the (up to 3) strings; prints
 * it when not. */
static int msg_has(const char *a, const char *b, const char *c, int line) {
    const char *m = nn_errmsg();
    int ok = (!a || strstr(m, a)) && (!b || strstr(m, b)) && (!c || strstr(m, c));
    if (!ok) printf("\n    line %d: message was: %s\n", line, m);
    return ok;
}
#define MSG_HAS(a, b, c) msg_has((a), (b), (c), __LINE__)

static uint8_t *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    CU_ASSERT_FATAL(b != NULL);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

/* ================= CIFAR-10 binary ================= */

#define REC 3073
#define DIM 3072

static uint8_t cifar_px(size_t i, size_t k) { return (uint8_t)((i * 131 + k * 7 + 3) % 256); }
static uint8_t cifar_label(size_t i) { return (uint8_t)((i * 7 + 3) % 10); }

/* Records of global indices [first, first+n) (cifar_px / cifar_label). */
static void write_batch(const char *path, size_t first, size_t n) {
    uint8_t *b = malloc(n * REC);
    CU_ASSERT_FATAL(b != NULL);
    for (size_t r = 0; r < n; r++) {
        b[r * REC] = cifar_label(first + r);
        for (size_t k = 0; k < DIM; k++) b[r * REC + 1 + k] = cifar_px(first + r, k);
    }
    tu_write_file(path, b, n * REC, 0);
    free(b);
}

/* 5 train batches of 3, 2, 4, 1, 2 records (12), test batch of 5 records. */
static const size_t g_batch_n[5] = {3, 2, 4, 1, 2};
#define CIFAR_TRAIN 12
#define CIFAR_TEST 5

static void write_cifar_dir(const char *dir) {
    mkdirs(dir);
    char path[1100];
    size_t first = 0;
    for (int b = 0; b < 5; b++) {
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, b + 1);
        write_batch(path, first, g_batch_n[b]);
        first += g_batch_n[b];
    }
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    write_batch(path, 100, CIFAR_TEST);
}

static void check_cifar_sample(const nn_dataset *d, size_t i, size_t gen) {
    float x[DIM];
    int label = -1;
    CU_ASSERT_EQUAL_FATAL(d->ops->get(d, i, x, &label), NN_OK);
    CU_ASSERT_EQUAL(label, cifar_label(gen));
    int bad = 0;
    for (size_t k = 0; k < DIM; k++)
        if (x[k] != (float)cifar_px(gen, k) / 255.0f) bad++;
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_cifar_valid(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tu_path("cifar_valid"));
    write_cifar_dir(dir);
    nn_dataset d;
    CU_ASSERT_EQUAL_FATAL(nn_cifar_open(&d, dir, "train", NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(d.count, CIFAR_TRAIN);
    CU_ASSERT_EQUAL(d.shape.c, 3);
    CU_ASSERT_EQUAL(d.shape.h, 32);
    CU_ASSERT_EQUAL(d.shape.w, 32);
    CU_ASSERT_EQUAL(d.classes, 10);
    CU_ASSERT_EQUAL(d.shard.begin, 0);
    CU_ASSERT_EQUAL(d.shard.end, CIFAR_TRAIN);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d.class_names);
    CU_ASSERT_STRING_EQUAL(d.class_names[0], "airplane");
    CU_ASSERT_STRING_EQUAL(d.class_names[3], "cat");
    CU_ASSERT_STRING_EQUAL(d.class_names[9], "truck");
    for (size_t i = 0; i < CIFAR_TRAIN; i++) check_cifar_sample(&d, i, i);
    /* CHW spelled out: sample 5 (data_batch_3, record 0) G plane (c=1),
     * row 2, column 7 is file byte 1 + 1024 + 2*32 + 7 of its record. */
    float x[DIM];
    int label;
    CU_ASSERT_EQUAL(d.ops->get(&d, 5, x, &label), NN_OK);
    size_t k = 1024 + 2 * 32 + 7;
    CU_ASSERT_EQUAL(x[k], (float)((5 * 131 + k * 7 + 3) % 256) / 255.0f);
    CU_ASSERT_EQUAL(label, (5 * 7 + 3) % 10);
    /* Every byte value is exactly byte/255: the pattern covers all 256. */
    nn_dataset_free(&d);
    CU_ASSERT_PTR_NULL(d.class_names);

    CU_ASSERT_EQUAL_FATAL(nn_cifar_open(&d, dir, "test", NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(d.count, CIFAR_TEST);
    for (size_t i = 0; i < CIFAR_TEST; i++) check_cifar_sample(&d, i, 100 + i);
    nn_dataset_free(&d);

    nn_err_clear();
    CU_ASSERT_EQUAL(nn_cifar_open(&d, dir, "valid", NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS(dir, "valid", "train or test"));
}

static void test_cifar_bad_files(void) {
    char dir[512], path[1100];
    nn_dataset d;
    /* Truncated: data_batch_3 loses 100 bytes. */
    snprintf(dir, sizeof dir, "%s", tu_path("cifar_trunc"));
    write_cifar_dir(dir);
    snprintf(path, sizeof path, "%s/data_batch_3.bin", dir);
    CU_ASSERT_EQUAL(truncate(path, 4 * REC - 100), 0);
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_cifar_open(&d, dir, "train", NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS(path, "size 12192", "not a multiple of the 3073-byte record"));
    /* Empty file. */
    CU_ASSERT_EQUAL(truncate(path, 0), 0);
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_cifar_open(&d, dir, "train", NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS(path, "empty", NULL));
    /* One byte too many. */
    write_batch(path, 5, 4);
    FILE *f = fopen(path, "ab");
    fputc(0, f);
    fclose(f);
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_cifar_open(&d, dir, "train", NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS(path, "not a multiple", NULL));

    /* Missing file. */
    snprintf(dir, sizeof dir, "%s", tu_path("cifar_missing"));
    write_cifar_dir(dir);
    snprintf(path, sizeof path, "%s/data_batch_4.bin", dir);
    CU_ASSERT_EQUAL(unlink(path), 0);
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_cifar_open(&d, dir, "train", NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS(path, "cannot open", "CIFAR-10"));
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_cifar_open(&d, tu_path("cifar_no_such_dir"), "test", NN_PART_ALL),
                    NN_ERR);
    CU_ASSERT(MSG_HAS("cifar_no_such_dir/test_batch.bin", "cannot open", NULL));

    /* Bad label: record 1 of data_batch_2 (global sample 4) says 10. */
    snprintf(dir, sizeof dir, "%s", tu_path("cifar_badlabel"));
    write_cifar_dir(dir);
    snprintf(path, sizeof path, "%s/data_batch_2.bin", dir);
    f = fopen(path, "r+b");
    CU_ASSERT_FATAL(f != NULL);
    fseek(f, REC, SEEK_SET);
    fputc(10, f);
    fclose(f);
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_cifar_open(&d, dir, "train", NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS(path, "label 10 of record 1", "expected 0..9"));
    /* Only the shard's records are read: the last third (8..11) does not see it. */
    CU_ASSERT_EQUAL(nn_cifar_open(&d, dir, "train", (nn_part){.rank = 2, .nranks = 3, .limit = 0, .cache = NN_CACHE_AUTO, .local_ranks = 1}), NN_OK);
    nn_dataset_free(&d);
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_cifar_open(&d, dir, "train", (nn_part){.rank = 1, .nranks = 3, .limit = 0, .cache = NN_CACHE_AUTO, .local_ranks = 1}), NN_ERR);
    CU_ASSERT(MSG_HAS(path, "label 10", NULL));
}

/* A FIFO, a folder or a device in place of a batch file: refused, naming
 * it, and without blocking (open with O_NONBLOCK, then fstat). */
static void test_cifar_not_regular(void) {
    char dir[512], path[1100];
    nn_dataset d;
    snprintf(dir, sizeof dir, "%s", tu_path("cifar_fifo"));
    write_cifar_dir(dir);
    snprintf(path, sizeof path, "%s/data_batch_2.bin", dir);
    CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
    CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
    tu_hang_guard("nn_cifar_open(FIFO as data_batch_2.bin)");
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_cifar_open(&d, dir, "train", NN_PART_ALL), NN_ERR);
    tu_hang_guard(NULL);
    CU_ASSERT(MSG_HAS(path, "not a regular file", "FIFO"));
    CU_ASSERT(MSG_HAS(path, "CIFAR-10 binary batch file expected", NULL));
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
    CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_cifar_open(&d, dir, "test", NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS(path, "not a regular file", "folder"));
    CU_ASSERT_EQUAL(rmdir(path), 0);
    CU_ASSERT_EQUAL(symlink("/dev/zero", path), 0);
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_cifar_open(&d, dir, "test", NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS(path, "not a regular file", "character device"));
}

/* Rank r of nranks holds its shard of all; every sample of it reads as in
 * all (and counts in covered[i]); every other sample is refused, naming `name`. */
static void check_shard_reads(const nn_dataset *d, const nn_dataset *all, int r, int nranks,
                              int *covered, const char *name) {
    nn_shard want = nn_shard_of(all->count, r, nranks);
    CU_ASSERT_EQUAL(d->count, all->count);
    CU_ASSERT_EQUAL(d->shard.begin, want.begin);
    CU_ASSERT_EQUAL(d->shard.end, want.end);
    const size_t dim = nn_shape_size(d->shape);
    float *x = malloc(dim * sizeof(float)), *y = malloc(dim * sizeof(float));
    CU_ASSERT_FATAL(x && y);
    for (size_t i = 0; i < d->count; i++) {
        int lx = -1, ly = -2;
        nn_err_clear();
        int rc = d->ops->get(d, i, x, &lx);
        if (i >= d->shard.begin && i < d->shard.end) {
            covered[i]++;
            CU_ASSERT_EQUAL(rc, NN_OK);
            CU_ASSERT_EQUAL(all->ops->get(all, i, y, &ly), NN_OK);
            CU_ASSERT_EQUAL(lx, ly);
            CU_ASSERT(memcmp(x, y, dim * sizeof(float)) == 0);
        } else {
            CU_ASSERT_EQUAL(rc, NN_ERR);
            CU_ASSERT(MSG_HAS(name, "outside", NULL));
        }
    }
    free(x), free(y);
}

static void test_cifar_shards(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tu_path("cifar_shard"));
    write_cifar_dir(dir);
    nn_dataset all;
    CU_ASSERT_EQUAL_FATAL(nn_cifar_open(&all, dir, "train", NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(all.count, CIFAR_TRAIN);
    for (int nranks = 1; nranks <= 3; nranks++) {
        int covered[CIFAR_TRAIN] = {0};
        for (int r = 0; r < nranks; r++) {
            nn_dataset d;
            CU_ASSERT_EQUAL_FATAL(nn_cifar_open(&d, dir, "train", (nn_part){.rank = r, .nranks = nranks, .limit = 0, .cache = NN_CACHE_AUTO, .local_ranks = 1}), NN_OK);
            check_shard_reads(&d, &all, r, nranks, covered, dir);
            nn_dataset_free(&d);
        }
        for (int i = 0; i < CIFAR_TRAIN; i++) CU_ASSERT_EQUAL(covered[i], 1);
    }
    nn_dataset_free(&all);
}

static void test_cifar_names(void) {
    char dir[512], spec[700], sub[600];
    snprintf(dir, sizeof dir, "%s", tu_path("cifar_named"));
    /* The official archive's layout: DIR/cifar-10-batches-bin/. */
    write_cifar_dir(join2(sub, sizeof sub, dir, "cifar-10-batches-bin"));
    snprintf(spec, sizeof spec, "cifar10:%s", dir);
    nn_dataset d;
    CU_ASSERT_EQUAL_FATAL(nn_data_open(&d, spec, "train", (nn_part){.rank = 1, .nranks = 2, .limit = 0, .cache = NN_CACHE_AUTO, .local_ranks = 1}), NN_OK);
    CU_ASSERT_EQUAL(d.count, CIFAR_TRAIN);
    CU_ASSERT_EQUAL(d.shard.begin, 6);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.name, "cifar-10-batches-bin"));
    check_cifar_sample(&d, 7, 7);
    nn_dataset_free(&d);
    /* DIR holding the files directly. */
    snprintf(spec, sizeof spec, "cifar10:%s", sub);
    CU_ASSERT_EQUAL_FATAL(nn_data_open(&d, spec, "test", NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(d.count, CIFAR_TEST);
    nn_dataset_free(&d);
    /* Missing: a HINT. */
    snprintf(spec, sizeof spec, "cifar10:%s", tu_path("cifar_nothing_here"));
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_data_open(&d, spec, "train", NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS("cifar_nothing_here/data_batch_1.bin", "not found", "HINT"));
}

/* ================= image folders ================= */

#define FW 6
#define FH 5

/* Interleaved (H, W, c) test patterns: PNGs anything, JPEGs smooth. */
static uint8_t png_pat(int seed, int y, int x, int c) {
    return (uint8_t)((seed * 53 + y * 29 + x * 13 + c * 71) % 256);
}
static uint8_t jpg_pat(int seed, int y, int x, int c) {
    return (uint8_t)(40 + seed * 10 + y * 8 + x * 6 + c * 30);
}
static int luma(int r, int g, int b) { return (299 * r + 587 * g + 114 * b + 500) / 1000; }

enum { PNG_RGB, PNG_GRAY, JPG_RGB, JPG_GRAY };

static uint8_t *make_pixels(int kind, int seed, int w, int h) {
    int c = kind == PNG_RGB || kind == JPG_RGB ? 3 : 1;
    uint8_t *px = malloc((size_t)w * h * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                px[((size_t)y * w + x) * c + k] =
                    kind <= PNG_GRAY ? png_pat(seed, y, x, k) : jpg_pat(seed, y, x, k);
    return px;
}

static void write_png(const char *path, int w, int h, int c, const uint8_t *px) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = c == 1 ? PNG_FORMAT_GRAY : c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
    int ok = png_image_write_to_file(&im, path, 0, px, 0, NULL);
    if (!ok) printf("\n    png write %s: %s\n", path, im.message);
    CU_ASSERT_FATAL(ok);
}

/* Quality 100 without chroma subsampling, so pixels come back within a few levels. */
static void write_jpeg(const char *path, int w, int h, int c, const uint8_t *px) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = c;
    ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 100, TRUE);
    for (int k = 0; k < ci.num_components; k++)
        ci.comp_info[k].h_samp_factor = ci.comp_info[k].v_samp_factor = 1;
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * w * c);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
}

/* Issue 29.14: a 4x4 CMYK (or YCCK) JPEG, quality 100, of one colour given
 * as RGB: stored as Adobe's inverted inks (255 - ink), as Photoshop does,
 * C' = R, M' = G, Y' = B with K' = 255 (no black ink). */
static void write_cmyk_jpeg(const char *path, bool ycck, const uint8_t rgb[3]) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = ci.image_height = 4;
    ci.input_components = 4;
    ci.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&ci);
    if (ycck) jpeg_set_colorspace(&ci, JCS_YCCK);
    ci.write_Adobe_marker = TRUE;
    jpeg_set_quality(&ci, 100, TRUE);
    for (int k = 0; k < ci.num_components; k++)
        ci.comp_info[k].h_samp_factor = ci.comp_info[k].v_samp_factor = 1;
    jpeg_start_compress(&ci, TRUE);
    uint8_t row[16];
    for (int x = 0; x < 4; x++) row[4 * x] = rgb[0], row[4 * x + 1] = rgb[1], row[4 * x + 2] = rgb[2], row[4 * x + 3] = 255;
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
}

static void test_cmyk_jpeg(void) {
    char root[600], dir[700], path[800];
    snprintf(root, sizeof root, "%s", tu_path("cmyk"));
    const uint8_t colour[2][3] = {{200, 40, 90}, {20, 180, 240}};
    for (int k = 0; k < 2; k++) {
        snprintf(dir, sizeof dir, "%s/train/%c", root, 'a' + k);
        mkdirs(dir);
        snprintf(path, sizeof path, "%s/%s.jpg", dir, k ? "ycck" : "cmyk");
        write_cmyk_jpeg(path, k == 1, colour[k]);
    }
    for (int c = 1; c <= 3; c += 2) {
        nn_dataset d;
        nn_err_clear();
        int rc = nn_folder_open(&d, root, "train", c, 0, 0, NN_PART_ALL);
        if (rc != NN_OK) printf("\n    CMYK JPEG: %s\n", nn_errmsg());
        CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
        CU_ASSERT_EQUAL(d.shape.c, c);
        for (size_t i = 0; i < d.count; i++) {
            float x[3 * 16];
            int label;
            CU_ASSERT_EQUAL_FATAL(d.ops->get(&d, i, x, &label), NN_OK);
            const uint8_t *want = colour[label];
            const double grey = (299.0 * want[0] + 587.0 * want[1] + 114.0 * want[2]) / 1000.0;
            for (int q = 0; q < c; q++) {
                const double got = x[q * 16 + 5] * 255.0, w = c == 1 ? grey : want[q];
                if (fabs(got - w) > 4) printf("\n    CMYK label %d ch %d: %.1f, want %.1f\n", label, q, got, w);
                CU_ASSERT(fabs(got - w) <= 4);
            }
        }
        nn_dataset_free(&d);
    }
}

static void write_image(const char *path, int kind, int seed, int w, int h) {
    uint8_t *px = make_pixels(kind, seed, w, h);
    int c = kind == PNG_RGB || kind == JPG_RGB ? 3 : 1;
    if (kind <= PNG_GRAY)
        write_png(path, w, h, c, px);
    else
        write_jpeg(path, w, h, c, px);
    free(px);
}

/* The standard folder, in global index order. */
typedef struct {
    const char *cls, *file;
    int kind, seed, label;
} fx_image;

static const fx_image g_fx[] = {
    {"ant", "x.jpg", JPG_RGB, 0, 0},  {"ant", "y.JPEG", JPG_RGB, 1, 0},
    {"cat", "10.PNG", PNG_RGB, 2, 1}, {"cat", "2.png", PNG_RGB, 3, 1},
    {"dog", "g.png", PNG_GRAY, 4, 2}, {"dog", "h.jpg", JPG_GRAY, 5, 2},
};
#define FX_N 6

/* root/train/{ant,cat,dog}/..., plus things the loader must ignore. */
static void write_standard_folder(const char *root) {
    char path[2300], dir[1100];
    for (int i = 0; i < FX_N; i++) {
        snprintf(dir, sizeof dir, "%s/train/%s", root, g_fx[i].cls);
        mkdirs(dir);
        write_image(join2(path, sizeof path, dir, g_fx[i].file), g_fx[i].kind, g_fx[i].seed, FW,
                    FH);
    }
    snprintf(path, sizeof path, "%s/train/notes.txt", root);
    tu_write_file(path, "not a class\n", 12, 0);
    snprintf(path, sizeof path, "%s/train/cat/readme.txt", root);
    tu_write_file(path, "not an image\n", 13, 0);
    snprintf(path, sizeof path, "%s/train/.cache", root);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/train/dog/.hidden.png", root);
    tu_write_file(path, "x", 1, 0);
}

/* Expected byte of sample i, channel c of `channels`, and its tolerance. */
static int fx_expect(int i, int channels, int c, int y, int x, int *tol) {
    const fx_image *f = &g_fx[i];
    int is_png = f->kind <= PNG_GRAY, rgb = f->kind == PNG_RGB || f->kind == JPG_RGB;
    uint8_t (*pat)(int, int, int, int) = is_png ? png_pat : jpg_pat;
    *tol = is_png ? 0 : rgb ? 4 : 2;
    if (!rgb) return pat(f->seed, y, x, 0);
    if (channels == 3) return pat(f->seed, y, x, c);
    return luma(pat(f->seed, y, x, 0), pat(f->seed, y, x, 1), pat(f->seed, y, x, 2));
}

/* Global sample number of fixture file cls/file: the loader numbers the files
 * through a fixed shuffle, and nn_dataset_source tells which file is which. */
static int fx_index_of(const nn_dataset *d, const char *cls, const char *file) {
    char tail[300];
    snprintf(tail, sizeof tail, "/%s/%s", cls, file);
    for (size_t i = 0; i < d->count; i++) {
        const char *src = nn_dataset_source(d, i);
        if (src && strlen(src) >= strlen(tail) && !strcmp(src + strlen(src) - strlen(tail), tail))
            return (int)i;
    }
    return -1;
}

/* Fixture i (g_fx order) read back through its global sample number. */
static void check_fx_sample(const nn_dataset *d, int i, int channels) {
    float x[3 * FH * FW];
    int label = -1, at = fx_index_of(d, g_fx[i].cls, g_fx[i].file);
    CU_ASSERT_FATAL(at >= 0);
    CU_ASSERT_EQUAL_FATAL(d->ops->get(d, (size_t)at, x, &label), NN_OK);
    CU_ASSERT_EQUAL(label, g_fx[i].label);
    int bad = 0, worst = 0;
    for (int c = 0; c < channels; c++)
        for (int yy = 0; yy < FH; yy++)
            for (int xx = 0; xx < FW; xx++) {
                int tol;
                int want = fx_expect(i, channels, c, yy, xx, &tol);
                float v = x[(c * FH + yy) * FW + xx];
                int got = (int)lrintf(v * 255.0f);
                if (v != (float)got / 255.0f) bad++; /* always a byte / 255 */
                int err = abs(got - want);
                if (err > worst) worst = err;
                if (err > tol) bad++;
            }
    CU_ASSERT_EQUAL(bad, 0);
    if (bad) printf("\n    sample %d (%s/%s), %d channels: worst error %d\n", i, g_fx[i].cls,
                    g_fx[i].file, channels, worst);
    /* Gray sources give three equal planes. */
    if (channels == 3 && (g_fx[i].kind == PNG_GRAY || g_fx[i].kind == JPG_GRAY))
        CU_ASSERT(memcmp(x, x + FH * FW, FH * FW * sizeof(float)) == 0 &&
                  memcmp(x, x + 2 * FH * FW, FH * FW * sizeof(float)) == 0);
}

static const char *standard_folder(void) {
    static char root[512];
    if (!root[0]) {
        snprintf(root, sizeof root, "%s", tu_path("folder"));
        write_standard_folder(root);
    }
    return root;
}

static void test_folder_valid(void) {
    const char *root = standard_folder();
    nn_dataset d;
    /* size 0: from the first image (ant/x.jpg, 6 x 5). */
    CU_ASSERT_EQUAL_FATAL(nn_folder_open(&d, root, "train", 3, 0, 0, NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(d.count, FX_N);
    CU_ASSERT_EQUAL(d.classes, 3);
    CU_ASSERT_EQUAL(d.shape.c, 3);
    CU_ASSERT_EQUAL(d.shape.h, FH);
    CU_ASSERT_EQUAL(d.shape.w, FW);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d.class_names);
    CU_ASSERT_STRING_EQUAL(d.class_names[0], "ant");
    CU_ASSERT_STRING_EQUAL(d.class_names[1], "cat");
    CU_ASSERT_STRING_EQUAL(d.class_names[2], "dog");
    char want[600];
    CU_ASSERT_STRING_EQUAL(d.name, join2(want, sizeof want, root, "train"));
    for (int i = 0; i < FX_N; i++) check_fx_sample(&d, i, 3);
    /* PNG pixels exact, spelled out: sample 2 (cat/10.PNG, seed 2), B plane,
     * row 3, column 4 = (2*53 + 3*29 + 4*13 + 2*71) % 256 = 131. */
    float x[3 * FH * FW];
    int label;
    CU_ASSERT_EQUAL(d.ops->get(&d, (size_t)fx_index_of(&d, "cat", "10.PNG"), x, &label), NN_OK);
    CU_ASSERT_EQUAL(x[(2 * FH + 3) * FW + 4], 131.0f / 255.0f);
    nn_dataset_free(&d);

    /* channels 0: from the first image (RGB JPEG) = 3. */
    CU_ASSERT_EQUAL_FATAL(nn_folder_open(&d, root, "train", 0, 0, 0, NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(d.shape.c, 3);
    nn_dataset_free(&d);

    /* Grayscale: RGB converted by Rec.601 luma (PNG exact). */
    CU_ASSERT_EQUAL_FATAL(nn_folder_open(&d, root, "train", 1, 0, 0, NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(d.shape.c, 1);
    for (int i = 0; i < FX_N; i++) check_fx_sample(&d, i, 1);
    nn_dataset_free(&d);
}

static void test_folder_first_gray(void) {
    /* The first image is grayscale: channels 0 -> 1; an RGB one is converted. */
    char root[512], path[1100];
    snprintf(root, sizeof root, "%s", tu_path("folder_gray"));
    snprintf(path, sizeof path, "%s/test/a", root);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/test/a/0.jpg", root);
    write_image(path, JPG_GRAY, 5, 8, 3);
    snprintf(path, sizeof path, "%s/test/b", root);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/test/b/0.png", root);
    write_image(path, PNG_RGB, 3, 8, 3);
    nn_dataset d;
    CU_ASSERT_EQUAL_FATAL(nn_folder_open(&d, root, "test", 0, 0, 0, NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(d.shape.c, 1);
    CU_ASSERT_EQUAL(d.shape.h, 3);
    CU_ASSERT_EQUAL(d.shape.w, 8);
    float x[24];
    int label;
    CU_ASSERT_EQUAL(d.ops->get(&d, (size_t)fx_index_of(&d, "b", "0.png"), x, &label), NN_OK);
    CU_ASSERT_EQUAL(label, 1);
    int bad = 0;
    for (int y = 0; y < 3; y++)
        for (int xx = 0; xx < 8; xx++) {
            int want = luma(png_pat(3, y, xx, 0), png_pat(3, y, xx, 1), png_pat(3, y, xx, 2));
            if (x[y * 8 + xx] != (float)want / 255.0f) bad++;
        }
    CU_ASSERT_EQUAL(bad, 0);
    nn_dataset_free(&d);
}

/* Reference bilinear (pixel centres aligned, edge clamped), in double. */
static int ref_bilinear(const uint8_t *src, int sw, int sh, int W, int H, int y, int x) {
    double sx = (x + 0.5) * sw / W - 0.5, sy = (y + 0.5) * sh / H - 0.5;
    sx = sx < 0 ? 0 : sx > sw - 1 ? sw - 1 : sx;
    sy = sy < 0 ? 0 : sy > sh - 1 ? sh - 1 : sy;
    int x0 = (int)sx, y0 = (int)sy;
    int x1 = x0 + 1 < sw ? x0 + 1 : sw - 1, y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
    double fx = sx - x0, fy = sy - y0;
    double v = (1 - fy) * ((1 - fx) * src[y0 * sw + x0] + fx * src[y0 * sw + x1]) +
               fy * ((1 - fx) * src[y1 * sw + x0] + fx * src[y1 * sw + x1]);
    return (int)floor(v + 0.5);
}

static void test_folder_resize(void) {
    char root[512], dir[1100], path[1200];
    snprintf(root, sizeof root, "%s", tu_path("folder_resize"));
    snprintf(dir, sizeof dir, "%s/train/k", root);
    mkdirs(dir);
    /* 0.png 4x4 (sets the size), 1.png 8x8 (halved), 2.png 2x2 (doubled). */
    write_image(join2(path, sizeof path, dir, "0.png"), PNG_GRAY, 1, 4, 4);
    write_image(join2(path, sizeof path, dir, "1.png"), PNG_GRAY, 2, 8, 8);
    write_image(join2(path, sizeof path, dir, "2.png"), PNG_GRAY, 3, 2, 2);
    nn_dataset d;
    CU_ASSERT_EQUAL_FATAL(nn_folder_open(&d, root, "train", 1, 0, 0, NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(d.shape.h, 4);
    CU_ASSERT_EQUAL(d.shape.w, 4);
    float x[16];
    int label, bad = 0;
    /* Same size: unchanged. */
    CU_ASSERT_EQUAL(d.ops->get(&d, (size_t)fx_index_of(&d, "k", "0.png"), x, &label), NN_OK);
    for (int y = 0; y < 4; y++)
        for (int xx = 0; xx < 4; xx++)
            if (x[y * 4 + xx] != (float)png_pat(1, y, xx, 0) / 255.0f) bad++;
    CU_ASSERT_EQUAL(bad, 0);
    /* Halved: bilinear at the centre of each 2x2 block = its mean, rounded half up. */
    CU_ASSERT_EQUAL(d.ops->get(&d, (size_t)fx_index_of(&d, "k", "1.png"), x, &label), NN_OK);
    bad = 0;
    for (int y = 0; y < 4; y++)
        for (int xx = 0; xx < 4; xx++) {
            int s = png_pat(2, 2 * y, 2 * xx, 0) + png_pat(2, 2 * y, 2 * xx + 1, 0) +
                    png_pat(2, 2 * y + 1, 2 * xx, 0) + png_pat(2, 2 * y + 1, 2 * xx + 1, 0);
            if (x[y * 4 + xx] != (float)((s + 2) / 4) / 255.0f) bad++;
        }
    CU_ASSERT_EQUAL(bad, 0);
    /* Doubled: weights 1, 3/4, 1/4, edge clamped (exact in float). */
    CU_ASSERT_EQUAL(d.ops->get(&d, (size_t)fx_index_of(&d, "k", "2.png"), x, &label), NN_OK);
    uint8_t src[4];
    for (int k = 0; k < 4; k++) src[k] = png_pat(3, k / 2, k % 2, 0);
    bad = 0;
    for (int y = 0; y < 4; y++)
        for (int xx = 0; xx < 4; xx++)
            if (x[y * 4 + xx] != (float)ref_bilinear(src, 2, 2, 4, 4, y, xx) / 255.0f) bad++;
    CU_ASSERT_EQUAL(bad, 0);
    /* Corners keep the corner pixels. */
    CU_ASSERT_EQUAL(x[0], (float)src[0] / 255.0f);
    CU_ASSERT_EQUAL(x[15], (float)src[3] / 255.0f);
    nn_dataset_free(&d);

    /* An explicit size: 3x3 from the 6x5 RGB folder (non-integer ratios),
     * against the reference (tolerance 1 for float vs double rounding). */
    const char *sroot = standard_folder();
    CU_ASSERT_EQUAL_FATAL(nn_folder_open(&d, sroot, "train", 3, 3, 3, NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(d.shape.h, 3);
    CU_ASSERT_EQUAL(d.shape.w, 3);
    float y3[27];
    CU_ASSERT_EQUAL(d.ops->get(&d, (size_t)fx_index_of(&d, "cat", "2.png"), y3, &label), NN_OK);
    bad = 0;
    for (int c = 0; c < 3; c++) {
        uint8_t plane[FH * FW];
        for (int k = 0; k < FH * FW; k++) plane[k] = png_pat(3, k / FW, k % FW, c);
        for (int y = 0; y < 3; y++)
            for (int xx = 0; xx < 3; xx++) {
                int want = ref_bilinear(plane, FW, FH, 3, 3, y, xx);
                if (fabsf(y3[(c * 3 + y) * 3 + xx] * 255.0f - (float)want) > 1.001f) bad++;
            }
    }
    CU_ASSERT_EQUAL(bad, 0);
    nn_dataset_free(&d);
}

static void test_folder_png_alpha(void) {
    char root[512], dir[1100], path[1200];
    snprintf(root, sizeof root, "%s", tu_path("folder_alpha"));
    snprintf(dir, sizeof dir, "%s/train/a", root);
    mkdirs(dir);
    const uint8_t rgba[8] = {10, 200, 30, 255, 50, 60, 70, 0}; /* opaque, transparent */
    write_png(join2(path, sizeof path, dir, "a.png"), 2, 1, 4, rgba);
    nn_dataset d;
    CU_ASSERT_EQUAL_FATAL(nn_folder_open(&d, root, "train", 0, 0, 0, NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(d.shape.c, 3);
    float x[6];
    int label;
    CU_ASSERT_EQUAL(d.ops->get(&d, (size_t)fx_index_of(&d, "a", "a.png"), x, &label), NN_OK);
    const float want[6] = {10 / 255.0f, 0, 200 / 255.0f, 0, 30 / 255.0f, 0};
    CU_ASSERT(memcmp(x, want, sizeof want) == 0);
    nn_dataset_free(&d);
}

/* nn_folder_open on root/split must fail naming `file` and `word`. */
static void expect_folder_fail(const char *root, const char *split, const char *file,
                               const char *word, const char *word2, int line) {
    nn_dataset d;
    nn_err_clear();
    int rc = nn_folder_open(&d, root, split, 3, 0, 0, NN_PART_ALL);
    CU_ASSERT_EQUAL(rc, NN_ERR);
    if (rc == NN_OK) nn_dataset_free(&d);
    CU_ASSERT(msg_has(file, word, word2, line));
}

/* A one-class folder root/train/a holding image `name` with these bytes. */
static void one_file_root(char *root, size_t n, const char *tag, const char *name,
                          const uint8_t *bytes, size_t len, char *file, size_t fn) {
    snprintf(root, n, "%s", tu_path(tag));
    char dir[700];
    snprintf(dir, sizeof dir, "%s/train/a", root);
    mkdirs(dir);
    char ok[800];
    write_image(join2(ok, sizeof ok, dir, "0.png"), PNG_RGB, 0, 4, 4);
    snprintf(file, fn, "%s/%s", dir, name);
    tu_write_file(file, bytes, len, 0);
}

static void test_folder_corrupt(void) {
    char ref[600], root[512], file[800];
    /* A valid RGB JPEG, then damaged copies. */
    snprintf(ref, sizeof ref, "%s", tu_path("ref.jpg"));
    write_image(ref, JPG_RGB, 2, 16, 16);
    size_t n;
    uint8_t *jpg = read_all(ref, &n);
    CU_ASSERT_FATAL(n > 400);
    uint8_t *bad = malloc(n);
    /* Valid header (first 200 bytes: SOI, JFIF, tables), then garbage. */
    memcpy(bad, jpg, 200);
    for (size_t k = 200; k < n; k++) bad[k] = (uint8_t)(k * 97 + 13);
    one_file_root(root, sizeof root, "folder_badjpg", "1.jpg", bad, n, file, sizeof file);
    expect_folder_fail(root, "train", file, "JPEG", NULL, __LINE__);
    /* Cut in the middle of the scan: libjpeg only warns; it is an error here. */
    one_file_root(root, sizeof root, "folder_cutjpg", "1.jpg", jpg, n - 60, file, sizeof file);
    expect_folder_fail(root, "train", file, "JPEG", "Premature end", __LINE__);
    /* Only the SOI marker. */
    one_file_root(root, sizeof root, "folder_soijpg", "1.jpeg", jpg, 3, file, sizeof file);
    expect_folder_fail(root, "train", file, "JPEG", NULL, __LINE__);
    free(jpg);

    /* A valid PNG, then: garbage after the IHDR chunk; cut in half. */
    snprintf(ref, sizeof ref, "%s", tu_path("ref.png"));
    write_image(ref, PNG_RGB, 1, 16, 16);
    uint8_t *png = read_all(ref, &n);
    CU_ASSERT_FATAL(n > 60);
    memcpy(bad, png, 33); /* signature + IHDR */
    for (size_t k = 33; k < n; k++) bad[k] = (uint8_t)(k * 31 + 7);
    one_file_root(root, sizeof root, "folder_badpng", "1.png", bad, n, file, sizeof file);
    expect_folder_fail(root, "train", file, "PNG", NULL, __LINE__);
    one_file_root(root, sizeof root, "folder_cutpng", "1.png", png, n / 2, file, sizeof file);
    expect_folder_fail(root, "train", file, "PNG", NULL, __LINE__);
    free(png);
    free(bad);

    /* Not an image at all, and an empty file. */
    one_file_root(root, sizeof root, "folder_text", "1.jpg", (const uint8_t *)"hello", 5, file,
                  sizeof file);
    expect_folder_fail(root, "train", file, "not a JPEG or PNG", NULL, __LINE__);
    one_file_root(root, sizeof root, "folder_empty_file", "1.png", (const uint8_t *)"", 0, file,
                  sizeof file);
    expect_folder_fail(root, "train", file, "empty file", NULL, __LINE__);
}

/* A FIFO named x.jpg among the images: an error naming it, not a hang (and
 * not a silently dropped sample); a folder named y.png likewise. */
static void test_folder_not_regular(void) {
    char root[512], dir[1100], path[1200];
    snprintf(root, sizeof root, "%s", tu_path("folder_fifo"));
    snprintf(dir, sizeof dir, "%s/train/a", root);
    mkdirs(dir);
    write_image(join2(path, sizeof path, dir, "0.png"), PNG_RGB, 0, 4, 4);
    snprintf(dir, sizeof dir, "%s/train/b", root);
    mkdirs(dir);
    write_image(join2(path, sizeof path, dir, "0.png"), PNG_RGB, 1, 4, 4);
    join2(path, sizeof path, dir, "x.jpg");
    CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
    tu_hang_guard("nn_folder_open(a FIFO named x.jpg in a class folder)");
    expect_folder_fail(root, "train", path, "not a regular file", "FIFO", __LINE__);
    CU_ASSERT(MSG_HAS("expected a JPEG or PNG image", NULL, NULL));
    /* The FIFO as the first image (the one probed for channels and size). */
    char root2[512];
    snprintf(root2, sizeof root2, "%s", tu_path("folder_fifo_first"));
    snprintf(dir, sizeof dir, "%s/train/a", root2);
    mkdirs(dir);
    join2(path, sizeof path, dir, "0.jpg");
    CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
    nn_dataset d;
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_folder_open(&d, root2, "train", 0, 0, 0, NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS(path, "not a regular file", "FIFO"));
    tu_hang_guard(NULL);
    /* A folder named y.png. */
    snprintf(root2, sizeof root2, "%s", tu_path("folder_dir_png"));
    snprintf(dir, sizeof dir, "%s/train/a", root2);
    mkdirs(dir);
    write_image(join2(path, sizeof path, dir, "0.png"), PNG_RGB, 0, 4, 4);
    join2(path, sizeof path, dir, "y.png");
    mkdirs(path);
    expect_folder_fail(root2, "train", path, "not a regular file", "folder", __LINE__);
}

/* The bytes of a valid w x h PNG with its IHDR patched to declare W x H
 * (CRC recomputed): the header is all the loader may read before refusing. */
static uint8_t *png_declaring(uint32_t W, uint32_t H, size_t *n) {
    char ref[600];
    snprintf(ref, sizeof ref, "%s", tu_path("ref_small.png"));
    write_image(ref, PNG_RGB, 1, 8, 8);
    uint8_t *b = read_all(ref, n);
    CU_ASSERT_FATAL(*n > 33 && !memcmp(b + 12, "IHDR", 4));
    for (int k = 0; k < 4; k++) {
        b[16 + k] = (uint8_t)(W >> (24 - 8 * k));
        b[20 + k] = (uint8_t)(H >> (24 - 8 * k));
    }
    uLong crc = crc32(0L, b + 12, 17);
    for (int k = 0; k < 4; k++) b[29 + k] = (uint8_t)(crc >> (24 - 8 * k));
    return b;
}

/* The same for a baseline JPEG: its SOF0 segment's height and width. */
static uint8_t *jpeg_declaring(unsigned W, unsigned H, size_t *n) {
    char ref[600];
    snprintf(ref, sizeof ref, "%s", tu_path("ref_small.jpg"));
    write_image(ref, JPG_RGB, 1, 16, 16);
    uint8_t *b = read_all(ref, n);
    size_t k = 2;
    while (k + 9 < *n && !(b[k] == 0xff && b[k + 1] == 0xc0)) k++;
    CU_ASSERT_FATAL(k + 9 < *n);
    b[k + 5] = (uint8_t)(H >> 8), b[k + 6] = (uint8_t)H;
    b[k + 7] = (uint8_t)(W >> 8), b[k + 8] = (uint8_t)W;
    return b;
}

/* A 16384 x 16384 image (805 MB decoded as RGB) is refused from its header,
 * naming the file, its size and the limit, before anything is decoded. */
static void test_folder_huge_image(void) {
    char root[512], file[800];
    size_t n;
    uint8_t *png = png_declaring(16384, 16384, &n);
    one_file_root(root, sizeof root, "folder_hugepng", "1.png", png, n, file, sizeof file);
    expect_folder_fail(root, "train", file, "PNG image is 16384 x 16384 pixels",
                       "more than the 67108864", __LINE__);
    CU_ASSERT(MSG_HAS("(64 MP)", NULL, NULL));
    free(png);
    /* Past the pixel count by a little: 8193 x 8192. */
    png = png_declaring(8193, 8192, &n);
    one_file_root(root, sizeof root, "folder_hugepng2", "1.png", png, n, file, sizeof file);
    expect_folder_fail(root, "train", file, "PNG image is 8193 x 8192 pixels", "accepted",
                       __LINE__);
    free(png);
    /* A side longer than 65535 with few pixels. */
    png = png_declaring(100000, 1, &n);
    one_file_root(root, sizeof root, "folder_widepng", "1.png", png, n, file, sizeof file);
    expect_folder_fail(root, "train", file, "100000 x 1", "sides of 1..65535", __LINE__);
    free(png);
    /* 8192 x 8192 is allowed: no size complaint, the (missing) data fails. */
    png = png_declaring(8192, 8192, &n);
    one_file_root(root, sizeof root, "folder_maxpng", "1.png", png, n, file, sizeof file);
    expect_folder_fail(root, "train", file, "corrupt or unreadable PNG", NULL, __LINE__);
    free(png);
    /* JPEG: the SOF header. */
    uint8_t *jpg = jpeg_declaring(16384, 16384, &n);
    one_file_root(root, sizeof root, "folder_hugejpg", "1.jpg", jpg, n, file, sizeof file);
    expect_folder_fail(root, "train", file, "JPEG image is 16384 x 16384 pixels",
                       "more than the 67108864", __LINE__);
    free(jpg);
    /* As the first image, probed for the size (header only): refused too. */
    png = png_declaring(16384, 16384, &n);
    snprintf(root, sizeof root, "%s", tu_path("folder_hugefirst"));
    char dir[700];
    snprintf(dir, sizeof dir, "%s/train/a", root);
    mkdirs(dir);
    snprintf(file, sizeof file, "%s/0.png", dir);
    tu_write_file(file, png, n, 0);
    free(png);
    nn_dataset d;
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_folder_open(&d, root, "train", 0, 0, 0, NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS(file, "16384 x 16384", "accepted"));
}

static void test_folder_layout_errors(void) {
    char root[512], path[1100];
    /* Empty class folder (a text file does not count). */
    snprintf(root, sizeof root, "%s", tu_path("folder_emptyclass"));
    snprintf(path, sizeof path, "%s/train/a", root);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/train/a/0.png", root);
    write_image(path, PNG_GRAY, 0, 4, 4);
    snprintf(path, sizeof path, "%s/train/b", root);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/train/b/notes.txt", root);
    tu_write_file(path, "x", 1, 0);
    snprintf(path, sizeof path, "%s/train/b", root);
    expect_folder_fail(root, "train", path, "class folder", "is empty", __LINE__);
    /* Missing split folder, missing root. */
    snprintf(path, sizeof path, "%s/val", root);
    expect_folder_fail(root, "val", path, "no such folder", NULL, __LINE__);
    snprintf(path, sizeof path, "%s", tu_path("folder_no_such_root"));
    expect_folder_fail(path, "train", path, "no such folder", NULL, __LINE__);
    /* No class folders. */
    snprintf(root, sizeof root, "%s", tu_path("folder_noclasses"));
    snprintf(path, sizeof path, "%s/train", root);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/train/0.png", root);
    write_image(path, PNG_GRAY, 0, 4, 4);
    snprintf(path, sizeof path, "%s/train", root);
    expect_folder_fail(root, "train", path, "no class folders", NULL, __LINE__);
    /* Bad arguments. */
    nn_dataset d;
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_folder_open(&d, standard_folder(), "train", 2, 0, 0, NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS("2 channels", NULL, NULL));
}

/* The numbering mixes the classes: with 3 classes of 30 files each, the
 * first 30 samples (--limit 30) and each of 3 shards hold every class, and
 * the numbering is a permutation of the files (each listed exactly once). */
static void test_folder_numbering_mixes_classes(void) {
    char root[512], dir[1100], path[1200];
    snprintf(root, sizeof root, "%s", tu_path("folder_mix"));
    const char *cls[3] = {"a", "b", "c"};
    for (int c = 0; c < 3; c++) {
        snprintf(dir, sizeof dir, "%s/train/%s", root, cls[c]);
        mkdirs(dir);
        for (int i = 0; i < 30; i++) {
            char name[32];
            snprintf(name, sizeof name, "%02d.png", i);
            write_image(join2(path, sizeof path, dir, name), PNG_GRAY, c * 30 + i, 2, 2);
        }
    }
    nn_dataset d;
    CU_ASSERT_EQUAL_FATAL(nn_folder_open(&d, root, "train", 1, 0, 0, NN_PART_ALL), NN_OK);
    int seen[90] = {0}, prefix[3] = {0}, shard[3][3] = {{0}};
    for (size_t i = 0; i < 90; i++) {
        const char *src = nn_dataset_source(&d, i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(src);
        size_t n = strlen(src);
        int c = src[n - 8] - 'a', k = atoi(src + n - 6);
        CU_ASSERT_FATAL(c >= 0 && c < 3 && k >= 0 && k < 30);
        seen[c * 30 + k]++;
        float x[4];
        int label = -1;
        CU_ASSERT_EQUAL(d.ops->get(&d, i, x, &label), NN_OK);
        CU_ASSERT_EQUAL(label, c);
        if (i < 30) prefix[c]++;
        shard[i / 30][c]++;
    }
    for (int j = 0; j < 90; j++) CU_ASSERT_EQUAL(seen[j], 1);
    for (int c = 0; c < 3; c++) {
        CU_ASSERT(prefix[c] >= 3);
        for (int r = 0; r < 3; r++) CU_ASSERT(shard[r][c] >= 3);
    }
    nn_dataset_free(&d);
}

static void test_folder_shards(void) {
    const char *root = standard_folder();
    nn_dataset all;
    CU_ASSERT_EQUAL_FATAL(nn_folder_open(&all, root, "train", 3, 0, 0, NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(all.count, FX_N);
    for (int nranks = 1; nranks <= 3; nranks++) {
        int covered[FX_N] = {0};
        for (int r = 0; r < nranks; r++) {
            nn_dataset d;
            CU_ASSERT_EQUAL_FATAL(nn_folder_open(&d, root, "train", 3, 0, 0, (nn_part){.rank = r, .nranks = nranks, .limit = 0, .cache = NN_CACHE_AUTO, .local_ranks = 1}),
                                  NN_OK);
            CU_ASSERT_EQUAL(d.classes, 3);
            CU_ASSERT_EQUAL(d.shape.h, FH); /* from the first image, on every rank */
            CU_ASSERT_EQUAL(d.shape.w, FW);
            check_shard_reads(&d, &all, r, nranks, covered, root);
            nn_dataset_free(&d);
        }
        for (int i = 0; i < FX_N; i++) CU_ASSERT_EQUAL(covered[i], 1);
    }
    nn_dataset_free(&all);
}

static void test_folder_names(void) {
    const char *root = standard_folder();
    char spec[700];
    nn_dataset d;
    snprintf(spec, sizeof spec, "folder:%s", root);
    CU_ASSERT_EQUAL_FATAL(nn_data_open(&d, spec, "train", NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(d.shape.c, 3);
    CU_ASSERT_EQUAL(d.shape.h, FH);
    CU_ASSERT_EQUAL(d.shape.w, FW);
    nn_dataset_free(&d);
    snprintf(spec, sizeof spec, "folder:%s:1x8", root);
    CU_ASSERT_EQUAL_FATAL(nn_data_open(&d, spec, "train", (nn_part){.rank = 1, .nranks = 2, .limit = 0, .cache = NN_CACHE_AUTO, .local_ranks = 1}), NN_OK);
    CU_ASSERT_EQUAL(d.shape.c, 1);
    CU_ASSERT_EQUAL(d.shape.h, 8);
    CU_ASSERT_EQUAL(d.shape.w, 8);
    CU_ASSERT_EQUAL(d.shard.begin, 3);
    nn_dataset_free(&d);
    snprintf(spec, sizeof spec, "folder:%s:3x0", root);
    CU_ASSERT_EQUAL_FATAL(nn_data_open(&d, spec, "train", NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(d.shape.c, 3);
    CU_ASSERT_EQUAL(d.shape.h, FH);
    nn_dataset_free(&d);
    /* cifar10-jpeg:DIR is folder:DIR:3x32; smiles:DIR is folder:DIR:1x64. */
    snprintf(spec, sizeof spec, "cifar10-jpeg:%s", root);
    CU_ASSERT_EQUAL_FATAL(nn_data_open(&d, spec, "train", NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(d.shape.c, 3);
    CU_ASSERT_EQUAL(d.shape.h, 32);
    CU_ASSERT_EQUAL(d.shape.w, 32);
    CU_ASSERT_EQUAL(d.classes, 3);
    nn_dataset_free(&d);
    snprintf(spec, sizeof spec, "smiles:%s", root);
    CU_ASSERT_EQUAL_FATAL(nn_data_open(&d, spec, "train", NN_PART_ALL), NN_OK);
    CU_ASSERT_EQUAL(d.shape.c, 1);
    CU_ASSERT_EQUAL(d.shape.h, 64);
    nn_dataset_free(&d);
    /* Errors. */
    snprintf(spec, sizeof spec, "folder:%s:2x32", root);
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_data_open(&d, spec, "train", NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS("2x32", "CxS", NULL));
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_data_open(&d, "folder:", "train", NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS("folder:DIR", NULL, NULL));
    snprintf(spec, sizeof spec, "smiles:%s", tu_path("no_smiles_here"));
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_data_open(&d, spec, "train", NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS("no_smiles_here", "HINT", NULL));
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_data_open(&d, "imagenet:/x", "train", NN_PART_ALL), NN_ERR);
    CU_ASSERT(MSG_HAS("unknown data set 'imagenet'", "mnist[:DIR]", "fashion-mnist[:DIR]"));
    CU_ASSERT(MSG_HAS("cifar10[:DIR]", "cifar10-jpeg[:DIR]", "smiles[:DIR]"));
    CU_ASSERT(MSG_HAS("folder:DIR[:CxS|:CxHxW]", NULL, NULL));
    /* A failed open leaves the data set empty (safe to free). */
    CU_ASSERT_PTR_NULL(d.priv);
    CU_ASSERT_PTR_NULL(d.class_names);
    nn_dataset_free(&d);
}

/* ================= augmentation ================= */

/* in: (C, H, W); out(c, y, x) = in(c, y+dy, x+dx), 0 outside. */
static void ref_shift(nn_shape s, const float *in, float *out, int dx, int dy) {
    for (int c = 0; c < s.c; c++)
        for (int y = 0; y < s.h; y++)
            for (int x = 0; x < s.w; x++) {
                int sy = y + dy, sx = x + dx;
                out[(c * s.h + y) * s.w + x] =
                    sy >= 0 && sy < s.h && sx >= 0 && sx < s.w ? in[(c * s.h + sy) * s.w + sx] : 0;
            }
}

static void ref_flip(nn_shape s, const float *in, float *out) {
    for (int r = 0; r < s.c * s.h; r++)
        for (int x = 0; x < s.w; x++) out[r * s.w + x] = in[r * s.w + s.w - 1 - x];
}

#define AC 2
#define AH 5
#define AW 7
#define AN (AC * AH * AW)

static void fill_known(float *x) {
    for (int k = 0; k < AN; k++) x[k] = (float)(k + 1); /* all distinct, none 0 */
}

static void test_augment_flip(void) {
    const nn_shape s = {AC, AH, AW};
    nn_augment a = {.pad = 0, .flip = true};
    float in[AN], x[AN], flipped[AN];
    fill_known(in);
    ref_flip(s, in, flipped);
    /* A known image, flipped by hand: row 0 of channel 0 is 7 6 5 4 3 2 1. */
    CU_ASSERT_EQUAL(flipped[0], 7.0f);
    CU_ASSERT_EQUAL(flipped[6], 1.0f);
    int nflip = 0, nsame = 0, other = 0;
    for (uint64_t id = 0; id < 200; id++) {
        memcpy(x, in, sizeof x);
        nn_augment_apply(&a, s, x, 42, 3, id, true);
        if (!memcmp(x, flipped, sizeof x))
            nflip++;
        else if (!memcmp(x, in, sizeof x))
            nsame++;
        else
            other++;
    }
    CU_ASSERT_EQUAL(other, 0);
    CU_ASSERT(nflip > 60 && nsame > 60); /* about half each */
    /* flip off: never flipped. */
    a.flip = false;
    int changed = 0;
    for (uint64_t id = 0; id < 50; id++) {
        memcpy(x, in, sizeof x);
        nn_augment_apply(&a, s, x, 42, 3, id, true);
        changed += memcmp(x, in, sizeof x) != 0;
    }
    CU_ASSERT_EQUAL(changed, 0);
    /* flip alternate: epoch 0's draw in even epochs, its opposite in odd
     * ones, so each image is seen both ways in every two epochs. */
    a.flip = true, a.alternate = true;
    int wrong = 0, nflip0 = 0;
    for (uint64_t id = 0; id < 100; id++) {
        int f[4];
        for (int e = 0; e < 4; e++) {
            memcpy(x, in, sizeof x);
            nn_augment_apply(&a, s, x, 42, (uint64_t)e, id, true);
            f[e] = !memcmp(x, flipped, sizeof x);
            wrong += !f[e] && memcmp(x, in, sizeof x) != 0;
        }
        wrong += f[0] == f[1] || f[2] != f[0] || f[3] != f[1];
        nflip0 += f[0];
    }
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT(nflip0 > 30 && nflip0 < 70);
}

/* Crops of `in` by a (pad 2) over 600 ids: each must equal ref's shift by
 * one (dx, dy) in [-2, 2]^2, and every such shift must occur. */
typedef void (*shift_fn)(nn_shape s, const float *in, float *out, int dx, int dy);
static void check_crops(const nn_augment *a, const float *in, shift_fn ref) {
    const nn_shape s = {AC, AH, AW};
    const int pad = 2;
    float x[AN], want[AN];
    int seen[5][5] = {{0}}, unmatched = 0;
    for (uint64_t id = 0; id < 600; id++) {
        memcpy(x, in, sizeof x);
        nn_augment_apply(a, s, x, 7, 0, id, true);
        int found = 0;
        for (int dy = -pad; dy <= pad && !found; dy++)
            for (int dx = -pad; dx <= pad && !found; dx++) {
                ref(s, in, want, dx, dy);
                if (!memcmp(x, want, sizeof x)) found = 1, seen[dy + pad][dx + pad]++;
            }
        unmatched += !found;
    }
    CU_ASSERT_EQUAL(unmatched, 0);
    int missing = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) missing += seen[i][j] == 0;
    CU_ASSERT_EQUAL(missing, 0); /* every shift in [-2, 2]^2 occurs */
}

/* out(y, x) = in(m(y + dy), m(x + dx)), m reflecting by repeated bounces
 * off the edge pixels (written independently of augment.c's closed form). */
static int bounce(int i, int n) {
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}
static void ref_shift_reflect(nn_shape s, const float *in, float *out, int dx, int dy) {
    for (int c = 0; c < s.c; c++)
        for (int y = 0; y < s.h; y++)
            for (int x = 0; x < s.w; x++)
                out[(c * s.h + y) * s.w + x] =
                    in[(c * s.h + bounce(y + dy, s.h)) * s.w + bounce(x + dx, s.w)];
}

/* --crop-fill reflect: every crop is one of the 25 reflected shifts (all
 * occur); by hand, dx = 1 ends row 0 with its second-to-last pixel; shifts
 * past the image (nn_shift directly, up to 3 sizes) and 1-pixel sides. */
static void test_augment_crop_reflect(void) {
    const nn_shape s = {AC, AH, AW};
    const int pad = 2;
    const nn_augment a = {.pad = pad, .reflect = true};
    float in[AN], x[AN], ref[AN];
    fill_known(in);
    check_crops(&a, in, ref_shift_reflect);
    memcpy(x, in, sizeof x);
    nn_shift(s, x, 1, 0, true);
    CU_ASSERT_EQUAL(x[0], in[1]);
    CU_ASSERT_EQUAL(x[AW - 1], in[AW - 2]); /* reflect, not edge repeat */
    int bad = 0;
    for (int dy = -3 * AH; dy <= 3 * AH; dy++)
        for (int dx = -3 * AW; dx <= 3 * AW; dx++) {
            memcpy(x, in, sizeof x);
            nn_shift(s, x, dx, dy, true);
            ref_shift_reflect(s, in, ref, dx, dy);
            bad += memcmp(x, ref, sizeof x) != 0;
        }
    CU_ASSERT_EQUAL(bad, 0);
    const nn_shape thin = {1, 1, 3};
    float t[3] = {1, 2, 3};
    nn_shift(thin, t, 0, 2, true); /* a 1-pixel side maps everything to its one row */
    CU_ASSERT(t[0] == 1 && t[1] == 2 && t[2] == 3);
    /* the one limit: sides up to NN_SHIFT_MAX_SIDE */
    CU_ASSERT_EQUAL(nn_shift_check((nn_shape){3, 32, 32}, true, "t"), NN_OK);
    CU_ASSERT_EQUAL(nn_shift_check((nn_shape){1, 2, NN_SHIFT_MAX_SIDE + 1}, false, "t"), NN_OK);
    CU_ASSERT_NOT_EQUAL(nn_shift_check((nn_shape){1, 2, NN_SHIFT_MAX_SIDE + 1}, true, "t"), NN_OK);
}

static void test_augment_crop(void) {
    const nn_shape s = {AC, AH, AW};
    const int pad = 2;
    const nn_augment a = {.pad = pad, .flip = false};
    float in[AN], ref[AN];
    fill_known(in);
    check_crops(&a, in, ref_shift);
    /* A shift by hand: dx = 1, dy = -2 -> row 0 and 1 zero, row 2 = row 0
     * shifted left by one, last column zero. */
    ref_shift(s, in, ref, 1, -2);
    CU_ASSERT_EQUAL(ref[0], 0.0f);
    CU_ASSERT_EQUAL(ref[2 * AW + 0], in[1]);
    CU_ASSERT_EQUAL(ref[2 * AW + AW - 1], 0.0f);

    /* With normalisation, the padding is 0 before normalising: every pixel
     * is (unnormalised - mean) / std. */
    nn_augment an = {.pad = pad, .flip = true, .mean = {0.5f, 2.0f, 0}, .std = {0.25f, 4.0f, 1},
                     .normalize = true};
    nn_augment au = an;
    au.normalize = false;
    int bad = 0, pads = 0;
    for (uint64_t id = 0; id < 50; id++) {
        float xn[AN], xu[AN];
        memcpy(xn, in, sizeof xn);
        memcpy(xu, in, sizeof xu);
        nn_augment_apply(&an, s, xn, 9, 1, id, true);
        nn_augment_apply(&au, s, xu, 9, 1, id, true);
        for (int k = 0; k < AN; k++) {
            int c = k / (AH * AW);
            if (xn[k] != (xu[k] - an.mean[c]) / an.std[c]) bad++;
            if (xu[k] == 0) pads++;
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(pads > 0);
}

static void test_augment_reproducible(void) {
    const nn_shape s = {3, 8, 8};
    nn_augment a = {.pad = 4, .flip = true, .mean = {0.1f, 0.2f, 0.3f}, .std = {1, 2, 3},
                    .normalize = true};
    float in[192], x[192], y[192];
    for (int k = 0; k < 192; k++) in[k] = (float)((k * 37) % 101) / 100.0f + 0.01f;
    int differ_epoch = 0, differ_seed = 0;
    for (uint64_t id = 0; id < 10; id++) {
        memcpy(x, in, sizeof x);
        memcpy(y, in, sizeof y);
        nn_augment_apply(&a, s, x, 5, 2, id, true);
        nn_augment_apply(&a, s, y, 5, 2, id, true);
        CU_ASSERT(memcmp(x, y, sizeof x) == 0);
        memcpy(y, in, sizeof y);
        nn_augment_apply(&a, s, y, 5, 3, id, true);
        differ_epoch += memcmp(x, y, sizeof x) != 0;
        memcpy(y, in, sizeof y);
        nn_augment_apply(&a, s, y, 6, 2, id, true);
        differ_seed += memcmp(x, y, sizeof x) != 0;
    }
    /* 81 shifts x 2 flips: a repeat has probability 1/162 per sample. */
    CU_ASSERT(differ_epoch >= 8);
    CU_ASSERT(differ_seed >= 8);
    /* The result does not depend on what was drawn before (no hidden state). */
    memcpy(x, in, sizeof x);
    nn_augment_apply(&a, s, x, 5, 2, 3, true);
    for (uint64_t id = 100; id < 110; id++) {
        memcpy(y, in, sizeof y);
        nn_augment_apply(&a, s, y, 5, 2, id, true);
    }
    memcpy(y, in, sizeof y);
    nn_augment_apply(&a, s, y, 5, 2, 3, true);
    CU_ASSERT(memcmp(x, y, sizeof x) == 0);
}

static void test_augment_eval(void) {
    const nn_shape s = {AC, AH, AW};
    nn_augment a = {.pad = 3, .flip = true, .mean = {1.5f, -2.0f, 0}, .std = {2.0f, 0.5f, 1},
                    .normalize = true};
    float in[AN], x[AN];
    fill_known(in);
    for (uint64_t id = 0; id < 20; id++) {
        memcpy(x, in, sizeof x);
        nn_augment_apply(&a, s, x, 1, 0, id, false);
        int bad = 0;
        for (int k = 0; k < AN; k++) {
            int c = k / (AH * AW);
            if (x[k] != (in[k] - a.mean[c]) / a.std[c]) bad++;
        }
        CU_ASSERT_EQUAL(bad, 0);
    }
    /* No normalisation, eval: untouched. */
    a.normalize = false;
    memcpy(x, in, sizeof x);
    nn_augment_apply(&a, s, x, 1, 0, 0, false);
    CU_ASSERT(memcmp(x, in, sizeof x) == 0);
}

static void test_channel_sums(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tu_path("cifar_sums"));
    write_cifar_dir(dir);
    /* Expected sums from the pattern. */
    double want_s[3] = {0}, want_q[3] = {0};
    for (size_t i = 0; i < CIFAR_TRAIN; i++)
        for (size_t k = 0; k < DIM; k++) {
            double v = (float)cifar_px(i, k) / 255.0f;
            want_s[k / 1024] += v;
            want_q[k / 1024] += v * v;
        }
    nn_dataset d;
    CU_ASSERT_EQUAL_FATAL(nn_cifar_open(&d, dir, "train", NN_PART_ALL), NN_OK);
    double s[3], q[3], n[3];
    CU_ASSERT_EQUAL(nn_dataset_channel_sums(&d, s, q, n), NN_OK);
    for (int c = 0; c < 3; c++) {
        CU_ASSERT_DOUBLE_EQUAL(s[c], want_s[c], 1e-9 * want_s[c]);
        CU_ASSERT_DOUBLE_EQUAL(q[c], want_q[c], 1e-9 * want_q[c]);
        CU_ASSERT_EQUAL(n[c], CIFAR_TRAIN * 1024.0);
    }
    nn_dataset_free(&d);
    /* Over 3 shards the sums add up to the same. */
    double ts[3] = {0}, tq[3] = {0}, tn[3] = {0};
    for (int r = 0; r < 3; r++) {
        CU_ASSERT_EQUAL_FATAL(nn_cifar_open(&d, dir, "train", (nn_part){.rank = r, .nranks = 3, .limit = 0, .cache = NN_CACHE_AUTO, .local_ranks = 1}), NN_OK);
        CU_ASSERT_EQUAL(nn_dataset_channel_sums(&d, s, q, n), NN_OK);
        for (int c = 0; c < 3; c++) ts[c] += s[c], tq[c] += q[c], tn[c] += n[c];
        nn_dataset_free(&d);
    }
    for (int c = 0; c < 3; c++) {
        CU_ASSERT_DOUBLE_EQUAL(ts[c], want_s[c], 1e-9 * want_s[c]);
        CU_ASSERT_DOUBLE_EQUAL(tq[c], want_q[c], 1e-9 * want_q[c]);
        CU_ASSERT_EQUAL(tn[c], CIFAR_TRAIN * 1024.0);
    }
    /* Mean and std from the sums. */
    nn_augment a = {0};
    const double S[3] = {2, 0, 6}, Q[3] = {3, 0, 9}, N[3] = {4, 4, 4};
    nn_augment_set_stats(&a, 3, S, Q, N);
    CU_ASSERT(a.normalize);
    CU_ASSERT_DOUBLE_EQUAL(a.mean[0], 0.5, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(a.std[0], sqrt(0.5), 1e-7);
    CU_ASSERT_EQUAL(a.mean[1], 0.0f);
    CU_ASSERT_EQUAL(a.std[1], 1.0f); /* zero variance: std 1 */
    CU_ASSERT_DOUBLE_EQUAL(a.mean[2], 1.5, 1e-7);
    CU_ASSERT_EQUAL(a.std[2], 1.0f); /* 9/4 - 1.5^2 = 0 */
}

/* Streamed (--cache none) gives the floats a cached open holds, for the
 * first image's size and for resizes to non-square sizes, gray and RGB, on
 * shards of 1..3 ranks; a file deleted or truncated after the open fails
 * get() naming it. */
static void test_folder_streamed(void) {
    char root[512];
    snprintf(root, sizeof root, "%s", tu_path("folder_stream"));
    write_standard_folder(root);
    static const int sizes[4][3] = {{0, 0, 0}, {3, 7, 4}, {1, 3, 11}, {3, 5, 6}};
    for (int z = 0; z < 4; z++)
        for (int nranks = 1; nranks <= 3; nranks++)
            for (int rank = 0; rank < nranks; rank++) {
                nn_part pr = {.rank = rank, .nranks = nranks, .limit = 0, .cache = NN_CACHE_RAM, .local_ranks = 1}, pn = pr;
                pn.cache = NN_CACHE_NONE;
                nn_dataset a, b;
                CU_ASSERT_EQUAL_FATAL(nn_folder_open(&a, root, "train", sizes[z][0], sizes[z][1],
                                                     sizes[z][2], pr),
                                      NN_OK);
                CU_ASSERT_EQUAL_FATAL(nn_folder_open(&b, root, "train", sizes[z][0], sizes[z][1],
                                                     sizes[z][2], pn),
                                      NN_OK);
                CU_ASSERT(!a.streamed && b.streamed);
                CU_ASSERT(strstr(b.cache_note, "--cache none") != NULL);
                CU_ASSERT(a.shape.c == b.shape.c && a.shape.h == b.shape.h && a.shape.w == b.shape.w);
                if (sizes[z][1]) CU_ASSERT(a.shape.h == sizes[z][1] && a.shape.w == sizes[z][2]);
                const size_t dim = nn_shape_size(a.shape);
                float *xa = malloc(dim * sizeof *xa), *xb = malloc(dim * sizeof *xb);
                for (size_t i = a.shard.begin; i < a.shard.end; i++) {
                    int la = -1, lb = -2;
                    CU_ASSERT_EQUAL_FATAL(a.ops->get(&a, i, xa, &la), NN_OK);
                    CU_ASSERT_EQUAL_FATAL(b.ops->get(&b, i, xb, &lb), NN_OK);
                    CU_ASSERT_EQUAL(la, lb);
                    CU_ASSERT(memcmp(xa, xb, dim * sizeof *xa) == 0);
                }
                free(xa), free(xb);
                nn_dataset_free(&a), nn_dataset_free(&b);
            }
    /* Gone or cut after the open: get() names the file. */
    nn_dataset d;
    CU_ASSERT_EQUAL_FATAL(nn_folder_open(&d, root, "train", 3, 4, 4,
                                         (nn_part){.rank = 0, .nranks = 1, .limit = 0, .cache = NN_CACHE_NONE, .local_ranks = 1}),
                          NN_OK);
    float x[48];
    int label;
    char gone[1100], cut[1100];
    snprintf(gone, sizeof gone, "%s/train/cat/2.png", root);
    snprintf(cut, sizeof cut, "%s/train/ant/x.jpg", root);
    for (size_t i = 0; i < d.count; i++) {
        const char *src = nn_dataset_source(&d, i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(src);
        if (!strcmp(src, gone)) CU_ASSERT(unlink(gone) == 0);
        if (!strcmp(src, cut)) CU_ASSERT(truncate(cut, 40) == 0);
        nn_err_clear();
        int rc = d.ops->get(&d, i, x, &label);
        if (!strcmp(src, gone) || !strcmp(src, cut)) {
            CU_ASSERT_EQUAL(rc, NN_ERR);
            CU_ASSERT(strstr(nn_errmsg(), src) != NULL);
        } else {
            CU_ASSERT_EQUAL(rc, NN_OK);
        }
    }
    /* Label counts come from the listing, without decoding: the gone and the
     * cut file count too (ant 2, cat 2, dog 2). */
    double counts[3] = {0};
    CU_ASSERT_EQUAL(nn_dataset_label_counts(&d, counts), NN_OK);
    CU_ASSERT(counts[0] == 2 && counts[1] == 2 && counts[2] == 2);
    nn_dataset_free(&d);
    /* folder:DIR:CxHxW and its errors. */
    char spec[700];
    snprintf(spec, sizeof spec, "folder:%s:1x3x9", root);
    CU_ASSERT_EQUAL(nn_data_open(&d, spec, "train", NN_PART_ALL), NN_ERR); /* cat/2.png gone */
    CU_ASSERT(strstr(nn_errmsg(), gone) != NULL || strstr(nn_errmsg(), cut) != NULL);
    write_standard_folder(root);
    CU_ASSERT_EQUAL_FATAL(nn_data_open(&d, spec, "train", NN_PART_ALL), NN_OK);
    CU_ASSERT(d.shape.c == 1 && d.shape.h == 3 && d.shape.w == 9);
    nn_dataset_free(&d);
    static const char *const bad[] = {"3x4x", "3x0x5", "3x5x0", "3x4x5x6", "3xx4", "2x4x4", "3x4x5000"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        snprintf(spec, sizeof spec, "folder:%s:%s", root, bad[k]);
        nn_err_clear();
        CU_ASSERT_EQUAL(nn_data_open(&d, spec, "train", NN_PART_ALL), NN_ERR);
        CU_ASSERT(MSG_HAS(bad[k], "CxHxW", NULL));
    }
}

void register_image_tests(void) {
    CU_pSuite s = CU_add_suite("images", NULL, NULL);
    CU_add_test(s, "CIFAR-10 binary: valid batches, CHW values exact", test_cifar_valid);
    CU_add_test(s, "CIFAR-10 binary: truncated, empty, bad label, missing", test_cifar_bad_files);
    CU_add_test(s, "CIFAR-10 binary: shards for 1..3 ranks", test_cifar_shards);
    CU_add_test(s, "CIFAR-10 binary: FIFO, folder, device refused without blocking",
                test_cifar_not_regular);
    CU_add_test(s, "cifar10:DIR names and HINT", test_cifar_names);
    CU_add_test(s, "folder: classes, labels, PNG exact, JPEG close, RGB/gray", test_folder_valid);
    CU_add_test(s, "CMYK and YCCK JPEGs (Adobe inverted) decode to RGB and grey", test_cmyk_jpeg);
    CU_add_test(s, "folder: channels from a grayscale first image", test_folder_first_gray);
    CU_add_test(s, "folder: bilinear resize", test_folder_resize);
    CU_add_test(s, "folder: PNG alpha composited onto black", test_folder_png_alpha);
    CU_add_test(s, "folder: corrupt JPEG/PNG fail naming the file", test_folder_corrupt);
    CU_add_test(s, "folder: FIFO or folder named x.jpg refused without blocking",
                test_folder_not_regular);
    CU_add_test(s, "folder: images over 64 MP refused from the header", test_folder_huge_image);
    CU_add_test(s, "folder: empty class, missing split, no classes", test_folder_layout_errors);
    CU_add_test(s, "folder: shards for 1..3 ranks", test_folder_shards);
    CU_add_test(s, "folder: numbering mixes the classes (shards, --limit)",
                test_folder_numbering_mixes_classes);
    CU_add_test(s, "folder:DIR[:CxS|:CxHxW], cifar10-jpeg, smiles, unknown names", test_folder_names);
    CU_add_test(s, "folder: streamed == cached (sizes, non-square, shards); files gone after open",
                test_folder_streamed);
    CU_add_test(s, "augment: horizontal flip", test_augment_flip);
    CU_add_test(s, "augment: crop shift with zero fill, before normalising", test_augment_crop);
    CU_add_test(s, "augment: crop shift with reflect fill", test_augment_crop_reflect);
    CU_add_test(s, "augment: reproducible per (seed, epoch, id)", test_augment_reproducible);
    CU_add_test(s, "augment: eval mode only normalises", test_augment_eval);
    CU_add_test(s, "channel sums over a data set and its shards", test_channel_sums);
}
