/* train.c: the training loop and evaluation (see train.h). */
#define _POSIX_C_SOURCE 200809L
#include "nn/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nn/error.h"
#include "nn/fileutil.h"
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

/* Everything one training run holds. */
typedef struct {
    const nn_train_cfg *cfg;
    nn_dist *dist;
    nn_net net;
    nn_optim opt;
    nn_dataset train, test;
    nn_history hist;
    nn_train_state st;
    float *x;
    int *labels;
    uint64_t *ids;
    uint32_t *order;
    size_t train_count;
    bool shared_grads; /* summed through node-shared memory (nn_dist_shared_buffer) */
    int *owned, *flow, *send_bytes, *recv_bytes; /* slice balancing, per rank */
    unsigned char *xfer;                         /* samples in transit */
    char ckpt[1100], csv[1100], config[512];
} trainer;

static void trainer_free(trainer *t) {
    nn_net_free(&t->net);
    nn_optim_free(&t->opt);
    nn_dataset_free(&t->train);
    nn_dataset_free(&t->test);
    nn_history_free(&t->hist);
    free(t->x), free(t->labels), free(t->ids), free(t->order);
    free(t->owned), free(t->xfer);
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

/* Build the net (from the checkpoint's spec when resuming), the optimizer,
 * and load this rank's shards. Collective: all ranks succeed or all fail. */
static int trainer_setup(trainer *t) {
    const nn_train_cfg *cfg = t->cfg;
    nn_dist *dist = t->dist;
    nn_part part = {dist->rank, dist->size, 0};
    nn_part train_part = {dist->rank, dist->size, cfg->train_limit > 0 ? (size_t)cfg->train_limit : 0};
    int rc = nn_data_open(&t->train, cfg->data, "train", train_part);
    if (rc == NN_OK) rc = nn_data_open(&t->test, cfg->data, "test", part);
    NN_TRY(nn_dist_check(dist, rc));
    t->train_count = t->train.count;

    char *spec = NULL;
    nn_shape in = t->train.shape;
    int classes = t->train.classes;
    if (cfg->resume) {
        rc = nn_ckpt_read_model(cfg->resume, &spec, &in, &classes);
        if (rc == NN_OK && (in.c != t->train.shape.c || in.h != t->train.shape.h ||
                            in.w != t->train.shape.w || classes != t->train.classes))
            rc = nn_fail("%s: checkpoint is for input (%d, %d, %d) with %d classes, the data "
                         "set %s has (%d, %d, %d) with %d",
                         cfg->resume, in.c, in.h, in.w, classes, cfg->data, t->train.shape.c,
                         t->train.shape.h, t->train.shape.w, t->train.classes);
    } else {
        spec = nn_model_resolve(cfg->model, cfg->hidden, classes);
        if (!spec) rc = NN_ERR;
    }
    /* Evaluation runs in chunks of the batch size: conv layers' column
     * buffers grow with it. */
    int max_n = cfg->batch;
    if (rc == NN_OK)
        rc = nn_net_create(&t->net, spec, cfg->resume ? cfg->resume : "--model", in, classes,
                           max_n, nn_backend_cpu());
    free(spec);
    if (rc == NN_OK) rc = nn_optim_create(&t->opt, &cfg->optim, t->net.nparams);
    NN_TRY(nn_dist_check(dist, rc));

    nn_net_init(&t->net, cfg->seed);
    t->st = (nn_train_state){.epoch = 0, .step = 0, .seed = cfg->seed};
    if (!cfg->resume) NN_TRY(adapt_normalize(t));
    if (cfg->resume) {
        /* Rank 0 reads, everyone receives: one source of truth. */
        rc = dist->rank == 0 ? nn_ckpt_load(cfg->resume, &t->net, &t->opt, &t->st, &t->hist)
                             : NN_OK;
        NN_TRY(nn_dist_check(dist, rc));
        NN_TRY(nn_dist_bcast(dist, &t->st, sizeof t->st, 0));
        NN_TRY(nn_dist_bcast(dist, &t->opt.t, sizeof t->opt.t, 0));
        for (int s = 0; s < t->opt.nslots; s++)
            NN_TRY(nn_dist_bcast(dist, t->opt.slot[s], t->net.nparams * sizeof(float), 0));
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
    if (rc == NN_OK && dist->rank == 0 && cfg->out_dir) {
        rc = nn_mkdirs(cfg->out_dir);
        snprintf(t->ckpt, sizeof t->ckpt, "%s/checkpoint.h5", cfg->out_dir);
        snprintf(t->csv, sizeof t->csv, "%s/history.csv", cfg->out_dir);
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

/* One epoch of training; fills loss/acc/images over the whole global data. */
static int train_epoch(trainer *t, int epoch, double *loss, double *acc, double *lr_out) {
    const nn_train_cfg *cfg = t->cfg;
    nn_net *net = &t->net;
    const int k = (int)nn_net_out_size(net);
    const size_t nb = nn_sampler_batches(t->train_count, (size_t)cfg->batch);
    const bool bar = !cfg->quiet && t->dist->rank == 0 && isatty(2);
    float *metrics = net->grads + net->nparams;
    double tot_loss = 0, tot_correct = 0, tot_n = 0, t0 = now(), last_bar = 0;
    nn_sampler_order(cfg->seed, (uint64_t)epoch, t->train_count, t->order);
    for (size_t b = 0; b < nb; b++) {
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
        NN_TRY(balance_slice(t, b, &n));
        c.n = n;
        if (rc == NN_OK && (cfg->crop_pad > 0 || cfg->flip)) {
            const nn_augment aug = {.pad = cfg->crop_pad, .flip = cfg->flip};
            const size_t dim = nn_shape_size(t->train.shape);
            for (int j = 0; j < n; j++)
                nn_augment_apply(&aug, t->train.shape, t->x + (size_t)j * dim, cfg->seed,
                                 (uint64_t)epoch, t->ids[j], true);
        }
        if (rc == NN_OK) rc = nn_net_forward(net, &c, t->x, &logits);
        if (rc == NN_OK) {
            long correct = 0;
            float *dlogits = net->dbuf[net->nlayers & 1];
            metrics[0] = (float)nn_softmax_xent(logits, t->labels, n, k, 1.0f / (float)global_n,
                                                dlogits, &correct);
            metrics[1] = (float)correct;
            metrics[2] = (float)n;
            rc = nn_net_backward(net, &c, t->x, dlogits);
        }
        /* A failing rank reports 1 in the status slot so every rank stops together. */
        metrics[3] = rc == NN_OK ? 0.0f : 1.0f;
        if (rc != NN_OK && t->dist->size == 1) return NN_ERR;
        NN_TRY(nn_dist_allreduce_sum(t->dist, net->grads, net->nparams + NN_NET_METRICS));
        if (metrics[3] != 0.0f) return nn_dist_check(t->dist, rc);
        if (!isfinite(metrics[0]))
            return nn_fail("the training loss became %f at epoch %d, batch %zu; HINT: lower "
                           "--lr (now %g)",
                           metrics[0], epoch + 1, b + 1, cfg->sched.base_lr);
        float lr = nn_sched_lr(&cfg->sched, epoch + (double)b / (double)nb, cfg->epochs);
        *lr_out = lr;
        nn_optim_step(&t->opt, net->params, net->grads, lr);
        t->st.step++;
        tot_loss += metrics[0];
        tot_correct += metrics[1];
        tot_n += metrics[2];
        if (bar && (now() - last_bar > 0.25 || b + 1 == nb)) {
            progress(b + 1, nb, t0); /* at most 4 redraws a second */
            last_bar = now();
        }
    }
    *loss = tot_loss / tot_n;
    *acc = tot_correct / tot_n;
    /* Per-rank BatchNorm statistics (--bn local) leave each replica with its
     * own running estimates: average them so every rank evaluates and saves
     * the same model. Synchronised statistics are identical already. */
    if (!cfg->bn_sync && t->dist->size > 1 && net->nstate > 0) {
        NN_TRY(nn_dist_allreduce_sum(t->dist, net->state, net->nstate));
        for (size_t i = 0; i < net->nstate; i++) net->state[i] /= (float)t->dist->size;
    }
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

int nn_train(const nn_train_cfg *cfg, nn_dist *dist) {
    trainer t = {.cfg = cfg, .dist = dist};
    int rc = trainer_setup(&t);
    if (rc == NN_OK && dist->rank == 0 && !cfg->quiet) {
        printf("nntrain: %s, %d rank(s) x %d OpenBLAS thread(s) (%s kernel), train %zu / test "
               "%zu samples, %zu parameters, optimizer %s\n",
               cfg->data, dist->size, nn_blas_threads(), nn_blas_corename(), t.train_count,
               t.test.count, t.net.nparams, nn_optim_name(cfg->optim.kind));
        if (dist->size > 1)
            printf("gradients summed %s; slices %s\n",
                   t.shared_grads ? "through node-shared memory" : "with MPI_Allreduce",
                   cfg->balance ? "balanced by passing samples" : "as owned (--no-balance)");
        if (t.st.epoch > 0) printf("resuming after epoch %d (step %llu)\n", t.st.epoch,
                                   (unsigned long long)t.st.step);
        printf("%5s %10s %9s %10s %9s %8s %10s %9s\n", "epoch", "train_loss", "train_acc",
               "test_loss", "test_acc", "seconds", "images/s", "allreduce");
        fflush(stdout);
    }
    for (int epoch = t.st.epoch; rc == NN_OK && epoch < cfg->epochs; epoch++) {
        double t0 = now(), w0 = dist->wait_seconds, loss = 0, acc = 0, lr = 0;
        rc = train_epoch(&t, epoch, &loss, &acc, &lr);
        if (rc != NN_OK) break;
        double secs = now() - t0, wait = dist->wait_seconds - w0;
        nn_eval_result ev = {0};
        rc = nn_evaluate(&t.net, &t.test, dist, &ev);
        if (rc != NN_OK) break;
        t.st.epoch = epoch + 1;
        double row[NN_H_COLS] = {epoch + 1,
                                 loss,
                                 acc,
                                 ev.loss_sum / ev.count,
                                 ev.correct / ev.count,
                                 secs,
                                 (double)t.train_count / secs,
                                 wait / secs,
                                 lr};
        if (dist->rank == 0) {
            rc = nn_history_add(&t.hist, row);
            if (!cfg->quiet)
                printf("%5d %10.4f %9.4f %10.4f %9.4f %8.2f %10.0f %8.1f%%\n", epoch + 1, loss,
                       acc, row[NN_H_TEST_LOSS], row[NN_H_TEST_ACC], secs, row[NN_H_IMAGES_PER_S],
                       100.0 * row[NN_H_WAIT_SHARE]);
            fflush(stdout);
            if (rc == NN_OK && cfg->out_dir) {
                rc = nn_ckpt_save(t.ckpt, &t.net, &t.opt, &t.st, &t.hist, t.config, dist->size,
                                  t.train.class_names);
                if (rc == NN_OK) rc = nn_history_write_csv(&t.hist, t.csv);
            }
        }
        rc = nn_dist_check(dist, rc);
    }
    if (rc == NN_OK) rc = check_replicas(&t);
    if (rc == NN_OK && dist->rank == 0 && cfg->out_dir && !cfg->quiet)
        printf("wrote %s and %s\n", t.ckpt, t.csv);
    /* Learning curves: a convenience, so a missing gnuplot only warns. */
    if (rc == NN_OK && dist->rank == 0 && cfg->out_dir && cfg->plot &&
        nn_plot_run(cfg->out_dir) != NN_OK)
        fprintf(stderr, "nntrain: warning: no plots: %s\n", nn_errmsg());
    trainer_free(&t);
    return rc;
}
