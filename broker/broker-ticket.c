#include "broker-ticket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/evp.h>

#include "macro.h"
#include "parse-util.h"
#include "ticket.h"

#define PUBLIC_PEM_MAX 4096

struct BrokerTicketKey {
        EVP_PKEY *key;
        char public_pem[PUBLIC_PEM_MAX];
};

BrokerTicketKey *broker_ticket_key_free(BrokerTicketKey *k) {
        if (!k)
                return NULL;
        EVP_PKEY_free(k->key);
        free(k);
        return NULL;
}

const char *broker_ticket_key_public_pem(const BrokerTicketKey *k) {
        return k->public_pem;
}

static int fail(char **error, const char *path, const char *why) {
        if (error && asprintf(error, "%s: %s", path, why) < 0)
                *error = NULL;
        return 0;
}

static int read_small(const char *path, char *out, size_t size) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len = 0;
        for (;;) {
                ssize_t n = read(fd, out + len, size - 1 - len);
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len == size - 1)
                        return -EFBIG;
        }
        out[len] = 0;
        return 0;
}

int broker_ticket_key_open(const char *state_dir, BrokerTicketKey **ret, char **error) {
        char priv[4096], pub[4096];
        struct stat st;
        int r;

        if ((size_t) snprintf(priv, sizeof(priv), "%s/ticket-key.pem", state_dir) >= sizeof(priv) ||
            (size_t) snprintf(pub, sizeof(pub), "%s/ticket-key.pub.pem", state_dir) >= sizeof(pub))
                return -ENAMETOOLONG;
        _cleanup_(broker_ticket_key_freep) BrokerTicketKey *k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        if (stat(priv, &st) < 0) {
                if (errno != ENOENT) {
                        r = -errno;
                        fail(error, priv, strerror(-r));
                        return r;
                }
                r = ticket_key_generate(priv, pub);
                if (r < 0) {
                        fail(error, priv, r == -EEXIST ? "the public key exists without its private key" :
                                                         "cannot generate the ticket key");
                        return r;
                }
        } else if (st.st_mode & 077) {
                fail(error, priv, "readable by group or others (chmod 0600)");
                return -EPERM;
        }
        r = ticket_key_load_private(priv, &k->key);
        if (r < 0) {
                fail(error, priv, "not an Ed25519 private key (PKCS#8 PEM)");
                return r;
        }
        r = read_small(pub, k->public_pem, sizeof(k->public_pem));
        if (r < 0) {
                fail(error, pub, strerror(-r));
                return r;
        }
        /* The public file must be the private key's half: hosts are given it. */
        EVP_PKEY *pk = NULL;
        r = ticket_key_parse_public(k->public_pem, strlen(k->public_pem), &pk);
        if (r >= 0 && EVP_PKEY_eq(pk, k->key) != 1)
                r = -EINVAL;
        EVP_PKEY_free(pk);
        if (r < 0) {
                fail(error, pub, "not the public half of ticket-key.pem");
                return r;
        }
        *ret = TAKE_PTR(k);
        return 0;
}

int broker_fingerprint_from_hex(const char *hex, uint8_t out[32]) {
        if (strlen(hex) != 64)
                return -EINVAL;
        uint8_t fp[32];
        for (size_t i = 0; i < 32; i++) {
                int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                fp[i] = (uint8_t) (hi << 4 | lo);
        }
        memcpy(out, fp, 32);
        return 0;
}

static int copy_name(char out[TICKET_STRING_MAX + 1], const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > TICKET_STRING_MAX)
                return -EINVAL;
        memcpy(out, s, n + 1);
        return 0;
}

int broker_ticket_mint(const BrokerTicketKey *k, const StoreAssignment *a, const char *user, uint64_t now,
                       unsigned ttl, char **ret_text, uint64_t *ret_expiry) {
        Ticket t = {
                .role = TICKET_ROLE_INTERACTIVE,
                .issued = now,
                .expiry = now + (ttl ? ttl : TICKET_TTL_DEFAULT),
        };
        if (a->fingerprint[0] && broker_fingerprint_from_hex(a->fingerprint, t.fingerprint) < 0)
                return -EINVAL;
        int r = copy_name(t.desktop, a->domain_name);
        if (r >= 0)
                r = copy_name(t.user, user);
        if (r >= 0)
                r = copy_name(t.host, a->hostd_address);
        if (r >= 0)
                r = ticket_check(&t);
        if (r < 0)
                return -EINVAL;
        r = ticket_randomize_nonce(&t);
        if (r < 0)
                return r;
        r = ticket_sign_text(&t, k->key, ret_text);
        if (r < 0)
                return r;
        if (ret_expiry)
                *ret_expiry = t.expiry;
        return 0;
}
