/* DTLS cookies (RFC 6347 §4.2.1): HMAC-SHA256 over the time slot and the peer's address and
 * port, keyed with a random secret that is replaced every slot. The previous slot's secret stays
 * valid, so a cookie lives two to four minutes; nothing is stored per peer. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "dtls-internal.h"
#include "unaligned.h"

static uint64_t monotonic_usec(void *userdata) {
        struct timespec ts;
        (void) userdata;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

bool dtls_peer_valid(const struct sockaddr *addr, socklen_t len) {
        if (!addr)
                return false;
        if (addr->sa_family == AF_INET)
                return len >= (socklen_t) sizeof(struct sockaddr_in);
        if (addr->sa_family == AF_INET6)
                return len >= (socklen_t) sizeof(struct sockaddr_in6);
        return false;
}

static int secret_new(DtlsContext *ctx, EVP_MAC_CTX *m) {
        uint8_t key[32];
        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0),
                OSSL_PARAM_construct_end(),
        };
        int r = 0;

        (void) ctx;
        if (RAND_bytes(key, sizeof(key)) != 1 || EVP_MAC_init(m, key, sizeof(key), params) != 1)
                r = -EIO;
        OPENSSL_cleanse(key, sizeof(key));
        ERR_clear_error();
        return r;
}

int dtls_cookie_init(DtlsContext *ctx) {
        ctx->clock = monotonic_usec;
        ctx->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (!ctx->mac)
                return -ENOMEM;
        for (size_t i = 0; i < 2; i++)
                if (!(ctx->secret[i] = EVP_MAC_CTX_new(ctx->mac)))
                        return -ENOMEM;
        return 0;
}

void dtls_cookie_done(DtlsContext *ctx) {
        for (size_t i = 0; i < 2; i++)
                ctx->secret[i] = (EVP_MAC_CTX_free(ctx->secret[i]), NULL);
        EVP_MAC_free(ctx->mac);
        ctx->mac = NULL;
}

void dtls_context_set_clock(DtlsContext *ctx, uint64_t (*now_usec)(void *userdata), void *userdata) {
        ctx->clock = now_usec ? now_usec : monotonic_usec;
        ctx->clock_userdata = now_usec ? userdata : NULL;
        ctx->have_secrets = false; /* the slot numbers of another clock mean nothing */
}

/* Brings the secrets to the current slot: one step keeps the current as the previous, a longer
 * gap replaces both. */
static int rotate(DtlsContext *ctx) {
        uint64_t slot = ctx->clock(ctx->clock_userdata) / DTLS_COOKIE_SLOT_USEC;
        int r;

        if (ctx->have_secrets && slot == ctx->slot)
                return 0;
        if (ctx->have_secrets && slot == ctx->slot + 1) {
                EVP_MAC_CTX *t = ctx->secret[1];
                ctx->secret[1] = ctx->secret[0];
                ctx->secret[0] = t;
                r = secret_new(ctx, ctx->secret[0]);
        } else {
                r = secret_new(ctx, ctx->secret[0]);
                if (r >= 0)
                        r = secret_new(ctx, ctx->secret[1]);
        }
        if (r < 0) {
                ctx->have_secrets = false;
                return r;
        }
        ctx->slot = slot;
        ctx->have_secrets = true;
        return 0;
}

static bool compute(EVP_MAC_CTX *m, uint64_t slot, const DtlsPeerRef *ref, uint8_t out[DTLS_COOKIE_SIZE]) {
        uint8_t in[8 + 1 + 2 + 16 + 4];
        size_t len = 0, out_len = 0;

        put_le64(in, slot);
        len = 8;
        if (ref->addr.ss_family == AF_INET) {
                const struct sockaddr_in *a = (const struct sockaddr_in *) &ref->addr;
                in[len++] = 4;
                memcpy(in + len, &a->sin_port, 2);
                memcpy(in + len + 2, &a->sin_addr, 4);
                len += 6;
        } else {
                const struct sockaddr_in6 *a = (const struct sockaddr_in6 *) &ref->addr;
                in[len++] = 6;
                memcpy(in + len, &a->sin6_port, 2);
                memcpy(in + len + 2, &a->sin6_addr, 16);
                put_le32(in + len + 18, a->sin6_scope_id);
                len += 22;
        }
        /* A NULL key restarts the MAC with the key it has. */
        if (EVP_MAC_init(m, NULL, 0, NULL) != 1 || EVP_MAC_update(m, in, len) != 1 ||
            EVP_MAC_final(m, out, &out_len, DTLS_COOKIE_SIZE) != 1 || out_len != DTLS_COOKIE_SIZE) {
                ERR_clear_error();
                return false;
        }
        return true;
}

static DtlsPeerRef *peer_of(SSL *ssl) {
        DtlsPeerRef *ref = SSL_get_app_data(ssl);
        return ref && ref->ctx && ref->ctx->server && dtls_peer_valid((const struct sockaddr *) &ref->addr, ref->addr_len)
                       ? ref
                       : NULL;
}

int dtls_cookie_generate_cb(SSL *ssl, unsigned char *cookie, unsigned int *cookie_len) {
        DtlsPeerRef *ref = peer_of(ssl);

        if (!ref || rotate(ref->ctx) < 0 || !compute(ref->ctx->secret[0], ref->ctx->slot, ref, cookie))
                return 0;
        *cookie_len = DTLS_COOKIE_SIZE;
        return 1;
}

int dtls_cookie_verify_cb(SSL *ssl, const unsigned char *cookie, unsigned int cookie_len) {
        DtlsPeerRef *ref = peer_of(ssl);
        uint8_t want[DTLS_COOKIE_SIZE];

        if (!ref || cookie_len != DTLS_COOKIE_SIZE || rotate(ref->ctx) < 0)
                return 0;
        for (unsigned i = 0; i < 2; i++) {
                if (i > ref->ctx->slot) /* no slot before the first */
                        break;
                if (compute(ref->ctx->secret[i], ref->ctx->slot - i, ref, want) &&
                    CRYPTO_memcmp(want, cookie, DTLS_COOKIE_SIZE) == 0)
                        return 1;
        }
        return 0;
}
