/* make_corpus.c: writes the seed corpus of every fuzz target into
 * OUT/<target>/ (tests/fuzz/make_corpus.sh builds and runs it):
 *   idx     valid IDX pairs (plain, gzip, mixed) in the fuzz_idx.c layout, a
 *           truncated one, an out-of-range label
 *   cifar   one and two CIFAR-10 records (with the config byte), a label of 10
 *   folder  tiny PNGs (RGB, gray, RGBA, 16-bit gray) and JPEGs (RGB 4:4:4,
 *           RGB 4:2:0, gray, progressive)
 *   spec    model specs: presets and every layer type with its options
 *   ckpt    two tiny checkpoints (dense + SGD; conv + batchnorm + Adam with
 *           history and class names)
 * Every file is small: the whole corpus stays well under 200 KB. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "nn/backend.h"
#include "nn/checkpoint.h"
#include "nn/error.h"
#include "nn/history.h"
#include "nn/net.h"
#include "nn/optim.h"

static const char *g_out;

static void die(const char *what) {
    fprintf(stderr, "make_corpus: %s: %s\n", what, nn_errmsg());
    exit(1);
}

static void put(const char *target, const char *name, const void *data, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_out, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", g_out, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

/* ---- IDX ---- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} buf;

static void add(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) exit(1);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void be32(buf *b, uint32_t v) {
    uint8_t q[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    add(b, q, 4);
}

static void le32(buf *b, uint32_t v) {
    uint8_t q[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    add(b, q, 4);
}

/* gzip of d[0, n). */
static buf gzip_of(const uint8_t *d, size_t n) {
    buf out = {0};
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) exit(1);
    out.cap = deflateBound(&z, n) + 32;
    out.p = malloc(out.cap);
    z.next_in = (Bytef *)d;
    z.avail_in = (uInt)n;
    z.next_out = out.p;
    z.avail_out = (uInt)out.cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) exit(1);
    out.n = out.cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static void idx_seed(const char *name, int n, int h, int w, int gz_images, int gz_labels,
                     uint32_t part_bits, size_t cut_images, int bad_label) {
    buf im = {0}, lb = {0};
    be32(&im, 0x803), be32(&im, (uint32_t)n), be32(&im, (uint32_t)h), be32(&im, (uint32_t)w);
    for (int k = 0; k < n * h * w; k++) {
        uint8_t v = (uint8_t)(k * 37 + 11);
        add(&im, &v, 1);
    }
    be32(&lb, 0x801), be32(&lb, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        uint8_t v = (uint8_t)(i == bad_label ? 10 : (i * 3 + 1) % 10);
        add(&lb, &v, 1);
    }
    if (cut_images) im.n -= cut_images;
    if (gz_images) {
        buf z = gzip_of(im.p, im.n);
        free(im.p);
        im = z;
    }
    if (gz_labels) {
        buf z = gzip_of(lb.p, lb.n);
        free(lb.p);
        lb = z;
    }
    buf all = {0};
    le32(&all, (uint32_t)im.n | part_bits);
    add(&all, im.p, im.n);
    add(&all, lb.p, lb.n);
    put("idx", name, all.p, all.n);
    free(im.p), free(lb.p), free(all.p);
}

/* ---- CIFAR ---- */

static void cifar_seed(const char *name, uint8_t config, int records, int bad) {
    size_t n = 1 + (size_t)records * 3073;
    uint8_t *b = malloc(n);
    b[0] = config;
    for (int r = 0; r < records; r++) {
        uint8_t *rec = b + 1 + (size_t)r * 3073;
        rec[0] = (uint8_t)(r == bad ? 10 : (r * 7 + 3) % 10);
        for (int k = 0; k < 3072; k++) rec[1 + k] = (uint8_t)(k * 7 + r * 131);
    }
    put("cifar", name, b, n);
    free(b);
}

/* ---- images ---- */

static void png_seed(const char *name, int w, int h, png_uint_32 format) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = format;
    const int mapped = (format & PNG_FORMAT_FLAG_COLORMAP) != 0;
    uint8_t cmap[4 * 3] = {0, 0, 0, 255, 0, 0, 0, 200, 40, 90, 90, 250};
    if (mapped) im.colormap_entries = 4;
    size_t bytes = PNG_IMAGE_SIZE(im);
    uint8_t *px = malloc(bytes);
    for (size_t k = 0; k < bytes; k++) px[k] = (uint8_t)(mapped ? k % 4 : k * 53 + 7);
    png_alloc_size_t n = 0;
    if (!png_image_write_to_memory(&im, NULL, &n, 0, px, 0, mapped ? cmap : NULL)) exit(1);
    uint8_t *out = malloc(n);
    if (!png_image_write_to_memory(&im, out, &n, 0, px, 0, mapped ? cmap : NULL)) exit(1);
    put("folder", name, out, n);
    free(out), free(px);
}

static void jpeg_seed(const char *name, int w, int h, int c, int subsample, int progressive) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    unsigned char *out = NULL;
    unsigned long n = 0;
    jpeg_mem_dest(&ci, &out, &n);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = c;
    ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 75, TRUE);
    if (!subsample)
        for (int k = 0; k < ci.num_components; k++)
            ci.comp_info[k].h_samp_factor = ci.comp_info[k].v_samp_factor = 1;
    if (progressive) jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    uint8_t *row = malloc((size_t)w * c);
    while (ci.next_scanline < ci.image_height) {
        for (int k = 0; k < w * c; k++) row[k] = (uint8_t)(40 + 6 * (k / c) + 8 * ci.next_scanline + 30 * (k % c));
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    put("folder", name, out, n);
    free(out), free(row);
}

/* ---- specs ---- */

static void spec_seed(const char *name, const char *text) { put("spec", name, text, strlen(text)); }

/* ---- checkpoints ---- */

static void ckpt_seed(const char *name, const char *spec, nn_shape in, int classes,
                      const char *optim, int with_history, int with_names) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/ckpt-tmp.h5", g_out);
    nn_net net;
    if (nn_net_create(&net, spec, name, in, classes, 1, nn_backend_cpu()) != NN_OK)
        die("net");
    nn_net_init(&net, 7);
    nn_optim o, *op = NULL;
    nn_optim_cfg cfg;
    if (optim) {
        if (nn_optim_defaults(optim, &cfg) != NN_OK || nn_optim_create(&o, &cfg, net.nparams) != NN_OK)
            die("optim");
        o.t = 3;
        op = &o;
    }
    nn_train_state st;
    memset(&st, 0, sizeof st);
    st.epoch = 2, st.step = 6, st.seed = 1, st.batch = 4, st.best_acc = -1;
    snprintf(st.data, sizeof st.data, "mnist");
    nn_history h;
    memset(&h, 0, sizeof h); /* zeroed: the classifier's columns */
    if (with_history)
        for (int e = 1; e <= 2; e++) {
            double row[NN_H_COLS] = {e, 2.0 / e, 0.5, 2.1 / e, 0.4, 1.5, 100, 0.1, 0.1};
            if (nn_history_add(&h, row) != NN_OK) die("history");
        }
    char *names[16] = {0}, storage[16][16];
    for (int i = 0; i < classes && i < 16; i++) {
        snprintf(storage[i], sizeof storage[i], "class%d", i);
        names[i] = storage[i];
    }
    if (nn_ckpt_save(tmp, &net, op, &st, with_history ? &h : NULL, "--fuzz-seed", 1,
                     with_names ? names : NULL) != NN_OK)
        die("save");
    FILE *f = fopen(tmp, "rb");
    if (!f) die(tmp);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) die("read back");
    fclose(f);
    remove(tmp);
    put("ckpt", name, b, (size_t)n);
    free(b);
    nn_history_free(&h);
    if (op) nn_optim_free(op);
    nn_net_free(&net);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus OUT_DIR\n");
        return 2;
    }
    g_out = argv[1];
    mkdir(g_out, 0755);

    idx_seed("plain", 3, 4, 5, 0, 0, 0, 0, -1);
    idx_seed("gzip-2ranks", 5, 3, 3, 1, 1, (1u << 24) | (1u << 26), 0, -1);
    idx_seed("mixed-limit2", 4, 2, 3, 0, 1, 2u << 28, 0, -1);
    idx_seed("truncated", 3, 4, 5, 0, 0, 0, 7, -1);
    idx_seed("bad-label", 3, 2, 2, 0, 0, 0, 0, 1);
    idx_seed("3ranks-rank2", 7, 1, 2, 1, 0, (2u << 24) | (2u << 26), 0, -1);

    cifar_seed("one", 0x00, 1, -1);
    cifar_seed("two-2ranks", 0x05, 2, -1);
    cifar_seed("bad-label", 0x00, 2, 1);

    png_seed("rgb.png", 5, 4, PNG_FORMAT_RGB);
    png_seed("gray.png", 3, 3, PNG_FORMAT_GRAY);
    png_seed("rgba.png", 2, 2, PNG_FORMAT_RGBA);
    png_seed("gray16.png", 4, 3, PNG_FORMAT_LINEAR_Y);
    png_seed("palette.png", 6, 2, PNG_FORMAT_RGB_COLORMAP);
    jpeg_seed("rgb444.jpg", 8, 8, 3, 0, 0);
    jpeg_seed("rgb420.jpg", 16, 9, 3, 1, 0);
    jpeg_seed("gray.jpg", 7, 5, 1, 0, 0);
    jpeg_seed("progressive.jpg", 16, 16, 3, 1, 1);

    spec_seed("mlp", "dense 100; sigmoid; dense 10");
    spec_seed("all-layers",
              "# every layer type, with options\n"
              "normalize\n"
              "conv2d 4 size=3 stride=1 pad=same bias=false\n"
              "batchnorm eps=1e-3 momentum=0.8\n"
              "leaky_relu\n"
              "maxpool 2 stride=2\n"
              "conv2d filters=3 size=2 pad=valid\n"
              "tanh\n"
              "flatten\n"
              "dropout 0.25\n"
              "dense 7 bias=false\n"
              "batchnorm\n"
              "relu\n"
              "dense units=3\n");
    spec_seed("pad-n", "conv2d 2 size=5 stride=2 pad=1; relu; maxpool 2; dense 4");
    const char *presets[] = {"mlp", "mlp1000-bn", "cnn"};
    for (int i = 0; i < 3; i++) {
        char *s = nn_model_preset(presets[i], 0, 10);
        if (!s) die(presets[i]);
        char name[64];
        snprintf(name, sizeof name, "preset-%s", presets[i]);
        spec_seed(name, s);
        free(s);
    }

    ckpt_seed("dense-sgd.h5", "dense 4; relu; dense 3", (nn_shape){1, 2, 2}, 3, NULL, 0, 0);
    ckpt_seed("conv-bn-adam.h5",
              "conv2d 2 size=3; batchnorm; relu; maxpool 2; dense 3", (nn_shape){1, 4, 4}, 3,
              "adam", 1, 1);
    return 0;
}
