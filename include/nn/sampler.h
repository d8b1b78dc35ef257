/* sampler.h: the order of samples in an epoch is a function of (seed, epoch)
 * only. Global batch b of an epoch is order[b*B .. min((b+1)*B, count)); the
 * last batch may be smaller, so no sample is dropped or repeated. Under N
 * ranks each rank takes the members of that batch inside its shard, so the
 * sum of gradients over ranks is the same for every N. */
#ifndef NN_SAMPLER_H
#define NN_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "nn/data.h"

/* order: (count) a permutation of 0..count-1. */
void nn_sampler_order(uint64_t seed, uint64_t epoch, size_t count, uint32_t *order);
size_t nn_sampler_batches(size_t count, size_t batch);
/* The ids of global batch b that fall in shard; returns how many (<= batch),
 * and the size of the global batch in *global_n. */
int nn_sampler_slice(const uint32_t *order, size_t count, size_t batch, size_t b, nn_shard shard,
                     uint64_t *ids, int *global_n);

#endif
