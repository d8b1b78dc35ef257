/* test_prefetch.c: the prefetch ring (prefetch.h) over a fake data set
 * whose get() takes a random little while, fails on chosen ids and counts
 * concurrent callers; then a streamed image folder against a cached one. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nn/data.h"
#include "nn/error.h"
#include "nn/prefetch.h"
#include "testutil.h"

#define DIM 6

typedef struct {
    uint64_t fail_id; /* get() of this id fails (0 = none) */
    pthread_mutex_t mu;
    int inside, max_inside; /* concurrent get() calls now / at most */
    long calls;
} fake;

/* What get() gives for sample i. */
static void expected(size_t i, float *x, int *label) {
    for (int k = 0; k < DIM; k++) x[k] = (float)i + 0.125f * (float)k;
    *label = (int)(i % 5);
}

static int fake_get(const nn_dataset *d, size_t i, float *x, int *label) {
    fake *f = d->priv;
    pthread_mutex_lock(&f->mu);
    f->calls++;
    if (++f->inside > f->max_inside) f->max_inside = f->inside;
    pthread_mutex_unlock(&f->mu);
    /* 0..300 us, a different time per id, so workers finish out of order. */
    struct timespec ts = {0, (long)((i * 7919u) % 300u) * 1000L};
    nanosleep(&ts, NULL);
    expected(i, x, label);
    pthread_mutex_lock(&f->mu);
    f->inside--;
    pthread_mutex_unlock(&f->mu);
    if (f->fail_id && i == f->fail_id) return nn_fail("fake/%zu.png: cannot open: gone", i);
    return NN_OK;
}

static const nn_dataset_ops fake_ops = {.get = fake_get};

static void fake_open(nn_dataset *d, fake *f, size_t count) {
    memset(d, 0, sizeof *d);
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    d->ops = &fake_ops;
    snprintf(d->name, sizeof d->name, "fake");
    d->count = count;
    d->shard = (nn_shard){0, count};
    d->shape = (nn_shape){1, 2, 3};
    d->classes = 5;
    d->priv = f;
}

/* The ids of batch b: a scrambled run, sizes 0..max_n. */
static int batch_ids(int b, int max_n, uint64_t *ids) {
    int n = b % 7 == 3 ? 0 : 1 + (b * 5) % max_n;
    for (int j = 0; j < n; j++) ids[j] = (uint64_t)((b * 37 + j * 11) % 1000);
    return n;
}

static int same_as_get(const uint64_t *ids, int n, const float *x, const int *labels) {
    float want[DIM];
    int lab;
    for (int j = 0; j < n; j++) {
        expected(ids[j], want, &lab);
        if (lab != labels[j] || memcmp(want, x + (size_t)j * DIM, sizeof want)) return 0;
    }
    return 1;
}

/* Stream 40 batches through rings of several depths and worker counts:
 * every batch comes back exactly as get() gives it, in the order taken. */
static void test_ring_order(void) {
    static const int workers[3] = {1, 2, 8}, depths[3] = {1, 3, 4};
    enum { MAX_N = 9, NB = 40 };
    for (int w = 0; w < 3; w++)
        for (int dd = 0; dd < 3; dd++) {
            nn_dataset d;
            fake f;
            fake_open(&d, &f, 1000);
            const int depth = depths[dd];
            nn_prefetch *p = nn_prefetch_open(&d, workers[w], depth, MAX_N);
            CU_ASSERT_PTR_NOT_NULL_FATAL(p);
            uint64_t ids[MAX_N];
            float x[MAX_N * DIM];
            int labels[MAX_N], ok = 1;
            for (int b = 0; b < depth && b < NB; b++) {
                int n = batch_ids(b, MAX_N, ids);
                CU_ASSERT_EQUAL_FATAL(nn_prefetch_push(p, (uint64_t)b, ids, n), NN_OK);
            }
            CU_ASSERT_EQUAL(nn_prefetch_queued(p), depth);
            for (int b = 0; b < NB; b++) {
                int n = batch_ids(b, MAX_N, ids);
                CU_ASSERT_EQUAL_FATAL(nn_prefetch_take(p, (uint64_t)b, x, labels), NN_OK);
                ok &= same_as_get(ids, n, x, labels);
                if (b + depth < NB) {
                    int m = batch_ids(b + depth, MAX_N, ids);
                    CU_ASSERT_EQUAL_FATAL(nn_prefetch_push(p, (uint64_t)(b + depth), ids, m), NN_OK);
                }
            }
            CU_ASSERT(ok);
            CU_ASSERT_EQUAL(nn_prefetch_queued(p), 0);
            /* With 8 workers and batches of up to 9, several decode at once. */
            if (workers[w] == 8 && depth == 4) CU_ASSERT(f.max_inside > 1);
            if (workers[w] == 1) CU_ASSERT_EQUAL(f.max_inside, 1);
            nn_prefetch_close(p);
            pthread_mutex_destroy(&f.mu);
        }
}

/* A failing sample fails its batch only, with get()'s message; the ring
 * refuses too many batches, a batch over max_n, and a batch never queued. */
static void test_ring_errors(void) {
    nn_dataset d;
    fake f;
    fake_open(&d, &f, 1000);
    f.fail_id = 11;
    nn_prefetch *p = nn_prefetch_open(&d, 2, 2, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    uint64_t a[4] = {1, 2, 3, 4}, b[4] = {5, 11, 6, 7}, big[5] = {0};
    float x[4 * DIM];
    int labels[4];
    CU_ASSERT_EQUAL(nn_prefetch_push(p, 0, a, 4), NN_OK);
    CU_ASSERT_EQUAL(nn_prefetch_push(p, 1, b, 4), NN_OK);
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_prefetch_push(p, 2, a, 4), NN_ERR); /* full */
    CU_ASSERT(strstr(nn_errmsg(), "full") != NULL);
    CU_ASSERT_EQUAL(nn_prefetch_take(p, 0, x, labels), NN_OK);
    CU_ASSERT(same_as_get(a, 4, x, labels));
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_prefetch_take(p, 1, x, labels), NN_ERR);
    CU_ASSERT(strstr(nn_errmsg(), "fake/11.png: cannot open") != NULL);
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_prefetch_push(p, 3, big, 5), NN_ERR); /* over max_n */
    CU_ASSERT(strstr(nn_errmsg(), "5 samples") != NULL);
    nn_err_clear();
    CU_ASSERT_EQUAL(nn_prefetch_take(p, 9, x, labels), NN_ERR); /* never queued */
    CU_ASSERT(strstr(nn_errmsg(), "not queued") != NULL);
    /* After a failed batch the ring goes on. */
    CU_ASSERT_EQUAL(nn_prefetch_push(p, 4, a, 4), NN_OK);
    CU_ASSERT_EQUAL(nn_prefetch_take(p, 4, x, labels), NN_OK);
    CU_ASSERT(same_as_get(a, 4, x, labels));
    nn_prefetch_close(p);
    nn_err_clear();
    CU_ASSERT_PTR_NULL(nn_prefetch_open(&d, 0, 2, 4));
    CU_ASSERT(strstr(nn_errmsg(), "fake") != NULL);
    CU_ASSERT_PTR_NULL(nn_prefetch_open(&d, 2, 65, 4));
    pthread_mutex_destroy(&f.mu);
}

/* reset drops queued batches mid-decode (an epoch's end, a stop) and the
 * ring is reusable at once; close with batches still queued returns. */
static void test_ring_reset_close(void) {
    nn_dataset d;
    fake f;
    fake_open(&d, &f, 100000);
    enum { N = 64 };
    nn_prefetch *p = nn_prefetch_open(&d, 8, 4, N);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    uint64_t ids[N];
    float *x = malloc(N * DIM * sizeof *x);
    int labels[N];
    for (int round = 0; round < 20; round++) {
        for (int b = 0; b < 4; b++) {
            for (int j = 0; j < N; j++) ids[j] = (uint64_t)(round * 1000 + b * N + j);
            CU_ASSERT_EQUAL_FATAL(nn_prefetch_push(p, (uint64_t)b, ids, N), NN_OK);
        }
        nn_prefetch_reset(p);
        CU_ASSERT_EQUAL(nn_prefetch_queued(p), 0);
    }
    for (int j = 0; j < N; j++) ids[j] = (uint64_t)(7 * j);
    CU_ASSERT_EQUAL(nn_prefetch_push(p, 5, ids, N), NN_OK);
    CU_ASSERT_EQUAL(nn_prefetch_take(p, 5, x, labels), NN_OK);
    CU_ASSERT(same_as_get(ids, N, x, labels));
    for (int b = 0; b < 4; b++) CU_ASSERT_EQUAL(nn_prefetch_push(p, (uint64_t)b, ids, N), NN_OK);
    nn_prefetch_close(p); /* four batches queued: must not hang */
    free(x);
    pthread_mutex_destroy(&f.mu);
}

static void test_default_workers(void) {
    int w = nn_prefetch_default_workers(1, 1);
    CU_ASSERT(w >= 1 && w <= 8);
    CU_ASSERT_EQUAL(nn_prefetch_default_workers(4096, 1), 1);
}

/* The cache decision: explicit choices, and auto against the budget (a
 * quarter of what is available, shared by the node's ranks). */
static void test_cache_choose(void) {
    char why[256];
    const size_t MB = 1 << 20;
    CU_ASSERT_EQUAL(nn_cache_choose(NN_CACHE_RAM, 100000 * MB, 1 * MB, 1, why, sizeof why), 0);
    CU_ASSERT(strstr(why, "--cache ram") != NULL);
    CU_ASSERT_EQUAL(nn_cache_choose(NN_CACHE_NONE, 1, 1000 * MB, 1, why, sizeof why), 1);
    CU_ASSERT(strstr(why, "--cache none") != NULL);
    CU_ASSERT_EQUAL(nn_cache_choose(NN_CACHE_AUTO, 250 * MB, 1000 * MB, 1, why, sizeof why), 0);
    CU_ASSERT(strstr(why, "within the 250 MB budget") != NULL);
    CU_ASSERT_EQUAL(nn_cache_choose(NN_CACHE_AUTO, 251 * MB, 1000 * MB, 1, why, sizeof why), 1);
    CU_ASSERT(strstr(why, "over the 250 MB budget") != NULL);
    CU_ASSERT_EQUAL(nn_cache_choose(NN_CACHE_AUTO, 100 * MB, 1000 * MB, 4, why, sizeof why), 1);
    CU_ASSERT(strstr(why, "4 ranks") != NULL);
    CU_ASSERT_EQUAL(nn_cache_choose(NN_CACHE_AUTO, 60 * MB, 1000 * MB, 4, why, sizeof why), 0);
}

void register_prefetch_tests(void) {
    CU_pSuite s = CU_add_suite("prefetch", NULL, NULL);
    CU_add_test(s, "ring: 40 batches through 1/2/8 workers, depths 1/3/4, exact and in order",
                test_ring_order);
    CU_add_test(s, "ring: a failing sample, full ring, batch over the ring, unknown batch",
                test_ring_errors);
    CU_add_test(s, "ring: reset mid-decode, close with batches queued", test_ring_reset_close);
    CU_add_test(s, "default decoder threads", test_default_workers);
    CU_add_test(s, "cache auto|ram|none decision", test_cache_choose);
}
