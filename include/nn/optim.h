/* optim.h: optimizers over the net's ONE flat parameter buffer.
 * Update rules (g = gradient of the mean loss, plus weight_decay * w):
 *   sgd       w -= lr g
 *   momentum  v = alpha v - lr g;                         w += v
 *             with nesterov:                              w += alpha v - lr g
 *   adagrad   h += g^2 (h starts at h0);                  w -= lr g / sqrt(h)
 *   rmsprop   h = rho h + (1-rho) g^2;                    w -= lr g / (sqrt(h) + eps)
 *   adadelta  h = rho h + (1-rho) g^2; d = sqrt(s+eps)/sqrt(h+eps) g;
 *             s = rho s + (1-rho) d^2;                    w -= lr d   (lr = 1 by default)
 *   adam      m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *             w -= lr (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)
 * The state ("slots") is saved in checkpoints, so a resumed run equals an
 * uninterrupted one. */
#ifndef NN_OPTIM_H
#define NN_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/backend.h" /* nn_optim_kind, nn_update: the backend runs the rules */

typedef struct {
    nn_optim_kind kind;
    float lr, momentum, rho, eps, beta1, beta2, h0, weight_decay;
    bool nesterov; /* momentum only (--nesterov) */
} nn_optim_cfg;

/* A run of the flat buffer whose learning rate is the step's times scale
 * and whose weight decay is divided by it (so momentum's and sgd's decay per
 * step, lr x wd, stays the same: airbench's faster BatchNorm biases). Scale 0:
 * the run is frozen and the step leaves it and its optimizer state alone. */
typedef struct {
    size_t offset, n;
    float scale;
} nn_lr_run;

typedef struct nn_optim_s {
    nn_optim_cfg cfg;
    size_t n;
    nn_lr_run *runs; /* consecutive runs covering [0, n); NULL: one run at scale 1 */
    int nruns;
    int nslots;
    float *slot[2];
    const char *slot_name[2];
    uint64_t t; /* steps taken */
    const nn_backend *be; /* runs the update (the CPU's unless set to the net's) */
} nn_optim;

/* Defaults for an optimizer by name (the course's suggested values). */
int nn_optim_defaults(const char *name, nn_optim_cfg *cfg);
const char *nn_optim_name(nn_optim_kind kind);
/* The hyper-parameters a rule cannot run with: eps <= 0 (or > 1) for
 * rmsprop, adadelta and adam (a division by zero where a gradient is 0),
 * h0 <= 0 for adagrad; the message names the flag and the range.
 * nn_optim_create checks it too. */
int nn_optim_check(const nn_optim_cfg *cfg);
int nn_optim_create(nn_optim *o, const nn_optim_cfg *cfg, size_t n);
void nn_optim_free(nn_optim *o);
/* Per-tensor rates (nn_net_lr_runs builds the runs from the layers' tensors):
 * the optimizer keeps a copy. */
int nn_optim_set_lr_runs(nn_optim *o, const nn_lr_run *runs, int nruns);
/* One step with learning rate lr (the schedule's value for this step). */
void nn_optim_step(nn_optim *o, float *w, const float *g, float lr);

/* Weight averaging (Polyak / exponential moving average): avg = d avg +
 * (1 - d) x over n values, for the t-th update (1-based), with
 * d = min(decay, (1 + t) / (10 + t)) so that the first updates are not
 * dominated by the starting values. The GAN keeps such an average of its
 * generator (--ema): the average of a generator that oscillates around a
 * good one makes sharper, more varied samples than any single step of it. */
void nn_ema_update(float *avg, const float *x, size_t n, float decay, uint64_t t);

/* Learning-rate schedule: constant, step (multiply by gamma every `every`
 * epochs), cosine (to 0 at the last step) or linear (from the full rate at
 * the end of warmup to 0 at the last step: with warmup, airbench's
 * triangle), each with linear warmup. */
typedef enum { NN_SCHED_CONST, NN_SCHED_STEP, NN_SCHED_COSINE, NN_SCHED_LINEAR } nn_sched_kind;
typedef struct {
    nn_sched_kind kind;
    float base_lr, gamma, warmup_epochs;
    int every;
    bool ends;        /* linear:START:END given */
    float start, end; /* linear:START:END: the factor at e = 0 and at the end */
} nn_sched;
/* Parse "const", "step:EVERY:GAMMA", "cosine", "linear" or
 * "linear:START:END" (airbench's triangle: from START x the rate at 0 up to
 * the rate at the end of warmup, then down to END x it at the end). */
int nn_sched_parse(const char *text, nn_sched *s);
/* lr at fractional epoch e (0-based, e.g. 2.5 = half way through epoch 3) of total. */
float nn_sched_lr(const nn_sched *s, double e, int total_epochs);

#endif
