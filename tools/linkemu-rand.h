/* The link emulator's PRNG: xoshiro256** seeded through splitmix64. Our own, not rand(), so a
 * seed gives the same drops and delays on every libc and every run. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct Rng {
        uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_next(Rng *r);
/* Uniform in [0, 1), 53 bits. */
double rng_double(Rng *r);
/* True with probability p (p <= 0 never, p >= 1 always; no draw is skipped either way, so one
 * parameter change does not shift every later decision). */
bool rng_chance(Rng *r, double p);
