/* checkpoint.c: HDF5 checkpoint save/load (layout in checkpoint.h). */
#define _POSIX_C_SOURCE 200809L
#include "nn/checkpoint.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/error.h"
#include "nn/fileutil.h"

static void quiet_hdf5(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* ---- small writers ---- */

static int attr_str(hid_t obj, const char *name, const char *val) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(val) + 1);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, t, val);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    return rc < 0 ? nn_fail("writing attribute %s", name) : NN_OK;
}

static int attr_i64(hid_t obj, const char *name, const int64_t *v, hsize_t n) {
    hid_t s = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT64, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return rc < 0 ? nn_fail("writing attribute %s", name) : NN_OK;
}

static int write_f32(hid_t grp, const char *name, const float *v, int ndim, const int *dims) {
    hsize_t hd[4];
    for (int i = 0; i < ndim; i++) hd[i] = (hsize_t)dims[i];
    hid_t s = H5Screate_simple(ndim, hd, NULL);
    hid_t d = H5Dcreate2(grp, name, H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    return rc < 0 ? nn_fail("writing dataset %s", name) : NN_OK;
}

static hid_t group(hid_t parent, const char *name) {
    return H5Gcreate2(parent, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}

/* Write every tensor of every layer from `base` (a flat buffer laid out like
 * net->params when trainable, net->state otherwise) under grp/<layer>/. */
static int write_tensors(hid_t grp, const nn_net *net, const float *base, int trainable) {
    size_t off = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const nn_layer *l = &net->layers[i];
        int nt = trainable ? l->nparam_tensors : l->nstate_tensors;
        const nn_tensor_desc *t = trainable ? l->params : l->states;
        if (nt > 0) {
            hid_t lg = H5Gopen2(grp, l->name, H5P_DEFAULT);
            if (lg < 0) lg = group(grp, l->name);
            if (lg < 0) return nn_fail("creating group %s", l->name);
            for (int k = 0; k < nt; k++)
                if (write_f32(lg, t[k].name, base + off + t[k].offset, t[k].ndim, t[k].dims)) {
                    H5Gclose(lg);
                    return NN_ERR;
                }
            H5Gclose(lg);
        }
        off += trainable ? l->nparams : l->nstate;
    }
    return NN_OK;
}

static int fault_midway(void) {
    /* Test hook: simulate a crash (no clean-up) half way through a save. */
    const char *f = getenv("NNTRAIN_FAULT");
    return f && !strcmp(f, "ckpt_midway");
}

static int save_into(hid_t f, const nn_net *net, const nn_optim *optim,
                     const nn_train_state *st, const nn_history *hist, const char *config,
                     int ranks) {
    NN_TRY(attr_str(f, "format", "nntrain-checkpoint"));
    int64_t v = NN_CKPT_VERSION;
    NN_TRY(attr_i64(f, "format_version", &v, 1));
    NN_TRY(attr_str(f, "model_spec", net->spec));
    int64_t shape[3] = {net->in.c, net->in.h, net->in.w};
    NN_TRY(attr_i64(f, "input_shape", shape, 3));
    int64_t classes = (int64_t)nn_net_out_size(net), nr = ranks;
    NN_TRY(attr_i64(f, "classes", &classes, 1));
    NN_TRY(attr_i64(f, "ranks", &nr, 1));
    NN_TRY(attr_str(f, "config", config ? config : ""));
    NN_TRY(attr_str(f, "optimizer", optim ? nn_optim_name(optim->cfg.kind) : "none"));

    hid_t g = group(f, "model_weights");
    int rc = g < 0 ? nn_fail("creating model_weights") : NN_OK;
    if (rc == NN_OK) rc = write_tensors(g, net, net->params, 1);
    if (rc == NN_OK && fault_midway()) {
        H5Fflush(f, H5F_SCOPE_GLOBAL);
        _exit(3);
    }
    if (rc == NN_OK) rc = write_tensors(g, net, net->state, 0);
    if (g >= 0) H5Gclose(g);
    NN_TRY(rc);

    if (optim) {
        hid_t og = group(f, "optimizer_weights");
        if (og < 0) return nn_fail("creating optimizer_weights");
        int64_t t = (int64_t)optim->t;
        rc = attr_i64(og, "t", &t, 1);
        for (int s = 0; rc == NN_OK && s < optim->nslots; s++) {
            hid_t sg = group(og, optim->slot_name[s]);
            rc = sg < 0 ? nn_fail("creating optimizer slot group") : NN_OK;
            if (rc == NN_OK) rc = write_tensors(sg, net, optim->slot[s], 1);
            if (sg >= 0) H5Gclose(sg);
        }
        H5Gclose(og);
        NN_TRY(rc);
    }
    if (st) {
        hid_t sg = group(f, "state");
        if (sg < 0) return nn_fail("creating state");
        int64_t e = st->epoch, step = (int64_t)st->step, seed = (int64_t)st->seed;
        rc = attr_i64(sg, "epoch", &e, 1);
        if (rc == NN_OK) rc = attr_i64(sg, "step", &step, 1);
        if (rc == NN_OK) rc = attr_i64(sg, "seed", &seed, 1);
        H5Gclose(sg);
        NN_TRY(rc);
    }
    if (hist && hist->rows > 0) {
        hid_t hg = group(f, "history");
        if (hg < 0) return nn_fail("creating history");
        hsize_t dims[2] = {hist->rows, NN_H_COLS};
        hid_t s = H5Screate_simple(2, dims, NULL);
        hid_t d = H5Dcreate2(hg, "table", H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
        rc = d < 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, hist->v) < 0
                 ? nn_fail("writing history")
                 : NN_OK;
        char cols[512] = "";
        for (int c = 0; c < NN_H_COLS; c++) {
            if (c) strcat(cols, ",");
            strcat(cols, nn_history_columns[c]);
        }
        if (rc == NN_OK) rc = attr_str(d, "columns", cols);
        if (d >= 0) H5Dclose(d);
        H5Sclose(s);
        H5Gclose(hg);
        NN_TRY(rc);
    }
    return NN_OK;
}

int nn_ckpt_save(const char *path, const nn_net *net, const nn_optim *optim,
                 const nn_train_state *st, const nn_history *hist, const char *config,
                 int ranks, char *const *class_names) {
    (void)class_names; /* TODO(issue 9): stored by the checkpoint work in progress */
    quiet_hdf5();
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return nn_fail("%s: cannot create checkpoint (is the folder writable?)", tmp);
    int rc = save_into(f, net, optim, st, hist, config, ranks);
    if (H5Fclose(f) < 0 && rc == NN_OK) rc = nn_fail("%s: closing failed (disk full?)", tmp);
    if (rc != NN_OK) {
        unlink(tmp);
        return nn_fail_ctx("%s", path);
    }
    return nn_fsync_rename(tmp, path);
}

/* ---- readers ---- */

static int read_attr_str(hid_t obj, const char *name, char **out) {
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return NN_ERR;
    hid_t t = H5Aget_type(a);
    size_t n = H5Tget_size(t);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, n + 1);
    char *s = calloc(n + 2, 1);
    herr_t rc = s ? H5Aread(a, mt, s) : -1;
    H5Tclose(mt);
    H5Tclose(t);
    H5Aclose(a);
    if (rc < 0) {
        free(s);
        return NN_ERR;
    }
    *out = s;
    return NN_OK;
}

static int read_attr_i64(hid_t obj, const char *name, int64_t *v, size_t n) {
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return NN_ERR;
    hid_t s = H5Aget_space(a);
    hssize_t np = H5Sget_simple_extent_npoints(s);
    herr_t rc = np == (hssize_t)n ? H5Aread(a, H5T_NATIVE_INT64, v) : -1;
    H5Sclose(s);
    H5Aclose(a);
    return rc < 0 ? NN_ERR : NN_OK;
}

static hid_t open_checkpoint(const char *path) {
    quiet_hdf5();
    if (access(path, R_OK) != 0) {
        nn_fail("%s: cannot read checkpoint (no such file or not readable)", path);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        nn_fail("%s: not an HDF5 file (truncated or corrupt?); expected an nntrain checkpoint",
                path);
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
    return f;
}

int nn_ckpt_read_model(const char *path, char **spec, nn_shape *in, int *classes) {
    hid_t f = open_checkpoint(path);
    if (f < 0) return NN_ERR;
    int64_t shape[3], cls;
    int rc = NN_OK;
    if (read_attr_str(f, "model_spec", spec) != NN_OK ||
        read_attr_i64(f, "input_shape", shape, 3) != NN_OK ||
        read_attr_i64(f, "classes", &cls, 1) != NN_OK)
        rc = nn_fail("%s: checkpoint lacks model_spec/input_shape/classes", path);
    H5Fclose(f);
    if (rc == NN_OK) {
        *in = (nn_shape){(int)shape[0], (int)shape[1], (int)shape[2]};
        *classes = (int)cls;
    }
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
            char name[512];
            snprintf(name, sizeof name, "%s/%s/%s", root, l->name, t[k].name);
            hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
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
            herr_t rc = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                base + off + t[k].offset);
            H5Dclose(d);
            if (rc < 0) return nn_fail("%s: cannot read %s (corrupt file?)", path, name);
        }
        off += trainable ? l->nparams : l->nstate;
    }
    return NN_OK;
}

static int load_from(hid_t f, const char *path, nn_net *net, nn_optim *optim, nn_train_state *st,
                     nn_history *hist) {
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
        optim->t = (uint64_t)t;
        for (int s = 0; s < optim->nslots; s++) {
            char root[96];
            snprintf(root, sizeof root, "optimizer_weights/%s", optim->slot_name[s]);
            NN_TRY(read_tensors(f, path, root, net, optim->slot[s], 1));
        }
    }
    if (st) {
        hid_t sg = H5Gopen2(f, "state", H5P_DEFAULT);
        int64_t e = 0, step = 0, seed = 0;
        int ok = sg >= 0 && read_attr_i64(sg, "epoch", &e, 1) == NN_OK &&
                 read_attr_i64(sg, "step", &step, 1) == NN_OK &&
                 read_attr_i64(sg, "seed", &seed, 1) == NN_OK;
        if (sg >= 0) H5Gclose(sg);
        if (!ok) return nn_fail("%s: state/ (epoch, step, seed) missing", path);
        st->epoch = (int)e;
        st->step = (uint64_t)step;
        st->seed = (uint64_t)seed;
    }
    if (hist) {
        hid_t d = H5Dopen2(f, "history/table", H5P_DEFAULT);
        if (d >= 0) {
            hid_t s = H5Dget_space(d);
            hsize_t dims[2] = {0, 0};
            int ok = H5Sget_simple_extent_ndims(s) == 2;
            if (ok) H5Sget_simple_extent_dims(s, dims, NULL);
            H5Sclose(s);
            double *v = ok && dims[1] == NN_H_COLS ? malloc(dims[0] * dims[1] * sizeof *v) : NULL;
            if (v && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0)
                for (hsize_t r = 0; r < dims[0]; r++) nn_history_add(hist, v + r * NN_H_COLS);
            free(v);
            H5Dclose(d);
        }
    }
    return NN_OK;
}

int nn_ckpt_load(const char *path, nn_net *net, nn_optim *optim, nn_train_state *st,
                 nn_history *hist) {
    hid_t f = open_checkpoint(path);
    if (f < 0) return NN_ERR;
    /* A failed load must leave the net as it was: keep a copy to restore. */
    size_t np = net->nparams, ns = net->nstate, nslot = optim ? (size_t)optim->nslots : 0;
    float *backup = malloc((np * (1 + nslot) + ns + 1) * sizeof(float));
    if (!backup) {
        H5Fclose(f);
        return nn_fail("%s: out of memory loading the checkpoint", path);
    }
    memcpy(backup, net->params, np * sizeof(float));
    memcpy(backup + np, net->state, ns * sizeof(float));
    for (size_t s = 0; s < nslot; s++)
        memcpy(backup + np + ns + s * np, optim->slot[s], np * sizeof(float));
    uint64_t t = optim ? optim->t : 0;
    int rc = load_from(f, path, net, optim, st, hist);
    H5Fclose(f);
    if (rc != NN_OK) {
        memcpy(net->params, backup, np * sizeof(float));
        memcpy(net->state, backup + np, ns * sizeof(float));
        for (size_t s = 0; s < nslot; s++)
            memcpy(optim->slot[s], backup + np + ns + s * np, np * sizeof(float));
        if (optim) optim->t = t;
    }
    free(backup);
    return rc;
}
