/* progress.h: rank 0's display of a long loop (an epoch, an evaluation, a
 * sampling run). On a terminal a bar redrawn in place (at most 4 times a
 * second); on a pipe or a log file one line every NNTRAIN_PROGRESS_SECONDS
 * (10 s default), so that `mpirun ... | tee log` and Slurm logs show a run
 * moving. Each shows done/total, the caller's running statistics, items/s
 * and the time left. */
#ifndef NN_PROGRESS_H
#define NN_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

enum { NN_PROGRESS_AUTO, NN_PROGRESS_BAR, NN_PROGRESS_LINES, NN_PROGRESS_OFF };

typedef struct {
    int mode;          /* NN_PROGRESS_BAR, _LINES or _OFF once started */
    char what[64];     /* "epoch 3/10", "eval" */
    const char *unit;  /* "img/s" */
    size_t total;
    double t0, last, every;
    bool drawn;
} nn_meter;

/* mode: NN_PROGRESS_* as asked (AUTO: a bar on a terminal, else lines);
 * show false (another rank, --quiet) makes it OFF. */
void nn_meter_start(nn_meter *m, int mode, bool show, const char *what, size_t total);
/* done of total, items processed so far (for the rate), stats such as
 * "loss 0.3123 acc 0.912" (may be NULL). */
void nn_meter_update(nn_meter *m, size_t done, double items, const char *stats);
/* Clears the bar (a line mode prints nothing more). */
void nn_meter_end(nn_meter *m);

#endif
