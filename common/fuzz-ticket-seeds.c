/* Writes fuzz-ticket's seed corpus into DIR: tickets signed with the test key (valid ones of
 * every shape, and near misses), and prints the example of schema/ticket.md. The output is the
 * same on every run (fixed nonces, deterministic Ed25519), so the committed corpus can be
 * checked against it:  build/common/fuzz-ticket-seeds common/corpus/fuzz-ticket */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base64url.h"
#include "macro.h"
#include "ticket-internal.h"
#include "ticket-test-key.h"

static const char *dir;
static EVP_PKEY *key;

static int save(const char *name, const uint8_t *data, size_t len) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
                fprintf(stderr, "Cannot write %s: %m\n", path);
                return -EIO;
        }
        return 0;
}

static Ticket base(uint8_t n) {
        Ticket t = { .role = TICKET_ROLE_INTERACTIVE, .issued = 1700000000, .expiry = 1700000060 };
        for (size_t i = 0; i < TICKET_NONCE_SIZE; i++)
                t.nonce[i] = (uint8_t) (n * 16 + i);
        for (size_t i = 0; i < TICKET_FINGERPRINT_SIZE; i++)
                t.fingerprint[i] = (uint8_t) (0xa0 + i);
        snprintf(t.desktop, sizeof(t.desktop), "win11-pool-07");
        snprintf(t.user, sizeof(t.user), "alice");
        snprintf(t.host, sizeof(t.host), "host1.example.org:7443");
        return t;
}

static int signed_ticket(const char *name, const Ticket *t, uint8_t *buf, size_t *len) {
        int r = ticket_sign(t, key, buf, TICKET_SIZE_MAX, len);
        if (r < 0) {
                fprintf(stderr, "Cannot sign %s: %s\n", name, strerror(-r));
                return r;
        }
        return save(name, buf, *len);
}

static void hex_dump(const uint8_t *data, size_t len) {
        for (size_t i = 0; i < len; i++)
                printf("%02x%s", data[i], i % 16 == 15 || i + 1 == len ? "\n" : " ");
}

int main(int argc, char **argv) {
        uint8_t buf[TICKET_SIZE_MAX];
        size_t len;
        Ticket t;
        int r = 0;

        if (argc != 2) {
                fprintf(stderr, "Usage: %s DIR\n", argv[0]);
                return 2;
        }
        dir = argv[1];
        key = ticket_test_private();
        if (!key)
                return 1;

        t = base(1);
        r |= signed_ticket("valid-interactive", &t, buf, &len);
        /* The example of schema/ticket.md. */
        char text[TICKET_TEXT_MAX + 1];
        (void) base64url_encode(buf, len, text, sizeof(text), NULL);
        printf("example ticket, %zu bytes:\n", len);
        hex_dump(buf, len);
        printf("text (%zu characters):\n%s\n", strlen(text), text);

        /* Near misses of a valid ticket: the parser's and the signature's refusals. */
        r |= save("truncated", buf, len - 1);
        buf[len - 1] ^= 0x80;
        r |= save("bad-signature", buf, len);
        buf[len - 1] ^= 0x80;
        buf[6] = 1;
        r |= save("flags", buf, len);
        buf[6] = 0;
        buf[4] = 2;
        r |= save("version-2", buf, len);

        t = base(2);
        t.role = TICKET_ROLE_VIEW_ONLY;
        memset(t.fingerprint, 0, sizeof(t.fingerprint));
        snprintf(t.user, sizeof(t.user), "Zoë Ångström");
        snprintf(t.host, sizeof(t.host), "[2001:db8::7]:7443");
        r |= signed_ticket("valid-view-only-ca", &t, buf, &len);

        t = base(3);
        memset(t.desktop, 'd', TICKET_STRING_MAX);
        t.desktop[TICKET_STRING_MAX] = '\0';
        memset(t.user, 'u', TICKET_STRING_MAX);
        t.user[TICKET_STRING_MAX] = '\0';
        memset(t.host, 'h', TICKET_STRING_MAX - 5);
        memcpy(t.host + TICKET_STRING_MAX - 5, ":7443", 6);
        r |= signed_ticket("valid-largest", &t, buf, &len);

        t = base(4);
        snprintf(t.desktop, sizeof(t.desktop), "d");
        snprintf(t.user, sizeof(t.user), "u");
        snprintf(t.host, sizeof(t.host), "a:1");
        t.issued = UINT64_MAX - TICKET_TTL_MAX;
        t.expiry = UINT64_MAX;
        r |= signed_ticket("valid-smallest-end-of-time", &t, buf, &len);

        EVP_PKEY_free(key);
        return r ? 1 : 0;
}
