/* tests/onnx/onnx_dump.c: nntrain's own numbers for the ONNX agreement tests
 * (tests/onnx/run.sh), through libnntrain.a, so the CLI needs no test flags.
 *
 *   onnx_dump classify CKPT DATA PREFIX
 *       every test image of DATA as the net sees it (float32 (N, C, H, W) in
 *       [0, 1]) -> PREFIX.x, the net's class probabilities (softmax of its
 *       logits, float32 (N, K)) -> PREFIX.p, labels (int32) -> PREFIX.y,
 *       sizes -> PREFIX.json
 *   onnx_dump generate GAN N SEED PREFIX PNG
 *       N noise vectors drawn as `nntrain sample --seed SEED` draws them ->
 *       PREFIX.z, the generator's images (G + 1) / 2 -> PREFIX.img (the model
 *       sample takes: the moving average when the checkpoint has one), and
 *       the PNG grid sample would write -> PNG (so a byte comparison with
 *       sample's own file shows these are its images)
 *   onnx_dump refuse-type|refuse-opt OUT.onnx
 *       a net with a layer the exporter cannot know (a type renamed, an
 *       option added after setup): the export must fail, naming it, and
 *       leave no OUT.onnx (exit 1 with the message on stderr). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/backend.h"
#include "nn/checkpoint.h"
#include "nn/data.h"
#include "nn/error.h"
#include "nn/image.h"
#include "nn/net.h"
#include "nn/onnx.h"
#include "nn/rng.h"
#include "nn/train.h"

#define BATCH 100

static int put(FILE *f, const void *p, size_t bytes, const char *what) {
    if (fwrite(p, 1, bytes, f) != bytes) return nn_fail("writing %s failed", what);
    return NN_OK;
}

static FILE *open_out(const char *prefix, const char *ext) {
    char path[4096];
    snprintf(path, sizeof path, "%s.%s", prefix, ext);
    FILE *f = fopen(path, "wb");
    if (!f) nn_fail("%s: cannot create", path);
    return f;
}

static int classify(const char *ckpt, const char *data, const char *prefix) {
    nn_dataset test;
    NN_TRY(nn_data_open(&test, data, "test", NN_PART_ALL));
    char *spec = NULL;
    nn_shape in;
    int k;
    nn_net net;
    int rc = nn_ckpt_read_model(ckpt, &spec, &in, &k);
    if (rc == NN_OK) rc = nn_net_create(&net, spec, ckpt, in, k, BATCH, nn_backend_cpu());
    free(spec);
    if (rc != NN_OK) {
        nn_dataset_free(&test);
        return NN_ERR;
    }
    const nn_ckpt_part part = {NULL, &net, NULL};
    rc = nn_ckpt_load_parts(ckpt, NN_CKPT_CLASSIFIER, &part, 1, NULL, NULL);
    const size_t dim = nn_shape_size(in);
    float *x = malloc((size_t)BATCH * dim * sizeof *x), *p = malloc((size_t)BATCH * k * sizeof *p);
    int *labels = malloc(BATCH * sizeof *labels);
    uint64_t ids[BATCH];
    FILE *fx = open_out(prefix, "x"), *fp = open_out(prefix, "p"), *fy = open_out(prefix, "y");
    if (rc == NN_OK && (!x || !p || !labels || !fx || !fp || !fy)) rc = nn_fail("out of memory");
    for (size_t i0 = 0; rc == NN_OK && i0 < test.count; i0 += BATCH) {
        const int n = test.count - i0 < BATCH ? (int)(test.count - i0) : BATCH;
        for (int i = 0; i < n; i++) ids[i] = i0 + (uint64_t)i;
        rc = nn_dataset_get_batch(&test, ids, n, x, labels);
        nn_ctx c = {.train = false, .n = n, .global_n = n, .sample_ids = ids};
        const float *logits;
        if (rc == NN_OK) rc = nn_net_forward(&net, &c, x, &logits);
        for (int i = 0; rc == NN_OK && i < n; i++) {
            const float *z = logits + (size_t)i * k;
            float *q = p + (size_t)i * k, mx = z[0];
            double sum = 0;
            for (int j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
            for (int j = 0; j < k; j++) sum += (q[j] = expf(z[j] - mx));
            for (int j = 0; j < k; j++) q[j] = (float)(q[j] / sum);
        }
        if (rc == NN_OK) rc = put(fx, x, (size_t)n * dim * sizeof *x, "images");
        if (rc == NN_OK) rc = put(fp, p, (size_t)n * k * sizeof *p, "probabilities");
        if (rc == NN_OK) rc = put(fy, labels, (size_t)n * sizeof *labels, "labels");
    }
    if (fx && fclose(fx)) rc = nn_fail("closing the images failed");
    if (fp && fclose(fp)) rc = nn_fail("closing the probabilities failed");
    if (fy && fclose(fy)) rc = nn_fail("closing the labels failed");
    FILE *fj = rc == NN_OK ? open_out(prefix, "json") : NULL;
    if (fj) {
        fprintf(fj, "{\"n\": %zu, \"c\": %d, \"h\": %d, \"w\": %d, \"k\": %d}\n", test.count, in.c,
                in.h, in.w, k);
        fclose(fj);
    } else if (rc == NN_OK) {
        rc = NN_ERR;
    }
    if (rc == NN_OK) printf("images: %zu of (%d, %d, %d), %d classes\n", test.count, in.c, in.h, in.w, k);
    free(x), free(p), free(labels);
    nn_net_free(&net);
    nn_dataset_free(&test);
    return rc;
}

static int generate(const char *ckpt, int n, uint64_t seed, const char *prefix, const char *png) {
    int has = 0;
    NN_TRY(nn_ckpt_has_part(ckpt, NN_CKPT_GAN, NN_CKPT_GENERATOR_EMA, &has));
    const char *name = has ? NN_CKPT_GENERATOR_EMA : "generator";
    char *spec = NULL;
    nn_shape in;
    int out;
    NN_TRY(nn_ckpt_read_part(ckpt, NN_CKPT_GAN, name, &spec, &in, &out));
    nn_net g;
    int rc = nn_net_create(&g, spec, ckpt, in, out, 256, nn_backend_cpu());
    free(spec);
    NN_TRY(rc);
    const nn_ckpt_part part = {name, &g, NULL};
    rc = nn_ckpt_load_parts(ckpt, NN_CKPT_GAN, &part, 1, NULL, NULL);
    const size_t zd = nn_shape_size(in), dim = nn_net_out_size(&g);
    float *z = malloc((size_t)n * zd * sizeof *z), *img = malloc((size_t)n * dim * sizeof *img);
    if (rc == NN_OK && (!z || !img)) rc = nn_fail("out of memory");
    /* As commands.c's generate(): image i's noise from stream (seed, i). */
    for (int i = 0; rc == NN_OK && i < n; i++) {
        nn_rng r;
        nn_rng_seed(&r, seed, 0x5a4d000000ULL + (uint64_t)i);
        for (size_t k = 0; k < zd; k++) z[(size_t)i * zd + k] = nn_rng_normal(&r);
    }
    if (rc == NN_OK) rc = nn_gan_generate(&g, z, n, img);
    int cols = 1;
    while (cols * cols < n) cols++;
    const nn_shape os = g.layers[g.nlayers - 1].out;
    if (rc == NN_OK) rc = nn_png_write_grid(png, img, n, os, cols, -1, 1);
    for (size_t i = 0; rc == NN_OK && i < (size_t)n * dim; i++) img[i] = (img[i] + 1.0f) * 0.5f;
    FILE *fz = rc == NN_OK ? open_out(prefix, "z") : NULL, *fi = fz ? open_out(prefix, "img") : NULL;
    if (rc == NN_OK && (!fz || !fi)) rc = NN_ERR;
    if (rc == NN_OK) rc = put(fz, z, (size_t)n * zd * sizeof *z, "noise");
    if (rc == NN_OK) rc = put(fi, img, (size_t)n * dim * sizeof *img, "images");
    if (fz && fclose(fz)) rc = nn_fail("closing the noise failed");
    if (fi && fclose(fi)) rc = nn_fail("closing the images failed");
    FILE *fj = rc == NN_OK ? open_out(prefix, "json") : NULL;
    if (fj) {
        fprintf(fj, "{\"n\": %d, \"z\": %zu, \"c\": %d, \"h\": %d, \"w\": %d}\n", n, zd, os.c,
                os.h, os.w);
        fclose(fj);
    } else if (rc == NN_OK) {
        rc = NN_ERR;
    }
    if (rc == NN_OK) printf("images: %d of (%d, %d, %d) from %s\n", n, os.c, os.h, os.w, name);
    free(z), free(img);
    nn_net_free(&g);
    return rc;
}

/* A 2-layer net with its second layer made unknowable. */
static int refuse(const char *how, const char *path) {
    nn_net net;
    NN_TRY(nn_net_create(&net, "conv2d 2 size=3; relu; flatten; dense 3", "refuse-test",
                         (nn_shape){1, 6, 6}, 3, 1, nn_backend_cpu()));
    nn_net_init(&net, 1);
    static nn_layer_ops mystery;
    if (!strcmp(how, "refuse-type")) {
        mystery = *net.layers[1].ops;
        mystery.type = "mystery";
        net.layers[1].ops = &mystery;
    } else { /* an option the exporter has not heard of, on conv2d_1 */
        nn_layer *l = &net.layers[0];
        snprintf(l->opts[l->nopts].key, sizeof l->opts[0].key, "dilation");
        snprintf(l->opts[l->nopts].val, sizeof l->opts[0].val, "2");
        l->nopts++;
    }
    const nn_onnx_meta meta = {.classes = 3, .source = "refuse-test"};
    char summary[512];
    int rc = nn_onnx_export_net(&net, &meta, path, summary, sizeof summary);
    nn_net_free(&net);
    if (rc == NN_OK) return nn_fail("the export of an unknowable layer succeeded: %s", summary);
    return NN_ERR;
}

int main(int argc, char **argv) {
    int rc = NN_ERR;
    if (argc == 5 && !strcmp(argv[1], "classify"))
        rc = classify(argv[2], argv[3], argv[4]);
    else if (argc == 7 && !strcmp(argv[1], "generate"))
        rc = generate(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 10), argv[5], argv[6]);
    else if (argc == 3 && (!strcmp(argv[1], "refuse-type") || !strcmp(argv[1], "refuse-opt")))
        rc = refuse(argv[1], argv[2]);
    else
        nn_fail("usage: onnx_dump classify CKPT DATA PREFIX | generate GAN N SEED PREFIX PNG | "
                "refuse-type|refuse-opt OUT.onnx");
    if (rc != NN_OK) fprintf(stderr, "onnx_dump: error: %s\n", nn_errmsg());
    return rc == NN_OK ? 0 : 1;
}
