/* checkpoint.h: HDF5 checkpoints, readable with h5dump/h5py.
 *
 * /                       attrs: format="nntrain-checkpoint", format_version=1,
 *                         model_spec (any size: the file is written in the HDF5
 *                         1.8 format, which keeps a spec over 64 KB in dense
 *                         attribute storage), input_shape[3] (C,H,W), classes,
 *                         config, ranks (at save), optimizer
 * /model_weights/<layer>/<tensor>       e.g. dense_1/kernel (IN, UNITS), float32
 * /optimizer_weights/<slot>/<layer>/<tensor>   attr t (steps)
 * /state                  attrs (int64 unless noted): epoch (completed), step,
 *                         seed; epoch_step, partial[4] (float64), batch,
 *                         train_limit, data (string), best_acc (float64),
 *                         class_weight (string), val_split (float64, when > 0)
 * /class_names            (classes) fixed-length UTF-8 strings, when the data
 *                         set names its classes
 * /history/table          (epochs, columns) float64, attr columns: a classifier's
 *                         NN_H_COLS (10; 9 before test_bal_acc), a GAN's NN_HG_COLS
 *
 * On disk the HDF5 data follows a 512-byte envelope ("nntrain-ckpt", the
 * data's length and CRC-32; HDF5 tools see it as a user block): a truncated,
 * damaged or edited file is refused before libhdf5 parses it.
 *
 * Written by rank 0 to a temp file, fsynced and renamed, so a crash never
 * leaves a torn checkpoint and the previous one stays intact; temps that a
 * killed writer left are removed by the next save (nn_remove_stale_temps).
 *
 * Nothing read is trusted: a load fails, naming the file, on a tensor missing,
 * of another shape or holding NaN/Inf; a /state field out of range (epoch
 * 0..1000000, step >= 0, seed 0..2^31-1, epoch_step 0..step, batch 0..2^20,
 * train_limit >= 0, partial[] finite >= 0 with correct <= samples, best_acc -1
 * or 0..1, class_weight none or balanced); a classifier's history table not
 * (rows, NN_H_COLS) = (rows, 10) with rows <= state/epoch, except (rows, 9)
 * as older builds wrote it, whose missing test_bal_acc column loads as NaN
 * (history.h); class names of another count. The /state attributes after seed
 * are optional (checkpoints of older builds load with 0 / "" / best_acc -1;
 * class_weight "" means none). A save refuses
 * (naming the tensor or field, writing nothing) what a load would refuse, and
 * a failed write names the OS reason ("No space left on device"). */
#ifndef NN_CHECKPOINT_H
#define NN_CHECKPOINT_H

#include <stdint.h>

#include "nn/history.h"
#include "nn/net.h"
#include "nn/optim.h"

#define NN_CKPT_VERSION 1

/* Write the envelope of the checkpoint at path again (its HDF5 data edited
 * with HDF5 tools), or put one in front of a checkpoint of the builds before
 * envelopes (plain HDF5). Replaces the file atomically. */
int nn_ckpt_seal(const char *path);

typedef struct {
    int epoch;           /* epochs completed */
    uint64_t step;       /* optimizer steps taken, in all */
    uint64_t seed;
    /* Position inside epoch `epoch` when saved mid-epoch (a signal, a periodic
     * checkpoint); 0 = saved at an epoch boundary. */
    uint64_t epoch_step; /* batches of epoch `epoch` already taken */
    double partial[4];   /* that partial epoch: train loss sum, correct, samples, seconds */
    double partial_extra[3]; /* more sums of it for modes that report more (a GAN) */
    /* What the run was trained on, so a resume can refuse another setup
     * (0 / "" = not recorded, as in checkpoints of older builds). */
    int batch;           /* global batch */
    long train_limit;    /* --limit (0 = all) */
    char data[512];      /* --data as given */
    double best_acc;     /* best test accuracy so far (--keep-best); -1 = none yet */
    double val_split;    /* --val-split: the fraction of train/ held out as the test set (0) */
    char class_weight[16]; /* --class-weight: "none", "balanced"; "" = not recorded
                              (older builds, which had none) */
} nn_train_state;

/* optim, state, hist, config and class_names may be NULL; class_names has
 * nn_net_out_size(net) entries. Refuses, leaving path as it was, a non-finite
 * tensor or a state out of range (see the top); path may be of any length. */
int nn_ckpt_save(const char *path, const nn_net *net, const nn_optim *optim,
                 const nn_train_state *state, const nn_history *hist, const char *config,
                 int ranks, char *const *class_names);
/* What a checkpoint holds (root attribute "kind"; absent = a classifier, as
 * older builds wrote). A classifier's net lives at the root; a checkpoint of
 * several nets (a GAN) keeps each under /<name>/, laid out like a
 * classifier's root (model_spec, input_shape, classes, optimizer,
 * model_weights/, optimizer_weights/), with /state and /history at the root. */
#define NN_CKPT_CLASSIFIER "classifier"
#define NN_CKPT_GAN "gan"
/* A GAN checkpoint's moving average of the generator (gan --ema), next to
 * /generator and /discriminator: parameters and state, no optimizer. */
#define NN_CKPT_GENERATOR_EMA "generator_ema"
/* A classifier trained with --ema keeps the moving average of its weights at
 * the root (the model eval, predict and the history's test columns use) and
 * the weights the optimizer steps, with its slots, in /trained (what a
 * resume continues from; eval --no-ema). */
#define NN_CKPT_TRAINED "trained"

typedef struct {
    const char *name; /* group, e.g. "generator"; NULL = the root */
    nn_net *net;
    nn_optim *optim; /* may be NULL */
} nn_ckpt_part;

/* class_names (may be NULL) has nn_net_out_size(parts[0].net) entries. */
int nn_ckpt_save_parts(const char *path, const char *kind, const nn_ckpt_part *parts, int nparts,
                       const nn_train_state *state, const nn_history *hist, const char *config,
                       int ranks, char *const *class_names);
/* Load every part (all or nothing: on failure every net and optimizer is as
 * it was). The file must be of this kind. hist, when given, must have been
 * initialised with the expected columns. */
int nn_ckpt_load_parts(const char *path, const char *kind, const nn_ckpt_part *parts, int nparts,
                       nn_train_state *state, nn_history *hist);
/* Which kind of checkpoint path is (NN_CKPT_CLASSIFIER or NN_CKPT_GAN). */
int nn_ckpt_kind(const char *path, const char **kind);
/* Whether a checkpoint of `kind` holds the net `name` (*has 1 or 0). */
int nn_ckpt_has_part(const char *path, const char *kind, const char *name, int *has);
/* nn_ckpt_read_model for the net in group `name` of a checkpoint of `kind`. */
int nn_ckpt_read_part(const char *path, const char *kind, const char *name, char **spec,
                      nn_shape *in, int *classes);

/* The class names a checkpoint records: *names = NULL when it records none,
 * else `classes` malloc'd strings in a malloc'd array (nn_ckpt_free_names).
 * Fails naming the file when the record has another number of classes. */
int nn_ckpt_read_class_names(const char *path, int classes, char ***names);
void nn_ckpt_free_names(char **names, int classes);
/* Read what is needed to build the net: the spec (malloc'd), input shape and
 * classes. Fails naming the file if it is not an nntrain checkpoint. */
int nn_ckpt_read_model(const char *path, char **spec, nn_shape *in, int *classes);
/* The --data a checkpoint was trained on (state/data; "" when it records
 * none, as older builds' and pre-state files), its --val-split (0: none)
 * and --seed (which files that split held out). */
int nn_ckpt_read_data(const char *path, char *data, size_t cap, double *val_split,
                      uint64_t *seed);
/* The root attribute config (the training run's settings, as train and gan
 * record them), malloc'd; NULL when the checkpoint has none. */
int nn_ckpt_read_config(const char *path, const char *kind, char **config);
/* Load weights into a net built from a spec; any tensor missing or of another
 * shape fails, naming the layer and both shapes, as does any non-finite value,
 * a /state field out of range or a history table of the wrong shape, whatever
 * the caller asked for. With optim: its slots and step count must be there for
 * the same optimizer. On failure net and optim are as they were, and neither
 * state nor hist is filled. */
int nn_ckpt_load(const char *path, nn_net *net, nn_optim *optim, nn_train_state *state,
                 nn_history *hist);

#endif
