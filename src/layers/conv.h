/* conv.h: the im2col + GEMM convolution that conv2d and whiten share (the
 * layers differ in where the kernel lives: a trained parameter, or state
 * fitted to the data). Geometry of one layer: input (C, H, W), K filters of
 * R x R, stride S, padding P, output (K, OH, OW). */
#ifndef NN_LAYERS_CONV_H
#define NN_LAYERS_CONV_H

#include "nn/layer.h"

typedef struct {
    nn_shape in;
    int k, r, s, p, oh, ow;
} nn_conv_geom;

/* FLOPs of the forward pass for one sample. */
double nn_conv_flops(const nn_conv_geom *g);
/* Floats of scratch for a batch of n. */
size_t nn_conv_scratch(const nn_backend *be, const nn_conv_geom *g, int n);
/* y = bias + kern * x for n images; bias may be NULL. */
void nn_conv_forward(const nn_backend *be, const nn_conv_geom *g, int n, const float *kern,
                     const float *bias, const float *x, float *y, float *scratch);
/* dkern += dL/dkern and dbias += dL/dbias unless NULL; dx = dL/dx unless NULL. */
void nn_conv_backward(const nn_backend *be, const nn_conv_geom *g, int n, const float *kern,
                      const float *x, const float *dy, float *dkern, float *dbias, float *dx,
                      float *scratch);

#endif
