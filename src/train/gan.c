/* gan.c: the GAN mode of the training skeleton (run.h), the course's task
 * B3 as in the DCGAN paper: a generator G(z) from Gaussian noise z and a
 * discriminator D(x) (one logit), trained in turn on every step:
 *
 *   D step: B/2 real images (target 1) and B/2 images G made from fresh noise
 *           (target 0), in one forward of D (BatchNorm statistics over both),
 *           sigmoid cross-entropy, D's gradients summed over ranks, D updated.
 *   G step: B fresh noise vectors through G and D with target 1, i.e.
 *           minimising -log D(G(z)) (the non-saturating loss); the gradient
 *           enters G from D's input gradient; D's parameter gradients of this
 *           pass are not computed (nn_ctx.no_param_grads); G's are summed
 *           over ranks and G updated.
 *
 * Pixels are scaled to [-1, 1] (G ends in tanh). Data parallel like the
 * classifier: the real images of a step are the skeleton's global batch of
 * B/2 (each rank its balanced slice); the fakes of a step are numbered
 * 0..B/2-1 (D step) and 0..B-1 (G step) and split evenly over the ranks; the
 * noise of fake i is a function of (seed, step, which step, i) only, so
 * N = 1, 2, 4 ranks train the same nets (float summation order aside) and a
 * resumed run continues bit for bit.
 *
 * With --ema DECAY the run also keeps an exponential moving average of G's
 * parameters and BatchNorm statistics (nn_ema_update), updated after every G
 * step: a third net, "generator_ema" in the checkpoint, which the sample
 * grids, `sample` and `gan-score` use. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nn/error.h"
#include "nn/fileutil.h"
#include "nn/guard.h"
#include "nn/image.h"
#include "nn/loss.h"
#include "nn/rng.h"
#include "run.h"

/* The DCGAN presets (the course's, as in ../shared/anchors/torch_dcgan.py). */
static const struct {
    const char *name;
    nn_shape shape; /* the images it makes */
    const char *g, *d;
} presets[] = {
    {"dcgan-mnist", {1, 28, 28},
     "dense 6272 bias=false; batchnorm; relu; reshape 128x7x7\n"
     "deconv2d 64 size=5 stride=2 pad=2 out_pad=1 bias=false; batchnorm; relu\n"
     "deconv2d 1 size=5 stride=2 pad=2 out_pad=1; tanh",
     "conv2d 64 size=5 stride=2 pad=2; leaky_relu alpha=0.2\n"
     "conv2d 128 size=5 stride=2 pad=2 bias=false; batchnorm; leaky_relu alpha=0.2\n"
     "flatten; dense 1"},
    {"dcgan-cifar", {3, 32, 32},
     "dense 4096 bias=false; batchnorm; relu; reshape 256x4x4\n"
     "deconv2d 128 size=4 stride=2 pad=1 bias=false; batchnorm; relu\n"
     "deconv2d 64 size=4 stride=2 pad=1 bias=false; batchnorm; relu\n"
     "deconv2d 3 size=4 stride=2 pad=1; tanh",
     "conv2d 64 size=4 stride=2 pad=1; leaky_relu alpha=0.2\n"
     "conv2d 128 size=4 stride=2 pad=1 bias=false; batchnorm; leaky_relu alpha=0.2\n"
     "conv2d 256 size=4 stride=2 pad=1 bias=false; batchnorm; leaky_relu alpha=0.2\n"
     "flatten; dense 1"},
};

/* The metrics tail of D's and G's gradient buffers. */
enum { D_LOSS, D_REAL, D_COUNT, D_FAKE, D_ERROR, D_STOP };
enum { G_LOSS, G_ERROR };
#define FIXED_SAMPLES 64 /* the noise of the per-epoch sample grid */

typedef struct {
    nn_net g, d;
    nn_net ge;      /* the moving average of g (--ema; params NULL when off) */
    nn_optim og, od;
    int runs_epoch; /* the epoch og's and od's learning-rate runs are for */
    int z;          /* noise dimensions */
    float *zbuf;    /* (B, z) this rank's noise */
    float *dx;      /* (B, C*H*W) D's input: real then fake; D's input gradient */
    float *t;       /* (B) targets */
    float *fixed;   /* (FIXED_SAMPLES, z) */
    uint64_t *fids; /* (B) sample ids of D's input in the D step, of G's in the G step
                       (dropout keys) */
    uint64_t *dids; /* (B) sample ids of D's input in the G step */
} gan;

/* Noise: z of fake i of the D (which = 0) or G (which = 1) pass of a step. */
static void noise(float *z, int dim, uint64_t seed, uint64_t step, int which, uint64_t i) {
    nn_rng rng;
    nn_rng_seed(&rng, nn_hash64(seed, 0x6a09e667f3bcc908ULL),
                nn_hash64(nn_hash64(step, (uint64_t)which), i));
    for (int k = 0; k < dim; k++) z[k] = nn_rng_normal(&rng);
}

/* Fake i of a step's pass (which: 0 = D step, 1 = G step) as a sample of D.
 * D's dropout masks are keyed by (seed, epoch, sample id), so a fake's id must
 * change from step to step, as the fakes do: with ids that repeated all epoch
 * long, D's masks on fakes repeated too and G learnt to fool those few masks
 * (D(G(z)) 0.9 in the G step against 0.02 in the D step, and no digits). The
 * top bit keeps the ids apart from the data set's. */
uint64_t nn_gan_fake_id(uint64_t step, int which, uint64_t i) {
    return nn_hash64(nn_hash64(step, (uint64_t)which), i) | (1ULL << 63);
}

/* The part [lo, hi) of n fakes this rank makes. */
static void share(int n, const nn_dist *d, int *lo, int *hi) {
    *lo = (int)((long)n * d->rank / d->size);
    *hi = (int)((long)n * (d->rank + 1) / d->size);
}

static int gan_draw(const nn_train_cfg *cfg) { return cfg->batch / 2 > 0 ? cfg->batch / 2 : 1; }

/* The spec text for --generator / --discriminator (a DCGAN preset, a file,
 * inline text), or the preset that fits the data when not given. */
static char *net_spec(const char *given, int which, nn_shape data, const char **origin) {
    const char *name = given;
    if (!name) {
        for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
            if (presets[i].shape.c == data.c && presets[i].shape.h == data.h &&
                presets[i].shape.w == data.w)
                name = presets[i].name;
        if (!name) {
            nn_fail("no DCGAN preset for %dx%dx%d images (dcgan-mnist: 1x28x28, dcgan-cifar: "
                    "3x32x32): give --generator and --discriminator",
                    data.c, data.h, data.w);
            return NULL;
        }
    }
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
        if (!strcmp(name, presets[i].name)) {
            *origin = which ? "--discriminator" : "--generator";
            char *s = strdup(which ? presets[i].d : presets[i].g);
            if (!s) nn_fail("out of memory");
            return s;
        }
    /* A spec file names itself in errors; inline text and the rest name the
     * flag (nn_model_origin would say --model). */
    const char *flag = which ? "--discriminator" : "--generator";
    const char *o = nn_model_origin(name);
    *origin = strcmp(o, "--model") ? o : flag;
    struct stat st;
    if (stat(name, &st) != 0 && !strpbrk(name, " \t;\n")) {
        char q[200];
        nn_fail("%s %s: not a DCGAN preset (dcgan-mnist, dcgan-cifar), not a readable spec file, "
                "and not an inline spec",
                flag, nn_escaped(name, 120, q, sizeof q));
        return NULL;
    }
    return nn_model_resolve(name, 0, 0);
}

/* G must make one value per pixel of the data's images, D one logit: said
 * with the flag (or file) and the shape, not as a classifier's classes. */
static int check_out(const nn_net *net, const char *origin, int which, nn_shape img) {
    const size_t got = nn_net_out_size(net), want = which ? 1 : nn_shape_size(img);
    if (got == want) return NN_OK;
    const char *last = net->nlayers > 0 ? net->layers[net->nlayers - 1].name : "?";
    if (which)
        return nn_fail("%s: the discriminator's last layer (%s) has %zu outputs, but D must "
                       "end in 1 logit per image (real or fake), e.g. 'dense 1'",
                       origin, last, got);
    return nn_fail("%s: the generator's last layer (%s) has %zu outputs, but G must make %zu "
                   "values per image, one per pixel of the data's %dx%dx%d (CxHxW) images "
                   "(then tanh)",
                   origin, last, got, want, img.c, img.h, img.w);
}

/* The average starts from G itself (a fresh run, or a checkpoint without one). */
static void ema_reset(gan *g) {
    if (g->ge.params) nn_run_copy_weights(&g->ge, &g->g);
}

static int gan_create(nn_run *r) {
    const nn_train_cfg *cfg = r->cfg;
    gan *g = nn_calloc(1, sizeof *g, "GAN");
    if (!g) return nn_dist_check(r->dist, NN_ERR);
    r->m = g;
    const nn_shape img = r->train.shape;
    const int dim = (int)nn_shape_size(img), B = cfg->batch;
    char *gs = NULL, *ds = NULL;
    const char *go = "--generator", *dor = "--discriminator";
    nn_shape gin = {cfg->z_dim > 0 ? cfg->z_dim : NN_DEFAULT_Z_DIM, 1, 1}, din = img;
    int gout = dim, dout = 1, rc = NN_OK;
    if (r->resume) {
        rc = nn_ckpt_read_part(r->resume, NN_CKPT_GAN, "generator", &gs, &gin, &gout);
        if (rc == NN_OK)
            rc = nn_ckpt_read_part(r->resume, NN_CKPT_GAN, "discriminator", &ds, &din, &dout);
        if (rc == NN_OK && (gout != dim || din.c != img.c || din.h != img.h || din.w != img.w))
            rc = nn_fail("%s: the GAN makes %d values per image and judges %dx%dx%d images, "
                         "the data set %s has %dx%dx%d",
                         r->resume, gout, din.c, din.h, din.w, cfg->data, img.c, img.h, img.w);
        /* --z-dim, --generator, --discriminator given: the checkpoint's, or a
         * refusal naming the flag (they were ignored without a word). */
        const int z = gin.c * gin.h * gin.w;
        if (rc == NN_OK && nn_run_z_dim_given(cfg) && cfg->z_dim != z)
            rc = nn_fail("%s: the generator was trained on %d noise values, but this run has "
                         "--z-dim %d; HINT: a resumed run continues the checkpoint's model: "
                         "leave --z-dim out, or start a new run in another --out",
                         r->resume, z, cfg->z_dim);
        for (int which = 0; which < 2 && rc == NN_OK; which++) {
            const char *given = which ? cfg->discriminator : cfg->generator;
            if (!given) continue;
            const char *o = NULL;
            char *want = net_spec(given, which, img, &o);
            rc = want ? nn_run_same_spec(r->resume, which ? "the discriminator" : "the generator",
                                         which ? ds : gs, which ? "--discriminator" : "--generator",
                                         given, want)
                      : NN_ERR;
            free(want);
        }
        go = dor = r->resume;
        int has = 0;
        if (rc == NN_OK && cfg->ema == 0 && r->dist->rank == 0 &&
            nn_ckpt_has_part(r->resume, NN_CKPT_GAN, NN_CKPT_GENERATOR_EMA, &has) == NN_OK && has)
            printf("warning: %s keeps a moving average of the generator; without --ema this run "
                   "drops it from its checkpoints\n",
                   r->resume);
    } else {
        gs = net_spec(cfg->generator, 0, img, &go);
        ds = gs ? net_spec(cfg->discriminator, 1, img, &dor) : NULL;
        if (!gs || !ds) rc = NN_ERR;
    }
    g->z = gin.c * gin.h * gin.w;
    const int gmax = B > FIXED_SAMPLES ? B : FIXED_SAMPLES;
    if (rc == NN_OK) rc = nn_net_create(&g->g, gs, go, gin, 0, gmax, nn_backend_current());
    if (rc == NN_OK) rc = check_out(&g->g, go, 0, img);
    if (rc == NN_OK) rc = nn_net_create(&g->d, ds, dor, img, 0, B, nn_backend_current());
    if (rc == NN_OK) rc = check_out(&g->d, dor, 1, img);
    if (rc == NN_OK && cfg->ema > 0)
        rc = nn_net_create(&g->ge, gs, go, gin, dim, FIXED_SAMPLES, nn_backend_current());
    free(gs), free(ds);
    nn_optim_cfg oc = cfg->optim;
    if (cfg->g_lr > 0) oc.lr = cfg->g_lr;
    if (rc == NN_OK) rc = nn_optim_create(&g->og, &oc, g->g.nparams);
    oc = cfg->optim;
    if (cfg->d_lr > 0) oc.lr = cfg->d_lr;
    if (rc == NN_OK) rc = nn_optim_create(&g->od, &oc, g->d.nparams);
    if (rc == NN_OK) rc = nn_net_lr_runs(&g->g, &g->og, 0);
    if (rc == NN_OK) rc = nn_net_lr_runs(&g->d, &g->od, 0);
    if (rc == NN_OK) {
        g->zbuf = nn_alloc((size_t)gmax * g->z * sizeof(float), "noise");
        g->dx = nn_alloc((size_t)B * dim * sizeof(float), "discriminator input");
        g->t = nn_alloc((size_t)B * sizeof(float), "targets");
        g->fixed = nn_alloc((size_t)FIXED_SAMPLES * g->z * sizeof(float), "fixed noise");
        g->fids = nn_alloc((size_t)B * sizeof(uint64_t), "sample ids");
        g->dids = nn_alloc((size_t)B * sizeof(uint64_t), "sample ids");
        if (!g->zbuf || !g->dx || !g->t || !g->fixed || !g->fids || !g->dids) rc = NN_ERR;
    }
    NN_TRY(nn_dist_check(r->dist, rc));
    /* Two inits from one seed: G's and D's weights must not be the same draws. */
    nn_net_init(&g->g, nn_hash64(cfg->seed, 1));
    nn_net_init(&g->d, nn_hash64(cfg->seed, 2));
    for (int i = 0; i < FIXED_SAMPLES; i++)
        noise(g->fixed + (size_t)i * g->z, g->z, cfg->seed, 0, 2, (uint64_t)i);
    ema_reset(g);
    return NN_OK;
}

/* The checkpoint's nets: generator, discriminator, and generator_ema when
 * kept. Returns how many. */
static int parts(gan *g, nn_ckpt_part p[3]) {
    p[0] = (nn_ckpt_part){"generator", &g->g, &g->og};
    p[1] = (nn_ckpt_part){"discriminator", &g->d, &g->od};
    p[2] = (nn_ckpt_part){NN_CKPT_GENERATOR_EMA, &g->ge, NULL};
    return g->ge.params ? 3 : 2;
}

static int gan_load(nn_run *r) {
    gan *g = r->m;
    nn_ckpt_part p[3];
    int n = parts(g, p), has = 0;
    if (n == 3) {
        NN_TRY(nn_ckpt_has_part(r->resume, NN_CKPT_GAN, NN_CKPT_GENERATOR_EMA, &has));
        if (!has) n = 2;
    }
    NN_TRY(nn_ckpt_load_parts(r->resume, NN_CKPT_GAN, p, n, &r->st, &r->hist));
    if (g->ge.params && !has) {
        ema_reset(g);
        printf("%s has no generator average: --ema starts it from the generator\n", r->resume);
    }
    return NN_OK;
}

static int gan_bcast(nn_run *r) {
    gan *g = r->m;
    NN_TRY(nn_run_bcast_net(r->dist, &g->g, &g->og));
    NN_TRY(nn_run_bcast_net(r->dist, &g->d, &g->od));
    return g->ge.params ? nn_run_bcast_net(r->dist, &g->ge, NULL) : NN_OK;
}

/* G makes fakes [lo, hi) of a pass (which: 0 = D step, 1 = G step) of
 * `total`, in training mode (BatchNorm over all `total`, across ranks). */
static int make_fakes(nn_run *r, uint64_t step, int which, int lo, int hi, int total,
                      const float **out) {
    gan *g = r->m;
    for (int i = lo; i < hi; i++)
        noise(g->zbuf + (size_t)(i - lo) * g->z, g->z, r->cfg->seed, step, which, (uint64_t)i);
    for (int i = lo; i < hi; i++) g->fids[i - lo] = (uint64_t)i;
    nn_ctx c = {.train = true, .n = hi - lo, .global_n = total, .sample_ids = g->fids,
                .seed = r->cfg->seed, .epoch = step * 2 + (uint64_t)which, .dist = r->dist,
                .bn_sync = r->cfg->bn_sync};
    return nn_net_forward(&g->g, &c, g->zbuf, out);
}

static void to_signed(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 2.0f * x[i] - 1.0f;
}

static int gan_step(nn_run *r, nn_step *s) {
    gan *g = r->m;
    const size_t dim = nn_shape_size(r->train.shape);
    const int n = s->n, nfake = s->global_n; /* as many fakes as real images */
    int lo, hi, rc = s->rc;
    double tp = nn_run_now();
    nn_net *D = &g->d, *G = &g->g;
    if (rc == NN_OK && s->epoch != g->runs_epoch) { /* tensors frozen from this epoch on */
        rc = nn_net_lr_runs(G, &g->og, s->epoch);
        if (rc == NN_OK) rc = nn_net_lr_runs(D, &g->od, s->epoch);
        g->runs_epoch = s->epoch;
    }
    float *dm = D->grads + D->nparams, *gm = G->grads + G->nparams;

    /* ---- D step: the real slice, then this rank's fakes ---- */
    /* Two passes, as in the DCGAN reference code: BatchNorm in D then sees a
     * batch of fakes alone both here and in the G step. (One forward of real
     * and fake together lets D separate them by the batch mean, which a
     * batch of fakes alone does not have: the G step then learns nothing.) */
    nn_guard_progress(s->step, "discriminator step");
    share(nfake, r->dist, &lo, &hi);
    const int nf = hi - lo;
    nn_net_zero_grad(D);
    memcpy(g->dx, r->x, (size_t)n * dim * sizeof(float));
    to_signed(g->dx, (size_t)n * dim);
    const float *fake = NULL, *logits = NULL;
    float *dlog = D->dbuf[D->nlayers & 1];
    /* Every rank runs every pass, even after a failure: G's and D's
     * synchronised BatchNorm reduce across ranks inside them. */
    int frc = make_fakes(r, s->step, 0, lo, hi, nfake, &fake);
    if (frc == NN_OK) memcpy(g->dx + (size_t)n * dim, fake, (size_t)nf * dim * sizeof(float));
    if (rc == NN_OK) rc = frc;
    const float scale = 1.0f / (float)(s->global_n + nfake); /* the mean over B images */
    double dsum[2] = {0, 0}, psum[2] = {0, 0};
    for (int pass = 0; pass < 2; pass++) { /* 0: real (target 1), 1: fake (target 0) */
        const int m = pass ? nf : n;
        const float *x = g->dx + (size_t)(pass ? n : 0) * dim;
        for (int i = 0; i < m; i++) {
            g->fids[i] = pass ? nn_gan_fake_id(s->step, 0, (uint64_t)(lo + i)) : r->ids[i];
            g->t[i] = pass ? 0.0f : r->cfg->real_label;
        }
        nn_ctx c = {.train = true, .n = m, .global_n = pass ? nfake : s->global_n,
                    .sample_ids = g->fids, .seed = r->cfg->seed, .epoch = (uint64_t)s->epoch,
                    .dist = r->dist, .bn_sync = r->cfg->bn_sync};
        int drc = nn_net_forward(D, &c, x, &logits);
        if (rc == NN_OK) rc = drc;
        nn_run_prof(r, P_FORWARD, tp), tp = nn_run_now();
        if (drc == NN_OK) {
            dsum[pass] = D->be->sigmoid_xent(logits, g->t, m, scale, dlog);
            for (int i = 0; i < m; i++) {
                float p;
                nn_sigmoid(&logits[i], 1, &p);
                psum[pass] += p;
            }
            drc = nn_net_backward(D, &c, x, dlog);
            if (rc == NN_OK) rc = drc;
        }
        nn_run_prof(r, P_BACKWARD, tp), tp = nn_run_now();
    }
    const double dloss = dsum[0] + dsum[1];
    if (!isfinite(dloss) && rc == NN_OK)
        rc = nn_fail("the discriminator's loss became %g at step %llu; HINT: lower --lr", dloss,
                     (unsigned long long)s->step);
    dm[D_LOSS] = (float)(dloss * scale); /* this rank's part of the mean */
    dm[D_REAL] = (float)psum[0];
    dm[D_COUNT] = (float)n;
    dm[D_FAKE] = (float)psum[1];
    dm[D_ERROR] = rc == NN_OK ? 0.0f : 1.0f;
    dm[D_STOP] = nn_guard_stop_signal() ? 1.0f : 0.0f;
    if (rc != NN_OK && r->dist->size == 1) return NN_ERR;
    nn_guard_arrive(r->dist);
    nn_guard_progress(s->step, "discriminator gradient reduction");
    NN_TRY(nn_dist_allreduce_sum(r->dist, D->grads, D->nparams + NN_NET_METRICS));
    nn_run_prof(r, P_REDUCE, tp), tp = nn_run_now();
    if (dm[D_ERROR] != 0.0f) return nn_dist_check(r->dist, rc);
    nn_optim_step(&g->od, D->params, D->grads, s->lr * g->od.cfg.lr / r->cfg->optim.lr);
    nn_run_prof(r, P_OPTIM, tp), tp = nn_run_now();
    s->m[0] = dm[D_LOSS];
    s->m[1] = dm[D_REAL];
    s->m[2] = dm[D_COUNT];
    s->m[4] = dm[D_FAKE];
    s->m[5] = 1;
    s->stop = dm[D_STOP] != 0.0f;

    /* ---- G step: B fakes through G and D, target 1 ---- */
    nn_guard_progress(s->step, "generator step");
    const int total = 2 * nfake;
    share(total, r->dist, &lo, &hi);
    const int ng = hi - lo;
    nn_net_zero_grad(G);
    rc = make_fakes(r, s->step, 1, lo, hi, total, &fake);
    for (int i = 0; i < ng; i++) g->t[i] = 1.0f;
    nn_ctx cg = {.train = true, .n = ng, .global_n = total, .sample_ids = g->fids,
                 .seed = r->cfg->seed, .epoch = s->step * 2 + 1, .dist = r->dist,
                 .bn_sync = r->cfg->bn_sync};
    for (int i = 0; i < ng; i++) g->dids[i] = nn_gan_fake_id(s->step, 1, (uint64_t)(lo + i));
    nn_ctx cd = cg;
    cd.epoch = (uint64_t)s->epoch;
    cd.sample_ids = g->dids;
    cd.no_param_grads = true; /* D's gradients of this pass are not used */
    /* D judges G's output where G left it (its last activation). */
    const float *din = rc == NN_OK ? fake : g->dx;
    int frc2 = nn_net_forward(D, &cd, din, &logits);
    if (rc == NN_OK) rc = frc2;
    nn_run_prof(r, P_FORWARD, tp), tp = nn_run_now();
    if (frc2 == NN_OK) {
        double loss = D->be->sigmoid_xent(logits, g->t, ng, 1.0f / (float)total, dlog);
        gm[G_LOSS] = (float)(loss / total);
        /* D's input gradient, into dx: where G's backward starts. */
        frc2 = nn_net_backward_dx(D, &cd, din, dlog, g->dx);
        if (frc2 == NN_OK) frc2 = nn_net_backward(G, &cg, g->zbuf, g->dx);
        if (rc == NN_OK) rc = frc2;
    }
    nn_run_prof(r, P_BACKWARD, tp), tp = nn_run_now();
    gm[G_ERROR] = rc == NN_OK ? 0.0f : 1.0f;
    if (rc != NN_OK && r->dist->size == 1) return NN_ERR;
    nn_guard_arrive(r->dist);
    nn_guard_progress(s->step, "generator gradient reduction");
    NN_TRY(nn_dist_allreduce_sum(r->dist, G->grads, G->nparams + NN_NET_METRICS));
    nn_run_prof(r, P_REDUCE, tp), tp = nn_run_now();
    if (gm[G_ERROR] != 0.0f) return nn_dist_check(r->dist, rc);
    if (!isfinite(gm[G_LOSS]))
        return nn_fail("the generator's loss became %g at step %llu; HINT: lower --lr",
                       gm[G_LOSS], (unsigned long long)s->step);
    nn_optim_step(&g->og, G->params, G->grads, s->lr * g->og.cfg.lr / r->cfg->optim.lr);
    /* The same on every rank: G's parameters and statistics are. */
    if (g->ge.params) nn_run_ema_update(&g->ge, G, r->cfg->ema, g->og.t);
    nn_run_prof(r, P_OPTIM, tp);
    s->m[3] = gm[G_LOSS];
    return NN_OK;
}

static int gan_epoch_row(nn_run *r, int epoch, const double *m, double *row) {
    (void)r;
    row[NN_HG_EPOCH] = epoch + 1;
    row[NN_HG_D_LOSS] = m[0] / m[5];
    row[NN_HG_G_LOSS] = m[3] / m[5];
    row[NN_HG_D_REAL] = m[2] > 0 ? m[1] / m[2] : 0;
    row[NN_HG_D_FAKE] = m[2] > 0 ? m[4] / m[2] : 0;
    return NN_OK;
}

static void gan_print_row(const nn_run *r, const double *row) {
    (void)r;
    printf("%5.0f %8.4f %8.4f %7.4f %7.4f %8.2f %9.0f %8.1f%%\n", row[NN_HG_EPOCH],
           row[NN_HG_D_LOSS], row[NN_HG_G_LOSS], row[NN_HG_D_REAL], row[NN_HG_D_FAKE],
           row[NN_HG_SECONDS], row[NN_HG_IMAGES_PER_S], 100.0 * row[NN_HG_WAIT_SHARE]);
}

static int gan_save(nn_run *r, const char *path) {
    nn_ckpt_part p[3];
    const int n = parts(r->m, p);
    return nn_ckpt_save_parts(path, NN_CKPT_GAN, p, n, &r->st, &r->hist, r->config,
                              r->dist->size, NULL);
}

int nn_gan_generate(nn_net *gen, const float *z, int n, float *out) {
    nn_ctx c = {.train = false, .n = n, .global_n = n};
    const size_t dim = nn_net_out_size(gen);
    for (int i0 = 0; i0 < n; i0 += gen->max_n) {
        c.n = c.global_n = n - i0 < gen->max_n ? n - i0 : gen->max_n;
        const float *y;
        NN_TRY(nn_net_forward(gen, &c, z + (size_t)i0 * gen->in.c * gen->in.h * gen->in.w, &y));
        memcpy(out + (size_t)i0 * dim, y, (size_t)c.n * dim * sizeof(float));
    }
    return NN_OK;
}

/* OUT/samples/epoch_NNN.png: 8x8 samples from the fixed noise, G (its
 * moving average with --ema) in inference mode (BatchNorm's running
 * statistics). */
static int gan_after_save(nn_run *r, int epoch) {
    gan *g = r->m;
    char *dir = nn_strfmt("%s/samples", r->cfg->out_dir);
    char *png = dir ? nn_strfmt("%s/epoch_%03d.png", dir, epoch + 1) : NULL;
    float *img = nn_alloc((size_t)FIXED_SAMPLES * nn_net_out_size(&g->g) * sizeof(float),
                          "samples");
    int rc = png && img ? nn_mkdirs(dir) : NN_ERR;
    if (rc == NN_OK)
        rc = nn_gan_generate(g->ge.params ? &g->ge : &g->g, g->fixed, FIXED_SAMPLES, img);
    if (rc == NN_OK) rc = nn_png_write_grid(png, img, FIXED_SAMPLES, r->train.shape, 8, -1, 1);
    free(dir), free(png), free(img);
    return rc;
}

static double gan_ckpt_bytes(const nn_run *r) {
    const gan *g = r->m;
    const size_t ema = g->ge.params ? g->ge.nparams + g->ge.nstate : 0;
    return (double)(g->g.nparams * (1 + (size_t)g->og.nslots) + g->g.nstate +
                    g->d.nparams * (1 + (size_t)g->od.nslots) + g->d.nstate + ema) *
               sizeof(float) + 131072.0;
}

static uint64_t gan_hash(const nn_run *r, uint64_t h) {
    const gan *g = r->m;
    h = nn_run_hash_params(&g->g, h);
    if (g->ge.params) h = nn_run_hash_params(&g->ge, h);
    return nn_run_hash_params(&g->d, h);
}

static void gan_describe(const nn_run *r, char *buf, size_t n) {
    const gan *g = r->m;
    int k = snprintf(buf, n, "generator %zu parameters (z %d), discriminator %zu, optimizer %s, "
                             "global batch %d (%d real + %d fake for D, %d fake for G)",
                     g->g.nparams, g->z, g->d.nparams, nn_optim_name(r->cfg->optim.kind),
                     r->cfg->batch, r->draw, r->draw, 2 * r->draw);
    if (g->ge.params && k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, ", generator average (--ema %g)", r->cfg->ema);
}

static void gan_free(nn_run *r) {
    gan *g = r->m;
    if (!g) return;
    nn_net_free(&g->g), nn_net_free(&g->d), nn_net_free(&g->ge);
    nn_optim_free(&g->og), nn_optim_free(&g->od);
    free(g->zbuf), free(g->dx), free(g->t), free(g->fixed), free(g->fids), free(g->dids);
    free(g);
    r->m = NULL;
}

static int gan_nets(nn_run *r, nn_net **nets, const char **names, int max) {
    gan *g = r->m;
    if (max < 2) return 0;
    nets[0] = &g->g, names[0] = "generator";
    nets[1] = &g->d, names[1] = "discriminator";
    return 2;
}

static void gan_running(const double *m, char *buf, size_t n) {
    const double steps = m[5] > 0 ? m[5] : 1;
    snprintf(buf, n, "D %.3f G %.3f D(x) %.2f D(G(z)) %.2f", m[0] / steps, m[3] / steps,
             m[2] > 0 ? m[1] / m[2] : 0, m[2] > 0 ? m[4] / m[2] : 0);
}

const nn_mode nn_mode_gan = {
    .name = "gan",
    .cols = nn_history_gan,
    .ncols = NN_HG_COLS,
    .seconds_col = NN_HG_SECONDS,
    .kind = NN_CKPT_GAN,
    .draw = gan_draw,
    .create = gan_create,
    .load = gan_load,
    .bcast = gan_bcast,
    .step = gan_step,
    .epoch_row = gan_epoch_row,
    .print_row = gan_print_row,
    .header = "epoch   d_loss   g_loss  D(x)  D(G(z))  seconds  images/s allreduce",
    .best_col = -1,
    .save = gan_save,
    .after_save = gan_after_save,
    .ckpt_bytes = gan_ckpt_bytes,
    .hash = gan_hash,
    .describe = gan_describe,
    .running = gan_running,
    .nets = gan_nets,
    .free = gan_free,
};

int nn_gan_train(const nn_train_cfg *cfg, nn_dist *dist) {
    return nn_run_train(&nn_mode_gan, cfg, dist);
}

int nn_gan_preset(const char *name, const char **g, const char **d, nn_shape *shape) {
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
        if (!strcmp(name, presets[i].name)) {
            *g = presets[i].g, *d = presets[i].d, *shape = presets[i].shape;
            return NN_OK;
        }
    return nn_fail("'%s' is not a DCGAN preset (dcgan-mnist, dcgan-cifar)", name);
}
