/* The broker's ticket key and the tickets it signs (schema/ticket.md, common/ticket.h). The
 * Ed25519 pair lives in the state directory: ticket-key.pem (PKCS#8, 0600) and ticket-key.pub.pem
 * (what hostd is given, or fetches from GET /v1/ticket-key). It is made on first start; an
 * existing private key readable by group or others is refused. */
#pragma once

#include <stdint.h>
#include <openssl/types.h>

#include "broker-assign.h"

typedef struct BrokerTicketKey BrokerTicketKey;

/* On failure *error (optional) gets a malloc'd sentence naming the file. */
int broker_ticket_key_open(const char *state_dir, BrokerTicketKey **ret, char **error);
BrokerTicketKey *broker_ticket_key_free(BrokerTicketKey *k);
static inline void broker_ticket_key_freep(BrokerTicketKey **k) {
        broker_ticket_key_free(*k);
}
/* The public key as PEM text (SubjectPublicKeyInfo), NUL-terminated. */
const char *broker_ticket_key_public_pem(const BrokerTicketKey *k);

/* Signs an interactive ticket for user on the assignment's desktop and host, valid from now for
 * ttl seconds, with a fresh nonce; the host's fingerprint is pinned when the store has one.
 * Returns 0 and a malloc'd base64url text, or -EINVAL (names a ticket cannot carry), -EIO. */
int broker_ticket_mint(const BrokerTicketKey *k, const StoreAssignment *a, const char *user, uint64_t now,
                       unsigned ttl, char **ret_text, uint64_t *ret_expiry);

/* 64 hex digits to bytes: 0 or -EINVAL. */
int broker_fingerprint_from_hex(const char *hex, uint8_t out[32]);
