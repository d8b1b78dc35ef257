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

void nn_sampler_owned(const uint32_t *order, size_t count, size_t batch, size_t b, int nranks,
                      int *owned) {
    size_t lo = b * batch, hi = lo + batch < count ? lo + batch : count;
    for (int r = 0; r < nranks; r++) owned[r] = 0;
    for (size_t k = lo; k < hi; k++) owned[nn_shard_owner(count, nranks, order[k])]++;
}

/* Rank r's share of total samples: total / nranks, one more for the first
 * total % nranks ranks. */
static int share_of(int total, int nranks, int r) { return total / nranks + (r < total % nranks); }

int nn_balance_plan(const int *owned, int nranks, int *flow) {
    int total = 0, moved = 0;
    for (int r = 0; r < nranks; r++) total += owned[r];
    for (int i = 0; i < nranks * nranks; i++) flow[i] = 0;
    /* s walks the surplus ranks, d the deficit ranks; `give` and `take` are
     * what s still has to send and d still has to receive. */
    int s = 0, d = 0, give = 0, take = 0;
    for (;;) {
        while (give == 0 && s < nranks) {
            int target = share_of(total, nranks, s);
            give = owned[s] > target ? owned[s] - target : 0;
            if (give == 0) s++;
        }
        while (take == 0 && d < nranks) {
            int target = share_of(total, nranks, d);
            take = owned[d] < target ? target - owned[d] : 0;
            if (take == 0) d++;
        }
        if (s >= nranks || d >= nranks) break;
        int m = give < take ? give : take;
        flow[s * nranks + d] += m;
        moved += m;
        give -= m, take -= m;
        if (give == 0) s++;
        if (take == 0) d++;
    }
    return moved;
}
