/* dataset.c: data set names -> loaders, shards, batch reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/data.h"
#include "nn/error.h"
#include "nn/hot.h"

nn_shard nn_shard_of(size_t count, int rank, int nranks) {
    nn_shard s = {count * (size_t)rank / (size_t)nranks,
                  count * (size_t)(rank + 1) / (size_t)nranks};
    return s;
}

/* The largest r with begin(r) = floor(count r / N) <= i, i.e. count r < N (i + 1):
 * r = (N (i + 1) - 1) / count. One division, per member of every batch. */
int nn_shard_owner(size_t count, int nranks, size_t i) {
    return (int)(((size_t)nranks * (i + 1) - 1) / count);
}

const char *nn_dataset_source(const nn_dataset *d, size_t i) {
    return d->ops && d->ops->source ? d->ops->source(d, i) : NULL;
}

void nn_dataset_free(nn_dataset *d) {
    if (d->ops && d->ops->free) d->ops->free(d);
    if (d->class_names) {
        for (int c = 0; c < d->classes; c++) free(d->class_names[c]);
        free(d->class_names);
    }
    free(d->priv);
    memset(d, 0, sizeof *d);
}

int nn_dataset_held(const nn_dataset *d, size_t i, size_t begin, size_t end, size_t *pos) {
    if (i < d->shard.begin || i >= d->shard.end || i < begin || i >= end)
        return nn_fail("%s: sample %zu is outside this process's shard [%zu, %zu)", d->name, i,
                       d->shard.begin, d->shard.end);
    *pos = i - begin;
    return NN_OK;
}

NN_HOT void nn_bytes_to_unit(const uint8_t *restrict px, size_t n, float *restrict x) {
    for (size_t k = 0; k < n; k++) x[k] = (float)px[k] / 255.0f;
}

int nn_dataset_get_batch(const nn_dataset *d, const uint64_t *ids, int n, float *x, int *labels) {
    size_t dim = nn_shape_size(d->shape);
    for (int i = 0; i < n; i++) NN_TRY(d->ops->get(d, ids[i], x + (size_t)i * dim, &labels[i]));
    return NN_OK;
}

int nn_dataset_label_counts(const nn_dataset *d, double *counts) {
    for (int c = 0; c < d->classes; c++) counts[c] = 0;
    float *x = d->ops->label ? NULL : nn_alloc(nn_shape_size(d->shape) * sizeof *x, "label counts");
    if (!d->ops->label && !x) return NN_ERR;
    int rc = NN_OK;
    for (size_t i = d->shard.begin; rc == NN_OK && i < d->shard.end; i++) {
        int label = -1;
        rc = d->ops->label ? d->ops->label(d, i, &label) : d->ops->get(d, i, x, &label);
        if (rc == NN_OK && (label < 0 || label >= d->classes))
            rc = nn_fail("%s: sample %zu has label %d, expected 0..%d", d->name, i, label,
                         d->classes - 1);
        if (rc == NN_OK) counts[label] += 1;
    }
    free(x);
    return rc;
}

/* "a, b, c" for messages (at most the first 8). */
void nn_class_names_list(char *buf, size_t n, char *const *names, int k) {
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < k && i < 8 && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "", names[i]);
    if (k > 8 && o < n) snprintf(buf + o, n - o, ", ...");
}

/* Class names must agree label by label wherever both sides name them. */
int nn_class_names_check(const char *what_a, char *const *a, const char *what_b, char *const *b,
                       int k) {
    if (!a || !b) return NN_OK;
    for (int i = 0; i < k; i++)
        if (strcmp(a[i], b[i]) != 0) {
            char la[400], lb[400];
            nn_class_names_list(la, sizeof la, a, k);
            nn_class_names_list(lb, sizeof lb, b, k);
            return nn_fail("class %d is '%s' in %s but '%s' in %s (%s: %s; %s: %s): the labels "
                           "would mean different classes",
                           i, a[i], what_a, b[i], what_b, what_a, la, what_b, lb);
        }
    return NN_OK;
}

/* First of DIR/name and DIR/name.gz that exists. */
static void pick_file(char *out, size_t n, const char *dir, const char *name) {
    snprintf(out, n, "%s/%s", dir, name);
    if (access(out, R_OK) == 0) return;
    snprintf(out, n, "%s/%s.gz", dir, name);
    if (access(out, R_OK) == 0) return;
    snprintf(out, n, "%s/%s", dir, name); /* report the plain name */
}

static void default_dir(char *out, size_t n, const char *name, const char *fallback) {
    const char *root = getenv("NNTRAIN_DATA");
    if (root)
        snprintf(out, n, "%s/%s", root, name);
    else if (fallback && access(fallback, R_OK) == 0)
        snprintf(out, n, "%s", fallback);
    else
        snprintf(out, n, "datasets/data/%s", name);
}

#define KNOWN_DATA                                                                         \
    "mnist[:DIR], fashion-mnist[:DIR], cifar10[:DIR] (binary batches), "                   \
    "cifar10-jpeg[:DIR], smiles[:DIR], folder:DIR[:CxS|:CxHxW] (e.g. folder:imgs:3x32)"

static int open_idx(nn_dataset *d, const char *spec, const char *kind, const char *dir_arg,
                    const char *split, nn_part part) {
    char dir[1024], images[1200], labels[1200];
    if (dir_arg)
        snprintf(dir, sizeof dir, "%s", dir_arg);
    else
        default_dir(dir, sizeof dir, kind,
                    !strcmp(kind, "fashion-mnist") ? "/usr/share/datasets/fashion-mnist" : NULL);
    const char *pre = !strcmp(split, "train") ? "train" : "t10k";
    char name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", pre);
    pick_file(images, sizeof images, dir, name);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", pre);
    pick_file(labels, sizeof labels, dir, name);
    if (access(images, R_OK) != 0)
        return nn_fail("%s: not found (--data %s, %s split); HINT: run `datasets/fetch %s` or "
                       "give --data %s:DIR",
                       images, spec, split, kind, kind);
    return nn_idx_open(d, images, labels, 10, part);
}

static int open_cifar(nn_dataset *d, const char *spec, const char *dir_arg, const char *split,
                      nn_part part) {
    char base[1024], dir[1100];
    if (dir_arg)
        snprintf(base, sizeof base, "%s", dir_arg);
    else
        default_dir(base, sizeof base, "cifar10", NULL);
    /* The official archive unpacks to cifar-10-batches-bin/. */
    snprintf(dir, sizeof dir, "%s/cifar-10-batches-bin", base);
    if (access(dir, R_OK) != 0) snprintf(dir, sizeof dir, "%s", base);
    char first[1200];
    snprintf(first, sizeof first, "%s/%s", dir,
             !strcmp(split, "test") ? "test_batch.bin" : "data_batch_1.bin");
    if (access(first, R_OK) != 0)
        return nn_fail("%s: not found (--data %s, %s split: CIFAR-10 binary version, "
                       "data_batch_1..5.bin and test_batch.bin); HINT: run `datasets/fetch "
                       "cifar10` where the network allows or give --data cifar10:DIR; the JPEG "
                       "copy is --data cifar10-jpeg",
                       first, spec, split);
    return nn_cifar_open(d, dir, split, part);
}

/* "CxS" or "CxHxW" -> channels, height, width (0 = from the first image). */
static int parse_cxs(const char *s, int *c, int *h, int *w) {
    long v[3];
    int k = 0;
    const char *t = s;
    for (;;) {
        char *end;
        if (*t < '0' || *t > '9') return NN_ERR;
        v[k++] = strtol(t, &end, 10);
        if (!*end) break;
        if (*end != 'x' || k == 3) return NN_ERR;
        t = end + 1;
    }
    if (k < 2) return NN_ERR;
    if (k == 2) v[2] = v[1];
    if (v[0] != 0 && v[0] != 1 && v[0] != 3) return NN_ERR;
    for (int i = 1; i < 3; i++)
        if (v[i] < 0 || v[i] > 4096) return NN_ERR;
    if (!v[1] != !v[2]) return NN_ERR;
    *c = (int)v[0], *h = (int)v[1], *w = (int)v[2];
    return NN_OK;
}

/* The root folder and the C, H, W a folder kind's spec asks for. */
static int folder_of(const char *spec, const char *kind, const char *arg, const char *split,
                     char dir[1024], int *cp, int *hp, int *wp) {
    int c = 0, h = 0, w = 0;
    if (!strcmp(kind, "folder")) {
        if (!arg || !*arg)
            return nn_fail("--data %s: expected folder:DIR[:CxS|:CxHxW], e.g. folder:imgs:3x32 "
                           "(DIR holds %s/<class>/<image>.{jpg,jpeg,png})",
                           spec, split);
        snprintf(dir, 1024, "%s", arg);
        /* A trailing ":CxS" (the last colon, so DIR may hold colons). */
        char *colon = strrchr(dir, ':');
        if (colon) {
            if (parse_cxs(colon + 1, &c, &h, &w) != NN_OK)
                return nn_fail("--data %s: '%s' is not CxS or CxHxW (channels 1 or 3, or 0 = "
                               "from the first image; then the size in pixels, 1..4096, or 0), "
                               "e.g. folder:imgs:3x32 or folder:faces:3x218x178",
                               spec, colon + 1);
            *colon = 0;
        }
    } else {
        if (!strcmp(kind, "cifar10-jpeg"))
            c = 3, h = w = 32;
        else /* smiles */
            c = 1, h = w = 64;
        if (arg)
            snprintf(dir, 1024, "%s", arg);
        else
            default_dir(dir, 1024, kind, NULL);
        if (access(dir, R_OK) != 0)
            return nn_fail("%s: not found (--data %s); HINT: run `datasets/fetch %s` or give "
                           "--data %s:DIR",
                           dir, spec, !strcmp(kind, "smiles") ? "smiles" : "cifar10", kind);
    }
    *cp = c, *hp = h, *wp = w;
    return NN_OK;
}

static int is_folder_kind(const char *kind) {
    return !strcmp(kind, "folder") || !strcmp(kind, "cifar10-jpeg") || !strcmp(kind, "smiles");
}

/* spec "kind[:arg]" -> kind (at most 63 characters) and arg (NULL if none). */
static const char *split_spec(const char *spec, char kind[64]) {
    const char *colon = strchr(spec, ':');
    size_t klen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (klen >= 64) klen = 63;
    memcpy(kind, spec, klen);
    kind[klen] = 0;
    return colon ? colon + 1 : NULL;
}

int nn_data_check(const char *spec, const char *split, int rank, int nranks, nn_data_report *r) {
    memset(r, 0, sizeof *r);
    char kind[64], dir[1024];
    const char *arg = split_spec(spec, kind);
    if (is_folder_kind(kind)) {
        int c = 0, h = 0, w = 0;
        NN_TRY(folder_of(spec, kind, arg, split, dir, &c, &h, &w));
        return nn_folder_check(dir, split, rank, nranks, r);
    }
    /* IDX, CIFAR: the loaders check everything at open; then count labels. */
    nn_dataset d;
    nn_err_clear();
    const nn_part part = {.rank = rank, .nranks = nranks, .local_ranks = 1};
    if (nn_data_open(&d, spec, split, part) != NN_OK) {
        if (rank != 0) return NN_OK; /* the same failure on every rank: rank 0 says it */
        r->problems = nn_calloc(1, sizeof *r->problems, "problem list");
        if (r->problems) r->problems[0] = strdup(nn_errmsg());
        if (!r->problems || !r->problems[0]) {
            free(r->problems);
            r->problems = NULL;
            return nn_fail("out of memory");
        }
        r->nproblems = 1;
        return NN_OK;
    }
    r->classes = d.classes;
    r->class_count = nn_calloc((size_t)d.classes, sizeof *r->class_count, "class counts");
    r->sizes = nn_alloc(sizeof *r->sizes, "image size table");
    int rc = r->class_count && r->sizes ? nn_dataset_label_counts(&d, r->class_count) : NN_ERR;
    r->checked = d.shard.end - d.shard.begin;
    if (rc == NN_OK) {
        r->nsizes = 1;
        r->sizes[0] = (nn_size_count){d.shape.c, d.shape.h, d.shape.w, r->checked};
        if (d.class_names) {
            r->class_names = d.class_names;
            d.class_names = NULL;
        }
    }
    nn_dataset_free(&d);
    if (rc != NN_OK) nn_data_report_free(r);
    return rc;
}

static int open_folder(nn_dataset *d, const char *spec, const char *kind, const char *arg,
                       const char *split, nn_part part) {
    char dir[1024];
    int c = 0, h = 0, w = 0;
    NN_TRY(folder_of(spec, kind, arg, split, dir, &c, &h, &w));
    return nn_folder_open(d, dir, split, c, h, w, part);
}

int nn_data_open(nn_dataset *d, const char *spec, const char *split, nn_part part) {
    memset(d, 0, sizeof *d);
    char kind[64];
    const char *arg = split_spec(spec, kind);
    if (!strcmp(kind, "mnist") || !strcmp(kind, "fashion-mnist"))
        return open_idx(d, spec, kind, arg, split, part);
    if (!strcmp(kind, "cifar10")) return open_cifar(d, spec, arg, split, part);
    if (is_folder_kind(kind)) return open_folder(d, spec, kind, arg, split, part);
    return nn_fail("--data %s: unknown data set '%s' (known: " KNOWN_DATA ")", spec, kind);
}

int nn_data_shape(const char *spec, nn_shape *shape, int *classes) {
    char kind[64];
    const char *arg = split_spec(spec, kind);
    *classes = 0;
    if (!strcmp(kind, "mnist") || !strcmp(kind, "fashion-mnist")) {
        *shape = (nn_shape){1, 28, 28}, *classes = 10;
        return NN_OK;
    }
    if (!strcmp(kind, "cifar10") || !strcmp(kind, "cifar10-jpeg")) {
        *shape = (nn_shape){3, 32, 32}, *classes = 10;
        return NN_OK;
    }
    if (!strcmp(kind, "smiles")) {
        *shape = (nn_shape){1, 64, 64}, *classes = 2;
        return NN_OK;
    }
    if (!strcmp(kind, "folder")) {
        const char *colon = arg ? strrchr(arg, ':') : NULL;
        int c = 0, h = 0, w = 0;
        if (!colon || parse_cxs(colon + 1, &c, &h, &w) != NN_OK || !c || !h)
            return nn_fail("--data %s: the shape of a folder comes from its images; give it as "
                           "folder:DIR:CxHxW (or --input-shape CxHxW)",
                           spec);
        *shape = (nn_shape){c, h, w};
        return NN_OK;
    }
    return nn_fail("--data %s: unknown data set '%s' (known: " KNOWN_DATA ")", spec, kind);
}
