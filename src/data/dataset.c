/* dataset.c: data set names -> loaders, shards, batch reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/data.h"
#include "nn/error.h"

nn_shard nn_shard_of(size_t count, int rank, int nranks) {
    nn_shard s = {count * (size_t)rank / (size_t)nranks,
                  count * (size_t)(rank + 1) / (size_t)nranks};
    return s;
}

void nn_dataset_free(nn_dataset *d) {
    if (d->ops && d->ops->free) d->ops->free(d);
    free(d->priv);
    memset(d, 0, sizeof *d);
}

int nn_dataset_get_batch(const nn_dataset *d, const uint64_t *ids, int n, float *x, int *labels) {
    size_t dim = nn_shape_size(d->shape);
    for (int i = 0; i < n; i++) NN_TRY(d->ops->get(d, ids[i], x + (size_t)i * dim, &labels[i]));
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

typedef struct {
    char images[1200], labels[1200];
    int classes;
} idx_paths;

static int idx_resolve(const char *spec, const char *split, idx_paths *p) {
    char kind[64], dir[1024];
    const char *colon = strchr(spec, ':');
    size_t klen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (klen >= sizeof kind) klen = sizeof kind - 1;
    memcpy(kind, spec, klen);
    kind[klen] = 0;
    const char *fallback = NULL;
    if (!strcmp(kind, "mnist"))
        fallback = NULL;
    else if (!strcmp(kind, "fashion-mnist"))
        fallback = "/usr/share/datasets/fashion-mnist";
    else
        return nn_fail("--data %s: unknown data set '%s' (known: mnist[:DIR], "
                       "fashion-mnist[:DIR])",
                       spec, kind);
    if (colon)
        snprintf(dir, sizeof dir, "%s", colon + 1);
    else
        default_dir(dir, sizeof dir, kind, fallback);
    const char *pre = !strcmp(split, "train") ? "train" : "t10k";
    char name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", pre);
    pick_file(p->images, sizeof p->images, dir, name);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", pre);
    pick_file(p->labels, sizeof p->labels, dir, name);
    p->classes = 10;
    if (access(p->images, R_OK) != 0)
        return nn_fail("%s: not found (--data %s, %s split); HINT: run `datasets/fetch %s` or "
                       "give --data %s:DIR",
                       p->images, spec, split, kind, kind);
    return NN_OK;
}

int nn_data_open(nn_dataset *d, const char *spec, const char *split, nn_part part) {
    idx_paths p;
    NN_TRY(idx_resolve(spec, split, &p));
    return nn_idx_open(d, p.images, p.labels, p.classes, part);
}
