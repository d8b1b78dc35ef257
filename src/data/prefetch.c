/* prefetch.c: a ring of batch buffers filled by worker threads (prefetch.h).
 *
 * One mutex guards the ring. A worker takes the next undecoded sample of the
 * oldest queued batch (so the batch needed first completes first, and all
 * workers help with it), decodes it outside the lock straight into the
 * batch's buffer, and marks it done; the batch is complete when all its
 * samples are. take() waits on `ready` for its batch. reset() stops handing
 * out samples of queued batches and waits until no worker is inside one, so
 * the buffers can be reused at once. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "nn/prefetch.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/error.h"

typedef enum { SLOT_FREE, SLOT_QUEUED, SLOT_DONE } slot_state;

typedef struct {
    slot_state state;
    uint64_t tag, seq; /* the caller's batch number; push order */
    int n;             /* samples */
    int next;          /* next sample to hand out (n = none left) */
    int done;          /* samples finished (decoded or failed) */
    int active;        /* workers decoding a sample of this slot now */
    int rc;
    char msg[1024]; /* the first failed sample's message */
    uint64_t *ids;
    float *x;
    int *labels;
} slot;

struct nn_prefetch {
    const nn_dataset *d;
    size_t dim;
    int depth, max_n, nthreads;
    slot *slots;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t work;  /* workers: a batch was queued, or stop */
    pthread_cond_t ready; /* take/reset: a batch completed, or a worker left a slot */
    bool stop;
    uint64_t seq;
};

/* The queued batch with samples left to hand out, oldest first; NULL if none. */
static slot *next_slot(nn_prefetch *p) {
    slot *best = NULL;
    for (int i = 0; i < p->depth; i++) {
        slot *s = &p->slots[i];
        if (s->state == SLOT_QUEUED && s->next < s->n && (!best || s->seq < best->seq)) best = s;
    }
    return best;
}

static void *worker(void *arg) {
    nn_prefetch *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->stop) break;
        slot *s = next_slot(p);
        if (!s) {
            pthread_cond_wait(&p->work, &p->mu);
            continue;
        }
        const int j = s->next++;
        s->active++;
        pthread_mutex_unlock(&p->mu);
        nn_err_clear();
        int rc = p->d->ops->get(p->d, s->ids[j], s->x + (size_t)j * p->dim, &s->labels[j]);
        pthread_mutex_lock(&p->mu);
        if (rc != NN_OK && s->rc == NN_OK) {
            s->rc = rc;
            snprintf(s->msg, sizeof s->msg, "%s", nn_errmsg());
        }
        s->active--;
        if (++s->done == s->n && s->state == SLOT_QUEUED) s->state = SLOT_DONE;
        if (s->state == SLOT_DONE || s->active == 0) pthread_cond_broadcast(&p->ready);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void free_ring(nn_prefetch *p) {
    if (p->slots)
        for (int i = 0; i < p->depth; i++) {
            free(p->slots[i].ids);
            free(p->slots[i].x);
            free(p->slots[i].labels);
        }
    free(p->slots);
    free(p->threads);
}

nn_prefetch *nn_prefetch_open(const nn_dataset *d, int workers, int depth, int max_n) {
    if (workers < 1 || workers > 64 || depth < 1 || depth > 64 || max_n < 1) {
        nn_fail("%s: prefetch of %d batches of %d samples by %d workers: expected 1..64 "
                "batches, 1..64 workers",
                d->name, depth, max_n, workers);
        return NULL;
    }
    nn_prefetch *p = nn_calloc(1, sizeof *p, "prefetch ring");
    if (!p) return NULL;
    p->d = d;
    p->dim = nn_shape_size(d->shape);
    p->depth = depth;
    p->max_n = max_n;
    p->slots = nn_calloc((size_t)depth, sizeof *p->slots, "prefetch ring");
    p->threads = nn_calloc((size_t)workers, sizeof *p->threads, "prefetch threads");
    bool ok = p->slots && p->threads;
    for (int i = 0; ok && i < depth; i++) {
        slot *s = &p->slots[i];
        s->ids = nn_alloc((size_t)max_n * sizeof *s->ids, "prefetch ids");
        s->x = nn_alloc((size_t)max_n * p->dim * sizeof *s->x, "prefetch batch");
        s->labels = nn_alloc((size_t)max_n * sizeof *s->labels, "prefetch labels");
        ok = s->ids && s->x && s->labels;
    }
    if (!ok) {
        free_ring(p);
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->ready, NULL);
    for (int i = 0; i < workers; i++) {
        int e = pthread_create(&p->threads[i], NULL, worker, p);
        if (e != 0) {
            nn_fail("%s: cannot start prefetch thread %d of %d: %s", d->name, i + 1, workers,
                    strerror(e));
            nn_prefetch_close(p);
            return NULL;
        }
        p->nthreads++;
    }
    return p;
}

int nn_prefetch_push(nn_prefetch *p, uint64_t tag, const uint64_t *ids, int n) {
    if (n < 0 || n > p->max_n)
        return nn_fail("%s: prefetch of a batch of %d samples, the ring holds %d", p->d->name, n,
                       p->max_n);
    pthread_mutex_lock(&p->mu);
    slot *s = NULL;
    for (int i = 0; i < p->depth && !s; i++)
        if (p->slots[i].state == SLOT_FREE) s = &p->slots[i];
    if (s) {
        memcpy(s->ids, ids, (size_t)n * sizeof *ids);
        s->tag = tag, s->seq = p->seq++, s->n = n;
        s->next = s->done = s->active = 0;
        s->rc = NN_OK;
        s->msg[0] = 0;
        s->state = n == 0 ? SLOT_DONE : SLOT_QUEUED;
        pthread_cond_broadcast(&p->work);
    }
    pthread_mutex_unlock(&p->mu);
    if (!s)
        return nn_fail("%s: prefetch ring full (%d batches queued)", p->d->name, p->depth);
    return NN_OK;
}

int nn_prefetch_take(nn_prefetch *p, uint64_t tag, float *x, int *labels) {
    pthread_mutex_lock(&p->mu);
    slot *s = NULL;
    for (int i = 0; i < p->depth && !s; i++)
        if (p->slots[i].state != SLOT_FREE && p->slots[i].tag == tag) s = &p->slots[i];
    while (s && s->state != SLOT_DONE) pthread_cond_wait(&p->ready, &p->mu);
    pthread_mutex_unlock(&p->mu);
    if (!s)
        return nn_fail("%s: batch %llu was not queued for prefetch", p->d->name,
                       (unsigned long long)tag);
    /* Done: no worker touches the slot until it is free again. */
    int rc = s->rc;
    if (rc == NN_OK) {
        memcpy(x, s->x, (size_t)s->n * p->dim * sizeof *x);
        memcpy(labels, s->labels, (size_t)s->n * sizeof *labels);
    } else {
        nn_fail("%s", s->msg);
    }
    pthread_mutex_lock(&p->mu);
    s->state = SLOT_FREE;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void nn_prefetch_reset(nn_prefetch *p) {
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->depth; i++) p->slots[i].next = p->slots[i].n;
    for (;;) {
        bool busy = false;
        for (int i = 0; i < p->depth; i++) busy |= p->slots[i].active > 0;
        if (!busy) break;
        pthread_cond_wait(&p->ready, &p->mu);
    }
    for (int i = 0; i < p->depth; i++) p->slots[i].state = SLOT_FREE;
    pthread_mutex_unlock(&p->mu);
}

int nn_prefetch_queued(nn_prefetch *p) {
    pthread_mutex_lock(&p->mu);
    int q = 0;
    for (int i = 0; i < p->depth; i++) q += p->slots[i].state != SLOT_FREE;
    pthread_mutex_unlock(&p->mu);
    return q;
}

void nn_prefetch_close(nn_prefetch *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->ready);
    pthread_mutex_destroy(&p->mu);
    free_ring(p);
    free(p);
}

int nn_prefetch_default_workers(int blas_threads, int local_ranks) {
    cpu_set_t set;
    long cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                              : sysconf(_SC_NPROCESSORS_ONLN);
    if (local_ranks > 1 && cores >= local_ranks) cores /= local_ranks;
    long w = cores - (blas_threads > 0 ? blas_threads : 1);
    return w < 1 ? 1 : w > 8 ? 8 : (int)w;
}
