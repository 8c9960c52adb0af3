/* A small seeded pseudo-random generator for the data pipeline (shuffles and augmentation).
 *
 * xoshiro256** seeded through splitmix64: the whole state is four 64-bit integers, so a training
 * checkpoint can store it, and ve_rng_derive gives an independent stream for any tuple of
 * integers (seed, epoch, position, purpose), so a resumed run can recreate the stream of any
 * sample without having saved it. The sequence is the same on every platform. */
#ifndef VE_DATA_RNG_H
#define VE_DATA_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} ve_rng;

/* Seeds the state from one integer (splitmix64 expands it into the four words). */
void ve_rng_seed(ve_rng *r, uint64_t seed);
/* The next 64 random bits. */
uint64_t ve_rng_u64(ve_rng *r);
/* A double uniform in [0, 1), with 53 random bits. */
double ve_rng_uniform(ve_rng *r);
/* An integer uniform in [lo, hi) without modulo bias; lo when hi <= lo. */
int ve_rng_int(ve_rng *r, int lo, int hi);
/* Seeds r for the tuple (seed, a, b, c): different tuples give independent streams, e.g.
 * (seed, epoch, position, 1) for the augmentation of one sample. */
void ve_rng_derive(ve_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c);

#endif
