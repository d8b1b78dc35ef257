/* history.h: per-epoch metrics, kept in memory, written as CSV and stored in
 * the checkpoint so a resumed run continues its history.
 *
 * Columns are only ever appended, so scripts that read history.csv by column
 * number keep working. The classifier's test_bal_acc (the test split's
 * balanced accuracy, metrics.h) came after the first nine: a checkpoint of
 * the builds before it holds (epochs, NN_H_COLS_V1) and loads with NaN in
 * that column ("nan" in history.csv: not measured). */
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
    NN_H_TEST_BAL_ACC, /* mean per-class recall on the test split (metrics.h) */
    NN_H_COLS
};
#define NN_H_COLS_V1 9 /* the classifier's columns before test_bal_acc */

/* A column: its name in history.csv and the printf format of its values. */
typedef struct {
    const char *name, *fmt;
} nn_hcol;

/* The classifier's columns (the enum above) and a GAN's. */
extern const nn_hcol nn_history_classify[NN_H_COLS];
enum {
    NN_HG_EPOCH,
    NN_HG_D_LOSS,   /* discriminator: mean BCE over real (target 1) and fake (0) */
    NN_HG_G_LOSS,   /* generator: mean -log D(G(z)) */
    NN_HG_D_REAL,   /* mean D(x) over real images */
    NN_HG_D_FAKE,   /* mean D(G(z)) over the fakes of the D step */
    NN_HG_SECONDS,
    NN_HG_IMAGES_PER_S, /* real training images per second */
    NN_HG_WAIT_SHARE,
    NN_HG_LR,
    NN_HG_COLS
};
extern const nn_hcol nn_history_gan[NN_HG_COLS];

typedef struct {
    size_t rows, cap;
    const nn_hcol *cols; /* NULL = the classifier's (a zeroed history) */
    int ncols;
    double *v; /* (rows, ncols) */
} nn_history;

/* An empty history with these columns. */
void nn_history_init(nn_history *h, const nn_hcol *cols, int ncols);
/* The columns of h (the classifier's for a zeroed one). */
int nn_history_ncols(const nn_history *h);
const nn_hcol *nn_history_cols(const nn_history *h);
/* The fewest columns a stored table of h's kind may have: older builds wrote
 * fewer (NN_H_COLS_V1 for a classifier); the columns they lack load as NaN.
 * A GAN's table has always had all of its columns. */
int nn_history_min_cols(const nn_history *h);
int nn_history_add(nn_history *h, const double *row);
void nn_history_free(nn_history *h);
/* Write CSV atomically (temp + rename). */
int nn_history_write_csv(const nn_history *h, const char *path);

#endif
