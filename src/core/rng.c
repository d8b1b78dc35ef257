/* rng.c: splitmix64 streams keyed by (seed, stream). */
#include "nn/rng.h"

#include <math.h>

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t nn_hash64(uint64_t a, uint64_t b) { return mix(mix(a + 0x9e3779b97f4a7c15ULL) ^ b); }

void nn_rng_seed(nn_rng *r, uint64_t seed, uint64_t stream) { r->state = nn_hash64(seed, stream); }

uint64_t nn_rng_u64(nn_rng *r) {
    r->state += 0x9e3779b97f4a7c15ULL;
    return mix(r->state);
}

float nn_rng_uniform(nn_rng *r) { return (float)(nn_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float nn_rng_normal(nn_rng *r) {
    /* u1 in (0, 1] so log() is finite. */
    double u1 = ((double)(nn_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(nn_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

float nn_rng_normal_truncated(nn_rng *r, float t) {
    float z;
    do z = nn_rng_normal(r);
    while (fabsf(z) > t);
    return z;
}

uint64_t nn_rng_below(nn_rng *r, uint64_t n) {
    /* Rejection to avoid modulo bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = nn_rng_u64(r);
    while (x >= limit);
    return x % n;
}
