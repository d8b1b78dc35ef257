/* train.h: the training and evaluation loops, in the library so that tests
 * and every command drive the same code. Data-parallel: each rank computes
 * on its shard's members of every global batch; one allreduce per step sums
 * gradients and metrics; every rank takes the same optimizer step. */
#ifndef NN_TRAIN_H
#define NN_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "nn/checkpoint.h"
#include "nn/data.h"
#include "nn/dist.h"
#include "nn/net.h"
#include "nn/optim.h"

typedef struct {
    const char *data;   /* data set spec, e.g. "mnist" or "mnist:DIR" */
    const char *model;  /* preset, file or inline spec; NULL = NN_DEFAULT_MODEL (mlp) */
    int hidden;         /* width for presets that take one (0 = the preset's) */
    /* Whether --model, --hidden, --z-dim were on the command line (the
     * parser sets them). A resume refuses a given one that differs from
     * what the checkpoint records (so do --generator and --discriminator
     * when not NULL). A parser that does not set them still gets the check
     * for values other than the defaults: model neither NULL nor "mlp",
     * hidden not 0, z_dim neither 0 nor 100 count as given. */
    bool model_given, hidden_given, z_dim_given;
    int epochs;         /* total epochs to reach (a resumed run continues to it) */
    int batch;          /* GLOBAL batch */
    uint64_t seed;
    nn_optim_cfg optim;
    nn_sched sched;
    const char *out_dir; /* results/RUN: history.csv, checkpoint.h5 (rank 0) */
    const char *resume;  /* checkpoint to continue from, "auto" (OUT/checkpoint.h5 when
                            it exists, else a fresh start), or NULL */
    double checkpoint_every; /* minutes between mid-epoch checkpoints (0 = epoch ends only) */
    bool keep_best;      /* also keep OUT/best.h5, the epoch with the best test accuracy */
    double step_timeout; /* seconds without progress before the job is ended (0 = never) */
    bool profile;        /* per-rank time breakdown after every epoch */
    long train_limit;    /* use only the first N training samples (0 = all) */
    bool bn_sync;        /* BatchNorm over the global batch (default) or each rank's slice */
    int crop_pad;        /* augmentation: random crop with this padding (0 = off) */
    bool crop_reflect;   /* --crop-fill reflect: the padding mirrors the image (else 0) */
    bool flip;           /* augmentation: random horizontal flip */
    bool flip_alternate; /* --flip alternate: each sample's flip is drawn once and
                            taken in even epochs, the other way in odd ones */
    /* --lookahead K:E (train): from epoch E (0-based) on, every K steps the
     * weights and BatchNorm statistics move to an average that follows
     * them, avg = rho avg + (1 - rho) w, then w = avg, with
     * rho = 0.95^K (step / total steps)^3 (airbench's lookahead); after each
     * epoch w = avg. 0 = off. */
    int lookahead_every, lookahead_start;
    bool balance;        /* even out the ranks' slices of each batch (nn_balance_plan) */
    bool plot;           /* render loss.png / accuracy.png at the end (rank 0) */
    nn_cache cache;      /* image folders: keep decoded pixels (ram), stream (none), or auto */
    int workers;         /* prefetch decoder threads per rank (0 = nn_prefetch_default_workers) */
    bool skip_bad;       /* image folders: leave out the files check-data would report */
    int class_weight;    /* train: NN_CLASS_WEIGHT_NONE (default), _BALANCED or _SQRT (loss.h):
                            each sample's cross-entropy times its class's weight, from the
                            label counts of the whole training set (after --limit) */
    /* gan only: */
    const char *generator, *discriminator; /* presets (dcgan-mnist, dcgan-cifar), files or
                                              inline specs; NULL = the preset for the data */
    int z_dim;           /* noise dimensions (0 = NN_DEFAULT_Z_DIM, 100) */
    float g_lr, d_lr;    /* per-net learning rates (0 = optim.lr) */
    float real_label;    /* D's target for real images (1; 0.9 = one-sided label smoothing) */
    float ema;           /* decay of the generator's moving average (0 = none kept) */
    bool quiet;
    /* Weak scaling: --batch-per-rank B makes the global batch B x ranks, and
     * --lr-scale multiplies the learning rate(s) by ranks (linear) or
     * sqrt(ranks) (sqrt): the rates given are those for one rank's B.
     * nn_train_command resolves both into batch and the rates. */
    int batch_per_rank;  /* 0: --batch is the global batch */
    int lr_scale;        /* NN_LR_SCALE_* */
    /* Overlap the gradient reduction with backward, in buckets of at least
     * this many MB (train; 0 = one reduction after backward). Used only where
     * the reduction crosses nodes (nn_dist_overlap_useful). */
    float bucket_mb;
    /* train: the cross-entropy's target is (1 - eps) onehot + eps / classes
     * (0 = none); the reported loss stays against the true labels. */
    float label_smoothing;
    /* train: evaluate on the first test_limit test samples only (0 = all),
     * every eval_every epochs (and after the last; 0 or 1 = every epoch). */
    long test_limit;
    int eval_every;
    /* Image folders without test/: hold out this fraction of each class of
     * train/ as the test set, chosen by seed (0 = the folder's test/). */
    float val_split;
    int progress;        /* NN_PROGRESS_* (nn/progress.h): rank 0's display */
    bool force;          /* a fresh run may replace OUT/checkpoint.h5 */
} nn_train_cfg;

enum { NN_LR_SCALE_NONE, NN_LR_SCALE_LINEAR, NN_LR_SCALE_SQRT };

#define NN_DEFAULT_Z_DIM 100

/* nn_train's return when a stop signal (guard.h) ended the run after it wrote
 * its checkpoint: the process should exit NN_EXIT_STOPPED. */
#define NN_TRAIN_STOPPED 1

/* Train as configured; rank 0 prints one line per epoch and writes outputs.
 * Returns NN_OK, NN_ERR (message set) or NN_TRAIN_STOPPED. */
int nn_train(const nn_train_cfg *cfg, nn_dist *dist);

/* Run the training command `command` ("train", "gan": the modes of
 * src/train/), setting *found; NN_OK with *found false for other names. */
int nn_train_command(const char *command, const nn_train_cfg *cfg, nn_dist *dist, bool *found);
/* Train a GAN (src/train/gan.c): the same skeleton, two nets. */
int nn_gan_train(const nn_train_cfg *cfg, nn_dist *dist);
/* The sample id of fake i of step `step`'s D pass (which 0) or G pass (1) as
 * D's input: D's dropout masks are keyed by it, so it differs from step to
 * step and pass to pass, never equals a data set's id (top bit set), and
 * does not depend on the rank that makes the fake. */
uint64_t nn_gan_fake_id(uint64_t step, int which, uint64_t i);
/* A DCGAN preset's two specs and the images it makes (NN_ERR: no such preset). */
int nn_gan_preset(const char *name, const char **g, const char **d, nn_shape *shape);
/* n images from a generator in inference mode: z (n, z_dim) -> out (n, C*H*W). */
int nn_gan_generate(nn_net *gen, const float *z, int n, float *out);

/* Test-time augmentation: each sample's class probabilities are the
 * weighted mean of its views' softmaxes. FLIP: the image and its mirror
 * image. TRANSLATE: those two (weight 2 each) and both moved by one pixel
 * down-right and up-left (zero-filled, as the training crop fills; weight 1
 * each), six views. */
typedef enum { NN_TTA_NONE, NN_TTA_FLIP, NN_TTA_TRANSLATE } nn_tta;

typedef struct {
    double loss_sum, correct, count;
    int classes;
    double *confusion; /* (classes, classes) rows = true class; may be NULL */
    nn_tta tta;        /* in: test-time augmentation (eval --tta) */
    bool reflect;      /* in: translate's moves fill by mirroring (eval --crop-fill reflect) */
    int progress;      /* in: NN_PROGRESS_* (progress.h) of rank 0's display */
    bool show;         /* in: this rank shows it (rank 0, not --quiet) */
} nn_eval_result;

/* Evaluate the net on this rank's shard of d, summed over all ranks. */
int nn_evaluate(nn_net *net, const nn_dataset *d, nn_dist *dist, nn_eval_result *r);
/* The same for an ensemble: each sample's class probabilities are the mean
 * of the count nets' softmaxes (over the views of r->tta);
 * the nets share input shape and classes. nn_evaluate is count = 1. */
int nn_evaluate_ensemble(nn_net *const *nets, int count, const nn_dataset *d, nn_dist *dist,
                         nn_eval_result *r);

#endif
