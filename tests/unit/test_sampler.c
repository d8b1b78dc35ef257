/* test_sampler.c: the epoch order is a permutation that depends on (seed,
 * epoch) only; per-rank slices of each global batch partition it. */
#include <stdlib.h>
#include <string.h>

#include "nn/sampler.h"
#include "testutil.h"

static void test_order_is_permutation(void) {
    enum { N = 1003 };
    uint32_t a[N], b[N], c[N];
    nn_sampler_order(7, 0, N, a);
    nn_sampler_order(7, 0, N, b);
    nn_sampler_order(7, 1, N, c);
    CU_ASSERT(memcmp(a, b, sizeof a) == 0); /* deterministic */
    CU_ASSERT(memcmp(a, c, sizeof a) != 0); /* changes with the epoch */
    char seen[N] = {0};
    for (int i = 0; i < N; i++) {
        CU_ASSERT_FATAL(a[i] < N);
        CU_ASSERT(!seen[a[i]]);
        seen[a[i]] = 1;
    }
}

/* For N = 1..4 ranks: the union of the ranks' slices of every global batch
 * is exactly that batch; the last, smaller batch is kept; nothing repeats. */
static void test_slices_partition_batches(void) {
    enum { COUNT = 103, B = 10 };
    uint32_t order[COUNT];
    nn_sampler_order(3, 2, COUNT, order);
    CU_ASSERT_EQUAL(nn_sampler_batches(COUNT, B), 11);
    for (int nr = 1; nr <= 4; nr++) {
        int hits[COUNT] = {0};
        for (size_t b = 0; b < nn_sampler_batches(COUNT, B); b++) {
            int total = 0;
            for (int r = 0; r < nr; r++) {
                uint64_t ids[B];
                int gn;
                nn_shard s = nn_shard_of(COUNT, r, nr);
                int n = nn_sampler_slice(order, COUNT, B, b, s, ids, &gn);
                CU_ASSERT_EQUAL(gn, b == 10 ? 3 : B);
                for (int i = 0; i < n; i++) {
                    CU_ASSERT(ids[i] >= s.begin && ids[i] < s.end);
                    hits[ids[i]]++;
                }
                total += n;
            }
            CU_ASSERT_EQUAL(total, b == 10 ? 3 : B);
        }
        for (int i = 0; i < COUNT; i++) CU_ASSERT_EQUAL(hits[i], 1);
    }
}

static void test_shards_cover(void) {
    for (int nr = 1; nr <= 7; nr++) {
        size_t next = 0;
        for (int r = 0; r < nr; r++) {
            nn_shard s = nn_shard_of(50, r, nr);
            CU_ASSERT_EQUAL(s.begin, next);
            CU_ASSERT(s.end - s.begin >= (size_t)(50 / nr) && s.end - s.begin <= (size_t)(50 / nr + 1));
            next = s.end;
        }
        CU_ASSERT_EQUAL(next, 50);
    }
}

/* nn_shard_owner inverts nn_shard_of, also when count < nranks. */
static void test_shard_owner(void) {
    const size_t counts[] = {1, 3, 50, 1003};
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
        for (int nr = 1; nr <= 7; nr++)
            for (int r = 0; r < nr; r++) {
                nn_shard s = nn_shard_of(counts[c], r, nr);
                for (size_t i = s.begin; i < s.end; i++)
                    CU_ASSERT_EQUAL(nn_shard_owner(counts[c], nr, i), r);
            }
}

/* The balance plan: afterwards every rank holds its share (the first
 * total % N ranks one more), only surplus ranks send, only deficit ranks
 * receive, and it moves exactly the surplus; on real batches as well as on
 * skewed counts. */
static void check_plan(const int *owned, int nr) {
    int flow[64], total = 0, surplus = 0;
    for (int r = 0; r < nr; r++) total += owned[r];
    int moved = nn_balance_plan(owned, nr, flow);
    for (int r = 0; r < nr; r++) {
        int target = total / nr + (r < total % nr), out = 0, in = 0;
        for (int q = 0; q < nr; q++) {
            CU_ASSERT(flow[r * nr + q] >= 0);
            out += flow[r * nr + q], in += flow[q * nr + r];
        }
        CU_ASSERT_EQUAL(owned[r] - out + in, target);
        CU_ASSERT(out == 0 || in == 0);
        if (owned[r] > target) surplus += owned[r] - target;
        if (owned[r] <= target) CU_ASSERT_EQUAL(out, 0);
    }
    CU_ASSERT_EQUAL(moved, surplus);
}

static void test_balance_plan(void) {
    check_plan((int[]){32, 0}, 2);
    check_plan((int[]){16, 16}, 2);
    check_plan((int[]){0, 0, 7}, 3);
    check_plan((int[]){5, 0, 0, 0, 1, 0, 0, 9}, 8);
    check_plan((int[]){0}, 1);
    enum { COUNT = 1003, B = 32 };
    uint32_t order[COUNT];
    nn_sampler_order(4, 1, COUNT, order);
    for (int nr = 1; nr <= 8; nr++)
        for (size_t b = 0; b < nn_sampler_batches(COUNT, B); b++) {
            int owned[8];
            nn_sampler_owned(order, COUNT, B, b, nr, owned);
            int total = 0;
            for (int r = 0; r < nr; r++) {
                uint64_t ids[B];
                int gn;
                CU_ASSERT_EQUAL(owned[r], nn_sampler_slice(order, COUNT, B, b,
                                                           nn_shard_of(COUNT, r, nr), ids, &gn));
                total += owned[r];
            }
            CU_ASSERT_EQUAL(total, b == COUNT / B ? COUNT % B : B);
            check_plan(owned, nr);
        }
}

void register_sampler_tests(void) {
    CU_pSuite s = CU_add_suite("sampler", NULL, NULL);
    CU_add_test(s, "order is a (seed, epoch) permutation", test_order_is_permutation);
    CU_add_test(s, "rank slices partition global batches", test_slices_partition_batches);
    CU_add_test(s, "shards are contiguous and cover", test_shards_cover);
    CU_add_test(s, "shard owner inverts the shard map", test_shard_owner);
    CU_add_test(s, "balance plan evens the slices", test_balance_plan);
}
