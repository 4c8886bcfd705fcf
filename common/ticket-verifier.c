/* hostd's side: the broker's public key and the nonces already used. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ticket-internal.h"
#include "ticket-replay.h"

struct TicketVerifier {
        EVP_PKEY *key;
        ReplayCache *replay;
};

TicketVerifier *ticket_verifier_new_capacity(EVP_PKEY *public_key, size_t capacity) {
        if (!ticket_key_is_ed25519(public_key))
                return NULL;
        _cleanup_(ticket_verifier_freep) TicketVerifier *v = calloc(1, sizeof(*v));
        if (!v)
                return NULL;
        v->replay = replay_cache_new(capacity);
        if (!v->replay || EVP_PKEY_up_ref(public_key) != 1)
                return NULL;
        v->key = public_key;
        return TAKE_PTR(v);
}

TicketVerifier *ticket_verifier_new(EVP_PKEY *public_key) {
        return ticket_verifier_new_capacity(public_key, TICKET_REPLAY_CAPACITY);
}

TicketVerifier *ticket_verifier_free(TicketVerifier *v) {
        if (v) {
                EVP_PKEY_free(v->key);
                replay_cache_free(v->replay);
                free(v);
        }
        return NULL;
}

static int set_error(char **error, const char *fmt, ...) _printf_(2, 3);
static int set_error(char **error, const char *fmt, ...) {
        va_list ap;
        if (!error)
                return 0;
        va_start(ap, fmt);
        if (vasprintf(error, fmt, ap) < 0)
                *error = NULL;
        va_end(ap);
        return 0;
}

int ticket_verifier_load(const char *public_key_pem, TicketVerifier **ret, char **error) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        int r = ticket_key_load_public(public_key_pem, &key);
        if (r == -EINVAL) {
                set_error(error, "%s: not an Ed25519 public key in PEM", public_key_pem);
                return r;
        }
        if (r < 0) {
                set_error(error, "%s: cannot read: %s", public_key_pem, strerror(-r));
                return r;
        }
        TicketVerifier *v = ticket_verifier_new(key);
        if (!v) {
                set_error(error, "%s: out of memory", public_key_pem);
                return -ENOMEM;
        }
        *ret = v;
        return 0;
}

size_t ticket_verifier_remembered(const TicketVerifier *v) {
        return replay_cache_size(v->replay);
}

TicketError ticket_verify_served(TicketVerifier *v, const uint8_t *data, size_t len, uint64_t now,
                                 TicketDesktopServed served, void *userdata,
                                 const uint8_t host_fingerprint[TICKET_FINGERPRINT_SIZE], Ticket *ret) {
        Ticket t;

        if (ticket_parse(data, len, &t) < 0)
                return TICKET_MALFORMED;
        /* Nothing in the ticket is believed before this. */
        if (!ticket_signature_valid(v->key, data, len - TICKET_SIGNATURE_SIZE, data + len - TICKET_SIGNATURE_SIZE))
                return TICKET_BAD_SIGNATURE;
        if (now > ticket_add_sat(t.expiry, TICKET_CLOCK_SKEW) || ticket_add_sat(now, TICKET_CLOCK_SKEW) < t.issued)
                return TICKET_EXPIRED;
        if (!served || !served(t.desktop, userdata))
                return TICKET_WRONG_DESKTOP;
        if (host_fingerprint && !ticket_fingerprint_is_zero(t.fingerprint) &&
            memcmp(host_fingerprint, t.fingerprint, TICKET_FINGERPRINT_SIZE) != 0)
                return TICKET_WRONG_HOST;

        /* Last, so that only a ticket this host would otherwise accept uses up its nonce. Past
         * expiry + skew the ticket fails the time check above, so the nonce need not outlive it. */
        int r = replay_cache_add(v->replay, t.nonce, ticket_add_sat(t.expiry, TICKET_CLOCK_SKEW), now);
        if (r < 0)
                return TICKET_REPLAYED; /* -EEXIST, or -ENOSPC/-ENOMEM: refusing is the safe side */

        if (ret)
                *ret = t;
        return TICKET_OK;
}

static bool desktop_equal(const char *desktop, void *userdata) {
        const char *wanted = userdata;
        return wanted && strcmp(desktop, wanted) == 0;
}

TicketError ticket_verify(TicketVerifier *v, const uint8_t *data, size_t len, uint64_t now, const char *desktop,
                          const uint8_t host_fingerprint[TICKET_FINGERPRINT_SIZE], Ticket *ret) {
        return ticket_verify_served(v, data, len, now, desktop_equal, (void *) desktop, host_fingerprint, ret);
}
