/* xoshiro256** (Blackman and Vigna) with splitmix64 seeding; see rng.h. */
#include "rng.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

void ve_rng_seed(ve_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t ve_rng_u64(ve_rng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double ve_rng_uniform(ve_rng *r) {
    return (double)(ve_rng_u64(r) >> 11) * 0x1.0p-53;
}

int ve_rng_int(ve_rng *r, int lo, int hi) {
    if (hi <= lo) return lo;
    uint64_t range = (uint64_t)((int64_t)hi - lo);
    /* draws below 2^64 mod range would make the low values more likely: redraw them */
    uint64_t reject = (0 - range) % range, x;
    do
        x = ve_rng_u64(r);
    while (x < reject);
    return (int)((int64_t)lo + (int64_t)(x % range));
}

void ve_rng_derive(ve_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    /* each word passes through the mixer together with what came before, so (a, b, c) and any
     * permutation of it give unrelated states */
    uint64_t x = seed, words[3] = {a, b, c};
    uint64_t h = splitmix64(&x);
    for (int i = 0; i < 3; i++) {
        x = h ^ words[i];
        h = splitmix64(&x) + (uint64_t)(i + 1) * 0x632be59bd9b4e019ull;
    }
    ve_rng_seed(r, h);
}
