/* train.c: the training loop and evaluation (see train.h). */
#define _POSIX_C_SOURCE 200809L
#include "nn/train.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "nn/error.h"
#include "nn/fileutil.h"
#include "nn/guard.h"
#include "nn/history.h"
#include "nn/augment.h"
#include "nn/loss.h"
#include "nn/plot.h"
#include "nn/sampler.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int nn_evaluate(nn_net *net, const nn_dataset *d, nn_dist *dist, nn_eval_result *r) {
    const int k = (int)nn_net_out_size(net), bs = net->max_n;
    const size_t dim = nn_shape_size(d->shape);
    float *x = nn_alloc((size_t)bs * dim * sizeof(float), "eval batch");
    int *labels = nn_alloc((size_t)bs * sizeof(int), "eval labels");
    uint64_t *ids = nn_alloc((size_t)bs * sizeof(uint64_t), "eval ids");
    const size_t nconf = (size_t)k * k;
    double *acc = nn_calloc(3 + nconf, sizeof(double), "eval counts"); /* loss, correct, n, conf */
    int rc = x && labels && ids && acc ? NN_OK : NN_ERR;
    int *pred = rc == NN_OK ? nn_alloc((size_t)bs * sizeof(int), "eval predictions") : NULL;
    if (!pred) rc = NN_ERR;
    nn_ctx c = {.train = false, .dist = NULL};
    for (size_t i = d->shard.begin; rc == NN_OK && i < d->shard.end; i += (size_t)bs) {
        int n = (int)(d->shard.end - i < (size_t)bs ? d->shard.end - i : (size_t)bs);
        for (int j = 0; j < n; j++) ids[j] = i + (size_t)j;
        rc = nn_dataset_get_batch(d, ids, n, x, labels);
        for (int j = 0; rc == NN_OK && j < n; j++)
            if (labels[j] < 0 || labels[j] >= k)
                rc = nn_fail("%s: sample %zu has label %d, but the model has %d classes "
                             "(0..%d)",
                             d->name, i + (size_t)j, labels[j], k, k - 1);
        if (rc != NN_OK) break;
        c.n = c.global_n = n;
        c.sample_ids = ids;
        const float *logits;
        rc = nn_net_forward(net, &c, x, &logits);
        if (rc != NN_OK) break;
        long correct = 0;
        acc[0] += nn_softmax_xent(logits, labels, n, k, 0.0f, NULL, &correct);
        acc[1] += (double)correct;
        acc[2] += n;
        nn_argmax_rows(logits, n, k, pred);
        for (int j = 0; j < n; j++) acc[3 + (size_t)labels[j] * k + pred[j]] += 1.0;
    }
    nn_guard_arrive(dist);
    rc = nn_dist_check(dist, rc);
    if (rc == NN_OK) rc = nn_dist_allreduce_sum_f64(dist, acc, 3 + nconf);
    if (rc == NN_OK) {
        r->loss_sum = acc[0];
        r->correct = acc[1];
        r->count = acc[2];
        r->classes = k;
        if (r->confusion) memcpy(r->confusion, acc + 3, nconf * sizeof(double));
    }
    free(x), free(labels), free(ids), free(acc), free(pred);
    return rc;
}

/* Where each rank's time goes (--profile, and a summary at the end). */
enum { P_DATA, P_EXCHANGE, P_FORWARD, P_BACKWARD, P_WAIT, P_REDUCE, P_OPTIM, P_EVAL, P_CKPT, P_N };
static const char *const phase_names[P_N] = {"data",   "exchange", "forward", "backward", "wait",
                                             "reduce", "optim",    "eval",    "ckpt"};

/* The metrics tail of the gradient buffer (NN_NET_METRICS floats), summed
 * with the gradients in the step's one reduction. */
enum { M_LOSS, M_CORRECT, M_COUNT, M_ERROR, M_STOP };

/* Sums over an epoch so far (kept in a mid-epoch checkpoint). */
typedef struct {
    double loss, correct, n, seconds;
} epoch_sums;

/* Everything one training run holds. */
typedef struct {
    const nn_train_cfg *cfg;
    nn_dist *dist;
    nn_net net;
    nn_optim opt;
    nn_dataset train, test;
    nn_history hist;
    nn_train_state st;
    const char *resume; /* the checkpoint resumed from (cfg->resume, or auto's pick) */
    float *x;
    int *labels;
    uint64_t *ids;
    uint32_t *order;
    size_t train_count;
    bool shared_grads; /* summed through node-shared memory (nn_dist_shared_buffer) */
    int *owned, *flow, *send_bytes, *recv_bytes; /* slice balancing, per rank */
    unsigned char *xfer;                         /* samples in transit */
    int lock_fd;                                 /* OUT/.lock, held while training (rank 0) */
    double last_save;                            /* when the last checkpoint was written */
    int pending_rc;     /* a periodic save failed on rank 0: reported at the next step */
    bool warned_growth; /* the exploding-loss warning was given */
    double prof[P_N];   /* this rank's seconds per phase, whole run */
    double prof_epoch[P_N];
    char ckpt[1100], csv[1100], best[1100], lock[1100], config[1024];
} trainer;

static void trainer_free(trainer *t) {
    nn_net_free(&t->net);
    nn_optim_free(&t->opt);
    nn_dataset_free(&t->train);
    nn_dataset_free(&t->test);
    nn_history_free(&t->hist);
    free(t->x), free(t->labels), free(t->ids), free(t->order);
    free(t->owned), free(t->xfer);
    if (t->lock_fd >= 0) {
        unlink(t->lock);
        close(t->lock_fd);
    }
}

static void prof_add(trainer *t, int phase, double since) {
    double dt = now() - since;
    t->prof[phase] += dt;
    t->prof_epoch[phase] += dt;
}

/* A net that starts with `normalize` learns its per-channel mean and std
 * from the whole training set (sums over all ranks) before the first step. */
static int adapt_normalize(trainer *t) {
    nn_layer *l = &t->net.layers[0];
    if (strcmp(l->ops->type, "normalize") != 0) return NN_OK;
    const int C = l->in.c;
    double *s = nn_calloc(3 * (size_t)C, sizeof(double), "channel sums");
    int rc = s ? nn_dataset_channel_sums(&t->train, s, s + C, s + 2 * C) : NN_ERR;
    rc = nn_dist_check(t->dist, rc);
    if (rc == NN_OK) rc = nn_dist_allreduce_sum_f64(t->dist, s, 3 * (size_t)C);
    for (int k = 0; rc == NN_OK && k < C; k++) {
        double m = s[k] / s[2 * C + k], v = s[C + k] / s[2 * C + k] - m * m;
        l->state[k] = (float)m;
        l->state[C + k] = v > 1e-12 ? (float)sqrt(v) : 1.0f;
    }
    free(s);
    return rc;
}

/* A sample in transit between ranks: id (8 bytes), label (4), padding (4), pixels. */
static size_t xfer_record(size_t dim) { return 16 + dim * sizeof(float); }

/* ---- start-up checks: everything that would otherwise fail late ---- */

/* --out, on rank 0, before any data is read: a folder (made if missing) this
 * process can write, with a path the checkpoint names fit in, and not in use
 * by another trainer (a POSIX record lock on OUT/.lock: the kernel drops it
 * when its holder dies, so a lock file left by a killed run is no obstacle). */
static int prepare_out(trainer *t) {
    const char *out = t->cfg->out_dir;
    const size_t len = strlen(out);
    if (len == 0) return nn_fail("--out: empty path");
    if (len > 1000)
        return nn_fail("--out: a path of %zu characters; at most 1000 (the checkpoint's name "
                       "is built from it)",
                       len);
    struct stat sb;
    if (stat(out, &sb) == 0 && !S_ISDIR(sb.st_mode))
        return nn_fail("--out %s: exists and is not a folder", out);
    NN_TRY(nn_mkdirs(out));
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/.nntrain-probe.%ld", out, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return nn_fail("--out %s: cannot write there (%s)", out, strerror(errno));
    close(fd);
    unlink(probe);

    snprintf(t->lock, sizeof t->lock, "%s/.lock", out);
    fd = open(t->lock, O_RDWR | O_CREAT, 0644);
    if (fd < 0) return nn_fail("%s: cannot create the lock file (%s)", t->lock, strerror(errno));
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        char who[256] = "";
        ssize_t n = pread(fd, who, sizeof who - 1, 0);
        who[n > 0 ? n : 0] = 0;
        who[strcspn(who, "\n")] = 0;
        close(fd);
        return nn_fail("--out %s is in use by another training (%s); two runs on one folder "
                       "would overwrite each other's checkpoint. HINT: another --out",
                       out, *who ? who : "its lock file names no process");
    }
    char host[128] = "?", who[300];
    gethostname(host, sizeof host - 1);
    int n = snprintf(who, sizeof who, "pid %ld on %s\n", (long)getpid(), host);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, who, (size_t)n, 0) != n) {
        int e = errno;
        close(fd);
        return nn_fail("%s: cannot write the lock file (%s)", t->lock, strerror(e));
    }
    t->lock_fd = fd;
    snprintf(t->ckpt, sizeof t->ckpt, "%s/checkpoint.h5", out);
    snprintf(t->csv, sizeof t->csv, "%s/history.csv", out);
    snprintf(t->best, sizeof t->best, "%s/best.h5", out);
    /* What a save killed half way left behind (this run holds the lock). */
    const char *const mine[3] = {t->ckpt, t->csv, t->best};
    for (int i = 0; i < 3; i++) NN_TRY(nn_remove_stale_temps(mine[i]) < 0 ? NN_ERR : NN_OK);
    return NN_OK;
}

/* Room for two checkpoints (the old one stays until the new one is whole). */
static int check_space(const trainer *t) {
    struct statvfs vs;
    if (statvfs(t->cfg->out_dir, &vs) != 0) return NN_OK; /* not knowable: let the save say */
    const double ckpt = (double)(t->net.nparams * (1 + (size_t)t->opt.nslots) + t->net.nstate) *
                            sizeof(float) + 65536.0 + (double)strlen(t->net.spec);
    const double need = 2 * ckpt * (t->cfg->keep_best ? 2 : 1);
    const double avail = (double)vs.f_bavail * (double)vs.f_frsize;
    if (avail < need)
        return nn_fail("--out %s: %.1f MB free, but this model's checkpoint takes about %.1f MB "
                       "and a save needs room for the old and the new one%s (%.1f MB)",
                       t->cfg->out_dir, avail / 1e6, ckpt / 1e6,
                       t->cfg->keep_best ? ", twice with --keep-best" : "", need / 1e6);
    return NN_OK;
}

/* The test split must be the same problem as the train split. */
static int check_splits(const trainer *t) {
    const nn_dataset *a = &t->train, *b = &t->test;
    const char *data = t->cfg->data;
    if (a->shape.c != b->shape.c || a->shape.h != b->shape.h || a->shape.w != b->shape.w)
        return nn_fail("--data %s: test samples are %dx%dx%d (CxHxW) but training samples "
                       "%dx%dx%d; HINT: for image folders fix the size with folder:DIR:CxS",
                       data, b->shape.c, b->shape.h, b->shape.w, a->shape.c, a->shape.h,
                       a->shape.w);
    if (a->classes != b->classes) {
        char la[400] = "", lb[400] = "";
        if (a->class_names) nn_class_names_list(la, sizeof la, a->class_names, a->classes);
        if (b->class_names) nn_class_names_list(lb, sizeof lb, b->class_names, b->classes);
        return nn_fail("--data %s: the test split has %d classes%s%s%s but the training split "
                       "%d%s%s%s",
                       data, b->classes, *lb ? " (" : "", lb, *lb ? ")" : "", a->classes,
                       *la ? " (" : "", la, *la ? ")" : "");
    }
    char wa[300], wb[300];
    snprintf(wa, sizeof wa, "the training split of %s", data);
    snprintf(wb, sizeof wb, "its test split");
    return nn_class_names_check(wa, a->class_names, wb, b->class_names, a->classes);
}

/* A resumed run continues the same training: the same data, batch, limit
 * and seed (checkpoints of older builds record only the seed). */
static int check_resume(const trainer *t) {
    const nn_train_cfg *cfg = t->cfg;
    const nn_train_state *s = &t->st;
    const char *f = t->resume;
    if (s->seed != cfg->seed)
        return nn_fail("%s: trained with --seed %llu, this run has --seed %llu; HINT: a resumed "
                       "run continues the same sample order: pass --seed %llu",
                       f, (unsigned long long)s->seed, (unsigned long long)cfg->seed,
                       (unsigned long long)s->seed);
    if (s->batch > 0 && s->batch != cfg->batch)
        return nn_fail("%s: trained with --batch %d, this run has --batch %d; HINT: pass --batch "
                       "%d, or start a new run in another --out",
                       f, s->batch, cfg->batch, s->batch);
    if (s->batch > 0 && s->train_limit != cfg->train_limit)
        return nn_fail("%s: trained with --limit %ld, this run has --limit %ld (0 = all)", f,
                       s->train_limit, cfg->train_limit);
    if (s->data[0] && strcmp(s->data, cfg->data) != 0)
        return nn_fail("%s: trained on --data %s, this run has --data %s", f, s->data, cfg->data);
    const size_t nb = nn_sampler_batches(t->train_count, (size_t)cfg->batch);
    if (s->epoch_step >= nb)
        return nn_fail("%s: state/epoch_step %llu is past the epoch's %zu batches", f,
                       (unsigned long long)s->epoch_step, nb);
    if (cfg->epochs < s->epoch || (cfg->epochs == s->epoch && s->epoch_step > 0))
        return nn_fail("%s: already trained for %d epochs, more than --epochs %d; HINT: --epochs "
                       "is the total to reach, e.g. --epochs %d",
                       f, s->epoch, cfg->epochs, s->epoch + 1);
    return NN_OK;
}

/* Which checkpoint to resume: --resume FILE, or with --resume auto
 * OUT/checkpoint.h5 when it exists (rank 0 looks; everyone is told). */
static int pick_resume(trainer *t) {
    const char *r = t->cfg->resume;
    if (!r || strcmp(r, "auto") != 0) {
        t->resume = r;
        return NN_OK;
    }
    int found = t->dist->rank == 0 && access(t->ckpt, F_OK) == 0;
    NN_TRY(nn_dist_bcast(t->dist, &found, sizeof found, 0));
    if (found) {
        NN_TRY(nn_dist_bcast(t->dist, t->ckpt, sizeof t->ckpt, 0));
        t->resume = t->ckpt;
    }
    return NN_OK;
}

/* Build the net (from the checkpoint's spec when resuming), the optimizer,
 * and load this rank's shards. Collective: all ranks succeed or all fail. */
static int trainer_setup(trainer *t) {
    const nn_train_cfg *cfg = t->cfg;
    nn_dist *dist = t->dist;
    int rc = dist->rank == 0 && cfg->out_dir ? prepare_out(t) : NN_OK;
    NN_TRY(nn_dist_check(dist, rc));
    NN_TRY(pick_resume(t));

    nn_part part = {dist->rank, dist->size, 0};
    nn_part train_part = {dist->rank, dist->size, cfg->train_limit > 0 ? (size_t)cfg->train_limit : 0};
    rc = nn_data_open(&t->train, cfg->data, "train", train_part);
    if (rc == NN_OK) rc = nn_data_open(&t->test, cfg->data, "test", part);
    if (rc == NN_OK) rc = check_splits(t);
    NN_TRY(nn_dist_check(dist, rc));
    t->train_count = t->train.count;

    char *spec = NULL;
    nn_shape in = t->train.shape;
    int classes = t->train.classes;
    if (t->resume) {
        rc = nn_ckpt_read_model(t->resume, &spec, &in, &classes);
        if (rc == NN_OK && (in.c != t->train.shape.c || in.h != t->train.shape.h ||
                            in.w != t->train.shape.w || classes != t->train.classes))
            rc = nn_fail("%s: checkpoint is for input (%d, %d, %d) with %d classes, the data "
                         "set %s has (%d, %d, %d) with %d",
                         t->resume, in.c, in.h, in.w, classes, cfg->data, t->train.shape.c,
                         t->train.shape.h, t->train.shape.w, t->train.classes);
        char **names = NULL;
        if (rc == NN_OK) rc = nn_ckpt_read_class_names(t->resume, classes, &names);
        if (rc == NN_OK) rc = nn_class_names_check(t->resume, names, cfg->data, t->train.class_names, classes);
        nn_ckpt_free_names(names, classes);
    } else {
        spec = nn_model_resolve(cfg->model, cfg->hidden, classes);
        if (!spec) rc = NN_ERR;
    }
    /* Evaluation runs in chunks of the batch size: conv layers' column
     * buffers grow with it. */
    int max_n = cfg->batch;
    if (rc == NN_OK)
        rc = nn_net_create(&t->net, spec, t->resume ? t->resume : nn_model_origin(cfg->model),
                           in, classes, max_n,
                           nn_backend_cpu());
    free(spec);
    if (rc == NN_OK) rc = nn_optim_create(&t->opt, &cfg->optim, t->net.nparams);
    if (rc == NN_OK && dist->rank == 0 && cfg->out_dir) rc = check_space(t);
    NN_TRY(nn_dist_check(dist, rc));

    nn_net_init(&t->net, cfg->seed);
    t->st = (nn_train_state){.seed = cfg->seed, .batch = cfg->batch,
                             .train_limit = cfg->train_limit, .best_acc = -1};
    snprintf(t->st.data, sizeof t->st.data, "%s", cfg->data);
    if (!t->resume) NN_TRY(adapt_normalize(t));
    if (t->resume) {
        /* Rank 0 reads, everyone receives: one source of truth. */
        rc = dist->rank == 0 ? nn_ckpt_load(t->resume, &t->net, &t->opt, &t->st, &t->hist)
                             : NN_OK;
        if (rc == NN_OK && dist->rank == 0) rc = check_resume(t);
        /* The checkpoint is the record: a history.csv written after it (a
         * kill between the two writes) is made to agree with it again. */
        if (rc == NN_OK && dist->rank == 0 && cfg->out_dir && t->hist.rows > 0)
            rc = nn_history_write_csv(&t->hist, t->csv);
        NN_TRY(nn_dist_check(dist, rc));
        NN_TRY(nn_dist_bcast(dist, &t->st, sizeof t->st, 0));
        NN_TRY(nn_dist_bcast(dist, &t->opt.t, sizeof t->opt.t, 0));
        for (int s = 0; s < t->opt.nslots; s++)
            NN_TRY(nn_dist_bcast(dist, t->opt.slot[s], t->net.nparams * sizeof(float), 0));
        /* What this run is trained on from now on (older checkpoints record
         * none of it). */
        t->st.batch = cfg->batch, t->st.train_limit = cfg->train_limit;
        snprintf(t->st.data, sizeof t->st.data, "%s", cfg->data);
    }
    NN_TRY(nn_dist_bcast(dist, t->net.params, t->net.nparams * sizeof(float), 0));
    NN_TRY(nn_dist_bcast(dist, t->net.state, t->net.nstate * sizeof(float), 0));

    /* Gradients in node-shared memory when ranks share a node (collective). */
    float *shared = nn_dist_shared_buffer(dist, t->net.nparams + NN_NET_METRICS);
    if (shared) nn_net_use_grads(&t->net, shared);
    t->shared_grads = shared != NULL;

    const size_t dim = nn_shape_size(in);
    t->x = nn_alloc((size_t)cfg->batch * dim * sizeof(float), "batch");
    t->labels = nn_alloc((size_t)cfg->batch * sizeof(int), "labels");
    t->ids = nn_alloc((size_t)cfg->batch * sizeof(uint64_t), "sample ids");
    t->order = nn_alloc(t->train_count * sizeof(uint32_t), "epoch order");
    /* owned, flow (size^2), send and receive byte counts in one block. */
    t->owned = nn_alloc(((size_t)dist->size + 3) * (size_t)dist->size * sizeof(int), "balance plan");
    t->xfer = nn_alloc((size_t)cfg->batch * xfer_record(dim), "sample exchange");
    rc = t->x && t->labels && t->ids && t->order && t->owned && t->xfer ? NN_OK : NN_ERR;
    if (rc == NN_OK) {
        t->flow = t->owned + dist->size;
        t->send_bytes = t->flow + (size_t)dist->size * dist->size;
        t->recv_bytes = t->send_bytes + dist->size;
    }
    snprintf(t->config, sizeof t->config,
             "data=%s epochs=%d batch=%d optim=%s lr=%g seed=%llu train_limit=%ld", cfg->data,
             cfg->epochs, cfg->batch, nn_optim_name(cfg->optim.kind), cfg->sched.base_lr,
             (unsigned long long)cfg->seed, cfg->train_limit);
    return nn_dist_check(dist, rc);
}

/* Even out this step's slices (nn_balance_plan): ranks that own more than
 * their share of global batch b send their last members to ranks that own
 * fewer, as raw records (id, label, pixels) before augmentation. Collective,
 * and skipped by every rank alike when the slices are even already. */
static int balance_slice(trainer *t, size_t b, int *n) {
    nn_dist *d = t->dist;
    const int N = d->size, me = d->rank;
    if (N == 1 || !t->cfg->balance) return NN_OK;
    nn_sampler_owned(t->order, t->train_count, (size_t)t->cfg->batch, b, N, t->owned);
    if (nn_balance_plan(t->owned, N, t->flow) == 0) return NN_OK;
    const size_t dim = nn_shape_size(t->train.shape), rec = xfer_record(dim);
    int out = 0, in = 0;
    for (int r = 0; r < N; r++) {
        out += t->flow[me * N + r], in += t->flow[r * N + me];
        t->send_bytes[r] = t->flow[me * N + r] * (int)rec;
        t->recv_bytes[r] = t->flow[r * N + me] * (int)rec;
    }
    /* A rank either sends or receives, so out + in <= batch records fit. */
    unsigned char *sbuf = t->xfer, *rbuf = t->xfer + (size_t)out * rec;
    const int keep = *n - out;
    for (int j = 0; j < out; j++) {
        unsigned char *r = sbuf + (size_t)j * rec;
        memcpy(r, &t->ids[keep + j], 8);
        memcpy(r + 8, &t->labels[keep + j], 4);
        memcpy(r + 16, t->x + (size_t)(keep + j) * dim, dim * sizeof(float));
    }
    nn_guard_arrive(d);
    NN_TRY(nn_dist_alltoallv(d, sbuf, t->send_bytes, rbuf, t->recv_bytes));
    for (int j = 0; j < in; j++) {
        const unsigned char *r = rbuf + (size_t)j * rec;
        memcpy(&t->ids[keep + j], r, 8);
        memcpy(&t->labels[keep + j], r + 8, 4);
        memcpy(t->x + (size_t)(keep + j) * dim, r + 16, dim * sizeof(float));
    }
    *n = keep + in;
    return NN_OK;
}

static void progress(size_t b, size_t nb, double t0) {
    double el = now() - t0, eta = b ? el / (double)b * (double)(nb - b) : 0;
    int w = 30, fill = (int)((double)w * (double)b / (double)nb);
    fprintf(stderr, "\r  [%.*s%*s] %zu/%zu  %.0fs ETA %.0fs ", fill,
            "==============================", w - fill, "", b, nb, el, eta);
    if (b == nb) fprintf(stderr, "\r%*s\r", 70, "");
}

static size_t first_nonfinite(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return i;
    return n;
}

/* This rank's loss came out NaN or infinite: name where it started, first
 * the parameters (a diverged update), then the layer outputs in order. */
static int diagnose_nonfinite(const trainer *t, int n, int epoch, size_t b, double loss) {
    const nn_net *net = &t->net;
    char where[300] = "no layer output is non-finite (the loss itself overflowed)";
    for (int i = 0; i < net->nlayers; i++) {
        const nn_layer *l = &net->layers[i];
        if (l->nparams && first_nonfinite(l->w, l->nparams) < l->nparams) {
            snprintf(where, sizeof where,
                     "the parameters of layer %s (%d of %d) are non-finite: the previous "
                     "step's update diverged",
                     l->name, i + 1, net->nlayers);
            break;
        }
    }
    for (int i = 0; where[0] == 'n' && i < net->nlayers; i++) {
        const nn_layer *l = &net->layers[i];
        const size_t m = (size_t)n * nn_shape_size(l->out);
        if (first_nonfinite(net->acts[i], m) < m) {
            snprintf(where, sizeof where, "the first non-finite output is layer %s's (%d of %d)",
                     l->name, i + 1, net->nlayers);
            break;
        }
    }
    return nn_fail("the training loss became %g at step %llu (epoch %d, batch %zu): %s; HINT: "
                   "lower --lr (now %g)",
                   loss, (unsigned long long)t->st.step + 1, epoch + 1, b + 1, where,
                   t->cfg->sched.base_lr);
}

static int save_checkpoint(trainer *t, const char *path) {
    double t0 = now();
    int rc = nn_ckpt_save(path, &t->net, &t->opt, &t->st, &t->hist, t->config, t->dist->size,
                          t->train.class_names);
    t->last_save = now();
    prof_add(t, P_CKPT, t0);
    return rc;
}

/* Test hooks: NNTRAIN_TEST_SIGNAL=STEP[:RANK] sends this process SIGTERM
 * as step STEP begins (on RANK only, or every rank), through the real
 * handler; NNTRAIN_TEST_STALL=STEP:RANK stops RANK there with SIGSTOP. */
static void test_hooks(const nn_dist *d, unsigned long long step) {
    static int parsed;
    static unsigned long long at[2];
    static int rank[2];
    if (!parsed) { /* once: this runs every step */
        static const char *const vars[2] = {"NNTRAIN_TEST_SIGNAL", "NNTRAIN_TEST_STALL"};
        for (int k = 0; k < 2; k++) {
            const char *v = getenv(vars[k]);
            char *end = NULL;
            at[k] = v ? strtoull(v, &end, 10) : 0;
            rank[k] = v && *end == ':' ? atoi(end + 1) : (k ? 0 : -1);
        }
        parsed = 1;
    }
    for (int k = 0; k < 2; k++)
        if (at[k] && at[k] == step && (rank[k] < 0 || rank[k] == d->rank))
            raise(k ? SIGSTOP : SIGTERM);
}

/* One epoch of training, from batch st.epoch_step on (a mid-epoch resume),
 * adding to s. Stops early, with *stopped, when a stop signal reached any
 * rank: then st.epoch_step and st.partial say where. */
static int train_epoch(trainer *t, int epoch, epoch_sums *s, double *lr_out, bool *stopped) {
    const nn_train_cfg *cfg = t->cfg;
    nn_net *net = &t->net;
    const int k = (int)nn_net_out_size(net);
    const size_t nb = nn_sampler_batches(t->train_count, (size_t)cfg->batch);
    const bool bar = !cfg->quiet && t->dist->rank == 0 && isatty(2);
    const double every = cfg->checkpoint_every * 60.0;
    float *metrics = net->grads + net->nparams;
    double t0 = now() - s->seconds, last_bar = 0;
    nn_sampler_order(cfg->seed, (uint64_t)epoch, t->train_count, t->order);
    for (size_t b = t->st.epoch_step; b < nb; b++) {
        const unsigned long long step = (unsigned long long)t->st.step + 1;
        test_hooks(t->dist, step);
        nn_guard_progress(step, "reading the batch");
        double tp = now();
        int global_n;
        int n = nn_sampler_slice(t->order, t->train_count, (size_t)cfg->batch, b, t->train.shard,
                                 t->ids, &global_n);
        nn_ctx c = {.train = true, .n = n, .global_n = global_n, .sample_ids = t->ids,
                    .seed = cfg->seed, .epoch = (uint64_t)epoch, .dist = t->dist,
                    .bn_sync = cfg->bn_sync};
        nn_net_zero_grad(net);
        /* Every rank runs the pass even with an empty slice: layers such as
         * synchronised BatchNorm take part in collective reductions. */
        const float *logits;
        int rc = nn_dataset_get_batch(&t->train, t->ids, n, t->x, t->labels);
        /* Every rank takes part in the exchange, even after a failed read
         * (then with harmless zeros): the error travels in the status slot
         * of the allreduce below. */
        if (rc != NN_OK) {
            memset(t->labels, 0, (size_t)n * sizeof(int));
            memset(t->x, 0, (size_t)n * nn_shape_size(t->train.shape) * sizeof(float));
        }
        prof_add(t, P_DATA, tp), tp = now();
        nn_guard_progress(step, "exchanging samples");
        NN_TRY(balance_slice(t, b, &n));
        prof_add(t, P_EXCHANGE, tp), tp = now();
        c.n = n;
        if (rc == NN_OK && (cfg->crop_pad > 0 || cfg->flip)) {
            const nn_augment aug = {.pad = cfg->crop_pad, .flip = cfg->flip};
            const size_t dim = nn_shape_size(t->train.shape);
            for (int j = 0; j < n; j++)
                nn_augment_apply(&aug, t->train.shape, t->x + (size_t)j * dim, cfg->seed,
                                 (uint64_t)epoch, t->ids[j], true);
        }
        prof_add(t, P_DATA, tp), tp = now();
        nn_guard_progress(step, "forward");
        if (rc == NN_OK) rc = nn_net_forward(net, &c, t->x, &logits);
        if (rc == NN_OK) {
            long correct = 0;
            float *dlogits = net->dbuf[net->nlayers & 1];
            double loss = nn_softmax_xent(logits, t->labels, n, k, 1.0f / (float)global_n,
                                          dlogits, &correct);
            if (!isfinite(loss)) rc = diagnose_nonfinite(t, n, epoch, b, loss);
            metrics[M_LOSS] = (float)loss;
            metrics[M_CORRECT] = (float)correct;
            metrics[M_COUNT] = (float)n;
            prof_add(t, P_FORWARD, tp), tp = now();
            nn_guard_progress(step, "backward");
            if (rc == NN_OK) rc = nn_net_backward(net, &c, t->x, dlogits);
            prof_add(t, P_BACKWARD, tp), tp = now();
        }
        if (rc == NN_OK && t->pending_rc != NN_OK) rc = NN_ERR; /* the message is still set */
        /* A failing rank reports 1 in the status slot so every rank stops
         * together; a rank that caught a stop signal reports it the same way. */
        metrics[M_ERROR] = rc == NN_OK ? 0.0f : 1.0f;
        metrics[M_STOP] = nn_guard_stop_signal() ? 1.0f : 0.0f;
        if (rc != NN_OK && t->dist->size == 1) return NN_ERR;
        nn_guard_arrive(t->dist);
        if (cfg->profile) {
            nn_guard_progress(step, "waiting for the other ranks");
            NN_TRY(nn_dist_barrier(t->dist));
            prof_add(t, P_WAIT, tp), tp = now();
        }
        nn_guard_progress(step, "gradient reduction");
        NN_TRY(nn_dist_allreduce_sum(t->dist, net->grads, net->nparams + NN_NET_METRICS));
        prof_add(t, P_REDUCE, tp), tp = now();
        if (metrics[M_ERROR] != 0.0f) return nn_dist_check(t->dist, rc);
        if (!isfinite(metrics[M_LOSS]))
            return nn_fail("the training loss became %f at step %llu (epoch %d, batch %zu); "
                           "HINT: lower --lr (now %g)",
                           metrics[M_LOSS], step, epoch + 1, b + 1, cfg->sched.base_lr);
        float lr = nn_sched_lr(&cfg->sched, epoch + (double)b / (double)nb, cfg->epochs);
        *lr_out = lr;
        nn_optim_step(&t->opt, net->params, net->grads, lr);
        prof_add(t, P_OPTIM, tp);
        t->st.step++;
        s->loss += metrics[M_LOSS];
        s->correct += metrics[M_CORRECT];
        s->n += metrics[M_COUNT];
        s->seconds = now() - t0;
        if (bar && (now() - last_bar > 0.25 || b + 1 == nb)) {
            progress(b + 1, nb, t0); /* at most 4 redraws a second */
            last_bar = now();
        }
        if (b + 1 == nb) break; /* the epoch's end: evaluated and saved by the caller */
        /* Where a checkpoint written now resumes. */
        t->st.epoch_step = b + 1;
        t->st.partial[0] = s->loss, t->st.partial[1] = s->correct;
        t->st.partial[2] = s->n, t->st.partial[3] = s->seconds;
        if (metrics[M_STOP] != 0.0f) {
            *stopped = true;
            return NN_OK;
        }
        /* Periodic checkpoints are rank 0's alone (no collective); a failed
         * one stops every rank at the next step. */
        if (every > 0 && t->dist->rank == 0 && t->cfg->out_dir && now() - t->last_save >= every) {
            nn_guard_progress(step, "writing a checkpoint");
            t->pending_rc = save_checkpoint(t, t->ckpt);
        }
    }
    t->st.epoch_step = 0;
    memset(t->st.partial, 0, sizeof t->st.partial);
    NN_TRY(nn_dist_check(t->dist, t->pending_rc));
    /* Per-rank BatchNorm statistics (--bn local) leave each replica with its
     * own running estimates: average them so every rank evaluates and saves
     * the same model. Synchronised statistics are identical already. */
    if (!cfg->bn_sync && t->dist->size > 1 && net->nstate > 0) {
        NN_TRY(nn_dist_allreduce_sum(t->dist, net->state, net->nstate));
        for (size_t i = 0; i < net->nstate; i++) net->state[i] /= (float)t->dist->size;
    }
    *stopped = metrics[M_STOP] != 0.0f;
    return NN_OK;
}

/* Every rank must end with bitwise identical parameters: compare a hash of
 * them (min and max over ranks must agree). Cheap, and it catches any
 * nondeterminism that would make replicas drift apart. */
static int check_replicas(trainer *t) {
    uint64_t h = 1469598103934665603ULL;
    const unsigned char *p = (const unsigned char *)t->net.params;
    for (size_t i = 0; i < t->net.nparams * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ULL;
    h >>= 24; /* 40 bits: a sum over up to 2^13 ranks stays exact in a double */
    if (t->dist->size > 1) {
        /* All equal <=> on every rank, sum over ranks == size * own value. */
        double sum = (double)h;
        NN_TRY(nn_dist_allreduce_sum_f64(t->dist, &sum, 1));
        double differs = sum == (double)h * t->dist->size ? 0.0 : 1.0;
        NN_TRY(nn_dist_allreduce_sum_f64(t->dist, &differs, 1));
        if (differs != 0.0)
            return nn_fail("parameters differ between ranks after training (replica drift)");
    }
    if (t->dist->rank == 0 && !t->cfg->quiet)
        printf("parameters identical on all %d rank(s) (hash %010llx)\n", t->dist->size,
               (unsigned long long)h);
    return NN_OK;
}

/* Per-rank seconds per phase (collective): one row a rank, the slowest
 * rank (most compute) named. Without --profile waiting is inside reduce. */
static int report_profile(trainer *t, const double *mine, const char *title) {
    nn_dist *d = t->dist;
    double *all = nn_calloc((size_t)d->size * P_N, sizeof(double), "profile");
    if (!all) return NN_ERR;
    memcpy(all + (size_t)d->rank * P_N, mine, P_N * sizeof(double));
    int rc = nn_dist_allreduce_sum_f64(d, all, (size_t)d->size * P_N);
    if (rc == NN_OK && d->rank == 0) {
        printf("time per rank, %s (seconds%s):\n          ", title,
               t->cfg->profile ? "" : "; reduce includes waiting for the other ranks");
        for (int p = 0; p < P_N; p++) printf(" %9s", phase_names[p]);
        printf("\n");
        int slow = 0;
        double worst = -1, sum = 0;
        for (int r = 0; r < d->size; r++) {
            const double *v = all + (size_t)r * P_N;
            printf("  rank %-3d", r);
            for (int p = 0; p < P_N; p++) printf(" %9.2f", v[p]);
            printf("\n");
            double work = v[P_DATA] + v[P_FORWARD] + v[P_BACKWARD] + v[P_OPTIM];
            sum += work;
            if (work > worst) worst = work, slow = r;
        }
        if (d->size > 1)
            printf("  slowest rank: %d (%.2f s of data + forward + backward + optim; mean %.2f "
                   "s)\n",
                   slow, worst, sum / d->size);
        fflush(stdout);
    }
    free(all);
    return rc;
}

/* Agree whether any rank caught a stop signal (collective). */
static int any_stop(nn_dist *d, bool *stop) {
    double v = nn_guard_stop_signal() ? 1.0 : 0.0;
    NN_TRY(nn_dist_allreduce_sum_f64(d, &v, 1));
    *stop = v > 0;
    return NN_OK;
}

/* One line per rank; the checkpoint (if any) is already written. */
static void report_stop(const trainer *t, bool wrote) {
    const int sig = nn_guard_stop_signal();
    const char *got = sig ? nn_guard_signal_name(sig) : "no signal here: another rank's";
    if (t->dist->rank == 0 && wrote)
        fprintf(stderr,
                "nntrain: stopped by a signal (%s) after step %llu (epoch %d, %llu batches "
                "into it); wrote %s; continue with --resume auto or --resume %s (exit status "
                "%d)\n",
                got, (unsigned long long)t->st.step, t->st.epoch + 1,
                (unsigned long long)t->st.epoch_step, t->ckpt, t->ckpt, NN_EXIT_STOPPED);
    else if (t->dist->rank == 0)
        fprintf(stderr,
                "nntrain: stopped by a signal (%s) before the first step; nothing written "
                "(exit status %d)\n",
                got, NN_EXIT_STOPPED);
    else
        fprintf(stderr, "nntrain: rank %d: stopped by a signal (%s) after step %llu\n",
                t->dist->rank, got, (unsigned long long)t->st.step);
}

/* After an epoch: the history row, the line, the checkpoint (rank 0). */
static int end_epoch(trainer *t, int epoch, const epoch_sums *s, double wait, double lr,
                     const nn_eval_result *ev) {
    const nn_train_cfg *cfg = t->cfg;
    double row[NN_H_COLS] = {epoch + 1,
                             s->loss / s->n,
                             s->correct / s->n,
                             ev->loss_sum / ev->count,
                             ev->correct / ev->count,
                             s->seconds,
                             (double)t->train_count / s->seconds,
                             wait / s->seconds,
                             lr};
    if (t->dist->rank != 0) return NN_OK;
    NN_TRY(nn_history_add(&t->hist, row));
    if (!cfg->quiet)
        printf("%5d %10.4f %9.4f %10.4f %9.4f %8.2f %10.0f %8.1f%%\n", epoch + 1,
               row[NN_H_TRAIN_LOSS], row[NN_H_TRAIN_ACC], row[NN_H_TEST_LOSS], row[NN_H_TEST_ACC],
               s->seconds, row[NN_H_IMAGES_PER_S], 100.0 * row[NN_H_WAIT_SHARE]);
    const double first = t->hist.v[NN_H_TRAIN_LOSS];
    if (!t->warned_growth && t->hist.rows > 1 && row[NN_H_TRAIN_LOSS] > 10 * first) {
        t->warned_growth = true;
        fprintf(stderr,
                "nntrain: warning: the training loss %.4g at epoch %d is over 10x the first "
                "epoch's (%.4g): training is diverging; HINT: lower --lr (now %g)\n",
                row[NN_H_TRAIN_LOSS], epoch + 1, first, cfg->sched.base_lr);
    }
    fflush(stdout);
    if (!cfg->out_dir) return NN_OK;
    const bool best = row[NN_H_TEST_ACC] > t->st.best_acc;
    if (best) t->st.best_acc = row[NN_H_TEST_ACC];
    NN_TRY(save_checkpoint(t, t->ckpt));
    NN_TRY(nn_history_write_csv(&t->hist, t->csv));
    if (cfg->keep_best && best) NN_TRY(save_checkpoint(t, t->best));
    return NN_OK;
}

static void print_banner(const trainer *t) {
    const nn_train_cfg *cfg = t->cfg;
    const nn_dist *dist = t->dist;
    printf("nntrain: %s, %d rank(s) x %d OpenBLAS thread(s) (%s kernel), train %zu / test "
           "%zu samples, %zu parameters, optimizer %s\n",
           cfg->data, dist->size, nn_blas_threads(), nn_blas_corename(), t->train_count,
           t->test.count, t->net.nparams, nn_optim_name(cfg->optim.kind));
    if (dist->size > 1)
        printf("gradients summed %s; slices %s\n",
               t->shared_grads ? "through node-shared memory" : "with MPI_Allreduce",
               cfg->balance ? "balanced by passing samples" : "as owned (--no-balance)");
    if (t->resume)
        printf("resuming %s after epoch %d%s (step %llu)\n", t->resume, t->st.epoch,
               t->st.epoch_step ? " and part of the next" : "", (unsigned long long)t->st.step);
    printf("%5s %10s %9s %10s %9s %8s %10s %9s\n", "epoch", "train_loss", "train_acc",
           "test_loss", "test_acc", "seconds", "images/s", "allreduce");
    fflush(stdout);
}

int nn_train(const nn_train_cfg *cfg, nn_dist *dist) {
    nn_guard_signals();
    trainer t = {.cfg = cfg, .dist = dist, .lock_fd = -1, .pending_rc = NN_OK};
    int rc = trainer_setup(&t);
    bool stop = false, wrote = false;
    if (rc == NN_OK) rc = any_stop(dist, &stop);
    if (rc == NN_OK && !stop && t.st.epoch == cfg->epochs && t.st.epoch_step == 0) {
        if (dist->rank == 0)
            printf("nntrain: %s is already trained for %d epochs (--epochs %d): nothing to do\n",
                   t.resume, t.st.epoch, cfg->epochs);
        trainer_free(&t);
        return NN_OK;
    }
    if (rc == NN_OK && !stop) rc = nn_guard_watchdog_start(dist, cfg->step_timeout);
    if (rc == NN_OK && !stop && dist->rank == 0 && !cfg->quiet) print_banner(&t);
    t.last_save = now();
    for (int epoch = t.st.epoch; rc == NN_OK && !stop && epoch < cfg->epochs; epoch++) {
        double w0 = dist->wait_seconds, lr = 0;
        epoch_sums s = {t.st.partial[0], t.st.partial[1], t.st.partial[2], t.st.partial[3]};
        memset(t.prof_epoch, 0, sizeof t.prof_epoch);
        rc = train_epoch(&t, epoch, &s, &lr, &stop);
        if (rc != NN_OK) break;
        if (t.st.epoch_step > 0) { /* stopped inside the epoch */
            if (dist->rank == 0 && cfg->out_dir) rc = save_checkpoint(&t, t.ckpt);
            rc = nn_dist_check(dist, rc);
            wrote = rc == NN_OK && cfg->out_dir;
            break;
        }
        double wait = dist->wait_seconds - w0, te = now();
        nn_guard_progress(t.st.step, "evaluation");
        nn_eval_result ev = {0};
        rc = nn_evaluate(&t.net, &t.test, dist, &ev);
        prof_add(&t, P_EVAL, te);
        if (rc != NN_OK) break;
        t.st.epoch = epoch + 1;
        nn_guard_progress(t.st.step, "writing the checkpoint");
        rc = nn_dist_check(dist, end_epoch(&t, epoch, &s, wait, lr, &ev));
        memset(t.st.partial, 0, sizeof t.st.partial);
        if (rc == NN_OK && cfg->profile) rc = report_profile(&t, t.prof_epoch, "this epoch");
        /* A signal during evaluation or the save stops here, once saved. */
        if (rc == NN_OK && !stop) rc = any_stop(dist, &stop);
        if (stop && t.st.epoch == cfg->epochs) stop = false; /* finished anyway */
        wrote = cfg->out_dir != NULL;
    }
    nn_guard_watchdog_stop();
    if (rc == NN_OK) rc = check_replicas(&t);
    if (rc == NN_OK && !cfg->quiet) rc = report_profile(&t, t.prof, "whole run");
    if (rc == NN_OK && stop) {
        report_stop(&t, wrote);
        trainer_free(&t);
        return NN_TRAIN_STOPPED;
    }
    if (rc == NN_OK && dist->rank == 0 && cfg->out_dir && !cfg->quiet)
        printf("wrote %s and %s\n", t.ckpt, t.csv);
    /* Learning curves: a convenience, so a missing gnuplot only warns. */
    if (rc == NN_OK && dist->rank == 0 && cfg->out_dir && cfg->plot &&
        nn_plot_run(cfg->out_dir) != NN_OK)
        fprintf(stderr, "nntrain: warning: no plots: %s\n", nn_errmsg());
    trainer_free(&t);
    return rc;
}
