/* train.c: the training skeleton every kind of training shares (run.h):
 * --out and its lock, resuming, the data and this rank's slice of every
 * global batch, stop signals, checkpoints, history and the time profile.
 * The kinds (modes) are classify.c and gan.c. */
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

#include "nn/augment.h"
#include "nn/error.h"
#include "nn/fileutil.h"
#include "nn/guard.h"
#include "nn/progress.h"
#include "nn/history.h"
#include "nn/loss.h"
#include "nn/plot.h"
#include "nn/prefetch.h"
#include "nn/sampler.h"
#include "nn/backend.h"
#include "run.h"

/* The kinds of training, by command name: adding one = a file with its
 * nn_mode (classify.c, gan.c) + a line here. */
static const nn_mode *const modes[] = {&nn_mode_classify, &nn_mode_gan};

/* --batch-per-rank and --lr-scale for this many ranks (weak scaling, as in
 * Goyal et al., "Accurate, Large Minibatch SGD"): the global batch grows
 * with the ranks and the rates with it; --warmup eases the first steps of a
 * large rate. */
static void scale_to_ranks(nn_train_cfg *c, int ranks) {
    if (c->batch_per_rank > 0) c->batch = c->batch_per_rank * ranks;
    const double f = c->lr_scale == NN_LR_SCALE_LINEAR ? ranks
                     : c->lr_scale == NN_LR_SCALE_SQRT ? sqrt((double)ranks)
                                                       : 1.0;
    c->optim.lr = (float)(c->optim.lr * f);
    c->sched.base_lr = (float)(c->sched.base_lr * f);
    c->g_lr = (float)(c->g_lr * f);
    c->d_lr = (float)(c->d_lr * f);
}

int nn_train_command(const char *command, const nn_train_cfg *given, nn_dist *dist, bool *found) {
    nn_train_cfg cfg = *given;
    scale_to_ranks(&cfg, dist->size);
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
        if (!strcmp(modes[i]->name, command)) {
            *found = true;
            return nn_run_train(modes[i], &cfg, dist);
        }
    *found = false;
    return NN_OK;
}

static const char *const phase_names[P_N] = {"data",   "exchange", "forward", "backward", "wait",
                                             "reduce", "optim",    "eval",    "ckpt"};

int nn_run_same_spec(const char *ckpt, const char *part, const char *saved, const char *flag,
                     const char *value, const char *want) {
    char *a = nn_spec_canonical(saved), *b = a ? nn_spec_canonical(want) : NULL;
    int rc = b ? NN_OK : NN_ERR;
    if (rc == NN_OK && strcmp(a, b) != 0) {
        char qa[200], qb[200], qv[200];
        rc = nn_fail("%s: %s was trained as \"%s\", but this run has %s %s (\"%s\"); HINT: a "
                     "resumed run continues the checkpoint's model: leave %s out, or start a new "
                     "run in another --out",
                     ckpt, part, nn_escaped(a, 120, qa, sizeof qa), flag,
                     nn_escaped(value, 120, qv, sizeof qv), nn_escaped(b, 120, qb, sizeof qb),
                     flag);
    }
    free(a), free(b);
    return rc;
}

double nn_run_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void nn_run_prof(nn_run *r, int phase, double since) {
    double dt = nn_run_now() - since;
    r->prof[phase] += dt;
    r->prof_epoch[phase] += dt;
}

int nn_run_bcast_net(nn_dist *d, nn_net *net, nn_optim *o) {
    if (o) {
        NN_TRY(nn_dist_bcast(d, &o->t, sizeof o->t, 0));
        for (int s = 0; s < o->nslots; s++)
            NN_TRY(nn_dist_bcast(d, o->slot[s], net->nparams * sizeof(float), 0));
    }
    NN_TRY(nn_dist_bcast(d, net->params, net->nparams * sizeof(float), 0));
    return nn_dist_bcast(d, net->state, net->nstate * sizeof(float), 0);
}

void nn_run_copy_weights(nn_net *dst, const nn_net *src) {
    memcpy(dst->params, src->params, src->nparams * sizeof(float));
    memcpy(dst->state, src->state, src->nstate * sizeof(float));
}

void nn_run_ema_update(nn_net *avg, const nn_net *net, float decay, uint64_t t) {
    nn_ema_update(avg->params, net->params, net->nparams, decay, t);
    nn_ema_update(avg->state, net->state, net->nstate, decay, t);
}

uint64_t nn_run_hash_params(const nn_net *net, uint64_t h) {
    const unsigned char *p = (const unsigned char *)net->params;
    for (size_t i = 0; i < net->nparams * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void run_free(nn_run *r) {
    nn_prefetch_close(r->pf); /* joins its workers: before the data set goes */
    r->pf = NULL;
    if (r->mode && r->mode->free) r->mode->free(r);
    nn_dataset_free(&r->train);
    nn_dataset_free(&r->test);
    nn_history_free(&r->hist);
    free(r->x), free(r->labels), free(r->ids), free(r->order), free(r->pf_ids);
    free(r->owned), free(r->xfer);
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < r->nskip[s]; i++) free(r->skip[s][i]);
        free(r->skip[s]);
    }
    if (r->lock_fd >= 0) {
        unlink(r->lock);
        close(r->lock_fd);
    }
}

/* A sample in transit between ranks: id (8 bytes), label (4), padding (4), pixels. */
static size_t xfer_record(size_t dim) { return 16 + dim * sizeof(float); }

/* ---- start-up checks: everything that would otherwise fail late ---- */

/* --out, on rank 0, before any data is read: a folder (made if missing) this
 * process can write, with a path the checkpoint names fit in, and not in use
 * by another trainer (a POSIX record lock on OUT/.lock: the kernel drops it
 * when its holder dies, so a lock file left by a killed run is no obstacle). */
static int prepare_out(nn_run *r) {
    const char *out = r->cfg->out_dir;
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

    snprintf(r->lock, sizeof r->lock, "%s/.lock", out);
    fd = open(r->lock, O_RDWR | O_CREAT, 0644);
    if (fd < 0) return nn_fail("%s: cannot create the lock file (%s)", r->lock, strerror(errno));
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
        return nn_fail("%s: cannot write the lock file (%s)", r->lock, strerror(e));
    }
    r->lock_fd = fd;
    snprintf(r->ckpt, sizeof r->ckpt, "%s/checkpoint.h5", out);
    snprintf(r->csv, sizeof r->csv, "%s/history.csv", out);
    snprintf(r->best, sizeof r->best, "%s/best.h5", out);
    /* The files a save renames into place must be regular files or absent:
     * a folder (or FIFO, device) there was found only by the first save,
     * after an epoch of training. */
    const char *const outs[3] = {r->ckpt, r->csv, r->best};
    const char *const what[3] = {"the checkpoint", "the history", "the best epoch's checkpoint"};
    for (int i = 0; i < (r->cfg->keep_best ? 3 : 2); i++) {
        struct stat os;
        if (stat(outs[i], &os) == 0 && !S_ISREG(os.st_mode))
            return nn_fail("--out %s: %s is %s; expected a regular file for %s, or nothing "
                           "(HINT: move it away, or another --out)",
                           out, outs[i], nn_file_kind(os.st_mode), what[i]);
    }
    /* What a save killed half way left behind (this run holds the lock). */
    const char *const mine[3] = {r->ckpt, r->csv, r->best};
    for (int i = 0; i < 3; i++) NN_TRY(nn_remove_stale_temps(mine[i]) < 0 ? NN_ERR : NN_OK);
    return NN_OK;
}

/* Room for two checkpoints (the old one stays until the new one is whole). */
static int check_space(const nn_run *r) {
    struct statvfs vs;
    if (statvfs(r->cfg->out_dir, &vs) != 0) return NN_OK; /* not knowable: let the save say */
    const double ckpt = r->mode->ckpt_bytes(r);
    const double need = 2 * ckpt * (r->cfg->keep_best ? 2 : 1);
    const double avail = (double)vs.f_bavail * (double)vs.f_frsize;
    if (avail < need)
        return nn_fail("--out %s: %.1f MB free, but this model's checkpoint takes about %.1f MB "
                       "and a save needs room for the old and the new one%s (%.1f MB)",
                       r->cfg->out_dir, avail / 1e6, ckpt / 1e6,
                       r->cfg->keep_best ? ", twice with --keep-best" : "", need / 1e6);
    return NN_OK;
}

/* The test split must be the same problem as the train split. */
static int check_splits(const nn_run *r) {
    const nn_dataset *a = &r->train, *b = &r->test;
    const char *data = r->cfg->data;
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
static int check_resume(const nn_run *r) {
    const nn_train_cfg *cfg = r->cfg;
    const nn_train_state *s = &r->st;
    const char *f = r->resume;
    if (s->seed != cfg->seed)
        return nn_fail("%s: trained with --seed %llu, this run has --seed %llu; HINT: a resumed "
                       "run continues the same sample order: pass --seed %llu",
                       f, (unsigned long long)s->seed, (unsigned long long)cfg->seed,
                       (unsigned long long)s->seed);
    if (s->batch > 0 && s->batch != cfg->batch && cfg->batch_per_rank > 0)
        return nn_fail("%s: trained with --batch %d, this run has --batch %d (--batch-per-rank %d "
                       "x %d ranks); HINT: resume with --batch %d (and the same --lr), or start "
                       "a new run in another --out",
                       f, s->batch, cfg->batch, cfg->batch_per_rank,
                       cfg->batch / cfg->batch_per_rank, s->batch);
    if (s->batch > 0 && s->batch != cfg->batch)
        return nn_fail("%s: trained with --batch %d, this run has --batch %d; HINT: pass --batch "
                       "%d, or start a new run in another --out",
                       f, s->batch, cfg->batch, s->batch);
    if (s->batch > 0 && s->train_limit != cfg->train_limit)
        return nn_fail("%s: trained with --limit %ld, this run has --limit %ld (0 = all)", f,
                       s->train_limit, cfg->train_limit);
    if (s->data[0] && strcmp(s->data, cfg->data) != 0)
        return nn_fail("%s: trained on --data %s, this run has --data %s", f, s->data, cfg->data);
    if ((float)s->val_split != cfg->val_split)
        return nn_fail("%s: trained with --val-split %g, this run has --val-split %g (0 = none): "
                       "another test set; HINT: pass --val-split %g",
                       f, s->val_split, cfg->val_split, s->val_split);
    /* Builds before --class-weight recorded none, and trained with none. */
    const char *cw = s->class_weight[0] ? s->class_weight : "none";
    if (strcmp(cw, nn_class_weight_name(cfg->class_weight)) != 0)
        return nn_fail("%s: trained with --class-weight %s, this run has --class-weight %s; "
                       "HINT: pass --class-weight %s, or start a new run in another --out",
                       f, cw, nn_class_weight_name(cfg->class_weight), cw);
    const size_t nb = nn_sampler_batches(r->train_count, (size_t)r->draw);
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
static int pick_resume(nn_run *r) {
    const char *want = r->cfg->resume;
    int found = r->dist->rank == 0 && r->cfg->out_dir && access(r->ckpt, F_OK) == 0;
    if (!want) {
        /* A fresh run never silently replaces an earlier one's checkpoint. */
        const int refuse = found && !r->cfg->force;
        int rc = refuse ? nn_fail("%s holds a checkpoint of an earlier run: give --resume auto "
                                  "to continue it, --force to start afresh and replace it, or "
                                  "another --out",
                                  r->ckpt)
                        : NN_OK;
        return nn_dist_check(r->dist, rc);
    }
    if (strcmp(want, "auto") != 0) {
        r->resume = want;
        return NN_OK;
    }
    NN_TRY(nn_dist_bcast(r->dist, &found, sizeof found, 0));
    if (found) {
        NN_TRY(nn_dist_bcast(r->dist, r->ckpt, sizeof r->ckpt, 0));
        r->resume = r->ckpt;
    }
    return NN_OK;
}

static int cmp_path(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --skip-bad: read every file of the split once, spread over the ranks
 * (nn_data_check), and agree on the bad ones: *skip (sorted) and *n on
 * every rank; rank 0 prints one warning that counts them. */
static int find_bad(nn_run *r, const char *split, char ***skip, size_t *n) {
    nn_dist *d = r->dist;
    nn_data_report rep;
    int rc = nn_data_check(r->cfg->data, split, d->rank, d->size, &rep);
    NN_TRY(nn_dist_check(d, rc));
    /* IDX and CIFAR problems have no path to leave out: the open reports them. */
    char *all = NULL;
    size_t total = 0, k = 0;
    rc = nn_dist_gather_strings(d, rep.problem_paths, rep.problem_paths ? rep.nproblems : 0, -1,
                                &all, &total, &k);
    nn_data_report_free(&rep);
    NN_TRY(rc);
    char **v = nn_calloc(k ? k : 1, sizeof *v, "skip list");
    for (size_t i = 0, j = 0; v && i < total; i += strlen(all + i) + 1) v[j++] = strdup(all + i);
    free(all);
    for (size_t i = 0; v && i < k; i++)
        if (!v[i]) rc = nn_fail("out of memory");
    if (!v) rc = NN_ERR;
    if (rc == NN_OK && k > 1) qsort(v, k, sizeof *v, cmp_path);
    if (rc == NN_OK && k && d->rank == 0)
        printf("warning: --skip-bad: %zu unreadable file(s) or folder(s) of the %s split left out "
               "(nntrain check-data --data %s lists them with the reasons)\n",
               k, split, r->cfg->data);
    if (rc != NN_OK) {
        for (size_t i = 0; v && i < k; i++) free(v[i]);
        free(v);
        return NN_ERR;
    }
    *skip = v;
    *n = k;
    return NN_OK;
}

/* Open this rank's shards, build the mode's nets (from the checkpoint when
 * resuming) and the batch buffers. Collective: all ranks succeed or fail. */
static int run_setup(nn_run *r) {
    const nn_train_cfg *cfg = r->cfg;
    nn_dist *dist = r->dist;
    NN_TRY(nn_optim_check(&cfg->optim)); /* the same on every rank */
    int rc = dist->rank == 0 && cfg->out_dir ? prepare_out(r) : NN_OK;
    NN_TRY(nn_dist_check(dist, rc));
    NN_TRY(pick_resume(r));

    nn_part part = {.rank = dist->rank, .nranks = dist->size, .cache = cfg->cache,
                    .local_ranks = dist->local_size, .val_split = cfg->val_split,
                    .val_seed = cfg->seed};
    nn_part train_part = part;
    train_part.limit = cfg->train_limit > 0 ? (size_t)cfg->train_limit : 0;
    if (cfg->skip_bad) {
        NN_TRY(find_bad(r, "train", &r->skip[0], &r->nskip[0]));
        NN_TRY(find_bad(r, "test", &r->skip[1], &r->nskip[1]));
        train_part.skip = r->skip[0], train_part.nskip = r->nskip[0];
        part.skip = r->skip[1], part.nskip = r->nskip[1];
    }
    rc = nn_data_open(&r->train, cfg->data, "train", train_part);
    part.limit = cfg->test_limit > 0 ? (size_t)cfg->test_limit : 0;
    if (rc == NN_OK) rc = nn_data_open(&r->test, cfg->data, "test", part);
    if (rc == NN_OK) rc = check_splits(r);
    if (rc == NN_OK && cfg->crop_pad > 0)
        rc = nn_shift_check(r->train.shape, cfg->crop_reflect, "--crop-fill reflect");
    NN_TRY(nn_dist_check(dist, rc));
    r->train_count = r->train.count;
    /* --limit past the end is clamped (count = the whole set): say so. */
    if (cfg->train_limit > 0 && r->train.count < (size_t)cfg->train_limit && dist->rank == 0)
        printf("note: --limit %ld is more than the %zu training samples: using all %zu\n",
               cfg->train_limit, r->train.count, r->train.count);
    r->draw = r->mode->draw(cfg);

    NN_TRY(r->mode->create(r)); /* collective */
    if (cfg->profile && r->mode->nets) {
        nn_net *nets[4];
        const char *names[4];
        const int k = r->mode->nets(r, nets, names, 4);
        int trc = NN_OK;
        for (int i = 0; i < k && trc == NN_OK; i++) trc = nn_net_time_layers(nets[i]);
        NN_TRY(nn_dist_check(r->dist, trc));
    }
    rc = dist->rank == 0 && cfg->out_dir ? check_space(r) : NN_OK;
    NN_TRY(nn_dist_check(dist, rc));
    r->st = (nn_train_state){.seed = cfg->seed, .batch = cfg->batch,
                             .train_limit = cfg->train_limit, .best_acc = -1};
    if (!r->resume && r->mode->prepare) NN_TRY(r->mode->prepare(r));
    if (r->resume) {
        /* Rank 0 reads, everyone receives: one source of truth. */
        rc = dist->rank == 0 ? r->mode->load(r) : NN_OK;
        if (rc == NN_OK && dist->rank == 0) rc = check_resume(r);
        /* The checkpoint is the record: a history.csv written after it (a
         * kill between the two writes) is made to agree with it again. */
        if (rc == NN_OK && dist->rank == 0 && cfg->out_dir && r->hist.rows > 0)
            rc = nn_history_write_csv(&r->hist, r->csv);
        NN_TRY(nn_dist_check(dist, rc));
        NN_TRY(nn_dist_bcast(dist, &r->st, sizeof r->st, 0));
    }
    /* What this run is trained on from now on (older checkpoints record
     * none of it). */
    r->st.batch = cfg->batch, r->st.train_limit = cfg->train_limit;
    r->st.val_split = cfg->val_split;
    snprintf(r->st.data, sizeof r->st.data, "%s", cfg->data);
    snprintf(r->st.class_weight, sizeof r->st.class_weight, "%s",
             nn_class_weight_name(cfg->class_weight));
    NN_TRY(r->mode->bcast(r));

    const size_t dim = nn_shape_size(r->train.shape);
    r->x = nn_alloc((size_t)r->draw * dim * sizeof(float), "batch");
    r->labels = nn_alloc((size_t)r->draw * sizeof(int), "labels");
    r->ids = nn_alloc((size_t)r->draw * sizeof(uint64_t), "sample ids");
    r->order = nn_alloc(r->train_count * sizeof(uint32_t), "epoch order");
    /* owned, flow (size^2), send and receive byte counts in one block. */
    r->owned = nn_alloc(((size_t)dist->size + 3) * (size_t)dist->size * sizeof(int), "balance plan");
    r->xfer = nn_alloc((size_t)r->draw * xfer_record(dim), "sample exchange");
    rc = r->x && r->labels && r->ids && r->order && r->owned && r->xfer ? NN_OK : NN_ERR;
    if (rc == NN_OK && r->train.streamed) {
        /* Depth 4: the next batches decode while this one computes, with
         * slack for uneven decode times; memory 4 x draw x C*H*W floats. */
        r->pf_depth = 4;
        r->pf_workers = cfg->workers > 0 ? cfg->workers
                                         : nn_prefetch_default_workers(nn_blas_threads(),
                                                                       dist->local_size);
        r->pf_ids = nn_alloc((size_t)r->draw * sizeof(uint64_t), "prefetch ids");
        r->pf = r->pf_ids ? nn_prefetch_open(&r->train, r->pf_workers, r->pf_depth, r->draw) : NULL;
        if (!r->pf) rc = NN_ERR;
    }
    if (rc == NN_OK) {
        r->flow = r->owned + dist->size;
        r->send_bytes = r->flow + (size_t)dist->size * dist->size;
        r->recv_bytes = r->send_bytes + dist->size;
    }
    snprintf(r->config, sizeof r->config,
             "%s data=%s epochs=%d batch=%d optim=%s lr=%g seed=%llu train_limit=%ld "
             "class_weight=%s",
             r->mode->name, cfg->data, cfg->epochs, cfg->batch, nn_optim_name(cfg->optim.kind),
             cfg->sched.base_lr, (unsigned long long)cfg->seed, cfg->train_limit,
             nn_class_weight_name(cfg->class_weight));
    /* The moving average's decay (--ema), and gan's per-net rates when they
     * differ from lr (--g-lr, --d-lr). */
    if (cfg->ema > 0)
        snprintf(r->config + strlen(r->config), sizeof r->config - strlen(r->config), " ema=%g",
                 (double)cfg->ema);
    const size_t used = strlen(r->config);
    if (cfg->g_lr > 0 || cfg->d_lr > 0)
        snprintf(r->config + used, sizeof r->config - used, " g_lr=%g d_lr=%g",
                 cfg->g_lr > 0 ? cfg->g_lr : cfg->optim.lr,
                 cfg->d_lr > 0 ? cfg->d_lr : cfg->optim.lr);
    return nn_dist_check(dist, rc);
}

/* Even out this step's slices (nn_balance_plan): ranks that own more than
 * their share of global batch b send their last members to ranks that own
 * fewer, as raw records (id, label, pixels) before augmentation. Collective,
 * and skipped by every rank alike when the slices are even already. */
static int balance_slice(nn_run *r, size_t b, int *n) {
    nn_dist *d = r->dist;
    const int N = d->size, me = d->rank;
    if (N == 1 || !r->cfg->balance) return NN_OK;
    nn_sampler_owned(r->order, r->train_count, (size_t)r->draw, b, N, r->owned);
    if (nn_balance_plan(r->owned, N, r->flow) == 0) return NN_OK;
    const size_t dim = nn_shape_size(r->train.shape), rec = xfer_record(dim);
    int out = 0, in = 0;
    for (int q = 0; q < N; q++) {
        out += r->flow[me * N + q], in += r->flow[q * N + me];
        r->send_bytes[q] = r->flow[me * N + q] * (int)rec;
        r->recv_bytes[q] = r->flow[q * N + me] * (int)rec;
    }
    /* A rank either sends or receives, so out + in <= batch records fit. */
    unsigned char *sbuf = r->xfer, *rbuf = r->xfer + (size_t)out * rec;
    const int keep = *n - out;
    for (int j = 0; j < out; j++) {
        unsigned char *p = sbuf + (size_t)j * rec;
        memcpy(p, &r->ids[keep + j], 8);
        memcpy(p + 8, &r->labels[keep + j], 4);
        memcpy(p + 16, r->x + (size_t)(keep + j) * dim, dim * sizeof(float));
    }
    nn_guard_arrive(d);
    NN_TRY(nn_dist_alltoallv(d, sbuf, r->send_bytes, rbuf, r->recv_bytes));
    for (int j = 0; j < in; j++) {
        const unsigned char *p = rbuf + (size_t)j * rec;
        memcpy(&r->ids[keep + j], p, 8);
        memcpy(&r->labels[keep + j], p + 8, 4);
        memcpy(r->x + (size_t)(keep + j) * dim, p + 16, dim * sizeof(float));
    }
    *n = keep + in;
    return NN_OK;
}

/* Test hooks: NNTRAIN_TEST_SIGNAL=STEP[:RANK] sends this process SIGTERM
 * as step STEP begins (on RANK only, or every rank), through the real
 * handler; NNTRAIN_TEST_STALL=STEP:RANK stops RANK there with SIGSTOP, and
 * NNTRAIN_TEST_STALL=STEP:RANK:reduce once it has arrived at the step's
 * gradient reduction (nn_run_test_hook_reduce). */
static struct {
    int parsed;
    unsigned long long at[2];
    int rank[2];
    bool in_reduce;
} hooks;

static void parse_hooks(void) {
    if (hooks.parsed) return; /* once: this runs every step */
    static const char *const vars[2] = {"NNTRAIN_TEST_SIGNAL", "NNTRAIN_TEST_STALL"};
    for (int k = 0; k < 2; k++) {
        const char *v = getenv(vars[k]);
        char *end = NULL;
        hooks.at[k] = v ? strtoull(v, &end, 10) : 0;
        hooks.rank[k] = v && *end == ':' ? (int)strtol(end + 1, &end, 10) : (k ? 0 : -1);
        if (k && v && !strcmp(end, ":reduce")) hooks.in_reduce = true;
    }
    hooks.parsed = 1;
}

void nn_run_test_hooks(const nn_dist *d, unsigned long long step) {
    parse_hooks();
    for (int k = 0; k < 2; k++)
        if (hooks.at[k] && hooks.at[k] == step && (hooks.rank[k] < 0 || hooks.rank[k] == d->rank) &&
            !(k && hooks.in_reduce))
            raise(k ? SIGSTOP : SIGTERM);
}

void nn_run_test_hook_reduce(const nn_dist *d, unsigned long long step) {
    parse_hooks();
    if (hooks.in_reduce && hooks.at[1] == step && hooks.rank[1] == d->rank) raise(SIGSTOP);
}

static int save_checkpoint(nn_run *r, const char *path) {
    double t0 = nn_run_now();
    int rc = r->mode->save(r, path);
    r->last_save = nn_run_now();
    nn_run_prof(r, P_CKPT, t0);
    return rc;
}

/* Queue this rank's members of global batch b for the prefetcher. */
static int prefetch_push(nn_run *r, size_t b) {
    int global_n;
    int n = nn_sampler_slice(r->order, r->train_count, (size_t)r->draw, b, r->train.shard,
                             r->pf_ids, &global_n);
    return nn_prefetch_push(r->pf, b, r->pf_ids, n);
}

/* This rank's members of batch b (ids already in r->ids): from the
 * prefetcher, queueing the batch depth steps ahead, or read now. */
static int read_batch(nn_run *r, size_t b, size_t nb, int n) {
    if (!r->pf) return nn_dataset_get_batch(&r->train, r->ids, n, r->x, r->labels);
    int rc = nn_prefetch_take(r->pf, b, r->x, r->labels);
    if (b + (size_t)r->pf_depth < nb) {
        int prc = prefetch_push(r, b + (size_t)r->pf_depth);
        if (rc == NN_OK) rc = prc;
    }
    return rc;
}

/* --profile: the per-layer times leave out the process's first step, which
 * touches the activations' memory for the first time (on this VM a step of
 * 512 images an airbench net's first convolution ran at 90 GFLOP/s forward
 * over 6 steps and 122 over 18) and warms OpenBLAS's buffers: a one-time cost
 * that the per-step figures would otherwise spread over a short run. A run of
 * one step keeps it. */
static void restart_layer_times(nn_run *r) {
    if (!r->mode->nets) return;
    nn_net *nets[4];
    const char *names[4];
    const int k = r->mode->nets(r, nets, names, 4);
    for (int i = 0; i < k; i++) nn_net_time_reset(nets[i]);
    r->layer_steps = 0;
}

/* One epoch, from batch st.epoch_step on (a mid-epoch resume), adding the
 * mode's metric sums to m (m[NN_RUN_METRICS] = seconds). Stops early, with
 * *stopped, when a stop signal reached any rank: then st.epoch_step and
 * st.partial say where. */
static int run_epoch(nn_run *r, int epoch, double *m, double *lr_out, bool *stopped) {
    const nn_train_cfg *cfg = r->cfg;
    const size_t nb = nn_sampler_batches(r->train_count, (size_t)r->draw);
    const double every = cfg->checkpoint_every * 60.0;
    double t0 = nn_run_now() - m[NN_RUN_METRICS];
    nn_meter meter;
    char what[64];
    snprintf(what, sizeof what, "epoch %d/%d", epoch + 1, cfg->epochs);
    const size_t first = r->st.epoch_step;
    nn_meter_start(&meter, cfg->progress, !cfg->quiet && r->dist->rank == 0, what, nb - first);
    double images = 0;
    nn_step s = {.epoch = epoch, .nb = nb};
    nn_sampler_order(cfg->seed, (uint64_t)epoch, r->train_count, r->order);
    if (r->pf) {
        nn_prefetch_reset(r->pf);
        for (size_t b = r->st.epoch_step; b < nb && b < r->st.epoch_step + (size_t)r->pf_depth; b++)
            NN_TRY(prefetch_push(r, b));
    }
    for (size_t b = r->st.epoch_step; b < nb; b++) {
        s.b = b;
        s.step = r->st.step + 1;
        nn_run_test_hooks(r->dist, s.step);
        nn_guard_progress(s.step, "reading the batch");
        double tp = nn_run_now();
        int n = nn_sampler_slice(r->order, r->train_count, (size_t)r->draw, b, r->train.shard,
                                 r->ids, &s.global_n);
        int rc = read_batch(r, b, nb, n);
        /* Every rank takes part in the exchange, even after a failed read
         * (then with harmless zeros): the error travels in the mode's
         * reduction, so every rank stops at this step. */
        if (rc != NN_OK) {
            memset(r->labels, 0, (size_t)n * sizeof(int));
            memset(r->x, 0, (size_t)n * nn_shape_size(r->train.shape) * sizeof(float));
        }
        nn_run_prof(r, P_DATA, tp), tp = nn_run_now();
        nn_guard_progress(s.step, "exchanging samples");
        NN_TRY(balance_slice(r, b, &n));
        nn_run_prof(r, P_EXCHANGE, tp), tp = nn_run_now();
        if (rc == NN_OK && (cfg->crop_pad > 0 || cfg->flip)) {
            const nn_augment aug = {
                .pad = cfg->crop_pad, .flip = cfg->flip, .alternate = cfg->flip_alternate,
                .reflect = cfg->crop_reflect};
            const size_t dim = nn_shape_size(r->train.shape);
            for (int j = 0; j < n; j++)
                nn_augment_apply(&aug, r->train.shape, r->x + (size_t)j * dim, cfg->seed,
                                 (uint64_t)epoch, r->ids[j], true);
        }
        nn_run_prof(r, P_DATA, tp);
        if (rc == NN_OK && r->pending_rc != NN_OK) rc = NN_ERR; /* the message is still set */
        s.n = n;
        s.rc = rc;
        s.lr = nn_sched_lr(&cfg->sched, epoch + (double)b / (double)nb, cfg->epochs);
        *lr_out = s.lr;
        if (cfg->profile && r->steps_run == 1) restart_layer_times(r);
        NN_TRY(r->mode->step(r, &s));
        r->steps_run++;
        r->layer_steps++;
        r->st.step++;
        for (int k = 0; k < NN_RUN_METRICS; k++) m[k] += s.m[k];
        m[NN_RUN_METRICS] = nn_run_now() - t0;
        images += s.global_n;
        if (meter.mode != NN_PROGRESS_OFF) {
            char stats[96];
            r->mode->running(m, stats, sizeof stats);
            nn_meter_update(&meter, b + 1 - first, images, stats);
        }
        if (b + 1 == nb) break; /* the epoch's end: reported and saved by the caller */
        /* Where a checkpoint written now resumes. */
        r->st.epoch_step = b + 1;
        r->st.partial[0] = m[0], r->st.partial[1] = m[1], r->st.partial[2] = m[2];
        r->st.partial[3] = m[NN_RUN_METRICS];
        for (int k = 0; k < 3; k++) r->st.partial_extra[k] = m[3 + k];
        if (s.stop) {
            nn_meter_end(&meter);
            *stopped = true;
            return NN_OK;
        }
        /* Periodic checkpoints are rank 0's alone (no collective); a failed
         * one stops every rank at the next step. */
        if (every > 0 && r->dist->rank == 0 && cfg->out_dir &&
            nn_run_now() - r->last_save >= every) {
            nn_guard_progress(s.step, "writing a checkpoint");
            r->pending_rc = save_checkpoint(r, r->ckpt);
        }
    }
    nn_meter_end(&meter);
    r->st.epoch_step = 0;
    memset(r->st.partial, 0, sizeof r->st.partial);
    memset(r->st.partial_extra, 0, sizeof r->st.partial_extra);
    NN_TRY(nn_dist_check(r->dist, r->pending_rc));
    *stopped = s.stop;
    return NN_OK;
}

/* Every rank must end with bitwise identical parameters: compare a hash of
 * them (min and max over ranks must agree). Cheap, and it catches any
 * nondeterminism that would make replicas drift apart. */
static int check_replicas(nn_run *r) {
    uint64_t h = r->mode->hash(r, 1469598103934665603ULL);
    h >>= 24; /* 40 bits: a sum over up to 2^13 ranks stays exact in a double */
    if (r->dist->size > 1) {
        /* All equal <=> on every rank, sum over ranks == size * own value. */
        double sum = (double)h;
        NN_TRY(nn_dist_allreduce_sum_f64(r->dist, &sum, 1));
        double differs = sum == (double)h * r->dist->size ? 0.0 : 1.0;
        NN_TRY(nn_dist_allreduce_sum_f64(r->dist, &differs, 1));
        if (differs != 0.0)
            return nn_fail("parameters differ between ranks after training (replica drift)");
    }
    if (r->dist->rank == 0 && !r->cfg->quiet)
        printf("parameters identical on all %d rank(s) (hash %010llx)\n", r->dist->size,
               (unsigned long long)h);
    return NN_OK;
}

/* Per-rank seconds per phase (collective): one row a rank, the slowest
 * rank (most compute) named. Without --profile waiting is inside reduce. */
static int report_profile(nn_run *r, const double *mine, const char *title) {
    nn_dist *d = r->dist;
    double *all = nn_calloc((size_t)d->size * P_N, sizeof(double), "profile");
    if (!all) return NN_ERR;
    memcpy(all + (size_t)d->rank * P_N, mine, P_N * sizeof(double));
    int rc = nn_dist_allreduce_sum_f64(d, all, (size_t)d->size * P_N);
    if (rc == NN_OK && d->rank == 0) {
        printf("time per rank, %s (seconds%s):\n          ", title,
               r->cfg->profile ? "" : "; reduce includes waiting for the other ranks");
        for (int p = 0; p < P_N; p++) printf(" %9s", phase_names[p]);
        printf("\n");
        int slow = 0;
        double worst = -1, sum = 0;
        for (int q = 0; q < d->size; q++) {
            const double *v = all + (size_t)q * P_N;
            printf("  rank %-3d", q);
            for (int p = 0; p < P_N; p++) printf(" %9.2f", v[p]);
            printf("\n");
            double work = v[P_DATA] + v[P_FORWARD] + v[P_BACKWARD] + v[P_OPTIM];
            sum += work;
            if (work > worst) worst = work, slow = q;
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

/* GFLOP/s of f FLOPs in t seconds, 0 when nothing was timed. */
static double gflops(double f, double t) { return t > 0 ? f / t * 1e-9 : 0.0; }

/* --profile, at the end (rank 0): each layer's forward and backward time per
 * step and its parameter bytes, the measured inputs of the scaling model
 * (tests/bench/scaling_model.sh reads these lines), and the rate of the
 * layers that count FLOPs; then the convolutions' rate over both passes
 * (tests/bench/conv_rate.sh sets it against the sgemm rate). */
static void report_layers(nn_run *r) {
    if (!r->cfg->profile || !r->mode->nets || r->dist->rank != 0 || r->layer_steps == 0) return;
    nn_net *nets[4];
    const char *names[4];
    const int k = r->mode->nets(r, nets, names, 4);
    const double per = 1e3 / (double)r->layer_steps;
    double conv_f = 0, conv_s = 0;
    printf("time per layer, rank 0, ms per step over %llu steps%s (backward in backward order; "
           "bytes: the layer's gradients; GFLOP/s where the layer counts FLOPs):\n",
           (unsigned long long)r->layer_steps,
           r->layer_steps < r->steps_run ? " after the first" : "");
    for (int i = 0; i < k; i++) {
        const nn_net *n = nets[i];
        if (!n->layer_s) continue;
        for (int j = n->nlayers - 1; j >= 0; j--) {
            const nn_layer *l = &n->layers[j];
            const double *t = n->layer_s + 2 * j, *f = n->layer_flop + 2 * j;
            printf("  layer %-14s %-20s forward %9.3f backward %9.3f bytes %zu", names[i],
                   l->name, t[0] * per, t[1] * per, l->nparams * sizeof(float));
            if (f[0] > 0)
                printf(" GFLOP/s %.1f %.1f", gflops(f[0], t[0]), gflops(f[1], t[1]));
            printf("\n");
            if (!strcmp(l->ops->type, "conv2d") || !strcmp(l->ops->type, "deconv2d"))
                conv_f += f[0] + f[1], conv_s += t[0] + t[1];
        }
    }
    if (conv_s > 0)
        printf("convolutions, rank 0: %.3f ms per step, %.1f GFLOP/s forward and backward\n",
               conv_s * per, gflops(conv_f, conv_s));
}

/* Agree whether any rank caught a stop signal (collective). */
static int any_stop(nn_dist *d, bool *stop) {
    double v = nn_guard_stop_signal() ? 1.0 : 0.0;
    NN_TRY(nn_dist_allreduce_sum_f64(d, &v, 1));
    *stop = v > 0;
    return NN_OK;
}

/* One line per rank; the checkpoint (if any) is already written. */
static void report_stop(const nn_run *r, bool wrote) {
    const int sig = nn_guard_stop_signal();
    const char *got = sig ? nn_guard_signal_name(sig) : "no signal here: another rank's";
    if (r->dist->rank == 0 && wrote)
        fprintf(stderr,
                "nntrain: stopped by a signal (%s) after step %llu (epoch %d, %llu batches "
                "into it); wrote %s; continue with --resume auto or --resume %s (exit status "
                "%d)\n",
                got, (unsigned long long)r->st.step, r->st.epoch + 1,
                (unsigned long long)r->st.epoch_step, r->ckpt, r->ckpt, NN_EXIT_STOPPED);
    else if (r->dist->rank == 0)
        fprintf(stderr,
                "nntrain: stopped by a signal (%s) before the first step; nothing written "
                "(exit status %d)\n",
                got, NN_EXIT_STOPPED);
    else
        fprintf(stderr, "nntrain: rank %d: stopped by a signal (%s) after step %llu\n",
                r->dist->rank, got, (unsigned long long)r->st.step);
}

/* After an epoch: the history row, the line, the checkpoint (rank 0). */
static int end_epoch(nn_run *r, int epoch, double *row) {
    const nn_train_cfg *cfg = r->cfg;
    if (r->dist->rank != 0) return NN_OK;
    NN_TRY(nn_history_add(&r->hist, row));
    if (!cfg->quiet) r->mode->print_row(r, row);
    /* Column 1 is the (first) training loss in every mode's history. */
    const double first = r->hist.v[1], loss = row[1];
    if (!r->warned_growth && r->hist.rows > 1 && loss > 10 * first) {
        r->warned_growth = true;
        fprintf(stderr,
                "nntrain: warning: the training loss %.4g at epoch %d is over 10x the first "
                "epoch's (%.4g): training is diverging; HINT: lower --lr (now %g)\n",
                loss, epoch + 1, first, cfg->sched.base_lr);
    }
    fflush(stdout);
    if (!cfg->out_dir) return NN_OK;
    const int bc = r->mode->best_col;
    const bool best = bc >= 0 && row[bc] > r->st.best_acc;
    if (best) r->st.best_acc = row[bc];
    NN_TRY(save_checkpoint(r, r->ckpt));
    NN_TRY(nn_history_write_csv(&r->hist, r->csv));
    if (cfg->keep_best && best) NN_TRY(save_checkpoint(r, r->best));
    if (r->mode->after_save) NN_TRY(r->mode->after_save(r, epoch));
    return NN_OK;
}

static void print_banner(const nn_run *r) {
    const nn_train_cfg *cfg = r->cfg;
    const nn_dist *dist = r->dist;
    char what[400] = "";
    r->mode->describe(r, what, sizeof what);
    printf("nntrain %s: %s, %d rank(s) x %d OpenBLAS thread(s) (%s kernel), device %s, train "
           "%zu / test %zu samples, %s\n",
           r->mode->name, cfg->data, dist->size, nn_blas_threads(), nn_blas_corename(),
           nn_backend_note(), r->train_count, r->test.count, what);
    if (cfg->batch_per_rank > 0 || cfg->lr_scale != NN_LR_SCALE_NONE)
        printf("weak scaling: global batch %d = %d per rank x %d rank(s); learning rate %g (%s "
               "--lr x %s)\n",
               cfg->batch, cfg->batch / dist->size, dist->size, cfg->sched.base_lr,
               cfg->lr_scale == NN_LR_SCALE_LINEAR ? "linear:"
               : cfg->lr_scale == NN_LR_SCALE_SQRT ? "sqrt:"
                                                   : "no --lr-scale:",
               cfg->lr_scale == NN_LR_SCALE_LINEAR ? "ranks"
               : cfg->lr_scale == NN_LR_SCALE_SQRT ? "sqrt(ranks)"
                                                   : "1");
    const nn_dataset *split[2] = {&r->train, &r->test};
    for (int i = 0; i < 2; i++) {
        if (!split[i]->cache_note[0]) continue; /* a loader without the choice */
        if (split[i]->streamed && split[i] == &r->train)
            printf("train split: streamed from disk, %d decoder thread(s) per rank filling a ring "
                   "of %d batches (%s)\n",
                   r->pf_workers, r->pf_depth, split[i]->cache_note);
        else
            printf("%s split: %s (%s)\n", i ? "test" : "train",
                   split[i]->streamed ? "streamed from disk" : "decoded into memory",
                   split[i]->cache_note);
    }
    if (cfg->val_split > 0)
        printf("test split: %g of each class of train/ held out (--val-split, chosen by --seed "
               "%llu): train %zu, test %zu\n",
               cfg->val_split, (unsigned long long)cfg->seed, r->train.count, r->test.count);
    if (cfg->test_limit > 0)
        printf("test split: the first %zu samples only (--test-limit %ld)\n", r->test.count,
               cfg->test_limit);
    if (cfg->eval_every > 1)
        printf("evaluation: every %d epochs and after the last (--eval-every)\n",
               cfg->eval_every);
    if (r->resume)
        printf("resuming %s after epoch %d%s (step %llu)\n", r->resume, r->st.epoch,
               r->st.epoch_step ? " and part of the next" : "", (unsigned long long)r->st.step);
    printf("%s\n", r->mode->header);
    fflush(stdout);
}

int nn_run_train(const nn_mode *mode, const nn_train_cfg *cfg, nn_dist *dist) {
    nn_guard_signals();
    nn_run r = {.mode = mode, .cfg = cfg, .dist = dist, .lock_fd = -1, .pending_rc = NN_OK};
    nn_history_init(&r.hist, mode->cols, mode->ncols);
    int rc = run_setup(&r);
    bool stop = false, wrote = false;
    if (rc == NN_OK) rc = any_stop(dist, &stop);
    if (rc == NN_OK && !stop && r.st.epoch == cfg->epochs && r.st.epoch_step == 0) {
        if (dist->rank == 0)
            printf("nntrain: %s is already trained for %d epochs (--epochs %d): nothing to do\n",
                   r.resume, r.st.epoch, cfg->epochs);
        run_free(&r);
        return NN_OK;
    }
    if (rc == NN_OK && !stop) rc = nn_guard_watchdog_start(dist, cfg->step_timeout);
    if (rc == NN_OK && !stop && dist->rank == 0 && !cfg->quiet) print_banner(&r);
    r.last_save = nn_run_now();
    for (int epoch = r.st.epoch; rc == NN_OK && !stop && epoch < cfg->epochs; epoch++) {
        double w0 = dist->wait_seconds, lr = 0, m[NN_RUN_METRICS + 1] = {0};
        m[0] = r.st.partial[0], m[1] = r.st.partial[1], m[2] = r.st.partial[2];
        for (int k = 0; k < 3; k++) m[3 + k] = r.st.partial_extra[k];
        m[NN_RUN_METRICS] = r.st.partial[3];
        memset(r.prof_epoch, 0, sizeof r.prof_epoch);
        rc = run_epoch(&r, epoch, m, &lr, &stop);
        if (rc != NN_OK) break;
        if (r.st.epoch_step > 0) { /* stopped inside the epoch */
            if (dist->rank == 0 && cfg->out_dir) rc = save_checkpoint(&r, r.ckpt);
            rc = nn_dist_check(dist, rc);
            wrote = rc == NN_OK && cfg->out_dir;
            break;
        }
        const double secs = m[NN_RUN_METRICS], wait = dist->wait_seconds - w0;
        double row[32] = {0};
        rc = mode->epoch_row(&r, epoch, m, row);
        if (rc != NN_OK) break;
        /* The columns every mode has: seconds, images/s, allreduce share, lr. */
        const int sc = mode->seconds_col;
        row[sc] = secs;
        row[sc + 1] = (double)r.train_count / secs;
        row[sc + 2] = wait / secs;
        row[sc + 3] = lr;
        r.st.epoch = epoch + 1;
        nn_guard_progress(r.st.step, "writing the checkpoint");
        rc = nn_dist_check(dist, end_epoch(&r, epoch, row));
        if (rc == NN_OK && cfg->profile) rc = report_profile(&r, r.prof_epoch, "this epoch");
        /* A signal during evaluation or the save stops here, once saved. */
        if (rc == NN_OK && !stop) rc = any_stop(dist, &stop);
        if (stop && r.st.epoch == cfg->epochs) stop = false; /* finished anyway */
        wrote = cfg->out_dir != NULL;
    }
    nn_guard_watchdog_stop();
    if (rc == NN_OK) rc = check_replicas(&r);
    if (rc == NN_OK && !cfg->quiet) rc = report_profile(&r, r.prof, "whole run");
    if (rc == NN_OK) report_layers(&r);
    if (rc == NN_OK && stop) {
        report_stop(&r, wrote);
        run_free(&r);
        return NN_TRAIN_STOPPED;
    }
    if (rc == NN_OK && dist->rank == 0 && cfg->out_dir && !cfg->quiet)
        printf("wrote %s and %s\n", r.ckpt, r.csv);
    /* Learning curves: a convenience, so a missing gnuplot only warns. */
    if (rc == NN_OK && dist->rank == 0 && cfg->out_dir && cfg->plot &&
        nn_plot_run(cfg->out_dir) != NN_OK)
        fprintf(stderr, "nntrain: warning: no plots: %s\n", nn_errmsg());
    run_free(&r);
    return rc;
}
