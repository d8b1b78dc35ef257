/* flags.c: every flag of nntrain, once. A row says the flag's name, short
 * form, type and range, default, the commands it applies to, where its value
 * goes and its help; the parser (args.c), `nntrain help` and docs/cli.md
 * (help.c) read nothing else. A new flag: a field in nn_args (args.h) or
 * nn_train_cfg (train.h) and one row here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "nn/error.h"
#include "nn/loss.h"

/* The commands a row applies to. */
#define TRAIN NN_CMD_BIT(NN_CMD_TRAIN)
#define GAN NN_CMD_BIT(NN_CMD_GAN)
#define EVAL NN_CMD_BIT(NN_CMD_EVAL)
#define PREDICT NN_CMD_BIT(NN_CMD_PREDICT)
#define LOSS NN_CMD_BIT(NN_CMD_LOSS)
#define SUMMARY NN_CMD_BIT(NN_CMD_SUMMARY)
#define EXPORT NN_CMD_BIT(NN_CMD_EXPORT)
#define SAMPLE NN_CMD_BIT(NN_CMD_SAMPLE)
#define SCORE NN_CMD_BIT(NN_CMD_GAN_SCORE)
#define CHECK NN_CMD_BIT(NN_CMD_CHECK_DATA)
#define PLOT NN_CMD_BIT(NN_CMD_PLOT)
#define SEAL NN_CMD_BIT(NN_CMD_SEAL)
#define HELP NN_CMD_BIT(NN_CMD_HELP)
#define FIT (TRAIN | GAN)
/* Commands that compute (threads, device). */
#define COMPUTE (FIT | EVAL | PREDICT | LOSS | SAMPLE | SCORE | CHECK | EXPORT)

#define A(field) offsetof(nn_args, field)
#define T(field) offsetof(nn_args, train.field)

static const nn_choice cache_choices[] = {
    {"auto", NN_CACHE_AUTO}, {"ram", NN_CACHE_RAM}, {"none", NN_CACHE_NONE}, {NULL, 0}};
static const nn_choice tta_choices[] = {
    {"none", NN_TTA_NONE}, {"flip", NN_TTA_FLIP}, {"translate", NN_TTA_TRANSLATE}, {NULL, 0}};
static const nn_choice lr_scale_choices[] = {{"none", NN_LR_SCALE_NONE},
                                             {"linear", NN_LR_SCALE_LINEAR},
                                             {"sqrt", NN_LR_SCALE_SQRT},
                                             {NULL, 0}};
static const nn_choice class_weight_choices[] = {{"none", NN_CLASS_WEIGHT_NONE},
                                                 {"balanced", NN_CLASS_WEIGHT_BALANCED},
                                                 {"sqrt", NN_CLASS_WEIGHT_SQRT},
                                                 {NULL, 0}};
static const nn_choice progress_choices[] = {{"auto", NN_PROGRESS_AUTO},
                                             {"bar", NN_PROGRESS_BAR},
                                             {"lines", NN_PROGRESS_LINES},
                                             {"off", NN_PROGRESS_OFF},
                                             {NULL, 0}};
static const nn_choice optim_choices[] = {{"sgd", 0},     {"momentum", 0}, {"adagrad", 0},
                                          {"rmsprop", 0}, {"adadelta", 0}, {"adam", 0},
                                          {NULL, 0}};
static const nn_choice device_choices[] = {{"auto", 0}, {"cpu", 0}, {"cuda", 0}, {NULL, 0}};
static const nn_choice bn_choices[] = {{"sync", 1}, {"local", 0}, {NULL, 0}};
static const nn_choice crop_fill_choices[] = {{"zero", 0}, {"reflect", 1}, {NULL, 0}};
static const nn_choice flip_choices[] = {{"random", 0}, {"alternate", 1}, {NULL, 0}};

/* ---- the values no plain type describes --------------------------------- */

static int parse_bn(nn_args *a, const char *v) {
    a->train.bn_sync = !strcmp(v, "sync");
    return NN_OK;
}

static int parse_crop_fill(nn_args *a, const char *v) {
    a->train.crop_reflect = !strcmp(v, "reflect");
    return NN_OK;
}

/* --flip [random|alternate]: the value is optional. */
static int parse_flip(nn_args *a, const char *v) {
    a->train.flip = true;
    a->train.flip_alternate = v && !strcmp(v, "alternate");
    return NN_OK;
}

static int parse_checkpoint(nn_args *a, const char *v) {
    if (a->nensemble == NN_MAX_ENSEMBLE)
        return nn_fail("--checkpoint given more than %d times (eval averages at most %d models)",
                       NN_MAX_ENSEMBLE, NN_MAX_ENSEMBLE);
    if (!a->checkpoint) a->checkpoint = v;
    a->ensemble[a->nensemble++] = v;
    return NN_OK;
}

static int parse_ema(nn_args *a, const char *v) {
    char *end;
    float x = strtof(v, &end);
    if (end == v || *end || !(x >= 0 && x < 1))
        return nn_fail("--ema %s: expected a decay in [0, 1) (0.999: the average over about the "
                       "last 1,000 steps; 0: none)",
                       v);
    a->train.ema = x;
    return NN_OK;
}

static int parse_truncation(nn_args *a, const char *v) {
    char *end;
    float x = strtof(v, &end);
    if (end == v || *end || !(x == 0 || (x >= 0.1f && x <= 100)))
        return nn_fail("--truncation %s: expected 0 (none) or a bound in [0.1, 100] (each noise "
                       "value is drawn again until |z| <= bound)",
                       v);
    a->truncation = x;
    return NN_OK;
}

static int parse_lookahead(nn_args *a, const char *v) {
    int k = 0, e = 0, got = sscanf(v, "%d:%d", &k, &e);
    const char *colon = strchr(v, ':');
    if (got < 1 || k < 0 || k > 1000000 || e < 0 || (k == 0 && got == 2) ||
        strspn(v, "0123456789:") != strlen(v) || (colon && (got != 2 || strchr(colon + 1, ':'))))
        return nn_fail("--lookahead %s: expected K:E, every K steps from epoch E (5:3 as "
                       "airbench), or 0 (off)",
                       v);
    a->train.lookahead_every = k, a->train.lookahead_start = got == 2 ? e : 0;
    return NN_OK;
}

static int parse_input_shape(nn_args *a, const char *v) {
    int c, h, w, end = 0;
    if (sscanf(v, "%dx%dx%d%n", &c, &h, &w, &end) != 3 || v[end] || c < 1 || h < 1 || w < 1 ||
        c > 4096 || h > 65536 || w > 65536)
        return nn_fail("--input-shape %s: expected CxHxW, e.g. 1x28x28 or 3x32x32", v);
    a->input_shape = v;
    return NN_OK;
}

/* ---- the table ---------------------------------------------------------- */

#define NUM(t, lo, hi) t, NULL, lo, hi, NULL
#define NOVAL(t) t, NULL, 0, 0, NULL
#define CHOICE(meta, ch) NN_F_CHOICE, meta, 0, 0, ch
#define NAME(meta, ch) NN_F_NAME, meta, 0, 0, ch

const nn_flag nn_flags[] = {
    /* What to train and on what. */
    {"data", 'd', NN_F_STR, "SPEC", 0, 0, NULL, "mnist",
     FIT | EVAL | PREDICT | LOSS | SUMMARY | SCORE | CHECK, A(train.data), NULL, 0,
     "the data set: mnist, fashion-mnist, cifar10 (binary batches), cifar10-jpeg, smiles, "
     "folder:DIR[:CxS|:CxHxW] (DIR/{train,test}/<class>/ images); NAME:DIR reads NAME from DIR. "
     "Commands that read a checkpoint take the checkpoint's data set unless given (then it must "
     "agree); summary only needs its shape and reads no file"},
    {"model", 'm', NN_F_STR, "SPEC", 0, 0, NULL, "mlp", TRAIN | PREDICT | LOSS | SUMMARY,
     A(train.model), NULL, 0,
     "a preset (nntrain help models), a spec file, or an inline spec such as "
     "\"dense 100; sigmoid; dense 10\""},
    {"hidden", 0, NUM(NN_F_INT, 1, 1 << 20), NULL, TRAIN | PREDICT | LOSS | SUMMARY,
     A(train.hidden), NULL, 0,
     "width of the preset's hidden layer (mlp: 100, mlp1000: 1000, resnet: 24, the first "
     "stage's)"},
    {"input-shape", 0, NN_F_CUSTOM, "CxHxW", 0, 0, NULL, NULL, SUMMARY, 0, parse_input_shape, 0,
     "the input shape to print the model for (default: the data set's, else the preset's "
     "natural shape)"},
    {"generator", 0, NN_F_STR, "SPEC", 0, 0, NULL, NULL, GAN | SUMMARY, A(gan_net), NULL, 0,
     "gan: the generator: dcgan-mnist (1x28x28), dcgan-cifar (3x32x32), a spec file or an "
     "inline spec (default: the preset for the data's shape); summary: print this GAN preset's "
     "two nets"},
    {"generator", 0, NOVAL(NN_F_SET), NULL, EXPORT, A(export_generator), NULL, 0,
     "export the generator of a GAN checkpoint (noise in, image out)"},
    {"discriminator", 0, NN_F_STR, "SPEC", 0, 0, NULL, NULL, GAN, A(train.discriminator), NULL, 0,
     "the discriminator, as --generator (its output: one logit)"},
    {"z-dim", 0, NUM(NN_F_INT, 1, 1 << 16), "100", GAN | SUMMARY, A(train.z_dim), NULL, 0,
     "noise dimensions"},
    /* How long and how big. */
    {"epochs", 'e', NUM(NN_F_INT, 1, 1000000), "10", FIT, A(train.epochs), NULL, 0,
     "epochs to reach (a resumed run continues to it)"},
    {"batch", 'b', NUM(NN_F_INT, 1, 1 << 20), "100", FIT | LOSS, A(train.batch), NULL, 0,
     "the GLOBAL batch (all ranks together; gan: 128); loss: the images it averages over"},
    {"batch-per-rank", 0, NUM(NN_F_INT, 1, 1 << 20), NULL, FIT, A(train.batch_per_rank), NULL, 0,
     "weak scaling: the global batch is B x ranks (instead of --batch)"},
    {"lr-scale", 0, CHOICE("HOW", lr_scale_choices), "none", FIT, A(train.lr_scale), NULL, 0,
     "with --batch-per-rank: the rates given are for one rank's B; multiply them by ranks "
     "(linear) or sqrt(ranks)"},
    {"limit", 0, NUM(NN_F_LONG, 1, 2147483647), NULL, FIT, A(train.train_limit), NULL, 0,
     "train on the first N training samples only"},
    {"test-limit", 0, NUM(NN_F_LONG, 1, 2147483647), NULL, TRAIN | EVAL, A(train.test_limit),
     NULL, 0, "evaluate on the first N test samples only (small budgets; the line says so)"},
    {"eval-every", 0, NUM(NN_F_INT, 1, 1000000), "1", TRAIN, A(train.eval_every), NULL, 0,
     "evaluate on the test set every K epochs (and after the last)"},
    {"seed", 's', NUM(NN_F_SEED, 0, 2147483647), "1", FIT | LOSS | SAMPLE | SCORE,
     A(train.seed), NULL, 0,
     "seed for initialisation, order, dropout (loss: which images; sample: the noise)"},
    /* The optimizer. */
    {"optim", 0, NAME("NAME", optim_choices), NULL, FIT, A(optim_name), NULL, 0,
     "the optimizer (default: sgd; gan: adam)"},
    {"lr", 0, NUM(NN_F_FLOAT, 0, 1e6), NULL, FIT, A(lr), NULL, 0,
     "learning rate (default per optimizer: sgd 0.1; gan: 2e-4)"},
    {"momentum", 0, NUM(NN_F_FLOAT, 0, 1), NULL, FIT, A(momentum), NULL, 0,
     "momentum's A (default 0.9)"},
    {"nesterov", 0, NOVAL(NN_F_SET), NULL, FIT, A(nesterov), NULL, 0,
     "with --optim momentum: Nesterov's form (w += A v - lr g)"},
    {"rho", 0, NUM(NN_F_FLOAT, 0, 1), NULL, FIT, A(rho), NULL, 0,
     "rmsprop / adadelta decay (default 0.9 / 0.95)"},
    {"eps", 0, NUM(NN_F_FLOAT, 0, 1), NULL, FIT, A(eps), NULL, 0,
     "the optimizer's epsilon (adagrad, rmsprop, adadelta, adam)"},
    {"beta1", 0, NUM(NN_F_FLOAT, 0, 1), NULL, FIT, A(beta1), NULL, 0,
     "adam's first-moment decay (0.9; gan: 0.5)"},
    {"beta2", 0, NUM(NN_F_FLOAT, 0, 1), NULL, FIT, A(beta2), NULL, 0,
     "adam's second-moment decay (0.999)"},
    {"weight-decay", 0, NUM(NN_F_FLOAT, 0, 1), NULL, FIT, A(weight_decay), NULL, 0,
     "L2 weight decay"},
    {"schedule", 0, NN_F_STR, "S", 0, 0, NULL, "const", FIT, A(schedule), NULL, 0,
     "const, cosine, linear (the full rate at the end of warmup, then down to 0), "
     "linear:START:END (from START x the rate up to it, then down to END x it), step:EVERY:GAMMA"},
    {"warmup", 0, NUM(NN_F_FLOAT, 0, 1e6), NULL, FIT, A(warmup), NULL, 0,
     "epochs of linear warmup of the rate"},
    {"g-lr", 0, NUM(NN_F_FLOAT, 0, 1e6), NULL, GAN, A(train.g_lr), NULL, 0,
     "the generator's learning rate (default --lr)"},
    {"d-lr", 0, NUM(NN_F_FLOAT, 0, 1e6), NULL, GAN, A(train.d_lr), NULL, 0,
     "the discriminator's learning rate (default --lr)"},
    {"real-label", 0, NUM(NN_F_FLOAT, 0.5, 1), "1", GAN, A(train.real_label), NULL, 0,
     "D's target for real images (0.9: one-sided label smoothing)"},
    /* Regularisation and augmentation. */
    {"crop", 0, NUM(NN_F_INT, 0, 64), NULL, FIT, A(train.crop_pad), NULL, 0,
     "augmentation: a random crop of the image padded by PAD pixels"},
    {"crop-fill", 0, NN_F_CUSTOM, "FILL", 0, 0, crop_fill_choices, "zero", FIT | EVAL, 0,
     parse_crop_fill, 0,
     "the crop's padding: 0 (zero) or the image mirrored about its edge (reflect); eval: "
     "--tta translate's"},
    {"flip", 0, NN_F_CUSTOM, "[HOW]", 0, 0, flip_choices, NULL, FIT, 0, parse_flip,
     NN_FLAG_OPTVAL,
     "augmentation: random horizontal flip; alternate: each image's flip drawn once, then taken "
     "every other epoch"},
    {"lookahead", 0, NN_F_CUSTOM, "K:E", 0, 0, NULL, NULL, TRAIN, 0, parse_lookahead, 0,
     "from epoch E (0-based) on, every K steps pull the weights to an average that follows "
     "them (airbench's 5:3; 0: off)"},
    {"label-smoothing", 0, NUM(NN_F_FLOAT, 0, 0.999), NULL, TRAIN, A(train.label_smoothing), NULL,
     0, "the cross-entropy's target is (1-E) onehot + E/classes; the loss shown stays against "
     "the true labels"},
    {"class-weight", 0, CHOICE("W", class_weight_choices), "none", TRAIN, A(train.class_weight),
     NULL, 0,
     "balanced: each sample's loss times N / (K n_c); sqrt: times N / (sqrt(n_c) sum_j "
     "sqrt(n_j)); the reported train loss is weighted"},
    {"ema", 0, NN_F_CUSTOM, "DECAY", 0, 0, NULL, NULL, FIT, 0, parse_ema, 0,
     "keep a moving average of the weights (0.999: over about the last 1,000 steps); train "
     "evaluates and saves it, gan averages G"},
    {"no-ema", 0, NOVAL(NN_F_SET), NULL, EVAL | PREDICT | LOSS | SAMPLE | SCORE | EXPORT,
     A(no_ema), NULL, 0, "the trained weights, not their moving average"},
    {"bn", 0, NN_F_CUSTOM, "MODE", 0, 0, bn_choices, "sync", FIT, 0, parse_bn, 0,
     "BatchNorm statistics over the global batch (sync) or each rank's slice (local)"},
    /* Where results go. */
    {"out", 'o', NN_F_STR, "DIR", 0, 0, NULL, "results/run", FIT, A(train.out_dir), NULL,
     NN_FLAG_LOCAL, "where train writes checkpoint.h5, history.csv and the plots"},
    {"resume", 0, NN_F_STR, "FILE|auto", 0, 0, NULL, NULL, FIT, A(train.resume), NULL, 0,
     "continue from a checkpoint; auto: from OUT/checkpoint.h5 when it exists, else start "
     "fresh"},
    {"force", 'f', NOVAL(NN_F_SET), NULL, FIT, A(train.force), NULL, 0,
     "start afresh even though OUT already holds a checkpoint (it is replaced)"},
    {"checkpoint-every", 0, NUM(NN_F_DOUBLE, 0, 1e6), NULL, FIT, A(train.checkpoint_every), NULL,
     0, "also checkpoint every M minutes inside an epoch"},
    {"keep-best", 0, NOVAL(NN_F_SET), NULL, TRAIN, A(train.keep_best), NULL, 0,
     "also keep OUT/best.h5 (the best test accuracy so far)"},
    {"no-plot", 0, NOVAL(NN_F_CLEAR), NULL, FIT, A(train.plot), NULL, 0,
     "do not render OUT/loss.png and OUT/accuracy.png"},
    /* What the run shows. */
    {"progress", 0, CHOICE("MODE", progress_choices), "auto", FIT | EVAL, A(train.progress),
     NULL, NN_FLAG_LOCAL,
     "rank 0's progress: a live bar (on a terminal), one line every few seconds (lines: a pipe "
     "or log), or off; auto: bar on a terminal, else lines"},
    {"quiet", 'q', NOVAL(NN_F_SET), NULL, FIT, A(train.quiet), NULL, NN_FLAG_LOCAL,
     "no per-epoch lines and no progress"},
    {"profile", 0, NOVAL(NN_F_SET), NULL, FIT, A(train.profile), NULL, NN_FLAG_LOCAL,
     "per-rank time per phase after every epoch"},
    /* Ranks, threads and faults. */
    {"threads", 'j', NUM(NN_F_INT, 1, 1024), NULL, COMPUTE, A(threads), NULL, NN_FLAG_LOCAL,
     "OpenBLAS threads per rank (default: the node's cores / its ranks)"},
    {"oversubscribe", 0, NOVAL(NN_F_SET), NULL, COMPUTE, A(oversubscribe), NULL, NN_FLAG_LOCAL,
     "allow ranks x --threads above the node's cores"},
    {"device", 0, NAME("D", device_choices), NULL, COMPUTE, A(device), NULL, NN_FLAG_LOCAL,
     "cpu, cuda (a build with make CUDA=1 and a GPU) or auto (cuda when built with it and a GPU "
     "is visible)"},
    {"no-balance", 0, NOVAL(NN_F_CLEAR), NULL, FIT, A(train.balance), NULL, 0,
     "under mpirun: keep each rank's owned slice of a batch instead of evening the slices"},
    {"bucket-mb", 0, NUM(NN_F_FLOAT, 0, 1e6), "4", FIT, A(train.bucket_mb), NULL, 0,
     "across nodes: reduce the gradients in buckets of at least M MB while backward goes on "
     "(0: after backward)"},
    {"step-timeout", 0, NUM(NN_F_DOUBLE, 0, 1e7), "600", FIT, A(train.step_timeout), NULL, 0,
     "end the job when a step makes no progress for S seconds (a stopped rank; 0: never)"},
    /* Image folders. */
    {"cache", 0, CHOICE("HOW", cache_choices), "auto", FIT | EVAL, A(train.cache), NULL,
     NN_FLAG_LOCAL,
     "image folders: keep the decoded shard in memory (ram), decode every batch from disk "
     "(none), or ram when it fits (auto)"},
    {"skip-bad", 0, NOVAL(NN_F_SET), NULL, FIT, A(train.skip_bad), NULL, 0,
     "image folders: leave out unreadable files (found by reading every file first) with one "
     "warning"},
    {"workers", 0, NUM(NN_F_INT, 1, 64), NULL, FIT, A(train.workers), NULL, NN_FLAG_LOCAL,
     "decoder threads per rank for a streamed folder (default: the rank's spare cores, 1..8)"},
    {"val-split", 0, NUM(NN_F_FLOAT, 0.01, 0.9), NULL, FIT | EVAL | PREDICT, A(train.val_split),
     NULL, 0,
     "image folders with train/ only: hold out this fraction of each class as the test set, "
     "chosen by --seed (eval, predict: the checkpoint's split unless given)"},
    /* Reading checkpoints. */
    {"checkpoint", 'c', NN_F_CUSTOM, "FILE", 0, 0, NULL, NULL,
     EVAL | PREDICT | LOSS | SUMMARY | SAMPLE | SCORE | SEAL | EXPORT, 0, parse_checkpoint,
     NN_FLAG_REPEAT,
     "a trained model (its data set, shape, classes and net come with it); eval takes it again "
     "to average several models' class probabilities"},
    {"index", 'i', NUM(NN_F_INT, 0, 2147483647), NULL, PREDICT, A(index), NULL, 0,
     "predict this test image instead of reading indices from stdin"},
    {"top", 'k', NUM(NN_F_INT, 1, 1000), "1", PREDICT, A(top), NULL, 0,
     "print the K most probable classes with their probabilities"},
    {"confusion-csv", 0, NN_F_STR, "FILE", 0, 0, NULL, NULL, EVAL, A(confusion_csv), NULL, 0,
     "also write the confusion matrix as CSV"},
    {"confusion-png", 0, NN_F_STR, "FILE", 0, 0, NULL, NULL, EVAL, A(confusion_png), NULL, 0,
     "and as a PNG heat map"},
    {"tta", 0, CHOICE("HOW", tta_choices), "none", EVAL, A(tta), NULL, 0,
     "test-time augmentation: average each image's class probabilities with its mirror "
     "image's (flip); translate: also both moved one pixel (6 views)"},
    {"onnx", 0, NN_F_STR, "FILE", 0, 0, NULL, NULL, EXPORT, A(onnx), NULL, 0,
     "the ONNX file to write"},
    /* GAN tools. */
    {"n", 'n', NUM(NN_F_INT, 1, 10000000), NULL, SAMPLE | SCORE, A(n), NULL, 0,
     "how many images (sample: 64, gan-score: 10000)"},
    {"truncation", 0, NN_F_CUSTOM, "T", 0, 0, NULL, NULL, SAMPLE | SCORE, 0, parse_truncation, 0,
     "noise drawn again until |z| <= T (sharper, less varied images; 0: none)"},
    {"classifier", 0, NN_F_STR, "FILE", 0, 0, NULL, NULL, SCORE, A(classifier), NULL, 0,
     "a trained classifier's checkpoint to score the images with"},
    {"png", 0, NN_F_STR, "FILE", 0, 0, NULL, NULL, SAMPLE | PLOT, A(png), NULL, 0,
     "the image to write"},
    {"compare", 0, NN_F_STR, "COLUMN", 0, 0, NULL, NULL, PLOT, A(compare_col), NULL, 0,
     "one curve of this history.csv column per run, into --png"},
    /* Help. */
    {"markdown", 0, NOVAL(NN_F_SET), NULL, HELP, A(markdown), NULL, 0,
     "the whole reference as Markdown (docs/cli.md)"},
    {"matrix", 0, NOVAL(NN_F_SET), NULL, HELP, A(matrix), NULL, 0,
     "every command x flag with an example value and whether it applies (for tests)"},
    {"help", 'h', NOVAL(NN_F_SET), NULL, NN_CMDS_ALL, A(help), NULL, NN_FLAG_LOCAL,
     "this command's help"},
    {"version", 'V', NOVAL(NN_F_SET), NULL, NN_CMDS_ALL, A(version), NULL, NN_FLAG_LOCAL,
     "the version and what the build has (MPI, CUDA, OpenBLAS core, HDF5)"},
};

const int nn_nflags = (int)(sizeof nn_flags / sizeof *nn_flags);
