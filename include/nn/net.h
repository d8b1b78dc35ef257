/* net.h: a sequential network built from a text model spec.
 *
 * Spec format: one layer per line (or separated by ';'), '#' starts a comment:
 *     dense 100            # positional value = the layer's main option
 *     sigmoid
 *     dense units=10
 * The last layer's outputs are the logits; softmax lives in the loss.
 * Presets (nn_model_preset) expand to such text. The net owns ONE parameter
 * buffer, ONE gradient buffer and ONE state buffer; layers hold views. */
#ifndef NN_NET_H
#define NN_NET_H

#include <stdbool.h>
#include <stdio.h>

#include "nn/layer.h"
#include "nn/presets.h"

#define NN_NET_METRICS 8

typedef struct nn_net {
    const nn_backend *be;
    nn_shape in;
    int nlayers;
    nn_layer *layers;
    size_t nparams, nstate;
    float *params; /* (nparams) all trainable weights, layer after layer */
    float *grads;  /* (nparams + NN_NET_METRICS) matching gradients; the tail carries
                      a step's metrics (loss sums, counts, an error flag, a stop flag)
                      into the same allreduce (src/train/) */
    float *state;  /* (nstate) non-trained state */
    bool own_grads; /* false once nn_net_use_grads gave it the caller's memory */
    int max_n;     /* largest batch slice the buffers hold */
    float **acts;  /* acts[i]: (max_n, out of layer i) */
    float *dbuf[2];
    float *scratch;
    char *spec; /* the expanded spec text, stored verbatim in checkpoints */
    char *origin; /* what errors name it by: the checkpoint, the spec file or "--model" */
    /* Per-layer seconds, when the trainer asked for them (--profile,
     * nn_net_time_layers): (nlayers, 2) forward, backward, summed over the
     * training passes (c->train; evaluation is not counted). layer_flop:
     * the FLOPs those passes did, the same layout (a backward counts a
     * forward's worth for the input gradient and one for the parameter
     * gradients, each when made), for the profile's GFLOP/s. */
    double *layer_s, *layer_flop;
    /* Called after each layer's backward with the offset into grads from
     * which every gradient is final (layers own consecutive slices, so a
     * backward pass finishes them from the end): how the trainer overlaps
     * the reduction with the rest of backward (nn_dist_reduce_ready). An
     * error it returns ends the pass. NULL: none. */
    int (*grads_final)(void *arg, size_t from);
    void *grads_final_arg;
} nn_net;

/* Resolve --model: a preset name wins; else an existing file of that name
 * (spaces in the name are fine); else text with a space, tab, ';' or newline
 * is an inline spec. Spec files over 1 MB are refused. */
char *nn_model_resolve(const char *model, int hidden, int classes);
/* How errors should name the spec of --model: the file's path when it names
 * a spec file, else "--model". */
const char *nn_model_origin(const char *model);
/* The model of a run with no --model (nn_model_resolve(NULL, ...) and
 * nn_model_origin(NULL) take NULL for it). */
#define NN_DEFAULT_MODEL "mlp"
/* Spec text as one line, for comparing two specs: comments dropped, blanks
 * collapsed, layers joined by ';' ("dense 100;sigmoid;dense 10"). malloc'd;
 * NULL + message when out of memory. */
char *nn_spec_canonical(const char *spec);

/* Outputs y (n rows of the net's outputs, host memory) that are all finite:
 * NN_OK; else an error naming net->origin and that its outputs overflow
 * (NaN or infinite logits from finite weights too large for float32), for
 * eval, loss and predict, which would print -nan or class 0. loss: the
 * batch's loss (NAN when not computed), reported too when not finite. */
int nn_net_check_outputs(const nn_net *net, const float *y, int n, double loss);

/* Parse spec, infer shapes from `in`, allocate all buffers for batch slices
 * of up to max_n samples. `origin` names the spec in errors (file or
 * "--model"). Checks that the output size equals `classes` when classes > 0.
 * max_n 0 builds the layers and shapes only, no buffers: a net to describe
 * (nn_net_summary, nn_net_flops), not to run. */
int nn_net_create(nn_net *net, const char *spec, const char *origin, nn_shape in, int classes,
                  int max_n, const nn_backend *be);
void nn_net_free(nn_net *net);
/* Initialise all parameters from seed (same on every rank). */
void nn_net_init(nn_net *net, uint64_t seed);
/* Forward a slice of c->n samples. x: (n, in). Returns the logits (n, out). */
int nn_net_forward(nn_net *net, const nn_ctx *c, const float *x, const float **logits);
/* The same through layers [0, stop) only: *out is layer stop-1's output, or x
 * itself when stop is 0 (a layer's input, for fitting it to data). */
int nn_net_forward_until(nn_net *net, const nn_ctx *c, const float *x, int stop,
                         const float **out);
/* Backward from dlogits (n, out); accumulates into net->grads (zero it first
 * with nn_net_zero_grad). */
int nn_net_backward(nn_net *net, const nn_ctx *c, const float *x, const float *dlogits);
/* The same, also writing dL/dx (n, in) into dx_in (when not NULL): how a
 * GAN's generator learns from its discriminator's input gradient. */
int nn_net_backward_dx(nn_net *net, const nn_ctx *c, const float *x, const float *dlogits,
                       float *dx_in);
void nn_net_zero_grad(nn_net *net);
/* Hand the optimizer the layers' per-tensor learning-rate scales
 * (nn_tensor_desc.lr_scale) as runs of the flat buffer (see optim.h) for
 * epoch `epoch` (0-based): a tensor past its nn_tensor_desc.epochs is frozen
 * (scale 0). The trainers call it at the start of every epoch. */
struct nn_optim_s;
int nn_net_lr_runs(const nn_net *net, struct nn_optim_s *o, int epoch);
/* Start summing each layer's forward and backward seconds into
 * net->layer_s (the scaling model's measured inputs, --profile). */
int nn_net_time_layers(nn_net *net);
/* Zero those sums (and their FLOPs): the profile leaves out the first step. */
void nn_net_time_reset(nn_net *net);
/* Move the gradients into buf ((nparams + NN_NET_METRICS) floats that the
 * caller owns and frees, e.g. nn_dist_shared_buffer's node-shared memory)
 * and point every layer's dw into it. */
void nn_net_use_grads(nn_net *net, float *buf);
size_t nn_net_out_size(const nn_net *net);
/* Keras-style table: layer, output shape, params, FLOPs. */
void nn_net_summary(const nn_net *net, FILE *f);
/* Forward FLOPs per sample, all layers. */
double nn_net_flops(const nn_net *net);

#endif
