/* Bounded nonce memory: linear probing, rebuilt (not tombstoned) to evict. */
#include "ticket-replay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

/* The smallest table; it doubles as nonces arrive, so an idle host holds 1.5 KiB, not megabytes. */
#define SLOTS_MIN 64

typedef struct Entry {
        uint8_t nonce[REPLAY_NONCE_SIZE];
        uint64_t until; /* 0: empty slot */
} Entry;

struct ReplayCache {
        Entry *slots;
        size_t n_slots; /* a power of two */
        size_t count, capacity;
        uint64_t min_until; /* the earliest deadline held: nothing can be evicted before it passes */
};

static uint64_t mix(uint64_t x) {
        /* splitmix64's finaliser: spreads nonces that are not random (a broker bug) over the table. */
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9ULL;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

static size_t bucket(const uint8_t nonce[REPLAY_NONCE_SIZE], size_t n_slots) {
        uint64_t a = 0, b = 0;
        for (size_t i = 0; i < 8; i++) {
                a |= (uint64_t) nonce[i] << (8 * i);
                b |= (uint64_t) nonce[i + 8] << (8 * i);
        }
        return (size_t) (mix(a ^ mix(b)) & (n_slots - 1));
}

/* The slot holding nonce, or the empty slot where it would go. */
static Entry *find(Entry *slots, size_t n_slots, const uint8_t nonce[REPLAY_NONCE_SIZE]) {
        for (size_t i = bucket(nonce, n_slots);; i = (i + 1) & (n_slots - 1)) {
                Entry *e = &slots[i];
                if (e->until == 0 || memcmp(e->nonce, nonce, REPLAY_NONCE_SIZE) == 0)
                        return e; /* the table is never full, so this ends */
        }
}

ReplayCache *replay_cache_new(size_t capacity) {
        if (capacity == 0 || capacity > SIZE_MAX / 4 / sizeof(Entry))
                return NULL;
        _cleanup_(freep) ReplayCache *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->slots = calloc(SLOTS_MIN, sizeof(Entry));
        if (!c->slots)
                return NULL;
        c->n_slots = SLOTS_MIN;
        c->capacity = capacity;
        c->min_until = UINT64_MAX;
        return TAKE_PTR(c);
}

ReplayCache *replay_cache_free(ReplayCache *c) {
        if (c) {
                free(c->slots);
                free(c);
        }
        return NULL;
}

/* Moves the entries live at now into a table sized for them plus one, dropping the rest. */
static int rebuild(ReplayCache *c, uint64_t now) {
        size_t live = 0;
        for (size_t i = 0; i < c->n_slots; i++)
                live += c->slots[i].until != 0 && c->slots[i].until >= now;

        size_t n = SLOTS_MIN;
        while ((live + 1) * 2 > n)
                n *= 2;
        Entry *slots = calloc(n, sizeof(Entry));
        if (!slots)
                return -ENOMEM;

        uint64_t min_until = UINT64_MAX;
        for (size_t i = 0; i < c->n_slots; i++) {
                const Entry *e = &c->slots[i];
                if (e->until == 0 || e->until < now)
                        continue;
                *find(slots, n, e->nonce) = *e;
                min_until = MIN(min_until, e->until);
        }
        free(c->slots);
        c->slots = slots;
        c->n_slots = n;
        c->count = live;
        c->min_until = min_until;
        return 0;
}

int replay_cache_add(ReplayCache *c, const uint8_t nonce[REPLAY_NONCE_SIZE], uint64_t until, uint64_t now) {
        int r;

        if (until == 0)
                return -EINVAL;
        if (find(c->slots, c->n_slots, nonce)->until != 0)
                return -EEXIST;

        if (c->count >= c->capacity || (c->count + 1) * 2 > c->n_slots) {
                if (c->min_until < now) {
                        /* Something expired: evicting may make the room (and shrinks after a burst). */
                        r = rebuild(c, now);
                        if (r < 0)
                                return r;
                }
                if (c->count >= c->capacity)
                        return -ENOSPC;
                if ((c->count + 1) * 2 > c->n_slots) {
                        /* All live: grow. count < capacity keeps the table within 4 x capacity. */
                        r = rebuild(c, 0);
                        if (r < 0)
                                return r;
                }
        }

        Entry *e = find(c->slots, c->n_slots, nonce);
        memcpy(e->nonce, nonce, REPLAY_NONCE_SIZE);
        e->until = until;
        c->count++;
        c->min_until = MIN(c->min_until, until);
        return 0;
}

bool replay_cache_contains(const ReplayCache *c, const uint8_t nonce[REPLAY_NONCE_SIZE]) {
        return find(c->slots, c->n_slots, nonce)->until != 0;
}

size_t replay_cache_size(const ReplayCache *c) {
        return c->count;
}
