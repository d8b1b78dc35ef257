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
#include "nn/plot.h"
#include "nn/rng.h"
#include "nn/train.h"

/* Build the net for eval/predict/loss/summary: from the checkpoint when one
 * is given (its spec, its weights), else from --model with random weights. */
static int build_net(const nn_args *a, nn_shape in, int classes, char *const *data_names,
                     int max_n, nn_net *net) {
    if (a->checkpoint) {
        char *spec = NULL;
        nn_shape cin;
        int ccls;
        NN_TRY(nn_ckpt_read_model(a->checkpoint, &spec, &cin, &ccls));
        int rc = NN_OK;
        if (cin.c != in.c || cin.h != in.h || cin.w != in.w || ccls != classes)
            rc = nn_fail("%s: checkpoint is for input (%d, %d, %d) with %d classes, but --data %s "
                         "has (%d, %d, %d) with %d",
                         a->checkpoint, cin.c, cin.h, cin.w, ccls, a->train.data, in.c, in.h,
                         in.w, classes);
        char **names = NULL;
        if (rc == NN_OK) rc = nn_ckpt_read_class_names(a->checkpoint, classes, &names);
        if (rc == NN_OK) rc = nn_class_names_check(a->checkpoint, names, a->train.data, data_names, classes);
        nn_ckpt_free_names(names, classes);
        if (rc == NN_OK)
            rc = nn_net_create(net, spec, a->checkpoint, in, classes, max_n, nn_backend_cpu());
        free(spec);
        NN_TRY(rc);
        if (nn_ckpt_load(a->checkpoint, net, NULL, NULL, NULL) != NN_OK) {
            nn_net_free(net);
            return NN_ERR;
        }
        return NN_OK;
    }
    char *spec = nn_model_resolve(a->train.model, a->train.hidden, classes);
    if (!spec) return NN_ERR;
    int rc = nn_net_create(net, spec, nn_model_origin(a->train.model), in, classes, max_n,
                           nn_backend_cpu());
    free(spec);
    NN_TRY(rc);
    nn_net_init(net, a->train.seed);
    return NN_OK;
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
        printf("cross-entropy: %.6f (mean over %d random training images, seed %llu)\n", sum / B,
               B, (unsigned long long)a->train.seed);
    }
    free(x), free(labels), free(ids);
    nn_net_free(&net);
    nn_dataset_free(&train);
    return rc;
}

static int write_confusion_csv(const char *path, const double *conf, int k) {
    char tmp[1100];
    FILE *f = nn_open_temp(path, tmp, sizeof tmp);
    if (!f) return NN_ERR;
    fputs("true\\pred", f);
    for (int j = 0; j < k; j++) fprintf(f, ",%d", j);
    fputc('\n', f);
    for (int i = 0; i < k; i++) {
        fprintf(f, "%d", i);
        for (int j = 0; j < k; j++) fprintf(f, ",%.0f", conf[i * k + j]);
        fputc('\n', f);
    }
    return nn_commit_temp(f, tmp, path);
}

static int cmd_eval(const nn_args *a, nn_dist *dist) {
    if (!a->checkpoint) return nn_fail("eval needs --checkpoint FILE (a trained model)");
    nn_dataset test;
    int rc = nn_data_open(&test, a->train.data, "test", (nn_part){dist->rank, dist->size, 0});
    NN_TRY(nn_dist_check(dist, rc));
    nn_net net;
    rc = nn_dist_check(dist, build_net(a, test.shape, test.classes, test.class_names, 100, &net));
    if (rc != NN_OK) {
        nn_dataset_free(&test);
        return NN_ERR;
    }
    const int k = test.classes;
    nn_eval_result r = {.confusion = nn_calloc((size_t)k * k, sizeof(double), "confusion")};
    rc = r.confusion ? NN_OK : NN_ERR;
    rc = nn_dist_check(dist, rc);
    if (rc == NN_OK) rc = nn_evaluate(&net, &test, dist, &r);
    if (rc == NN_OK && dist->rank == 0) {
        printf("accuracy: %.4f\nloss: %.4f\nsamples: %.0f\n", r.correct / r.count,
               r.loss_sum / r.count, r.count);
        printf("confusion matrix (rows = true class, columns = predicted):\n     ");
        for (int j = 0; j < k; j++) printf(" %5d", j);
        printf("\n");
        for (int i = 0; i < k; i++) {
            printf("%5d", i);
            for (int j = 0; j < k; j++) printf(" %5.0f", r.confusion[i * k + j]);
            printf("\n");
        }
        if (a->confusion_csv) rc = write_confusion_csv(a->confusion_csv, r.confusion, k);
        if (rc == NN_OK && a->confusion_png) {
            char title[300];
            snprintf(title, sizeof title, "%s: accuracy %.4f", a->checkpoint,
                     r.correct / r.count);
            rc = nn_plot_confusion(a->confusion_png, r.confusion, k, title, test.class_names);
        }
    }
    rc = nn_dist_check(dist, rc);
    free(r.confusion);
    nn_net_free(&net);
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
 * two checkpoints of the same model (used by the multi-rank tests). */
static int cmd_compare(const nn_args *a) {
    if (!a->compare_a || !a->compare_b) return nn_fail("usage: nntrain compare A.h5 B.h5");
    char *spec = NULL;
    nn_shape in;
    int classes;
    NN_TRY(nn_ckpt_read_model(a->compare_a, &spec, &in, &classes));
    nn_net na, nb;
    int rc = nn_net_create(&na, spec, a->compare_a, in, classes, 1, nn_backend_cpu());
    if (rc == NN_OK) {
        rc = nn_net_create(&nb, spec, a->compare_a, in, classes, 1, nn_backend_cpu());
        if (rc != NN_OK) nn_net_free(&na);
    }
    free(spec);
    NN_TRY(rc);
    rc = nn_ckpt_load(a->compare_a, &na, NULL, NULL, NULL);
    if (rc == NN_OK) rc = nn_ckpt_load(a->compare_b, &nb, NULL, NULL, NULL);
    if (rc == NN_OK) {
        /* fmax() drops a NaN: compare by hand so a NaN or Inf on either side
         * shows as an infinite difference, never as 0. */
        double max_abs = 0, max_rel = 0;
        size_t nonfinite = 0;
        for (size_t i = 0; i < na.nparams; i++) {
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
        printf("parameters: %zu  max_abs_diff: %.3e  max_rel_diff: %.3e\n", na.nparams, max_abs,
               max_rel);
        if (nonfinite)
            rc = nn_fail("compare: %zu parameter(s) are NaN or infinite in %s or %s", nonfinite,
                         a->compare_a, a->compare_b);
    }
    nn_net_free(&na);
    nn_net_free(&nb);
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

int nn_cli_run(const nn_args *a, nn_dist *dist) {
    const char *c = a->cmd;
    if (!strcmp(c, "train")) return nn_train(&a->train, dist);
    if (!strcmp(c, "eval")) return cmd_eval(a, dist);
    /* The rest are single-process tools: rank 0 does the work. */
    if (!strcmp(c, "predict")) return dist->rank == 0 ? cmd_predict(a) : NN_OK;
    if (!strcmp(c, "loss")) return dist->rank == 0 ? cmd_loss(a) : NN_OK;
    if (!strcmp(c, "summary")) return dist->rank == 0 ? cmd_summary(a) : NN_OK;
    if (!strcmp(c, "compare")) return dist->rank == 0 ? cmd_compare(a) : NN_OK;
    if (!strcmp(c, "plot")) return dist->rank == 0 ? cmd_plot(a) : NN_OK;
    return nn_fail("unknown command '%s' (train, eval, predict, loss, summary, compare, plot; see --help)", c);
}
