/* presets.c: the named models (--model NAME), one table row each: the spec
 * it expands to, the data it was made for (its natural input shape and
 * classes, what `summary` and `help models` show without any data), and what
 * it is for. A new preset is one builder and one row. */
#include "nn/presets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*build_fn)(char *buf, size_t n, int hidden, int classes);

static void mlp(char *buf, size_t n, int hidden, int classes) {
    snprintf(buf, n, "# the course's network: 784 -> M sigmoid -> 10\n"
                     "dense %d\nsigmoid\ndense %d\n", hidden > 0 ? hidden : 100, classes);
}

static void mlp1000(char *buf, size_t n, int hidden, int classes) {
    snprintf(buf, n, "dense %d\nrelu\ndense %d\n", hidden > 0 ? hidden : 1000, classes);
}

/* No bias before batchnorm: BN removes it, and its gradient is only rounding
 * noise, which Adam would amplify into random steps. */
static void mlp1000_bn(char *buf, size_t n, int hidden, int classes) {
    snprintf(buf, n, "dropout 0.2\ndense %d bias=false\nbatchnorm\nrelu\ndropout 0.5\ndense %d\n",
             hidden > 0 ? hidden : 1000, classes);
}

/* The seed's Keras model (use with --optim adadelta). */
static void cnn(char *buf, size_t n, int hidden, int classes) {
    (void)hidden;
    snprintf(buf, n, "conv2d 32 size=3 pad=same\nrelu\nconv2d 64 size=3 pad=same\n"
                     "relu\nmaxpool 2\nflatten\ndense 128\nrelu\ndense %d\n",
             classes);
}

/* VGG-style for 32x32 colour images: three stages of two 3x3 conv + BN +
 * ReLU, max pooling and dropout, then a small dense head. */
static void cifar(char *buf, size_t n, int hidden, int classes) {
    (void)hidden;
    snprintf(buf, n,
             "normalize\n"
             "conv2d 32 bias=false\nbatchnorm\nrelu\nconv2d 32 bias=false\nbatchnorm\nrelu\n"
             "maxpool 2\n"
             "conv2d 64 bias=false\nbatchnorm\nrelu\nconv2d 64 bias=false\nbatchnorm\nrelu\n"
             "maxpool 2\n"
             "conv2d 128 bias=false\nbatchnorm\nrelu\nconv2d 128 bias=false\nbatchnorm\nrelu\n"
             "maxpool 2\nflatten\ndropout 0.3\ndense 256 bias=false\nbatchnorm\nrelu\n"
             "dropout 0.3\ndense %d\n",
             classes);
}

/* 64x64 grey faces (SMILEsmileD, task B2): four stages of 3x3 conv + BN +
 * ReLU and 2x2 max pooling (64 -> 4), then a small dense head. */
static void faces(char *buf, size_t n, int hidden, int classes) {
    (void)hidden;
    snprintf(buf, n,
             "normalize\n"
             "conv2d 32 bias=false\nbatchnorm\nrelu\nmaxpool 2\n"
             "conv2d 64 bias=false\nbatchnorm\nrelu\nmaxpool 2\n"
             "conv2d 128 bias=false\nbatchnorm\nrelu\nmaxpool 2\n"
             "conv2d 128 bias=false\nbatchnorm\nrelu\nmaxpool 2\n"
             "flatten\ndropout 0.3\ndense 128 bias=false\nbatchnorm\nrelu\ndropout 0.3\n"
             "dense %d\n",
             classes);
}

/* ResNet-9 style for 32x32 colour images (the fast-training literature's
 * CIFAR net, at a width for two cores): conv-BN-ReLU stages that widen and
 * pool (32 -> 16 -> 8 -> 4), an identity residual block of two convs after
 * the first and the last pooling, 4x4 max pooling to one value per channel,
 * one dense layer. --hidden sets the first stage's width W (24): the stages
 * are W, 2W, 4W, 8W. */
static void resnet(char *buf, size_t n, int hidden, int classes) {
    const int w = hidden > 0 ? hidden : 24;
#define CBR(k) "conv2d %d bias=false\nbatchnorm\nrelu\n"
    snprintf(buf, n,
             "normalize\n" CBR(w) CBR(2w) "maxpool 2\n"
             "save res1     # residual block at 16x16\n" CBR(2w) CBR(2w) "add res1\n"
             CBR(4w) "maxpool 2\n" CBR(8w) "maxpool 2\n"
             "save res2     # residual block at 4x4\n" CBR(8w) CBR(8w) "add res2\n"
             "maxpool 4\nflatten\ndense %d\n",
             w, 2 * w, 2 * w, 2 * w, 4 * w, 8 * w, 8 * w, 8 * w, classes);
#undef CBR
}

static const struct {
    nn_preset info;
    build_fn build;
} presets[] = {
    {{"mlp", "mnist", {1, 28, 28}, 10, "T1-T4: the course's 784-100-10 sigmoid network"}, mlp},
    {{"mlp1000", "mnist", {1, 28, 28}, 10, "784-1000-10 with ReLU"}, mlp1000},
    {{"mlp1000-bn", "mnist", {1, 28, 28}, 10, "784-1000-10 with dropout, BatchNorm, ReLU"},
     mlp1000_bn},
    {{"cnn", "mnist", {1, 28, 28}, 10, "the Keras CNN: two 3x3 convs, max pool, dense 128"}, cnn},
    {{"cifar", "cifar10", {3, 32, 32}, 10, "VGG-style CNN for 32x32 colour images"}, cifar},
    {{"resnet", "cifar10", {3, 32, 32}, 10, "ResNet-9 style for CIFAR-10 (--hidden: width)"},
     resnet},
    {{"faces", "smiles", {1, 64, 64}, 2, "smile / non-smile faces (B2), 64x64 grey"}, faces},
};

#define NPRESETS ((int)(sizeof presets / sizeof *presets))

int nn_preset_count(void) { return NPRESETS; }

const nn_preset *nn_preset_at(int i) { return i >= 0 && i < NPRESETS ? &presets[i].info : NULL; }

const nn_preset *nn_preset_find(const char *name) {
    for (int i = 0; i < NPRESETS; i++)
        if (!strcmp(presets[i].info.name, name)) return &presets[i].info;
    return NULL;
}

char *nn_model_preset(const char *name, int hidden, int classes) {
    for (int i = 0; i < NPRESETS; i++)
        if (!strcmp(presets[i].info.name, name)) {
            char buf[2048];
            presets[i].build(buf, sizeof buf, hidden, classes > 0 ? classes : presets[i].info.classes);
            return strdup(buf);
        }
    return NULL;
}

const char *nn_model_presets(void) {
    static char list[256];
    if (!list[0])
        for (int i = 0; i < NPRESETS; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     presets[i].info.name);
    return list;
}
