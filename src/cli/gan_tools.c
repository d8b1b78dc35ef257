/* gan_tools.c: the commands over a trained GAN: sample (a grid of images)
 * and gan-score (its images through a trained classifier). Rank 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "nn/backend.h"
#include "nn/checkpoint.h"
#include "nn/error.h"
#include "nn/image.h"
#include "nn/progress.h"
#include "nn/rng.h"
#include "nn/score.h"
#include "nn/train.h"

/* The generator of a GAN checkpoint, built and loaded (max_n images a pass):
 * its moving average when the checkpoint keeps one (gan --ema) and !raw.
 * *which names the one taken. */
static int load_generator(const char *path, int max_n, bool raw, nn_net *g, const char **which) {
    char *spec = NULL;
    nn_shape in;
    int out, has = 0;
    if (!raw) NN_TRY(nn_ckpt_has_part(path, NN_CKPT_GAN, NN_CKPT_GENERATOR_EMA, &has));
    const char *name = has ? NN_CKPT_GENERATOR_EMA : "generator";
    *which = has ? "the generator's moving average" : "the generator";
    NN_TRY(nn_ckpt_read_part(path, NN_CKPT_GAN, name, &spec, &in, &out));
    int rc = nn_net_create(g, spec, path, in, out, max_n, nn_backend_current());
    free(spec);
    NN_TRY(rc);
    const nn_ckpt_part part = {name, g, NULL};
    if (nn_ckpt_load_parts(path, NN_CKPT_GAN, &part, 1, NULL, NULL) != NN_OK) {
        nn_net_free(g);
        return NN_ERR;
    }
    return NN_OK;
}

/* ", noise truncated to [-t, t]" for the output lines ("" without). */
static const char *trunc_note(float t) {
    static char buf[64];
    if (t <= 0) return "";
    snprintf(buf, sizeof buf, ", noise truncated to [-%g, %g]", t, t);
    return buf;
}

/* n images in [-1, 1] from g, noise keyed by (seed, i), truncated to
 * [-trunc, trunc] when trunc > 0. */
static float *generate(nn_net *g, int n, uint64_t seed, float trunc) {
    const int z = g->in.c * g->in.h * g->in.w;
    float *zs = nn_alloc((size_t)n * z * sizeof(float), "noise");
    float *img = nn_alloc((size_t)n * nn_net_out_size(g) * sizeof(float), "images");
    int rc = zs && img ? NN_OK : NN_ERR;
    for (int i = 0; rc == NN_OK && i < n; i++) {
        nn_rng r;
        nn_rng_seed(&r, seed, 0x5a4d000000ULL + (uint64_t)i);
        for (int k = 0; k < z; k++)
            zs[(size_t)i * z + k] = trunc > 0 ? nn_rng_normal_truncated(&r, trunc) : nn_rng_normal(&r);
    }
    nn_meter meter;
    nn_meter_start(&meter, NN_PROGRESS_AUTO, true, "generate", (size_t)n);
    for (int i0 = 0; rc == NN_OK && i0 < n; i0 += g->max_n) {
        const int k = n - i0 < g->max_n ? n - i0 : g->max_n;
        rc = nn_gan_generate(g, zs + (size_t)i0 * z, k, img + (size_t)i0 * nn_net_out_size(g));
        nn_meter_update(&meter, (size_t)(i0 + k), i0 + k, NULL);
    }
    nn_meter_end(&meter);
    free(zs);
    if (rc != NN_OK) {
        free(img);
        return NULL;
    }
    return img;
}

int cmd_sample(const nn_args *a, nn_dist *d) {
    (void)d;
    if (!a->checkpoint || !a->png)
        return nn_usage("sample needs --checkpoint GAN.h5 and --png FILE (nntrain help sample)");
    const int n = a->n > 0 ? a->n : 64;
    nn_net g;
    const char *which;
    NN_TRY(load_generator(a->checkpoint, 256, a->no_ema, &g, &which));
    const nn_layer *last = &g.layers[g.nlayers - 1];
    float *img = generate(&g, n, a->train.seed, a->truncation);
    int rc = img ? NN_OK : NN_ERR;
    int cols = 1;
    while (cols * cols < n) cols++;
    if (rc == NN_OK) rc = nn_png_write_grid(a->png, img, n, last->out, cols, -1, 1);
    if (rc == NN_OK)
        printf("wrote %s (%d samples, seed %llu, %s%s)\n", a->png, n,
               (unsigned long long)a->train.seed, which, trunc_note(a->truncation));
    free(img);
    nn_net_free(&g);
    return rc;
}

/* gan-score: a GAN's images (or, without --checkpoint, the real test images
 * of --data: the ceiling) through a trained classifier. */
int cmd_gan_score(const nn_args *a, nn_dist *d) {
    (void)d;
    if (!a->classifier)
        return nn_usage("gan-score needs --classifier CNN.h5 (and --checkpoint GAN.h5; without it, "
                        "the real test images of --data are scored)");
    char *spec = NULL;
    nn_shape cin;
    int k;
    NN_TRY(nn_ckpt_read_model(a->classifier, &spec, &cin, &k));
    nn_net cls;
    int rc = nn_net_create(&cls, spec, a->classifier, cin, k, 500, nn_backend_current());
    free(spec);
    NN_TRY(rc);
    if (nn_ckpt_load(a->classifier, &cls, NULL, NULL, NULL) != NN_OK) {
        nn_net_free(&cls);
        return NN_ERR;
    }
    const size_t dim = nn_shape_size(cin);
    int n = a->n > 0 ? a->n : 10000;
    float *x = NULL; /* (n, dim) in [0, 1], as the classifier saw its data */
    const char *what = a->checkpoint;
    if (a->checkpoint) {
        nn_net g;
        const char *which;
        rc = load_generator(a->checkpoint, 500, a->no_ema, &g, &which);
        if (rc == NN_OK) printf("generator: %s%s\n", which, trunc_note(a->truncation));
        const bool loaded = rc == NN_OK;
        if (rc == NN_OK && nn_net_out_size(&g) != dim)
            rc = nn_fail("%s makes images of %zu values, the classifier %s takes %zu",
                         a->checkpoint, nn_net_out_size(&g), a->classifier, dim);
        if (rc == NN_OK) {
            x = generate(&g, n, a->train.seed, a->truncation);
            if (!x) rc = NN_ERR;
        }
        if (loaded) nn_net_free(&g);
        /* As stored images are: 8 bits a pixel, then byte / 255. */
        for (size_t i = 0; x && i < (size_t)n * dim; i++) {
            float v = roundf((x[i] + 1.0f) * 127.5f);
            x[i] = (v < 0 ? 0 : v > 255 ? 255 : v) / 255.0f;
        }
    } else {
        nn_dataset test;
        rc = nn_data_open(&test, a->train.data, "test", NN_PART_ALL);
        if (rc == NN_OK && nn_shape_size(test.shape) != dim)
            rc = nn_fail("--data %s has samples of %zu values, the classifier takes %zu",
                         a->train.data, nn_shape_size(test.shape), dim);
        if (rc == NN_OK) {
            if ((size_t)n > test.count) n = (int)test.count;
            x = nn_alloc((size_t)n * dim * sizeof(float), "images");
            int *labels = nn_alloc((size_t)n * sizeof(int), "labels");
            uint64_t *ids = nn_alloc((size_t)n * sizeof(uint64_t), "ids");
            rc = x && labels && ids ? NN_OK : NN_ERR;
            for (int i = 0; rc == NN_OK && i < n; i++) ids[i] = (uint64_t)i;
            if (rc == NN_OK) rc = nn_dataset_get_batch(&test, ids, n, x, labels);
            free(labels), free(ids);
        }
        nn_dataset_free(&test);
        what = "real test images";
    }
    float *probs = rc == NN_OK ? nn_alloc((size_t)n * k * sizeof(float), "probabilities") : NULL;
    if (rc == NN_OK && !probs) rc = NN_ERR;
    nn_meter meter;
    nn_meter_start(&meter, NN_PROGRESS_AUTO, true, "score", (size_t)n);
    for (int i0 = 0; rc == NN_OK && i0 < n; i0 += cls.max_n) {
        nn_meter_update(&meter, (size_t)i0, i0, NULL);
        nn_ctx c = {.train = false};
        c.n = c.global_n = n - i0 < cls.max_n ? n - i0 : cls.max_n;
        const float *logits;
        rc = nn_net_forward(&cls, &c, x + (size_t)i0 * dim, &logits);
        for (int i = 0; rc == NN_OK && i < c.n; i++) {
            const float *zl = logits + (size_t)i * k;
            float *p = probs + (size_t)(i0 + i) * k, mx = zl[0];
            double sum = 0;
            for (int j = 1; j < k; j++) mx = zl[j] > mx ? zl[j] : mx;
            for (int j = 0; j < k; j++) sum += (p[j] = expf(zl[j] - mx));
            for (int j = 0; j < k; j++) p[j] = (float)(p[j] / sum);
        }
    }
    nn_meter_update(&meter, (size_t)n, n, NULL);
    nn_meter_end(&meter);
    double *hist = calloc((size_t)k, sizeof *hist);
    if (rc == NN_OK && !hist) rc = nn_fail("out of memory");
    if (rc == NN_OK) {
        nn_score sc = {.hist = hist};
        nn_inception_score(probs, n, k, &sc);
        printf("images: %d (%s)\nscore: %.3f (exp E[KL(p(y|x) || p(y))], at most %d)\n"
               "confident: %.4f (top class p >= 0.9)\npredicted classes:",
               n, what, sc.score, k, sc.confident);
        for (int j = 0; j < k; j++) printf(" %d:%.3f", j, hist[j]);
        printf("\n");
    }
    free(hist), free(probs), free(x);
    nn_net_free(&cls);
    return rc;
}

