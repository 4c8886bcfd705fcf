/* OpenSSL helpers shared by the TLS and DTLS layers (see tls-internal.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tls-internal.h"

const char *tls_openssl_reason(char code[static 32], const char *fallback) {
        unsigned long e = ERR_get_error();
        const char *reason = e ? ERR_reason_error_string(e) : NULL;

        if (e && !reason) {
                snprintf(code, 32, "error %08lx", e);
                reason = code;
        }
        ERR_clear_error();
        return reason ? reason : fallback;
}

void tls_context_error(char **error, const char *fallback, const char *fmt, ...) {
        char code[32], *what = NULL;
        const char *reason = tls_openssl_reason(code, fallback);
        va_list ap;

        if (!error)
                return;
        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        if (!what || asprintf(error, "%s: %s", what, reason) < 0)
                *error = NULL;
        free(what);
}

int tls_ctx_use_cert_key(SSL_CTX *ctx, const char *cert_pem, const char *key_pem, char **error) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cert_pem) != 1)
                tls_context_error(error, "invalid file", "cannot load the certificate %s", cert_pem);
        else if (SSL_CTX_use_PrivateKey_file(ctx, key_pem, SSL_FILETYPE_PEM) != 1)
                tls_context_error(error, "invalid file", "cannot load the private key %s", key_pem);
        else if (SSL_CTX_check_private_key(ctx) != 1)
                tls_context_error(error, "mismatch", "the key %s does not match the certificate %s", key_pem, cert_pem);
        else
                return 0;
        return -EINVAL;
}

bool tls_cert_matches_pin(X509 *leaf, const uint8_t pin[TLS_FINGERPRINT_SIZE], char *error, size_t error_size) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        char want[TLS_FINGERPRINT_HEX_SIZE], got[TLS_FINGERPRINT_HEX_SIZE];

        if (!leaf || !X509_digest(leaf, EVP_sha256(), md, &md_len) || md_len != TLS_FINGERPRINT_SIZE) {
                snprintf(error, error_size, "cannot compute the server certificate's fingerprint");
                return false;
        }
        if (CRYPTO_memcmp(md, pin, TLS_FINGERPRINT_SIZE) != 0) {
                tls_fingerprint_to_hex(md, got);
                tls_fingerprint_to_hex(pin, want);
                snprintf(error, error_size, "server certificate fingerprint %s does not match the pinned %s", got, want);
                return false;
        }
        return true;
}

const uint8_t *tls_pin_or_null(const uint8_t *pin) {
        static const uint8_t zero[TLS_FINGERPRINT_SIZE];
        return pin && memcmp(pin, zero, sizeof(zero)) != 0 ? pin : NULL;
}

static int bio_create(BIO *b) {
        BIO_set_init(b, 1);
        return 1;
}

BIO_METHOD *tls_bio_method_new(const char *name, int (*write)(BIO *, const char *, int),
                               int (*read)(BIO *, char *, int), long (*ctrl)(BIO *, int, long, void *)) {
        BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, name);
        if (!m)
                return NULL;
        if (!BIO_meth_set_write(m, write) || !BIO_meth_set_read(m, read) || !BIO_meth_set_ctrl(m, ctrl) ||
            !BIO_meth_set_create(m, bio_create)) {
                BIO_meth_free(m);
                return NULL;
        }
        return m;
}
