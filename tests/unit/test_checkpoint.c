/* test_checkpoint.c: HDF5 checkpoints: exact round trip (weights, optimizer
 * slots and step count, training state, history, class names), h5dump
 * readability, model and optimizer mismatch, files that are not checkpoints,
 * a save interrupted by a crash, a save into a missing folder, checkpoints of
 * older builds, out-of-range state fields and history shapes, non-finite
 * tensors on load and save, a model spec over 64 KB. And fileutil: stale temp
 * files of dead writers, paths over 1,023 characters, a full disk. */
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nn/checkpoint.h"
#include "nn/error.h"
#include "nn/fileutil.h"
#include "nn/history.h"
#include "nn/net.h"
#include "nn/optim.h"
#include "testutil.h"

#define SPEC "dense 5; sigmoid; dense 3"
#define IN_SHAPE ((nn_shape){1, 2, 3})
#define CONFIG "model=test epochs=3 lr=0.001 optim=adam"

static int has_word(const char *msg, const char *word) { return !word || strstr(msg, word); }

/* The call must fail (NN_ERR) and its message contain `file` and each word. */
#define EXPECT_FAIL(call, file, word1, word2)                                                      \
    do {                                                                                           \
        nn_err_clear();                                                                            \
        int rc_ = (call);                                                                          \
        CU_ASSERT_EQUAL(rc_, NN_ERR);                                                              \
        const char *m_ = nn_errmsg();                                                              \
        int ok_ = strstr(m_, (file)) != NULL, ok1_ = has_word(m_, (word1)),                        \
            ok2_ = has_word(m_, (word2));                                                          \
        CU_ASSERT(ok_);                                                                            \
        CU_ASSERT(ok1_);                                                                           \
        CU_ASSERT(ok2_);                                                                           \
        if (!ok_ || !ok1_ || !ok2_) printf("\n    line %d: message was: %s\n", __LINE__, m_);     \
    } while (0)

/* ---- fixtures ---- */

static void make_net(nn_net *net, const char *spec, uint64_t seed) {
    int rc = nn_net_create(net, spec, "test", IN_SHAPE, 3, 4, nn_backend_cpu());
    if (rc != NN_OK) printf("\n    nn_net_create(%s): %s\n", spec, nn_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
    nn_net_init(net, seed);
}

/* An optimizer for net with recognisable slot values and step count. */
static void make_optim(nn_optim *o, const char *name, const nn_net *net, float base,
                       uint64_t t) {
    nn_optim_cfg cfg;
    CU_ASSERT_EQUAL_FATAL(nn_optim_defaults(name, &cfg), NN_OK);
    CU_ASSERT_EQUAL_FATAL(nn_optim_create(o, &cfg, net->nparams), NN_OK);
    for (int s = 0; s < o->nslots; s++)
        for (size_t i = 0; i < net->nparams; i++)
            o->slot[s][i] = base + 0.001f * (float)i * (float)(s + 1) - 0.37f * (float)s;
    o->t = t;
}

static void make_history(nn_history *h) {
    memset(h, 0, sizeof *h);
    for (int r = 0; r < 2; r++) {
        double row[NN_H_COLS];
        for (int c = 0; c < NN_H_COLS; c++) row[c] = r * 100.0 + c * 0.1 + 1.0 / 3.0;
        row[NN_H_EPOCH] = r + 1;
        CU_ASSERT_EQUAL_FATAL(nn_history_add(h, row), NN_OK);
    }
}

static int same_floats(const float *a, const float *b, size_t n) {
    return n == 0 || memcmp(a, b, n * sizeof *a) == 0;
}

static int file_exists(const char *p) { return access(p, F_OK) == 0; }

/* Read a whole file (malloc'd) or NULL. */
static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    *n = b ? fread(b, 1, (size_t)len, f) : 0;
    fclose(f);
    return b;
}

/* A saved checkpoint of SPEC (adam, state, history); returns its path. */
static const char *reference_checkpoint(void) {
    static char path[512];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s", tu_path("ckpt_ref.h5"));
        nn_net net;
        nn_optim o;
        nn_history h;
        make_net(&net, SPEC, 5);
        make_optim(&o, "adam", &net, 0.5f, 9);
        make_history(&h);
        nn_train_state st = {.epoch = 3, .step = 42, .seed = 7, .best_acc = -1};
        int rc = nn_ckpt_save(path, &net, &o, &st, &h, CONFIG, 1, NULL);
        if (rc != NN_OK) printf("\n    save: %s\n", nn_errmsg());
        CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
        nn_history_free(&h);
        nn_optim_free(&o);
        nn_net_free(&net);
    }
    return path;
}

/* ---- round trip ---- */

static void test_round_trip(void) {
    char path[512], tmp[600];
    snprintf(path, sizeof path, "%s", tu_path("ckpt_roundtrip.h5"));
    nn_net a;
    nn_optim oa;
    nn_history ha;
    make_net(&a, SPEC, 1234);
    make_optim(&oa, "adam", &a, 0.25f, 17);
    make_history(&ha);
    nn_train_state sa = {.epoch = 3, .step = 42, .seed = 7, .best_acc = -1};
    CU_ASSERT_EQUAL_FATAL(a.nparams, 6 * 5 + 5 + 5 * 3 + 3);
    CU_ASSERT_EQUAL_FATAL(oa.nslots, 2);

    int rc = nn_ckpt_save(path, &a, &oa, &sa, &ha, CONFIG, 2, NULL);
    if (rc != NN_OK) printf("\n    save: %s\n", nn_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
    CU_ASSERT(file_exists(path));
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CU_ASSERT(!file_exists(tmp)); /* renamed into place, nothing left over */

    /* The model description. */
    char *spec = NULL;
    nn_shape in = {0, 0, 0};
    int classes = 0;
    CU_ASSERT_EQUAL_FATAL(nn_ckpt_read_model(path, &spec, &in, &classes), NN_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(spec);
    CU_ASSERT_STRING_EQUAL(spec, a.spec);
    CU_ASSERT_EQUAL(in.c, 1);
    CU_ASSERT_EQUAL(in.h, 2);
    CU_ASSERT_EQUAL(in.w, 3);
    CU_ASSERT_EQUAL(classes, 3);

    /* A fresh net from that description, initialised differently. */
    nn_net b;
    rc = nn_net_create(&b, spec, "checkpoint", in, classes, 4, nn_backend_cpu());
    free(spec);
    CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
    nn_net_init(&b, 999);
    CU_ASSERT_EQUAL_FATAL(b.nparams, a.nparams);
    CU_ASSERT_EQUAL_FATAL(b.nstate, a.nstate);
    CU_ASSERT(!same_floats(a.params, b.params, a.nparams)); /* the load must do the work */
    nn_optim ob;
    make_optim(&ob, "adam", &b, -3.0f, 0);
    CU_ASSERT(!same_floats(oa.slot[0], ob.slot[0], a.nparams));
    nn_train_state sb = {.epoch = 0};
    nn_history hb = {0};

    rc = nn_ckpt_load(path, &b, &ob, &sb, &hb);
    if (rc != NN_OK) printf("\n    load: %s\n", nn_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
    CU_ASSERT(same_floats(a.params, b.params, a.nparams));
    CU_ASSERT(same_floats(a.state, b.state, a.nstate));
    CU_ASSERT_EQUAL(ob.nslots, oa.nslots);
    for (int s = 0; s < oa.nslots; s++) CU_ASSERT(same_floats(oa.slot[s], ob.slot[s], a.nparams));
    CU_ASSERT_EQUAL(ob.t, 17);
    CU_ASSERT_EQUAL(sb.epoch, 3);
    CU_ASSERT_EQUAL(sb.step, 42);
    CU_ASSERT_EQUAL(sb.seed, 7);
    CU_ASSERT_EQUAL_FATAL(hb.rows, 2);
    CU_ASSERT(memcmp(ha.v, hb.v, 2 * NN_H_COLS * sizeof(double)) == 0);

    /* Loading weights only (optimizer, state, history NULL) works too. */
    nn_net c;
    make_net(&c, SPEC, 77);
    CU_ASSERT_EQUAL(nn_ckpt_load(path, &c, NULL, NULL, NULL), NN_OK);
    CU_ASSERT(same_floats(a.params, c.params, a.nparams));
    nn_net_free(&c);

    /* Attributes that the API does not return: read them with HDF5. */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    const char *names[3] = {"config", "optimizer", "format"};
    const char *want[3] = {CONFIG, "adam", "nntrain-checkpoint"};
    for (int i = 0; i < 3; i++) {
        hid_t at = H5Aopen(f, names[i], H5P_DEFAULT);
        CU_ASSERT_FATAL(at >= 0);
        hid_t t = H5Aget_type(at);
        size_t n = H5Tget_size(t);
        char *s = calloc(n + 1, 1);
        CU_ASSERT_EQUAL(H5Aread(at, t, s), 0);
        CU_ASSERT_STRING_EQUAL(s, want[i]);
        free(s);
        H5Tclose(t);
        H5Aclose(at);
    }
    int64_t ranks = 0;
    hid_t at = H5Aopen(f, "ranks", H5P_DEFAULT);
    CU_ASSERT_FATAL(at >= 0);
    CU_ASSERT_EQUAL(H5Aread(at, H5T_NATIVE_INT64, &ranks), 0);
    CU_ASSERT_EQUAL(ranks, 2);
    H5Aclose(at);
    /* The kernel is stored (IN, UNITS) = (6, 5). */
    hid_t d = H5Dopen2(f, "model_weights/dense_1/kernel", H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    CU_ASSERT_EQUAL(H5Sget_simple_extent_ndims(sp), 2);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    CU_ASSERT_EQUAL(dims[0], 6);
    CU_ASSERT_EQUAL(dims[1], 5);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);

    nn_history_free(&ha);
    nn_history_free(&hb);
    nn_optim_free(&oa);
    nn_optim_free(&ob);
    nn_net_free(&a);
    nn_net_free(&b);
}

/* ---- h5dump ---- */

/* Run `cmd 'path' 2>&1`; return its output (malloc'd) and exit status. */
static char *run_capture(const char *cmd, const char *path, int *status) {
    char line[800];
    snprintf(line, sizeof line, "%s '%s' 2>&1", cmd, path);
    FILE *p = popen(line, "r");
    if (!p) return NULL;
    size_t cap = 1 << 16, n = 0, r;
    char *out = calloc(cap + 1, 1);
    while (out && n < cap && (r = fread(out + n, 1, cap - n, p)) > 0) n += r;
    *status = pclose(p);
    return out;
}

static void test_h5dump(void) {
    const char *path = reference_checkpoint();
    if (access("/usr/bin/h5dump", X_OK) != 0) {
        printf("\n    NOTE: /usr/bin/h5dump missing, h5dump readability not checked\n");
        CU_ASSERT(file_exists(path));
        return;
    }
    int status;
    char *out = run_capture("/usr/bin/h5dump -H", path, &status);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "model_weights"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "dense_1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "dense_2"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "DATASET \"kernel\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "optimizer_weights"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "ATTRIBUTE \"format\""));
    CU_ASSERT_PTR_NULL(strstr(out, "h5dump error"));
    free(out);
    /* The format attribute's value, as h5dump prints it. */
    out = run_capture("/usr/bin/h5dump -a /format", path, &status);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"nntrain-checkpoint\""));
    free(out);
}

/* ---- mismatches ---- */

static void test_model_mismatch(void) {
    const char *path = reference_checkpoint();
    nn_net wide;
    make_net(&wide, "dense 6; sigmoid; dense 3", 1);
    EXPECT_FAIL(nn_ckpt_load(path, &wide, NULL, NULL, NULL), path, "dense_1/kernel", "(6, 5)");
    EXPECT_FAIL(nn_ckpt_load(path, &wide, NULL, NULL, NULL), path, "(6, 6)", "shape");
    nn_net_free(&wide);

    nn_net deeper;
    make_net(&deeper, "dense 5; sigmoid; dense 3; sigmoid; dense 3", 1);
    EXPECT_FAIL(nn_ckpt_load(path, &deeper, NULL, NULL, NULL), path, "missing",
                "dense_3/kernel");
    nn_net_free(&deeper);

    /* Control: the model the checkpoint was saved from loads. */
    nn_net good;
    make_net(&good, SPEC, 1);
    CU_ASSERT_EQUAL(nn_ckpt_load(path, &good, NULL, NULL, NULL), NN_OK);
    nn_net_free(&good);
}

static void test_optimizer_mismatch(void) {
    const char *path = reference_checkpoint(); /* saved with adam */
    nn_net net;
    nn_optim mom;
    make_net(&net, SPEC, 1);
    make_optim(&mom, "momentum", &net, 0.0f, 0);
    EXPECT_FAIL(nn_ckpt_load(path, &net, &mom, NULL, NULL), path, "'adam'", "'momentum'");
    CU_ASSERT_EQUAL(mom.t, 0); /* untouched */
    nn_optim_free(&mom);

    /* A checkpoint saved without an optimizer cannot resume one. */
    char noopt[512];
    snprintf(noopt, sizeof noopt, "%s", tu_path("ckpt_noopt.h5"));
    CU_ASSERT_EQUAL_FATAL(nn_ckpt_save(noopt, &net, NULL, NULL, NULL, NULL, 1, NULL), NN_OK);
    nn_optim adam;
    make_optim(&adam, "adam", &net, 0.0f, 0);
    EXPECT_FAIL(nn_ckpt_load(noopt, &net, &adam, NULL, NULL), noopt, "'adam'", "optimizer");
    /* ... nor give a training state. */
    nn_train_state st;
    EXPECT_FAIL(nn_ckpt_load(noopt, &net, NULL, &st, NULL), noopt, "state", NULL);
    nn_optim_free(&adam);
    nn_net_free(&net);
}

/* ---- not a checkpoint ---- */

static void expect_not_checkpoint(const char *path, const char *word) {
    char *spec = NULL;
    nn_shape in;
    int classes;
    EXPECT_FAIL(nn_ckpt_read_model(path, &spec, &in, &classes), path, word, NULL);
    CU_ASSERT_PTR_NULL(spec);
    free(spec);
    nn_net net;
    make_net(&net, SPEC, 1);
    EXPECT_FAIL(nn_ckpt_load(path, &net, NULL, NULL, NULL), path, word, NULL);
    nn_net_free(&net);
}

static void test_not_a_checkpoint(void) {
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("ckpt_text.h5"));
    const char *text = "epoch,loss\n1,0.5\n";
    tu_write_file(path, text, strlen(text), 0);
    expect_not_checkpoint(path, "not an nntrain checkpoint");

    snprintf(path, sizeof path, "%s", tu_path("ckpt_empty.h5"));
    tu_write_file(path, "", 0, 0);
    expect_not_checkpoint(path, "not an nntrain checkpoint");

    /* A real checkpoint cut in half, with one byte changed, with bytes
     * appended: the envelope says which, before HDF5 parses anything. */
    size_t n = 0;
    unsigned char *bytes = slurp(reference_checkpoint(), &n);
    CU_ASSERT_FATAL(bytes != NULL && n > 1000);
    snprintf(path, sizeof path, "%s", tu_path("ckpt_half.h5"));
    tu_write_file(path, bytes, n / 2, 0);
    expect_not_checkpoint(path, "truncated");
    snprintf(path, sizeof path, "%s", tu_path("ckpt_flip.h5"));
    bytes[n - 100] ^= 0x10;
    tu_write_file(path, bytes, n, 0);
    expect_not_checkpoint(path, "checksum mismatch");
    bytes[n - 100] ^= 0x10;
    snprintf(path, sizeof path, "%s", tu_path("ckpt_long.h5"));
    unsigned char *longer = malloc(n + 7);
    CU_ASSERT_FATAL(longer != NULL);
    memcpy(longer, bytes, n);
    memset(longer + n, 0, 7);
    tu_write_file(path, longer, n + 7, 0);
    free(longer);
    expect_not_checkpoint(path, "appended");
    /* Only the envelope. */
    snprintf(path, sizeof path, "%s", tu_path("ckpt_envelope.h5"));
    tu_write_file(path, bytes, 512, 0);
    expect_not_checkpoint(path, "truncated");
    free(bytes);

    /* A FIFO is refused without blocking. */
    snprintf(path, sizeof path, "%s", tu_path("ckpt_fifo.h5"));
    CU_ASSERT_FATAL(mkfifo(path, 0600) == 0);
    expect_not_checkpoint(path, "FIFO");
    CU_ASSERT_EQUAL(nn_ckpt_seal(path), NN_ERR);
    unlink(path);

    /* A valid HDF5 file: without the envelope, then sealed, without the
     * format attribute. */
    snprintf(path, sizeof path, "%s", tu_path("ckpt_plain.h5"));
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    CU_ASSERT(H5Fclose(f) >= 0);
    expect_not_checkpoint(path, "without nntrain's checksum envelope");
    CU_ASSERT_EQUAL_FATAL(nn_ckpt_seal(path), NN_OK);
    CU_ASSERT_EQUAL_FATAL(nn_ckpt_seal(path), NN_OK); /* sealing twice is the same */
    expect_not_checkpoint(path, "not an nntrain checkpoint");
    /* seal refuses what holds no HDF5 data. */
    snprintf(path, sizeof path, "%s", tu_path("ckpt_text.h5"));
    EXPECT_FAIL(nn_ckpt_seal(path), path, "no HDF5 data", NULL);

    /* No file at all. */
    snprintf(path, sizeof path, "%s", tu_path("ckpt_no-such-file.h5"));
    expect_not_checkpoint(path, "cannot read");
}

/* ---- interrupted save ---- */

static void test_interrupted_save(void) {
    char path[512], tmp[600];
    snprintf(path, sizeof path, "%s", tu_path("ckpt_crash.h5"));
    nn_net a, b;
    nn_optim oa;
    make_net(&a, SPEC, 11);
    make_optim(&oa, "adam", &a, 0.1f, 5);
    nn_train_state st = {.epoch = 1, .step = 10, .seed = 3, .best_acc = -1};
    CU_ASSERT_EQUAL_FATAL(nn_ckpt_save(path, &a, &oa, &st, NULL, "A", 1, NULL), NN_OK);
    size_t n_before = 0, n_after = 0;
    unsigned char *before = slurp(path, &n_before);
    CU_ASSERT_FATAL(before != NULL);

    make_net(&b, SPEC, 22);
    CU_ASSERT_FATAL(!same_floats(a.params, b.params, a.nparams));

    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        setenv("NNTRAIN_FAULT", "ckpt_midway", 1);
        int rc = nn_ckpt_save(path, &b, &oa, &st, NULL, "B", 1, NULL);
        _exit(rc == NN_OK ? 0 : 1); /* reached only if the fault hook did not fire */
    }
    int status = 0;
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 3);

    /* P is byte for byte what it was, and loads as A. */
    unsigned char *after = slurp(path, &n_after);
    CU_ASSERT_FATAL(after != NULL);
    CU_ASSERT_EQUAL(n_after, n_before);
    CU_ASSERT(n_after == n_before && memcmp(before, after, n_before) == 0);
    free(before);
    free(after);

    nn_net c;
    nn_optim oc;
    make_net(&c, SPEC, 33);
    make_optim(&oc, "adam", &c, 9.0f, 0);
    nn_train_state sc = {.epoch = 0};
    int rc = nn_ckpt_load(path, &c, &oc, &sc, NULL);
    if (rc != NN_OK) printf("\n    load after crash: %s\n", nn_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
    CU_ASSERT(same_floats(a.params, c.params, a.nparams));
    for (int s = 0; s < oa.nslots; s++) CU_ASSERT(same_floats(oa.slot[s], oc.slot[s], a.nparams));
    CU_ASSERT_EQUAL(oc.t, 5);
    CU_ASSERT_EQUAL(sc.epoch, 1);
    CU_ASSERT_EQUAL(sc.step, 10);
    CU_ASSERT_EQUAL(sc.seed, 3);

    /* The crashed writer's temp file may remain; it is not P. Clean it up. */
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)pid);
    if (file_exists(tmp)) unlink(tmp);

    nn_optim_free(&oa);
    nn_optim_free(&oc);
    nn_net_free(&a);
    nn_net_free(&b);
    nn_net_free(&c);
}

/* ---- save into a missing folder ---- */

static void test_save_missing_folder(void) {
    char dir[512], path[600], tmp[700];
    snprintf(dir, sizeof dir, "%s", tu_path("ckpt_no-such-dir"));
    snprintf(path, sizeof path, "%s/model.h5", dir);
    nn_net net;
    make_net(&net, SPEC, 1);
    EXPECT_FAIL(nn_ckpt_save(path, &net, NULL, NULL, NULL, NULL, 1, NULL), path, "cannot create", NULL);
    CU_ASSERT(!file_exists(path));
    CU_ASSERT(!file_exists(dir));
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CU_ASSERT(!file_exists(tmp));
    nn_net_free(&net);
}

/* ==== issue 9: the whole training state, class names, untrusted metadata ==== */

/* A training state with every field set to a recognisable value. */
static nn_train_state full_state(void) {
    nn_train_state st = {.epoch = 3,
                         .step = 42,
                         .seed = 7,
                         .epoch_step = 5,
                         .partial = {1.5, 3, 4, 0.25},
                         .batch = 50,
                         .train_limit = 1000,
                         .best_acc = 0.875,
                         .class_weight = "balanced"};
    snprintf(st.data, sizeof st.data, "%s", "folder:/data/it's here:3x32");
    return st;
}

static void copy_file(const char *from, const char *to) {
    size_t n = 0;
    unsigned char *b = slurp(from, &n);
    CU_ASSERT_FATAL(b != NULL);
    tu_write_file(to, b, n, 0);
    free(b);
}

/* The edits below go through HDF5, then write the checkpoint's envelope again
 * (its CRC covers the HDF5 data), as a user editing with h5py would have to;
 * off while legacy_checkpoint() builds a file as older builds wrote it. */
static bool seal_edits = true;

static void edited(const char *path) {
    if (!seal_edits) return;
    int rc = nn_ckpt_seal(path);
    if (rc != NN_OK) printf("\n    seal: %s\n", nn_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
}

/* Open `obj` of an existing file read-write, for the edits below. */
static hid_t open_rw(const char *path, const char *obj, hid_t *file) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    *file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(*file >= 0);
    hid_t o = H5Oopen(*file, obj, H5P_DEFAULT);
    CU_ASSERT_FATAL(o >= 0);
    return o;
}

/* Replace (or add) attribute obj@name with n values of the given types. */
static void set_attr(const char *path, const char *obj, const char *name, hid_t ftype,
                     hid_t mtype, const void *v, hsize_t n) {
    hid_t f, o = open_rw(path, obj, &f);
    if (H5Aexists(o, name) > 0) H5Adelete(o, name);
    hid_t s = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
    hid_t a = H5Acreate2(o, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(a >= 0);
    CU_ASSERT(H5Awrite(a, mtype, v) >= 0);
    H5Aclose(a);
    H5Sclose(s);
    H5Oclose(o);
    H5Fclose(f);
    edited(path);
}

static void set_i64(const char *path, const char *obj, const char *name, int64_t v) {
    set_attr(path, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v, 1);
}

/* A fixed-length string attribute, as nntrain writes them. */
static void set_str(const char *path, const char *obj, const char *name, const char *v) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    set_attr(path, obj, name, t, t, v, 1);
    H5Tclose(t);
}

static void del_attr(const char *path, const char *obj, const char *name) {
    hid_t f, o = open_rw(path, obj, &f);
    CU_ASSERT(H5Adelete(o, name) >= 0);
    H5Oclose(o);
    H5Fclose(f);
    edited(path);
}

/* Set the first `count` values of a float dataset to v[0], v[1], ... */
static void poke(const char *path, const char *dset, const float *v, int count) {
    hid_t f;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    hid_t s = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    CU_ASSERT_FATAL(n >= count);
    float *buf = malloc((size_t)n * sizeof *buf);
    CU_ASSERT(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    for (int i = 0; i < count; i++) buf[i] = v[i];
    CU_ASSERT(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    free(buf);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    edited(path);
}

/* Replace group g's "table" by (rows, cols) float64 values v (freed), close
 * g and the file f, and seal the edit. */
static void replace_table(const char *path, hid_t f, hid_t g, hsize_t rows, hsize_t cols,
                          double *v) {
    H5Ldelete(g, "table", H5P_DEFAULT);
    hsize_t dims[2] = {rows, cols};
    hid_t s = H5Screate_simple(2, dims, NULL);
    hid_t d = H5Dcreate2(g, "table", H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    CU_ASSERT(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    free(v);
    H5Dclose(d);
    H5Sclose(s);
    H5Oclose(g);
    H5Fclose(f);
    edited(path);
}

/* Replace /history/table with a (rows, cols) table whose column 0 counts
 * 1, 2, ... */
static void set_history(const char *path, hsize_t rows, hsize_t cols) {
    hid_t f, g = open_rw(path, "history", &f);
    double *v = calloc(rows * cols + 1, sizeof *v);
    for (hsize_t r = 0; r < rows; r++) v[r * cols] = (double)(r + 1);
    replace_table(path, f, g, rows, cols, v);
}

/* A checkpoint of SPEC with the full state, adam, history and class names. */
static const char *full_checkpoint(void) {
    static char path[512];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s", tu_path("ckpt_full.h5"));
        nn_net net;
        nn_optim o;
        nn_history h;
        make_net(&net, SPEC, 5);
        make_optim(&o, "adam", &net, 0.5f, 9);
        make_history(&h);
        nn_train_state st = full_state();
        char *names[3] = {"cat", "dog", "it's a bird"};
        int rc = nn_ckpt_save(path, &net, &o, &st, &h, CONFIG, 1, names);
        if (rc != NN_OK) printf("\n    save: %s\n", nn_errmsg());
        CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
        nn_history_free(&h);
        nn_optim_free(&o);
        nn_net_free(&net);
    }
    return path;
}

static int same_state(const nn_train_state *a, const nn_train_state *b) {
    return a->epoch == b->epoch && a->step == b->step && a->seed == b->seed &&
           a->epoch_step == b->epoch_step && !memcmp(a->partial, b->partial, sizeof a->partial) &&
           a->batch == b->batch && a->train_limit == b->train_limit &&
           !strcmp(a->data, b->data) && a->best_acc == b->best_acc &&
           !strcmp(a->class_weight, b->class_weight);
}

static void test_full_state_round_trip(void) {
    const char *path = full_checkpoint();
    nn_net net;
    nn_optim o;
    make_net(&net, SPEC, 99);
    make_optim(&o, "adam", &net, 0.0f, 0);
    nn_train_state want = full_state(), got;
    memset(&got, 0x5a, sizeof got);
    nn_history h = {0};
    int rc = nn_ckpt_load(path, &net, &o, &got, &h);
    if (rc != NN_OK) printf("\n    load: %s\n", nn_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
    CU_ASSERT(same_state(&want, &got));
    CU_ASSERT_EQUAL(got.epoch_step, 5);
    CU_ASSERT_EQUAL(got.batch, 50);
    CU_ASSERT_EQUAL(got.train_limit, 1000);
    CU_ASSERT_STRING_EQUAL(got.data, "folder:/data/it's here:3x32");
    CU_ASSERT_EQUAL(got.best_acc, 0.875);
    CU_ASSERT_STRING_EQUAL(got.class_weight, "balanced");
    CU_ASSERT_EQUAL(got.partial[3], 0.25);
    CU_ASSERT_EQUAL(h.rows, 2);

    char **names = NULL;
    rc = nn_ckpt_read_class_names(path, 3, &names);
    if (rc != NN_OK) printf("\n    class names: %s\n", nn_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(names);
    CU_ASSERT_STRING_EQUAL(names[0], "cat");
    CU_ASSERT_STRING_EQUAL(names[1], "dog");
    CU_ASSERT_STRING_EQUAL(names[2], "it's a bird");
    nn_ckpt_free_names(names, 3);
    /* Another number of classes is an error naming the file and both counts. */
    names = (char **)1;
    EXPECT_FAIL(nn_ckpt_read_class_names(path, 4, &names), path, "3 names", "4 classes");
    CU_ASSERT_PTR_NULL(names);
    /* A checkpoint saved without names records none. */
    names = (char **)1;
    CU_ASSERT_EQUAL(nn_ckpt_read_class_names(reference_checkpoint(), 3, &names), NN_OK);
    CU_ASSERT_PTR_NULL(names);

    nn_history_free(&h);
    nn_optim_free(&o);
    nn_net_free(&net);
}

/* A checkpoint as builds before issue 9 wrote it: HDF5's default (1.6)
 * format, /state with epoch, step and seed only, no class names. */
static void legacy_checkpoint(const char *path, const nn_net *net) {
    seal_edits = false;
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    struct {
        const char *name, *val;
    } strs[4] = {{"format", "nntrain-checkpoint"}, {"model_spec", net->spec}, {"config", "old"},
                 {"optimizer", "none"}};
    for (int i = 0; i < 4; i++) {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, strlen(strs[i].val) + 1);
        hid_t s = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, strs[i].name, t, s, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, t, strs[i].val);
        H5Aclose(a);
        H5Sclose(s);
        H5Tclose(t);
    }
    H5Fclose(f);
    int64_t shape[3] = {net->in.c, net->in.h, net->in.w};
    set_attr(path, "/", "format_version", H5T_STD_I64LE, H5T_NATIVE_INT64,
             &(int64_t){NN_CKPT_VERSION}, 1);
    set_attr(path, "/", "input_shape", H5T_STD_I64LE, H5T_NATIVE_INT64, shape, 3);
    set_i64(path, "/", "classes", (int64_t)nn_net_out_size(net));
    set_i64(path, "/", "ranks", 1);
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t mw = H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int i = 0; i < net->nlayers; i++) {
        const nn_layer *l = &net->layers[i];
        if (!l->nparam_tensors) continue;
        hid_t lg = H5Gcreate2(mw, l->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        for (int k = 0; k < l->nparam_tensors; k++) {
            hsize_t hd[4];
            for (int j = 0; j < l->params[k].ndim; j++) hd[j] = (hsize_t)l->params[k].dims[j];
            hid_t s = H5Screate_simple(l->params[k].ndim, hd, NULL);
            hid_t d = H5Dcreate2(lg, l->params[k].name, H5T_IEEE_F32LE, s, H5P_DEFAULT,
                                 H5P_DEFAULT, H5P_DEFAULT);
            H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                     l->w + l->params[k].offset);
            H5Dclose(d);
            H5Sclose(s);
        }
        H5Gclose(lg);
    }
    H5Gclose(mw);
    H5Gclose(H5Gcreate2(f, "state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Fclose(f);
    set_i64(path, "state", "epoch", 2);
    set_i64(path, "state", "step", 20);
    set_i64(path, "state", "seed", 11);
    seal_edits = true;
}

static void test_legacy_checkpoint_loads(void) {
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("ckpt_legacy.h5"));
    nn_net a, b;
    make_net(&a, SPEC, 3);
    legacy_checkpoint(path, &a);
    make_net(&b, SPEC, 4);
    nn_train_state st;
    memset(&st, 0x5a, sizeof st);
    /* Plain HDF5, as those builds wrote it: refused, with the way out... */
    EXPECT_FAIL(nn_ckpt_load(path, &b, NULL, &st, NULL), path, "without nntrain's checksum",
                "nntrain seal --checkpoint");
    /* ... which is to seal it. */
    CU_ASSERT_EQUAL_FATAL(nn_ckpt_seal(path), NN_OK);
    int rc = nn_ckpt_load(path, &b, NULL, &st, NULL);
    if (rc != NN_OK) printf("\n    legacy load: %s\n", nn_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
    CU_ASSERT(same_floats(a.params, b.params, a.nparams));
    nn_train_state want = {.epoch = 2, .step = 20, .seed = 11, .best_acc = -1};
    CU_ASSERT(same_state(&want, &st));
    char **names = (char **)1;
    CU_ASSERT_EQUAL(nn_ckpt_read_class_names(path, 3, &names), NN_OK);
    CU_ASSERT_PTR_NULL(names);
    char *spec = NULL;
    nn_shape in;
    int classes = 0;
    CU_ASSERT_EQUAL(nn_ckpt_read_model(path, &spec, &in, &classes), NN_OK);
    CU_ASSERT(spec && !strcmp(spec, a.spec));
    CU_ASSERT_EQUAL(classes, 3);
    free(spec);
    nn_net_free(&a);
    nn_net_free(&b);
}

/* Load `path` into a fresh SPEC net with adam, a state and a history: it
 * must fail naming the file and both words, and change nothing. */
static void expect_rejected(const char *path, const char *w1, const char *w2, int line) {
    nn_net net;
    nn_optim o;
    make_net(&net, SPEC, 21);
    make_optim(&o, "adam", &net, 2.0f, 1);
    float *before = malloc(net.nparams * sizeof *before);
    memcpy(before, net.params, net.nparams * sizeof *before);
    float *slot0 = malloc(net.nparams * sizeof *slot0);
    memcpy(slot0, o.slot[0], net.nparams * sizeof *slot0);
    nn_train_state st, st0;
    memset(&st, 0x5a, sizeof st);
    st0 = st;
    nn_history h = {0};
    nn_err_clear();
    int rc = nn_ckpt_load(path, &net, &o, &st, &h);
    const char *m = nn_errmsg();
    int ok = rc == NN_ERR && strstr(m, path) && has_word(m, w1) && has_word(m, w2);
    CU_ASSERT(ok);
    if (!ok) printf("\n    line %d: rc %d, message was: %s\n", line, rc, m);
    CU_ASSERT(same_floats(before, net.params, net.nparams)); /* rolled back */
    CU_ASSERT(same_floats(slot0, o.slot[0], net.nparams));
    CU_ASSERT_EQUAL(o.t, 1);
    CU_ASSERT(memcmp(&st, &st0, sizeof st) == 0); /* state not filled */
    CU_ASSERT_EQUAL(h.rows, 0);                    /* history not filled */
    free(before);
    free(slot0);
    nn_history_free(&h);
    nn_optim_free(&o);
    nn_net_free(&net);
}

static void test_state_validated(void) {
    const char *ref = full_checkpoint();
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("ckpt_badstate.h5"));
    /* The control: the unedited copy loads. */
    copy_file(ref, path);
    nn_net net;
    make_net(&net, SPEC, 1);
    nn_train_state st;
    CU_ASSERT_EQUAL(nn_ckpt_load(path, &net, NULL, &st, NULL), NN_OK);
    nn_net_free(&net);

    struct {
        const char *field;
        int64_t v;
        const char *w1, *w2;
    } ints[] = {
        {"epoch", -5, "state/epoch is -5", "expected 0..1000000"},
        {"epoch", 1LL << 40, "state/epoch is 1099511627776", "expected 0.."},
        {"step", -1, "state/step is -1", "expected >= 0"},
        {"seed", -1, "state/seed is -1", "expected 0..2147483647"},
        {"seed", 1LL << 40, "state/seed is 1099511627776", "expected 0..2147483647"},
        {"epoch_step", -2, "state/epoch_step is -2", "expected 0..42"},
        {"epoch_step", 43, "state/epoch_step is 43", "at most state/step"},
        {"batch", -3, "state/batch is -3", "expected 0.."},
        {"batch", 1LL << 21, "state/batch is 2097152", "expected 0..1048576"},
        {"train_limit", -1, "state/train_limit is -1", "expected 0.."},
    };
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        copy_file(ref, path);
        set_i64(path, "state", ints[i].field, ints[i].v);
        expect_rejected(path, ints[i].w1, ints[i].w2, __LINE__);
    }
    struct {
        double partial[4];
        const char *w1, *w2;
    } partials[] = {
        {{NAN, 1, 2, 0}, "state/partial[0] (train loss sum) is nan", "finite number >= 0"},
        {{1, 1, 2, INFINITY}, "state/partial[3] (seconds) is inf", "finite"},
        {{1, -1, 2, 0}, "state/partial[1] (correct) is -1", ">= 0"},
        {{1, 5, 2, 0}, "state/partial[1] (correct) is 5", "partial[2] (samples) = 2"},
    };
    for (size_t i = 0; i < sizeof partials / sizeof *partials; i++) {
        copy_file(ref, path);
        set_attr(path, "state", "partial", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                 partials[i].partial, 4);
        expect_rejected(path, partials[i].w1, partials[i].w2, __LINE__);
    }
    double three[3] = {0, 0, 0}, bad_acc = 1.5;
    copy_file(ref, path);
    set_attr(path, "state", "partial", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, three, 3);
    expect_rejected(path, "state/partial", "4 floating-point numbers", __LINE__);
    copy_file(ref, path);
    set_attr(path, "state", "best_acc", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &bad_acc, 1);
    expect_rejected(path, "state/best_acc is 1.5", "-1 (none yet) or 0..1", __LINE__);
    copy_file(ref, path);
    set_attr(path, "state", "batch", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &bad_acc, 1);
    expect_rejected(path, "state/batch", "not an integer", __LINE__);
    copy_file(ref, path);
    del_attr(path, "state", "epoch");
    expect_rejected(path, "state/epoch", "missing", __LINE__);

    /* The history table must be (rows, 10), or (rows, 9) as older builds
     * wrote it, with rows <= state/epoch (3). */
    copy_file(ref, path);
    set_history(path, 2, 7);
    expect_rejected(path, "history/table has shape (2, 7)", "expected (2, 10) (or (2, 9)",
                    __LINE__);
    copy_file(ref, path);
    set_history(path, 2, NN_H_COLS + 1);
    expect_rejected(path, "history/table has shape (2, 11)", "expected (2, 10)", __LINE__);
    copy_file(ref, path);
    set_history(path, 5, NN_H_COLS);
    expect_rejected(path, "history/table has shape (5, 10)", "(3, 10)", __LINE__);
    copy_file(ref, path);
    set_history(path, 5, NN_H_COLS_V1);
    expect_rejected(path, "history/table has shape (5, 9)", "(3, 10)", __LINE__);
    copy_file(ref, path);
    set_i64(path, "state", "epoch", 1); /* 2 rows but 1 epoch completed */
    expect_rejected(path, "history/table has shape (2, 10)", "state/epoch is 1", __LINE__);
    /* ... whether or not the caller asked for the history. */
    nn_net plain;
    make_net(&plain, SPEC, 1);
    EXPECT_FAIL(nn_ckpt_load(path, &plain, NULL, NULL, NULL), path, "history/table", "(2, 10)");
    nn_net_free(&plain);
    /* --class-weight is recorded as none, balanced or sqrt, nothing else. */
    copy_file(ref, path);
    set_str(path, "state", "class_weight", "balancd");
    expect_rejected(path, "state/class_weight is 'balancd'", "expected none, balanced or sqrt",
                    __LINE__);

    /* A save refuses a state a load would refuse; the old file stays. */
    nn_net n2;
    make_net(&n2, SPEC, 1);
    copy_file(ref, path);
    size_t n_before = 0, n_after = 0;
    unsigned char *before = slurp(path, &n_before);
    nn_train_state bad = full_state();
    bad.epoch = -5;
    EXPECT_FAIL(nn_ckpt_save(path, &n2, NULL, &bad, NULL, NULL, 1, NULL), path,
                "state/epoch is -5", "not saved");
    unsigned char *after = slurp(path, &n_after);
    CU_ASSERT(n_before == n_after && before && after && !memcmp(before, after, n_before));
    free(before);
    free(after);
    nn_net_free(&n2);
}

/* ---- the history table of older builds: (epochs, 9), before test_bal_acc ---- */

/* Rewrite /history/table keeping its values but only the first `keep`
 * columns, as a build before test_bal_acc wrote it. */
static void drop_history_columns(const char *path, int keep) {
    hid_t f, g = open_rw(path, "history", &f);
    hid_t d = H5Dopen2(g, "table", H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    hid_t s = H5Dget_space(d);
    hsize_t dims[2];
    CU_ASSERT_FATAL(H5Sget_simple_extent_ndims(s) == 2);
    H5Sget_simple_extent_dims(s, dims, NULL);
    H5Sclose(s);
    CU_ASSERT_FATAL(dims[1] >= (hsize_t)keep);
    double *v = malloc(dims[0] * dims[1] * sizeof *v + 1);
    CU_ASSERT(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    for (hsize_t r = 0; r < dims[0]; r++)
        memmove(v + r * (hsize_t)keep, v + r * dims[1], (size_t)keep * sizeof *v);
    replace_table(path, f, g, dims[0], (hsize_t)keep, v);
}

/* A table of the 9 columns before test_bal_acc loads: those 9 as stored,
 * NaN in test_bal_acc; saved again (a resumed run's next save), it is a
 * (rows, 10) table with the NaN kept, and a new row's value beside them. */
static void test_history_v1_loads(void) {
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("ckpt_hist_v1.h5"));
    copy_file(full_checkpoint(), path);
    drop_history_columns(path, NN_H_COLS_V1);
    nn_net net;
    nn_optim o;
    make_net(&net, SPEC, 1);
    make_optim(&o, "adam", &net, 0.0f, 0);
    nn_train_state st;
    nn_history h, want;
    nn_history_init(&h, nn_history_classify, NN_H_COLS);
    make_history(&want);
    int rc = nn_ckpt_load(path, &net, &o, &st, &h);
    if (rc != NN_OK) printf("\n    load: %s\n", nn_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
    CU_ASSERT_EQUAL_FATAL(h.rows, 2);
    for (size_t r = 0; r < 2; r++) {
        CU_ASSERT(!memcmp(h.v + r * NN_H_COLS, want.v + r * NN_H_COLS,
                          NN_H_COLS_V1 * sizeof(double)));
        CU_ASSERT(isnan(h.v[r * NN_H_COLS + NN_H_TEST_BAL_ACC]));
    }
    /* history.csv says "nan" there: not measured. */
    char csv[600];
    snprintf(csv, sizeof csv, "%s", tu_path("hist_v1.csv"));
    CU_ASSERT_EQUAL(nn_history_write_csv(&h, csv), NN_OK);
    size_t n = 0;
    char *text = (char *)slurp(csv, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    text[n ? n - 1 : 0] = 0;
    CU_ASSERT(strstr(text, ",lr,test_bal_acc\n") != NULL);
    CU_ASSERT(strstr(text, ",nan\n2,") != NULL);
    free(text);
    /* The next epoch, saved and loaded again. */
    double row[NN_H_COLS] = {3, 0.5, 0.9, 0.6, 0.8, 1, 1000, 0.1, 0.01, 0.75};
    CU_ASSERT_EQUAL(nn_history_add(&h, row), NN_OK);
    CU_ASSERT_EQUAL_FATAL(nn_ckpt_save(path, &net, &o, &st, &h, CONFIG, 1, NULL), NN_OK);
    nn_history h2;
    nn_history_init(&h2, nn_history_classify, NN_H_COLS);
    CU_ASSERT_EQUAL_FATAL(nn_ckpt_load(path, &net, &o, &st, &h2), NN_OK);
    CU_ASSERT_EQUAL_FATAL(h2.rows, 3);
    CU_ASSERT(isnan(h2.v[NN_H_TEST_BAL_ACC]));
    CU_ASSERT(isnan(h2.v[NN_H_COLS + NN_H_TEST_BAL_ACC]));
    CU_ASSERT_EQUAL(h2.v[2 * NN_H_COLS + NN_H_TEST_BAL_ACC], 0.75);
    CU_ASSERT_EQUAL(h2.v[2 * NN_H_COLS + NN_H_LR], 0.01);
    /* A GAN's table has always had its 9 columns: no shorter one is accepted. */
    nn_history g;
    nn_history_init(&g, nn_history_gan, NN_HG_COLS);
    CU_ASSERT_EQUAL(nn_history_min_cols(&g), NN_HG_COLS);
    nn_history_free(&h2);
    nn_history_free(&want);
    nn_history_free(&h);
    nn_optim_free(&o);
    nn_net_free(&net);
}

/* `nntrain train --resume` from a checkpoint whose history has the 9
 * columns of the builds before test_bal_acc: the resumed run trains on, and
 * its history keeps the old epochs (NaN in test_bal_acc) and measures the
 * new one. Runs the binary the suite is given (NNTRAIN, set by make). */
static void test_resume_history_v1(void) {
    const char *nn = getenv("NNTRAIN");
    if (!nn || access(nn, X_OK) != 0) {
        printf("\n    NNTRAIN (the nntrain binary; make unit-test sets it) is not set or not "
               "executable: '%s'\n", nn ? nn : "");
        CU_FAIL_FATAL("NNTRAIN not set");
    }
    char data[512], out[512], cmd[2048], ckpt[600];
    snprintf(data, sizeof data, "%s", tu_path("resume_v1_data"));
    snprintf(out, sizeof out, "%s", tu_path("resume_v1_run"));
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", out);
    tu_write_mnist_like(data, 60, 20, 6, 6, 0);
    const char *args = "--model 'dense 10' --batch 20 --lr 0.3 --quiet --no-plot";
    snprintf(cmd, sizeof cmd, "'%s' train --data 'mnist:%s' %s --epochs 1 --out '%s' >/dev/null",
             nn, data, args, out);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    drop_history_columns(ckpt, NN_H_COLS_V1);
    snprintf(cmd, sizeof cmd,
             "'%s' train --data 'mnist:%s' %s --epochs 2 --resume auto --out '%s' >/dev/null",
             nn, data, args, out);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    nn_net net;
    CU_ASSERT_EQUAL_FATAL(nn_net_create(&net, "dense 10", "test", (nn_shape){1, 6, 6}, 10, 1,
                                        nn_backend_cpu()),
                          NN_OK);
    nn_train_state st;
    nn_history h;
    nn_history_init(&h, nn_history_classify, NN_H_COLS);
    int rc = nn_ckpt_load(ckpt, &net, NULL, &st, &h);
    if (rc != NN_OK) printf("\n    load: %s\n", nn_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
    CU_ASSERT_EQUAL(st.epoch, 2);
    CU_ASSERT_EQUAL_FATAL(h.rows, 2);
    CU_ASSERT(isnan(h.v[NN_H_TEST_BAL_ACC]));
    const double b = h.v[NN_H_COLS + NN_H_TEST_BAL_ACC];
    CU_ASSERT(b >= 0 && b <= 1);
    CU_ASSERT(h.v[NN_H_TEST_ACC] >= 0 && h.v[NN_H_TEST_ACC] <= 1); /* kept from epoch 1 */
    nn_history_free(&h);
    nn_net_free(&net);
}

/* ---- non-finite tensors ---- */

#define SPEC_BN "dense 5; batchnorm; sigmoid; dense 3"

static void test_nonfinite_rejected_on_load(void) {
    const char *ref = full_checkpoint();
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("ckpt_nan.h5"));
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    copy_file(ref, path);
    poke(path, "model_weights/dense_1/kernel", bad, 3);
    expect_rejected(path, "model_weights/dense_1/kernel holds 3 non-finite values (NaN/Inf)",
                    "diverged", __LINE__);
    /* Weights only (what predict and eval do) are refused too. */
    nn_net net;
    make_net(&net, SPEC, 1);
    EXPECT_FAIL(nn_ckpt_load(path, &net, NULL, NULL, NULL), path, "dense_1/kernel", "non-finite");
    nn_net_free(&net);

    copy_file(ref, path);
    poke(path, "optimizer_weights/v/dense_2/bias", bad + 1, 1);
    expect_rejected(path, "optimizer_weights/v/dense_2/bias holds 1 non-finite value", NULL,
                    __LINE__);

    /* Non-trained state (BatchNorm statistics). */
    snprintf(path, sizeof path, "%s", tu_path("ckpt_nan_bn.h5"));
    nn_net bn;
    make_net(&bn, SPEC_BN, 2);
    CU_ASSERT_EQUAL_FATAL(nn_ckpt_save(path, &bn, NULL, NULL, NULL, NULL, 1, NULL), NN_OK);
    poke(path, "model_weights/batchnorm_1/moving_variance", bad, 2);
    nn_net bn2;
    make_net(&bn2, SPEC_BN, 3);
    float *state0 = malloc(bn2.nstate * sizeof *state0);
    memcpy(state0, bn2.state, bn2.nstate * sizeof *state0);
    EXPECT_FAIL(nn_ckpt_load(path, &bn2, NULL, NULL, NULL), path,
                "model_weights/batchnorm_1/moving_variance holds 2 non-finite", NULL);
    CU_ASSERT(same_floats(state0, bn2.state, bn2.nstate));
    free(state0);
    nn_net_free(&bn);
    nn_net_free(&bn2);
}

static void test_nonfinite_refused_on_save(void) {
    char path[512], tmp[600];
    snprintf(path, sizeof path, "%s", tu_path("ckpt_nan_save.h5"));
    nn_net net;
    nn_optim o;
    make_net(&net, SPEC, 8);
    make_optim(&o, "adam", &net, 0.5f, 3);
    nn_train_state st = full_state();
    CU_ASSERT_EQUAL_FATAL(nn_ckpt_save(path, &net, &o, &st, NULL, NULL, 1, NULL), NN_OK);
    size_t n_before = 0, n_after = 0;
    unsigned char *before = slurp(path, &n_before);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());

    net.params[31] = NAN; /* dense_1/bias[1]: kernel is 6 x 5 = 30 floats */
    EXPECT_FAIL(nn_ckpt_save(path, &net, &o, &st, NULL, NULL, 1, NULL), path,
                "model_weights/dense_1/bias holds 1 non-finite value", "left as it was");
    net.params[31] = 0;
    o.slot[1][0] = INFINITY;
    EXPECT_FAIL(nn_ckpt_save(path, &net, &o, &st, NULL, NULL, 1, NULL), path,
                "optimizer_weights/v/dense_1/kernel holds 1 non-finite value", NULL);
    CU_ASSERT(!file_exists(tmp));
    unsigned char *after = slurp(path, &n_after);
    CU_ASSERT(n_before == n_after && before && after && !memcmp(before, after, n_before));
    free(before);
    free(after);
    nn_optim_free(&o);
    nn_net_free(&net);
}

/* ---- a model spec over HDF5's 64 KB attribute limit ---- */

static void test_large_spec(void) {
    const size_t pad = 150000;
    char *spec = malloc(pad + 64);
    CU_ASSERT_FATAL(spec != NULL);
    strcpy(spec, "dense 5; sigmoid; dense 3\n# ");
    size_t o = strlen(spec);
    for (size_t i = 0; i < pad; i++) spec[o++] = (char)('a' + i % 26);
    strcpy(spec + o, "\n");
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("ckpt_bigspec.h5"));
    nn_net a;
    make_net(&a, spec, 4);
    nn_train_state st = full_state();
    int rc = nn_ckpt_save(path, &a, NULL, &st, NULL, NULL, 1, NULL);
    if (rc != NN_OK) printf("\n    save of a %zu-byte spec: %s\n", strlen(spec), nn_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
    char *back = NULL;
    nn_shape in;
    int classes = 0;
    rc = nn_ckpt_read_model(path, &back, &in, &classes);
    CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
    CU_ASSERT(back && strlen(back) == strlen(spec) && !strcmp(back, spec));
    nn_net b;
    CU_ASSERT_EQUAL_FATAL(nn_net_create(&b, back, path, in, classes, 4, nn_backend_cpu()), NN_OK);
    CU_ASSERT_EQUAL(nn_ckpt_load(path, &b, NULL, NULL, NULL), NN_OK);
    CU_ASSERT(same_floats(a.params, b.params, a.nparams));
    free(back);
    free(spec);
    nn_net_free(&a);
    nn_net_free(&b);
}

/* ==== fileutil: stale temps, long paths, a full disk ==== */

static pid_t dead_pid(void) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    CU_ASSERT_FATAL(pid > 0);
    waitpid(pid, NULL, 0);
    return pid;
}

static void touch(const char *path) { tu_write_file(path, "x", 1, 0); }

static void test_stale_temps(void) {
    char dir[512], path[600], csv[600], f[8][700];
    snprintf(dir, sizeof dir, "%s", tu_path("stale"));
    CU_ASSERT_EQUAL_FATAL(nn_mkdirs(dir), NN_OK);
    snprintf(path, sizeof path, "%s/checkpoint.h5", dir);
    snprintf(csv, sizeof csv, "%s/history.csv", dir);
    long dead = (long)dead_pid(), me = (long)getpid();
    CU_ASSERT_FATAL(kill((pid_t)dead, 0) != 0);
    snprintf(f[0], sizeof f[0], "%s.tmp.%ld", path, dead); /* stale: goes */
    snprintf(f[1], sizeof f[1], "%s.tmp.%ld", path, me);   /* live: stays */
    snprintf(f[2], sizeof f[2], "%s.tmp.%ldx", path, dead);
    snprintf(f[3], sizeof f[3], "%s.tmp.0%ld", path, dead);
    snprintf(f[4], sizeof f[4], "%sx.tmp.%ld", path, dead); /* another file's */
    snprintf(f[5], sizeof f[5], "%s.tmp.", path);
    snprintf(f[6], sizeof f[6], "%s/other.tmp.%ld", dir, dead);
    for (int i = 0; i < 7; i++) touch(f[i]);
    snprintf(f[7], sizeof f[7], "%s.tmp.%ld", csv, dead);
    CU_ASSERT_EQUAL(nn_remove_stale_temps(path), 1);
    CU_ASSERT(!file_exists(f[0]));
    for (int i = 1; i < 7; i++) CU_ASSERT(file_exists(f[i]));
    CU_ASSERT_EQUAL(nn_remove_stale_temps(path), 0);
    CU_ASSERT_EQUAL(nn_remove_stale_temps(tu_path("no-such-dir/x.h5")), 0);

    /* A save and a history write clean up before writing (the save itself
     * writes through f[1], our pid's temp; the parent's stays). */
    char live[700];
    snprintf(live, sizeof live, "%s.tmp.%ld", path, (long)getppid());
    touch(live);
    touch(f[0]);
    touch(f[7]);
    nn_net net;
    make_net(&net, SPEC, 1);
    CU_ASSERT_EQUAL(nn_ckpt_save(path, &net, NULL, NULL, NULL, NULL, 1, NULL), NN_OK);
    CU_ASSERT(!file_exists(f[0]));
    CU_ASSERT(file_exists(live));
    unlink(live);
    nn_history h;
    make_history(&h);
    CU_ASSERT_EQUAL(nn_history_write_csv(&h, csv), NN_OK);
    CU_ASSERT(!file_exists(f[7]));
    nn_history_free(&h);
    nn_net_free(&net);
    for (int i = 1; i < 7; i++) unlink(f[i]);
}

static void test_long_paths(void) {
    /* ~1,300 characters: more than the 1,023 nn_mkdirs used to cut to. */
    size_t cap = 8192;
    char *dir = malloc(cap), *path = malloc(cap + 64);
    snprintf(dir, cap, "%s", tu_path("long"));
    for (int i = 0; i < 6; i++) {
        size_t o = strlen(dir);
        dir[o++] = '/';
        for (int j = 0; j < 200; j++) dir[o++] = (char)('a' + i);
        dir[o] = 0;
    }
    CU_ASSERT_FATAL(strlen(dir) > 1200);
    int rc = nn_mkdirs(dir);
    if (rc != NN_OK) printf("\n    mkdirs: %s\n", nn_errmsg());
    CU_ASSERT_EQUAL(rc, NN_OK);
    struct stat st;
    CU_ASSERT(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
    CU_ASSERT_EQUAL(nn_mkdirs(dir), NN_OK); /* again: it exists */

    /* A checkpoint and a history there (their temp names are longer still). */
    snprintf(path, cap + 64, "%s/checkpoint.h5", dir);
    nn_net net;
    make_net(&net, SPEC, 1);
    rc = nn_ckpt_save(path, &net, NULL, NULL, NULL, NULL, 1, NULL);
    if (rc != NN_OK) printf("\n    save: %s\n", nn_errmsg());
    CU_ASSERT_EQUAL(rc, NN_OK);
    CU_ASSERT_EQUAL(nn_ckpt_load(path, &net, NULL, NULL, NULL), NN_OK);
    snprintf(path, cap + 64, "%s/history.csv", dir);
    nn_history h;
    make_history(&h);
    CU_ASSERT_EQUAL(nn_history_write_csv(&h, path), NN_OK);
    CU_ASSERT(file_exists(path));
    nn_history_free(&h);
    nn_net_free(&net);

    /* Beyond what the system takes: an error with the length and the limit. */
    size_t o = strlen(dir);
    while (o < 5000) {
        dir[o++] = '/';
        for (int j = 0; j < 200; j++) dir[o++] = 'z';
    }
    dir[o] = 0;
    char len[32];
    snprintf(len, sizeof len, "%zu characters", o);
    EXPECT_FAIL(nn_mkdirs(dir), tu_path("long"), len, "4095");

    /* A temp name that does not fit the caller's buffer: an error, no file. */
    char small[24];
    nn_err_clear();
    FILE *f = nn_open_temp(tu_path("a-name-longer-than-24.csv"), small, sizeof small);
    CU_ASSERT_PTR_NULL(f);
    if (f) fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(nn_errmsg(), "too long"));
    CU_ASSERT_PTR_NOT_NULL(strstr(nn_errmsg(), "a-name-longer-than-24.csv"));
    free(dir);
    free(path);
}

/* The ENOSPC test needs a tiny file system: a 64 KB tmpfs (root only). */
static void test_disk_full(void) {
    char dir[512], path[600], csv[600];
    snprintf(dir, sizeof dir, "%s", tu_path("tinyfs"));
    CU_ASSERT_EQUAL_FATAL(nn_mkdirs(dir), NN_OK);
    if (mount("tmpfs", dir, "tmpfs", 0, "size=64k") != 0) {
        printf("\n    NOTE: cannot mount a 64 KB tmpfs (%s): disk-full test skipped\n",
               strerror(errno));
        return;
    }
    snprintf(path, sizeof path, "%s/checkpoint.h5", dir);
    snprintf(csv, sizeof csv, "%s/history.csv", dir);
    nn_net small, big;
    make_net(&small, SPEC, 1);
    CU_ASSERT_EQUAL(nn_ckpt_save(path, &small, NULL, NULL, NULL, NULL, 1, NULL), NN_OK);
    size_t n_before = 0, n_after = 0;
    unsigned char *before = slurp(path, &n_before);
    /* 40,000 parameters = 160 KB: cannot fit. */
    make_net(&big, "dense 4000; sigmoid; dense 3", 1);
    EXPECT_FAIL(nn_ckpt_save(path, &big, NULL, NULL, NULL, NULL, 1, NULL), path,
                "No space left on device", "left as it was");
    unsigned char *after = slurp(path, &n_after);
    CU_ASSERT(n_before == n_after && before && after && !memcmp(before, after, n_before));
    free(before);
    free(after);
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CU_ASSERT(!file_exists(tmp));
    CU_ASSERT_EQUAL(nn_ckpt_load(path, &small, NULL, NULL, NULL), NN_OK);

    /* history.csv: a good one, then the disk fills up, then a longer one. */
    nn_history h;
    make_history(&h);
    CU_ASSERT_EQUAL(nn_history_write_csv(&h, csv), NN_OK);
    before = slurp(csv, &n_before);
    char filler[600];
    snprintf(filler, sizeof filler, "%s/filler", dir);
    FILE *fill = fopen(filler, "wb");
    CU_ASSERT_FATAL(fill != NULL);
    char block[4096] = {0};
    while (fwrite(block, 1, sizeof block, fill) == sizeof block && fflush(fill) == 0) {
    }
    fclose(fill);
    for (int r = 0; r < 2000; r++) {
        double row[NN_H_COLS] = {r + 3, 0.5, 0.5, 0.5, 0.5, 1, 1000, 0.1, 0.01};
        nn_history_add(&h, row);
    }
    EXPECT_FAIL(nn_history_write_csv(&h, csv), csv, "No space left on device", NULL);
    after = slurp(csv, &n_after);
    CU_ASSERT(n_before == n_after && before && after && !memcmp(before, after, n_before));
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", csv, (long)getpid());
    CU_ASSERT(!file_exists(tmp));
    free(before);
    free(after);
    nn_history_free(&h);
    nn_net_free(&small);
    nn_net_free(&big);
    CU_ASSERT_EQUAL(umount2(dir, MNT_DETACH), 0);
}

void register_checkpoint_tests(void) {
    CU_pSuite s = CU_add_suite("checkpoint", NULL, NULL);
    CU_add_test(s, "round trip is exact", test_round_trip);
    CU_add_test(s, "h5dump reads the file", test_h5dump);
    CU_add_test(s, "model mismatch fails naming tensor and shapes", test_model_mismatch);
    CU_add_test(s, "optimizer mismatch fails naming both", test_optimizer_mismatch);
    CU_add_test(s, "files that are not checkpoints fail", test_not_a_checkpoint);
    CU_add_test(s, "crash mid-save leaves the old checkpoint intact", test_interrupted_save);
    CU_add_test(s, "save into a missing folder fails", test_save_missing_folder);
    CU_add_test(s, "every state field and class names round trip", test_full_state_round_trip);
    CU_add_test(s, "a checkpoint of an older build loads with defaults", test_legacy_checkpoint_loads);
    CU_add_test(s, "state fields and history shape are validated", test_state_validated);
    CU_add_test(s, "a 9-column history (before test_bal_acc) loads with NaN there",
                test_history_v1_loads);
    CU_add_test(s, "train resumes from a checkpoint with a 9-column history",
                test_resume_history_v1);
    CU_add_test(s, "non-finite tensors are rejected on load", test_nonfinite_rejected_on_load);
    CU_add_test(s, "non-finite tensors are refused on save", test_nonfinite_refused_on_save);
    CU_add_test(s, "a model spec over 64 KB is stored and read", test_large_spec);
    CU_pSuite u = CU_add_suite("fileutil", NULL, NULL);
    CU_add_test(u, "stale temps of dead writers are removed", test_stale_temps);
    CU_add_test(u, "long paths are created, never cut", test_long_paths);
    CU_add_test(u, "a full disk says so and keeps the old files", test_disk_full);
}
