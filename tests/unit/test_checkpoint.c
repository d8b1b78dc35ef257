/* test_checkpoint.c: HDF5 checkpoints: exact round trip (weights, optimizer
 * slots and step count, training state, history), h5dump readability, model
 * and optimizer mismatch, files that are not checkpoints, a save interrupted
 * by a crash, and a save into a missing folder. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nn/checkpoint.h"
#include "nn/error.h"
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
        nn_train_state st = {3, 42, 7};
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
    nn_train_state sa = {3, 42, 7};
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
    nn_train_state sb = {0, 0, 0};
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
    expect_not_checkpoint(path, "not an HDF5 file");

    snprintf(path, sizeof path, "%s", tu_path("ckpt_empty.h5"));
    tu_write_file(path, "", 0, 0);
    expect_not_checkpoint(path, "not an HDF5 file");

    /* First half of a real checkpoint. */
    size_t n = 0;
    unsigned char *bytes = slurp(reference_checkpoint(), &n);
    CU_ASSERT_FATAL(bytes != NULL && n > 1000);
    snprintf(path, sizeof path, "%s", tu_path("ckpt_half.h5"));
    tu_write_file(path, bytes, n / 2, 0);
    free(bytes);
    expect_not_checkpoint(path, NULL);

    /* A valid HDF5 file without the format attribute. */
    snprintf(path, sizeof path, "%s", tu_path("ckpt_plain.h5"));
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    CU_ASSERT(H5Fclose(f) >= 0);
    expect_not_checkpoint(path, "not an nntrain checkpoint");

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
    nn_train_state st = {1, 10, 3};
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
    nn_train_state sc = {0, 0, 0};
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

void register_checkpoint_tests(void) {
    CU_pSuite s = CU_add_suite("checkpoint", NULL, NULL);
    CU_add_test(s, "round trip is exact", test_round_trip);
    CU_add_test(s, "h5dump reads the file", test_h5dump);
    CU_add_test(s, "model mismatch fails naming tensor and shapes", test_model_mismatch);
    CU_add_test(s, "optimizer mismatch fails naming both", test_optimizer_mismatch);
    CU_add_test(s, "files that are not checkpoints fail", test_not_a_checkpoint);
    CU_add_test(s, "crash mid-save leaves the old checkpoint intact", test_interrupted_save);
    CU_add_test(s, "save into a missing folder fails", test_save_missing_folder);
}
