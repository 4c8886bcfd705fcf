/* Tickets: sign/parse/verify round trips, and every way a ticket is refused, in the order hostd
 * checks. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "check.h"
#include "macro.h"
#include "ticket-internal.h"
#include "ticket-test-key.h"
#include "ticket.h"

#define T0 UINT64_C(1700000000)

static const uint8_t host_fp[32] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                     13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28 };

static unsigned nonce_counter;

static Ticket make_ticket(void) {
        Ticket t = {
                .role = TICKET_ROLE_VIEW_ONLY,
                .issued = T0,
                .expiry = T0 + 60,
        };
        /* Distinct nonces without randomness, so failures reproduce. */
        nonce_counter++;
        memcpy(t.nonce, &nonce_counter, sizeof(nonce_counter));
        memcpy(t.fingerprint, host_fp, sizeof(host_fp));
        snprintf(t.desktop, sizeof(t.desktop), "%s", "win11-pool-07");
        snprintf(t.user, sizeof(t.user), "%s", "alice@example.org");
        snprintf(t.host, sizeof(t.host), "%s", "host1.example.org:7443");
        return t;
}

static size_t sign(const Ticket *t, EVP_PKEY *key, uint8_t buf[TICKET_SIZE_MAX]) {
        size_t len = 0;
        check(ticket_sign(t, key, buf, TICKET_SIZE_MAX, &len) == 0);
        check(len >= TICKET_SIZE_MIN && len <= TICKET_SIZE_MAX);
        return len;
}

static bool tickets_equal(const Ticket *a, const Ticket *b) {
        return a->role == b->role && a->issued == b->issued && a->expiry == b->expiry &&
               memcmp(a->nonce, b->nonce, sizeof(a->nonce)) == 0 &&
               memcmp(a->fingerprint, b->fingerprint, sizeof(a->fingerprint)) == 0 &&
               strcmp(a->desktop, b->desktop) == 0 && strcmp(a->user, b->user) == 0 && strcmp(a->host, b->host) == 0;
}

static void test_round_trip(EVP_PKEY *priv, EVP_PKEY *pub) {
        Ticket t = make_ticket(), p, v;
        uint8_t buf[TICKET_SIZE_MAX];
        size_t len = sign(&t, priv, buf);

        check(len == TICKET_HEADER_SIZE + 1 + strlen(t.desktop) + 1 + strlen(t.user) + 1 + strlen(t.host) + 64);
        check(memcmp(buf, "TKT1\x01\x01\x00\x00", 8) == 0);
        check(ticket_parse(buf, len, &p) == 0);
        check(tickets_equal(&t, &p));

        _cleanup_(ticket_verifier_freep) TicketVerifier *ver = ticket_verifier_new(pub);
        check(ver);
        check(ticket_verify(ver, buf, len, T0, "win11-pool-07", host_fp, &v) == TICKET_OK);
        check(tickets_equal(&t, &v));
        check(ticket_verifier_remembered(ver) == 1);

        /* Ed25519 is deterministic: the same ticket signs to the same bytes. */
        uint8_t again[TICKET_SIZE_MAX];
        check(sign(&t, priv, again) == len && memcmp(buf, again, len) == 0);

        /* Text form. */
        char *text = NULL;
        check(ticket_sign_text(&t, priv, &text) == 0);
        uint8_t decoded[TICKET_SIZE_MAX];
        size_t dlen = 0;
        check(ticket_text_decode(text, strlen(text), decoded, sizeof(decoded), &dlen) == 0);
        check(dlen == len && memcmp(decoded, buf, len) == 0);
        free(text);

        /* The largest ticket is TICKET_SIZE_MAX bytes and TICKET_TEXT_MAX characters. */
        Ticket big = make_ticket();
        memset(big.desktop, 'd', 255);
        big.desktop[255] = '\0';
        memset(big.user, 'u', 255);
        big.user[255] = '\0';
        memset(big.host, 'h', 250);
        memcpy(big.host + 250, ":7443", 6);
        check(sign(&big, priv, buf) == TICKET_SIZE_MAX);
        check(ticket_sign_text(&big, priv, &text) == 0);
        check(strlen(text) == TICKET_TEXT_MAX);
        check(ticket_text_decode(text, strlen(text), decoded, sizeof(decoded), &dlen) == 0);
        check(ticket_parse(decoded, dlen, &p) == 0 && tickets_equal(&big, &p));
        free(text);

        char longer[TICKET_TEXT_MAX + 5];
        memset(longer, 'A', sizeof(longer));
        check(ticket_text_decode(longer, sizeof(longer), decoded, sizeof(decoded), &dlen) == -EMSGSIZE);
        check(ticket_text_decode("TKT1=", 5, decoded, sizeof(decoded), &dlen) == -EINVAL);

        /* The smallest. */
        Ticket small = make_ticket();
        snprintf(small.desktop, sizeof(small.desktop), "d");
        snprintf(small.user, sizeof(small.user), "u");
        snprintf(small.host, sizeof(small.host), "a:1");
        check(sign(&small, priv, buf) == TICKET_SIZE_MIN);

        /* UTF-8 names pass. */
        Ticket utf = make_ticket();
        snprintf(utf.user, sizeof(utf.user), "%s", "Zoë Ångström 日本 🖥");
        len = sign(&utf, priv, buf);
        check(ticket_parse(buf, len, &p) == 0 && strcmp(p.user, utf.user) == 0);
}

static void refuse_sign(const Ticket *t, EVP_PKEY *priv) {
        uint8_t buf[TICKET_SIZE_MAX];
        memset(buf, 0x77, sizeof(buf));
        size_t len = 4242;
        check(ticket_check(t) == -EINVAL);
        check(ticket_sign(t, priv, buf, sizeof(buf), &len) == -EINVAL);
        check(len == 4242 && buf[0] == 0x77);
}

static void test_sign_refusals(EVP_PKEY *priv, EVP_PKEY *pub) {
        Ticket t;
        uint8_t buf[TICKET_SIZE_MAX];
        size_t len = 4242;

        t = make_ticket();
        t.role = 2;
        refuse_sign(&t, priv);
        t = make_ticket();
        t.expiry = t.issued;
        refuse_sign(&t, priv);
        t = make_ticket();
        t.expiry = t.issued + TICKET_TTL_MAX + 1;
        refuse_sign(&t, priv);
        t = make_ticket();
        t.expiry = t.issued + TICKET_TTL_MAX;
        check(ticket_check(&t) == 0);
        t = make_ticket();
        t.desktop[0] = '\0';
        refuse_sign(&t, priv);
        t = make_ticket();
        memset(t.user, 'u', sizeof(t.user)); /* no NUL within 256 bytes */
        refuse_sign(&t, priv);
        t = make_ticket();
        snprintf(t.user, sizeof(t.user), "evil\x1b[2Jname");
        refuse_sign(&t, priv);
        t = make_ticket();
        snprintf(t.user, sizeof(t.user), "tab\there");
        refuse_sign(&t, priv);
        t = make_ticket();
        snprintf(t.user, sizeof(t.user), "c1\xc2\x9b");
        refuse_sign(&t, priv);
        t = make_ticket();
        snprintf(t.desktop, sizeof(t.desktop), "bad\xc3");
        refuse_sign(&t, priv);
        t = make_ticket();
        snprintf(t.desktop, sizeof(t.desktop), "overlong\xc0\xaf");
        refuse_sign(&t, priv);
        t = make_ticket();
        snprintf(t.desktop, sizeof(t.desktop), "surrogate\xed\xa0\x80");
        refuse_sign(&t, priv);
        t = make_ticket();
        snprintf(t.host, sizeof(t.host), "host1.example.org");
        refuse_sign(&t, priv);

        /* The key must be an Ed25519 private key. */
        t = make_ticket();
        check(ticket_sign(&t, pub, buf, sizeof(buf), &len) == -EINVAL);
        EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
        check(x);
        check(ticket_sign(&t, x, buf, sizeof(buf), &len) == -EINVAL);
        check(!ticket_verifier_new(x));
        EVP_PKEY_free(x);
        check(ticket_sign(&t, NULL, buf, sizeof(buf), &len) == -EINVAL);

        /* Room for everything but the last signature byte is not enough. */
        size_t need = sign(&t, priv, buf);
        memset(buf, 0x77, sizeof(buf));
        check(ticket_sign(&t, priv, buf, need - 1, &len) == -ENOBUFS);
        check(len == 4242 && buf[0] == 0x77);
        check(ticket_sign(&t, priv, buf, need, &len) == 0 && len == need);
}

static void test_host_split(void) {
        char name[256];
        uint16_t port = 0;

        check(ticket_host_split("host1.example.org:7443", name, sizeof(name), &port) == 0);
        check(strcmp(name, "host1.example.org") == 0 && port == 7443);
        check(ticket_host_split("[2001:db8::1]:443", name, sizeof(name), &port) == 0);
        check(strcmp(name, "2001:db8::1") == 0 && port == 443);
        check(ticket_host_split("10.0.0.1:65535", name, sizeof(name), &port) == 0 && port == 65535);
        check(ticket_host_split("a:1", name, sizeof(name), &port) == 0 && port == 1);

        port = 99;
        snprintf(name, sizeof(name), "untouched");
        static const char *const bad[] = {
                "host",   "host:",     ":7443",     "host:0",    "host:65536", "host:07443", "host:+1",
                "host:1x", "2001:db8::1:443", "[]:443", "[::1:443",  "[::1]443",   "ho st:1",   "h/st:1",
                "user@host:1", "[::g]:1", "host:123456", "",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (ticket_host_split(bad[i], name, sizeof(name), &port) != -EINVAL) {
                        fprintf(stderr, "accepted host `%s'\n", bad[i]);
                        check(false);
                }
        }
        check(port == 99 && strcmp(name, "untouched") == 0);
        check(ticket_host_split("host1.example.org:7443", name, 17, &port) == -ENOBUFS);
        check(ticket_host_split("host1.example.org:7443", name, 18, &port) == 0);
}

/* Truncated at every length and lengthened by a byte: malformed, nothing filled in. */
static void test_truncation(EVP_PKEY *priv, EVP_PKEY *pub) {
        Ticket t = make_ticket(), p = { .issued = 42 };
        uint8_t buf[TICKET_SIZE_MAX + 1];
        size_t len = sign(&t, priv, buf);
        _cleanup_(ticket_verifier_freep) TicketVerifier *ver = ticket_verifier_new(pub);

        for (size_t n = 0; n < len; n++) {
                check(ticket_parse(buf, n, &p) == -EBADMSG);
                check(ticket_verify(ver, buf, n, T0, t.desktop, host_fp, &p) == TICKET_MALFORMED);
        }
        buf[len] = 0;
        check(ticket_parse(buf, len + 1, &p) == -EBADMSG);
        check(ticket_verify(ver, buf, len + 1, T0, t.desktop, host_fp, &p) == TICKET_MALFORMED);
        check(p.issued == 42);
        check(ticket_verify(ver, buf, len, T0, t.desktop, host_fp, &p) == TICKET_OK);
}

/* Every single-bit flip is caught: by the parser, or by the signature. */
static void test_bit_flips(EVP_PKEY *priv, EVP_PKEY *pub) {
        Ticket t = make_ticket(), p = { .issued = 42 };
        uint8_t buf[TICKET_SIZE_MAX];
        size_t len = sign(&t, priv, buf);
        _cleanup_(ticket_verifier_freep) TicketVerifier *ver = ticket_verifier_new(pub);
        unsigned malformed = 0, bad_signature = 0;

        for (size_t bit = 0; bit < len * 8; bit++) {
                buf[bit / 8] ^= (uint8_t) (1u << (bit % 8));
                TicketError e = ticket_verify(ver, buf, len, T0, t.desktop, host_fp, &p);
                if (e != TICKET_MALFORMED && e != TICKET_BAD_SIGNATURE) {
                        fprintf(stderr, "bit %zu flipped: %s\n", bit, ticket_error_name(e));
                        check(false);
                }
                malformed += e == TICKET_MALFORMED;
                bad_signature += e == TICKET_BAD_SIGNATURE;
                buf[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        }
        check(p.issued == 42);
        check(ticket_verifier_remembered(ver) == 0);
        check(malformed > 0 && bad_signature > 0);
        check(ticket_verify(ver, buf, len, T0, t.desktop, host_fp, &p) == TICKET_OK);
        printf("bit flips: %u malformed, %u bad signature\n", malformed, bad_signature);
}

static TicketError verify_new(TicketVerifier *ver, EVP_PKEY *priv, Ticket *t, uint64_t now) {
        uint8_t buf[TICKET_SIZE_MAX];
        size_t len = sign(t, priv, buf);
        return ticket_verify(ver, buf, len, now, t->desktop, host_fp, NULL);
}

static void test_time(EVP_PKEY *priv, EVP_PKEY *pub) {
        _cleanup_(ticket_verifier_freep) TicketVerifier *ver = ticket_verifier_new(pub);
        Ticket t;

        /* Valid from issued - skew to expiry + skew, both inclusive. */
        t = make_ticket();
        check(verify_new(ver, priv, &t, t.expiry + TICKET_CLOCK_SKEW) == TICKET_OK);
        t = make_ticket();
        check(verify_new(ver, priv, &t, t.expiry + TICKET_CLOCK_SKEW + 1) == TICKET_EXPIRED);
        t = make_ticket();
        check(verify_new(ver, priv, &t, t.issued - TICKET_CLOCK_SKEW) == TICKET_OK);
        t = make_ticket();
        check(verify_new(ver, priv, &t, t.issued - TICKET_CLOCK_SKEW - 1) == TICKET_EXPIRED);
        t = make_ticket();
        check(verify_new(ver, priv, &t, 0) == TICKET_EXPIRED);
        t = make_ticket();
        check(verify_new(ver, priv, &t, UINT64_MAX) == TICKET_EXPIRED);

        /* At the end of time, sums saturate instead of wrapping. */
        t = make_ticket();
        t.issued = UINT64_MAX - 10;
        t.expiry = UINT64_MAX;
        check(verify_new(ver, priv, &t, UINT64_MAX) == TICKET_OK);
        t = make_ticket();
        t.issued = UINT64_MAX - 100;
        t.expiry = UINT64_MAX - 90;
        check(verify_new(ver, priv, &t, 5) == TICKET_EXPIRED);
}

static void test_checks(EVP_PKEY *priv, EVP_PKEY *pub) {
        _cleanup_(ticket_verifier_freep) TicketVerifier *ver = ticket_verifier_new(pub);
        Ticket t = make_ticket(), r = { .issued = 42 };
        uint8_t buf[TICKET_SIZE_MAX];
        size_t len = sign(&t, priv, buf);

        /* A refusal for any reason leaves the nonce unused: the right host still accepts. */
        check(ticket_verify(ver, buf, len, T0, "win11-pool-08", host_fp, &r) == TICKET_WRONG_DESKTOP);
        check(ticket_verify(ver, buf, len, T0, "win11-pool-0", host_fp, &r) == TICKET_WRONG_DESKTOP);
        check(ticket_verify(ver, buf, len, T0, NULL, host_fp, &r) == TICKET_WRONG_DESKTOP);
        uint8_t other_fp[32];
        memcpy(other_fp, host_fp, 32);
        other_fp[31] ^= 1;
        check(ticket_verify(ver, buf, len, T0, t.desktop, other_fp, &r) == TICKET_WRONG_HOST);
        check(ticket_verify(ver, buf, len, T0 + 1000, t.desktop, host_fp, &r) == TICKET_EXPIRED);
        check(r.issued == 42);
        check(ticket_verifier_remembered(ver) == 0);

        /* Then once, and never again. */
        check(ticket_verify(ver, buf, len, T0, t.desktop, host_fp, &r) == TICKET_OK);
        check(r.issued == T0);
        r.issued = 42;
        check(ticket_verify(ver, buf, len, T0 + 1, t.desktop, host_fp, &r) == TICKET_REPLAYED);
        check(ticket_verify(ver, buf, len, T0, t.desktop, NULL, &r) == TICKET_REPLAYED);
        check(r.issued == 42);

        /* A NULL host fingerprint skips the host check; so does an all-zero one in the ticket. */
        t = make_ticket();
        len = sign(&t, priv, buf);
        check(ticket_verify(ver, buf, len, T0, t.desktop, NULL, NULL) == TICKET_OK);
        t = make_ticket();
        memset(t.fingerprint, 0, sizeof(t.fingerprint));
        len = sign(&t, priv, buf);
        check(ticket_verify(ver, buf, len, T0, t.desktop, other_fp, NULL) == TICKET_OK);

        /* Order: an expired ticket for another desktop is expired; a forged one is forged. */
        t = make_ticket();
        len = sign(&t, priv, buf);
        check(ticket_verify(ver, buf, len, T0 + 1000, "elsewhere", other_fp, NULL) == TICKET_EXPIRED);
        check(ticket_verify(ver, buf, len, T0, "elsewhere", other_fp, NULL) == TICKET_WRONG_DESKTOP);
        check(ticket_verify(ver, buf, len, T0, t.desktop, other_fp, NULL) == TICKET_WRONG_HOST);
        buf[len - 1] ^= 0x01;
        check(ticket_verify(ver, buf, len, T0 + 1000, "elsewhere", other_fp, NULL) == TICKET_BAD_SIGNATURE);
        check(ticket_verify(ver, buf, len, T0, t.desktop, host_fp, NULL) == TICKET_BAD_SIGNATURE);
        buf[len - 1] ^= 0x01;
        check(ticket_verify(ver, buf, len, T0, t.desktop, host_fp, NULL) == TICKET_OK);
}

static bool served_calls;

static bool serves_pool(const char *desktop, void *userdata) {
        served_calls = true;
        return strncmp(desktop, userdata, strlen(userdata)) == 0;
}

/* hostd's form: the desktop comes from the ticket, and is asked about only once it is trusted. */
static void test_served(EVP_PKEY *priv, EVP_PKEY *pub) {
        _cleanup_(ticket_verifier_freep) TicketVerifier *ver = ticket_verifier_new(pub);
        Ticket t = make_ticket(), r = { .issued = 42 };
        uint8_t buf[TICKET_SIZE_MAX];
        size_t len = sign(&t, priv, buf);

        buf[len - 1] ^= 0x01;
        check(ticket_verify_served(ver, buf, len, T0, serves_pool, "win11-", host_fp, &r) == TICKET_BAD_SIGNATURE);
        buf[len - 1] ^= 0x01;
        check(ticket_verify_served(ver, buf, len, T0 + 1000, serves_pool, "win11-", host_fp, &r) == TICKET_EXPIRED);
        check(!served_calls); /* a forged or stale ticket never reaches the lookup */
        check(ticket_verify_served(ver, buf, len, T0, serves_pool, "linux-", host_fp, &r) == TICKET_WRONG_DESKTOP);
        check(served_calls);
        check(ticket_verify_served(ver, buf, len, T0, NULL, NULL, host_fp, &r) == TICKET_WRONG_DESKTOP);
        check(r.issued == 42);
        check(ticket_verify_served(ver, buf, len, T0, serves_pool, "win11-", host_fp, &r) == TICKET_OK);
        check(strcmp(r.desktop, "win11-pool-07") == 0);
        check(ticket_verify_served(ver, buf, len, T0, serves_pool, "win11-", host_fp, &r) == TICKET_REPLAYED);
}

static void test_wrong_key(EVP_PKEY *priv) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        check(other);
        _cleanup_(ticket_verifier_freep) TicketVerifier *ver = ticket_verifier_new(other);
        check(ver);
        Ticket t = make_ticket();
        check(verify_new(ver, priv, &t, T0) == TICKET_BAD_SIGNATURE);
        check(verify_new(ver, other, &t, T0) == TICKET_OK);
}

/* The verifier's replay table: full of live nonces refuses, and expiry makes room. */
static void test_replay_bound(EVP_PKEY *priv, EVP_PKEY *pub) {
        _cleanup_(ticket_verifier_freep) TicketVerifier *ver = ticket_verifier_new_capacity(pub, 3);
        check(ver);
        Ticket a = make_ticket(), b = make_ticket(), c = make_ticket(), d = make_ticket(), e = make_ticket();
        b.expiry = c.expiry = T0 + 120;
        d.issued = e.issued = T0 + 80;
        d.expiry = e.expiry = T0 + 140;
        check(verify_new(ver, priv, &a, T0) == TICKET_OK);
        check(verify_new(ver, priv, &b, T0) == TICKET_OK);
        check(verify_new(ver, priv, &c, T0) == TICKET_OK);
        check(verify_new(ver, priv, &d, T0 + 60) == TICKET_REPLAYED); /* full, all live */
        check(ticket_verifier_remembered(ver) == 3);
        /* a's nonce is kept to expiry + skew, when a itself stops passing the time check. */
        check(verify_new(ver, priv, &d, T0 + 60 + TICKET_CLOCK_SKEW) == TICKET_REPLAYED);
        check(verify_new(ver, priv, &d, T0 + 60 + TICKET_CLOCK_SKEW + 1) == TICKET_OK);
        check(ticket_verifier_remembered(ver) == 3);
        check(verify_new(ver, priv, &e, T0 + 60 + TICKET_CLOCK_SKEW + 1) == TICKET_REPLAYED);
}

static void test_messages(void) {
        static const TicketError all[] = { TICKET_OK, TICKET_MALFORMED, TICKET_BAD_SIGNATURE, TICKET_EXPIRED,
                                           TICKET_REPLAYED, TICKET_WRONG_DESKTOP, TICKET_WRONG_HOST };
        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                const char *m = ticket_error_message(all[i]);
                check(m && strlen(m) > 10 && strlen(m) <= 255); /* fits the reject reason */
                check(strncmp(ticket_error_name(all[i]), i ? "ticket-" : "ok", 2) == 0);
        }
        check(strcmp(ticket_error_name(TICKET_EXPIRED), "ticket-expired") == 0);
        check(strcmp(ticket_error_name(TICKET_WRONG_HOST), "ticket-wrong-host") == 0);
        check(ticket_error_message((TicketError) 1) && ticket_error_message((TicketError) 99));

        TicketRole role = TICKET_ROLE_VIEW_ONLY;
        check(ticket_role_from_string("interactive", &role) == 0 && role == TICKET_ROLE_INTERACTIVE);
        check(ticket_role_from_string("view-only", &role) == 0 && role == TICKET_ROLE_VIEW_ONLY);
        check(ticket_role_from_string("admin", &role) == -EINVAL && role == TICKET_ROLE_VIEW_ONLY);
        check(strcmp(ticket_role_to_string(TICKET_ROLE_INTERACTIVE), "interactive") == 0);
        check(!ticket_role_to_string((TicketRole) 5));
}

static void test_nonce(void) {
        Ticket a = {}, b = {};
        check(ticket_randomize_nonce(&a) == 0 && ticket_randomize_nonce(&b) == 0);
        check(memcmp(a.nonce, b.nonce, sizeof(a.nonce)) != 0);
}

int main(void) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *priv = ticket_test_private();
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = ticket_test_public();
        check(priv && pub);

        test_round_trip(priv, pub);
        test_sign_refusals(priv, pub);
        test_host_split();
        test_truncation(priv, pub);
        test_bit_flips(priv, pub);
        test_time(priv, pub);
        test_checks(priv, pub);
        test_served(priv, pub);
        test_wrong_key(priv);
        test_replay_bound(priv, pub);
        test_messages();
        test_nonce();
        printf("ok\n");
        return 0;
}
