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
    for (int k = 0; k < NN_OPT_COUNT; k++)
        if (!strcmp(name, g_names[k])) c->kind = (nn_optim_kind)k, c->lr = -1;
    if (c->lr != -1)
        return nn_fail("--optim %s: unknown optimizer (known: sgd, momentum, adagrad, rmsprop, "
                       "adadelta, adam)",
                       name);
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

int nn_optim_create(nn_optim *o, const nn_optim_cfg *cfg, size_t n) {
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
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
        o->slot[s] = nn_calloc(n, sizeof(float), "optimizer state");
        if (!o->slot[s]) {
            nn_optim_free(o);
            return NN_ERR;
        }
    }
    if (cfg->kind == NN_OPT_ADAGRAD)
        for (size_t i = 0; i < n; i++) o->slot[0][i] = cfg->h0;
    return NN_OK;
}

void nn_optim_free(nn_optim *o) {
    for (int s = 0; s < 2; s++) free(o->slot[s]);
    memset(o, 0, sizeof *o);
}

void nn_optim_step(nn_optim *o, float *w, const float *grad, float lr) {
    const nn_optim_cfg *c = &o->cfg;
    const size_t n = o->n;
    const float wd = c->weight_decay;
    float *s0 = o->slot[0], *s1 = o->slot[1];
    o->t++;
#define G(i) (grad[i] + wd * w[i])
    switch (c->kind) {
    case NN_OPT_SGD:
        for (size_t i = 0; i < n; i++) w[i] -= lr * G(i);
        break;
    case NN_OPT_MOMENTUM:
        for (size_t i = 0; i < n; i++) {
            s0[i] = c->momentum * s0[i] - lr * G(i);
            w[i] += s0[i];
        }
        break;
    case NN_OPT_ADAGRAD:
        for (size_t i = 0; i < n; i++) {
            float g = G(i);
            s0[i] += g * g;
            w[i] -= lr * g / sqrtf(s0[i]);
        }
        break;
    case NN_OPT_RMSPROP:
        for (size_t i = 0; i < n; i++) {
            float g = G(i);
            s0[i] = c->rho * s0[i] + (1.0f - c->rho) * g * g;
            w[i] -= lr * g / (sqrtf(s0[i]) + c->eps);
        }
        break;
    case NN_OPT_ADADELTA:
        for (size_t i = 0; i < n; i++) {
            float g = G(i);
            s0[i] = c->rho * s0[i] + (1.0f - c->rho) * g * g;
            float d = sqrtf(s1[i] + c->eps) / sqrtf(s0[i] + c->eps) * g;
            s1[i] = c->rho * s1[i] + (1.0f - c->rho) * d * d;
            w[i] -= lr * d;
        }
        break;
    case NN_OPT_ADAM: {
        float bc1 = 1.0f - powf(c->beta1, (float)o->t), bc2 = 1.0f - powf(c->beta2, (float)o->t);
        float step = lr / bc1, isq = 1.0f / sqrtf(bc2);
        for (size_t i = 0; i < n; i++) {
            float g = G(i);
            s0[i] = c->beta1 * s0[i] + (1.0f - c->beta1) * g;
            s1[i] = c->beta2 * s1[i] + (1.0f - c->beta2) * g * g;
            w[i] -= step * s0[i] / (sqrtf(s1[i]) * isq + c->eps);
        }
        break;
    }
    case NN_OPT_COUNT:
        break;
    }
#undef G
}

int nn_sched_parse(const char *text, nn_sched *s) {
    s->gamma = 0.1f;
    s->every = 0;
    if (!strcmp(text, "const"))
        s->kind = NN_SCHED_CONST;
    else if (!strcmp(text, "cosine"))
        s->kind = NN_SCHED_COSINE;
    else if (sscanf(text, "step:%d:%f", &s->every, &s->gamma) == 2 && s->every > 0 &&
             s->gamma > 0)
        s->kind = NN_SCHED_STEP;
    else
        return nn_fail("--schedule %s: expected const, cosine or step:EVERY:GAMMA "
                       "(e.g. step:10:0.1)",
                       text);
    return NN_OK;
}

float nn_sched_lr(const nn_sched *s, double e, int total) {
    double lr = s->base_lr;
    if (s->kind == NN_SCHED_STEP)
        lr *= pow(s->gamma, floor(e / s->every));
    else if (s->kind == NN_SCHED_COSINE && total > 0)
        lr *= 0.5 * (1.0 + cos(3.141592653589793 * fmin(e / total, 1.0)));
    if (s->warmup_epochs > 0 && e < s->warmup_epochs) lr *= (e + 1e-3) / s->warmup_epochs;
    return (float)lr;
}
