/* prefetch.h: decode the samples of the next batches while the current step
 * runs. A ring of `depth` batch buffers; the training loop pushes the ids of
 * the batches it will read (it knows them: the epoch's order is a function of
 * the seed), worker threads fill the buffers through the data set's get()
 * (which must be thread-safe: a streamed image folder's is), and take()
 * hands back a batch when it is complete, waiting if it is not yet.
 *
 * Memory is the ring: depth x max_n samples, whatever the data set's size.
 * Results are those of reading the ids one after another with get(): the
 * same floats in the same order. An error in a sample (a file deleted or
 * truncated since the listing) is returned by take() for that batch, with
 * get()'s message naming the file; the other batches are unaffected.
 * Shutdown (nn_prefetch_close) joins the workers from any state. */
#ifndef NN_PREFETCH_H
#define NN_PREFETCH_H

#include <stdint.h>

#include "nn/data.h"

typedef struct nn_prefetch nn_prefetch;

/* Start `workers` threads (1..64) over a ring of `depth` (1..64) batches of at
 * most max_n samples of d. NULL with the message set on failure. */
nn_prefetch *nn_prefetch_open(const nn_dataset *d, int workers, int depth, int max_n);
/* Queue batch `tag` (any number, unique among the queued ones): n ids. Fails
 * when the ring is full (push at most depth batches ahead of take). */
int nn_prefetch_push(nn_prefetch *p, uint64_t tag, const uint64_t *ids, int n);
/* Wait for batch `tag` (pushed before), copy its samples to x (n, C*H*W) and
 * labels, and free its slot. Its error, if a sample failed. */
int nn_prefetch_take(nn_prefetch *p, uint64_t tag, float *x, int *labels);
/* Drop every queued batch (the end of an epoch, a resume at another step);
 * returns when no worker is still writing into the ring. */
void nn_prefetch_reset(nn_prefetch *p);
/* Batches queued (pushed, not yet taken). */
int nn_prefetch_queued(nn_prefetch *p);
void nn_prefetch_close(nn_prefetch *p);

/* Decoder threads for a rank: the cores this process may use, less the BLAS
 * threads, at least 1, at most 8. */
int nn_prefetch_default_workers(int blas_threads, int local_ranks);

#endif
