/* args.c: parse nntrain's flags into nn_args, with errors that name the flag
 * and the expected form. */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/error.h"
#include "nn/loss.h"

void nn_args_usage(FILE *f) {
    fputs("usage: nntrain COMMAND [options]\n"
          "commands:\n"
          "  train     train a model; one line per epoch; writes OUT/history.csv, "
          "OUT/checkpoint.h5\n"
          "  eval      accuracy, balanced accuracy, macro F1, per-class precision/recall/F1\n"
          "            and the confusion matrix on the test set\n"
          "  predict   read a test-image index from stdin (or --index), print the predicted "
          "class\n"
          "  loss      mean cross-entropy of --batch random training images\n"
          "  summary   print the model's layer table\n"
          "  compare   A.h5 B.h5: largest weight difference of two checkpoints\n"
          "  gan       train a GAN (DCGAN): writes OUT/checkpoint.h5, OUT/history.csv and\n"
          "            OUT/samples/epoch_NNN.png (8x8 samples from fixed noise) every epoch\n"
          "  sample    --checkpoint GAN.h5 --n 64 --png FILE [--seed S]: a grid of samples\n"
          "  gan-score --checkpoint GAN.h5 --classifier CNN.h5 [--n 10000]: score generated\n"
          "            images with a trained classifier (Inception-style score, confidence)\n"
          "  check-data  read every file of both splits of --data (spread over the ranks):\n"
          "            counts per class, image sizes, every unreadable file; exit 1 if any\n"
          "  seal      --checkpoint FILE: write its checksum envelope again (after an edit\n"
          "            with HDF5 tools, or for a checkpoint of a build before envelopes)\n"
          "  plot      RUN: RUN/loss.png and RUN/accuracy.png from RUN/history.csv;\n"
          "            --compare COLUMN --png FILE RUN...: one curve per run\n"
          "  export    --checkpoint FILE --onnx OUT.onnx [--generator]: the model as ONNX\n"
          "            (pixels in [0, 1] in, class probabilities out; --generator: a GAN's\n"
          "            generator, noise in, image in [0, 1] out; docs/onnx.md)\n"
          "options:\n"
          "  --data NAME[:DIR]     mnist (default), fashion-mnist, cifar10 (binary batches),\n"
          "                        cifar10-jpeg, smiles, folder:DIR[:CxS|:CxHxW] (DIR/{train,test}/<class>/)\n"
          "  --model SPEC          preset (mlp, mlp1000), spec file, or inline "
          "\"dense 100; sigmoid; dense 10\"\n"
          "  --hidden M            width of the preset's hidden layer (mlp: 100)\n"
          "  --epochs E --batch B  epochs (10) and GLOBAL batch size (100)\n"
          "  --batch-per-rank B    weak scaling: global batch = B x ranks (instead of --batch)\n"
          "  --lr-scale linear|sqrt  with --batch-per-rank: the rates given are for one\n"
          "                        rank's B; multiply them by ranks or sqrt(ranks)\n"
          "  --optim NAME          sgd (default), momentum, adagrad, rmsprop, adadelta, adam\n"
          "  --lr ETA              learning rate (default per optimizer; sgd: 0.1)\n"
          "  --momentum A --rho R --eps E --beta1 B1 --beta2 B2 --weight-decay WD\n"
          "  --nesterov            with --optim momentum: Nesterov's form (w += A v - lr g)\n"
          "  --schedule S          const (default), cosine, linear (the full rate at the end of\n"
          "                        warmup, then down to 0), linear:START:END (from START x the\n"
          "                        rate up to it, then down to END x it), step:EVERY:GAMMA;\n"
          "                        --warmup EPOCHS\n"
          "  --seed S              seed for init, order and dropout (1)\n"
          "  --crop PAD --flip     augmentation: random crop with zero padding, horizontal flip\n"
          "  --crop-fill zero|reflect  the crop's padding: 0 (default) or the image mirrored\n"
          "                        about its edge (PyTorch's reflect); eval: --tta translate's\n"
          "  --flip alternate      each image's flip drawn once, then taken every other epoch\n"
          "                        (the other way in odd epochs: both ways every two epochs)\n"
          "  --lookahead K:E       from epoch E (0-based) on, every K steps pull the weights to an\n"
          "                        average that follows them, more strongly as training ends\n"
          "                        (airbench's 5:3; 0 = off, the default)\n"
          "  --label-smoothing E   train: the cross-entropy's target is (1-E) onehot + E/classes\n"
          "                        (0, off); the loss shown stays against the true labels\n"
          "  --class-weight W      train: none (default), balanced: each sample's loss\n"
          "                        times N / (K n_c) for its class c (n_c of N training\n"
          "                        samples, K classes), or sqrt: times N / (sqrt(n_c) sum_j\n"
          "                        sqrt(n_j)); the reported train loss is weighted\n"
          "  --ema DECAY           keep a moving average of the weights (0.999: over about the\n"
          "                        last 1,000 steps; 0: none, the default). train evaluates and\n"
          "                        saves the average; gan averages G (grids, sample, gan-score)\n"
          "  --no-ema              eval/predict/loss/sample/gan-score: the trained weights, not\n"
          "                        their average\n"
          "  --bn sync|local       BatchNorm statistics over the global batch (sync, default)\n"
          "                        or each rank's slice (local)\n"
          "  --device D            cpu, cuda (a build with make CUDA=1 and a GPU) or auto\n"
          "                        (default: cuda when the binary has it and a GPU is visible)\n"
          "  --out DIR             where train writes (results/run)\n"
          "  --resume FILE|auto    continue training from a checkpoint; auto: from\n"
          "                        OUT/checkpoint.h5 when it exists, else start fresh\n"
          "  --checkpoint-every M  also checkpoint every M minutes inside an epoch\n"
          "  --keep-best           also keep OUT/best.h5 (the best test accuracy so far)\n"
          "  --step-timeout S      end the job when a step makes no progress for S seconds\n"
          "                        (a stopped or stalled rank; default 600, 0 = never)\n"
          "  --profile             per-rank time per phase after every epoch\n"
          "  --checkpoint FILE     weights for eval/predict/loss/summary; eval takes it again\n"
          "                        to average several models' class probabilities (ensemble)\n"
          "  --index I             predict this test image instead of reading stdin\n"
          "  --limit N             train on the first N training samples only\n"
          "  --threads T           OpenBLAS threads per rank (default: cores / local ranks)\n"
          "  --cache auto|ram|none image folders: keep the decoded shard in memory (ram), decode\n"
          "                        every batch from disk (none), or ram when it fits (auto)\n"
          "  --skip-bad            image folders: leave out unreadable files (found by reading\n"
          "                        every file first, as check-data does) with one warning\n"
          "  --workers K           decoder threads per rank for a streamed folder (default:\n"
          "                        the rank's cores less its OpenBLAS threads, 1..8)\n"
          "  --confusion-csv FILE  eval: also write the confusion matrix as CSV\n"
          "  --confusion-png FILE  eval: and as a PNG heat map\n"
          "  --tta flip|translate  eval: average each test image's class probabilities with its\n"
          "                        mirror image's (test-time augmentation; none: off); translate:\n"
          "                        also both moved one pixel down-right and up-left (6 views,\n"
          "                        weights 2, 2, 1, 1, 1, 1)\n"
          "  --no-plot             train: do not render OUT/loss.png, OUT/accuracy.png\n"
          "  --no-balance          train under mpirun: keep each rank's owned slice of a batch\n"
          "                        instead of evening the slices by passing samples\n"
          "  --bucket-mb M         train across nodes: reduce the gradients in buckets of at\n"
          "                        least M MB while backward goes on (4; 0 = after backward)\n"
          "  --quiet               no per-epoch lines\n"
          "gan options (defaults: adam, --lr 2e-4, --beta1 0.5, --batch 128):\n"
          "  --generator SPEC      dcgan-mnist (1x28x28), dcgan-cifar (3x32x32), a spec file or\n"
          "                        inline spec; default: the preset for the data's shape\n"
          "  --discriminator SPEC  the same for D (its output: one logit)\n"
          "  --z-dim Z             noise dimensions (100)\n"
          "  --g-lr ETA --d-lr ETA per-net learning rates (default --lr)\n"
          "  --real-label T        D's target for real images (1; 0.9: one-sided label smoothing)\n"
          "  --n N                 sample / gan-score: how many images\n"
          "  --truncation T        sample / gan-score: noise drawn again until |z| <= T (the\n"
          "                        truncation trick: sharper, less varied images; 0: none)\n"
          "  --classifier FILE     gan-score: a trained classifier's checkpoint\n"
          "signals: SIGTERM, SIGINT, SIGUSR1 make train finish its step, write its checkpoint\n"
          "  and exit with status 75 (resume with --resume auto); a second signal exits at once\n"
          "environment: NNTRAIN_DATA=DIR (data sets), NNTRAIN_SHM=0 (MPI_Allreduce instead of\n"
          "  node-shared memory for the gradient sum), OPENBLAS_CORETYPE (respected)\n",
          f);
}

static int parse_long(const char *flag, const char *v, long min, long max, long *out) {
    if (!v) return nn_fail("option %s needs a value (see nntrain --help)", flag);
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max)
        return nn_fail("%s %s: expected an integer in [%ld, %ld]", flag, v ? v : "(missing)", min,
                       max);
    *out = x;
    return NN_OK;
}

static int parse_float(const char *flag, const char *v, float min, float max, float *out) {
    if (!v) return nn_fail("option %s needs a value (see nntrain --help)", flag);
    char *end;
    errno = 0;
    float x = strtof(v, &end);
    if (errno || end == v || *end || !(x >= min && x <= max))
        return nn_fail("%s %s: expected a number in [%g, %g]", flag, v ? v : "(missing)", min,
                       max);
    *out = x;
    return NN_OK;
}

int nn_args_parse(nn_args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->cmd = argc > 1 ? argv[1] : NULL;
    nn_train_cfg *t = &a->train;
    t->data = "mnist";
    t->model = "mlp";
    t->epochs = 10;
    t->batch = 100;
    t->seed = 1;
    t->out_dir = "results/run";
    t->bn_sync = true;
    t->balance = true;
    t->plot = true;
    t->step_timeout = 600;
    t->bucket_mb = 4;
    a->optim_name = NULL; /* sgd, or adam for gan */
    t->z_dim = 100;
    t->real_label = 1.0f;
    a->n = -1;
    a->lr = a->momentum = a->rho = a->eps = a->beta1 = a->beta2 = -1;
    a->schedule = "const";
    a->index = -1;
    int first = 2;
    bool batch_given = false;
    if (a->cmd && !strcmp(a->cmd, "compare")) {
        a->compare_a = argc > 2 ? argv[2] : NULL;
        a->compare_b = argc > 3 ? argv[3] : NULL;
        first = 4;
    }
    for (int i = first; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long l = 0;
        int used = 1; /* flags that take a value */
        if (!strcmp(f, "--data")) t->data = v;
        else if (!strcmp(f, "--model")) t->model = v;
        else if (!strcmp(f, "--out")) t->out_dir = v;
        else if (!strcmp(f, "--resume")) t->resume = v;
        else if (!strcmp(f, "--checkpoint")) {
            if (a->nensemble == NN_MAX_ENSEMBLE)
                return nn_fail("--checkpoint given more than %d times (eval averages at most %d "
                               "models)",
                               NN_MAX_ENSEMBLE, NN_MAX_ENSEMBLE);
            if (!a->checkpoint) a->checkpoint = v;
            a->ensemble[a->nensemble++] = v;
        }
        else if (!strcmp(f, "--optim")) a->optim_name = v;
        else if (!strcmp(f, "--device")) a->device = v;
        else if (!strcmp(f, "--cache")) {
            if (v && !strcmp(v, "auto")) t->cache = NN_CACHE_AUTO;
            else if (v && !strcmp(v, "ram")) t->cache = NN_CACHE_RAM;
            else if (v && !strcmp(v, "none")) t->cache = NN_CACHE_NONE;
            else if (v) return nn_fail("--cache %s: expected auto, ram or none", v);
        }
        else if (!strcmp(f, "--generator") && a->cmd && !strcmp(a->cmd, "export"))
            a->export_generator = true, used = 0;
        else if (!strcmp(f, "--generator")) t->generator = v;
        else if (!strcmp(f, "--onnx")) a->onnx = v;
        else if (!strcmp(f, "--discriminator")) t->discriminator = v;
        else if (!strcmp(f, "--classifier")) a->classifier = v;
        else if (!strcmp(f, "--z-dim")) {
            NN_TRY(parse_long(f, v, 1, 1 << 16, &l));
            t->z_dim = (int)l;
        } else if (!strcmp(f, "--n")) {
            NN_TRY(parse_long(f, v, 1, 10000000, &l));
            a->n = (int)l;
        } else if (!strcmp(f, "--truncation")) {
            NN_TRY(parse_float(f, v, 0, 100, &a->truncation));
            if (a->truncation > 0 && a->truncation < 0.1f)
                return nn_fail("--truncation %s: expected 0 (none) or a bound of at least 0.1 "
                               "(each noise value is drawn again until |z| <= bound)", v);
        } else if (!strcmp(f, "--g-lr")) NN_TRY(parse_float(f, v, 0, 1e6f, &t->g_lr));
        else if (!strcmp(f, "--d-lr")) NN_TRY(parse_float(f, v, 0, 1e6f, &t->d_lr));
        else if (!strcmp(f, "--real-label")) NN_TRY(parse_float(f, v, 0.5f, 1, &t->real_label));
        else if (!strcmp(f, "--ema")) {
            NN_TRY(parse_float(f, v, 0, 1, &t->ema));
            if (t->ema >= 1)
                return nn_fail("--ema %s: expected a decay in [0, 1) (0.999: the average over about "
                               "the last 1,000 steps; 0: none)",
                               v);
        }
        else if (!strcmp(f, "--schedule")) a->schedule = v;
        else if (!strcmp(f, "--confusion-csv")) a->confusion_csv = v;
        else if (!strcmp(f, "--confusion-png")) a->confusion_png = v;
        else if (!strcmp(f, "--tta")) {
            if (v && !strcmp(v, "flip")) a->tta = NN_TTA_FLIP;
            else if (v && !strcmp(v, "translate")) a->tta = NN_TTA_TRANSLATE;
            else if (v && !strcmp(v, "none")) a->tta = NN_TTA_NONE;
            else return nn_fail("--tta %s: expected none, flip or translate", v ? v : "(missing)");
        }
        else if (!strcmp(f, "--compare")) a->compare_col = v;
        else if (!strcmp(f, "--png")) a->png = v;
        else if (!strcmp(f, "--class-weight")) {
            t->class_weight = nn_class_weight_parse(v);
            if (t->class_weight < 0)
                return nn_fail("--class-weight %s: expected none (every sample weighs 1), "
                               "balanced (w_c = N / (K n_c) from the training set's label "
                               "counts) or sqrt (w_c proportional to 1 / sqrt(n_c))",
                               v ? v : "(missing)");
        }
        else if (!strcmp(f, "--bn")) {
            if (!v || (strcmp(v, "sync") && strcmp(v, "local")))
                return nn_fail("--bn %s: expected sync or local", v ? v : "(missing)");
            t->bn_sync = !strcmp(v, "sync");
        }
        else if (!strcmp(f, "--hidden")) {
            NN_TRY(parse_long(f, v, 1, 1 << 20, &l));
            t->hidden = (int)l;
        } else if (!strcmp(f, "--epochs")) {
            NN_TRY(parse_long(f, v, 1, 1000000, &l));
            t->epochs = (int)l;
        } else if (!strcmp(f, "--batch")) {
            NN_TRY(parse_long(f, v, 1, 1 << 20, &l));
            t->batch = (int)l;
            batch_given = true;
        } else if (!strcmp(f, "--batch-per-rank")) {
            NN_TRY(parse_long(f, v, 1, 1 << 20, &l));
            t->batch_per_rank = (int)l;
        } else if (!strcmp(f, "--lr-scale")) {
            if (v && !strcmp(v, "linear")) t->lr_scale = NN_LR_SCALE_LINEAR;
            else if (v && !strcmp(v, "sqrt")) t->lr_scale = NN_LR_SCALE_SQRT;
            else if (v && !strcmp(v, "none")) t->lr_scale = NN_LR_SCALE_NONE;
            else return nn_fail("--lr-scale %s: expected linear, sqrt or none", v ? v : "(missing)");
        } else if (!strcmp(f, "--seed")) {
            NN_TRY(parse_long(f, v, 0, 2147483647L, &l));
            t->seed = (uint64_t)l;
        } else if (!strcmp(f, "--limit")) {
            NN_TRY(parse_long(f, v, 1, 2147483647L, &l));
            t->train_limit = l;
        } else if (!strcmp(f, "--threads")) {
            NN_TRY(parse_long(f, v, 1, 1024, &l));
            a->threads = (int)l;
        } else if (!strcmp(f, "--workers")) {
            NN_TRY(parse_long(f, v, 1, 64, &l));
            t->workers = (int)l;
        } else if (!strcmp(f, "--index")) {
            NN_TRY(parse_long(f, v, 0, 2147483647L, &l));
            a->index = (int)l;
        } else if (!strcmp(f, "--checkpoint-every")) {
            float m = 0;
            NN_TRY(parse_float(f, v, 0, 1e6f, &m));
            t->checkpoint_every = m;
        } else if (!strcmp(f, "--label-smoothing")) {
            NN_TRY(parse_float(f, v, 0, 0.999f, &t->label_smoothing));
        } else if (!strcmp(f, "--bucket-mb")) {
            NN_TRY(parse_float(f, v, 0, 1e6f, &t->bucket_mb));
        } else if (!strcmp(f, "--step-timeout")) {
            float sec = 0;
            NN_TRY(parse_float(f, v, 0, 1e7f, &sec));
            t->step_timeout = sec;
        } else if (!strcmp(f, "--lr")) NN_TRY(parse_float(f, v, 0, 1e6f, &a->lr));
        else if (!strcmp(f, "--momentum")) NN_TRY(parse_float(f, v, 0, 1, &a->momentum));
        else if (!strcmp(f, "--rho")) NN_TRY(parse_float(f, v, 0, 1, &a->rho));
        else if (!strcmp(f, "--eps")) NN_TRY(parse_float(f, v, 0, 1, &a->eps));
        else if (!strcmp(f, "--beta1")) NN_TRY(parse_float(f, v, 0, 1, &a->beta1));
        else if (!strcmp(f, "--beta2")) NN_TRY(parse_float(f, v, 0, 1, &a->beta2));
        else if (!strcmp(f, "--warmup")) NN_TRY(parse_float(f, v, 0, 1e6f, &a->warmup));
        else if (!strcmp(f, "--weight-decay")) NN_TRY(parse_float(f, v, 0, 1, &a->weight_decay));
        else if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            a->help = true;
            return NN_OK;
        } else if (!strcmp(f, "--crop")) {
            NN_TRY(parse_long(f, v, 0, 64, &l));
            t->crop_pad = (int)l;
        } else if (!strcmp(f, "--crop-fill")) {
            if (v && !strcmp(v, "reflect")) t->crop_reflect = true;
            else if (v && !strcmp(v, "zero")) t->crop_reflect = false;
            else return nn_fail("--crop-fill %s: expected zero or reflect", v ? v : "(missing)");
        } else if (!strcmp(f, "--flip")) {
            t->flip = true;
            used = 0;
            if (v && !strcmp(v, "alternate")) t->flip_alternate = true, used = 1;
            else if (v && !strcmp(v, "random")) used = 1;
        } else if (!strcmp(f, "--lookahead")) {
            int k = 0, e = 0, got = v ? sscanf(v, "%d:%d", &k, &e) : 0;
            const char *colon = v ? strchr(v, ':') : NULL;
            if (got < 1 || k < 0 || k > 1000000 || e < 0 || (k == 0 && got == 2) ||
                strspn(v, "0123456789:") != strlen(v) || (colon && (got != 2 || strchr(colon + 1, ':'))))
                return nn_fail("--lookahead %s: expected K:E, every K steps from epoch E (5:3 "
                               "as airbench), or 0 (off)",
                               v ? v : "(missing)");
            t->lookahead_every = k, t->lookahead_start = got == 2 ? e : 0;
        } else if (!strcmp(f, "--nesterov")) {
            a->nesterov = true;
            used = 0;
        } else if (!strcmp(f, "--no-ema")) {
            a->no_ema = true;
            used = 0;
        } else if (!strcmp(f, "--no-balance")) {
            t->balance = false;
            used = 0;
        } else if (!strcmp(f, "--skip-bad")) {
            t->skip_bad = true;
            used = 0;
        } else if (!strcmp(f, "--keep-best")) {
            t->keep_best = true;
            used = 0;
        } else if (!strcmp(f, "--profile")) {
            t->profile = true;
            used = 0;
        } else if (!strcmp(f, "--no-plot")) {
            t->plot = false;
            used = 0;
        } else if (!strcmp(f, "--quiet")) {
            t->quiet = true;
            used = 0;
        } else if (a->cmd && !strcmp(a->cmd, "plot") && f[0] != '-') {
            if (a->nruns == 64) return nn_fail("plot: at most 64 run folders");
            a->runs[a->nruns++] = argv[i];
            used = 0;
        } else
            return nn_fail("unknown option '%s' (see nntrain --help)", f);
        if (used) {
            if (!v) return nn_fail("option %s needs a value (see nntrain --help)", f);
            i++;
        }
    }
    if (a->nensemble > 1 && (!a->cmd || strcmp(a->cmd, "eval")))
        return nn_fail("--checkpoint given %d times: only eval takes more than one (it averages "
                       "their class probabilities)",
                       a->nensemble);
    nn_optim_cfg *o = &t->optim;
    const bool gan = a->cmd && !strcmp(a->cmd, "gan");
    if (!a->optim_name) a->optim_name = gan ? "adam" : "sgd";
    NN_TRY(nn_optim_defaults(a->optim_name, o));
    if (gan && !strcmp(a->optim_name, "adam")) { /* the DCGAN paper's */
        if (a->lr < 0) a->lr = 2e-4f;
        if (a->beta1 < 0) a->beta1 = 0.5f;
    }
    if (t->batch_per_rank > 0 && batch_given)
        return nn_fail("--batch (global) and --batch-per-rank (global = it x ranks): give one");
    if (t->lr_scale != NN_LR_SCALE_NONE && t->batch_per_rank == 0)
        return nn_fail("--lr-scale scales the rate given for one rank's batch: it needs "
                       "--batch-per-rank B (the global batch is then B x ranks)");
    if (gan && !batch_given) t->batch = 128;
    if (gan && t->lookahead_every > 0)
        return nn_fail("--lookahead is for train (a classifier); gan has two nets in a game");
    if (gan && t->class_weight != NN_CLASS_WEIGHT_NONE)
        return nn_fail("--class-weight is for train (a classifier's softmax cross-entropy); "
                       "gan has no classes to weigh");
    if (a->lr >= 0) o->lr = a->lr;
    if (a->momentum >= 0) o->momentum = a->momentum;
    if (a->rho >= 0) o->rho = a->rho;
    if (a->eps >= 0) o->eps = a->eps;
    if (a->beta1 >= 0) o->beta1 = a->beta1;
    if (a->beta2 >= 0) o->beta2 = a->beta2;
    o->weight_decay = a->weight_decay;
    if (a->nesterov && o->kind != NN_OPT_MOMENTUM)
        return nn_fail("--nesterov is a form of momentum: it needs --optim momentum (not %s)",
                       a->optim_name);
    o->nesterov = a->nesterov;
    NN_TRY(nn_sched_parse(a->schedule, &t->sched));
    t->sched.base_lr = o->lr;
    t->sched.warmup_epochs = a->warmup;
    return NN_OK;
}
