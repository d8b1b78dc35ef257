/* rng.h: counter-based random numbers. Every random draw in nntrain is a pure
 * function of (seed, stream, counter), so the sample order, the weight init
 * and the dropout mask of a sample never depend on how many ranks run or in
 * which order they run. */
#ifndef NN_RNG_H
#define NN_RNG_H

#include <stdint.h>

/* A splitmix64-style stream: state advances by a constant, output is mixed. */
typedef struct {
    uint64_t state;
} nn_rng;

/* Mix several words into one seed (order matters). */
uint64_t nn_hash64(uint64_t a, uint64_t b);
void nn_rng_seed(nn_rng *r, uint64_t seed, uint64_t stream);
uint64_t nn_rng_u64(nn_rng *r);
/* Uniform in [0, 1). */
float nn_rng_uniform(nn_rng *r);
/* Standard normal (Box-Muller). */
float nn_rng_normal(nn_rng *r);
/* Standard normal truncated to [-t, t] (t > 0): draws again until |z| <= t
 * (the "truncation trick" of GAN sampling; t = 0.5 takes 38% of draws). */
float nn_rng_normal_truncated(nn_rng *r, float t);
/* Uniform integer in [0, n). */
uint64_t nn_rng_below(nn_rng *r, uint64_t n);

#endif
