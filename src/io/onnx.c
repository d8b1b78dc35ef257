/* onnx.c: a trained net as an ONNX model (onnx.h has the conventions).
 *
 * The model is built as protobuf-c messages (C code that protoc-c generates
 * from Debian's onnx.proto at build time, into the build folder: see the
 * Makefile's ONNX block), every piece in one arena that is freed at the end;
 * weights are referenced where the net holds them, not copied, except the
 * few the exporter derives (1/std of normalize, BatchNorm's unit gamma).
 *
 * The layers' state structs are private to src/layers/, so the exporter reads
 * a layer's options again with the same helpers and defaults its setup()
 * used, and checks what it reads against the shapes the net inferred: a
 * layer whose geometry does not come out the same, an option the exporter
 * does not know (a later addition that might change what the layer
 * computes) or a type it does not know is refused, naming the layer. */
#include "nn/onnx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/backend.h"
#include "nn/checkpoint.h"
#include "nn/error.h"
#include "nn/fileutil.h"

#ifdef NN_ONNX

#include "onnx.pb-c.h"

bool nn_onnx_available(void) { return true; }

/* ---- the arena and the growing lists of a graph ---- */

typedef struct blk {
    struct blk *next;
    max_align_t data[];
} blk;

typedef struct {
    blk *mem;
    Onnx__NodeProto **nodes;
    size_t nnodes, capnodes;
    Onnx__TensorProto **inits;
    size_t ninits, capinits;
    size_t weights; /* floats in the initializers */
    const char *src; /* the checkpoint (or the net's origin), for messages */
    const char *dst; /* the .onnx being built */
} ox;

static void *ox_alloc(ox *o, size_t n) {
    blk *b = calloc(1, sizeof *b + n);
    if (!b) {
        nn_fail("%s: out of memory building the ONNX model (%zu bytes)", o->dst, n);
        return NULL;
    }
    b->next = o->mem;
    o->mem = b;
    return b->data;
}

static void ox_free(ox *o) {
    for (blk *b = o->mem, *next; b; b = next) next = b->next, free(b);
    free(o->nodes);
    free(o->inits);
}

static char *ox_fmt(ox *o, const char *fmt, ...) NN_PRINTF(2, 3);
static char *ox_fmt(ox *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? ox_alloc(o, (size_t)n + 1) : NULL;
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Room for one more node / initializer (the lists double). */
#define GROW(o, list, n, cap)                                                                      \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            size_t c_ = (cap) ? 2 * (cap) : 32;                                                    \
            void *q_ = realloc((list), c_ * sizeof *(list));                                       \
            if (!q_) return nn_fail("%s: out of memory building the ONNX model", (o)->dst), NULL;  \
            (list) = q_;                                                                           \
            (cap) = c_;                                                                            \
        }                                                                                          \
    } while (0)

/* A refusal: what cannot be exported and why, naming the layer. */
static int refuse(const ox *o, const nn_layer *l, const char *fmt, ...) NN_PRINTF(3, 4);
static int refuse(const ox *o, const nn_layer *l, const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return nn_fail("%s: layer %s (%s, model spec line %d) cannot be exported to ONNX: %s; "
                   "nothing written to %s",
                   o->src, l->name, l->ops->type, l->line, why, o->dst);
}

/* ---- nodes, attributes, initializers ---- */

#define MAX_ATTRS 8

static Onnx__NodeProto *node(ox *o, const char *op, const char *name, const char *out, int nin,
                             ...) {
    Onnx__NodeProto *n = ox_alloc(o, sizeof *n);
    char **in = ox_alloc(o, (size_t)nin * sizeof *in + 1);
    char **outs = ox_alloc(o, sizeof *outs);
    Onnx__AttributeProto **attrs = ox_alloc(o, MAX_ATTRS * sizeof *attrs);
    if (!n || !in || !outs || !attrs) return NULL;
    GROW(o, o->nodes, o->nnodes, o->capnodes);
    onnx__node_proto__init(n);
    va_list ap;
    va_start(ap, nin);
    for (int i = 0; i < nin; i++) in[i] = (char *)va_arg(ap, const char *);
    va_end(ap);
    outs[0] = (char *)out;
    n->n_input = (size_t)nin;
    n->input = in;
    n->n_output = 1;
    n->output = outs;
    n->name = (char *)name;
    n->op_type = (char *)op;
    n->attribute = attrs;
    o->nodes[o->nnodes++] = n;
    return n;
}

static Onnx__AttributeProto *attr(ox *o, Onnx__NodeProto *n, const char *name,
                                  Onnx__AttributeProto__AttributeType type) {
    Onnx__AttributeProto *a = n->n_attribute < MAX_ATTRS ? ox_alloc(o, sizeof *a) : NULL;
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static int attr_i(ox *o, Onnx__NodeProto *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (!a) return NN_ERR;
    a->has_i = 1;
    a->i = v;
    return NN_OK;
}

static int attr_f(ox *o, Onnx__NodeProto *n, const char *name, float v) {
    Onnx__AttributeProto *a = attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (!a) return NN_ERR;
    a->has_f = 1;
    a->f = v;
    return NN_OK;
}

/* An INTS attribute of two values (a, a) or four (a, a, a, a). */
static int attr_ints(ox *o, Onnx__NodeProto *n, const char *name, int count, int64_t v) {
    Onnx__AttributeProto *a = attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *p = a ? ox_alloc(o, (size_t)count * sizeof *p) : NULL;
    if (!p) return NN_ERR;
    for (int i = 0; i < count; i++) p[i] = v;
    a->n_ints = (size_t)count;
    a->ints = p;
    return NN_OK;
}

static Onnx__TensorProto *tensor(ox *o, const char *name, int ndim, const int64_t *dims,
                                 int32_t type) {
    Onnx__TensorProto *t = ox_alloc(o, sizeof *t);
    int64_t *d = ox_alloc(o, (size_t)(ndim ? ndim : 1) * sizeof *d);
    if (!t || !d) return NULL;
    GROW(o, o->inits, o->ninits, o->capinits);
    onnx__tensor_proto__init(t);
    if (ndim) memcpy(d, dims, (size_t)ndim * sizeof *d);
    t->n_dims = (size_t)ndim;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = type;
    t->name = (char *)name;
    o->inits[o->ninits++] = t;
    return t;
}

/* A float32 initializer over data (referenced, not copied: it must outlive
 * the packing). Returns its name. */
static const char *init_f(ox *o, const char *name, int ndim, const int64_t *dims,
                          const float *data) {
    Onnx__TensorProto *t = name ? tensor(o, name, ndim, dims, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
                                : NULL;
    if (!t) return NULL;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    t->n_float_data = n;
    t->float_data = (float *)data;
    o->weights += n;
    return name;
}

/* A 0-d float32 constant. */
static const char *init_scalar(ox *o, const char *name, float v) {
    float *p = ox_alloc(o, sizeof *p);
    if (!p) return NULL;
    *p = v;
    return init_f(o, name, 0, NULL, p);
}

/* A 1-d int64 constant (a shape). */
static const char *init_i64(ox *o, const char *name, int n, const int64_t *v) {
    int64_t *p = ox_alloc(o, (size_t)n * sizeof *p);
    const int64_t dims[1] = {n};
    Onnx__TensorProto *t = p && name ? tensor(o, name, 1, dims, ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
                                     : NULL;
    if (!t) return NULL;
    memcpy(p, v, (size_t)n * sizeof *p);
    t->n_int64_data = (size_t)n;
    t->int64_data = p;
    return name;
}

/* ---- values between the layers ---- */

/* A tensor of the graph: rank 4, (N, C, H, W), or rank 2, (N, C*H*W) (what
 * Gemm and Flatten give; nntrain's shape (units, 1, 1)). */
typedef struct {
    const char *name;
    int rank;
    nn_shape s;
} val;

/* As (N, C, H, W): a Reshape when v is flat. */
static int to_nchw(ox *o, const nn_layer *l, val *v) {
    if (v->rank == 4) return NN_OK;
    const int64_t shape[4] = {-1, v->s.c, v->s.h, v->s.w};
    const char *name = ox_fmt(o, "%s/to_nchw", l->name);
    const char *sh = init_i64(o, ox_fmt(o, "%s/nchw_shape", l->name), 4, shape);
    if (!name || !sh || !node(o, "Reshape", name, name, 2, v->name, sh)) return NN_ERR;
    v->name = name;
    v->rank = 4;
    return NN_OK;
}

/* As (N, C*H*W): a Flatten when v is (N, C, H, W). */
static int to_flat(ox *o, const char *name, val *v) {
    if (v->rank == 2) return NN_OK;
    Onnx__NodeProto *n = name ? node(o, "Flatten", name, name, 1, v->name) : NULL;
    if (!n || attr_i(o, n, "axis", 1) != NN_OK) return NN_ERR;
    v->name = name;
    v->rank = 2;
    return NN_OK;
}

/* The tensor `name` of a layer (its parameters, or its state), of want
 * floats; NULL + a refusal when it is not there. */
static const float *weights(const ox *o, const nn_layer *l, bool param, const char *name,
                            size_t want) {
    const nn_tensor_desc *t = param ? l->params : l->states;
    const int n = param ? l->nparam_tensors : l->nstate_tensors;
    for (int i = 0; i < n; i++)
        if (!strcmp(t[i].name, name)) {
            if (t[i].size != want) {
                refuse(o, l, "its tensor %s holds %zu values, expected %zu", name, t[i].size,
                       want);
                return NULL;
            }
            return (param ? l->w : l->state) + t[i].offset;
        }
    refuse(o, l, "it has no tensor %s", name);
    return NULL;
}

/* The output shape a layer's options give must be the net's. */
static int same_shape(const ox *o, const nn_layer *l, nn_shape s) {
    if (s.c == l->out.c && s.h == l->out.h && s.w == l->out.w) return NN_OK;
    return refuse(o, l,
                  "its options give an output of (%d, %d, %d), the net has (%d, %d, %d): the "
                  "exporter does not know how this layer computes",
                  s.c, s.h, s.w, l->out.c, l->out.h, l->out.w);
}

/* conv2d's and deconv2d's pad=same|valid|N (conv2d's default: same). */
static int conv_pad(nn_layer *l, int r, int *p) {
    const char *pad = nn_layer_opt_str(l, "pad", "same");
    if (!strcmp(pad, "same")) *p = r / 2;
    else if (!strcmp(pad, "valid")) *p = 0;
    else NN_TRY(nn_layer_opt_int(l, "pad", 0, 0, 64, p));
    return NN_OK;
}

/* ---- the layers ---- */

typedef struct {
    ox *o;
    nn_net *net;
    nn_layer *l;
    val *cur;  /* in: the layer's input; out: its output */
    val *outs; /* every earlier layer's output (save/add) */
} emit;

/* Finish a layer whose last node wrote l->name. */
static int done(emit *e, int rank) {
    *e->cur = (val){e->l->name, rank, e->l->out};
    return NN_OK;
}

static int emit_dense(emit *e) {
    nn_layer *l = e->l;
    int units;
    bool bias;
    NN_TRY(nn_layer_opt_int(l, "units", 0, 1, 1 << 24, &units));
    NN_TRY(nn_layer_opt_bool(l, "bias", true, &bias));
    NN_TRY(same_shape(e->o, l, (nn_shape){units, 1, 1}));
    const int in = (int)nn_shape_size(l->in);
    const int64_t kd[2] = {in, units}, bd[1] = {units};
    const float *k = weights(e->o, l, true, "kernel", (size_t)in * units);
    const float *b = bias ? weights(e->o, l, true, "bias", (size_t)units) : NULL;
    if (!k || (bias && !b)) return NN_ERR;
    NN_TRY(to_flat(e->o, ox_fmt(e->o, "%s/flatten", l->name), e->cur));
    const char *kn = init_f(e->o, ox_fmt(e->o, "%s/kernel", l->name), 2, kd, k);
    const char *bn = bias ? init_f(e->o, ox_fmt(e->o, "%s/bias", l->name), 1, bd, b) : NULL;
    if (!kn || (bias && !bn)) return NN_ERR;
    Onnx__NodeProto *n = bias ? node(e->o, "Gemm", l->name, l->name, 3, e->cur->name, kn, bn)
                              : node(e->o, "MatMul", l->name, l->name, 2, e->cur->name, kn);
    if (!n) return NN_ERR;
    return done(e, 2);
}

/* Conv over the kernel (K, C, R, R) at kern, bias (K) or NULL. */
static int conv_node(emit *e, const float *kern, const float *bias, int r, int s, int p) {
    nn_layer *l = e->l;
    const int K = l->out.c;
    const int64_t kd[4] = {K, l->in.c, r, r}, bd[1] = {K};
    NN_TRY(to_nchw(e->o, l, e->cur));
    const char *kn = init_f(e->o, ox_fmt(e->o, "%s/kernel", l->name), 4, kd, kern);
    const char *bn = bias ? init_f(e->o, ox_fmt(e->o, "%s/bias", l->name), 1, bd, bias) : NULL;
    if (!kn || (bias && !bn)) return NN_ERR;
    Onnx__NodeProto *n = bias ? node(e->o, "Conv", l->name, l->name, 3, e->cur->name, kn, bn)
                              : node(e->o, "Conv", l->name, l->name, 2, e->cur->name, kn);
    if (!n || attr_ints(e->o, n, "kernel_shape", 2, r) != NN_OK ||
        attr_ints(e->o, n, "strides", 2, s) != NN_OK || attr_ints(e->o, n, "pads", 4, p) != NN_OK ||
        attr_ints(e->o, n, "dilations", 2, 1) != NN_OK || attr_i(e->o, n, "group", 1) != NN_OK)
        return NN_ERR;
    return done(e, 4);
}

static int emit_conv2d(emit *e) {
    nn_layer *l = e->l;
    int k, r, s, p;
    bool bias;
    NN_TRY(nn_layer_opt_int(l, "filters", 0, 1, 1 << 16, &k));
    NN_TRY(nn_layer_opt_int(l, "size", 3, 1, 64, &r));
    NN_TRY(nn_layer_opt_int(l, "stride", 1, 1, 64, &s));
    NN_TRY(nn_layer_opt_bool(l, "bias", true, &bias));
    NN_TRY(conv_pad(l, r, &p));
    NN_TRY(same_shape(e->o, l,
                      (nn_shape){k, (l->in.h + 2 * p - r) / s + 1, (l->in.w + 2 * p - r) / s + 1}));
    const size_t nk = (size_t)k * l->in.c * r * r;
    const float *kern = weights(e->o, l, true, "kernel", nk);
    const float *b = bias ? weights(e->o, l, true, "bias", (size_t)k) : NULL;
    if (!kern || (bias && !b)) return NN_ERR;
    return conv_node(e, kern, b, r, s, p);
}

/* whiten: a stride-1 unpadded convolution whose kernel is fitted state. */
static int emit_whiten(emit *e) {
    nn_layer *l = e->l;
    int r;
    bool bias;
    NN_TRY(nn_layer_opt_int(l, "size", 2, 1, 8, &r));
    NN_TRY(nn_layer_opt_bool(l, "bias", true, &bias));
    const int d = l->in.c * r * r;
    NN_TRY(same_shape(e->o, l, (nn_shape){2 * d, l->in.h - r + 1, l->in.w - r + 1}));
    const float *kern = weights(e->o, l, false, "kernel", (size_t)2 * d * d);
    const float *b = bias ? weights(e->o, l, true, "bias", (size_t)2 * d) : NULL;
    if (!kern || (bias && !b)) return NN_ERR;
    return conv_node(e, kern, b, r, 1, 0);
}

static int emit_deconv2d(emit *e) {
    nn_layer *l = e->l;
    int k, r, s, p, op;
    bool bias;
    NN_TRY(nn_layer_opt_int(l, "filters", 0, 1, 1 << 16, &k));
    NN_TRY(nn_layer_opt_int(l, "size", 4, 1, 64, &r));
    NN_TRY(nn_layer_opt_int(l, "stride", 2, 1, 64, &s));
    NN_TRY(nn_layer_opt_int(l, "pad", 1, 0, 64, &p));
    NN_TRY(nn_layer_opt_int(l, "out_pad", 0, 0, 63, &op));
    NN_TRY(nn_layer_opt_bool(l, "bias", true, &bias));
    NN_TRY(same_shape(e->o, l,
                      (nn_shape){k, (l->in.h - 1) * s - 2 * p + r + op,
                                 (l->in.w - 1) * s - 2 * p + r + op}));
    const int64_t kd[4] = {l->in.c, k, r, r}, bd[1] = {k};
    const float *kern = weights(e->o, l, true, "kernel", (size_t)l->in.c * k * r * r);
    const float *b = bias ? weights(e->o, l, true, "bias", (size_t)k) : NULL;
    if (!kern || (bias && !b)) return NN_ERR;
    NN_TRY(to_nchw(e->o, l, e->cur));
    const char *kn = init_f(e->o, ox_fmt(e->o, "%s/kernel", l->name), 4, kd, kern);
    const char *bn = bias ? init_f(e->o, ox_fmt(e->o, "%s/bias", l->name), 1, bd, b) : NULL;
    if (!kn || (bias && !bn)) return NN_ERR;
    Onnx__NodeProto *n =
        bias ? node(e->o, "ConvTranspose", l->name, l->name, 3, e->cur->name, kn, bn)
             : node(e->o, "ConvTranspose", l->name, l->name, 2, e->cur->name, kn);
    if (!n || attr_ints(e->o, n, "kernel_shape", 2, r) != NN_OK ||
        attr_ints(e->o, n, "strides", 2, s) != NN_OK || attr_ints(e->o, n, "pads", 4, p) != NN_OK ||
        attr_ints(e->o, n, "output_padding", 2, op) != NN_OK ||
        attr_ints(e->o, n, "dilations", 2, 1) != NN_OK || attr_i(e->o, n, "group", 1) != NN_OK)
        return NN_ERR;
    return done(e, 4);
}

static int emit_maxpool(emit *e) {
    nn_layer *l = e->l;
    int d, s;
    NN_TRY(nn_layer_opt_int(l, "size", 2, 1, 64, &d));
    NN_TRY(nn_layer_opt_int(l, "stride", d, 1, 64, &s));
    NN_TRY(same_shape(e->o, l, (nn_shape){l->in.c, (l->in.h - d) / s + 1, (l->in.w - d) / s + 1}));
    NN_TRY(to_nchw(e->o, l, e->cur));
    Onnx__NodeProto *n = node(e->o, "MaxPool", l->name, l->name, 1, e->cur->name);
    if (!n || attr_ints(e->o, n, "kernel_shape", 2, d) != NN_OK ||
        attr_ints(e->o, n, "strides", 2, s) != NN_OK)
        return NN_ERR;
    return done(e, 4);
}

/* BatchNormalization in its inference form: the running statistics. */
static int emit_batchnorm(emit *e) {
    nn_layer *l = e->l;
    float eps;
    bool scale;
    NN_TRY(nn_layer_opt_float(l, "eps", 1e-5f, 0.0f, 1.0f, &eps));
    NN_TRY(nn_layer_opt_bool(l, "scale", true, &scale));
    NN_TRY(same_shape(e->o, l, l->in));
    const int C = l->in.c;
    const int64_t dims[1] = {C};
    /* A batchnorm after dense sees (units, 1, 1): per unit, as Gemm's (N, units). */
    const float *gamma = scale ? weights(e->o, l, true, "gamma", (size_t)C) : NULL;
    const float *beta = weights(e->o, l, true, "beta", (size_t)C);
    const float *mean = weights(e->o, l, false, "moving_mean", (size_t)C);
    const float *var = weights(e->o, l, false, "moving_variance", (size_t)C);
    if ((scale && !gamma) || !beta || !mean || !var) return NN_ERR;
    if (!scale) {
        float *ones = ox_alloc(e->o, (size_t)C * sizeof *ones);
        if (!ones) return NN_ERR;
        for (int k = 0; k < C; k++) ones[k] = 1.0f;
        gamma = ones;
    }
    const char *g = init_f(e->o, ox_fmt(e->o, "%s/gamma", l->name), 1, dims, gamma);
    const char *b = init_f(e->o, ox_fmt(e->o, "%s/beta", l->name), 1, dims, beta);
    const char *m = init_f(e->o, ox_fmt(e->o, "%s/moving_mean", l->name), 1, dims, mean);
    const char *v = init_f(e->o, ox_fmt(e->o, "%s/moving_variance", l->name), 1, dims, var);
    if (!g || !b || !m || !v) return NN_ERR;
    Onnx__NodeProto *n =
        node(e->o, "BatchNormalization", l->name, l->name, 5, e->cur->name, g, b, m, v);
    if (!n || attr_f(e->o, n, "epsilon", eps) != NN_OK) return NN_ERR;
    return done(e, e->cur->rank);
}

static int unary(emit *e, const char *op) {
    NN_TRY(same_shape(e->o, e->l, e->l->in));
    if (!node(e->o, op, e->l->name, e->l->name, 1, e->cur->name)) return NN_ERR;
    return done(e, e->cur->rank);
}

static int emit_relu(emit *e) { return unary(e, "Relu"); }
static int emit_sigmoid(emit *e) { return unary(e, "Sigmoid"); }
static int emit_tanh(emit *e) { return unary(e, "Tanh"); }

static int emit_leaky_relu(emit *e) {
    float alpha;
    NN_TRY(nn_layer_opt_float(e->l, "alpha", NN_LEAKY_SLOPE, 0.0f, 1.0f, &alpha));
    NN_TRY(same_shape(e->o, e->l, e->l->in));
    Onnx__NodeProto *n = node(e->o, "LeakyRelu", e->l->name, e->l->name, 1, e->cur->name);
    if (!n || attr_f(e->o, n, "alpha", alpha) != NN_OK) return NN_ERR;
    return done(e, e->cur->rank);
}

/* x Phi(x) = x * 0.5 * (1 + erf(x / sqrt 2)) (opset 17 has no Gelu). */
static int emit_gelu(emit *e) {
    ox *o = e->o;
    const char *L = e->l->name, *x = e->cur->name;
    NN_TRY(same_shape(o, e->l, e->l->in));
    const char *r2 = init_scalar(o, ox_fmt(o, "%s/inv_sqrt2", L), 0.70710678118654752f);
    const char *one = init_scalar(o, ox_fmt(o, "%s/one", L), 1.0f);
    const char *half = init_scalar(o, ox_fmt(o, "%s/half", L), 0.5f);
    const char *t1 = ox_fmt(o, "%s/scaled", L), *t2 = ox_fmt(o, "%s/erf", L);
    const char *t3 = ox_fmt(o, "%s/one_plus_erf", L), *t4 = ox_fmt(o, "%s/x_times", L);
    if (!r2 || !one || !half || !t1 || !t2 || !t3 || !t4 || !node(o, "Mul", t1, t1, 2, x, r2) ||
        !node(o, "Erf", t2, t2, 1, t1) || !node(o, "Add", t3, t3, 2, t2, one) ||
        !node(o, "Mul", t4, t4, 2, x, t3) || !node(o, "Mul", L, L, 2, t4, half))
        return NN_ERR;
    return done(e, e->cur->rank);
}

/* dropout is the identity at test time: no node, the input goes on. */
static int emit_dropout(emit *e) { return same_shape(e->o, e->l, e->l->in); }

static int emit_mul(emit *e) {
    float k;
    NN_TRY(nn_layer_opt_float(e->l, "by", 0.0f, -1e6f, 1e6f, &k));
    NN_TRY(same_shape(e->o, e->l, e->l->in));
    const char *kn = init_scalar(e->o, ox_fmt(e->o, "%s/by", e->l->name), k);
    if (!kn || !node(e->o, "Mul", e->l->name, e->l->name, 2, e->cur->name, kn)) return NN_ERR;
    return done(e, e->cur->rank);
}

/* (x - mean) * (1 / std) per channel, as the layer computes it. */
static int emit_normalize(emit *e) {
    ox *o = e->o;
    nn_layer *l = e->l;
    NN_TRY(same_shape(o, l, l->in));
    const int C = l->in.c;
    const float *mean = weights(o, l, false, "mean", (size_t)C);
    const float *sd = weights(o, l, false, "std", (size_t)C);
    float *inv = ox_alloc(o, (size_t)C * sizeof *inv);
    if (!mean || !sd || !inv) return NN_ERR;
    for (int k = 0; k < C; k++) inv[k] = 1.0f / sd[k];
    /* (C, 1, 1) broadcasts over (N, C, H, W); (C) over a flat (N, C). */
    const int64_t dims[3] = {C, 1, 1};
    const int nd = e->cur->rank == 4 ? 3 : 1;
    const char *mn = init_f(o, ox_fmt(o, "%s/mean", l->name), nd, dims, mean);
    const char *in = init_f(o, ox_fmt(o, "%s/inv_std", l->name), nd, dims, inv);
    const char *t = ox_fmt(o, "%s/centred", l->name);
    if (!mn || !in || !t || !node(o, "Sub", t, t, 2, e->cur->name, mn) ||
        !node(o, "Mul", l->name, l->name, 2, t, in))
        return NN_ERR;
    return done(e, e->cur->rank);
}

static int emit_flatten(emit *e) {
    NN_TRY(same_shape(e->o, e->l, (nn_shape){(int)nn_shape_size(e->l->in), 1, 1}));
    if (e->cur->rank == 2) {
        e->cur->s = e->l->out;
        return NN_OK;
    }
    NN_TRY(to_flat(e->o, e->l->name, e->cur));
    return done(e, 2);
}

static int emit_reshape(emit *e) {
    nn_layer *l = e->l;
    if (nn_shape_size(l->out) != nn_shape_size(l->in))
        return refuse(e->o, l, "it maps %zu values to %zu", nn_shape_size(l->in),
                      nn_shape_size(l->out));
    const int64_t shape[4] = {-1, l->out.c, l->out.h, l->out.w};
    const char *sh = init_i64(e->o, ox_fmt(e->o, "%s/shape", l->name), 4, shape);
    if (!sh || !node(e->o, "Reshape", l->name, l->name, 2, e->cur->name, sh)) return NN_ERR;
    return done(e, 4);
}

/* save: the point a later add joins; no node (its output is its input). */
static int emit_save(emit *e) { return same_shape(e->o, e->l, e->l->in); }

static int emit_add(emit *e) {
    nn_layer *l = e->l;
    if (!l->link) return refuse(e->o, l, "it is joined to no save");
    NN_TRY(same_shape(e->o, l, l->in));
    val skip = e->outs[l->link - e->net->layers];
    if (skip.rank != e->cur->rank) { /* one flat, one not: both as (N, C, H, W) */
        NN_TRY(to_nchw(e->o, l, e->cur));
        if (skip.rank != 4) {
            const int64_t shape[4] = {-1, skip.s.c, skip.s.h, skip.s.w};
            const char *name = ox_fmt(e->o, "%s/skip_nchw", l->name);
            const char *sh = init_i64(e->o, ox_fmt(e->o, "%s/skip_shape", l->name), 4, shape);
            if (!name || !sh || !node(e->o, "Reshape", name, name, 2, skip.name, sh)) return NN_ERR;
            skip.name = name;
            skip.rank = 4;
        }
    }
    if (!node(e->o, "Add", l->name, l->name, 2, e->cur->name, skip.name)) return NN_ERR;
    return done(e, e->cur->rank);
}

/* Every layer type, with the options the exporter reads or knows to be
 * training-only (init, dirac, momentum, bias_lr, fit, bias_epochs, rate). */
static const struct {
    const char *type, *opts;
    int (*emit)(emit *e);
} g_kinds[] = {
    {"dense", " units bias ", emit_dense},
    {"conv2d", " filters size stride pad bias init dirac ", emit_conv2d},
    {"whiten", " size eps bias fit bias_epochs ", emit_whiten},
    {"deconv2d", " filters size stride pad out_pad bias ", emit_deconv2d},
    {"maxpool", " size stride ", emit_maxpool},
    {"batchnorm", " eps momentum scale bias_lr ", emit_batchnorm},
    {"relu", " ", emit_relu},
    {"sigmoid", " ", emit_sigmoid},
    {"tanh", " ", emit_tanh},
    {"leaky_relu", " alpha ", emit_leaky_relu},
    {"gelu", " ", emit_gelu},
    {"dropout", " rate ", emit_dropout},
    {"mul", " by ", emit_mul},
    {"normalize", " ", emit_normalize},
    {"flatten", " ", emit_flatten},
    {"reshape", " shape c h w ", emit_reshape},
    {"save", " name ", emit_save},
    {"add", " from ", emit_add},
};

static const char *known_types(void) {
    static char buf[256];
    if (!buf[0])
        for (size_t i = 0; i < sizeof g_kinds / sizeof *g_kinds; i++)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? ", " : "",
                     g_kinds[i].type);
    return buf;
}

static int emit_layer(emit *e) {
    const nn_layer *l = e->l;
    for (size_t i = 0; i < sizeof g_kinds / sizeof *g_kinds; i++) {
        if (strcmp(g_kinds[i].type, l->ops->type)) continue;
        for (int k = 0; k < l->nopts; k++) {
            char key[40];
            snprintf(key, sizeof key, " %s ", l->opts[k].key);
            if (!strstr(g_kinds[i].opts, key))
                return refuse(e->o, l,
                              "its option %s=%s is not one the exporter knows for %s (it knows:%s)",
                              l->opts[k].key, l->opts[k].val, l->ops->type, g_kinds[i].opts);
        }
        return g_kinds[i].emit(e);
    }
    return refuse(e->o, l, "no ONNX form for the layer type '%s' (the exporter knows: %s)",
                  l->ops->type, known_types());
}

/* ---- the model ---- */

static Onnx__ValueInfoProto *value_info(ox *o, const char *name, int ndim, const int64_t *dims,
                                        const char *doc) {
    Onnx__ValueInfoProto *v = ox_alloc(o, sizeof *v);
    Onnx__TypeProto *t = ox_alloc(o, sizeof *t);
    Onnx__TypeProto__Tensor *tt = ox_alloc(o, sizeof *tt);
    Onnx__TensorShapeProto *sh = ox_alloc(o, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **d = ox_alloc(o, (size_t)ndim * sizeof *d);
    if (!v || !t || !tt || !sh || !d) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < ndim; i++) {
        if (!(d[i] = ox_alloc(o, sizeof *d[i]))) return NULL;
        onnx__tensor_shape_proto__dimension__init(d[i]);
        if (dims[i] < 0) { /* the batch */
            d[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d[i]->dim_param = "N";
        } else {
            d[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d[i]->dim_value = dims[i];
        }
    }
    sh->n_dim = (size_t)ndim;
    sh->dim = d;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = (char *)name;
    v->type = t;
    v->doc_string = (char *)doc;
    return v;
}

/* s as a JSON string literal, appended to the arena string being built. */
static char *json_names(ox *o, char *const *names, int k) {
    size_t cap = 3;
    for (int i = 0; i < k; i++) cap += (names ? 6 * strlen(names[i]) : 12) + 3;
    char *s = ox_alloc(o, cap), *p = s;
    if (!s) return NULL;
    *p++ = '[';
    for (int i = 0; i < k; i++) {
        if (i) *p++ = ',';
        *p++ = '"';
        if (!names) {
            p += sprintf(p, "%d", i);
        } else {
            for (const unsigned char *c = (const unsigned char *)names[i]; *c; c++) {
                if (*c == '"' || *c == '\\') *p++ = '\\', *p++ = (char)*c;
                else if (*c < 0x20) p += sprintf(p, "\\u%04x", *c);
                else *p++ = (char)*c;
            }
        }
        *p++ = '"';
    }
    *p++ = ']';
    *p = 0;
    return s;
}

static int meta_add(ox *o, Onnx__ModelProto *m, const char *key, const char *value) {
    if (!value) return NN_OK;
    Onnx__StringStringEntryProto *e = ox_alloc(o, sizeof *e);
    if (!e) return NN_ERR;
    onnx__string_string_entry_proto__init(e);
    e->key = (char *)key;
    e->value = (char *)value;
    m->metadata_props[m->n_metadata_props++] = e;
    return NN_OK;
}

static int write_model(ox *o, const Onnx__ModelProto *m, const char *path) {
    const size_t n = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return nn_fail("%s: out of memory for the %zu-byte model", path, n);
    onnx__model_proto__pack(m, buf);
    size_t tn = strlen(path) + 64;
    char *tmp = malloc(tn);
    FILE *f = tmp ? nn_open_temp(path, tmp, tn) : NULL;
    if (!tmp) nn_fail("out of memory");
    int rc = f ? NN_OK : NN_ERR;
    if (f && fwrite(buf, 1, n, f) != n) {
        rc = nn_fail("%s: writing %zu bytes failed", tmp, n);
        fclose(f);
        remove(tmp);
    } else if (f) {
        rc = nn_commit_temp(f, tmp, path);
    }
    (void)o;
    free(tmp);
    free(buf);
    return rc;
}

int nn_onnx_export_net(nn_net *net, const nn_onnx_meta *meta, const char *onnx_path,
                       char *summary, size_t summary_size) {
    ox o = {.src = meta->source ? meta->source : "the net", .dst = onnx_path};
    const bool gen = meta->generator;
    int rc = NN_OK;
    val *outs = nn_calloc((size_t)net->nlayers + 1, sizeof *outs, "ONNX values");
    if (!outs) return NN_ERR;
    /* The input: pixels (N, C, H, W); a generator's noise (N, Z) when it is
     * (Z, 1, 1). */
    const nn_shape in = net->in;
    const bool flat_in = gen && in.h == 1 && in.w == 1;
    const char *in_name = gen ? "noise" : "input";
    val cur = {in_name, flat_in ? 2 : 4, in};
    for (int i = 0; rc == NN_OK && i < net->nlayers; i++) {
        emit e = {&o, net, &net->layers[i], &cur, outs};
        rc = emit_layer(&e);
        cur.s = net->layers[i].out;
        outs[i] = cur;
    }
    const nn_shape out = net->nlayers ? net->layers[net->nlayers - 1].out : in;
    const char *out_name = gen ? "image" : "probabilities";
    if (rc == NN_OK && gen) { /* (G + 1) / 2: [-1, 1] as [0, 1] */
        nn_layer last = net->nlayers ? net->layers[net->nlayers - 1] : (nn_layer){.name = "input"};
        const char *half = init_scalar(&o, "image/half", 0.5f);
        rc = half && to_nchw(&o, &last, &cur) == NN_OK &&
                     node(&o, "Mul", "image/scaled", "image/scaled", 2, cur.name, half) &&
                     node(&o, "Add", out_name, out_name, 2, "image/scaled", half)
                 ? NN_OK
                 : NN_ERR;
    } else if (rc == NN_OK) {
        Onnx__NodeProto *n = NULL;
        if (to_flat(&o, "logits", &cur) == NN_OK)
            n = node(&o, "Softmax", out_name, out_name, 1, cur.name);
        rc = n && attr_i(&o, n, "axis", 1) == NN_OK ? NN_OK : NN_ERR;
    }
    free(outs);
    /* Graph and model. */
    Onnx__GraphProto *g = rc == NN_OK ? ox_alloc(&o, sizeof *g) : NULL;
    Onnx__ModelProto *m = g ? ox_alloc(&o, sizeof *m) : NULL;
    Onnx__OperatorSetIdProto *ops = m ? ox_alloc(&o, sizeof *ops) : NULL;
    Onnx__OperatorSetIdProto **opsp = ops ? ox_alloc(&o, sizeof *opsp) : NULL;
    Onnx__ValueInfoProto **gi = opsp ? ox_alloc(&o, sizeof *gi) : NULL;
    Onnx__ValueInfoProto **go = gi ? ox_alloc(&o, sizeof *go) : NULL;
    Onnx__StringStringEntryProto **props = go ? ox_alloc(&o, 12 * sizeof *props) : NULL;
    if (rc == NN_OK && !props) rc = NN_ERR;
    const int64_t in4[4] = {-1, in.c, in.h, in.w}, in2[2] = {-1, in.c};
    const int64_t out4[4] = {-1, out.c, out.h, out.w};
    const int64_t out2[2] = {-1, (int64_t)nn_shape_size(out)};
    char *in_doc = NULL, *out_doc = NULL;
    if (rc == NN_OK) {
        in_doc = gen ? ox_fmt(&o, "float32 noise (N, %d%s), each value drawn from N(0, 1) as "
                              "nntrain sample draws it",
                              in.c, flat_in ? "" : ", H, W")
                     : ox_fmt(&o, "float32 pixels in [0, 1] (byte / 255), NCHW (N, %d, %d, %d), "
                              "N dynamic; the net's own input normalisation is in the graph",
                              in.c, in.h, in.w);
        out_doc = gen ? ox_fmt(&o, "float32 image (N, %d, %d, %d), NCHW, pixels in [0, 1]: "
                               "(G(z) + 1) / 2, the generator's tanh output; nntrain sample "
                               "writes round(255 x image)",
                               out.c, out.h, out.w)
                      : ox_fmt(&o, "float32 class probabilities (N, %d): softmax of the logits",
                               meta->classes);
        gi[0] = in_doc ? value_info(&o, in_name, flat_in ? 2 : 4, flat_in ? in2 : in4, in_doc)
                       : NULL;
        go[0] = out_doc ? value_info(&o, out_name, gen ? 4 : 2, gen ? out4 : out2, out_doc)
                        : NULL;
        if (!gi[0] || !go[0]) rc = NN_ERR;
    }
    if (rc == NN_OK) {
        onnx__graph_proto__init(g);
        g->name = gen ? "nntrain_generator" : "nntrain_classifier";
        g->n_node = o.nnodes;
        g->node = o.nodes;
        g->n_initializer = o.ninits;
        g->initializer = o.inits;
        g->n_input = 1;
        g->input = gi;
        g->n_output = 1;
        g->output = go;
        onnx__operator_set_id_proto__init(ops);
        ops->domain = "";
        ops->has_version = 1;
        ops->version = NN_ONNX_OPSET;
        opsp[0] = ops;
        onnx__model_proto__init(m);
        m->has_ir_version = 1;
        m->ir_version = NN_ONNX_IR_VERSION;
        m->n_opset_import = 1;
        m->opset_import = opsp;
        m->producer_name = "nntrain";
        m->producer_version = "1";
        m->has_model_version = 1;
        m->model_version = 1;
        m->doc_string = gen ? "nntrain GAN generator: noise in, image out"
                            : "nntrain classifier: pixels in, class probabilities out";
        m->graph = g;
        m->metadata_props = props;
        char *names = gen ? NULL : json_names(&o, meta->class_names, meta->classes);
        if ((!gen && !names) || meta_add(&o, m, "class_names", names) != NN_OK ||
            meta_add(&o, m, "training_command", meta->training_command) != NN_OK ||
            meta_add(&o, m, "model_spec", net->spec) != NN_OK ||
            meta_add(&o, m, "input", in_doc) != NN_OK ||
            meta_add(&o, m, "output", out_doc) != NN_OK ||
            meta_add(&o, m, "weights", meta->which) != NN_OK ||
            meta_add(&o, m, "source_checkpoint", meta->source) != NN_OK ||
            meta_add(&o, m, "export_command", meta->export_command) != NN_OK)
            rc = NN_ERR;
    }
    if (rc == NN_OK) rc = write_model(&o, m, onnx_path);
    if (rc == NN_OK && summary && summary_size) {
        char a[64], b[64];
        if (flat_in) snprintf(a, sizeof a, "%d", in.c);
        else snprintf(a, sizeof a, "%d, %d, %d", in.c, in.h, in.w);
        if (gen) snprintf(b, sizeof b, "%d, %d, %d", out.c, out.h, out.w);
        else snprintf(b, sizeof b, "%zu", nn_shape_size(out));
        snprintf(summary, summary_size,
                 "wrote %s: '%s' float32 [N, %s] -> '%s' float32 [N, %s]; %zu nodes, %zu "
                 "initializers (%zu values), opset %d",
                 onnx_path, in_name, a, out_name, b, o.nnodes, o.ninits, o.weights,
                 NN_ONNX_OPSET);
    }
    ox_free(&o);
    return rc;
}

#else /* !NN_ONNX */

bool nn_onnx_available(void) { return false; }

int nn_onnx_export_net(nn_net *net, const nn_onnx_meta *meta, const char *onnx_path,
                       char *summary, size_t summary_size) {
    (void)net, (void)meta, (void)summary, (void)summary_size;
    return nn_fail("built without ONNX export: install libonnx-dev protobuf-c-compiler "
                   "libprotobuf-c-dev (make deps) and rebuild; %s not written",
                   onnx_path);
}

#endif

int nn_onnx_export(const char *ckpt_path, const char *onnx_path, nn_onnx_opts *o) {
    o->summary[0] = 0;
    if (!nn_onnx_available()) return nn_onnx_export_net(NULL, NULL, onnx_path, NULL, 0);
    const char *kind;
    NN_TRY(nn_ckpt_kind(ckpt_path, &kind));
    const bool gan = !strcmp(kind, NN_CKPT_GAN);
    if (gan && !o->generator)
        return nn_fail("%s is a GAN's checkpoint (generator and discriminator): export "
                       "--generator writes its generator (noise in, image out); nothing written "
                       "to %s",
                       ckpt_path, onnx_path);
    if (!gan && o->generator)
        return nn_fail("%s is a classifier's checkpoint: --generator is for a checkpoint of "
                       "nntrain gan; nothing written to %s",
                       ckpt_path, onnx_path);
    /* The net eval and sample use: the moving average where there is one
     * (a classifier's root; a GAN's generator_ema), unless no_ema. */
    int has = 0;
    const char *part = NULL, *which = "the trained weights";
    if (gan) {
        if (!o->no_ema) NN_TRY(nn_ckpt_has_part(ckpt_path, kind, NN_CKPT_GENERATOR_EMA, &has));
        part = has ? NN_CKPT_GENERATOR_EMA : "generator";
        which = has ? "the generator's moving average (generator_ema)" : "the generator";
    } else if (o->no_ema) {
        NN_TRY(nn_ckpt_has_part(ckpt_path, kind, NN_CKPT_TRAINED, &has));
        if (has) part = NN_CKPT_TRAINED;
    } else {
        NN_TRY(nn_ckpt_has_part(ckpt_path, kind, NN_CKPT_TRAINED, &has));
        if (has) which = "the moving average of the weights (train --ema)";
    }
    char *spec = NULL;
    nn_shape in;
    int classes;
    NN_TRY(gan ? nn_ckpt_read_part(ckpt_path, kind, part, &spec, &in, &classes)
               : nn_ckpt_read_model(ckpt_path, &spec, &in, &classes));
    nn_net net;
    int rc = nn_net_create(&net, spec, ckpt_path, in, classes, 1, nn_backend_cpu());
    free(spec);
    NN_TRY(rc);
    const nn_ckpt_part p = {part, &net, NULL};
    char **names = NULL, *config = NULL;
    rc = nn_ckpt_load_parts(ckpt_path, kind, &p, 1, NULL, NULL);
    if (rc == NN_OK && !gan) rc = nn_ckpt_read_class_names(ckpt_path, classes, &names);
    if (rc == NN_OK) rc = nn_ckpt_read_config(ckpt_path, kind, &config);
    if (rc == NN_OK) {
        const nn_onnx_meta meta = {.generator = gan,
                                   .classes = classes,
                                   .class_names = names,
                                   .training_command = config,
                                   .source = ckpt_path,
                                   .export_command = o->command_line,
                                   .which = which};
        rc = nn_onnx_export_net(&net, &meta, onnx_path, o->summary, sizeof o->summary);
    }
    free(config);
    nn_ckpt_free_names(names, classes);
    nn_net_free(&net);
    return rc;
}
