/* checkpoint.c: HDF5 checkpoint save/load (layout in checkpoint.h).
 *
 * Nothing in a checkpoint is trusted on load: every tensor must be there in
 * the model's shape and hold only finite values, every /state field must be
 * in its range, the history table must have the shape the state implies and
 * class names the model's count; a failed load leaves net and optimizer as
 * they were and fills neither state nor history. A save refuses what a load
 * would refuse (non-finite tensors, a state out of range), so a diverged run
 * never replaces its last good checkpoint. Files are written in the HDF5 1.8
 * format (libver bounds v18), which stores attributes of any size (a model
 * spec over HDF5's 64 KB object-header limit moves to dense attribute storage
 * by itself); readers of the 1.6 layout that older builds wrote work as before. */
#define _POSIX_C_SOURCE 200809L
#include "nn/checkpoint.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "nn/error.h"
#include "nn/fileutil.h"
#include "nn/loss.h"

/* The ranges a loaded /state must respect: the CLI's own limits. */
#define CKPT_MAX_EPOCH 1000000            /* --epochs */
#define CKPT_MAX_SEED 2147483647LL        /* --seed */
#define CKPT_MAX_BATCH (1 << 20)          /* --batch */
#define CKPT_MAX_LIMIT 2147483647LL       /* --limit */
#define CKPT_MAX_DIM 65536                /* each of input_shape C, H, W */
#define CKPT_MAX_CLASSES (1 << 24)

static void quiet_hdf5(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* ---- why HDF5 failed ---- */

typedef struct {
    int err;        /* errno recorded by HDF5's file driver, 0 if none */
    char last[200]; /* the innermost description, when no errno */
} h5_why;

static herr_t walk_errno(unsigned n, const H5E_error2_t *e, void *data) {
    (void)n;
    h5_why *w = data;
    const char *p = e->desc ? strstr(e->desc, "errno = ") : NULL;
    if (p && !w->err) w->err = atoi(p + 8);
    if (e->desc) snprintf(w->last, sizeof w->last, "%s", e->desc);
    return 0;
}

/* Fail with "what: <OS reason>": the errno HDF5's file driver put on the
 * error stack of the call that just failed (e.g. "errno = 28"), else ENOSPC
 * when the folder of `file` is full, else HDF5's own words. Call it right
 * after the failing call: the next HDF5 call clears the stack. */
static int h5_fail(const char *file, const char *what) {
    h5_why w = {0, ""};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_errno, &w);
    int e = nn_write_errno(w.err, file);
    if (e) return nn_fail("%s: %s", what, strerror(e));
    return nn_fail("%s: %s", what, w.last[0] ? w.last : "HDF5 error without a reason");
}

/* ---- what a save writes and a load accepts ---- */

/* /state as stored (int64 and float64 attributes), checked before the cast
 * to nn_train_state's narrower fields. */
typedef struct {
    int64_t epoch, step, seed, epoch_step, batch, train_limit;
    double partial[4], partial_extra[3], best_acc, val_split;
    char data[sizeof ((nn_train_state *)0)->data];
    char class_weight[sizeof ((nn_train_state *)0)->class_weight];
} raw_state;

static const char *const partial_what[4] = {"train loss sum", "correct", "samples", "seconds"};

/* Every field in its range; the message names the field, its value and what
 * was expected (the caller prefixes the file). */
static int check_state(const raw_state *r) {
    if (r->epoch < 0 || r->epoch > CKPT_MAX_EPOCH)
        return nn_fail("state/epoch is %lld, expected 0..%d (epochs completed)",
                       (long long)r->epoch, CKPT_MAX_EPOCH);
    if (r->step < 0)
        return nn_fail("state/step is %lld, expected >= 0 (optimizer steps taken)",
                       (long long)r->step);
    if (r->seed < 0 || r->seed > CKPT_MAX_SEED)
        return nn_fail("state/seed is %lld, expected 0..%lld (the --seed range)",
                       (long long)r->seed, CKPT_MAX_SEED);
    if (r->epoch_step < 0 || r->epoch_step > r->step)
        return nn_fail("state/epoch_step is %lld, expected 0..%lld (batches of the epoch taken, "
                       "at most state/step)",
                       (long long)r->epoch_step, (long long)r->step);
    if (r->batch < 0 || r->batch > CKPT_MAX_BATCH)
        return nn_fail("state/batch is %lld, expected 0..%d (0 = not recorded)",
                       (long long)r->batch, CKPT_MAX_BATCH);
    if (r->train_limit < 0 || r->train_limit > CKPT_MAX_LIMIT)
        return nn_fail("state/train_limit is %lld, expected 0..%lld (0 = all samples)",
                       (long long)r->train_limit, CKPT_MAX_LIMIT);
    for (int i = 0; i < 4; i++)
        if (!isfinite(r->partial[i]) || r->partial[i] < 0)
            return nn_fail("state/partial[%d] (%s) is %g, expected a finite number >= 0", i,
                           partial_what[i], r->partial[i]);
    for (int i = 0; i < 3; i++)
        if (!isfinite(r->partial_extra[i]) || r->partial_extra[i] < 0)
            return nn_fail("state/partial_extra[%d] is %g, expected a finite number >= 0", i,
                           r->partial_extra[i]);
    if (r->partial[1] > r->partial[2])
        return nn_fail("state/partial[1] (correct) is %g, expected at most partial[2] "
                       "(samples) = %g",
                       r->partial[1], r->partial[2]);
    if (!(r->best_acc == -1 || (r->best_acc >= 0 && r->best_acc <= 1)))
        return nn_fail("state/best_acc is %g, expected -1 (none yet) or 0..1", r->best_acc);
    if (r->class_weight[0] && nn_class_weight_parse(r->class_weight) < 0) {
        char q[64];
        return nn_fail("state/class_weight is '%s', expected none, balanced or sqrt",
                       nn_escaped(r->class_weight, 20, q, sizeof q));
    }
    return NN_OK;
}

static size_t count_nonfinite(const float *v, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += !isfinite(v[i]);
    return bad;
}

/* No NaN/Inf in any tensor of `base` (laid out like net->params when
 * trainable, net->state otherwise); the message names the first bad tensor. */
static int check_finite(const nn_net *net, const float *base, int trainable, const char *root) {
    size_t off = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const nn_layer *l = &net->layers[i];
        int nt = trainable ? l->nparam_tensors : l->nstate_tensors;
        const nn_tensor_desc *t = trainable ? l->params : l->states;
        for (int k = 0; k < nt; k++) {
            size_t bad = count_nonfinite(base + off + t[k].offset, t[k].size);
            if (bad)
                return nn_fail("%s/%s/%s holds %zu non-finite value%s (NaN/Inf)", root, l->name,
                               t[k].name, bad, bad == 1 ? "" : "s");
        }
        off += trainable ? l->nparams : l->nstate;
    }
    return NN_OK;
}

/* ---- small writers ---- */

static int attr_str(const char *file, hid_t obj, const char *name, const char *val) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(val) + 1);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, t, val) >= 0 ? NN_OK : h5_fail(file, name);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    return rc == NN_OK ? NN_OK : nn_fail_ctx("writing attribute");
}

/* A string too long for an attribute (HDF5's compact attributes hold 64 KB;
 * the dense storage that holds more needs the 1.8 file format, whose images
 * HDF5 marks as open and will not reopen): a scalar string dataset. */
#define ATTR_STR_MAX 32768
static int dataset_str(const char *file, hid_t obj, const char *name, const char *val) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(val) + 1);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d >= 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, val) >= 0 ? NN_OK
                                                                               : h5_fail(file, name);
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    H5Tclose(t);
    return rc == NN_OK ? NN_OK : nn_fail_ctx("writing dataset");
}

/* A string dataset (as dataset_str writes it), malloc'd; NN_ERR when absent. */
static int read_dataset_str(hid_t obj, const char *name, char **out) {
    if (H5Lexists(obj, name, H5P_DEFAULT) <= 0) return NN_ERR;
    hid_t d = H5Dopen2(obj, name, H5P_DEFAULT);
    if (d < 0) return NN_ERR;
    hid_t t = H5Dget_type(d);
    int rc = NN_ERR;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0) {
        size_t n = H5Tget_size(t);
        char *v = calloc(n + 2, 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, n + 1);
        if (v && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0) {
            *out = v;
            rc = NN_OK;
        } else {
            free(v);
        }
        H5Tclose(mt);
    }
    if (t >= 0) H5Tclose(t);
    H5Dclose(d);
    return rc;
}

static int attr_num(const char *file, hid_t obj, const char *name, hid_t ftype, hid_t mtype,
                    const void *v, hsize_t n) {
    hid_t s = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
    hid_t a = H5Acreate2(obj, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, mtype, v) >= 0 ? NN_OK : h5_fail(file, name);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return rc == NN_OK ? NN_OK : nn_fail_ctx("writing attribute");
}

static int attr_i64(const char *file, hid_t obj, const char *name, const int64_t *v, hsize_t n) {
    return attr_num(file, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, v, n);
}

static int attr_f64(const char *file, hid_t obj, const char *name, const double *v, hsize_t n) {
    return attr_num(file, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v, n);
}

/* A float32 dataset; `full` names it in messages (model_weights/dense_1/kernel). */
static int write_f32(const char *file, hid_t grp, const char *name, const char *full,
                     const float *v, int ndim, const int *dims) {
    hsize_t hd[4];
    for (int i = 0; i < ndim; i++) hd[i] = (hsize_t)dims[i];
    hid_t s = H5Screate_simple(ndim, hd, NULL);
    hid_t d = H5Dcreate2(grp, name, H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    char what[320];
    snprintf(what, sizeof what, "writing %s", full);
    int rc = d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0
                 ? NN_OK
                 : h5_fail(file, what);
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    return rc;
}

static hid_t group(hid_t parent, const char *name) {
    return H5Gcreate2(parent, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}

/* Write every tensor of every layer from `base` (a flat buffer laid out like
 * net->params when trainable, net->state otherwise) under grp/<layer>/;
 * `root` is grp's name for messages. */
static int write_tensors(const char *file, hid_t grp, const char *root, const nn_net *net,
                         const float *base, int trainable) {
    size_t off = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const nn_layer *l = &net->layers[i];
        int nt = trainable ? l->nparam_tensors : l->nstate_tensors;
        const nn_tensor_desc *t = trainable ? l->params : l->states;
        if (nt > 0) {
            hid_t lg = H5Gopen2(grp, l->name, H5P_DEFAULT);
            if (lg < 0) lg = group(grp, l->name);
            if (lg < 0) {
                char what[320];
                if (snprintf(what, sizeof what, "creating group %s/%s", root, l->name) < 0)
                    what[0] = 0;
                return h5_fail(file, what);
            }
            for (int k = 0; k < nt; k++) {
                char full[288];
                if (snprintf(full, sizeof full, "%s/%s/%s", root, l->name, t[k].name) >=
                    (int)sizeof full) {
                    H5Gclose(lg);
                    return nn_fail("tensor name %s/%s/... too long", root, l->name);
                }
                if (write_f32(file, lg, t[k].name, full, base + off + t[k].offset, t[k].ndim,
                              t[k].dims)) {
                    H5Gclose(lg);
                    return NN_ERR;
                }
            }
            H5Gclose(lg);
        }
        off += trainable ? l->nparams : l->nstate;
    }
    return NN_OK;
}

/* /class_names: (classes) fixed-length UTF-8 strings. */
static int write_class_names(const char *file, hid_t f, char *const *names, size_t k) {
    size_t len = 1;
    for (size_t i = 0; i < k; i++)
        if (strlen(names[i]) + 1 > len) len = strlen(names[i]) + 1;
    char *buf = calloc(k ? k : 1, len);
    if (!buf) return nn_fail("out of memory writing class_names");
    for (size_t i = 0; i < k; i++) memcpy(buf + i * len, names[i], strlen(names[i]));
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hsize_t n = (hsize_t)k;
    hid_t s = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "class_names", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d >= 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0
                 ? NN_OK
                 : h5_fail(file, "writing class_names");
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    H5Tclose(t);
    free(buf);
    return rc;
}

static int fault_midway(void) {
    /* Test hook: simulate a crash (no clean-up) half way through a save. */
    const char *f = getenv("NNTRAIN_FAULT");
    return f && !strcmp(f, "ckpt_midway");
}

static raw_state raw_of(const nn_train_state *st) {
    raw_state r;
    memset(&r, 0, sizeof r);
    r.epoch = st->epoch;
    r.step = (int64_t)st->step;
    r.seed = (int64_t)st->seed;
    r.epoch_step = (int64_t)st->epoch_step;
    r.batch = st->batch;
    r.train_limit = st->train_limit;
    memcpy(r.partial, st->partial, sizeof r.partial);
    memcpy(r.partial_extra, st->partial_extra, sizeof r.partial_extra);
    r.best_acc = st->best_acc;
    r.val_split = st->val_split;
    memcpy(r.data, st->data, sizeof r.data);
    memcpy(r.class_weight, st->class_weight, sizeof r.class_weight);
    return r;
}

/* One net and its optimizer at loc (the file's root for a classifier, a
 * group per net for a GAN): its spec, shapes, weights and optimizer slots. */
static int save_net(const char *file, hid_t f, const nn_net *net, const nn_optim *optim) {
    NN_TRY(strlen(net->spec) < ATTR_STR_MAX ? attr_str(file, f, "model_spec", net->spec)
                                            : dataset_str(file, f, "model_spec", net->spec));
    int64_t shape[3] = {net->in.c, net->in.h, net->in.w};
    NN_TRY(attr_i64(file, f, "input_shape", shape, 3));
    int64_t classes = (int64_t)nn_net_out_size(net);
    NN_TRY(attr_i64(file, f, "classes", &classes, 1));
    NN_TRY(attr_str(file, f, "optimizer", optim ? nn_optim_name(optim->cfg.kind) : "none"));

    hid_t g = group(f, "model_weights");
    int rc = g < 0 ? h5_fail(file, "creating model_weights") : NN_OK;
    if (rc == NN_OK) rc = write_tensors(file, g, "model_weights", net, net->params, 1);
    if (rc == NN_OK) rc = write_tensors(file, g, "model_weights", net, net->state, 0);
    if (g >= 0) H5Gclose(g);
    NN_TRY(rc);

    if (optim) {
        hid_t og = group(f, "optimizer_weights");
        if (og < 0) return h5_fail(file, "creating optimizer_weights");
        int64_t t = (int64_t)optim->t;
        rc = attr_i64(file, og, "t", &t, 1);
        for (int s = 0; rc == NN_OK && s < optim->nslots; s++) {
            char root[96];
            snprintf(root, sizeof root, "optimizer_weights/%s", optim->slot_name[s]);
            hid_t sg = group(og, optim->slot_name[s]);
            rc = sg < 0 ? h5_fail(file, "creating an optimizer slot group") : NN_OK;
            if (rc == NN_OK) rc = write_tensors(file, sg, root, net, optim->slot[s], 1);
            if (sg >= 0) H5Gclose(sg);
        }
        H5Gclose(og);
        NN_TRY(rc);
    }
    return NN_OK;
}

/* What belongs to the whole run, at the file's root: format, kind, state,
 * class names (`classes` of them) and history. */
static int save_root(const char *file, hid_t f, const char *kind, const nn_train_state *st,
                     const nn_history *hist, const char *config, int ranks,
                     char *const *class_names, size_t classes) {
    NN_TRY(attr_str(file, f, "format", "nntrain-checkpoint"));
    int64_t v = NN_CKPT_VERSION, nr = ranks;
    NN_TRY(attr_i64(file, f, "format_version", &v, 1));
    NN_TRY(attr_str(file, f, "kind", kind));
    NN_TRY(attr_i64(file, f, "ranks", &nr, 1));
    NN_TRY(attr_str(file, f, "config", config ? config : ""));
    int rc = NN_OK;
    if (st) {
        raw_state r = raw_of(st);
        hid_t sg = group(f, "state");
        if (sg < 0) return h5_fail(file, "creating state");
        rc = attr_i64(file, sg, "epoch", &r.epoch, 1);
        if (rc == NN_OK) rc = attr_i64(file, sg, "step", &r.step, 1);
        if (rc == NN_OK) rc = attr_i64(file, sg, "seed", &r.seed, 1);
        if (rc == NN_OK) rc = attr_i64(file, sg, "epoch_step", &r.epoch_step, 1);
        if (rc == NN_OK) rc = attr_f64(file, sg, "partial", r.partial, 4);
        if (rc == NN_OK) rc = attr_f64(file, sg, "partial_extra", r.partial_extra, 3);
        if (rc == NN_OK) rc = attr_i64(file, sg, "batch", &r.batch, 1);
        if (rc == NN_OK) rc = attr_i64(file, sg, "train_limit", &r.train_limit, 1);
        if (rc == NN_OK) rc = attr_str(file, sg, "data", r.data);
        if (rc == NN_OK) rc = attr_f64(file, sg, "best_acc", &r.best_acc, 1);
        if (rc == NN_OK && r.val_split > 0) rc = attr_f64(file, sg, "val_split", &r.val_split, 1);
        if (rc == NN_OK && r.class_weight[0])
            rc = attr_str(file, sg, "class_weight", r.class_weight);
        H5Gclose(sg);
        NN_TRY(rc);
    }
    if (class_names) NN_TRY(write_class_names(file, f, class_names, classes));
    if (hist && hist->rows > 0) {
        hid_t hg = group(f, "history");
        if (hg < 0) return h5_fail(file, "creating history");
        const int nc = nn_history_ncols(hist);
        hsize_t dims[2] = {hist->rows, (hsize_t)nc};
        hid_t s = H5Screate_simple(2, dims, NULL);
        hid_t d = H5Dcreate2(hg, "table", H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
        rc = d < 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, hist->v) < 0
                 ? h5_fail(file, "writing history/table")
                 : NN_OK;
        char cols[512] = "";
        for (int c = 0; c < nc && strlen(cols) + 40 < sizeof cols; c++) {
            if (c) strcat(cols, ",");
            strcat(cols, nn_history_cols(hist)[c].name);
        }
        if (rc == NN_OK) rc = attr_str(file, d, "columns", cols);
        if (d >= 0) H5Dclose(d);
        H5Sclose(s);
        H5Gclose(hg);
        NN_TRY(rc);
    }
    return NN_OK;
}

/* What a save must refuse before it touches the disk: anything a load would
 * refuse. The message names the tensor or field. */
static int check_savable(const nn_net *net, const nn_optim *optim, const nn_train_state *st,
                         const nn_history *hist, char *const *class_names) {
    NN_TRY(check_finite(net, net->params, 1, "model_weights"));
    NN_TRY(check_finite(net, net->state, 0, "model_weights"));
    for (int s = 0; optim && s < optim->nslots; s++) {
        char root[96];
        snprintf(root, sizeof root, "optimizer_weights/%s", optim->slot_name[s]);
        NN_TRY(check_finite(net, optim->slot[s], 1, root));
    }
    if (st) {
        if (memchr(st->data, 0, sizeof st->data) == NULL)
            return nn_fail("state/data is not a terminated string of at most %zu bytes",
                           sizeof st->data - 1);
        if (memchr(st->class_weight, 0, sizeof st->class_weight) == NULL)
            return nn_fail("state/class_weight is not a terminated string of at most %zu bytes",
                           sizeof st->class_weight - 1);
        raw_state r = raw_of(st);
        NN_TRY(check_state(&r));
        if (hist && hist->rows > (size_t)st->epoch)
            return nn_fail("history has %zu rows but state/epoch is %d: one row per completed "
                           "epoch",
                           hist->rows, st->epoch);
    }
    if (class_names)
        for (size_t i = 0; i < nn_net_out_size(net); i++)
            if (!class_names[i]) return nn_fail("class name %zu is NULL", i);
    return NN_OK;
}

/* ---- the envelope: 512 bytes in front of the HDF5 data ----
 *
 *   0  16  magic "nntrain-ckpt\n" (zero-padded)
 *  16   8  length of the HDF5 data that follows byte 512 (uint64, little-endian)
 *  24   4  CRC-32 (zlib's) of that data (uint32, little-endian)
 *  28   4  envelope version (1)
 *  32  ..  one line of text for a human, then zeros to byte 512
 *
 * libhdf5 finds the superblock at byte 512 and takes the envelope for a user
 * block, so h5dump, h5ls and h5py read the file as it is. nntrain checks the
 * length and the CRC before libhdf5 parses a byte: a truncated, damaged or
 * edited file is refused with its reason, and never reaches the parser (HDF5
 * 1.10.8 reads out of bounds on some corrupt attribute messages; fuzz_ckpt
 * found it). nn_ckpt_seal() writes the envelope again after a deliberate
 * edit, or in front of a checkpoint of the builds before it. */
#define ENV_SIZE 512
#define ENV_VERSION 1
static const char env_magic[16] = "nntrain-ckpt\n";
static const unsigned char hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

static void put_le(unsigned char *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static uint32_t crc_of(const unsigned char *data, size_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) { /* zlib takes uInt lengths */
        const uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, data, chunk);
        data += chunk, n -= chunk;
    }
    return (uint32_t)c;
}

static void make_envelope(unsigned char env[ENV_SIZE], const unsigned char *data, size_t n) {
    memset(env, 0, ENV_SIZE);
    memcpy(env, env_magic, sizeof env_magic);
    put_le(env + 16, n, 8);
    put_le(env + 24, crc_of(data, n), 4);
    put_le(env + 28, ENV_VERSION, 4);
    snprintf((char *)env + 32, ENV_SIZE - 32,
             "nntrain checkpoint: HDF5 data from byte 512 (h5dump reads this file as it is)\n");
}

/* The whole file at path, malloc'd (a regular file only: a FIFO or a device
 * is refused before a read could block). */
static unsigned char *slurp_file(const char *path, size_t *n) {
    nn_filebuf b = {0};
    if (nn_read_regular(path, ~0ull, "an nntrain checkpoint", &b) != NN_OK) {
        nn_fail_ctx("cannot read checkpoint");
        free(b.data);
        return NULL;
    }
    *n = b.n;
    return b.data;
}

/* Check the envelope of the file image (bytes, n); on success (*data, *len) is
 * the HDF5 data inside it. */
static int check_envelope(const char *path, const unsigned char *bytes, size_t n,
                          const unsigned char **data, size_t *len) {
    if (n >= sizeof hdf5_sig && !memcmp(bytes, hdf5_sig, sizeof hdf5_sig))
        return nn_fail("%s: an HDF5 file without nntrain's checksum envelope (written by another "
                       "program, or by an nntrain before checkpoints had one); if it is an nntrain "
                       "checkpoint you trust, add the envelope: nntrain seal --checkpoint %s",
                       path, path);
    if (n < ENV_SIZE || memcmp(bytes, env_magic, sizeof env_magic) != 0)
        return nn_fail("%s: not an nntrain checkpoint (%zu bytes, without the \"nntrain-ckpt\" "
                       "header an nntrain checkpoint starts with)",
                       path, n);
    const uint64_t want = get_le(bytes + 16, 8), ver = get_le(bytes + 28, 4);
    if (ver != ENV_VERSION)
        return nn_fail("%s: checkpoint envelope version %llu, this nntrain reads version %d", path,
                       (unsigned long long)ver, ENV_VERSION);
    if (want != n - ENV_SIZE)
        return nn_fail("%s: %s: the header promises %llu bytes of HDF5 data after byte %d, the "
                       "file holds %zu",
                       path, want > n - ENV_SIZE ? "truncated" : "has bytes appended",
                       (unsigned long long)want, ENV_SIZE, n - ENV_SIZE);
    const uint32_t stored = (uint32_t)get_le(bytes + 24, 4), crc = crc_of(bytes + ENV_SIZE, n - ENV_SIZE);
    if (stored != crc)
        return nn_fail("%s: checksum mismatch (CRC-32 stored %08x, computed %08x): the file was "
                       "damaged or edited after nntrain wrote it",
                       path, (unsigned)stored, (unsigned)crc);
    if (n - ENV_SIZE < sizeof hdf5_sig || memcmp(bytes + ENV_SIZE, hdf5_sig, sizeof hdf5_sig))
        return nn_fail("%s: no HDF5 data after the nntrain header", path);
    *data = bytes + ENV_SIZE;
    *len = n - ENV_SIZE;
    return NN_OK;
}

static int seal_file(const char *path);

int nn_ckpt_seal(const char *given) {
    /* A symlink is followed: the file it names is sealed (its temp and the
     * rename happen next to it) and the link stays a link. A rename over
     * the link's own name replaced it with a regular file and left the
     * target unsealed. */
    char *real = realpath(given, NULL);
    if (!real) return nn_fail("%s: cannot resolve the path (%s)", given, strerror(errno));
    int rc = seal_file(real);
    free(real);
    return rc;
}

static int seal_file(const char *path) {
    size_t n = 0;
    unsigned char *bytes = slurp_file(path, &n);
    if (!bytes) return NN_ERR;
    size_t off = 0;
    if (n >= ENV_SIZE && !memcmp(bytes, env_magic, sizeof env_magic)) off = ENV_SIZE;
    if (n < off + sizeof hdf5_sig || memcmp(bytes + off, hdf5_sig, sizeof hdf5_sig)) {
        free(bytes);
        return nn_fail("%s: no HDF5 data %s: not a checkpoint to seal", path,
                       off ? "after the nntrain header" : "at its start");
    }
    unsigned char env[ENV_SIZE];
    make_envelope(env, bytes + off, n - off);
    const size_t tn = strlen(path) + 32;
    char *tname = malloc(tn);
    FILE *out = tname ? nn_open_temp(path, tname, tn) : NULL;
    int rc = out ? NN_OK : NN_ERR;
    if (!tname) nn_fail("%s: out of memory", path);
    if (rc == NN_OK && (fwrite(env, 1, ENV_SIZE, out) != ENV_SIZE ||
                        fwrite(bytes + off, 1, n - off, out) != n - off)) {
        int e = nn_write_errno(errno, tname);
        fclose(out);
        unlink(tname);
        rc = nn_fail("%s: writing failed (%s)", tname, strerror(e ? e : EIO));
    } else if (rc == NN_OK) {
        rc = nn_commit_temp(out, tname, path);
    }
    free(tname), free(bytes);
    return rc;
}

/* Write the parts (a NULL name: at the root) and the run's record to a temp
 * file next to path, then rename it into place. */
static int save_file(const char *path, const char *kind, const nn_ckpt_part *parts, int nparts,
                     const nn_train_state *st, const nn_history *hist, const char *config,
                     int ranks, char *const *class_names) {
    quiet_hdf5();
    int rc = NN_OK;
    for (int i = 0; rc == NN_OK && i < nparts; i++) {
        rc = check_savable(parts[i].net, parts[i].optim, st, hist, i ? NULL : class_names);
        if (rc != NN_OK && parts[i].name) nn_fail_ctx("%s", parts[i].name);
    }
    if (rc != NN_OK)
        return nn_fail_ctx("%s: not saved (the previous checkpoint is left as it was)", path);
    /* The file is built in memory (HDF5's core driver, no backing store) and
     * then written out by plain write(2) calls: a full disk or a failing
     * device is then one errno that names the reason, and HDF5 never holds
     * a half-written file on disk (when its close failed on ENOSPC, it kept
     * a broken file open that crashed the library at exit). */
    char *tmp = nn_temp_path(path);
    if (!tmp) return nn_fail_ctx("%s", path);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = -1;
    if (fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 20, 0) >= 0)
        f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (f < 0) {
        nn_fail("%s: cannot create the checkpoint in memory (HDF5)", path);
        free(tmp);
        return NN_ERR;
    }
    rc = save_root(tmp, f, kind, st, hist, config, ranks, class_names,
                   nn_net_out_size(parts[0].net));
    for (int i = 0; rc == NN_OK && i < nparts; i++) {
        hid_t g = parts[i].name ? group(f, parts[i].name) : f;
        rc = g < 0 ? h5_fail(tmp, "creating a group for a net") : NN_OK;
        if (rc == NN_OK) rc = save_net(tmp, g, parts[i].net, parts[i].optim);
        if (g >= 0 && g != f) H5Gclose(g);
    }
    void *image = NULL;
    ssize_t size = -1;
    if (rc == NN_OK && H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0) size = H5Fget_file_image(f, NULL, 0);
    if (rc == NN_OK && size > 0) image = malloc((size_t)size);
    if (rc == NN_OK && (!image || H5Fget_file_image(f, image, (size_t)size) != size))
        rc = nn_fail("%s: cannot take the checkpoint's image from HDF5 (%zd bytes)", path, size);
    H5Fclose(f);
    free(tmp);
    if (rc != NN_OK) {
        free(image);
        return nn_fail_ctx("%s: not saved (the previous checkpoint is left as it was)", path);
    }
    /* Temp file next to path (stale ones of killed writers removed first),
     * fsync, rename: the previous checkpoint stays until the new one is whole. */
    const size_t tn = strlen(path) + 32;
    char *tname = malloc(tn);
    FILE *out = tname ? nn_open_temp(path, tname, tn) : NULL;
    if (!out) {
        if (!tname) nn_fail("%s: out of memory", path);
        free(tname), free(image);
        return nn_fail_ctx("%s: not saved (the previous checkpoint is left as it was)", path);
    }
    /* Test hook (NNTRAIN_FAULT=ckpt_midway): die with the temp half written. */
    unsigned char env[ENV_SIZE];
    make_envelope(env, image, (size_t)size);
    const bool crash = fault_midway();
    size_t put = fwrite(env, 1, ENV_SIZE, out) == ENV_SIZE
                     ? fwrite(image, 1, crash ? (size_t)size / 2 : (size_t)size, out)
                     : 0;
    if (crash) {
        fflush(out);
        _exit(3);
    }
    free(image);
    if (put != (size_t)size) {
        int e = nn_write_errno(errno, tname);
        fclose(out);
        unlink(tname);
        nn_fail("%s: writing %zd bytes failed (%s)", tname, size, strerror(e ? e : EIO));
        free(tname);
        return nn_fail_ctx("%s: not saved (the previous checkpoint is left as it was)", path);
    }
    rc = nn_commit_temp(out, tname, path);
    free(tname);
    if (rc != NN_OK) return nn_fail_ctx("not saved (the previous checkpoint is left as it was)");
    return NN_OK;
}

int nn_ckpt_save(const char *path, const nn_net *net, const nn_optim *optim,
                 const nn_train_state *st, const nn_history *hist, const char *config,
                 int ranks, char *const *class_names) {
    const nn_ckpt_part part = {NULL, (nn_net *)net, (nn_optim *)optim};
    return save_file(path, NN_CKPT_CLASSIFIER, &part, 1, st, hist, config, ranks, class_names);
}

int nn_ckpt_save_parts(const char *path, const char *kind, const nn_ckpt_part *parts, int nparts,
                       const nn_train_state *st, const nn_history *hist, const char *config,
                       int ranks, char *const *class_names) {
    return save_file(path, kind, parts, nparts, st, hist, config, ranks, class_names);
}

/* ---- readers ---- */

/* A string attribute (fixed-length or variable-length, as h5py writes),
 * malloc'd. NN_ERR without a message when absent or not a string. */
static int read_attr_str(hid_t obj, const char *name, char **out) {
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return NN_ERR;
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    int rc = NN_ERR;
    if (t >= 0 && s >= 0 && H5Tget_class(t) == H5T_STRING &&
        H5Sget_simple_extent_npoints(s) == 1) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_cset(mt, H5Tget_cset(t)); /* HDF5 converts no ASCII <-> UTF-8 */
        if (H5Tis_variable_str(t) > 0) {
            char *v = NULL;
            H5Tset_size(mt, H5T_VARIABLE);
            if (H5Aread(a, mt, &v) >= 0 && v) {
                *out = strdup(v);
                rc = *out ? NN_OK : NN_ERR;
                H5Dvlen_reclaim(mt, s, H5P_DEFAULT, &v);
            }
        } else {
            size_t n = H5Tget_size(t);
            char *v = calloc(n + 2, 1);
            H5Tset_size(mt, n + 1);
            if (v && H5Aread(a, mt, v) >= 0) {
                *out = v;
                rc = NN_OK;
            } else {
                free(v);
            }
        }
        H5Tclose(mt);
    }
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* n numbers of the given class (H5T_INTEGER or H5T_FLOAT) into v. */
static int read_attr_num(hid_t obj, const char *name, H5T_class_t cls, hid_t mtype, void *v,
                         size_t n) {
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return NN_ERR;
    hid_t s = H5Aget_space(a), t = H5Aget_type(a);
    hssize_t np = H5Sget_simple_extent_npoints(s);
    int ok = np == (hssize_t)n && H5Tget_class(t) == cls && H5Aread(a, mtype, v) >= 0;
    H5Tclose(t);
    H5Sclose(s);
    H5Aclose(a);
    return ok ? NN_OK : NN_ERR;
}

static int read_attr_i64(hid_t obj, const char *name, int64_t *v, size_t n) {
    return read_attr_num(obj, name, H5T_INTEGER, H5T_NATIVE_INT64, v, n);
}

static const char *kind_what(const char *kind) {
    return !strcmp(kind, NN_CKPT_GAN) ? "a GAN's (generator and discriminator, written by nntrain gan)"
                                      : "a classifier's (written by nntrain train)";
}

/* Open path and check format, version and kind (absent = a classifier). */
static hid_t open_checkpoint(const char *path, const char *want) {
    quiet_hdf5();
    size_t n = 0, len = 0;
    const unsigned char *data = NULL;
    unsigned char *bytes = slurp_file(path, &n);
    if (!bytes || check_envelope(path, bytes, n, &data, &len) != NN_OK) {
        free(bytes);
        return -1;
    }
    /* HDF5 opens the checked bytes from memory (the core driver, no backing
     * store): what it parses is what the CRC covered. The core driver refuses
     * an image under the name of a file that exists, so it gets a name that
     * cannot exist (path is a regular file, not a folder). */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = -1;
    char *name = malloc(strlen(path) + 16);
    if (name) sprintf(name, "%s/in-memory", path);
    if (name && fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 20, 0) >= 0 &&
        H5Pset_file_image(fapl, (void *)data, len) >= 0)
        f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    free(name), free(bytes);
    if (f < 0) {
        nn_fail("%s: HDF5 cannot open the checkpoint's data (%zu bytes, checksum correct)", path,
                len);
        return -1;
    }
    char *fmt = NULL;
    int64_t ver = 0;
    if (read_attr_str(f, "format", &fmt) != NN_OK || strcmp(fmt, "nntrain-checkpoint") != 0) {
        free(fmt);
        H5Fclose(f);
        nn_fail("%s: HDF5 file without format=\"nntrain-checkpoint\": not an nntrain checkpoint",
                path);
        return -1;
    }
    free(fmt);
    if (read_attr_i64(f, "format_version", &ver, 1) != NN_OK || ver != NN_CKPT_VERSION) {
        H5Fclose(f);
        nn_fail("%s: checkpoint format version %lld, this nntrain reads version %d", path,
                (long long)ver, NN_CKPT_VERSION);
        return -1;
    }
    char *kind = NULL;
    if (H5Aexists(f, "kind") > 0 && read_attr_str(f, "kind", &kind) != NN_OK) {
        H5Fclose(f);
        nn_fail("%s: the attribute kind is not a string", path);
        return -1;
    }
    const char *k = kind ? kind : NN_CKPT_CLASSIFIER;
    if (strcmp(k, want) != 0) {
        nn_fail("%s: this checkpoint is %s, but this command needs %s", path,
                strcmp(k, NN_CKPT_GAN) && strcmp(k, NN_CKPT_CLASSIFIER) ? "of an unknown kind"
                                                                         : kind_what(k),
                kind_what(want));
        free(kind);
        H5Fclose(f);
        return -1;
    }
    free(kind);
    return f;
}

/* The spec and shapes of the net at loc (f itself, or a group of it). */
static int read_model_at(hid_t f, const char *path, char **spec, nn_shape *in, int *classes) {
    int64_t shape[3], cls;
    char *s = NULL;
    int rc = NN_OK;
    if ((read_attr_str(f, "model_spec", &s) != NN_OK &&
         read_dataset_str(f, "model_spec", &s) != NN_OK) ||
        read_attr_i64(f, "input_shape", shape, 3) != NN_OK ||
        read_attr_i64(f, "classes", &cls, 1) != NN_OK)
        rc = nn_fail("%s: checkpoint lacks model_spec/input_shape/classes", path);
    for (int i = 0; rc == NN_OK && i < 3; i++)
        if (shape[i] < 1 || shape[i] > CKPT_MAX_DIM)
            rc = nn_fail("%s: input_shape is (%lld, %lld, %lld), expected each of C, H, W in "
                         "1..%d",
                         path, (long long)shape[0], (long long)shape[1], (long long)shape[2],
                         CKPT_MAX_DIM);
    if (rc == NN_OK && (cls < 1 || cls > CKPT_MAX_CLASSES))
        rc = nn_fail("%s: classes is %lld, expected 1..%d", path, (long long)cls,
                     CKPT_MAX_CLASSES);
    if (rc != NN_OK) {
        free(s);
        return NN_ERR;
    }
    *spec = s;
    *in = (nn_shape){(int)shape[0], (int)shape[1], (int)shape[2]};
    *classes = (int)cls;
    return NN_OK;
}

int nn_ckpt_kind(const char *path, const char **kind) {
    /* Opening as a classifier fails only on the kind when it is a GAN's. */
    hid_t f = open_checkpoint(path, NN_CKPT_CLASSIFIER);
    if (f >= 0) {
        H5Fclose(f);
        *kind = NN_CKPT_CLASSIFIER;
        return NN_OK;
    }
    f = open_checkpoint(path, NN_CKPT_GAN);
    if (f < 0) return NN_ERR;
    H5Fclose(f);
    *kind = NN_CKPT_GAN;
    return NN_OK;
}

int nn_ckpt_read_model(const char *path, char **spec, nn_shape *in, int *classes) {
    hid_t f = open_checkpoint(path, NN_CKPT_CLASSIFIER);
    if (f < 0) return NN_ERR;
    int rc = read_model_at(f, path, spec, in, classes);
    H5Fclose(f);
    return rc;
}

int nn_ckpt_read_config(const char *path, const char *kind, char **config) {
    hid_t f = open_checkpoint(path, kind);
    if (f < 0) return NN_ERR;
    *config = NULL;
    int rc = H5Aexists(f, "config") > 0 && read_attr_str(f, "config", config) != NN_OK
                 ? nn_fail("%s: the attribute config is not a string", path)
                 : NN_OK;
    H5Fclose(f);
    return rc;
}

/* The group of part `name` (the root itself for NULL), or -1 + message. */
static hid_t open_part(hid_t f, const char *path, const char *name) {
    if (!name) return f;
    hid_t g = H5Lexists(f, name, H5P_DEFAULT) > 0 ? H5Gopen2(f, name, H5P_DEFAULT) : -1;
    if (g < 0) nn_fail("%s: no group /%s (the %s net)", path, name, name);
    return g;
}

int nn_ckpt_has_part(const char *path, const char *kind, const char *name, int *has) {
    hid_t f = open_checkpoint(path, kind);
    if (f < 0) return NN_ERR;
    *has = H5Lexists(f, name, H5P_DEFAULT) > 0;
    H5Fclose(f);
    return NN_OK;
}

int nn_ckpt_read_part(const char *path, const char *kind, const char *name, char **spec,
                      nn_shape *in, int *classes) {
    hid_t f = open_checkpoint(path, kind);
    if (f < 0) return NN_ERR;
    hid_t g = open_part(f, path, name);
    int rc = g < 0 ? NN_ERR : read_model_at(g, path, spec, in, classes);
    if (rc != NN_OK && name) nn_fail_ctx("%s", name);
    if (g >= 0 && g != f) H5Gclose(g);
    H5Fclose(f);
    return rc;
}

void nn_ckpt_free_names(char **names, int classes) {
    if (!names) return;
    for (int i = 0; i < classes; i++) free(names[i]);
    free(names);
}

/* /class_names of an open checkpoint: *names NULL when absent; a record of
 * another count than `classes`, or not 1-D strings, fails naming the file. */
static int read_names(hid_t f, const char *path, int classes, char ***names) {
    *names = NULL;
    htri_t ex = H5Lexists(f, "class_names", H5P_DEFAULT);
    if (ex == 0) return NN_OK;
    hid_t d = ex > 0 ? H5Dopen2(f, "class_names", H5P_DEFAULT) : -1;
    if (d < 0) return nn_fail("%s: class_names is not a dataset", path);
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    hsize_t n = 0;
    int nd = H5Sget_simple_extent_ndims(s);
    if (nd == 1) H5Sget_simple_extent_dims(s, &n, NULL);
    int rc = NN_OK;
    if (H5Tget_class(t) != H5T_STRING || nd != 1)
        rc = nn_fail("%s: class_names is not a list of strings (a 1-D string dataset)", path);
    else if (n != (hsize_t)classes)
        rc = nn_fail("%s: class_names holds %llu names but the model has %d classes", path,
                     (unsigned long long)n, classes);
    char **out = rc == NN_OK ? calloc((size_t)classes + 1, sizeof *out) : NULL;
    if (rc == NN_OK && !out) rc = nn_fail("%s: out of memory reading class_names", path);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_cset(mt, H5Tget_cset(t)); /* HDF5 converts no ASCII <-> UTF-8 */
    if (rc == NN_OK && H5Tis_variable_str(t) > 0) {
        char **v = calloc((size_t)classes + 1, sizeof *v);
        H5Tset_size(mt, H5T_VARIABLE);
        if (!v || H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
            rc = nn_fail("%s: cannot read class_names (corrupt file?)", path);
        for (int i = 0; rc == NN_OK && i < classes; i++)
            if (!(out[i] = strdup(v[i] ? v[i] : "")))
                rc = nn_fail("%s: out of memory reading class_names", path);
        if (v) {
            H5Dvlen_reclaim(mt, s, H5P_DEFAULT, v);
            free(v);
        }
    } else if (rc == NN_OK) {
        size_t len = H5Tget_size(t);
        char *v = calloc((size_t)classes, len + 1);
        H5Tset_size(mt, len + 1);
        if (!v || H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
            rc = nn_fail("%s: cannot read class_names (corrupt file?)", path);
        for (int i = 0; rc == NN_OK && i < classes; i++)
            if (!(out[i] = strdup(v + (size_t)i * (len + 1))))
                rc = nn_fail("%s: out of memory reading class_names", path);
        free(v);
    }
    H5Tclose(mt);
    H5Sclose(s);
    H5Tclose(t);
    H5Dclose(d);
    if (rc != NN_OK) {
        nn_ckpt_free_names(out, classes);
        return NN_ERR;
    }
    *names = out;
    return NN_OK;
}

int nn_ckpt_read_class_names(const char *path, int classes, char ***names) {
    *names = NULL;
    if (classes < 1) return nn_fail("%s: reading class names for %d classes", path, classes);
    hid_t f = open_checkpoint(path, NN_CKPT_CLASSIFIER);
    if (f < 0) return NN_ERR;
    int rc = read_names(f, path, classes, names);
    H5Fclose(f);
    return rc;
}

static void fmt_dims(char *buf, size_t n, int ndim, const hsize_t *d) {
    size_t o = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%llu", i ? ", " : "", (unsigned long long)d[i]);
    if (o < n) snprintf(buf + o, n - o, ")");
}

static int read_tensors(hid_t f, const char *path, const char *root, const nn_net *net,
                        float *base, int trainable) {
    size_t off = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const nn_layer *l = &net->layers[i];
        int nt = trainable ? l->nparam_tensors : l->nstate_tensors;
        const nn_tensor_desc *t = trainable ? l->params : l->states;
        for (int k = 0; k < nt; k++) {
            char name[288];
            if (snprintf(name, sizeof name, "%s/%s/%s", root, l->name, t[k].name) >=
                (int)sizeof name)
                return nn_fail("%s: tensor name %s/%s/... too long", path, root, l->name);
            hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
            if (d < 0 && H5Lexists(f, name, H5P_DEFAULT) > 0)
                return nn_fail("%s: %s is there but cannot be opened: the file is damaged",
                               path, name);
            if (d < 0)
                return nn_fail("%s: missing %s: the checkpoint is of another model "
                               "(HINT: predict/eval take the model from the checkpoint)",
                               path, name);
            hid_t s = H5Dget_space(d);
            hsize_t dims[8] = {0};
            int nd = H5Sget_simple_extent_ndims(s);
            if (nd > 0 && nd <= 8) H5Sget_simple_extent_dims(s, dims, NULL);
            H5Sclose(s);
            int same = nd == t[k].ndim;
            for (int j = 0; same && j < nd; j++) same = dims[j] == (hsize_t)t[k].dims[j];
            if (!same) {
                hsize_t want[4];
                for (int j = 0; j < t[k].ndim; j++) want[j] = (hsize_t)t[k].dims[j];
                char a[96], b[96];
                fmt_dims(a, sizeof a, nd > 8 ? 8 : nd, dims);
                fmt_dims(b, sizeof b, t[k].ndim, want);
                H5Dclose(d);
                return nn_fail("%s: %s has shape %s in the checkpoint but the model expects %s",
                               path, name, a, b);
            }
            float *dst = base + off + t[k].offset;
            herr_t rc = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
            H5Dclose(d);
            if (rc < 0) return nn_fail("%s: cannot read %s (corrupt file?)", path, name);
            size_t bad = count_nonfinite(dst, t[k].size);
            if (bad)
                return nn_fail("%s: %s holds %zu non-finite value%s (NaN/Inf): the run that "
                               "wrote it diverged",
                               path, name, bad, bad == 1 ? "" : "s");
        }
        off += trainable ? l->nparams : l->nstate;
    }
    return NN_OK;
}

/* An optional /state attribute: 1 read, 0 absent (checkpoints of older
 * builds), NN_ERR present but not n numbers of that class. */
static int opt_num(hid_t sg, const char *path, const char *name, H5T_class_t cls, hid_t mtype,
                   void *v, size_t n) {
    htri_t ex = H5Aexists(sg, name);
    if (ex == 0) return 0;
    if (ex > 0 && read_attr_num(sg, name, cls, mtype, v, n) == NN_OK) return 1;
    if (n == 1)
        return nn_fail("%s: state/%s is not %s", path, name,
                       cls == H5T_INTEGER ? "an integer" : "a floating-point number");
    return nn_fail("%s: state/%s is not %zu floating-point numbers", path, name, n);
}

/* /state into r: 1 read, 0 no /state group, NN_ERR malformed or out of range. */
static int read_state(hid_t f, const char *path, raw_state *r) {
    memset(r, 0, sizeof *r);
    r->best_acc = -1;
    htri_t ex = H5Lexists(f, "state", H5P_DEFAULT);
    if (ex == 0) return 0;
    hid_t sg = ex > 0 ? H5Gopen2(f, "state", H5P_DEFAULT) : -1;
    if (sg < 0) return nn_fail("%s: state is not a group", path);
    int rc = NN_OK;
    const char *req[3] = {"epoch", "step", "seed"};
    int64_t *reqv[3] = {&r->epoch, &r->step, &r->seed};
    for (int i = 0; rc == NN_OK && i < 3; i++)
        if (read_attr_i64(sg, req[i], reqv[i], 1) != NN_OK)
            rc = nn_fail("%s: state/%s missing or not an integer (state/ needs epoch, step, "
                         "seed)",
                         path, req[i]);
    const char *opt[3] = {"epoch_step", "batch", "train_limit"};
    int64_t *optv[3] = {&r->epoch_step, &r->batch, &r->train_limit};
    for (int i = 0; rc == NN_OK && i < 3; i++)
        if (opt_num(sg, path, opt[i], H5T_INTEGER, H5T_NATIVE_INT64, optv[i], 1) < 0) rc = NN_ERR;
    if (rc == NN_OK &&
        opt_num(sg, path, "partial", H5T_FLOAT, H5T_NATIVE_DOUBLE, r->partial, 4) < 0)
        rc = NN_ERR;
    if (rc == NN_OK && opt_num(sg, path, "partial_extra", H5T_FLOAT, H5T_NATIVE_DOUBLE,
                               r->partial_extra, 3) < 0)
        rc = NN_ERR;
    if (rc == NN_OK &&
        opt_num(sg, path, "best_acc", H5T_FLOAT, H5T_NATIVE_DOUBLE, &r->best_acc, 1) < 0)
        rc = NN_ERR;
    if (rc == NN_OK &&
        opt_num(sg, path, "val_split", H5T_FLOAT, H5T_NATIVE_DOUBLE, &r->val_split, 1) < 0)
        rc = NN_ERR;
    if (rc == NN_OK && !(r->val_split >= 0 && r->val_split <= 0.9))
        rc = nn_fail("%s: state/val_split is %g, expected 0 (none) or a fraction up to 0.9", path,
                     r->val_split);
    /* Optional strings: state/data, state/class_weight. */
    struct {
        const char *name;
        char *dst;
        size_t cap;
    } strs[2] = {{"data", r->data, sizeof r->data},
                 {"class_weight", r->class_weight, sizeof r->class_weight}};
    for (int i = 0; rc == NN_OK && i < 2; i++) {
        if (H5Aexists(sg, strs[i].name) <= 0) continue;
        char *s = NULL;
        if (read_attr_str(sg, strs[i].name, &s) != NN_OK)
            rc = nn_fail("%s: state/%s is not a string", path, strs[i].name);
        else if (strlen(s) >= strs[i].cap)
            rc = nn_fail("%s: state/%s has %zu characters, expected at most %zu", path,
                         strs[i].name, strlen(s), strs[i].cap - 1);
        else
            memcpy(strs[i].dst, s, strlen(s) + 1);
        free(s);
    }
    H5Gclose(sg);
    NN_TRY(rc);
    if (check_state(r) != NN_OK) return nn_fail_ctx("%s", path);
    return 1;
}

/* /history/table: (rows, ncols) with rows <= state/epoch (when the state
 * is there, epoch >= 0) and epochs 1, 2, ... increasing in column 0; or, as
 * older builds wrote it, (rows, min_cols): the columns they lack come back
 * NaN. *v (rows, ncols) is malloc'd (NULL and *rows 0 when there is no
 * table). ncols < 0: any width (then min_cols is ignored). */
static int read_history(hid_t f, const char *path, int64_t epoch, int ncols, int min_cols,
                        double **v, size_t *rows) {
    *v = NULL;
    *rows = 0;
    htri_t ex = H5Lexists(f, "history", H5P_DEFAULT);
    if (ex > 0) ex = H5Lexists(f, "history/table", H5P_DEFAULT);
    if (ex == 0) return NN_OK;
    hid_t d = ex > 0 ? H5Dopen2(f, "history/table", H5P_DEFAULT) : -1;
    if (d < 0) return nn_fail("%s: history/table is not a dataset", path);
    hid_t s = H5Dget_space(d), t = H5Dget_type(d);
    hsize_t dims[8] = {0};
    int nd = H5Sget_simple_extent_ndims(s);
    if (nd > 0 && nd <= 8) H5Sget_simple_extent_dims(s, dims, NULL);
    H5Sclose(s);
    H5T_class_t cls = H5Tget_class(t);
    H5Tclose(t);
    if (ncols < 0) ncols = min_cols = nd == 2 && dims[1] > 0 && dims[1] < 64 ? (int)dims[1] : 1; /* any */
    if (min_cols <= 0 || min_cols > ncols) min_cols = ncols;
    /* The width stored: ncols, or min_cols in a table of an older build. */
    const int stored = nd == 2 && dims[1] == (hsize_t)min_cols ? min_cols : ncols;
    char got[96], want[96], older[96] = "";
    fmt_dims(got, sizeof got, nd > 8 ? 8 : (nd < 0 ? 0 : nd), dims);
    hsize_t wd[2] = {nd >= 1 ? dims[0] : 0, (hsize_t)ncols};
    if (epoch >= 0 && wd[0] > (hsize_t)epoch) wd[0] = (hsize_t)epoch;
    fmt_dims(want, sizeof want, 2, wd);
    if (min_cols < ncols) {
        hsize_t od[2] = {wd[0], (hsize_t)min_cols};
        char o[64];
        fmt_dims(o, sizeof o, 2, od);
        snprintf(older, sizeof older, " (or %s as older builds wrote it)", o);
    }
    int rc = NN_OK;
    if (nd != 2 || dims[1] != (hsize_t)stored || cls != H5T_FLOAT)
        rc = nn_fail("%s: history/table has shape %s%s but expected %s%s: one row of %d float "
                     "columns per completed epoch",
                     path, got, cls != H5T_FLOAT ? " and is not float" : "", want, older, ncols);
    else if (epoch >= 0 && dims[0] > (hsize_t)epoch)
        rc = nn_fail("%s: history/table has shape %s but expected at most %s: one row per "
                     "completed epoch, and state/epoch is %lld",
                     path, got, want, (long long)epoch);
    double *buf = NULL;
    if (rc == NN_OK && dims[0] > 0) {
        buf = malloc(dims[0] * (hsize_t)ncols * sizeof *buf);
        if (!buf)
            rc = nn_fail("%s: out of memory reading history/table", path);
        else if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
            rc = nn_fail("%s: cannot read history/table (corrupt file?)", path);
    }
    H5Dclose(d);
    /* An older table: spread its rows to ncols, from the last row back (in
     * place), NaN in the columns it lacks. */
    for (hsize_t r = dims[0]; rc == NN_OK && stored < ncols && r-- > 0;) {
        memmove(buf + r * (hsize_t)ncols, buf + r * (hsize_t)stored, (size_t)stored * sizeof *buf);
        for (int c = stored; c < ncols; c++) buf[r * (hsize_t)ncols + (hsize_t)c] = NAN;
    }
    double prev = 0;
    for (hsize_t r = 0; rc == NN_OK && r < dims[0]; r++) {
        double e = buf[r * (hsize_t)ncols];
        if (!(e == floor(e) && e > prev && (epoch < 0 || e <= (double)epoch)))
            rc = nn_fail("%s: history/table row %llu has epoch %g, expected an integer above "
                         "%g%s",
                         path, (unsigned long long)r, e, prev,
                         epoch >= 0 ? " and at most state/epoch" : "");
        prev = e;
    }
    if (rc != NN_OK) {
        free(buf);
        return NN_ERR;
    }
    *v = buf;
    *rows = dims[0];
    return NN_OK;
}

/* The net (and optimizer) at f: the root, or a part's group. */
static int load_net(hid_t f, const char *path, nn_net *net, nn_optim *optim) {
    NN_TRY(read_tensors(f, path, "model_weights", net, net->params, 1));
    NN_TRY(read_tensors(f, path, "model_weights", net, net->state, 0));
    if (optim) {
        char *name = NULL;
        if (read_attr_str(f, "optimizer", &name) != NN_OK)
            return nn_fail("%s: no optimizer recorded", path);
        int same = !strcmp(name, nn_optim_name(optim->cfg.kind));
        if (!same) {
            nn_fail("%s: checkpoint was trained with optimizer '%s', this run uses '%s'; "
                    "HINT: pass --optim %s to resume",
                    path, name, nn_optim_name(optim->cfg.kind), name);
            free(name);
            return NN_ERR;
        }
        free(name);
        int64_t t = 0;
        hid_t og = H5Gopen2(f, "optimizer_weights", H5P_DEFAULT);
        if (og < 0 || read_attr_i64(og, "t", &t, 1) != NN_OK) {
            if (og >= 0) H5Gclose(og);
            return nn_fail("%s: optimizer_weights missing or incomplete", path);
        }
        H5Gclose(og);
        if (t < 0)
            return nn_fail("%s: optimizer_weights/t is %lld, expected >= 0 (steps taken)", path,
                           (long long)t);
        optim->t = (uint64_t)t;
        for (int s = 0; s < optim->nslots; s++) {
            char root[96];
            snprintf(root, sizeof root, "optimizer_weights/%s", optim->slot_name[s]);
            NN_TRY(read_tensors(f, path, root, net, optim->slot[s], 1));
        }
    }
    return NN_OK;
}

/* The run's record at the root: class names (`classes` of them), state,
 * history of ncols columns; checked whole, whatever the caller asked for. */
static int load_root(hid_t f, const char *path, int classes, int ncols, int min_cols,
                     nn_train_state *st, nn_history *hist) {
    /* The whole record is checked, whatever the caller asked for. */
    char **names = NULL;
    NN_TRY(read_names(f, path, classes, &names));
    nn_ckpt_free_names(names, classes);
    raw_state r;
    int have = read_state(f, path, &r);
    NN_TRY(have < 0 ? NN_ERR : NN_OK);
    if (st && !have) return nn_fail("%s: state/ (epoch, step, seed) missing", path);
    double *rows = NULL;
    size_t nrows = 0;
    NN_TRY(read_history(f, path, have ? r.epoch : -1, ncols, min_cols, &rows, &nrows));
    /* Nothing of state and history is filled before all of it passed. */
    if (st) {
        st->epoch = (int)r.epoch;
        st->step = (uint64_t)r.step;
        st->seed = (uint64_t)r.seed;
        st->epoch_step = (uint64_t)r.epoch_step;
        memcpy(st->partial, r.partial, sizeof st->partial);
        memcpy(st->partial_extra, r.partial_extra, sizeof st->partial_extra);
        st->batch = (int)r.batch;
        st->train_limit = (long)r.train_limit;
        memcpy(st->data, r.data, sizeof st->data);
        st->best_acc = r.best_acc;
        st->val_split = r.val_split;
        memcpy(st->class_weight, r.class_weight, sizeof st->class_weight);
    }
    int rc = NN_OK;
    for (size_t i = 0; hist && rc == NN_OK && i < nrows; i++)
        rc = nn_history_add(hist, rows + i * (size_t)ncols);
    free(rows);
    return rc;
}

/* A failed load must leave every net and optimizer as it was: a copy of
 * each part's buffers to restore. */
int nn_ckpt_load_parts(const char *path, const char *kind, const nn_ckpt_part *parts, int nparts,
                       nn_train_state *st, nn_history *hist) {
    hid_t f = open_checkpoint(path, kind);
    if (f < 0) return NN_ERR;
    float **backup = calloc((size_t)nparts, sizeof *backup);
    int rc = backup ? NN_OK : nn_fail("%s: out of memory loading the checkpoint", path);
    for (int i = 0; rc == NN_OK && i < nparts; i++) {
        const nn_net *net = parts[i].net;
        const nn_optim *o = parts[i].optim;
        size_t np = net->nparams, ns = net->nstate, nslot = o ? (size_t)o->nslots : 0;
        float *b = malloc((np * (1 + nslot) + ns + 2) * sizeof(float));
        if (!b) {
            rc = nn_fail("%s: out of memory loading the checkpoint", path);
            break;
        }
        memcpy(b, net->params, np * sizeof(float));
        memcpy(b + np, net->state, ns * sizeof(float));
        for (size_t k = 0; k < nslot; k++) memcpy(b + np + ns + k * np, o->slot[k], np * sizeof(float));
        uint64_t t = o ? o->t : 0;
        memcpy(b + np * (1 + nslot) + ns, &t, sizeof t);
        backup[i] = b;
    }
    for (int i = 0; rc == NN_OK && i < nparts; i++) {
        hid_t g = open_part(f, path, parts[i].name);
        rc = g < 0 ? NN_ERR : load_net(g, path, parts[i].net, parts[i].optim);
        if (g >= 0 && g != f) H5Gclose(g);
    }
    const bool classifier = !strcmp(kind, NN_CKPT_CLASSIFIER);
    const int ncols = hist ? nn_history_ncols(hist) : classifier ? NN_H_COLS : -1;
    const int min_cols = hist ? nn_history_min_cols(hist) : classifier ? NN_H_COLS_V1 : -1;
    if (rc == NN_OK)
        rc = load_root(f, path, (int)nn_net_out_size(parts[0].net), ncols, min_cols, st, hist);
    H5Fclose(f);
    for (int i = 0; backup && i < nparts; i++) {
        nn_net *net = parts[i].net;
        nn_optim *o = parts[i].optim;
        size_t np = net->nparams, ns = net->nstate, nslot = o ? (size_t)o->nslots : 0;
        if (rc != NN_OK && backup[i]) {
            memcpy(net->params, backup[i], np * sizeof(float));
            memcpy(net->state, backup[i] + np, ns * sizeof(float));
            for (size_t k = 0; k < nslot; k++)
                memcpy(o->slot[k], backup[i] + np + ns + k * np, np * sizeof(float));
            if (o) memcpy(&o->t, backup[i] + np * (1 + nslot) + ns, sizeof o->t);
        }
        free(backup[i]);
    }
    free(backup);
    return rc;
}

int nn_ckpt_load(const char *path, nn_net *net, nn_optim *optim, nn_train_state *st,
                 nn_history *hist) {
    const nn_ckpt_part part = {NULL, net, optim};
    return nn_ckpt_load_parts(path, NN_CKPT_CLASSIFIER, &part, 1, st, hist);
}

int nn_ckpt_read_data(const char *path, char *data, size_t cap, double *val_split,
                      uint64_t *seed) {
    const char *kind;
    NN_TRY(nn_ckpt_kind(path, &kind));
    hid_t f = open_checkpoint(path, kind);
    if (f < 0) return NN_ERR;
    raw_state r;
    int have = read_state(f, path, &r);
    H5Fclose(f);
    if (have < 0) return NN_ERR;
    snprintf(data, cap, "%s", have ? r.data : "");
    *val_split = have ? r.val_split : 0;
    *seed = have ? (uint64_t)r.seed : 0;
    return NN_OK;
}
