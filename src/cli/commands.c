/* commands.c: each nntrain command as a short function over the library. */
#include "commands.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/backend.h"
#include "nn/checkpoint.h"
#include "nn/error.h"
#include "nn/fileutil.h"
#include "nn/loss.h"
#include "nn/metrics.h"
#include "nn/plot.h"
#include "nn/image.h"
#include "nn/rng.h"
#include "nn/score.h"
#include "nn/train.h"

/* Build the net for eval/predict/loss/summary: from the checkpoint when one
 * is given (its spec, its weights), else from --model with random weights. */
static int build_net_from(const nn_args *a, const char *ckpt, nn_shape in, int classes,
                          char *const *data_names, int max_n, nn_net *net) {
    if (ckpt) {
        char *spec = NULL;
        nn_shape cin;
        int ccls;
        NN_TRY(nn_ckpt_read_model(ckpt, &spec, &cin, &ccls));
        int rc = NN_OK;
        if (cin.c != in.c || cin.h != in.h || cin.w != in.w || ccls != classes)
            rc = nn_fail("%s: checkpoint is for input (%d, %d, %d) with %d classes, but --data %s "
                         "has (%d, %d, %d) with %d",
                         ckpt, cin.c, cin.h, cin.w, ccls, a->train.data, in.c, in.h,
                         in.w, classes);
        char **names = NULL;
        if (rc == NN_OK) rc = nn_ckpt_read_class_names(ckpt, classes, &names);
        if (rc == NN_OK) rc = nn_class_names_check(ckpt, names, a->train.data, data_names, classes);
        nn_ckpt_free_names(names, classes);
        if (rc == NN_OK)
            rc = nn_net_create(net, spec, ckpt, in, classes, max_n, nn_backend_current());
        free(spec);
        NN_TRY(rc);
        /* A checkpoint of train --ema holds the average at the root and the
         * weights the optimizer stepped in /trained (--no-ema). */
        int has = 0;
        if (a->no_ema &&
            nn_ckpt_has_part(ckpt, NN_CKPT_CLASSIFIER, NN_CKPT_TRAINED, &has) != NN_OK) {
            nn_net_free(net);
            return NN_ERR;
        }
        const nn_ckpt_part part = {has ? NN_CKPT_TRAINED : NULL, net, NULL};
        if (nn_ckpt_load_parts(ckpt, NN_CKPT_CLASSIFIER, &part, 1, NULL, NULL) != NN_OK) {
            nn_net_free(net);
            return NN_ERR;
        }
        return NN_OK;
    }
    char *spec = nn_model_resolve(a->train.model, a->train.hidden, classes);
    if (!spec) return NN_ERR;
    int rc = nn_net_create(net, spec, nn_model_origin(a->train.model), in, classes, max_n,
                           nn_backend_current());
    free(spec);
    NN_TRY(rc);
    nn_net_init(net, a->train.seed);
    return NN_OK;
}

/* The net of --checkpoint, or a fresh one of --model. */
static int build_net(const nn_args *a, nn_shape in, int classes, char *const *data_names,
                     int max_n, nn_net *net) {
    return build_net_from(a, a->checkpoint, in, classes, data_names, max_n, net);
}

/* Parse one line of stdin as an index in [0, count). */
static int parse_index(const char *line, size_t count, long *out) {
    const char *p = line;
    while (isspace((unsigned char)*p)) p++;
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (p == end || *end || errno) {
        char shown[40];
        snprintf(shown, sizeof shown, "%.*s", (int)strcspn(p, "\r\n"), p);
        return nn_fail("stdin: '%s' is not an integer; expected a test-image index 0..%zu",
                       shown, count - 1);
    }
    if (v < 0 || (size_t)v >= count)
        return nn_fail("stdin: index %ld is out of range; expected 0..%zu", v, count - 1);
    *out = v;
    return NN_OK;
}

static int predict_one(nn_net *net, const nn_dataset *test, long i) {
    float *x = nn_alloc(nn_shape_size(test->shape) * sizeof(float), "image");
    if (!x) return NN_ERR;
    int label;
    uint64_t id = (uint64_t)i;
    int rc = test->ops->get(test, (size_t)i, x, &label);
    nn_ctx c = {.train = false, .n = 1, .global_n = 1, .sample_ids = &id};
    const float *logits;
    if (rc == NN_OK) rc = nn_net_forward(net, &c, x, &logits);
    if (rc == NN_OK) rc = nn_net_check_outputs(net, logits, 1, NAN); /* 29.10 */
    if (rc == NN_OK) {
        int pred;
        nn_argmax_rows(logits, 1, (int)nn_net_out_size(net), &pred);
        printf("%d\n", pred);
        fflush(stdout);
    }
    free(x);
    return rc;
}

static int cmd_predict(const nn_args *a) {
    nn_dataset test;
    NN_TRY(nn_data_open(&test, a->train.data, "test", NN_PART_ALL));
    nn_net net;
    int rc = build_net(a, test.shape, test.classes, test.class_names, 1, &net);
    if (rc != NN_OK) {
        nn_dataset_free(&test);
        return NN_ERR;
    }
    if (a->index >= 0) {
        rc = (size_t)a->index < test.count
                 ? predict_one(&net, &test, a->index)
                 : nn_fail("--index %d is out of range; expected 0..%zu", a->index, test.count - 1);
    } else {
        /* Whole lines, however long: a line is one index, never split. */
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        int seen = 0;
        while (rc == NN_OK && (len = getline(&line, &cap, stdin)) >= 0) {
            if ((size_t)len != strlen(line)) {
                rc = nn_fail("stdin: line %d holds a NUL byte; expected a test-image index "
                             "0..%zu per line",
                             seen + 1, test.count - 1);
                break;
            }
            if (line[strspn(line, " \t\r\n")] == 0) continue; /* blank line */
            long i = 0;
            rc = parse_index(line, test.count, &i);
            if (rc == NN_OK) rc = predict_one(&net, &test, i);
            seen++;
        }
        free(line);
        if (rc == NN_OK && !seen)
            rc = nn_fail("stdin: empty; expected a test-image index 0..%zu (e.g. echo 7 | "
                         "nntrain predict)",
                         test.count - 1);
    }
    nn_net_free(&net);
    nn_dataset_free(&test);
    return rc;
}

static int cmd_loss(const nn_args *a) {
    nn_dataset train;
    NN_TRY(nn_data_open(&train, a->train.data, "train", NN_PART_ALL));
    const int B = a->train.batch;
    nn_net net;
    int rc = build_net(a, train.shape, train.classes, train.class_names, B, &net);
    if (rc != NN_OK) {
        nn_dataset_free(&train);
        return NN_ERR;
    }
    float *x = nn_alloc((size_t)B * nn_shape_size(train.shape) * sizeof(float), "batch");
    int *labels = nn_alloc((size_t)B * sizeof(int), "labels");
    uint64_t *ids = nn_alloc((size_t)B * sizeof(uint64_t), "ids");
    rc = x && labels && ids ? NN_OK : NN_ERR;
    if (rc == NN_OK) {
        nn_rng r;
        nn_rng_seed(&r, a->train.seed, 77);
        for (int i = 0; i < B; i++) ids[i] = nn_rng_below(&r, train.count);
        rc = nn_dataset_get_batch(&train, ids, B, x, labels);
    }
    const float *logits;
    nn_ctx c = {.train = false, .n = B, .global_n = B, .sample_ids = ids};
    if (rc == NN_OK) rc = nn_net_forward(&net, &c, x, &logits);
    if (rc == NN_OK) {
        double sum = nn_softmax_xent(logits, labels, B, (int)nn_net_out_size(&net), 0, NULL, NULL);
        if ((rc = nn_net_check_outputs(&net, logits, B, sum)) == NN_OK) /* 29.10 */
        printf("cross-entropy: %.6f (mean over %d random training images, seed %llu)\n", sum / B,
               B, (unsigned long long)a->train.seed);
    }
    free(x), free(labels), free(ids);
    nn_net_free(&net);
    nn_dataset_free(&train);
    return rc;
}

/* A class name as a CSV field: quoted (quotes doubled) when it holds a comma,
 * a quote or a line break (RFC 4180); digits when the data set names none. */
static void csv_name(FILE *f, char *const *names, int i) {
    if (!names) {
        fprintf(f, "%d", i);
        return;
    }
    const char *s = names[i];
    if (!s[strcspn(s, ",\"\r\n")]) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_confusion_csv(const char *path, const double *conf, int k, char *const *names) {
    char tmp[1100];
    FILE *f = nn_open_temp(path, tmp, sizeof tmp);
    if (!f) return NN_ERR;
    fputs("true\\pred", f);
    for (int j = 0; j < k; j++) {
        fputc(',', f);
        csv_name(f, names, j);
    }
    fputc('\n', f);
    for (int i = 0; i < k; i++) {
        csv_name(f, names, i);
        for (int j = 0; j < k; j++) fprintf(f, ",%.0f", conf[i * k + j]);
        fputc('\n', f);
    }
    return nn_commit_temp(f, tmp, path);
}

/* Class i's name for the tables: the data set's, else its number. */
static const char *class_label(char *const *names, int i, char *buf, size_t n) {
    if (names) return names[i];
    snprintf(buf, n, "%d", i);
    return buf;
}

/* What eval prints after accuracy, loss and samples: balanced accuracy and
 * macro F1, one line per class (precision, recall, F1, support), then the
 * confusion matrix with the classes named (metrics.h: 0/0 counts as 0). */
static int print_eval_metrics(const double *conf, int k, char *const *names) {
    nn_class_metrics *per = nn_alloc((size_t)k * sizeof *per, "per-class metrics");
    if (!per) return NN_ERR;
    nn_metrics m;
    nn_confusion_metrics(conf, k, per, &m);
    printf("balanced_accuracy: %.4f\nmacro_f1: %.4f\n", m.balanced_accuracy, m.macro_f1);
    char buf[16];
    int w = 5; /* the widest class name, for the row labels */
    for (int i = 0; i < k; i++) {
        int len = (int)strlen(class_label(names, i, buf, sizeof buf));
        if (len > w) w = len;
    }
    if (w > 40) w = 40;
    printf("per class (0/0 counts as 0; balanced_accuracy = mean recall over the %d class(es) "
           "with support, macro_f1 = mean F1 over the %d in the test set or the predictions):\n",
           m.classes_with_support, m.classes_seen);
    printf("  %-*s %9s %9s %9s %9s\n", w, "class", "precision", "recall", "f1", "support");
    for (int i = 0; i < k; i++)
        printf("  %-*s %9.4f %9.4f %9.4f %9.0f\n", w, class_label(names, i, buf, sizeof buf),
               per[i].precision, per[i].recall, per[i].f1, per[i].support);
    /* Columns as wide as their names up to 12 characters (longer ones cut). */
    int cw = 5;
    for (int j = 0; j < k; j++) {
        int len = (int)strlen(class_label(names, j, buf, sizeof buf));
        if (len > cw) cw = len;
    }
    if (cw > 12) cw = 12;
    printf("confusion matrix (rows = true class, columns = predicted):\n%*s", w, "");
    for (int j = 0; j < k; j++) printf(" %*.*s", cw, cw, class_label(names, j, buf, sizeof buf));
    printf("\n");
    for (int i = 0; i < k; i++) {
        printf("%*s", w, class_label(names, i, buf, sizeof buf));
        for (int j = 0; j < k; j++) printf(" %*.0f", cw, conf[i * k + j]);
        printf("\n");
    }
    free(per);
    return NN_OK;
}

/* eval: one checkpoint, or the mean class probabilities of several (each
 * checked against the data as for one). */
static int cmd_eval(const nn_args *a, nn_dist *dist) {
    if (!a->checkpoint) return nn_fail("eval needs --checkpoint FILE (a trained model)");
    nn_dataset test;
    int rc = nn_data_open(&test, a->train.data, "test",
                          (nn_part){.rank = dist->rank, .nranks = dist->size, .cache = a->train.cache,
                                    .local_ranks = dist->local_size});
    NN_TRY(nn_dist_check(dist, rc));
    nn_net nets[NN_MAX_ENSEMBLE], *ptrs[NN_MAX_ENSEMBLE];
    int built = 0;
    while (rc == NN_OK && built < a->nensemble) {
        const int lrc = build_net_from(a, a->ensemble[built], test.shape, test.classes,
                                       test.class_names, 100, &nets[built]);
        if (lrc == NN_OK) ptrs[built] = &nets[built], built++;
        rc = nn_dist_check(dist, lrc); /* a net built here is freed below if another failed */
    }
    const int k = test.classes;
    nn_eval_result r = {.tta = a->tta, .reflect = a->train.crop_reflect};
    if (rc == NN_OK) {
        r.confusion = nn_calloc((size_t)k * k, sizeof(double), "confusion");
        rc = nn_dist_check(dist, r.confusion ? NN_OK : NN_ERR);
    }
    if (rc == NN_OK) rc = nn_evaluate_ensemble(ptrs, a->nensemble, &test, dist, &r);
    if (rc == NN_OK && dist->rank == 0) {
        if (a->nensemble > 1) {
            printf("ensemble: the mean class probabilities of %d checkpoints:", a->nensemble);
            for (int m = 0; m < a->nensemble; m++) printf(" %s", a->ensemble[m]);
            printf("\n");
        }
        if (a->tta == NN_TTA_FLIP)
            printf("test-time augmentation: each image and its mirror image\n");
        if (a->tta == NN_TTA_TRANSLATE)
            printf("test-time augmentation: each image and its mirror image (weight 2), both also "
                   "moved one pixel down-right and up-left (weight 1)\n");
        printf("accuracy: %.4f\nloss: %.4f\nsamples: %.0f\n", r.correct / r.count,
               r.loss_sum / r.count, r.count);
        rc = print_eval_metrics(r.confusion, k, test.class_names);
        if (rc == NN_OK && a->confusion_csv)
            rc = write_confusion_csv(a->confusion_csv, r.confusion, k, test.class_names);
        if (rc == NN_OK && a->confusion_png) {
            nn_metrics m;
            nn_confusion_metrics(r.confusion, k, NULL, &m);
            char title[300], what[200];
            if (a->nensemble > 1)
                snprintf(what, sizeof what, "ensemble of %d checkpoints", a->nensemble);
            else
                snprintf(what, sizeof what, "%s", a->checkpoint);
            snprintf(title, sizeof title, "%s: accuracy %.4f, balanced %.4f", what,
                     r.correct / r.count, m.balanced_accuracy);
            rc = nn_plot_confusion(a->confusion_png, r.confusion, k, title, test.class_names);
        }
    }
    rc = nn_dist_check(dist, rc);
    free(r.confusion);
    for (int m = 0; m < built; m++) nn_net_free(&nets[m]);
    nn_dataset_free(&test);
    return rc;
}

static int cmd_summary(const nn_args *a) {
    nn_dataset test;
    NN_TRY(nn_data_open(&test, a->train.data, "test", NN_PART_ALL));
    nn_net net;
    int rc = build_net(a, test.shape, test.classes, test.class_names, 1, &net);
    if (rc == NN_OK) {
        printf("model: %s\n", a->checkpoint ? a->checkpoint : a->train.model);
        nn_net_summary(&net, stdout);
        nn_net_free(&net);
    }
    nn_dataset_free(&test);
    return rc;
}

/* compare A B: largest absolute and relative difference of the weights of
 * two checkpoints of the same model (the multi-rank tests use it); for GAN
 * checkpoints over both nets. A NaN or Inf on either side is a difference. */
static int load_part(const char *path, const char *kind, const char *part, nn_net *net) {
    char *spec = NULL;
    nn_shape in;
    int classes;
    NN_TRY(part ? nn_ckpt_read_part(path, kind, part, &spec, &in, &classes)
                : nn_ckpt_read_model(path, &spec, &in, &classes));
    int rc = nn_net_create(net, spec, path, in, classes, 1, nn_backend_current());
    free(spec);
    NN_TRY(rc);
    const nn_ckpt_part p = {part, net, NULL};
    if (nn_ckpt_load_parts(path, kind, &p, 1, NULL, NULL) != NN_OK) {
        nn_net_free(net);
        return NN_ERR;
    }
    return NN_OK;
}

static int cmd_compare(const nn_args *a) {
    if (!a->compare_a || !a->compare_b) return nn_fail("usage: nntrain compare A.h5 B.h5");
    const char *kind, *kind_b;
    NN_TRY(nn_ckpt_kind(a->compare_a, &kind));
    NN_TRY(nn_ckpt_kind(a->compare_b, &kind_b));
    if (strcmp(kind, kind_b) != 0)
        return nn_fail("compare: %s is a %s checkpoint, %s a %s one", a->compare_a, kind,
                       a->compare_b, kind_b);
    /* Every net A holds: a GAN's two and its generator average when kept; a
     * classifier's root and, trained with --ema, the stepped weights. */
    const bool gan = !strcmp(kind, NN_CKPT_GAN);
    static const char *const gan_nets[3] = {"generator", "discriminator", NN_CKPT_GENERATOR_EMA};
    static const char *const cls_nets[2] = {NULL, NN_CKPT_TRAINED};
    const char *const *names = gan ? gan_nets : cls_nets;
    int nparts = gan ? 2 : 1, has = 0;
    NN_TRY(nn_ckpt_has_part(a->compare_a, kind, names[nparts], &has));
    nparts += has;
    double max_abs = 0, max_rel = 0;
    size_t nonfinite = 0, total = 0;
    int rc = NN_OK;
    for (int part = 0; rc == NN_OK && part < nparts; part++) {
        nn_net na, nb;
        NN_TRY(load_part(a->compare_a, kind, names[part], &na));
        rc = load_part(a->compare_b, kind, names[part], &nb);
        if (rc != NN_OK) {
            nn_net_free(&na);
            break;
        }
        if (na.nparams != nb.nparams)
            rc = nn_fail("compare: %s and %s hold different models (%zu and %zu parameters)",
                         a->compare_a, a->compare_b, na.nparams, nb.nparams);
        for (size_t i = 0; rc == NN_OK && i < na.nparams; i++) {
            double x = na.params[i], y = nb.params[i];
            if (!isfinite(x) || !isfinite(y)) {
                nonfinite++;
                max_abs = max_rel = INFINITY;
                continue;
            }
            double d = fabs(x - y), r = d / (fabs(x) > 1e-6 ? fabs(x) : 1e-6);
            if (d > max_abs) max_abs = d;
            if (r > max_rel) max_rel = r;
        }
        total += na.nparams;
        nn_net_free(&na);
        nn_net_free(&nb);
    }
    if (rc == NN_OK)
        printf("parameters: %zu  max_abs_diff: %.3e  max_rel_diff: %.3e\n", total, max_abs,
               max_rel);
    if (rc == NN_OK && nonfinite)
        rc = nn_fail("compare: %zu parameter(s) are NaN or infinite in %s or %s", nonfinite,
                     a->compare_a, a->compare_b);
    return rc;
}

static int cmd_plot(const nn_args *a) {
    if (a->nruns == 0) return nn_fail("usage: nntrain plot RUN | plot --compare COLUMN --png FILE RUN...");
    if (a->compare_col) {
        if (!a->png) return nn_fail("plot --compare needs --png FILE");
        NN_TRY(nn_plot_compare(a->png, a->compare_col, a->runs, a->nruns));
        printf("wrote %s\n", a->png);
        return NN_OK;
    }
    for (int i = 0; i < a->nruns; i++) {
        NN_TRY(nn_plot_run(a->runs[i]));
        printf("wrote %s/loss.png and %s/accuracy.png\n", a->runs[i], a->runs[i]);
    }
    return NN_OK;
}

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
    if (rc == NN_OK) rc = nn_gan_generate(g, zs, n, img);
    free(zs);
    if (rc != NN_OK) {
        free(img);
        return NULL;
    }
    return img;
}

static int cmd_sample(const nn_args *a) {
    if (!a->checkpoint || !a->png)
        return nn_fail("usage: nntrain sample --checkpoint GAN.h5 --png FILE [--n 64] [--seed S]");
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
static int cmd_gan_score(const nn_args *a) {
    if (!a->classifier)
        return nn_fail("usage: nntrain gan-score --checkpoint GAN.h5 --classifier CNN.h5 [--n "
                       "10000] (without --checkpoint: the real test images of --data)");
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
    for (int i0 = 0; rc == NN_OK && i0 < n; i0 += cls.max_n) {
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

static int cmd_seal(const nn_args *a) {
    if (!a->checkpoint) return nn_fail("usage: nntrain seal --checkpoint FILE");
    NN_TRY(nn_ckpt_seal(a->checkpoint));
    printf("sealed %s\n", a->checkpoint);
    return NN_OK;
}

int nn_cli_run(const nn_args *a, nn_dist *dist) {
    const char *c = a->cmd;
    bool training = false; /* train, gan: the modes of src/train/ */
    int rc = nn_train_command(c, &a->train, dist, &training);
    if (training) return rc;
    if (!strcmp(c, "eval")) return cmd_eval(a, dist);
    if (!strcmp(c, "check-data")) return nn_cmd_check_data(a, dist);
    /* The rest are single-process tools: rank 0 does the work. */
    if (!strcmp(c, "predict")) return dist->rank == 0 ? cmd_predict(a) : NN_OK;
    if (!strcmp(c, "loss")) return dist->rank == 0 ? cmd_loss(a) : NN_OK;
    if (!strcmp(c, "summary")) return dist->rank == 0 ? cmd_summary(a) : NN_OK;
    if (!strcmp(c, "compare")) return dist->rank == 0 ? cmd_compare(a) : NN_OK;
    if (!strcmp(c, "plot")) return dist->rank == 0 ? cmd_plot(a) : NN_OK;
    if (!strcmp(c, "sample")) return dist->rank == 0 ? cmd_sample(a) : NN_OK;
    if (!strcmp(c, "gan-score")) return dist->rank == 0 ? cmd_gan_score(a) : NN_OK;
    if (!strcmp(c, "seal")) return dist->rank == 0 ? cmd_seal(a) : NN_OK;
    return nn_fail("unknown command '%s' (train, gan, eval, predict, loss, summary, compare, "
                   "plot, sample, gan-score, seal, check-data; see --help)",
                   c);
}
