/* classify.c: the classifier mode of the training skeleton (run.h): one net
 * with softmax cross-entropy, one optimizer, evaluated on the test split
 * after every epoch; and nn_evaluate, which `eval` uses too.
 *
 * With --ema DECAY the run also keeps an exponential moving average of the
 * parameters and BatchNorm statistics (nn_ema_update after every step): that
 * average is the model it evaluates every epoch and saves at the
 * checkpoint's root (what eval and predict load); the weights the optimizer
 * steps go in /trained with the optimizer's slots, for resuming.
 *
 * With --lookahead K:E the weights themselves are pulled to such an average
 * every K steps from epoch E on, and set to it after every epoch (so the
 * checkpoint at an epoch's end holds both, and a resume from it continues
 * exactly; one written inside an epoch restarts the average from the
 * weights). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/augment.h"
#include "nn/error.h"
#include "nn/progress.h"
#include "nn/guard.h"
#include "nn/loss.h"
#include "nn/metrics.h"
#include "run.h"

/* The views of test-time augmentation (nn_tta): a move (dx, dy), a mirror
 * image or not, and a weight. */
static const struct {
    int dx, dy;
    bool flip;
    double weight;
} g_views[] = {{0, 0, false, 2}, {0, 0, true, 2},  {-1, -1, false, 1},
               {-1, -1, true, 1}, {1, 1, false, 1}, {1, 1, true, 1}};

static int tta_views(nn_tta t) { return t == NN_TTA_TRANSLATE ? 6 : t == NN_TTA_FLIP ? 2 : 1; }

/* Averaged predictions for a batch x of c->n images: the softmaxes of every
 * net on every view of r->tta (moved with r->reflect's fill), weighted,
 * summed into prob (n, k) and scored by their mean. view: room for the batch. Adds the loss -log p(label) and the
 * correct count to acc[0..2], writes pred. host: n k floats of room. */
static int eval_averaged(nn_net *const *nets, int count, const nn_eval_result *r,
                         const nn_ctx *c, nn_shape s, const float *x, float *view,
                         const int *labels, float *host, double *prob, double *acc, int *pred) {
    const int n = c->n, k = (int)nn_net_out_size(nets[0]), views = tta_views(r->tta);
    const size_t dim = nn_shape_size(s);
    double total = 0;
    memset(prob, 0, (size_t)n * k * sizeof *prob);
    for (int v = 0; v < views; v++) {
        const bool moved = g_views[v].dx || g_views[v].dy;
        const float *in = x; /* the first view is the images as they are */
        if (moved || g_views[v].flip) {
            memcpy(view, x, (size_t)n * dim * sizeof *x);
            for (int j = 0; j < n; j++) {
                if (moved)
                    nn_shift(s, view + (size_t)j * dim, g_views[v].dx, g_views[v].dy, r->reflect);
                if (g_views[v].flip) nn_flip_h(s, view + (size_t)j * dim);
            }
            in = view;
        }
        for (int m = 0; m < count; m++) {
            const float *logits;
            NN_TRY(nn_net_forward(nets[m], c, in, &logits));
            nets[m]->be->to_host(host, logits, (size_t)n * k * sizeof(float));
            NN_TRY(nn_net_check_outputs(nets[m], host, n, NAN)); /* the member that overflows */
            nn_softmax_add(host, n, k, g_views[v].weight, prob);
            total += g_views[v].weight;
        }
    }
    long correct = 0;
    acc[0] += nn_prob_score(prob, total, labels, n, k, pred, &correct);
    acc[1] += (double)correct;
    acc[2] += n;
    return NN_OK;
}

int nn_evaluate(nn_net *net, const nn_dataset *d, nn_dist *dist, nn_eval_result *r) {
    return nn_evaluate_ensemble(&net, 1, d, dist, r);
}

int nn_evaluate_ensemble(nn_net *const *nets, int count, const nn_dataset *d, nn_dist *dist,
                         nn_eval_result *r) {
    nn_net *net = nets[0];
    const int k = (int)nn_net_out_size(net);
    int bs = net->max_n;
    for (int m = 1; m < count; m++) bs = nets[m]->max_n < bs ? nets[m]->max_n : bs;
    /* One net, one view: the backend's fused softmax cross-entropy. */
    const bool averaged = count > 1 || r->tta != NN_TTA_NONE;
    if (r->tta == NN_TTA_TRANSLATE) /* the same on every rank: no collective check needed */
        NN_TRY(nn_shift_check(d->shape, r->reflect, "eval --crop-fill reflect"));
    const size_t dim = nn_shape_size(d->shape);
    float *x = nn_alloc((size_t)bs * dim * sizeof(float), "eval batch");
    int *labels = nn_alloc((size_t)bs * sizeof(int), "eval labels");
    uint64_t *ids = nn_alloc((size_t)bs * sizeof(uint64_t), "eval ids");
    const size_t nconf = (size_t)k * k;
    double *acc = nn_calloc(3 + nconf, sizeof(double), "eval counts"); /* loss, correct, n, conf */
    int rc = x && labels && ids && acc ? NN_OK : NN_ERR;
    int *pred = rc == NN_OK ? nn_alloc((size_t)bs * sizeof(int), "eval predictions") : NULL;
    if (!pred) rc = NN_ERR;
    float *host = rc == NN_OK && averaged
                      ? nn_alloc((size_t)bs * k * sizeof(float), "averaged predictions")
                      : NULL;
    float *view = host && r->tta != NN_TTA_NONE
                      ? nn_alloc((size_t)bs * dim * sizeof(float), "test-time views")
                      : NULL;
    double *prob =
        host ? nn_alloc((size_t)bs * k * sizeof(double), "averaged predictions") : NULL;
    if (averaged && !(prob && (view || r->tta == NN_TTA_NONE))) rc = NN_ERR;
    nn_ctx c = {.train = false, .dist = NULL};
    nn_meter meter;
    nn_meter_start(&meter, r->progress, r->show, "eval", d->shard.end - d->shard.begin);
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
        if (averaged) {
            rc = eval_averaged(nets, count, r, &c, d->shape, x, view, labels, host, prob,
                               acc, pred);
        } else {
            const float *logits;
            rc = nn_net_forward(net, &c, x, &logits);
            if (rc != NN_OK) break;
            long correct = 0;
            const double l = net->be->softmax_xent(logits, labels, NULL, n, k, 0.0f, NULL, &correct);
            if (!isfinite(l)) { /* -nan and class 0 otherwise */
                rc = nn_net_check_outputs(net, logits, n, l);
                break;
            }
            acc[0] += l;
            acc[1] += (double)correct;
            acc[2] += n;
            nn_argmax_rows(logits, n, k, pred);
        }
        if (rc != NN_OK) break;
        for (int j = 0; j < n; j++) acc[3 + (size_t)labels[j] * k + pred[j]] += 1.0;
        char stats[64]; /* this rank's shard: the whole set's figures only on one rank */
        snprintf(stats, sizeof stats, "acc %.4f", acc[1] / acc[2]);
        nn_meter_update(&meter, i + (size_t)n - d->shard.begin, acc[2],
                        dist->size == 1 ? stats : NULL);
    }
    nn_meter_end(&meter);
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
    free(x), free(labels), free(ids), free(acc), free(pred), free(host), free(prob), free(view);
    return rc;
}

/* The metrics tail of the gradient buffer (NN_NET_METRICS floats), summed
 * with the gradients in the step's one reduction. */
enum { M_LOSS, M_CORRECT, M_COUNT, M_ERROR, M_STOP };

typedef struct {
    nn_net net;
    nn_optim opt;
    nn_net avg;        /* --ema: the moving average of net (params NULL when off) */
    int has_avg;       /* the checkpoint resumed from keeps one (in /trained's place) */
    bool shared_grads; /* summed through node-shared memory (nn_dist_shared_buffer) */
    size_t bucket_floats; /* > 0: the reduction overlaps backward (--bucket-mb) */
    float *class_w;    /* (classes) loss weight per class; NULL = --class-weight none */
    float *smooth;     /* (batch, classes) --label-smoothing's gradient term; NULL = none */
    double *conf;      /* (classes, classes) the test split's confusion matrix */
    float *la;         /* --lookahead: (nparams + nstate) the average; NULL when off */
    int runs_epoch;    /* the epoch opt's learning-rate runs are for */
    bool la_on;        /* la holds an average (started) */
} classify;

/* --lookahead: la <- rho la + (1 - rho) w, then w <- la, over the
 * parameters and the state (BatchNorm statistics); rho = 1 copies la back. */
static void lookahead_pull(classify *c, float rho) {
    nn_net *net = &c->net;
    float *seg[2] = {net->params, net->state};
    size_t len[2] = {net->nparams, net->nstate}, at = 0;
    for (int k = 0; k < 2; at += len[k], k++)
        for (size_t i = 0; i < len[k]; i++) {
            float *a = &c->la[at + i];
            *a = rho * *a + (1.0f - rho) * seg[k][i];
            seg[k][i] = *a;
        }
}

static void lookahead_start(classify *c) {
    nn_net *net = &c->net;
    memcpy(c->la, net->params, net->nparams * sizeof(float));
    memcpy(c->la + net->nparams, net->state, net->nstate * sizeof(float));
    c->la_on = true;
}

/* Before step s: a run resumed after epoch E, whose weights are the
 * average (set at the epoch's end), starts it from them at once. */
static void lookahead_resume(const nn_run *r, classify *c, const nn_step *s) {
    if (c->la && !c->la_on && s->epoch > r->cfg->lookahead_start) lookahead_start(c);
}

/* After step s: every K steps from epoch E on, the first starts the average
 * from the weights, the later ones pull. */
static void lookahead_step(const nn_run *r, classify *c, const nn_step *s) {
    const int K = r->cfg->lookahead_every, E = r->cfg->lookahead_start;
    if (!c->la || s->epoch < E || s->step % (uint64_t)K) return;
    if (!c->la_on) {
        lookahead_start(c);
        return;
    }
    const double total = (double)s->nb * r->cfg->epochs, t = fmin((double)s->step / total, 1.0);
    lookahead_pull(c, (float)(pow(0.95, K) * t * t * t));
}

/* The average starts from the net itself (a fresh run, or a checkpoint
 * without one). */
static void ema_reset(classify *c) {
    if (c->avg.params) nn_run_copy_weights(&c->avg, &c->net);
}

/* --class-weight balanced|sqrt: every rank counts the labels of its shard, the
 * counts are summed over ranks (once, at start-up), so every rank derives the
 * same weights from the whole training set whatever N (collective). */
static int class_weights(nn_run *r, classify *c) {
    if (r->cfg->class_weight == NN_CLASS_WEIGHT_NONE) return NN_OK;
    const int k = r->train.classes;
    double *counts = nn_calloc((size_t)k, sizeof *counts, "label counts");
    c->class_w = nn_alloc((size_t)k * sizeof *c->class_w, "class weights");
    int rc = counts && c->class_w ? nn_dataset_label_counts(&r->train, counts) : NN_ERR;
    rc = nn_dist_check(r->dist, rc);
    if (rc == NN_OK) rc = nn_dist_allreduce_sum_f64(r->dist, counts, (size_t)k);
    if (rc == NN_OK) nn_class_weights(r->cfg->class_weight, counts, k, c->class_w);
    free(counts);
    return rc;
}

static int cl_draw(const nn_train_cfg *cfg) { return cfg->batch; }

/* The net's hook: its gradients from `from` on are final. */
static int grads_final(void *dist, size_t from) { return nn_dist_reduce_ready(dist, from); }

static int cl_create(nn_run *r) {
    const nn_train_cfg *cfg = r->cfg;
    /* One class: loss 0 and accuracy 1 from the first step, nothing learnt. */
    if (r->train.classes < 2) {
        char q[200];
        return nn_dist_check(
            r->dist,
            nn_fail("--data %s: the training split has %d class%s%s%s%s; a classifier needs at "
                    "least 2 (with one, every prediction is right: loss 0, accuracy 1, nothing "
                    "learnt). HINT: one sub-folder per class under train/ and test/",
                    cfg->data, r->train.classes, r->train.classes == 1 ? "" : "es",
                    r->train.class_names && r->train.classes == 1 ? " ('" : "",
                    r->train.class_names && r->train.classes == 1
                        ? nn_escaped(r->train.class_names[0], 80, q, sizeof q)
                        : "",
                    r->train.class_names && r->train.classes == 1 ? "')" : ""));
    }
    classify *c = nn_calloc(1, sizeof *c, "classifier");
    if (!c) return nn_dist_check(r->dist, NN_ERR);
    r->m = c;
    char *spec = NULL;
    nn_shape in = r->train.shape;
    int classes = r->train.classes, rc = NN_OK;
    if (r->resume) {
        rc = nn_ckpt_has_part(r->resume, NN_CKPT_CLASSIFIER, NN_CKPT_TRAINED, &c->has_avg);
        if (rc == NN_OK && c->has_avg && cfg->ema == 0 && r->dist->rank == 0)
            printf("warning: %s keeps a moving average of the weights; without --ema this run "
                   "continues from the trained weights and drops the average\n",
                   r->resume);
        if (rc == NN_OK) rc = nn_ckpt_read_model(r->resume, &spec, &in, &classes);
        if (rc == NN_OK && (in.c != r->train.shape.c || in.h != r->train.shape.h ||
                            in.w != r->train.shape.w || classes != r->train.classes))
            rc = nn_fail("%s: checkpoint is for input (%d, %d, %d) with %d classes, the data "
                         "set %s has (%d, %d, %d) with %d",
                         r->resume, in.c, in.h, in.w, classes, cfg->data, r->train.shape.c,
                         r->train.shape.h, r->train.shape.w, r->train.classes);
        char **names = NULL;
        if (rc == NN_OK) rc = nn_ckpt_read_class_names(r->resume, classes, &names);
        if (rc == NN_OK)
            rc = nn_class_names_check(r->resume, names, cfg->data, r->train.class_names, classes);
        nn_ckpt_free_names(names, classes);
        /* --model / --hidden given: the checkpoint's model, or a refusal. */
        if (rc == NN_OK && nn_run_model_given(cfg)) {
            char *want = nn_model_resolve(cfg->model, cfg->hidden, classes);
            const char *m = cfg->model ? cfg->model : NN_DEFAULT_MODEL;
            const bool mod = cfg->model_given || strcmp(m, NN_DEFAULT_MODEL) != 0;
            const bool hid = cfg->hidden_given || cfg->hidden != 0;
            const char *flag = mod && hid ? "--model / --hidden" : hid ? "--hidden" : "--model";
            char value[1200];
            if (hid)
                snprintf(value, sizeof value, "%.1000s%s%d", mod ? m : "", mod ? " / " : "",
                         cfg->hidden);
            else
                snprintf(value, sizeof value, "%.1000s", m);
            rc = want ? nn_run_same_spec(r->resume, "the model", spec, flag, value, want) : NN_ERR;
            free(want);
        }
    } else {
        spec = nn_model_resolve(cfg->model, cfg->hidden, classes);
        if (!spec) rc = NN_ERR;
    }
    /* Evaluation runs in chunks of the batch size: conv layers' column
     * buffers grow with it. */
    const char *origin = r->resume ? r->resume : nn_model_origin(cfg->model);
    if (rc == NN_OK)
        rc = nn_net_create(&c->net, spec, origin, in, classes, cfg->batch, nn_backend_current());
    if (rc == NN_OK && cfg->ema > 0)
        rc = nn_net_create(&c->avg, spec, origin, in, classes, cfg->batch, nn_backend_current());
    free(spec);
    if (rc == NN_OK) rc = nn_optim_create(&c->opt, &cfg->optim, c->net.nparams);
    if (rc == NN_OK) rc = nn_net_lr_runs(&c->net, &c->opt, 0);
    if (rc == NN_OK && cfg->lookahead_every > 0) {
        c->la = nn_alloc((c->net.nparams + c->net.nstate) * sizeof(float), "lookahead average");
        if (!c->la) rc = NN_ERR;
    }
    NN_TRY(nn_dist_check(r->dist, rc));
    nn_net_init(&c->net, cfg->seed);
    ema_reset(c);
    /* Gradients in node-shared memory when ranks share a node (collective). */
    float *shared = nn_dist_shared_buffer(r->dist, c->net.nparams + NN_NET_METRICS);
    if (shared) nn_net_use_grads(&c->net, shared);
    c->shared_grads = shared != NULL;
    /* Across nodes, reduce each bucket of gradients as backward finishes it. */
    if (cfg->bucket_mb > 0 && nn_dist_overlap_useful(r->dist)) {
        c->net.grads_final = grads_final;
        c->net.grads_final_arg = r->dist;
        c->bucket_floats = (size_t)((double)cfg->bucket_mb * 1e6 / sizeof(float));
        if (!c->bucket_floats) c->bucket_floats = 1;
    }
    if (cfg->label_smoothing > 0) {
        c->smooth = nn_alloc((size_t)c->net.max_n * classes * sizeof(float), "label smoothing");
        NN_TRY(nn_dist_check(r->dist, c->smooth ? NN_OK : NN_ERR));
    }
    c->conf = nn_calloc((size_t)classes * (size_t)classes, sizeof *c->conf, "confusion matrix");
    NN_TRY(nn_dist_check(r->dist, c->conf ? NN_OK : NN_ERR));
    return class_weights(r, c);
}

/* Fit layer i (nn_layer_ops.fit_*): this rank's fit images through layers
 * [0, i) into its statistics, summed over all ranks, then fit_finish. The
 * images the layer asks for are spread evenly over the training set, so
 * that class-sorted folders do not give it one class, and they are the same
 * at any rank count: each rank takes those inside its shard. */
static int fit_layer(nn_run *r, nn_net *net, int i) {
    nn_layer *l = &net->layers[i];
    const nn_dataset *d = &r->train;
    size_t m;
    const size_t nacc = l->ops->fit_size(l, &m), in = nn_shape_size(l->in);
    if (m > d->count) m = d->count;
    const int bs = net->max_n;
    double *acc = nn_calloc(nacc, sizeof(double), "layer fit statistics");
    float *x = nn_alloc((size_t)bs * nn_shape_size(d->shape) * sizeof(float), "fit batch");
    float *host = nn_alloc((size_t)bs * in * sizeof(float), "fit batch");
    int *labels = nn_alloc((size_t)bs * sizeof(int), "fit labels");
    uint64_t *ids = nn_alloc((size_t)bs * sizeof(uint64_t), "fit ids");
    int rc = acc && x && host && labels && ids ? NN_OK : NN_ERR;
    nn_ctx c = {.train = false};
    for (size_t j = 0; rc == NN_OK && j < m;) {
        int n = 0;
        for (; j < m && n < bs; j++) {
            const uint64_t id = (uint64_t)(j * d->count / m);
            if (id >= d->shard.begin && id < d->shard.end) ids[n++] = id;
        }
        if (!n) continue;
        const float *out;
        c.n = c.global_n = n;
        c.sample_ids = ids;
        rc = nn_dataset_get_batch(d, ids, n, x, labels);
        if (rc == NN_OK) rc = nn_net_forward_until(net, &c, x, i, &out);
        if (rc != NN_OK) break;
        net->be->to_host(host, out, (size_t)n * in * sizeof(float));
        l->ops->fit_batch(l, host, n, acc);
    }
    rc = nn_dist_check(r->dist, rc);
    if (rc == NN_OK) rc = nn_dist_allreduce_sum_f64(r->dist, acc, nacc);
    if (rc == NN_OK) rc = nn_dist_check(r->dist, l->ops->fit_finish(l, acc));
    if (rc == NN_OK && r->dist->rank == 0)
        printf("%s: fitted to %zu training images\n", l->name, m);
    free(acc), free(x), free(host), free(labels), free(ids);
    return rc;
}

/* Before the first step of a new run: a net that starts with `normalize`
 * learns its per-channel mean and std from the whole training set (sums
 * over all ranks), then every data-fitted layer is fitted, in order. */
static int cl_prepare(nn_run *r) {
    classify *c = r->m;
    nn_layer *l = &c->net.layers[0];
    int rc = NN_OK;
    if (strcmp(l->ops->type, "normalize") == 0) {
        const int C = l->in.c;
        double *s = nn_calloc(3 * (size_t)C, sizeof(double), "channel sums");
        rc = s ? nn_dataset_channel_sums(&r->train, s, s + C, s + 2 * C) : NN_ERR;
        rc = nn_dist_check(r->dist, rc);
        if (rc == NN_OK) rc = nn_dist_allreduce_sum_f64(r->dist, s, 3 * (size_t)C);
        for (int k = 0; rc == NN_OK && k < C; k++) {
            double m = s[k] / s[2 * C + k], v = s[C + k] / s[2 * C + k] - m * m;
            l->state[k] = (float)m;
            l->state[C + k] = v > 1e-12 ? (float)sqrt(v) : 1.0f;
        }
        free(s);
    }
    for (int i = 0; rc == NN_OK && i < c->net.nlayers; i++)
        if (c->net.layers[i].ops->fit_batch) rc = fit_layer(r, &c->net, i);
    ema_reset(c);
    return rc;
}

/* The checkpoint's nets: the average at the root and the trained weights
 * in /trained with --ema; else the trained weights at the root. */
static int parts(classify *c, bool avg, nn_ckpt_part p[2]) {
    if (!avg) {
        p[0] = (nn_ckpt_part){NULL, &c->net, &c->opt};
        return 1;
    }
    p[0] = (nn_ckpt_part){NULL, &c->avg, NULL};
    p[1] = (nn_ckpt_part){NN_CKPT_TRAINED, &c->net, &c->opt};
    return 2;
}

static int cl_load(nn_run *r) {
    classify *c = r->m;
    nn_ckpt_part p[2];
    int n = parts(c, c->has_avg, p);
    if (c->has_avg && !c->avg.params) /* the average is dropped: only /trained */
        p[0] = p[1], n = 1;
    NN_TRY(nn_ckpt_load_parts(r->resume, NN_CKPT_CLASSIFIER, p, n, &r->st, &r->hist));
    if (c->avg.params && !c->has_avg) {
        ema_reset(c);
        printf("%s has no moving average of the weights: --ema starts it from them\n", r->resume);
    }
    return NN_OK;
}

static int cl_bcast(nn_run *r) {
    classify *c = r->m;
    NN_TRY(nn_run_bcast_net(r->dist, &c->net, &c->opt));
    return c->avg.params ? nn_run_bcast_net(r->dist, &c->avg, NULL) : NN_OK;
}

static size_t first_nonfinite(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return i;
    return n;
}

/* This rank's loss came out NaN or infinite: name where it started, first
 * the parameters (a diverged update), then the layer outputs in order. */
static int diagnose_nonfinite(const nn_run *r, const nn_step *s, double loss) {
    const nn_net *net = &((const classify *)r->m)->net;
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
        const size_t m = (size_t)s->n * nn_shape_size(l->out);
        if (first_nonfinite(net->acts[i], m) < m) {
            snprintf(where, sizeof where, "the first non-finite output is layer %s's (%d of %d)",
                     l->name, i + 1, net->nlayers);
            break;
        }
    }
    return nn_fail("the training loss became %g at step %llu (epoch %d, batch %zu): %s; HINT: "
                   "lower --lr (now %g)",
                   loss, (unsigned long long)s->step, s->epoch + 1, s->b + 1, where,
                   r->cfg->sched.base_lr);
}

static int cl_step(nn_run *r, nn_step *s) {
    classify *c = r->m;
    nn_net *net = &c->net;
    const int k = (int)nn_net_out_size(net);
    float *metrics = net->grads + net->nparams;
    nn_ctx ctx = {.train = true, .n = s->n, .global_n = s->global_n, .sample_ids = r->ids,
                  .seed = r->cfg->seed, .epoch = (uint64_t)s->epoch, .dist = r->dist,
                  .bn_sync = r->cfg->bn_sync};
    nn_net_zero_grad(net);
    /* Every rank runs the pass even with an empty slice: layers such as
     * synchronised BatchNorm take part in collective reductions. */
    int rc = s->rc;
    if (rc == NN_OK && s->epoch != c->runs_epoch) { /* tensors frozen from this epoch on */
        rc = nn_net_lr_runs(net, &c->opt, s->epoch);
        c->runs_epoch = s->epoch;
    }
    if (c->bucket_floats)
        NN_TRY(nn_dist_reduce_begin(r->dist, net->grads, net->nparams + NN_NET_METRICS,
                                    net->nparams, c->bucket_floats));
    double tp = nn_run_now();
    nn_guard_progress(s->step, "forward");
    const float *logits;
    if (rc == NN_OK) rc = nn_net_forward(net, &ctx, r->x, &logits);
    if (rc == NN_OK) {
        long correct = 0;
        float *dlogits = net->dbuf[net->nlayers & 1];
        /* With --class-weight balanced the loss reported is the weighted one. */
        double loss = net->be->softmax_xent(logits, r->labels, c->class_w, s->n, k,
                                            1.0f / (float)s->global_n, dlogits, &correct);
        if (!isfinite(loss)) rc = diagnose_nonfinite(r, s, loss);
        if (c->smooth && s->n > 0) {
            nn_label_smoothing_term(r->labels, c->class_w, s->n, k, r->cfg->label_smoothing,
                                    1.0f / (float)s->global_n, c->smooth);
            net->be->add((size_t)s->n * k, dlogits, c->smooth, dlogits);
        }
        metrics[M_LOSS] = (float)loss;
        metrics[M_CORRECT] = (float)correct;
        metrics[M_COUNT] = (float)s->n;
        nn_run_prof(r, P_FORWARD, tp), tp = nn_run_now();
        nn_guard_progress(s->step, "backward");
        if (rc == NN_OK) rc = nn_net_backward(net, &ctx, r->x, dlogits);
        nn_run_prof(r, P_BACKWARD, tp), tp = nn_run_now();
    }
    /* A failing rank reports 1 in the status slot so every rank stops
     * together; a rank that caught a stop signal reports it the same way. */
    metrics[M_ERROR] = rc == NN_OK ? 0.0f : 1.0f;
    metrics[M_STOP] = nn_guard_stop_signal() ? 1.0f : 0.0f;
    if (rc != NN_OK && r->dist->size == 1) return NN_ERR;
    nn_guard_arrive(r->dist);
    nn_run_test_hook_reduce(r->dist, s->step);
    if (r->cfg->profile) {
        nn_guard_progress(s->step, "waiting for the other ranks");
        NN_TRY(nn_dist_barrier(r->dist));
        nn_run_prof(r, P_WAIT, tp), tp = nn_run_now();
    }
    nn_guard_progress(s->step, "gradient reduction");
    if (c->bucket_floats) /* the rest of the buckets, the metrics; wait for all */
        NN_TRY(nn_dist_reduce_end(r->dist));
    else
        NN_TRY(nn_dist_allreduce_sum(r->dist, net->grads, net->nparams + NN_NET_METRICS));
    nn_run_prof(r, P_REDUCE, tp), tp = nn_run_now();
    if (metrics[M_ERROR] != 0.0f) return nn_dist_check(r->dist, rc);
    if (!isfinite(metrics[M_LOSS]))
        return nn_fail("the training loss became %f at step %llu (epoch %d, batch %zu); HINT: "
                       "lower --lr (now %g)",
                       metrics[M_LOSS], (unsigned long long)s->step, s->epoch + 1, s->b + 1,
                       r->cfg->sched.base_lr);
    lookahead_resume(r, c, s);
    nn_optim_step(&c->opt, net->params, net->grads, s->lr);
    lookahead_step(r, c, s);
    if (c->avg.params) nn_run_ema_update(&c->avg, net, r->cfg->ema, c->opt.t);
    nn_run_prof(r, P_OPTIM, tp);
    s->m[0] = metrics[M_LOSS];
    s->m[1] = metrics[M_CORRECT];
    s->m[2] = metrics[M_COUNT];
    s->stop = metrics[M_STOP] != 0.0f;
    return NN_OK;
}

static int cl_epoch_row(nn_run *r, int epoch, const double *m, double *row) {
    classify *c = r->m;
    nn_net *net = &c->net;
    if (c->la_on) lookahead_pull(c, 1.0f); /* the epoch's model is the average */
    /* Per-rank BatchNorm statistics (--bn local) leave each replica with its
     * own running estimates: average them so every rank evaluates and saves
     * the same model. Synchronised statistics are identical already. */
    if (!r->cfg->bn_sync && r->dist->size > 1 && net->nstate > 0)
        for (int i = 0; i < (c->avg.params ? 2 : 1); i++) { /* the net, and its average */
            nn_net *n = i ? &c->avg : net;
            NN_TRY(nn_dist_allreduce_sum(r->dist, n->state, n->nstate));
            for (size_t j = 0; j < n->nstate; j++) n->state[j] /= (float)r->dist->size;
        }
    row[NN_H_EPOCH] = epoch + 1;
    row[NN_H_TRAIN_LOSS] = m[0] / m[2];
    row[NN_H_TRAIN_ACC] = m[1] / m[2];
    /* --eval-every K: the test columns only every K epochs and at the end. */
    const int every = r->cfg->eval_every > 1 ? r->cfg->eval_every : 1;
    if ((epoch + 1) % every != 0 && epoch + 1 != r->cfg->epochs) {
        row[NN_H_TEST_LOSS] = row[NN_H_TEST_ACC] = row[NN_H_TEST_BAL_ACC] = NAN;
        return NN_OK;
    }
    double te = nn_run_now();
    nn_guard_progress(r->st.step, "evaluation");
    nn_eval_result ev = {.confusion = c->conf,
                         .progress = r->cfg->progress,
                         .show = !r->cfg->quiet && r->dist->rank == 0};
    NN_TRY(nn_evaluate(c->avg.params ? &c->avg : net, &r->test, r->dist, &ev));
    nn_run_prof(r, P_EVAL, te);
    /* From the confusion matrix summed over ranks: the same for any N. */
    nn_metrics tm;
    nn_confusion_metrics(ev.confusion, ev.classes, NULL, &tm);
    row[NN_H_TEST_LOSS] = ev.loss_sum / ev.count;
    row[NN_H_TEST_ACC] = ev.correct / ev.count;
    row[NN_H_TEST_BAL_ACC] = tm.balanced_accuracy;
    return NN_OK;
}

static void cl_print_row(const nn_run *r, const double *row) {
    (void)r;
    printf("%5.0f %10.4f %9.4f %10.4f %9.4f %8.2f %10.0f %8.1f%% %8.4f\n", row[NN_H_EPOCH],
           row[NN_H_TRAIN_LOSS], row[NN_H_TRAIN_ACC], row[NN_H_TEST_LOSS], row[NN_H_TEST_ACC],
           row[NN_H_SECONDS], row[NN_H_IMAGES_PER_S], 100.0 * row[NN_H_WAIT_SHARE],
           row[NN_H_TEST_BAL_ACC]);
}

static int cl_save(nn_run *r, const char *path) {
    classify *c = r->m;
    nn_ckpt_part p[2];
    const int n = parts(c, c->avg.params != NULL, p);
    return nn_ckpt_save_parts(path, NN_CKPT_CLASSIFIER, p, n, &r->st, &r->hist, r->config,
                              r->dist->size, r->train.class_names);
}

static double cl_ckpt_bytes(const nn_run *r) {
    const classify *c = r->m;
    const size_t avg = c->avg.params ? c->avg.nparams + c->avg.nstate : 0;
    return (double)(c->net.nparams * (1 + (size_t)c->opt.nslots) + c->net.nstate + avg) *
               sizeof(float) + 65536.0 + 2.0 * (double)strlen(c->net.spec);
}

static uint64_t cl_hash(const nn_run *r, uint64_t h) {
    const classify *c = r->m;
    h = nn_run_hash_params(&c->net, h);
    return c->avg.params ? nn_run_hash_params(&c->avg, h) : h;
}

static void cl_describe(const nn_run *r, char *buf, size_t n) {
    const classify *c = r->m;
    snprintf(buf, n, "%zu parameters, optimizer %s", c->net.nparams,
             nn_optim_name(r->cfg->optim.kind));
    if (r->cfg->label_smoothing > 0)
        snprintf(buf + strlen(buf), n - strlen(buf), ", label smoothing %g",
                 (double)r->cfg->label_smoothing);
    if (c->avg.params)
        snprintf(buf + strlen(buf), n - strlen(buf),
                 ", moving average of the weights (--ema %g: evaluated and saved)",
                 (double)r->cfg->ema);
    if (c->class_w) {
        const int k = (int)nn_net_out_size(&c->net);
        float lo = c->class_w[0], hi = c->class_w[0];
        for (int j = 1; j < k; j++) {
            lo = c->class_w[j] < lo ? c->class_w[j] : lo;
            hi = c->class_w[j] > hi ? c->class_w[j] : hi;
        }
        snprintf(buf + strlen(buf), n - strlen(buf),
                 ", class weights %s (%.3g..%.3g; train loss weighted)",
                 nn_class_weight_name(r->cfg->class_weight), lo, hi);
    }
    if (r->dist->size > 1) {
        char overlap[120] = "";
        if (c->bucket_floats)
            snprintf(overlap, sizeof overlap, ", overlapped with backward in buckets of %.3g MB or more",
                     (double)c->bucket_floats * sizeof(float) / 1e6);
        snprintf(buf + strlen(buf), n - strlen(buf), "\ngradients summed %s%s; slices %s",
                 c->shared_grads ? (c->bucket_floats ? "through node-shared memory and "
                                                       "MPI_Iallreduce between nodes"
                                                     : "through node-shared memory")
                 : c->bucket_floats ? "with MPI_Iallreduce"
                                    : "with MPI_Allreduce",
                 overlap,
                 r->cfg->balance ? "balanced by passing samples" : "as owned (--no-balance)");
    }
}

static void cl_free(nn_run *r) {
    classify *c = r->m;
    if (!c) return;
    nn_net_free(&c->net);
    nn_net_free(&c->avg);
    nn_optim_free(&c->opt);
    free(c->class_w);
    free(c->smooth);
    free(c->conf);
    free(c->la);
    free(c);
    r->m = NULL;
}

static int cl_nets(nn_run *r, nn_net **nets, const char **names, int max) {
    if (max < 1) return 0;
    nets[0] = &((classify *)r->m)->net;
    names[0] = "net";
    return 1;
}

static void cl_running(const double *m, char *buf, size_t n) {
    snprintf(buf, n, "loss %.4f acc %.4f", m[2] > 0 ? m[0] / m[2] : 0, m[2] > 0 ? m[1] / m[2] : 0);
}

const nn_mode nn_mode_classify = {
    .name = "train",
    .cols = nn_history_classify,
    .ncols = NN_H_COLS,
    .seconds_col = NN_H_SECONDS,
    .kind = NN_CKPT_CLASSIFIER,
    .draw = cl_draw,
    .create = cl_create,
    .prepare = cl_prepare,
    .load = cl_load,
    .bcast = cl_bcast,
    .step = cl_step,
    .epoch_row = cl_epoch_row,
    .print_row = cl_print_row,
    .header = "epoch train_loss train_acc  test_loss  test_acc  seconds   images/s allreduce  "
              "bal_acc",
    .best_col = NN_H_TEST_ACC,
    .save = cl_save,
    .ckpt_bytes = cl_ckpt_bytes,
    .hash = cl_hash,
    .describe = cl_describe,
    .running = cl_running,
    .nets = cl_nets,
    .free = cl_free,
};

int nn_train(const nn_train_cfg *cfg, nn_dist *dist) {
    return nn_run_train(&nn_mode_classify, cfg, dist);
}
