/* classifier.c: the commands over a trained classifier: eval (all ranks),
 * predict and loss (rank 0). Each takes the data set from the checkpoint
 * unless --data is given, and names classes as the data set does. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "nn/backend.h"
#include "nn/checkpoint.h"
#include "nn/error.h"
#include "nn/fileutil.h"
#include "nn/loss.h"
#include "nn/metrics.h"
#include "nn/plot.h"
#include "nn/rng.h"
#include "nn/train.h"

/* Build the net for eval/predict/loss/summary: from the checkpoint when one
 * is given (its spec, its weights), else from --model with random weights. */
static int build_net_from(const nn_args *a, const char *ckpt, const char *data, nn_shape in,
                          int classes, char *const *data_names, int max_n, nn_net *net) {
    if (ckpt) {
        char *spec = NULL;
        nn_shape cin;
        int ccls;
        NN_TRY(nn_ckpt_read_model(ckpt, &spec, &cin, &ccls));
        int rc = NN_OK;
        if (cin.c != in.c || cin.h != in.h || cin.w != in.w || ccls != classes)
            rc = nn_fail("%s: checkpoint is for input (%d, %d, %d) with %d classes, but --data %s "
                         "has (%d, %d, %d) with %d",
                         ckpt, cin.c, cin.h, cin.w, ccls, data, in.c, in.h, in.w, classes);
        char **names = NULL;
        if (rc == NN_OK) rc = nn_ckpt_read_class_names(ckpt, classes, &names);
        if (rc == NN_OK) rc = nn_class_names_check(ckpt, names, data, data_names, classes);
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

/* The data set a command reads: --data when given, else the one the
 * checkpoint was trained on (*from_ckpt), else the default (mnist). */
static int data_of(const nn_args *a, const char *ckpt, char *buf, size_t n, const char **data,
                   bool *from_ckpt, nn_part *part) {
    *data = a->train.data, *from_ckpt = false;
    part->val_split = a->train.val_split, part->val_seed = a->train.seed;
    if (!ckpt) return NN_OK;
    double split = 0;
    uint64_t seed = 0;
    NN_TRY(nn_ckpt_read_data(ckpt, buf, n, &split, &seed));
    /* The test set a --val-split run held out: the same files again. */
    if (!nn_args_given(a, "val-split")) part->val_split = (float)split;
    part->val_seed = seed;
    if (nn_args_given(a, "data")) return NN_OK;
    if (buf[0]) *data = buf, *from_ckpt = true;
    return NN_OK;
}

/* Class i's name for the tables: the data set's, else its number. */
static const char *class_label(char *const *names, int i, char *buf, size_t n) {
    if (names) { /* a name with control bytes (a folder named "a\nb") as \xNN */
        for (const char *c = names[i]; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) return nn_escaped(names[i], n - 8, buf, n);
        return names[i];
    }
    snprintf(buf, n, "%d", i);
    return buf;
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

/* The classes of one sample's logits, most probable first: its top k
 * printed as "smile 0.9312, non-smile 0.0688" (k 1: the name alone). */
static void print_top(const float *logits, int classes, int k, char *const *names) {
    double mx = logits[0], sum = 0;
    for (int j = 1; j < classes; j++) mx = logits[j] > mx ? logits[j] : mx;
    for (int j = 0; j < classes; j++) sum += exp(logits[j] - mx);
    bool *used = calloc((size_t)classes, sizeof *used);
    if (k > classes) k = classes;
    for (int t = 0; used && t < k; t++) {
        int best = -1;
        for (int j = 0; j < classes; j++)
            if (!used[j] && (best < 0 || logits[j] > logits[best])) best = j;
        used[best] = true;
        char buf[256];
        const char *name = class_label(names, best, buf, sizeof buf);
        if (k == 1) printf("%s", name);
        else printf("%s%s %.4f", t ? ", " : "", name, exp(logits[best] - mx) / sum);
    }
    free(used);
    printf("\n");
    fflush(stdout);
}

static int predict_one(const nn_args *a, nn_net *net, const nn_dataset *test, long i,
                       char *const *names) {
    float *x = nn_alloc(nn_shape_size(test->shape) * sizeof(float), "image");
    if (!x) return NN_ERR;
    int label;
    uint64_t id = (uint64_t)i;
    int rc = test->ops->get(test, (size_t)i, x, &label);
    nn_ctx c = {.train = false, .n = 1, .global_n = 1, .sample_ids = &id};
    const float *logits;
    if (rc == NN_OK) rc = nn_net_forward(net, &c, x, &logits);
    const int k = (int)nn_net_out_size(net);
    if (rc == NN_OK) rc = nn_net_check_outputs(net, logits, 1, NAN);
    if (rc == NN_OK) print_top(logits, k, a->top, names);
    free(x);
    return rc;
}

/* predict --checkpoint F IMAGE...: each file resized to the net's input as
 * the image folders are, its top classes printed. */
static int predict_files(const nn_args *a) {
    if (!a->checkpoint)
        return nn_usage("predict IMAGE... needs --checkpoint FILE (a trained model)");
    char *spec = NULL, **names = NULL;
    nn_shape in;
    int k;
    NN_TRY(nn_ckpt_read_model(a->checkpoint, &spec, &in, &k));
    int rc = nn_ckpt_read_class_names(a->checkpoint, k, &names);
    free(spec);
    NN_TRY(rc);
    nn_net net;
    rc = build_net_from(a, a->checkpoint, "the checkpoint", in, k, names, 1, &net);
    float *x = rc == NN_OK ? nn_alloc(nn_shape_size(in) * sizeof(float), "image") : NULL;
    if (rc == NN_OK && !x) rc = NN_ERR;
    for (int i = 0; rc == NN_OK && i < a->npos; i++) {
        int h = 0, w = 0;
        rc = nn_image_file_read(a->pos[i], in, x, &h, &w);
        uint64_t id = (uint64_t)i;
        nn_ctx c = {.train = false, .n = 1, .global_n = 1, .sample_ids = &id};
        const float *logits;
        if (rc == NN_OK) rc = nn_net_forward(&net, &c, x, &logits);
        if (rc == NN_OK) rc = nn_net_check_outputs(&net, logits, 1, NAN);
        if (rc != NN_OK) break;
        printf("%s%s: ", a->pos[i], h != in.h || w != in.w ? " (resized)" : "");
        print_top(logits, k, a->top, names);
    }
    if (x) nn_net_free(&net);
    free(x);
    nn_ckpt_free_names(names, k);
    return rc;
}

int cmd_predict(const nn_args *a, nn_dist *d) {
    (void)d;
    if (a->npos > 0) {
        if (a->index >= 0)
            return nn_usage("predict: give --index I (a test image) or IMAGE files, not both");
        return predict_files(a);
    }
    char buf[512];
    const char *data;
    bool from_ckpt;
    nn_part part = NN_PART_ALL;
    NN_TRY(data_of(a, a->checkpoint, buf, sizeof buf, &data, &from_ckpt, &part));
    nn_dataset test;
    NN_TRY(nn_data_open(&test, data, "test", part));
    nn_net net;
    int rc = build_net_from(a, a->checkpoint, data, test.shape, test.classes, test.class_names,
                            1, &net);
    if (rc != NN_OK) {
        nn_dataset_free(&test);
        return NN_ERR;
    }
    char *const *names = test.class_names;
    if (a->index >= 0) {
        rc = (size_t)a->index < test.count
                 ? predict_one(a, &net, &test, a->index, names)
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
            if (rc == NN_OK) rc = predict_one(a, &net, &test, i, names);
            seen++;
        }
        free(line);
        if (rc == NN_OK && !seen)
            rc = nn_fail("stdin: empty; expected a test-image index 0..%zu (e.g. echo 7 | "
                         "nntrain predict), or give IMAGE files",
                         test.count - 1);
    }
    nn_net_free(&net);
    nn_dataset_free(&test);
    return rc;
}

int cmd_loss(const nn_args *a, nn_dist *d) {
    (void)d;
    char buf[512];
    const char *data;
    bool from_ckpt;
    nn_part part = NN_PART_ALL;
    NN_TRY(data_of(a, a->checkpoint, buf, sizeof buf, &data, &from_ckpt, &part));
    nn_dataset train;
    NN_TRY(nn_data_open(&train, data, "train", part));
    const int B = a->train.batch;
    nn_net net;
    int rc = build_net_from(a, a->checkpoint, data, train.shape, train.classes, train.class_names,
                            B, &net);
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
        if ((rc = nn_net_check_outputs(&net, logits, B, sum)) == NN_OK)
            printf("cross-entropy: %.6f (mean over %d random training images, seed %llu)\n",
                   sum / B, B, (unsigned long long)a->train.seed);
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

/* What eval prints after accuracy, loss and samples: balanced accuracy and
 * macro F1, one line per class (precision, recall, F1, support), then the
 * confusion matrix with the classes named (metrics.h: 0/0 counts as 0). */
static int print_eval_metrics(const double *conf, int k, char *const *names) {
    nn_class_metrics *per = nn_alloc((size_t)k * sizeof *per, "per-class metrics");
    if (!per) return NN_ERR;
    nn_metrics m;
    nn_confusion_metrics(conf, k, per, &m);
    printf("balanced_accuracy: %.4f\nmacro_f1: %.4f\n", m.balanced_accuracy, m.macro_f1);
    char buf[256];
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
int cmd_eval(const nn_args *a, nn_dist *dist) {
    if (!a->checkpoint) return nn_usage("eval needs --checkpoint FILE (a trained model)");
    char buf[512];
    const char *data;
    bool from_ckpt;
    nn_part part = {.rank = dist->rank, .nranks = dist->size, .cache = a->train.cache,
                    .local_ranks = dist->local_size,
                    .limit = a->train.test_limit > 0 ? (size_t)a->train.test_limit : 0};
    int rc = data_of(a, a->checkpoint, buf, sizeof buf, &data, &from_ckpt, &part);
    NN_TRY(nn_dist_check(dist, rc));
    nn_dataset test;
    rc = nn_data_open(&test, data, "test", part);
    NN_TRY(nn_dist_check(dist, rc));
    nn_net nets[NN_MAX_ENSEMBLE], *ptrs[NN_MAX_ENSEMBLE];
    int built = 0;
    while (rc == NN_OK && built < a->nensemble) {
        const int lrc = build_net_from(a, a->ensemble[built], data, test.shape, test.classes,
                                       test.class_names, 100, &nets[built]);
        if (lrc == NN_OK) ptrs[built] = &nets[built], built++;
        rc = nn_dist_check(dist, lrc); /* a net built here is freed below if another failed */
    }
    const int k = test.classes;
    nn_eval_result r = {.tta = a->tta, .reflect = a->train.crop_reflect,
                        .progress = a->train.progress, .show = dist->rank == 0};
    if (rc == NN_OK) {
        r.confusion = nn_calloc((size_t)k * k, sizeof(double), "confusion");
        rc = nn_dist_check(dist, r.confusion ? NN_OK : NN_ERR);
    }
    if (rc == NN_OK) rc = nn_evaluate_ensemble(ptrs, a->nensemble, &test, dist, &r);
    if (rc == NN_OK && dist->rank == 0) {
        printf("data: %s%s, test split: %.0f samples%s%s\n", data,
               from_ckpt ? " (the checkpoint's)" : "", r.count,
               part.val_split > 0 ? " held out of train/ (--val-split)" : "",
               a->train.test_limit > 0 ? " (--test-limit)" : "");
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
