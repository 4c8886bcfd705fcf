/* The nonce table: one use per nonce, a hard bound on live entries, eviction of expired ones. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "ticket-replay.h"

static void nonce_of(uint64_t i, uint8_t n[REPLAY_NONCE_SIZE], bool high) {
        /* high: the counter in the last bytes, as a careless broker might make them. */
        memset(n, 0, REPLAY_NONCE_SIZE);
        memcpy(high ? n + 8 : n, &i, sizeof(i));
}

static void test_basic(void) {
        ReplayCache *c = replay_cache_new(10);
        uint8_t n[REPLAY_NONCE_SIZE];
        check(c);

        nonce_of(1, n, false);
        check(!replay_cache_contains(c, n));
        check(replay_cache_add(c, n, 100, 0) == 0);
        check(replay_cache_contains(c, n));
        check(replay_cache_add(c, n, 100, 0) == -EEXIST);
        check(replay_cache_add(c, n, 500, 50) == -EEXIST);
        /* Past its deadline but not yet evicted: still a replay (the verifier's time check
         * refuses such a ticket earlier anyway). */
        check(replay_cache_add(c, n, 500, 101) == -EEXIST);
        check(replay_cache_size(c) == 1);

        nonce_of(2, n, false);
        check(replay_cache_add(c, n, 0, 0) == -EINVAL);
        check(!replay_cache_contains(c, n));
        check(!replay_cache_new(0));
        replay_cache_free(c);
        replay_cache_free(NULL);
}

/* The default capacity fills, refuses while every entry is live, and empties when they expire. */
static void test_bound(bool high) {
        const size_t cap = 65536;
        ReplayCache *c = replay_cache_new(cap);
        uint8_t n[REPLAY_NONCE_SIZE];
        check(c);

        /* Half expire at 50, half at 200. */
        for (uint64_t i = 0; i < cap; i++) {
                nonce_of(i, n, high);
                check(replay_cache_add(c, n, i % 2 ? 200 : 50, 10) == 0);
        }
        check(replay_cache_size(c) == cap);
        nonce_of(cap, n, high);
        check(replay_cache_add(c, n, 300, 10) == -ENOSPC);
        check(replay_cache_add(c, n, 300, 50) == -ENOSPC); /* deadlines are inclusive */
        check(!replay_cache_contains(c, n));

        /* At 51 the first half is evicted to make room. */
        check(replay_cache_add(c, n, 300, 51) == 0);
        check(replay_cache_size(c) == cap / 2 + 1);
        for (uint64_t i = 0; i < cap; i++) {
                nonce_of(i, n, high);
                check(replay_cache_contains(c, n) == (i % 2 == 1));
        }

        /* Refill, then everything expires: the table shrinks back. */
        for (uint64_t i = cap + 1; replay_cache_size(c) < cap; i++) {
                nonce_of(i, n, high);
                check(replay_cache_add(c, n, 250, 60) == 0);
        }
        nonce_of(3 * cap, n, high);
        check(replay_cache_add(c, n, 400, 60) == -ENOSPC);
        check(replay_cache_add(c, n, 400, 301) == 0);
        check(replay_cache_size(c) == 1);
        replay_cache_free(c);
}

/* Steady state: tickets arrive at 10 a second and live 90 s; the table never refuses one and
 * never holds much more than the live ones. */
static void test_steady(void) {
        ReplayCache *c = replay_cache_new(1024);
        uint8_t n[REPLAY_NONCE_SIZE];
        size_t most = 0;
        check(c);
        for (uint64_t i = 0; i < 200000; i++) {
                uint64_t now = 1000 + i / 10;
                nonce_of(i * 0x9e3779b97f4a7c15ULL, n, false);
                check(replay_cache_add(c, n, now + 90, now) == 0);
                most = replay_cache_size(c) > most ? replay_cache_size(c) : most;
        }
        check(most <= 1024);
        nonce_of(199999 * 0x9e3779b97f4a7c15ULL, n, false);
        check(replay_cache_contains(c, n));
        printf("steady state: at most %zu nonces held\n", most);
        replay_cache_free(c);
}

int main(void) {
        test_basic();
        test_bound(false);
        test_bound(true);
        test_steady();
        printf("ok\n");
        return 0;
}
