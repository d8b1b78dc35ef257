/* onnx.h: a trained net as an ONNX model (nntrain export, docs/onnx.md).
 *
 * A classifier becomes a graph from "input", float32 (N, C, H, W) pixels in
 * [0, 1] (what nntrain's loaders hand the net: byte / 255; N is dynamic), to
 * "probabilities", float32 (N, classes): the net's logits through Softmax.
 * Whatever nntrain does to its inputs happens inside the net (normalize,
 * whiten are layers), so it is inside the graph too. A GAN's generator
 * becomes a graph from "noise", float32 (N, Z) drawn from N(0, 1) as nntrain
 * draws it, to "image", float32 (N, C, H, W) = (G(z) + 1) / 2 in [0, 1]: the
 * pixels `nntrain sample` writes are round(255 x image).
 *
 * Every layer type maps to standard ONNX operators (opset 17, IR version 8,
 * ONNX 1.12 as Debian ships it): dense -> Gemm (MatMul without bias, Flatten
 * in front of a (C, H, W) input), conv2d and whiten -> Conv, deconv2d ->
 * ConvTranspose, maxpool -> MaxPool, batchnorm -> BatchNormalization with the
 * running statistics, dropout -> nothing (identity at test time), relu,
 * sigmoid, tanh, leaky_relu -> their operators, gelu -> x * 0.5 * (1 +
 * Erf(x / sqrt 2)), mul -> Mul, normalize -> Sub, Mul by 1/std, flatten ->
 * Flatten, reshape -> Reshape, save/add -> Add. A layer the exporter does not
 * know (a type, or an option of a known type) is refused by name. Metadata:
 * class_names (a JSON array), training_command (the checkpoint's record of
 * the training run), model_spec, the input and output conventions.
 *
 * The file is written only once the whole model is built, to a temp name
 * then renamed (fileutil.h): an error leaves no .onnx behind and an earlier
 * file at that path as it was. Without protobuf-c and Debian's onnx.proto at
 * build time (make ONNX=0, or the packages missing) every call fails with
 * the packages to install. */
#ifndef NN_ONNX_H
#define NN_ONNX_H

#include <stdbool.h>
#include <stddef.h>

#include "nn/net.h"

#define NN_ONNX_OPSET 17
#define NN_ONNX_IR_VERSION 8

/* Whether this build has the exporter. */
bool nn_onnx_available(void);

typedef struct {
    bool generator;           /* a GAN checkpoint's generator (else a classifier) */
    bool no_ema;              /* the weights the optimizer stepped, not their moving
                                 average (as eval/sample --no-ema) */
    const char *command_line; /* recorded as export_command (may be NULL) */
    char summary[768];        /* out: one line, what was written */
} nn_onnx_opts;

/* Load the checkpoint at ckpt_path and write onnx_path. NN_OK, or NN_ERR
 * with a message naming the file and, for a layer that cannot be expressed,
 * the layer (name, type, spec line) and why. */
int nn_onnx_export(const char *ckpt_path, const char *onnx_path, nn_onnx_opts *o);

/* What nn_onnx_export_net records besides the graph. */
typedef struct {
    bool generator;
    int classes;              /* classifier: outputs */
    char *const *class_names; /* classes entries, or NULL (the indices are written) */
    const char *training_command, *source, *export_command, *which; /* may be NULL */
} nn_onnx_meta;

/* The same for a built, loaded net whose weights are in host memory. */
int nn_onnx_export_net(nn_net *net, const nn_onnx_meta *meta, const char *onnx_path,
                       char *summary, size_t summary_size);

#endif
