/* layer.h: one layer type = one file with a private state struct and an ops
 * table. Shapes are per sample (C, H, W); a batch adds N in front, so every
 * activation is an (N, C, H, W) row-major float array. A dense output is
 * (units, 1, 1). The net owns one flat parameter buffer and one flat gradient
 * buffer; a layer's `w`/`dw` point into them (views, never owners). */
#ifndef NN_LAYER_H
#define NN_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/backend.h"
#include "nn/rng.h"

typedef struct {
    int c, h, w;
} nn_shape;

static inline size_t nn_shape_size(nn_shape s) { return (size_t)s.c * s.h * s.w; }

/* A named tensor inside a layer's slice of a flat buffer (checkpoint names). */
typedef struct {
    char name[24];
    int ndim;
    int dims[4];
    size_t offset; /* floats from the start of the layer's slice */
    size_t size;
    float lr_scale; /* parameters: this tensor's learning rate is the step's times
                       lr_scale and its weight decay is divided by it (1 unless
                       the layer's setup sets it, e.g. batchnorm bias_lr=) */
    int epochs;     /* parameters: trained in the first `epochs` epochs only, then
                       frozen (no update, no decay, momentum kept); 0 = always
                       (whiten bias_epochs=) */
} nn_tensor_desc;

#define NN_MAX_TENSORS 4

/* key=value options of one layer, as parsed from the model spec. */
typedef struct {
    char key[32];
    char val[64];
    bool used;
} nn_opt;

#define NN_MAX_OPTS 12

struct nn_dist;

/* What a forward/backward pass knows about the batch it runs on. */
typedef struct {
    bool train;
    int n;                      /* samples in this rank's slice */
    int global_n;               /* samples in the global batch (all ranks) */
    const uint64_t *sample_ids; /* (n) global data-set index of each sample */
    uint64_t seed, epoch;       /* with sample_ids: per-sample randomness */
    struct nn_dist *dist;       /* for layers that reduce across ranks; may be NULL */
    bool bn_sync;               /* BatchNorm statistics over the global batch (all ranks) */
    bool no_param_grads;        /* backward: dx only, the parameter gradients are not wanted
                                   (a GAN's discriminator in the generator's step); layers
                                   may skip them (dw is then left as it is) */
} nn_ctx;

typedef struct nn_layer nn_layer;

typedef struct {
    const char *type;
    const char *help;       /* one line: options and defaults, for errors and --help */
    const char *positional; /* key of the value written without key= ("dense 100") */
    /* Read options (nn_layer_opt_*), check them against l->in, set l->out and
     * declare parameter tensors (l->params, l->nparams) and non-trained state
     * tensors (l->states, l->nstate). Allocates l->priv. */
    int (*setup)(nn_layer *l);
    /* Initialise parameters and state (l->w, l->state are bound). */
    void (*init)(nn_layer *l, nn_rng *rng);
    /* Floats of per-batch scratch memory for a batch of n (optional). */
    size_t (*scratch)(const nn_layer *l, int n);
    /* y = f(x). x: (n, in), y: (n, out). */
    int (*forward)(nn_layer *l, const nn_ctx *c, const float *x, float *y);
    /* dw += dL/dw; dx = dL/dx unless dx is NULL (first layer).
     * x, y: the forward input and output of this batch; dy: dL/dy. */
    int (*backward)(nn_layer *l, const nn_ctx *c, const float *x, const float *y,
                    const float *dy, float *dx);
    /* Release what setup() allocated beyond l->priv (optional; the net frees priv). */
    void (*free)(nn_layer *l);
    /* FLOPs of the forward pass for one sample (summary only). */
    double (*flops)(const nn_layer *l);
    /* Skip connections (src/layers/residual.c). A layer type with label_key
     * is a point others may join from, named by that option ("save res1");
     * one with join_key names such a point ("add res1"). The net links each
     * joining layer to the nearest earlier layer of that label, one join per
     * label, before the joining layer's setup() runs. */
    const char *label_key;
    const char *join_key;
    /* Fitted to the data (optional; src/layers/whiten.c). Before the first
     * step of a new run, the classifier trainer runs `images` training images
     * (spread evenly over the set, unaugmented; fit_size sets how many)
     * through the layers before this one (which are fitted first) and hands
     * their outputs x (n samples, host memory) to fit_batch, which adds
     * statistics to the fit_size() doubles of acc.
     * fit_finish gets the sums over all ranks and sets the layer's state or
     * parameters, identically on every rank. */
    size_t (*fit_size)(const nn_layer *l, size_t *images);
    void (*fit_batch)(nn_layer *l, const float *x, int n, double *acc);
    int (*fit_finish)(nn_layer *l, const double *acc);
} nn_layer_ops;

struct nn_layer {
    const nn_layer_ops *ops;
    char name[32]; /* Keras-like: dense_1, sigmoid_1, ... */
    int index;     /* position in the net (keys per-layer random streams) */
    nn_shape in, out;
    int line; /* line of the model spec it came from */
    nn_opt opts[NN_MAX_OPTS];
    int nopts;
    /* Trainable tensors: views into the net's flat param/grad buffers. */
    nn_tensor_desc params[NN_MAX_TENSORS];
    int nparam_tensors;
    size_t nparams;
    float *w, *dw;
    /* Non-trained state (e.g. BatchNorm running stats), saved in checkpoints
     * but neither allreduced nor optimised. */
    nn_tensor_desc states[NN_MAX_TENSORS];
    int nstate_tensors;
    size_t nstate;
    float *state;
    float *scratch; /* bound by the net, size ops->scratch(l, max_n) */
    /* A skip connection's two ends point at each other (NULL otherwise); the
     * net binds link_act, the labelled layer's output (the joining layer's
     * second input), and link_grad, (max_n, out of the labelled layer)
     * floats that carry dL/d(that output) from the join back to the label. */
    nn_layer *link;
    const float *link_act;
    float *link_grad;
    const nn_backend *be;
    void *priv;
};

/* Look up a layer type by name (NULL if unknown). */
const nn_layer_ops *nn_layer_find(const char *type);
/* Comma-separated list of known layer types, for error messages. */
const char *nn_layer_types(void);

/* Option helpers for setup(): read key, mark it used, fail with a clear
 * message (layer name, spec line, expected form) when malformed. */
int nn_layer_opt_int(nn_layer *l, const char *key, int def, int min, int max, int *out);
int nn_layer_opt_float(nn_layer *l, const char *key, float def, float min, float max, float *out);
int nn_layer_opt_bool(nn_layer *l, const char *key, bool def, bool *out);
const char *nn_layer_opt_str(nn_layer *l, const char *key, const char *def);
/* Declare a tensor (appends to params or states, updates the count). */
void nn_layer_add_param(nn_layer *l, const char *name, int ndim, const int *dims);
void nn_layer_add_state(nn_layer *l, const char *name, int ndim, const int *dims);

#endif
