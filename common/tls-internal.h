/* What the TLS (tls.c) and DTLS (dtls.c) layers share: OpenSSL error sentences, loading a
 * server's certificate and key, and the certificate pin check. Not for other users. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "macro.h"
#include "tls.h"

/* The reason of the first queued OpenSSL error, or fallback; empties the queue. */
const char *tls_openssl_reason(char code[static 32], const char *fallback);
/* "what: reason" into a malloc'd *error; what is a format. NULL error: nothing to do. */
_printf_(3, 4) void tls_context_error(char **error, const char *fallback, const char *fmt, ...);
/* Loads a PEM certificate chain and its key into ctx and checks they match. 0, or -EINVAL with
 * *error. */
int tls_ctx_use_cert_key(SSL_CTX *ctx, const char *cert_pem, const char *key_pem, char **error);
/* Whether leaf's DER SHA-256 is pin; on false a sentence saying why in error. */
bool tls_cert_matches_pin(X509 *leaf, const uint8_t pin[TLS_FINGERPRINT_SIZE], char *error, size_t error_size);
/* A source/sink BIO method over these callbacks whose BIOs are ready once created, or NULL. The
 * caller keeps it for the process (no threads; OpenSSL holds it until exit). */
BIO_METHOD *tls_bio_method_new(const char *name, int (*write)(BIO *, const char *, int),
                               int (*read)(BIO *, char *, int), long (*ctrl)(BIO *, int, long, void *));
/* NULL for NULL or the all-zero fingerprint (what a ticket says for "no pin"), else pin. */
const uint8_t *tls_pin_or_null(const uint8_t *pin);
