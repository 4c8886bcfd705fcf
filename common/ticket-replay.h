/* The nonces of accepted tickets, each remembered until a deadline (its ticket's expiry plus the
 * clock-skew allowance), in at most `capacity` entries. An open-addressing hash table, at most
 * half full; when room is needed and some deadline has passed, the table is rebuilt without the
 * expired entries, and when every entry is still live, adding is refused. A rebuild leaves no
 * deadline before now, so with times in whole seconds a full table is rebuilt at most once a
 * second (about 1.5 ms for 65536 entries: bench-ticket). Only signed tickets
 * reach it, so nonces are the broker's random bytes: nobody else can aim at one bucket. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPLAY_NONCE_SIZE 16

typedef struct ReplayCache ReplayCache;

/* capacity >= 1. Returns NULL when out of memory. */
ReplayCache *replay_cache_new(size_t capacity);
ReplayCache *replay_cache_free(ReplayCache *c);

/* Remembers nonce until the time `until` (inclusive, >= 1). Returns 0; -EEXIST when the nonce is
 * remembered already (even past its deadline, until it is evicted); -ENOSPC when capacity
 * entries are live at now; -EINVAL for until 0; -ENOMEM. */
int replay_cache_add(ReplayCache *c, const uint8_t nonce[REPLAY_NONCE_SIZE], uint64_t until, uint64_t now);
bool replay_cache_contains(const ReplayCache *c, const uint8_t nonce[REPLAY_NONCE_SIZE]);
/* Entries held, expired ones not yet evicted included. */
size_t replay_cache_size(const ReplayCache *c);
