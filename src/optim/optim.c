/* optim.c: the six optimizers as loops over the flat buffers, and the
 * learning-rate schedule. */
#include "nn/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/error.h"

static const char *const g_names[NN_OPT_COUNT] = {"sgd",     "momentum", "adagrad",
                                                  "rmsprop", "adadelta", "adam"};

const char *nn_optim_name(nn_optim_kind kind) { return g_names[kind]; }

int nn_optim_defaults(const char *name, nn_optim_cfg *c) {
    memset(c, 0, sizeof *c);
    int k = 0;
    while (k < NN_OPT_COUNT && strcmp(name, g_names[k]) != 0) k++;
    if (k == NN_OPT_COUNT)
        return nn_fail("--optim %s: unknown optimizer (known: sgd, momentum, adagrad, rmsprop, "
                       "adadelta, adam)",
                       name);
    c->kind = (nn_optim_kind)k;
    switch (c->kind) {
    case NN_OPT_SGD: c->lr = 0.1f; break;
    case NN_OPT_MOMENTUM: c->lr = 0.01f, c->momentum = 0.9f; break;
    case NN_OPT_ADAGRAD: c->lr = 0.001f, c->h0 = 1e-8f; break;
    case NN_OPT_RMSPROP: c->lr = 0.001f, c->rho = 0.9f, c->eps = 1e-8f; break;
    case NN_OPT_ADADELTA: c->lr = 1.0f, c->rho = 0.95f, c->eps = 1e-6f; break;
    case NN_OPT_ADAM: c->lr = 0.001f, c->beta1 = 0.9f, c->beta2 = 0.999f, c->eps = 1e-8f; break;
    case NN_OPT_COUNT: break;
    }
    return NN_OK;
}

int nn_optim_check(const nn_optim_cfg *c) {
    /* RMSProp and Adam divide by sqrt(h) + eps, AdaDelta by sqrt(h + eps)
     * (and starts its step from sqrt(s + eps) with s = 0): eps = 0 divides
     * by zero where a gradient is 0, and the NaN that follows looks like a
     * learning rate too high. AdaGrad divides by sqrt(h) with h from h0. */
    switch (c->kind) {
    case NN_OPT_RMSPROP:
    case NN_OPT_ADADELTA:
    case NN_OPT_ADAM:
        if (!(c->eps > 0.0f && c->eps <= 1.0f))
            return nn_fail("--eps %g: %s divides by %s, so eps must be in (0, 1] (default %g)",
                           (double)c->eps, g_names[c->kind],
                           c->kind == NN_OPT_ADADELTA ? "sqrt(h + eps)"
                           : c->kind == NN_OPT_ADAM   ? "sqrt(v) + eps"
                                                      : "sqrt(h) + eps",
                           c->kind == NN_OPT_ADADELTA ? 1e-6 : 1e-8);
        break;
    case NN_OPT_ADAGRAD:
        if (!(c->h0 > 0.0f))
            return nn_fail("adagrad: h0 %g: it divides by sqrt(h) with h starting at h0, so h0 "
                           "must be > 0 (default 1e-8)",
                           (double)c->h0);
        break;
    default: break;
    }
    return NN_OK;
}

int nn_optim_create(nn_optim *o, const nn_optim_cfg *cfg, size_t n) {
    memset(o, 0, sizeof *o);
    NN_TRY(nn_optim_check(cfg));
    o->cfg = *cfg;
    o->n = n;
    o->be = nn_backend_current();
    switch (cfg->kind) {
    case NN_OPT_SGD: o->nslots = 0; break;
    case NN_OPT_MOMENTUM: o->nslots = 1, o->slot_name[0] = "velocity"; break;
    case NN_OPT_ADAGRAD:
    case NN_OPT_RMSPROP: o->nslots = 1, o->slot_name[0] = "h"; break;
    case NN_OPT_ADADELTA: o->nslots = 2, o->slot_name[0] = "h", o->slot_name[1] = "s"; break;
    case NN_OPT_ADAM: o->nslots = 2, o->slot_name[0] = "m", o->slot_name[1] = "v"; break;
    case NN_OPT_COUNT: return nn_fail("bad optimizer kind");
    }
    for (int s = 0; s < o->nslots; s++) {
        /* The state lives with the parameters it updates: the backend's memory. */
        o->slot[s] = o->be->alloc(n * sizeof(float));
        if (!o->slot[s]) {
            nn_fail("out of memory allocating %zu floats of optimizer state", n);
            nn_optim_free(o);
            return NN_ERR;
        }
    }
    if (cfg->kind == NN_OPT_ADAGRAD)
        for (size_t i = 0; i < n; i++) o->slot[0][i] = cfg->h0;
    return NN_OK;
}

int nn_optim_set_lr_runs(nn_optim *o, const nn_lr_run *runs, int nruns) {
    free(o->runs);
    o->runs = NULL, o->nruns = 0;
    size_t end = 0;
    for (int i = 0; i < nruns; i++) {
        if (runs[i].offset != end || !(runs[i].scale >= 0))
            return nn_fail("learning-rate runs: run %d (offset %zu, scale %g) does not continue "
                           "the runs before it with a scale >= 0",
                           i, runs[i].offset, (double)runs[i].scale);
        end += runs[i].n;
    }
    if (end != o->n)
        return nn_fail("learning-rate runs cover %zu of %zu parameters", end, o->n);
    if (nruns <= 1 && (nruns == 0 || runs[0].scale == 1.0f)) return NN_OK;
    o->runs = nn_calloc((size_t)nruns, sizeof *runs, "learning-rate runs");
    if (!o->runs) return NN_ERR;
    memcpy(o->runs, runs, (size_t)nruns * sizeof *runs);
    o->nruns = nruns;
    return NN_OK;
}

void nn_optim_free(nn_optim *o) {
    free(o->runs);
    for (int s = 0; s < 2; s++)
        if (o->slot[s]) o->be->free(o->slot[s]);
    memset(o, 0, sizeof *o);
}

void nn_optim_step(nn_optim *o, float *w, const float *g, float lr) {
    const nn_optim_cfg *c = &o->cfg;
    o->t++;
    nn_update u = {.rule = c->kind, .lr = lr, .wd = c->weight_decay, .eps = c->eps};
    switch (c->kind) {
    case NN_OPT_MOMENTUM: u.a = c->momentum, u.nesterov = c->nesterov; break;
    case NN_OPT_RMSPROP:
    case NN_OPT_ADADELTA: u.a = c->rho; break;
    case NN_OPT_ADAM: {
        /* Bias corrections folded into two scalars: lr/(1-b1^t) and 1/sqrt(1-b2^t). */
        double bc1 = 1.0 - pow(c->beta1, (double)o->t), bc2 = 1.0 - pow(c->beta2, (double)o->t);
        u.a = c->beta1, u.b = c->beta2;
        u.step = (float)(lr / bc1), u.isq = (float)(1.0 / sqrt(bc2));
        break;
    }
    default: break;
    }
    if (!o->runs) {
        o->be->update(&u, o->n, w, g, o->slot[0], o->slot[1]);
        return;
    }
    for (int i = 0; i < o->nruns; i++) {
        const nn_lr_run *r = &o->runs[i];
        const float k = r->scale;
        if (k == 0.0f) continue; /* frozen */
        nn_update v = u;
        v.lr *= k, v.step *= k, v.wd /= k;
        size_t at = r->offset;
        o->be->update(&v, r->n, w + at, g + at, o->slot[0] ? o->slot[0] + at : NULL,
                      o->slot[1] ? o->slot[1] + at : NULL);
    }
}

int nn_sched_parse(const char *text, nn_sched *s) {
    s->gamma = 0.1f;
    s->every = 0;
    s->ends = false, s->start = s->end = 0.0f;
    char tail;
    if (!strcmp(text, "const"))
        s->kind = NN_SCHED_CONST;
    else if (!strcmp(text, "cosine"))
        s->kind = NN_SCHED_COSINE;
    else if (!strcmp(text, "linear"))
        s->kind = NN_SCHED_LINEAR;
    else if (sscanf(text, "linear:%f:%f%c", &s->start, &s->end, &tail) == 2 && s->start >= 0 &&
             s->start <= 1 && s->end >= 0 && s->end <= 1)
        s->kind = NN_SCHED_LINEAR, s->ends = true;
    else if (sscanf(text, "step:%d:%f", &s->every, &s->gamma) == 2 && s->every > 0 &&
             s->gamma > 0)
        s->kind = NN_SCHED_STEP;
    else
        return nn_fail("--schedule %s: expected const, cosine, linear, linear:START:END (the "
                       "factors at the start and the end, each in [0, 1], e.g. linear:0.2:0.07) "
                       "or step:EVERY:GAMMA (e.g. step:10:0.1)",
                       text);
    return NN_OK;
}

float nn_sched_lr(const nn_sched *s, double e, int total) {
    double lr = s->base_lr;
    if (s->kind == NN_SCHED_LINEAR && s->ends) { /* the triangle, warmup included */
        const double w = fmin(s->warmup_epochs, total), t = fmin(fmax(e, 0.0), total);
        const double f = t < w ? s->start + (1.0 - s->start) * t / w
                               : 1.0 + (s->end - 1.0) * (total > w ? (t - w) / (total - w) : 1.0);
        return (float)(lr * f);
    }
    if (s->kind == NN_SCHED_STEP)
        lr *= pow(s->gamma, floor(e / s->every));
    else if (s->kind == NN_SCHED_COSINE && total > 0)
        lr *= 0.5 * (1.0 + cos(3.141592653589793 * fmin(e / total, 1.0)));
    else if (s->kind == NN_SCHED_LINEAR && total > s->warmup_epochs) /* 1 after warmup, 0 at the end */
        lr *= fmin(fmax((total - e) / (total - s->warmup_epochs), 0.0), 1.0);
    if (s->warmup_epochs > 0 && e < s->warmup_epochs) lr *= (e + 1e-3) / s->warmup_epochs;
    return (float)lr;
}

void nn_ema_update(float *avg, const float *x, size_t n, float decay, uint64_t t) {
    const float warm = (1.0f + (float)t) / (10.0f + (float)t);
    const float d = warm < decay ? warm : decay, e = 1.0f - d;
    for (size_t i = 0; i < n; i++) avg[i] = d * avg[i] + e * x[i];
}
