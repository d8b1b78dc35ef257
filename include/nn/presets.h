/* presets.h: the named models of --model (src/net/presets.c), each with the
 * data it was made for, so that a preset can be described (summary, help
 * models) without any data. */
#ifndef NN_PRESETS_H
#define NN_PRESETS_H

#include "nn/layer.h"

typedef struct {
    const char *name;
    const char *data;  /* the --data it was made for */
    nn_shape shape;    /* its natural input shape */
    int classes;       /* and classes */
    const char *about; /* one line: what it is for */
} nn_preset;

int nn_preset_count(void);
const nn_preset *nn_preset_at(int i);
const nn_preset *nn_preset_find(const char *name);
/* Expand a preset name into spec text; `hidden` is used by presets with a
 * width parameter (0 = the preset's default), classes 0 = the preset's own.
 * A malloc'd string, or NULL if name is not a preset. */
char *nn_model_preset(const char *name, int hidden, int classes);
/* Comma-separated preset names. */
const char *nn_model_presets(void);

#endif
