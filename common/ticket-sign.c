/* Ed25519 over the ticket body: signing (the broker) and the signature check (hostd). */
#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "base64url.h"
#include "ticket-internal.h"

bool ticket_key_is_ed25519(EVP_PKEY *key) {
        return key && EVP_PKEY_is_a(key, "ED25519");
}

bool ticket_signature_valid(EVP_PKEY *key, const uint8_t *data, size_t len,
                            const uint8_t signature[TICKET_SIGNATURE_SIZE]) {
        bool ok = false;
        ERR_set_mark();
        /* Ed25519 hashes internally: no digest, one-shot only. */
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1)
                ok = EVP_DigestVerify(ctx, signature, TICKET_SIGNATURE_SIZE, data, len) == 1;
        ERR_pop_to_mark();
        return ok;
}

int ticket_randomize_nonce(Ticket *t) {
        uint8_t nonce[TICKET_NONCE_SIZE];
        ERR_set_mark();
        int ok = RAND_bytes(nonce, sizeof(nonce));
        ERR_pop_to_mark();
        if (ok != 1)
                return -EIO;
        memcpy(t->nonce, nonce, sizeof(nonce));
        return 0;
}

int ticket_sign(const Ticket *t, EVP_PKEY *key, uint8_t *out, size_t size, size_t *ret_len) {
        uint8_t buf[TICKET_SIZE_MAX];
        int r = 0;

        if (ticket_check(t) < 0 || !ticket_key_is_ed25519(key))
                return -EINVAL;
        ERR_set_mark();
        size_t priv_len = 0;
        bool has_private = EVP_PKEY_get_raw_private_key(key, NULL, &priv_len) == 1;
        ERR_pop_to_mark();
        if (!has_private)
                return -EINVAL; /* a public key cannot sign */
        size_t body = ticket_encode_body(t, buf);
        if (size < body + TICKET_SIGNATURE_SIZE)
                return -ENOBUFS;

        ERR_set_mark();
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        size_t sig_len = TICKET_SIGNATURE_SIZE;
        if (!ctx)
                r = -ENOMEM;
        else if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
                 EVP_DigestSign(ctx, buf + body, &sig_len, buf, body) != 1 || sig_len != TICKET_SIGNATURE_SIZE)
                r = -EIO;
        ERR_pop_to_mark();
        if (r < 0)
                return r;

        memcpy(out, buf, body + TICKET_SIGNATURE_SIZE);
        if (ret_len)
                *ret_len = body + TICKET_SIGNATURE_SIZE;
        return 0;
}

int ticket_sign_text(const Ticket *t, EVP_PKEY *key, char **ret) {
        uint8_t buf[TICKET_SIZE_MAX];
        size_t len;
        int r = ticket_sign(t, key, buf, sizeof(buf), &len);
        if (r < 0)
                return r;
        return base64url_encode_alloc(buf, len, ret);
}
