/* history.c: the per-epoch table and its CSV form. */
#include "nn/history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/error.h"
#include "nn/fileutil.h"

const nn_hcol nn_history_classify[NN_H_COLS] = {
    {"epoch", "%.0f"},          {"train_loss", "%.6f"},   {"train_acc", "%.6f"},
    {"test_loss", "%.6f"},      {"test_acc", "%.6f"},     {"seconds", "%.3f"},
    {"images_per_s", "%.0f"},   {"allreduce_share", "%.4f"}, {"lr", "%.6g"},
    {"test_bal_acc", "%.6f"}};

const nn_hcol nn_history_gan[NN_HG_COLS] = {
    {"epoch", "%.0f"},        {"d_loss", "%.6f"}, {"g_loss", "%.6f"},
    {"d_real", "%.6f"},       {"d_fake", "%.6f"}, {"seconds", "%.3f"},
    {"images_per_s", "%.0f"}, {"allreduce_share", "%.4f"}, {"lr", "%.6g"}};

void nn_history_init(nn_history *h, const nn_hcol *cols, int ncols) {
    memset(h, 0, sizeof *h);
    h->cols = cols;
    h->ncols = ncols;
}

int nn_history_ncols(const nn_history *h) { return h->cols ? h->ncols : NN_H_COLS; }

const nn_hcol *nn_history_cols(const nn_history *h) {
    return h->cols ? h->cols : nn_history_classify;
}

int nn_history_min_cols(const nn_history *h) {
    return nn_history_cols(h) == nn_history_classify ? NN_H_COLS_V1 : nn_history_ncols(h);
}

int nn_history_add(nn_history *h, const double *row) {
    const size_t nc = (size_t)nn_history_ncols(h);
    if (h->rows == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 16;
        double *v = realloc(h->v, cap * nc * sizeof *v);
        if (!v) return nn_fail("out of memory growing the history");
        h->v = v;
        h->cap = cap;
    }
    memcpy(h->v + h->rows * nc, row, nc * sizeof *row);
    h->rows++;
    return NN_OK;
}

void nn_history_free(nn_history *h) {
    free(h->v);
    h->v = NULL;
    h->rows = h->cap = 0; /* the columns stay: the history is empty, not undefined */
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
    const int nc = nn_history_ncols(h);
    const nn_hcol *cols = nn_history_cols(h);
    for (int c = 0; c < nc; c++) fprintf(f, "%s%s", c ? "," : "", cols[c].name);
    fputc('\n', f);
    for (size_t r = 0; r < h->rows; r++) {
        for (int c = 0; c < nc; c++) {
            if (c) fputc(',', f);
            fprintf(f, cols[c].fmt, h->v[r * (size_t)nc + (size_t)c]);
        }
        fputc('\n', f);
    }
    int rc = nn_commit_temp(f, tmp, path);
    free(tmp);
    return rc;
}
