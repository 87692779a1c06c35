// rng.h: a small seeded random number generator (splitmix64) for training and task data.
// The state is the caller's: no hidden global state, so two runs with one seed agree.
#ifndef RNG_H
#define RNG_H

#include <math.h>
#include <stdint.h>

typedef struct {
    uint64_t s;
} Rng;

static inline void rng_seed(Rng *r, uint64_t seed) { r->s = seed; }

static inline uint64_t rng_u64(Rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// uniform in [0, 1), 53 random bits
static inline double rng_uniform(Rng *r) { return (rng_u64(r) >> 11) * 0x1.0p-53; }

// uniform integer in [0, n)
static inline int rng_int(Rng *r, int n) { return (int)(rng_uniform(r) * n); }

// standard normal (Box-Muller; one of the pair is dropped, which keeps the state simple)
static inline double rng_normal(Rng *r) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif
