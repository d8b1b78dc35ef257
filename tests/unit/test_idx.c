/* test_idx.c: the IDX loader (plain and gzip), its validation messages,
 * sharding, and the "mnist:DIR" data-set names. Every fixture is written by
 * the test itself into tu_tmpdir(). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/data.h"
#include "nn/error.h"
#include "testutil.h"

/* ---- fixture builders ---- */

#define N_SAMPLES 10
#define IMG_H 4
#define IMG_W 5
#define IMG_DIM (IMG_H * IMG_W)

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

/* Deterministic pixel / label patterns, so a test can recompute them. */
static uint8_t pixel_of(size_t i, size_t k) { return (uint8_t)((i * 37 + k * 11 + 5) % 256); }
static uint8_t label_of(size_t i) { return (uint8_t)((i * 3 + 1) % 10); }

/* Images file bytes: magic, n, h, w, then n*h*w pixels (pixel_of). *len set. */
static uint8_t *images_bytes(uint32_t magic, uint32_t n, uint32_t h, uint32_t w, size_t *len) {
    *len = 16 + (size_t)n * h * w;
    uint8_t *a = calloc(*len, 1);
    CU_ASSERT_FATAL(a != NULL);
    put_be32(a, magic), put_be32(a + 4, n), put_be32(a + 8, h), put_be32(a + 12, w);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < (size_t)h * w; k++) a[16 + i * h * w + k] = pixel_of(i, k);
    return a;
}

/* Labels file bytes: magic, n, then n labels (label_of). *len set. */
static uint8_t *labels_bytes(uint32_t magic, uint32_t n, size_t *len) {
    *len = 8 + (size_t)n;
    uint8_t *b = calloc(*len, 1);
    CU_ASSERT_FATAL(b != NULL);
    put_be32(b, magic), put_be32(b + 4, n);
    for (size_t i = 0; i < n; i++) b[8 + i] = label_of(i);
    return b;
}

/* Write the standard valid pair (N_SAMPLES images of IMG_H x IMG_W) under
 * the given names; returns their paths in img/lbl (buffers of 512). */
static void write_valid_pair(const char *img_name, const char *lbl_name, int gz, char *img,
                             char *lbl) {
    snprintf(img, 512, "%s", tu_path(img_name));
    snprintf(lbl, 512, "%s", tu_path(lbl_name));
    size_t na, nb;
    uint8_t *a = images_bytes(0x803, N_SAMPLES, IMG_H, IMG_W, &na);
    uint8_t *b = labels_bytes(0x801, N_SAMPLES, &nb);
    tu_write_file(img, a, na, gz);
    tu_write_file(lbl, b, nb, gz);
    free(a);
    free(b);
}

/* The standard valid labels file, plain, shared by the failure tests. */
static const char *valid_labels(void) {
    static char path[512];
    if (!path[0]) {
        size_t nb;
        uint8_t *b = labels_bytes(0x801, N_SAMPLES, &nb);
        snprintf(path, sizeof path, "%s", tu_path("idx_valid-labels"));
        tu_write_file(path, b, nb, 0);
        free(b);
    }
    return path;
}

static const char *valid_images(void) {
    static char path[512];
    if (!path[0]) {
        size_t na;
        uint8_t *a = images_bytes(0x803, N_SAMPLES, IMG_H, IMG_W, &na);
        snprintf(path, sizeof path, "%s", tu_path("idx_valid-images"));
        tu_write_file(path, a, na, 0);
        free(a);
    }
    return path;
}

/* Whether msg contains word (a NULL word is always there). */
static int has_word(const char *msg, const char *word) { return !word || strstr(msg, word); }

/* nn_idx_open must fail, and its message must contain `file` and each of the
 * (up to two) words. Prints the message when it does not, to help diagnose. */
#define EXPECT_IDX_FAIL(images, labels, classes, file, word1, word2)                               \
    do {                                                                                           \
        nn_dataset d_;                                                                             \
        nn_err_clear();                                                                            \
        int rc_ = nn_idx_open(&d_, (images), (labels), (classes), NN_PART_ALL);                    \
        CU_ASSERT_EQUAL(rc_, NN_ERR);                                                              \
        if (rc_ == NN_OK) nn_dataset_free(&d_);                                                    \
        const char *m_ = nn_errmsg();                                                              \
        int ok_ = strstr(m_, (file)) != NULL;                                                      \
        CU_ASSERT(ok_);                                                                            \
        int ok1_ = has_word(m_, (word1));                                                          \
        int ok2_ = has_word(m_, (word2));                                                          \
        CU_ASSERT(ok1_);                                                                           \
        CU_ASSERT(ok2_);                                                                           \
        if (!ok_ || !ok1_ || !ok2_)                                                                \
            printf("\n    line %d: message was: %s\n", __LINE__, m_);                             \
    } while (0)

/* Check every sample of a fully loaded standard data set. */
static void check_standard_set(const nn_dataset *d) {
    CU_ASSERT_EQUAL(d->count, N_SAMPLES);
    CU_ASSERT_EQUAL(d->shape.c, 1);
    CU_ASSERT_EQUAL(d->shape.h, IMG_H);
    CU_ASSERT_EQUAL(d->shape.w, IMG_W);
    CU_ASSERT_EQUAL(d->classes, 10);
    CU_ASSERT_EQUAL(d->shard.begin, 0);
    CU_ASSERT_EQUAL(d->shard.end, N_SAMPLES);
    CU_ASSERT_EQUAL(nn_shape_size(d->shape), IMG_DIM);
    float x[IMG_DIM];
    for (size_t i = 0; i < N_SAMPLES; i++) {
        int label = -1;
        CU_ASSERT_EQUAL_FATAL(d->ops->get(d, i, x, &label), NN_OK);
        CU_ASSERT_EQUAL(label, label_of(i));
        int bad = 0;
        for (size_t k = 0; k < IMG_DIM; k++) {
            float want = (float)pixel_of(i, k) / 255.0f;
            /* In [0, 1] and at most one float step from byte/255 (the exact
             * comparison is test_pixel_scaling_exact). */
            if (!(x[k] >= 0.0f && x[k] <= 1.0f) || fabsf(x[k] - want) > 1.2e-7f) bad++;
        }
        CU_ASSERT_EQUAL(bad, 0);
    }
    /* Specific samples, spelled out: sample 0 pixel 0 = 5, label 1; sample 7
     * pixel 3 = (7*37 + 33 + 5) % 256 = 41, label 2. */
    int label;
    CU_ASSERT_EQUAL(d->ops->get(d, 0, x, &label), NN_OK);
    CU_ASSERT_EQUAL(label, 1);
    CU_ASSERT(fabsf(x[0] - 5.0f / 255.0f) <= 1.2e-7f);
    CU_ASSERT_EQUAL(d->ops->get(d, 7, x, &label), NN_OK);
    CU_ASSERT_EQUAL(label, 2);
    CU_ASSERT(fabsf(x[3] - 41.0f / 255.0f) <= 1.2e-7f);
    /* The batch reader returns the same as get. */
    uint64_t ids[3] = {9, 0, 4};
    float xb[3 * IMG_DIM];
    int lb[3];
    CU_ASSERT_EQUAL(nn_dataset_get_batch(d, ids, 3, xb, lb), NN_OK);
    for (int j = 0; j < 3; j++) {
        CU_ASSERT_EQUAL(d->ops->get(d, ids[j], x, &label), NN_OK);
        CU_ASSERT_EQUAL(lb[j], label);
        CU_ASSERT(memcmp(xb + j * IMG_DIM, x, sizeof x) == 0);
    }
}

/* ---- valid files ---- */

static void test_valid_plain(void) {
    char img[512], lbl[512];
    write_valid_pair("idx_plain-images", "idx_plain-labels", 0, img, lbl);
    nn_dataset d;
    int rc = nn_idx_open(&d, img, lbl, 10, NN_PART_ALL);
    CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
    CU_ASSERT_STRING_EQUAL(d.name, img);
    check_standard_set(&d);
    nn_dataset_free(&d);
}

static void test_valid_gz(void) {
    char img[512], lbl[512], pimg[512], plbl[512];
    write_valid_pair("idx_gz-images.gz", "idx_gz-labels.gz", 1, img, lbl);
    write_valid_pair("idx_gzref-images", "idx_gzref-labels", 0, pimg, plbl);
    /* The .gz really is compressed (starts with the gzip magic). */
    FILE *f = fopen(img, "rb");
    CU_ASSERT_FATAL(f != NULL);
    unsigned char m[2] = {0, 0};
    CU_ASSERT_EQUAL(fread(m, 1, 2, f), 2);
    fclose(f);
    CU_ASSERT(m[0] == 0x1f && m[1] == 0x8b);

    nn_dataset d, p;
    CU_ASSERT_EQUAL_FATAL(nn_idx_open(&d, img, lbl, 10, NN_PART_ALL), NN_OK);
    check_standard_set(&d);
    /* Identical to the plain copy, sample by sample. */
    CU_ASSERT_EQUAL_FATAL(nn_idx_open(&p, pimg, plbl, 10, NN_PART_ALL), NN_OK);
    float a[IMG_DIM], b[IMG_DIM];
    for (size_t i = 0; i < N_SAMPLES; i++) {
        int la, lb;
        CU_ASSERT_EQUAL(d.ops->get(&d, i, a, &la), NN_OK);
        CU_ASSERT_EQUAL(p.ops->get(&p, i, b, &lb), NN_OK);
        CU_ASSERT_EQUAL(la, lb);
        CU_ASSERT(memcmp(a, b, sizeof a) == 0);
    }
    nn_dataset_free(&d);
    nn_dataset_free(&p);
}

/* Every byte value 0..255 read back as exactly (float)byte / 255. */
static void test_pixel_scaling_exact(void) {
    size_t na, nb;
    uint8_t *a = images_bytes(0x803, 1, 16, 16, &na);
    for (int k = 0; k < 256; k++) a[16 + k] = (uint8_t)k;
    uint8_t *b = labels_bytes(0x801, 1, &nb);
    char img[512], lbl[512];
    snprintf(img, sizeof img, "%s", tu_path("idx_allbytes-images"));
    snprintf(lbl, sizeof lbl, "%s", tu_path("idx_allbytes-labels"));
    tu_write_file(img, a, na, 0);
    tu_write_file(lbl, b, nb, 0);
    free(a);
    free(b);
    nn_dataset d;
    CU_ASSERT_EQUAL_FATAL(nn_idx_open(&d, img, lbl, 10, NN_PART_ALL), NN_OK);
    float x[256];
    int label;
    CU_ASSERT_EQUAL_FATAL(d.ops->get(&d, 0, x, &label), NN_OK);
    CU_ASSERT_EQUAL(x[0], 0.0f);
    CU_ASSERT_EQUAL(x[255], 1.0f);
    int inexact = 0, first = -1;
    for (int k = 0; k < 256; k++) {
        float want = (float)k / 255.0f;
        if (x[k] != want) {
            if (first < 0) first = k;
            inexact++;
        }
    }
    CU_ASSERT_EQUAL(inexact, 0);
    if (inexact)
        printf("\n    %d of 256 byte values differ from byte/255.0f (first: %d -> %.9g, "
               "expected %.9g)\n",
               inexact, first, x[first], (float)first / 255.0f);
    nn_dataset_free(&d);
}

/* ---- malformed files ---- */

static void test_truncated_pixels(void) {
    size_t na;
    uint8_t *a = images_bytes(0x803, N_SAMPLES, IMG_H, IMG_W, &na);
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("idx_trunc-pixels-images"));
    tu_write_file(path, a, na - IMG_DIM / 2, 0); /* half of the last image missing */
    /* The header's numbers, not the reader's: 16 + 10*4*5 = 216 bytes. */
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path,
                    "truncated: header declares 10 images of 4x5 (216 bytes)",
                    "but the file holds 206 bytes");
    /* Same file gzipped: same diagnosis, in decompressed bytes. */
    snprintf(path, sizeof path, "%s", tu_path("idx_trunc-pixels-images.gz"));
    tu_write_file(path, a, na - IMG_DIM / 2, 1);
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path,
                    "truncated: header declares 10 images of 4x5 (216 bytes)",
                    "holds 206 bytes once decompressed");
    free(a);
}

static void test_truncated_labels(void) {
    size_t nb;
    uint8_t *b = labels_bytes(0x801, N_SAMPLES, &nb);
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("idx_trunc-labels"));
    tu_write_file(path, b, nb - 3, 0);
    EXPECT_IDX_FAIL(valid_images(), path, 10, path, "truncated: header declares 10 labels (18 bytes)",
                    "but the file holds 15 bytes");
    free(b);
}

static void test_truncated_header(void) {
    size_t na;
    uint8_t *a = images_bytes(0x803, N_SAMPLES, IMG_H, IMG_W, &na);
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("idx_trunc-header-images"));
    tu_write_file(path, a, 10, 0); /* magic + 1.5 dims */
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path, "truncated", "header");
    snprintf(path, sizeof path, "%s", tu_path("idx_trunc-magic-images"));
    tu_write_file(path, a, 2, 0); /* half of the magic */
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path, "truncated", "header");
    free(a);
    size_t nb;
    uint8_t *b = labels_bytes(0x801, N_SAMPLES, &nb);
    snprintf(path, sizeof path, "%s", tu_path("idx_trunc-header-labels"));
    tu_write_file(path, b, 6, 0);
    EXPECT_IDX_FAIL(valid_images(), path, 10, path, "truncated", "header");
    free(b);
}

static void test_wrong_magic(void) {
    /* The labels file given as the images file (and vice versa). */
    EXPECT_IDX_FAIL(valid_labels(), valid_labels(), 10, valid_labels(), "bad magic",
                    "0x00000801");
    EXPECT_IDX_FAIL(valid_images(), valid_images(), 10, valid_images(), "bad magic",
                    "0x00000803");
    /* 0x00000804: IDX of unsigned bytes but 4 dims. */
    size_t na;
    uint8_t *a = images_bytes(0x804, N_SAMPLES, IMG_H, IMG_W, &na);
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("idx_magic804-images"));
    tu_write_file(path, a, na, 0);
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path, "bad magic", "0x00000804");
    /* Another element type (0x0D = float) with 3 dims. */
    put_be32(a, 0x0D03);
    snprintf(path, sizeof path, "%s", tu_path("idx_magicfloat-images"));
    tu_write_file(path, a, na, 0);
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path, "bad magic", "0x00000d03");
    free(a);
}

static void test_file_longer_than_header(void) {
    size_t na;
    uint8_t *a = images_bytes(0x803, N_SAMPLES, IMG_H, IMG_W, &na);
    uint8_t *big = calloc(na + 7, 1);
    memcpy(big, a, na);
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("idx_long-images"));
    tu_write_file(path, big, na + 7, 0);
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path, "longer than its header", NULL);
    /* Dims that disagree with the size: header says 4x4, data is 4x5. */
    put_be32(a + 12, IMG_W - 1);
    snprintf(path, sizeof path, "%s", tu_path("idx_dims-images"));
    tu_write_file(path, a, na, 0);
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path, "longer than its header", NULL);
    /* ... and gzipped. */
    snprintf(path, sizeof path, "%s", tu_path("idx_dims-images.gz"));
    tu_write_file(path, a, na, 1);
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path, "longer than its header", NULL);
    /* Zero dimension. */
    put_be32(a + 8, 0);
    snprintf(path, sizeof path, "%s", tu_path("idx_zerodim-images"));
    tu_write_file(path, a, na, 0);
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path, "dimension 1 is 0", NULL);
    free(a);
    free(big);
    /* A labels file with a byte too many. */
    size_t nb;
    uint8_t *b = labels_bytes(0x801, N_SAMPLES, &nb);
    uint8_t *lb = calloc(nb + 1, 1);
    memcpy(lb, b, nb);
    snprintf(path, sizeof path, "%s", tu_path("idx_long-labels"));
    tu_write_file(path, lb, nb + 1, 0);
    EXPECT_IDX_FAIL(valid_images(), path, 10, path, "longer than its header", NULL);
    free(b);
    free(lb);
}

static void test_count_mismatch(void) {
    size_t nb;
    uint8_t *b = labels_bytes(0x801, N_SAMPLES - 1, &nb);
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("idx_nine-labels"));
    tu_write_file(path, b, nb, 0);
    /* Names both files and both counts. */
    EXPECT_IDX_FAIL(valid_images(), path, 10, path, "10 images", "9 labels");
    EXPECT_IDX_FAIL(valid_images(), path, 10, valid_images(), "must match", NULL);
    free(b);
}

static void test_label_out_of_range(void) {
    size_t nb;
    uint8_t *b = labels_bytes(0x801, N_SAMPLES, &nb);
    b[8 + 6] = 10; /* sample 6 */
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("idx_label10-labels"));
    tu_write_file(path, b, nb, 0);
    EXPECT_IDX_FAIL(valid_images(), path, 10, path, "label 10", "out of range");
    EXPECT_IDX_FAIL(valid_images(), path, 10, path, "sample 6", "0..9");
    /* With classes 11 the same file is valid. */
    nn_dataset d;
    CU_ASSERT_EQUAL(nn_idx_open(&d, valid_images(), path, 11, NN_PART_ALL), NN_OK);
    if (d.ops) {
        float x[IMG_DIM];
        int label;
        CU_ASSERT_EQUAL(d.ops->get(&d, 6, x, &label), NN_OK);
        CU_ASSERT_EQUAL(label, 10);
        nn_dataset_free(&d);
    }
    /* 255 with classes 10. */
    b[8 + 6] = 255;
    snprintf(path, sizeof path, "%s", tu_path("idx_label255-labels"));
    tu_write_file(path, b, nb, 0);
    EXPECT_IDX_FAIL(valid_images(), path, 10, path, "label 255", "out of range");
    free(b);
}

static void test_empty_file(void) {
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("idx_empty-images"));
    tu_write_file(path, "", 0, 0);
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path, "truncated", NULL);
    snprintf(path, sizeof path, "%s", tu_path("idx_empty-labels"));
    tu_write_file(path, "", 0, 0);
    EXPECT_IDX_FAIL(valid_images(), path, 10, path, "truncated", NULL);
    /* An empty gzip stream. */
    snprintf(path, sizeof path, "%s", tu_path("idx_empty-images.gz"));
    tu_write_file(path, "", 0, 1);
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path, "truncated", NULL);
}

static void test_missing_file(void) {
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("idx_no-such-images"));
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path, "cannot open", NULL);
    snprintf(path, sizeof path, "%s", tu_path("idx_no-such-labels"));
    EXPECT_IDX_FAIL(valid_images(), path, 10, path, "cannot open", NULL);
    snprintf(path, sizeof path, "%s", tu_path("idx_no-such-dir/train-images-idx3-ubyte"));
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path, "cannot open", NULL);
}

static void test_corrupt_gz(void) {
    /* A valid gzip member header (magic, deflate, no flags, mtime, xfl, OS)
     * followed by bytes that are not a deflate stream. */
    uint8_t bad[64] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03};
    for (int i = 10; i < 64; i++) bad[i] = (uint8_t)(0xff - 3 * i);
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("idx_corrupt-images.gz"));
    tu_write_file(path, bad, sizeof bad, 0);
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path, "corrupt gzip", NULL);
    snprintf(path, sizeof path, "%s", tu_path("idx_corrupt-labels.gz"));
    tu_write_file(path, bad, sizeof bad, 0);
    EXPECT_IDX_FAIL(valid_images(), path, 10, path, "corrupt gzip", NULL);

    /* A real .gz cut in the middle of its compressed stream. */
    size_t na;
    uint8_t *a = images_bytes(0x803, N_SAMPLES, IMG_H, IMG_W, &na);
    char full[512];
    snprintf(full, sizeof full, "%s", tu_path("idx_cut-full-images.gz"));
    tu_write_file(full, a, na, 1);
    free(a);
    FILE *f = fopen(full, "rb");
    CU_ASSERT_FATAL(f != NULL);
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CU_ASSERT_FATAL(n > 30 && n < sizeof buf);
    snprintf(path, sizeof path, "%s", tu_path("idx_cut-images.gz"));
    tu_write_file(path, buf, n / 2, 0);
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path,
                    "truncated: header declares 10 images of 4x5 (216 bytes)", "decompressed");
}

/* Issue 29.20e: bytes after the gzip stream are refused, naming the file and
 * the offset, as bytes after a plain file's payload are; a second gzip
 * member (gzip -c a b) is data like the first. */
static void test_gz_trailing(void) {
    size_t na;
    uint8_t *a = images_bytes(0x803, N_SAMPLES, IMG_H, IMG_W, &na);
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("idx_trail-images.gz"));
    tu_write_file(path, a, na, 1);
    FILE *f = fopen(path, "ab");
    CU_ASSERT_FATAL(f != NULL);
    fputs("TRAILING", f);
    fclose(f);
    EXPECT_IDX_FAIL(path, valid_labels(), 10, path, "8 bytes of trailing data after the gzip stream",
                    NULL);
    /* Two members: the header and half the pixels, then the rest. */
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "%s", tu_path("idx_m1.gz"));
    snprintf(p2, sizeof p2, "%s", tu_path("idx_m2.gz"));
    tu_write_file(p1, a, na / 2, 1);
    tu_write_file(p2, a + na / 2, na - na / 2, 1);
    snprintf(path, sizeof path, "%s", tu_path("idx_members-images.gz"));
    FILE *out = fopen(path, "wb");
    CU_ASSERT_FATAL(out != NULL);
    const char *parts[2] = {p1, p2};
    for (int i = 0; i < 2; i++) {
        FILE *in = fopen(parts[i], "rb");
        CU_ASSERT_FATAL(in != NULL);
        int c;
        while ((c = fgetc(in)) != EOF) fputc(c, out);
        fclose(in);
    }
    fclose(out);
    nn_dataset d;
    int rc = nn_idx_open(&d, path, valid_labels(), 10, NN_PART_ALL);
    CU_ASSERT_EQUAL(rc, NN_OK);
    if (rc == NN_OK) nn_dataset_free(&d);
    free(a);
}

/* ---- declared sizes against the file, before allocating (issue 9) ---- */

/* An IDX header (magic, dims) followed by bytes up to `len` bytes, plain
 * (gz 0) or gzipped: zeros (gz 1), or a pattern that gzip cannot compress
 * much (gz 2). */
static void write_header_only(const char *path, uint32_t magic, int ndim, const uint32_t *dims,
                              size_t len, int gz) {
    uint8_t *a = calloc(len < 16 ? 16 : len, 1);
    CU_ASSERT_FATAL(a != NULL);
    if (gz > 1) {
        uint32_t x = 12345;
        for (size_t k = 0; k < len; k++) a[k] = (uint8_t)((x = x * 1103515245u + 12345u) >> 23);
        gz = 1;
    }
    put_be32(a, magic);
    for (int i = 0; i < ndim; i++) put_be32(a + 4 + 4 * i, dims[i]);
    tu_write_file(path, a, len, gz);
    free(a);
}

static void test_declared_size_checked_first(void) {
    char img[512], lbl[512];
    /* MNIST's header on a 2000-byte file: the message quotes the header. */
    snprintf(img, sizeof img, "%s", tu_path("idx_decl60000-images"));
    snprintf(lbl, sizeof lbl, "%s", tu_path("idx_decl60000-labels"));
    write_header_only(img, 0x803, 3, (const uint32_t[]){60000, 28, 28}, 2000, 0);
    write_header_only(lbl, 0x801, 1, (const uint32_t[]){60000}, 8, 0);
    char want[700];
    snprintf(want, sizeof want,
             "%s: truncated: header declares 60000 images of 28x28 (47040016 bytes) but the "
             "file holds 2000 bytes",
             img);
    EXPECT_IDX_FAIL(img, lbl, 10, img, want, NULL);
    /* ... and the labels file, once the images are whole: 60000 labels in 8 bytes. */
    char img1[512];
    snprintf(img1, sizeof img1, "%s", tu_path("idx_decl60000x1-images"));
    write_header_only(img1, 0x803, 3, (const uint32_t[]){60000, 1, 1}, 16 + 60000, 0);
    snprintf(want, sizeof want,
             "%s: truncated: header declares 60000 labels (60008 bytes) but the file holds 8 "
             "bytes",
             lbl);
    EXPECT_IDX_FAIL(img1, lbl, 10, lbl, want, NULL);

    /* 2^28 images in 2 KB: refused from the sizes, not by a failed 210 GB
     * allocation (which ASan turns into an abort). */
    snprintf(img, sizeof img, "%s", tu_path("idx_decl2p28-images"));
    snprintf(lbl, sizeof lbl, "%s", tu_path("idx_decl2p28-labels"));
    write_header_only(img, 0x803, 3, (const uint32_t[]){1u << 28, 28, 28}, 2048, 0);
    write_header_only(lbl, 0x801, 1, (const uint32_t[]){1u << 28}, 2048, 0);
    EXPECT_IDX_FAIL(img, lbl, 10, img,
                    "truncated: header declares 268435456 images of 28x28 (210453397520 bytes)",
                    "but the file holds 2048 bytes");
    /* 2^28 x 2^28 x 2^28 bytes (2^84) do not fit in 64 bits: no wrapped product. */
    snprintf(img, sizeof img, "%s", tu_path("idx_decl2p84-images"));
    write_header_only(img, 0x803, 3, (const uint32_t[]){1u << 28, 1u << 28, 1u << 28}, 2048, 0);
    EXPECT_IDX_FAIL(img, lbl, 10, img, "268435456 images of 268435456x268435456",
                    "more than 2^64 bytes");
    /* 2^28 x 2^28 x 1 = 2^56 bytes: fits in 64 bits, refused against the file. */
    snprintf(img, sizeof img, "%s", tu_path("idx_decl2p56-images"));
    write_header_only(img, 0x803, 3, (const uint32_t[]){1u << 28, 1u << 28, 1}, 2048, 0);
    EXPECT_IDX_FAIL(img, lbl, 10, img, "truncated: header declares 268435456 images of 268435456x1",
                    "but the file holds 2048 bytes");

    /* gzip: the uncompressed size is unknown up front, but deflate cannot
     * expand a byte to more than 1032, so 210 GB from a few dozen bytes is
     * refused before reading. */
    snprintf(img, sizeof img, "%s", tu_path("idx_decl2p28-images.gz"));
    write_header_only(img, 0x803, 3, (const uint32_t[]){1u << 28, 28, 28}, 2048, 1);
    EXPECT_IDX_FAIL(img, lbl, 10, img,
                    "truncated: header declares 268435456 images of 28x28 (210453397520 bytes)",
                    "decompress to at most");
    /* A .gz that may hold what it declares is read, its buffers growing only
     * as bytes arrive: 300000 images of 1x1 declared, 2000 bytes inside. */
    snprintf(img, sizeof img, "%s", tu_path("idx_decl300k-images.gz"));
    snprintf(lbl, sizeof lbl, "%s", tu_path("idx_decl300k-labels"));
    size_t whole = 300016;
    write_header_only(img, 0x803, 3, (const uint32_t[]){300000, 1, 1}, whole, 2);
    uint8_t *z = calloc(whole, 1);
    put_be32(z, 0x801), put_be32(z + 4, 300000);
    tu_write_file(lbl, z, 8 + 300000, 0);
    free(z);
    /* (the whole file is valid: loads) */
    nn_dataset d;
    CU_ASSERT_EQUAL(nn_idx_open(&d, img, lbl, 10, NN_PART_ALL), NN_OK);
    if (d.ops) {
        CU_ASSERT_EQUAL(d.count, 300000);
        nn_dataset_free(&d);
    }
    write_header_only(img, 0x803, 3, (const uint32_t[]){300000, 1, 1}, 2016, 2);
    EXPECT_IDX_FAIL(img, lbl, 10, img, "truncated: header declares 300000 images of 1x1 (300016 bytes)",
                    "holds 2016 bytes once decompressed");
}

/* ---- files that are not regular files (issue 9) ---- */

static void test_not_regular_files(void) {
    char fifo[512], dir[512];
    snprintf(fifo, sizeof fifo, "%s", tu_path("idx_fifo-images"));
    unlink(fifo);
    CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
    tu_hang_guard("nn_idx_open(FIFO as the images file)");
    EXPECT_IDX_FAIL(fifo, valid_labels(), 10, fifo, "not a regular file", "FIFO");
    /* (the message names the expectation) */
    EXPECT_IDX_FAIL(fifo, valid_labels(), 10, fifo, "IDX images file", NULL);
    tu_hang_guard("nn_idx_open(FIFO as the labels file)");
    EXPECT_IDX_FAIL(valid_images(), fifo, 10, fifo, "not a regular file", "IDX labels file");
    tu_hang_guard(NULL);
    /* A folder and a device. */
    snprintf(dir, sizeof dir, "%s", tu_path("idx_a-folder-images"));
    mkdir(dir, 0755);
    EXPECT_IDX_FAIL(dir, valid_labels(), 10, dir, "not a regular file", "folder");
    EXPECT_IDX_FAIL(valid_images(), "/dev/zero", 10, "/dev/zero", "not a regular file",
                    "character device");
    /* Through a symlink to a valid file: fine. */
    char link[512];
    snprintf(link, sizeof link, "%s", tu_path("idx_link-images"));
    unlink(link);
    CU_ASSERT_EQUAL(symlink(valid_images(), link), 0);
    nn_dataset d;
    CU_ASSERT_EQUAL(nn_idx_open(&d, link, valid_labels(), 10, NN_PART_ALL), NN_OK);
    if (d.ops) nn_dataset_free(&d);
}

/* ---- sharding ---- */

static void test_sharding(void) {
    for (int gz = 0; gz <= 1; gz++) {
        char img[512], lbl[512];
        write_valid_pair(gz ? "idx_shard-images.gz" : "idx_shard-images",
                         gz ? "idx_shard-labels.gz" : "idx_shard-labels", gz, img, lbl);
        nn_dataset all;
        CU_ASSERT_EQUAL_FATAL(nn_idx_open(&all, img, lbl, 10, NN_PART_ALL), NN_OK);
        for (int nranks = 1; nranks <= 3; nranks++) {
            int covered[N_SAMPLES] = {0};
            size_t expect_begin = 0;
            for (int r = 0; r < nranks; r++) {
                nn_dataset d;
                CU_ASSERT_EQUAL_FATAL(nn_idx_open(&d, img, lbl, 10, (nn_part){.rank = r, .nranks = nranks, .limit = 0, .cache = NN_CACHE_AUTO, .local_ranks = 1}),
                                      NN_OK);
                CU_ASSERT_EQUAL(d.count, N_SAMPLES); /* global count, not the shard's */
                CU_ASSERT_EQUAL(d.shard.begin, expect_begin);
                CU_ASSERT(d.shard.end >= d.shard.begin);
                CU_ASSERT(d.shard.end <= N_SAMPLES);
                nn_shard want = nn_shard_of(N_SAMPLES, r, nranks);
                CU_ASSERT_EQUAL(d.shard.begin, want.begin);
                CU_ASSERT_EQUAL(d.shard.end, want.end);
                /* Balanced: sizes differ by at most one. */
                size_t sz = d.shard.end - d.shard.begin;
                CU_ASSERT(sz >= (size_t)(N_SAMPLES / nranks) && sz <= (size_t)(N_SAMPLES / nranks + 1));
                expect_begin = d.shard.end;
                for (size_t i = 0; i < N_SAMPLES; i++) {
                    float x[IMG_DIM], y[IMG_DIM];
                    int lx = -1, ly = -2;
                    int inside = i >= d.shard.begin && i < d.shard.end;
                    nn_err_clear();
                    int rc = d.ops->get(&d, i, x, &lx);
                    if (inside) {
                        covered[i]++;
                        CU_ASSERT_EQUAL(rc, NN_OK);
                        CU_ASSERT_EQUAL(all.ops->get(&all, i, y, &ly), NN_OK);
                        CU_ASSERT_EQUAL(lx, ly);
                        CU_ASSERT_EQUAL(lx, label_of(i));
                        CU_ASSERT(memcmp(x, y, sizeof x) == 0);
                    } else {
                        CU_ASSERT_EQUAL(rc, NN_ERR);
                        CU_ASSERT_PTR_NOT_NULL(strstr(nn_errmsg(), img));
                        CU_ASSERT_PTR_NOT_NULL(strstr(nn_errmsg(), "outside"));
                    }
                }
                /* Past the end of the data set fails too. */
                float x[IMG_DIM];
                int l;
                CU_ASSERT_EQUAL(d.ops->get(&d, N_SAMPLES, x, &l), NN_ERR);
                nn_dataset_free(&d);
                CU_ASSERT_PTR_NULL(d.priv);
            }
            CU_ASSERT_EQUAL(expect_begin, N_SAMPLES); /* the last shard ends at count */
            for (int i = 0; i < N_SAMPLES; i++) CU_ASSERT_EQUAL(covered[i], 1);
        }
        nn_dataset_free(&all);
    }
}

/* ---- named data sets ---- */

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static void test_data_open_gz(void) {
    char dir[512], spec[600];
    snprintf(dir, sizeof dir, "%s", tu_path("idx_mnist_gz"));
    tu_write_mnist_like(dir, 12, 7, 6, 5, 1);
    /* Only .gz files exist. */
    char plain[600];
    snprintf(plain, sizeof plain, "%s/train-images-idx3-ubyte", dir);
    CU_ASSERT_NOT_EQUAL(access(plain, F_OK), 0);
    snprintf(spec, sizeof spec, "mnist:%s", dir);

    nn_dataset d;
    CU_ASSERT_EQUAL_FATAL(nn_data_open(&d, spec, "train", NN_PART_ALL), NN_OK);
    CU_ASSERT(ends_with(d.name, "/train-images-idx3-ubyte.gz"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.name, dir));
    CU_ASSERT_EQUAL(d.count, 12);
    CU_ASSERT_EQUAL(d.shape.c, 1);
    CU_ASSERT_EQUAL(d.shape.h, 6);
    CU_ASSERT_EQUAL(d.shape.w, 5);
    CU_ASSERT_EQUAL(d.classes, 10);
    float x[30];
    int label;
    for (size_t i = 0; i < d.count; i++) {
        CU_ASSERT_EQUAL(d.ops->get(&d, i, x, &label), NN_OK);
        CU_ASSERT(label >= 0 && label < 10);
    }
    nn_dataset_free(&d);

    CU_ASSERT_EQUAL_FATAL(nn_data_open(&d, spec, "test", (nn_part){.rank = 1, .nranks = 2, .limit = 0, .cache = NN_CACHE_AUTO, .local_ranks = 1}), NN_OK);
    CU_ASSERT(ends_with(d.name, "/t10k-images-idx3-ubyte.gz"));
    CU_ASSERT_EQUAL(d.count, 7);
    CU_ASSERT_EQUAL(d.shard.begin, 3);
    CU_ASSERT_EQUAL(d.shard.end, 7);
    nn_dataset_free(&d);
}

static void test_data_open_prefers_plain(void) {
    char dir[512], spec[600];
    snprintf(dir, sizeof dir, "%s", tu_path("idx_mnist_both"));
    tu_write_mnist_like(dir, 8, 3, 4, 4, 0);
    tu_write_mnist_like(dir, 9, 3, 4, 4, 1); /* .gz copies with another count */
    snprintf(spec, sizeof spec, "mnist:%s", dir);
    nn_dataset d;
    CU_ASSERT_EQUAL_FATAL(nn_data_open(&d, spec, "train", NN_PART_ALL), NN_OK);
    CU_ASSERT(ends_with(d.name, "/train-images-idx3-ubyte"));
    CU_ASSERT_EQUAL(d.count, 8);
    nn_dataset_free(&d);
}

static void test_data_open_missing_dir(void) {
    char dir[512], spec[600];
    snprintf(dir, sizeof dir, "%s", tu_path("idx_no-such-mnist-dir"));
    snprintf(spec, sizeof spec, "mnist:%s", dir);
    nn_dataset d;
    memset(&d, 0, sizeof d);
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_data_open(&d, spec, "train", NN_PART_ALL), NN_ERR);
    const char *m = nn_errmsg();
    CU_ASSERT_PTR_NOT_NULL(strstr(m, dir));
    CU_ASSERT_PTR_NOT_NULL(strstr(m, "HINT"));
    CU_ASSERT_PTR_NOT_NULL(strstr(m, "not found"));
    /* Unknown data-set kind. */
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_data_open(&d, "cifar:/x", "train", NN_PART_ALL), NN_ERR);
    CU_ASSERT_PTR_NOT_NULL(strstr(nn_errmsg(), "cifar"));
    CU_ASSERT_PTR_NOT_NULL(strstr(nn_errmsg(), "unknown"));
}

/* Label counts (--class-weight balanced): per shard, and the shards of 3
 * ranks (with --limit 50) sum to the counts of the first 50 labels in the file. */
static void test_label_counts(void) {
    char dir[512], img[600], lbl[600];
    snprintf(dir, sizeof dir, "%s", tu_path("label_counts"));
    tu_write_mnist_like(dir, 71, 5, 4, 4, 0);
    snprintf(img, sizeof img, "%s/train-images-idx3-ubyte", dir);
    snprintf(lbl, sizeof lbl, "%s/train-labels-idx1-ubyte", dir);
    FILE *f = fopen(lbl, "rb");
    CU_ASSERT_FATAL(f != NULL);
    unsigned char raw[8 + 71];
    CU_ASSERT_FATAL(fread(raw, 1, sizeof raw, f) == sizeof raw);
    fclose(f);
    double want[10] = {0}, all[10] = {0}, sum[10] = {0};
    for (int i = 0; i < 50; i++) want[raw[8 + i]] += 1;
    for (int i = 0; i < 71; i++) all[raw[8 + i]] += 1;
    nn_dataset d;
    CU_ASSERT_EQUAL_FATAL(nn_idx_open(&d, img, lbl, 10, NN_PART_ALL), NN_OK);
    double got[10];
    CU_ASSERT_EQUAL(nn_dataset_label_counts(&d, got), NN_OK);
    CU_ASSERT(memcmp(got, all, sizeof got) == 0);
    nn_dataset_free(&d);
    for (int r = 0; r < 3; r++) {
        CU_ASSERT_EQUAL_FATAL(nn_idx_open(&d, img, lbl, 10, (nn_part){.rank = r, .nranks = 3, .limit = 50}), NN_OK);
        CU_ASSERT_EQUAL(nn_dataset_label_counts(&d, got), NN_OK);
        for (int c = 0; c < 10; c++) sum[c] += got[c];
        nn_dataset_free(&d);
    }
    CU_ASSERT(memcmp(sum, want, sizeof sum) == 0);
}

void register_idx_tests(void) {
    CU_pSuite s = CU_add_suite("idx", NULL, NULL);
    CU_add_test(s, "valid plain IDX loads", test_valid_plain);
    CU_add_test(s, "label counts per shard sum to the file's", test_label_counts);
    CU_add_test(s, "valid gzip IDX loads, equal to plain", test_valid_gz);
    CU_add_test(s, "gzip: trailing data refused, two members read", test_gz_trailing);
    CU_add_test(s, "pixel scaling is exactly byte/255", test_pixel_scaling_exact);
    CU_add_test(s, "truncated pixels fail", test_truncated_pixels);
    CU_add_test(s, "truncated labels fail", test_truncated_labels);
    CU_add_test(s, "truncated header fails", test_truncated_header);
    CU_add_test(s, "wrong magic fails", test_wrong_magic);
    CU_add_test(s, "file longer than header / dims mismatch fail", test_file_longer_than_header);
    CU_add_test(s, "image and label counts differ", test_count_mismatch);
    CU_add_test(s, "label out of range fails", test_label_out_of_range);
    CU_add_test(s, "empty file fails", test_empty_file);
    CU_add_test(s, "missing file fails", test_missing_file);
    CU_add_test(s, "corrupt gzip fails", test_corrupt_gz);
    CU_add_test(s, "declared size checked against the file before allocating",
                test_declared_size_checked_first);
    CU_add_test(s, "FIFO, folder, device refused without blocking", test_not_regular_files);
    CU_add_test(s, "shards for 1..3 ranks", test_sharding);
    CU_add_test(s, "mnist:DIR picks .gz", test_data_open_gz);
    CU_add_test(s, "mnist:DIR prefers plain", test_data_open_prefers_plain);
    CU_add_test(s, "mnist:DIR missing dir fails with HINT", test_data_open_missing_dir);
}
