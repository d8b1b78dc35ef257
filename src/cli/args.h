/* args.h: the command-line options every nntrain command shares. */
#ifndef NN_CLI_ARGS_H
#define NN_CLI_ARGS_H

#include "nn/train.h"

/* eval averages at most this many checkpoints (--checkpoint given again). */
#define NN_MAX_ENSEMBLE 16

typedef struct {
    const char *cmd;
    nn_train_cfg train;
    const char *optim_name;
    float lr;           /* <0: optimizer default */
    const char *schedule;
    float warmup, weight_decay;
    float momentum, rho, eps, beta1, beta2; /* <0: default */
    bool nesterov;
    const char *checkpoint;        /* the first --checkpoint */
    const char *ensemble[NN_MAX_ENSEMBLE]; /* eval: every --checkpoint given, in order */
    int nensemble;
    int threads;        /* OpenBLAS threads per rank, 0 = cores / ranks on the node */
    int index;          /* predict: -1 = read from stdin */
    const char *confusion_csv;
    const char *compare_a, *compare_b; /* compare: two checkpoints */
    bool help;
    const char *confusion_png;
    nn_tta tta; /* eval --tta */
    const char *compare_col, *png; /* plot --compare COLUMN --png FILE */
    char *runs[64];                /* plot: run folders */
    const char *classifier;        /* gan-score: the classifier's checkpoint */
    int n;                         /* sample / gan-score: images (-1 = default) */
    bool no_ema;                   /* sample / gan-score: G itself, not its moving average */
    float truncation;              /* sample / gan-score: noise truncated to [-t, t] (0: none) */
    const char *device;            /* --device cpu|cuda|auto (NULL: auto) */
    const char *onnx;              /* export --onnx FILE */
    bool export_generator;         /* export --generator (no value): a GAN's generator */
    int nruns;
} nn_args;

/* Parse argv[2..]; on error sets the message and returns NN_ERR. */
int nn_args_parse(nn_args *a, int argc, char **argv);
void nn_args_usage(FILE *f);

#endif
