/* history.h: per-epoch metrics, kept in memory, written as CSV and stored in
 * the checkpoint so a resumed run continues its history. */
#ifndef NN_HISTORY_H
#define NN_HISTORY_H

#include <stddef.h>

enum {
    NN_H_EPOCH,
    NN_H_TRAIN_LOSS,
    NN_H_TRAIN_ACC,
    NN_H_TEST_LOSS,
    NN_H_TEST_ACC,
    NN_H_SECONDS,
    NN_H_IMAGES_PER_S,
    NN_H_WAIT_SHARE,
    NN_H_LR,
    NN_H_COLS
};

typedef struct {
    size_t rows, cap;
    double *v; /* (rows, NN_H_COLS) */
} nn_history;

extern const char *const nn_history_columns[NN_H_COLS];
int nn_history_add(nn_history *h, const double *row);
void nn_history_free(nn_history *h);
/* Write CSV atomically (temp + rename). */
int nn_history_write_csv(const nn_history *h, const char *path);

#endif
