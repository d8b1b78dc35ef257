/* sampler.c: rank-independent epoch order (Fisher-Yates on a (seed, epoch)
 * stream) and per-rank slices of each global batch. */
#include "nn/sampler.h"

#include "nn/rng.h"

void nn_sampler_order(uint64_t seed, uint64_t epoch, size_t count, uint32_t *order) {
    nn_rng r;
    nn_rng_seed(&r, seed, 0x5a3b1e00ULL + epoch);
    for (size_t i = 0; i < count; i++) order[i] = (uint32_t)i;
    for (size_t i = count; i > 1; i--) {
        size_t j = (size_t)nn_rng_below(&r, i);
        uint32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

size_t nn_sampler_batches(size_t count, size_t batch) { return (count + batch - 1) / batch; }

int nn_sampler_slice(const uint32_t *order, size_t count, size_t batch, size_t b, nn_shard shard,
                     uint64_t *ids, int *global_n) {
    size_t lo = b * batch, hi = lo + batch < count ? lo + batch : count;
    int n = 0;
    for (size_t k = lo; k < hi; k++)
        if (order[k] >= shard.begin && order[k] < shard.end) ids[n++] = order[k];
    *global_n = (int)(hi - lo);
    return n;
}
