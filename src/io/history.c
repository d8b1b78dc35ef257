/* history.c: the per-epoch table and its CSV form. */
#include "nn/history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/error.h"
#include "nn/fileutil.h"

const char *const nn_history_columns[NN_H_COLS] = {
    "epoch", "train_loss", "train_acc", "test_loss", "test_acc",
    "seconds", "images_per_s", "allreduce_share", "lr"};

int nn_history_add(nn_history *h, const double *row) {
    if (h->rows == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 16;
        double *v = realloc(h->v, cap * NN_H_COLS * sizeof *v);
        if (!v) return nn_fail("out of memory growing the history");
        h->v = v;
        h->cap = cap;
    }
    memcpy(h->v + h->rows * NN_H_COLS, row, NN_H_COLS * sizeof *row);
    h->rows++;
    return NN_OK;
}

void nn_history_free(nn_history *h) {
    free(h->v);
    memset(h, 0, sizeof *h);
}

/* Written to a temp file (stale temps of killed writers are removed first by
 * nn_open_temp), fsynced and renamed: a failure, a full disk included, leaves
 * the previous file as it was and says why. */
int nn_history_write_csv(const nn_history *h, const char *path) {
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) return nn_fail("%s: out of memory", path);
    FILE *f = nn_open_temp(path, tmp, n);
    if (!f) {
        free(tmp);
        return NN_ERR;
    }
    for (int c = 0; c < NN_H_COLS; c++) fprintf(f, "%s%s", c ? "," : "", nn_history_columns[c]);
    fputc('\n', f);
    for (size_t r = 0; r < h->rows; r++) {
        const double *v = h->v + r * NN_H_COLS;
        fprintf(f, "%d,%.6f,%.6f,%.6f,%.6f,%.3f,%.0f,%.4f,%.6g\n", (int)v[0], v[1], v[2], v[3],
                v[4], v[5], v[6], v[7], v[8]);
    }
    int rc = nn_commit_temp(f, tmp, path);
    free(tmp);
    return rc;
}
