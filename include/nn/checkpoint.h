/* checkpoint.h: HDF5 checkpoints, readable with h5dump/h5py.
 *
 * /                       attrs: format="nntrain-checkpoint", format_version=1,
 *                         model_spec, input_shape[3] (C,H,W), classes, config,
 *                         ranks (at save), optimizer
 * /model_weights/<layer>/<tensor>       e.g. dense_1/kernel (IN, UNITS)
 * /optimizer_weights/<slot>/<layer>/<tensor>   attr t (steps)
 * /state                  attrs: epoch (completed), step, seed
 * /history/table          (epochs, columns) float64, attr columns
 *
 * Written by rank 0 to a temp file, fsynced and renamed, so a crash never
 * leaves a torn checkpoint and the previous one stays intact. */
#ifndef NN_CHECKPOINT_H
#define NN_CHECKPOINT_H

#include <stdint.h>

#include "nn/history.h"
#include "nn/net.h"
#include "nn/optim.h"

#define NN_CKPT_VERSION 1

typedef struct {
    int epoch;     /* epochs completed */
    uint64_t step; /* optimizer steps taken */
    uint64_t seed;
} nn_train_state;

/* optim, state, hist and config may be NULL. */
int nn_ckpt_save(const char *path, const nn_net *net, const nn_optim *optim,
                 const nn_train_state *state, const nn_history *hist, const char *config,
                 int ranks);
/* Read what is needed to build the net: the spec (malloc'd), input shape and
 * classes. Fails naming the file if it is not an nntrain checkpoint. */
int nn_ckpt_read_model(const char *path, char **spec, nn_shape *in, int *classes);
/* Load weights into a net built from a spec; any tensor missing or of another
 * shape fails, naming the layer and both shapes. With optim: its slots and
 * step count must be there for the same optimizer. */
int nn_ckpt_load(const char *path, nn_net *net, nn_optim *optim, nn_train_state *state,
                 nn_history *hist);

#endif
