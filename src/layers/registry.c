/* registry.c: the table of layer types and the option helpers every layer's
 * setup() uses. Adding a layer type = one file + one line here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/error.h"
#include "nn/layer.h"

extern const nn_layer_ops nn_dense_ops;
extern const nn_layer_ops nn_sigmoid_ops, nn_relu_ops, nn_tanh_ops, nn_leaky_relu_ops, nn_gelu_ops;
extern const nn_layer_ops nn_dropout_ops, nn_batchnorm_ops;
extern const nn_layer_ops nn_conv2d_ops, nn_maxpool_ops, nn_flatten_ops, nn_normalize_ops;
extern const nn_layer_ops nn_deconv2d_ops, nn_reshape_ops;
extern const nn_layer_ops nn_save_ops, nn_add_ops;
extern const nn_layer_ops nn_whiten_ops, nn_mul_ops;

static const nn_layer_ops *const g_types[] = {
    &nn_dense_ops,   &nn_conv2d_ops,  &nn_maxpool_ops, &nn_flatten_ops,
    &nn_sigmoid_ops, &nn_relu_ops,    &nn_tanh_ops,    &nn_leaky_relu_ops,
    &nn_dropout_ops, &nn_batchnorm_ops, &nn_normalize_ops,
    &nn_deconv2d_ops, &nn_reshape_ops,
    &nn_save_ops,    &nn_add_ops,
    &nn_whiten_ops,  &nn_mul_ops,     &nn_gelu_ops,
};

const nn_layer_ops *nn_layer_find(const char *type) {
    for (size_t i = 0; i < sizeof g_types / sizeof *g_types; i++)
        if (strcmp(g_types[i]->type, type) == 0) return g_types[i];
    return NULL;
}

const char *nn_layer_types(void) {
    static char buf[512];
    if (!buf[0]) {
        for (size_t i = 0; i < sizeof g_types / sizeof *g_types; i++) {
            if (i) strcat(buf, ", ");
            strcat(buf, g_types[i]->type);
        }
    }
    return buf;
}

static nn_opt *find_opt(nn_layer *l, const char *key) {
    for (int i = 0; i < l->nopts; i++)
        if (strcmp(l->opts[i].key, key) == 0) {
            l->opts[i].used = true;
            return &l->opts[i];
        }
    return NULL;
}

static int bad_opt(nn_layer *l, const nn_opt *o, const char *expected) {
    return nn_fail("model spec line %d: layer %s (%s): option %s=%s: expected %s (%s)", l->line,
                   l->name, l->ops->type, o->key, o->val, expected, l->ops->help);
}

int nn_layer_opt_int(nn_layer *l, const char *key, int def, int min, int max, int *out) {
    nn_opt *o = find_opt(l, key);
    if (!o) {
        *out = def;
        return NN_OK;
    }
    char *end;
    errno = 0;
    long v = strtol(o->val, &end, 10);
    if (errno || end == o->val || *end || v < min || v > max) {
        char want[96];
        snprintf(want, sizeof want, "an integer in [%d, %d]", min, max);
        return bad_opt(l, o, want);
    }
    *out = (int)v;
    return NN_OK;
}

int nn_layer_opt_float(nn_layer *l, const char *key, float def, float min, float max, float *out) {
    nn_opt *o = find_opt(l, key);
    if (!o) {
        *out = def;
        return NN_OK;
    }
    char *end;
    errno = 0;
    float v = strtof(o->val, &end);
    if (errno || end == o->val || *end || !(v >= min && v <= max)) {
        char want[96];
        snprintf(want, sizeof want, "a number in [%g, %g]", min, max);
        return bad_opt(l, o, want);
    }
    *out = v;
    return NN_OK;
}

int nn_layer_opt_bool(nn_layer *l, const char *key, bool def, bool *out) {
    nn_opt *o = find_opt(l, key);
    if (!o) {
        *out = def;
        return NN_OK;
    }
    if (!strcmp(o->val, "1") || !strcmp(o->val, "true") || !strcmp(o->val, "yes"))
        *out = true;
    else if (!strcmp(o->val, "0") || !strcmp(o->val, "false") || !strcmp(o->val, "no"))
        *out = false;
    else
        return bad_opt(l, o, "true or false");
    return NN_OK;
}

const char *nn_layer_opt_str(nn_layer *l, const char *key, const char *def) {
    nn_opt *o = find_opt(l, key);
    return o ? o->val : def;
}

static void add_tensor(nn_tensor_desc *t, int *count, size_t *total, const char *name, int ndim,
                       const int *dims) {
    nn_tensor_desc *d = &t[(*count)++];
    snprintf(d->name, sizeof d->name, "%s", name);
    d->ndim = ndim;
    d->size = 1;
    for (int i = 0; i < ndim; i++) {
        d->dims[i] = dims[i];
        d->size *= (size_t)dims[i];
    }
    d->offset = *total;
    d->lr_scale = 1.0f;
    *total += d->size;
}

void nn_layer_add_param(nn_layer *l, const char *name, int ndim, const int *dims) {
    add_tensor(l->params, &l->nparam_tensors, &l->nparams, name, ndim, dims);
}

void nn_layer_add_state(nn_layer *l, const char *name, int ndim, const int *dims) {
    add_tensor(l->states, &l->nstate_tensors, &l->nstate, name, ndim, dims);
}
