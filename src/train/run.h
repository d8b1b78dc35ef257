/* run.h: what the training skeleton (train.c) and the kinds of training it
 * drives (classify.c, gan.c) share. Private to src/train/.
 *
 * The skeleton owns everything a run does whatever it trains: --out and its
 * lock, resuming, the data (this rank's shard of the train and test splits,
 * checked against each other), the sample order of each epoch and this
 * rank's slice of every global batch (balanced, augmented), stop signals and
 * the watchdog, mid-epoch and periodic checkpoints, history.csv, the
 * per-epoch line, --keep-best, the replica check and the time profile.
 *
 * A mode (nn_mode) is the rest: its nets and optimizers, one optimizer step
 * on a slice, what an epoch reports, how it is saved. Adding a kind of
 * training = one file with an nn_mode + one line in modes[] (train.c). */
#ifndef NN_TRAIN_RUN_H
#define NN_TRAIN_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "nn/train.h"

/* Where each rank's time goes (--profile, and a summary at the end). */
enum { P_DATA, P_EXCHANGE, P_FORWARD, P_BACKWARD, P_WAIT, P_REDUCE, P_OPTIM, P_EVAL, P_CKPT, P_N };

#define NN_RUN_METRICS 6 /* per-step sums a mode reports (at most) */

typedef struct nn_run nn_run;

/* One optimizer step on global batch b of an epoch. */
typedef struct {
    int epoch;
    size_t b, nb;
    uint64_t step;  /* 1-based, counted over the whole run */
    int n;          /* this rank's real samples: r->x, r->labels, r->ids */
    int global_n;   /* real samples in the global batch */
    int rc;         /* NN_OK, or this rank's failure so far (the batch read): the mode
                       carries it in its reduction so every rank stops together */
    float lr;
    /* Out: */
    double m[NN_RUN_METRICS]; /* the step's sums over all ranks (mode-defined) */
    bool stop;                /* some rank caught a stop signal (guard.h) */
} nn_step;

typedef struct {
    const char *name;    /* the command: "train", "gan" */
    const nn_hcol *cols; /* history.csv columns */
    int ncols;
    /* The skeleton's columns in it: seconds, then images/s, allreduce share
     * and lr (columns appended later, e.g. the classifier's test_bal_acc,
     * follow them). */
    int seconds_col;
    const char *kind;    /* checkpoint kind (NN_CKPT_*) */
    /* Real samples each step draws from the data, for a global batch B. */
    int (*draw)(const nn_train_cfg *cfg);
    /* Build the nets and optimizers for r->train's shape and classes, from
     * r->resume when set (its nets' specs), initialised from cfg->seed.
     * Collective (all ranks succeed or fail). */
    int (*create)(nn_run *r);
    /* A fresh run's data-dependent start (e.g. normalize statistics). */
    int (*prepare)(nn_run *r);
    /* Rank 0: load r->resume into the nets, optimizers, r->st and r->hist. */
    int (*load)(nn_run *r);
    /* Broadcast what rank 0 holds (parameters, state, optimizer slots). */
    int (*bcast)(nn_run *r);
    int (*step)(nn_run *r, nn_step *s);
    /* After the epoch's last step (collective): the history row from the
     * epoch's metric sums `m` (over its steps); e.g. evaluate the test split. */
    int (*epoch_row)(nn_run *r, int epoch, const double *m, double *row);
    /* The per-epoch line (rank 0), e.g. "  1   0.2345 ...". */
    void (*print_row)(const nn_run *r, const double *row);
    const char *header;  /* the line above those rows */
    int best_col;        /* the history column --keep-best maximises (-1: none) */
    int (*save)(nn_run *r, const char *path); /* rank 0 */
    int (*after_save)(nn_run *r, int epoch);  /* rank 0, optional (sample grids) */
    /* Bytes of one checkpoint (free-space check) and a hash of all parameters
     * (replica check). */
    double (*ckpt_bytes)(const nn_run *r);
    uint64_t (*hash)(const nn_run *r, uint64_t h);
    void (*describe)(const nn_run *r, char *buf, size_t n); /* "123 parameters, optimizer adam" */
    /* The progress display's running figures from an epoch's sums so far, e.g.
     * "loss 0.3123 acc 0.912". */
    void (*running)(const double *m, char *buf, size_t n);
    /* The nets it trains and their names, at most max (--profile times
     * their layers); returns how many. */
    int (*nets)(nn_run *r, struct nn_net **nets, const char **names, int max);
    void (*free)(nn_run *r);
} nn_mode;

extern const nn_mode nn_mode_classify, nn_mode_gan;

struct nn_run {
    const nn_mode *mode;
    void *m; /* the mode's own state */
    const nn_train_cfg *cfg;
    nn_dist *dist;
    nn_dataset train, test;
    nn_history hist;
    nn_train_state st;
    const char *resume; /* the checkpoint resumed from (cfg->resume, or auto's pick) */
    int draw;           /* real samples per global step */
    float *x;           /* (draw, C*H*W) this rank's slice of the batch */
    int *labels;
    uint64_t *ids;
    uint32_t *order;
    size_t train_count;
    /* Streamed training data: the next batches are decoded by worker threads
     * while the step runs (NULL for data held in memory). */
    struct nn_prefetch *pf;
    int pf_depth, pf_workers;
    uint64_t *pf_ids;
    char **skip[2]; /* --skip-bad: the bad paths of train, test (sorted) */
    size_t nskip[2];
    int *owned, *flow, *send_bytes, *recv_bytes; /* slice balancing, per rank */
    unsigned char *xfer;                         /* samples in transit */
    int lock_fd;                                 /* OUT/.lock, held while training (rank 0) */
    double last_save;                            /* when the last checkpoint was written */
    int pending_rc;     /* a periodic save failed on rank 0: reported at the next step */
    bool warned_growth; /* the exploding-loss warning was given */
    double prof[P_N];   /* this rank's seconds per phase, whole run */
    uint64_t steps_run; /* optimizer steps this process took (per-layer times per step) */
    uint64_t layer_steps; /* of them, the ones in the per-layer times (all but the first) */
    double prof_epoch[P_N];
    char ckpt[1100], csv[1100], best[1100], lock[1100], config[1024];
};

/* Was the flag given (train.h: the parser's bit, else a value other than
 * the default)? */
static inline bool nn_run_model_given(const nn_train_cfg *c) {
    return c->model_given || c->hidden_given || c->hidden != 0 ||
           (c->model && strcmp(c->model, NN_DEFAULT_MODEL) != 0);
}
static inline bool nn_run_z_dim_given(const nn_train_cfg *c) {
    return c->z_dim_given || (c->z_dim != 0 && c->z_dim != NN_DEFAULT_Z_DIM);
}
/* A resumed checkpoint's spec `saved` (of `part`, e.g. "the model", "the
 * generator") against what the flag `flag` = `value` resolves to (`want`):
 * an error naming both when their canonical forms differ. */
int nn_run_same_spec(const char *ckpt, const char *part, const char *saved, const char *flag,
                     const char *value, const char *want);

double nn_run_now(void);
/* Add the seconds since `since` to a phase of the profile. */
void nn_run_prof(nn_run *r, int phase, double since);
/* Test hooks (NNTRAIN_TEST_SIGNAL / _STALL) at the start of a step. */
void nn_run_test_hooks(const nn_dist *d, unsigned long long step);
void nn_run_test_hook_reduce(const nn_dist *d, unsigned long long step);
/* What modes do with their nets (run.h's helpers, one copy for all modes):
 * broadcast a net's parameters and state, and its optimizer's slots and step
 * count when o is not NULL, from rank 0 (collective); copy parameters and
 * state into a net of the same spec; move a moving average one step towards
 * a net (nn_ema_update over parameters and state); hash the parameters. */
int nn_run_bcast_net(nn_dist *d, nn_net *net, nn_optim *o);
void nn_run_copy_weights(nn_net *dst, const nn_net *src);
void nn_run_ema_update(nn_net *avg, const nn_net *net, float decay, uint64_t t);
uint64_t nn_run_hash_params(const nn_net *net, uint64_t h);
/* Train r's mode as configured; NN_OK, NN_ERR or NN_TRAIN_STOPPED. */
int nn_run_train(const nn_mode *mode, const nn_train_cfg *cfg, nn_dist *dist);

#endif
