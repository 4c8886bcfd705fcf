/* Sets of disjoint half-open ranges [lo, hi) of u64, sorted, adjacent ranges merged: the packet
 * numbers received, the bytes of a message received or acknowledged. A set has a maximum number of
 * ranges so a peer cannot make it grow without bound. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct RudpRange {
        uint64_t lo, hi;
} RudpRange;

typedef struct RudpRanges {
        RudpRange *r;
        size_t n, cap, max;
} RudpRanges;

#define RUDP_RANGES_INIT(m) { .max = (m) }

void rudp_ranges_done(RudpRanges *s);
/* Adds [lo, hi): 0, -E2BIG when the set would need more than max ranges, -ENOMEM; on failure the
 * set is unchanged. */
int rudp_ranges_add(RudpRanges *s, uint64_t lo, uint64_t hi);
bool rudp_ranges_contains(const RudpRanges *s, uint64_t v);
/* True when [lo, hi) is entirely in the set. */
bool rudp_ranges_covers(const RudpRanges *s, uint64_t lo, uint64_t hi);
/* Removes everything below v. */
void rudp_ranges_remove_below(RudpRanges *s, uint64_t v);
/* The first part of [lo, hi) not in the set: true and *ret set, false when it is all covered. */
bool rudp_ranges_first_gap(const RudpRanges *s, uint64_t lo, uint64_t hi, RudpRange *ret);
/* Sum of the ranges' lengths within [lo, hi). */
uint64_t rudp_ranges_count_within(const RudpRanges *s, uint64_t lo, uint64_t hi);

static inline bool rudp_ranges_empty(const RudpRanges *s) {
        return s->n == 0;
}

/* Removes [lo, hi): 0, or -E2BIG when splitting a range would need more than max ranges (then
 * nothing is removed), -ENOMEM. */
int rudp_ranges_remove(RudpRanges *s, uint64_t lo, uint64_t hi);
