/* summary.c: `nntrain summary`, a model's layer table, with no data read and
 * no weight initialised (the net is built with shapes only): of a checkpoint
 * (both nets of a GAN's), of --generator PRESET (both nets of a DCGAN
 * preset), or of --model at --input-shape, else the shape of --data (from
 * its kind, no file read), else the preset's natural shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "nn/backend.h"
#include "nn/checkpoint.h"
#include "nn/error.h"
#include "nn/net.h"
#include "nn/presets.h"
#include "nn/train.h"

/* Print one net of a spec at a shape ("what" heads it). */
static int print_net(const char *what, const char *spec, const char *origin, nn_shape in,
                     int classes) {
    nn_net net;
    NN_TRY(nn_net_create(&net, spec, origin, in, classes, 0, nn_backend_current()));
    printf("%s\n", what);
    nn_net_summary(&net, stdout);
    nn_net_free(&net);
    return NN_OK;
}

static int summary_checkpoint(const char *path) {
    const char *kind;
    NN_TRY(nn_ckpt_kind(path, &kind));
    const bool gan = !strcmp(kind, NN_CKPT_GAN);
    const char *parts[2] = {gan ? "generator" : NULL, "discriminator"};
    for (int i = 0; i < (gan ? 2 : 1); i++) {
        char *spec = NULL, what[1200];
        nn_shape in;
        int out;
        NN_TRY(gan ? nn_ckpt_read_part(path, kind, parts[i], &spec, &in, &out)
                   : nn_ckpt_read_model(path, &spec, &in, &out));
        snprintf(what, sizeof what, "%s%s%s: input %dx%dx%d, %d outputs", path, gan ? " " : "",
                 gan ? parts[i] : "", in.c, in.h, in.w, out);
        int rc = print_net(what, spec, path, in, out);
        free(spec);
        NN_TRY(rc);
        if (gan && i == 0) printf("\n");
    }
    return NN_OK;
}

/* Both nets of a GAN: presets, or specs at the image shape given. */
static int summary_gan(const nn_args *a, nn_shape img, bool have_img) {
    const char *g = a->gan_net, *d = a->train.discriminator;
    const char *gp, *dp;
    nn_shape pshape;
    char *gs = NULL, *ds = NULL;
    if (nn_gan_preset(g, &gp, &dp, &pshape) == NN_OK) {
        gs = strdup(gp);
        if (!d) ds = strdup(dp);
        if (!have_img) img = pshape;
    } else {
        nn_err_clear();
        if (!have_img)
            return nn_usage("summary --generator SPEC: give the images' shape (--input-shape "
                            "CxHxW or --data KIND), or a preset (dcgan-mnist, dcgan-cifar)");
        gs = nn_model_resolve(g, 0, 0);
        if (!gs) return nn_fail_ctx("--generator");
    }
    if (d && !ds) {
        if (nn_gan_preset(d, &gp, &dp, &pshape) == NN_OK) ds = strdup(dp);
        else nn_err_clear(), ds = nn_model_resolve(d, 0, 0);
    }
    int rc = gs && ds ? NN_OK : NN_ERR;
    char what[200];
    snprintf(what, sizeof what, "generator: noise of %d values -> %dx%dx%d images", a->train.z_dim,
             img.c, img.h, img.w);
    if (rc == NN_OK)
        rc = print_net(what, gs, "--generator", (nn_shape){a->train.z_dim, 1, 1},
                       (int)nn_shape_size(img));
    snprintf(what, sizeof what, "\ndiscriminator: %dx%dx%d images -> 1 logit", img.c, img.h, img.w);
    if (rc == NN_OK) rc = print_net(what, ds, "--discriminator", img, 1);
    free(gs), free(ds);
    return rc;
}

int cmd_summary(const nn_args *a, nn_dist *d) {
    (void)d;
    if (a->checkpoint) {
        if (nn_args_given(a, "model") || nn_args_given(a, "input-shape") || a->gan_net)
            return nn_usage("summary --checkpoint prints the saved net: --model, --generator "
                            "and --input-shape describe another one; give one or the other");
        return summary_checkpoint(a->checkpoint);
    }
    /* The input shape: --input-shape, else --data's, else the preset's own. */
    nn_shape in = {1, 28, 28};
    int classes = 0;
    bool have = false;
    const char *from = "the default data set, mnist";
    char src[600];
    if (a->input_shape) {
        sscanf(a->input_shape, "%dx%dx%d", &in.c, &in.h, &in.w);
        have = true, from = "--input-shape";
    }
    if (nn_args_given(a, "data")) {
        nn_shape ds;
        int dk = 0;
        NN_TRY(nn_data_shape(a->train.data, &ds, &dk));
        if (!have) in = ds;
        classes = dk, have = true;
        snprintf(src, sizeof src, "--data %s", a->train.data);
        if (!a->input_shape) from = src;
    }
    if (a->gan_net) return summary_gan(a, in, have);
    const nn_preset *p = nn_preset_find(a->train.model);
    if (p && !have) {
        in = p->shape, classes = p->classes;
        snprintf(src, sizeof src, "the preset's natural input, %s", p->data);
        from = src;
    } else if (!have) {
        classes = 10;
    }
    char *spec = nn_model_resolve(a->train.model, a->train.hidden, classes);
    if (!spec) return NN_ERR;
    char what[1000];
    snprintf(what, sizeof what, "model: %s, input %dx%dx%d (%s)", a->train.model, in.c, in.h,
             in.w, from);
    int rc = print_net(what, spec, nn_model_origin(a->train.model), in, classes);
    free(spec);
    return rc;
}
