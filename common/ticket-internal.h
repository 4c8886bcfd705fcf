/* What the ticket files share and callers do not need: the signed body's encoder, the Ed25519
 * primitives, and cleanup helpers for OpenSSL types. The helpers live here rather than in
 * ticket.h so that a caller defining its own (EVP_PKEY_freep is a common name) does not clash. */
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "macro.h"
#include "ticket.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free)

/* Writes everything the signature covers; out holds TICKET_SIZE_MAX bytes. t must pass
 * ticket_check(). Returns the number of bytes written. */
size_t ticket_encode_body(const Ticket *t, uint8_t *out);

bool ticket_key_is_ed25519(EVP_PKEY *key);
/* Returns true only for a valid Ed25519 signature of data[0..len) under key. */
bool ticket_signature_valid(EVP_PKEY *key, const uint8_t *data, size_t len,
                            const uint8_t signature[TICKET_SIGNATURE_SIZE]);

/* Adds a and b, stopping at UINT64_MAX: times near the end of the u64 range must not wrap. */
static inline uint64_t ticket_add_sat(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}
