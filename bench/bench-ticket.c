/* Ticket costs: hostd's verify (parse + Ed25519 verify + replay table; the signature dominates),
 * its parts alone, and the broker's mint (nonce + sign + base64url). Each case runs for at least
 * MIN_SECONDS on distinct tickets, so every verify takes the accepting path; figures are printed,
 * never asserted. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ticket-replay.h"
#include "ticket-test-key.h"
#include "ticket.h"

#define MIN_SECONDS 0.5
#define POOL 4096 /* pre-minted tickets, cycled through verifiers of POOL nonces */

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void die_unless(int ok, const char *what) {
        if (!ok) {
                fprintf(stderr, "bench-ticket: %s failed\n", what);
                exit(1);
        }
}

static Ticket typical(void) {
        Ticket t = { .role = TICKET_ROLE_INTERACTIVE, .issued = 1700000000, .expiry = 1700000060 };
        memset(t.fingerprint, 0xab, sizeof(t.fingerprint));
        snprintf(t.desktop, sizeof(t.desktop), "win11-pool-07");
        snprintf(t.user, sizeof(t.user), "alice@example.org");
        snprintf(t.host, sizeof(t.host), "host1.example.org:7443");
        return t;
}

static void report(const char *what, unsigned long n, double seconds) {
        printf("%-44s %10.0f /s  %8.2f us each\n", what, (double) n / seconds, seconds * 1e6 / (double) n);
}

static uint8_t pool[POOL][TICKET_SIZE_MAX];
static size_t pool_len[POOL];

int main(void) {
        EVP_PKEY *priv = ticket_test_private(), *pub = ticket_test_public();
        die_unless(priv && pub, "test key");
        Ticket t = typical();
        unsigned long n;
        double t0, dt;

        /* Mint: what the broker does per connection. */
        t0 = now();
        for (n = 0; (n & 63) || (dt = now() - t0) < MIN_SECONDS; n++) {
                char *text = NULL;
                die_unless(ticket_randomize_nonce(&t) == 0, "nonce");
                die_unless(ticket_sign_text(&t, priv, &text) == 0, "sign");
                free(text);
        }
        report("mint (nonce + Ed25519 sign + base64url)", n, dt);

        t0 = now();
        for (n = 0; (n & 63) || (dt = now() - t0) < MIN_SECONDS; n++) {
                uint8_t buf[TICKET_SIZE_MAX];
                size_t len;
                t.nonce[0] = (uint8_t) n;
                die_unless(ticket_sign(&t, priv, buf, sizeof(buf), &len) == 0, "sign");
        }
        report("sign only (binary)", n, dt);

        for (size_t i = 0; i < POOL; i++) {
                memcpy(t.nonce, &i, sizeof(i));
                die_unless(ticket_sign(&t, priv, pool[i], TICKET_SIZE_MAX, &pool_len[i]) == 0, "sign");
        }

        /* Verify: what hostd does per connection attempt. */
        TicketVerifier *v = NULL;
        t0 = now();
        for (n = 0; (n & 63) || (dt = now() - t0) < MIN_SECONDS; n++) {
                size_t i = n % POOL;
                if (i == 0) {
                        ticket_verifier_free(v);
                        v = ticket_verifier_new(pub);
                }
                die_unless(ticket_verify(v, pool[i], pool_len[i], t.issued, t.desktop, t.fingerprint, NULL) ==
                                   TICKET_OK,
                           "verify");
        }
        report("verify, accepted (parse + signature + replay)", n, dt);

        /* A forgery costs the same signature check; a replay too (signature before replay). */
        t0 = now();
        for (n = 0; (n & 63) || (dt = now() - t0) < MIN_SECONDS; n++)
                die_unless(ticket_verify(v, pool[0], pool_len[0], t.issued, t.desktop, NULL, NULL) == TICKET_REPLAYED,
                           "replay");
        report("verify, replayed", n, dt);
        ticket_verifier_free(v);

        t0 = now();
        for (n = 0; (n & 1023) || (dt = now() - t0) < MIN_SECONDS; n++) {
                Ticket p;
                die_unless(ticket_parse(pool[n % POOL], pool_len[n % POOL], &p) == 0, "parse");
        }
        report("parse only", n, dt);

        v = ticket_verifier_new(pub);
        t0 = now();
        for (n = 0; (n & 1023) || (dt = now() - t0) < MIN_SECONDS; n++)
                die_unless(ticket_verify(v, pool[0], 100, 0, "", NULL, NULL) == TICKET_MALFORMED, "malformed");
        report("verify, malformed (truncated)", n, dt);
        ticket_verifier_free(v);

        /* The replay table at its default bound, steady state: 65536 live nonces, one expiring
         * and one arriving per ticket (the worst case rebuilds the table for each). */
        ReplayCache *c;
        uint8_t nonce[REPLAY_NONCE_SIZE] = {};
        unsigned long fills = 0;
        t0 = now();
        do {
                c = replay_cache_new(TICKET_REPLAY_CAPACITY);
                die_unless(c != NULL, "replay cache");
                for (n = 0; n < TICKET_REPLAY_CAPACITY; n++) {
                        memcpy(nonce, &n, sizeof(n));
                        die_unless(replay_cache_add(c, nonce, 1000000, 0) == 0, "add");
                }
                die_unless(replay_cache_add(c, (uint8_t[REPLAY_NONCE_SIZE]) { [15] = 0xff }, 1000000, 0) == -ENOSPC, "full");
                replay_cache_free(c);
                fills++;
        } while ((dt = now() - t0) < MIN_SECONDS);
        report("replay table add, filling it to 65536", fills * TICKET_REPLAY_CAPACITY, dt);

        /* Full of live nonces: refused at once. */
        c = replay_cache_new(TICKET_REPLAY_CAPACITY);
        for (n = 0; n < TICKET_REPLAY_CAPACITY; n++) {
                memcpy(nonce, &n, sizeof(n));
                die_unless(replay_cache_add(c, nonce, 1 + n, 0) == 0, "fill");
        }
        memset(nonce, 0xee, sizeof(nonce));
        t0 = now();
        for (n = 0; (n & 1023) || (dt = now() - t0) < MIN_SECONDS; n++)
                die_unless(replay_cache_add(c, nonce, 1000000, 1) == -ENOSPC, "refuse when full");
        report("replay table add when full of live nonces", n, dt);

        /* Full, and one deadline passed: the table is rebuilt without it. Deadlines are whole
         * seconds and a rebuild leaves none before now, so this happens at most once a second. */
        unsigned long m = 0;
        n = TICKET_REPLAY_CAPACITY;
        t0 = now();
        for (; (m & 15) || (dt = now() - t0) < MIN_SECONDS; m++, n++) {
                memcpy(nonce, &n, sizeof(n));
                die_unless(replay_cache_add(c, nonce, n + 1, m + 2) == 0, "add when full");
        }
        report("replay table evicting rebuild, 65536 entries", m, dt);
        replay_cache_free(c);

        EVP_PKEY_free(priv);
        EVP_PKEY_free(pub);
        return 0;
}
