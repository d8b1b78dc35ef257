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

/* Even work per rank. Owner-computes slices differ by about sqrt(B) samples
 * (at B = 32 on 2 ranks the larger slice averages 18 of 32, so every step
 * waits 13% longer for it). Ranks therefore pass a few raw samples (with
 * their ids and labels; augmentation and dropout are keyed by the id) from
 * the ranks that own more than their share to those that own less. The plan
 * is a function of the batch's ids only, so every rank computes the same one
 * without communicating:
 *   owned[r]  members of global batch b in rank r's shard (nranks entries);
 *   flow[s * nranks + d]  samples rank s sends to rank d.
 * Afterwards rank r holds global_n / nranks samples, plus one for the first
 * global_n % nranks ranks. Surplus ranks send the last members of their
 * slice, in rank order, to deficit ranks in rank order. Returns the number of
 * samples moved. */
void nn_sampler_owned(const uint32_t *order, size_t count, size_t batch, size_t b, int nranks,
                      int *owned);
int nn_balance_plan(const int *owned, int nranks, int *flow);

#endif
