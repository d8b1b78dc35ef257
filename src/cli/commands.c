/* commands.c: the table of nntrain's commands (what `nntrain help` lists,
 * what the parser accepts, who runs each), the small commands, and the
 * dispatch. A new command: its function (here, or a file of its own declared
 * in commands.h), a value in nn_cmd_id (args.h) and one row below. */
#include "commands.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/backend.h"
#include "nn/checkpoint.h"
#include "nn/error.h"
#include "nn/plot.h"
#include "nn/train.h"

int nn_usage(const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nn_fail("%s", msg);
    return NN_ERR_USAGE;
}

static int cmd_export(const nn_args *a, nn_dist *d) {
    (void)d;
    if (!a->checkpoint || !a->onnx)
        return nn_usage("export needs --checkpoint FILE and --onnx OUT.onnx (nntrain help export)");
    return nn_cmd_export(a);
}

static int cmd_train(const nn_args *a, nn_dist *d) {
    bool found = false;
    return nn_train_command(a->cmd_name, &a->train, d, &found);
}

/* compare A B: largest absolute and relative difference of the weights of
 * two checkpoints of the same model (the multi-rank tests use it); for GAN
 * checkpoints over both nets. A NaN or Inf on either side is a difference. */
static int load_part(const char *path, const char *kind, const char *part, nn_net *net) {
    char *spec = NULL;
    nn_shape in;
    int classes;
    NN_TRY(part ? nn_ckpt_read_part(path, kind, part, &spec, &in, &classes)
                : nn_ckpt_read_model(path, &spec, &in, &classes));
    int rc = nn_net_create(net, spec, path, in, classes, 1, nn_backend_current());
    free(spec);
    NN_TRY(rc);
    const nn_ckpt_part p = {part, net, NULL};
    if (nn_ckpt_load_parts(path, kind, &p, 1, NULL, NULL) != NN_OK) {
        nn_net_free(net);
        return NN_ERR;
    }
    return NN_OK;
}

static int cmd_compare(const nn_args *a, nn_dist *dist) {
    (void)dist;
    const char *pa = a->pos[0], *pb = a->pos[1];
    const char *kind, *kind_b;
    NN_TRY(nn_ckpt_kind(pa, &kind));
    NN_TRY(nn_ckpt_kind(pb, &kind_b));
    if (strcmp(kind, kind_b) != 0)
        return nn_fail("compare: %s is a %s checkpoint, %s a %s one", pa, kind,
                       pb, kind_b);
    /* Every net A holds: a GAN's two and its generator average when kept; a
     * classifier's root and, trained with --ema, the stepped weights. */
    const bool gan = !strcmp(kind, NN_CKPT_GAN);
    static const char *const gan_nets[3] = {"generator", "discriminator", NN_CKPT_GENERATOR_EMA};
    static const char *const cls_nets[2] = {NULL, NN_CKPT_TRAINED};
    const char *const *names = gan ? gan_nets : cls_nets;
    int nparts = gan ? 2 : 1, has = 0;
    NN_TRY(nn_ckpt_has_part(pa, kind, names[nparts], &has));
    nparts += has;
    double max_abs = 0, max_rel = 0;
    size_t nonfinite = 0, total = 0;
    int rc = NN_OK;
    for (int part = 0; rc == NN_OK && part < nparts; part++) {
        nn_net na, nb;
        NN_TRY(load_part(pa, kind, names[part], &na));
        rc = load_part(pb, kind, names[part], &nb);
        if (rc != NN_OK) {
            nn_net_free(&na);
            break;
        }
        if (na.nparams != nb.nparams)
            rc = nn_fail("compare: %s and %s hold different models (%zu and %zu parameters)",
                         pa, pb, na.nparams, nb.nparams);
        for (size_t i = 0; rc == NN_OK && i < na.nparams; i++) {
            double x = na.params[i], y = nb.params[i];
            if (!isfinite(x) || !isfinite(y)) {
                nonfinite++;
                max_abs = max_rel = INFINITY;
                continue;
            }
            double d = fabs(x - y), r = d / (fabs(x) > 1e-6 ? fabs(x) : 1e-6);
            if (d > max_abs) max_abs = d;
            if (r > max_rel) max_rel = r;
        }
        total += na.nparams;
        nn_net_free(&na);
        nn_net_free(&nb);
    }
    if (rc == NN_OK)
        printf("parameters: %zu  max_abs_diff: %.3e  max_rel_diff: %.3e\n", total, max_abs,
               max_rel);
    if (rc == NN_OK && nonfinite)
        rc = nn_fail("compare: %zu parameter(s) are NaN or infinite in %s or %s", nonfinite,
                     pa, pb);
    return rc;
}

static int cmd_plot(const nn_args *a, nn_dist *d) {
    (void)d;
    char **runs = (char **)a->pos;
    if (a->compare_col) {
        if (!a->png) return nn_usage("plot --compare COLUMN needs --png FILE");
        NN_TRY(nn_plot_compare(a->png, a->compare_col, runs, a->npos));
        printf("wrote %s\n", a->png);
        return NN_OK;
    }
    if (a->png) return nn_usage("plot --png FILE is for --compare COLUMN (a run's plots go to RUN/)");
    for (int i = 0; i < a->npos; i++) {
        NN_TRY(nn_plot_run(runs[i]));
        printf("wrote %s/loss.png and %s/accuracy.png\n", runs[i], runs[i]);
    }
    return NN_OK;
}

static int cmd_seal(const nn_args *a, nn_dist *d) {
    (void)d;
    if (!a->checkpoint) return nn_usage("seal needs --checkpoint FILE");
    NN_TRY(nn_ckpt_seal(a->checkpoint));
    printf("sealed %s\n", a->checkpoint);
    return NN_OK;
}

const nn_command nn_commands[NN_CMD_COUNT] = {
    [NN_CMD_TRAIN] = {"train", cmd_train, NN_RANKS_ALL, "", 0, 0,
                      "train a classifier: one line per epoch; writes OUT/checkpoint.h5, "
                      "OUT/history.csv, OUT/loss.png, OUT/accuracy.png",
                      "Each rank reads its shard of every global batch; the gradients are summed "
                      "over the ranks before every step. A fresh run into an --out that holds a "
                      "checkpoint is refused: --resume auto continues it, --force replaces it. "
                      "SIGTERM, SIGINT or SIGUSR1 finish the step, write the checkpoint and exit "
                      "75."},
    [NN_CMD_GAN] = {"gan", cmd_train, NN_RANKS_ALL, "", 0, 0,
                    "train a GAN (DCGAN): writes OUT/checkpoint.h5, OUT/history.csv and "
                    "OUT/samples/epoch_NNN.png (8x8 samples from fixed noise) every epoch",
                    "Defaults differ from train's: --optim adam, --lr 2e-4, --beta1 0.5, "
                    "--batch 128 (the DCGAN paper's)."},
    [NN_CMD_EVAL] = {"eval", cmd_eval, NN_RANKS_ALL, "", 0, 0,
                     "accuracy, loss, balanced accuracy, macro F1, per-class precision/recall/F1 "
                     "and the confusion matrix of a checkpoint on the test set",
                     "The data set is the checkpoint's unless --data is given (then its shape "
                     "and classes must agree). --checkpoint given again averages the models' "
                     "class probabilities (an ensemble)."},
    [NN_CMD_PREDICT] = {"predict", cmd_predict, NN_RANKS_ROOT, "[IMAGE...]", 0, NN_MAX_POS,
                        "the class of test images typed on stdin (one index a line) or given by "
                        "--index, or of image files (JPEG, PNG)",
                        "Prints class names (7, smile, airplane); --top K adds the K most "
                        "probable with their probabilities. An image file is decoded and resized "
                        "to the net's input as the image folders are."},
    [NN_CMD_LOSS] = {"loss", cmd_loss, NN_RANKS_ROOT, "", 0, 0,
                     "the mean cross-entropy of --batch random training images (of --checkpoint, "
                     "or of a fresh --model)",
                     NULL},
    [NN_CMD_SUMMARY] = {"summary", cmd_summary, NN_RANKS_ROOT, "", 0, 0,
                        "a model's layer table (output shapes, parameters, FLOPs) without reading "
                        "data or initialising weights",
                        "Of --checkpoint (both nets of a GAN's), of --generator PRESET (both "
                        "nets), or of --model at --input-shape, else at the shape of --data, else "
                        "at the preset's natural shape (nntrain help models)."},
    [NN_CMD_EXPORT] = {"export", cmd_export, NN_RANKS_ROOT, "", 0, 0,
                       "write a checkpoint's net as an ONNX model: float pixels in [0, 1] (NCHW) "
                       "in, class probabilities out (--generator: a GAN's generator, noise in, "
                       "image out)",
                       "Class names and the training command go into the model's metadata; the "
                       "file is written whole or not at all. Running it with ONNX Runtime from "
                       "Python or JavaScript: docs/onnx.md."},
    [NN_CMD_SAMPLE] = {"sample", cmd_sample, NN_RANKS_ROOT, "", 0, 0,
                       "a grid of images from a GAN checkpoint's generator into --png", NULL},
    [NN_CMD_GAN_SCORE] = {"gan-score", cmd_gan_score, NN_RANKS_ROOT, "", 0, 0,
                          "score a GAN's images with a trained classifier (Inception-style "
                          "score, confidence, class histogram)",
                          "Without --checkpoint: the real test images of --data (the ceiling)."},
    [NN_CMD_CHECK_DATA] = {"check-data", nn_cmd_check_data, NN_RANKS_ALL, "", 0, 0,
                           "read every file of both splits of --data (spread over the ranks): "
                           "counts per class, image sizes, every unreadable file; exit 1 if any",
                           NULL},
    [NN_CMD_COMPARE] = {"compare", cmd_compare, NN_RANKS_ROOT, "A.h5 B.h5", 2, 2,
                        "the largest weight difference of two checkpoints of one model", NULL},
    [NN_CMD_PLOT] = {"plot", cmd_plot, NN_RANKS_ROOT, "RUN...", 1, NN_MAX_POS,
                     "RUN/loss.png and RUN/accuracy.png from RUN/history.csv; with --compare "
                     "COLUMN --png FILE one curve per run",
                     NULL},
    [NN_CMD_SEAL] = {"seal", cmd_seal, NN_RANKS_ROOT, "", 0, 0,
                     "write a checkpoint's checksum envelope again (after an edit with HDF5 "
                     "tools, or for a checkpoint of a build before envelopes)",
                     NULL},
    [NN_CMD_HELP] = {"help", nn_help_run, NN_RANKS_ROOT, "[COMMAND|models]", 0, 1,
                     "this list; help COMMAND: its flags; help models: every preset", NULL},
};

int nn_cli_run(const nn_args *a, nn_dist *dist) {
    const nn_command *c = &nn_commands[a->cmd];
    if (c->ranks == NN_RANKS_ALL) return c->run(a, dist);
    /* Rank 0 does the work; the others learn how it ended. */
    int rc = dist->rank == 0 ? c->run(a, dist) : NN_OK;
    int code = rc == NN_OK ? 0 : rc == NN_ERR_USAGE ? 2 : 1;
    double v = code;
    if (dist->size > 1 && nn_dist_allreduce_sum_f64(dist, &v, 1) != NN_OK) return NN_ERR;
    if (dist->rank != 0 && v != 0) {
        nn_fail("rank 0 failed");
        return v == 2 ? NN_ERR_USAGE : NN_ERR;
    }
    return rc;
}
