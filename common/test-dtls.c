/* DTLS endpoints joined by an in-memory network and a fake clock: the cookie round trip and the
 * handshake, exact plaintext both ways, the handshake under the loss of each single datagram
 * (completed by retransmissions the fake clock drives), pinning, garbage, truncated, replayed and
 * bit-flipped datagrams dropped and counted, cookies bound to address, port and time, a flood of
 * ClientHellos that leaves no state behind, the datagram budget, and close_notify. */
#include "check.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "dtls.h"
#include "tls.h"

/* --- OpenSSL's live heap, to show what a flood leaves behind ---------------------------------- */

static long long ossl_live;

static void *count_malloc(size_t n, const char *file, int line) {
        (void) file, (void) line;
        size_t *p = malloc(n + 16);
        if (!p)
                return NULL;
        p[0] = n;
        ossl_live += (long long) n;
        return (char *) p + 16;
}

static void *count_realloc(void *q, size_t n, const char *file, int line) {
        if (!q)
                return count_malloc(n, file, line);
        size_t *p = (size_t *) ((char *) q - 16), old = p[0];
        size_t *np = realloc(p, n + 16);
        if (!np)
                return NULL;
        np[0] = n;
        ossl_live += (long long) n - (long long) old;
        return (char *) np + 16;
}

static void count_free(void *q, const char *file, int line) {
        (void) file, (void) line;
        if (!q)
                return;
        size_t *p = (size_t *) ((char *) q - 16);
        ossl_live -= (long long) p[0];
        free(p);
}

/* --- fixtures --------------------------------------------------------------------------------- */

static char dir[] = "/tmp/test-dtls.XXXXXX";
static char cert[4096], key[4096], other_cert[4096], other_key[4096];
static uint8_t fp[TLS_FINGERPRINT_SIZE], other_fp[TLS_FINGERPRINT_SIZE];
static DtlsContext *server_ctx, *client_ctx;

static struct sockaddr_in addr4(const char *ip, uint16_t port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
        check(inet_pton(AF_INET, ip, &a.sin_addr) == 1);
        return a;
}

/* A client and a server endpoint on a lossless or lossy in-memory network; the server side starts
 * with the cookie check, as the socket glue does. */
typedef struct Net {
        DtlsContext *sctx;
        DtlsEndpoint *client, *server;
        struct sockaddr_in client_addr;
        uint64_t now;
        unsigned sent; /* datagrams put on the network, both ways */
        unsigned hello_verify_requests;
        int client_error, server_error;
        /* Loss: the datagram with this number (in order of sending, from 0) is dropped. */
        unsigned drop_index;
        bool drop;
        size_t largest;
} Net;

static void net_init(Net *net, const uint8_t *pin) {
        *net = (Net) { .sctx = server_ctx, .client_addr = addr4("192.0.2.7", 40000), .now = 5000000 };
        check(dtls_endpoint_new_client(client_ctx, pin, net->now, &net->client) == 0);
}

static void net_done(Net *net) {
        net->client = dtls_endpoint_free(net->client);
        net->server = dtls_endpoint_free(net->server);
}

static bool net_lost(Net *net, size_t n) {
        unsigned i = net->sent++;
        net->largest = n > net->largest ? n : net->largest;
        check(n <= DTLS_DATAGRAM_MAX);
        return net->drop && i == net->drop_index;
}

static void to_client(Net *net, const uint8_t *d, size_t n) {
        if (net_lost(net, n) || net->client_error < 0)
                return;
        int r = dtls_endpoint_feed(net->client, d, n, net->now);
        if (r < 0)
                net->client_error = r;
}

static void to_server(Net *net, const uint8_t *d, size_t n) {
        uint8_t reply[DTLS_DATAGRAM_MAX];
        size_t reply_len;

        if (net_lost(net, n) || net->server_error < 0)
                return;
        if (!net->server) {
                int r = dtls_cookie_check(net->sctx, (struct sockaddr *) &net->client_addr, sizeof(net->client_addr), d, n,
                                          reply, sizeof(reply), &reply_len);
                if (r == 0) {
                        if (reply_len > 0) {
                                net->hello_verify_requests++;
                                to_client(net, reply, reply_len);
                        }
                        return;
                }
                check(r == 1);
                check(dtls_endpoint_new_server(net->sctx, (struct sockaddr *) &net->client_addr, sizeof(net->client_addr),
                                               net->now, &net->server) == 0);
        }
        int r = dtls_endpoint_feed(net->server, d, n, net->now);
        if (r < 0)
                net->server_error = r;
}

/* Moves datagrams until none is left; returns how many moved. */
static unsigned net_flush(Net *net) {
        uint8_t d[DTLS_DATAGRAM_MAX];
        unsigned moved = 0;
        ssize_t n;
        bool again = true;

        while (again) {
                again = false;
                while ((n = dtls_endpoint_pull(net->client, d, sizeof(d))) > 0) {
                        to_server(net, d, (size_t) n);
                        moved++, again = true;
                }
                while (net->server && (n = dtls_endpoint_pull(net->server, d, sizeof(d))) > 0) {
                        to_client(net, d, (size_t) n);
                        moved++, again = true;
                }
        }
        return moved;
}

/* Runs the handshake, jumping the fake clock to the next timer whenever the network is quiet. */
static bool net_handshake(Net *net) {
        for (int i = 0; i < 200; i++) {
                net_flush(net);
                if (net->client_error < 0 || net->server_error < 0)
                        return false;
                if (dtls_endpoint_established(net->client) && net->server && dtls_endpoint_established(net->server))
                        return true;
                uint64_t t = dtls_endpoint_next_timeout(net->client);
                if (net->server && dtls_endpoint_next_timeout(net->server) < t)
                        t = dtls_endpoint_next_timeout(net->server);
                if (t == UINT64_MAX)
                        return false; /* stuck: nobody would ever send again */
                check(t > net->now);
                net->now = t;
                dtls_endpoint_on_timeout(net->client, net->now);
                if (net->server)
                        dtls_endpoint_on_timeout(net->server, net->now);
        }
        return false;
}

static void connect_pair(Net *net) {
        net_init(net, fp);
        check(net_handshake(net));
}

/* One datagram from a to b's feed; returns the ciphertext in d for replays. */
static size_t send_one(DtlsEndpoint *a, DtlsEndpoint *b, const void *msg, size_t n, uint8_t d[DTLS_DATAGRAM_MAX],
                       uint64_t now) {
        check(dtls_endpoint_write(a, msg, n) == 0);
        ssize_t len = dtls_endpoint_pull(a, d, DTLS_DATAGRAM_MAX);
        check(len > 0);
        check(dtls_endpoint_pull(a, d + len, 0) == 0); /* exactly one datagram per record */
        check(dtls_endpoint_feed(b, d, (size_t) len, now) == 0);
        return (size_t) len;
}

static void expect_read(DtlsEndpoint *e, const void *msg, size_t n) {
        uint8_t buf[DTLS_DATAGRAM_MAX];
        check(dtls_endpoint_read(e, buf, sizeof(buf)) == (ssize_t) n);
        check(memcmp(buf, msg, n) == 0);
        check(dtls_endpoint_read(e, buf, sizeof(buf)) == 0);
}

/* --- tests ------------------------------------------------------------------------------------ */

static void test_handshake_and_data(void) {
        Net net;
        DtlsStats st;
        uint8_t d[DTLS_DATAGRAM_MAX];

        net_init(&net, fp);
        check(!dtls_endpoint_established(net.client));
        check(dtls_endpoint_write(net.client, (const uint8_t *) "x", 1) == -ENOTCONN);
        check(dtls_endpoint_max_plaintext(net.client) == 0);
        check(net_handshake(&net));
        check(net.hello_verify_requests == 1);
        check(net.largest <= DTLS_DATAGRAM_MAX);
        /* No loss, no retransmission: the clock never moved. */
        check(net.now == 5000000);
        dtls_endpoint_stats(net.client, &st);
        check(st.handshake_retransmits == 0 && st.dropped == 0);
        check(dtls_endpoint_next_timeout(net.client) == UINT64_MAX);
        check(dtls_endpoint_next_timeout(net.server) == UINT64_MAX);
        check(strstr(dtls_endpoint_cipher(net.client), "GCM") || strstr(dtls_endpoint_cipher(net.client), "CHACHA"));
        check(strcmp(dtls_endpoint_cipher(net.client), dtls_endpoint_cipher(net.server)) == 0);
        socklen_t len;
        const struct sockaddr *peer = dtls_endpoint_peer(net.server, &len);
        check(peer && len == sizeof(struct sockaddr_in) && memcmp(peer, &net.client_addr, sizeof(net.client_addr)) == 0);

        /* Exact bytes both ways, every size from 1 to the largest. */
        size_t max = dtls_endpoint_max_plaintext(net.client);
        check(max > 1000 && max == dtls_endpoint_max_plaintext(net.server));
        uint8_t msg[DTLS_DATAGRAM_MAX];
        for (size_t i = 0; i < sizeof(msg); i++)
                msg[i] = (uint8_t) (i * 7 + 3);
        for (size_t n = 1; n <= max; n += (n < 64 ? 1 : 97)) {
                send_one(net.client, net.server, msg, n, d, net.now);
                expect_read(net.server, msg, n);
                send_one(net.server, net.client, msg + 1, n, d, net.now);
                expect_read(net.client, msg + 1, n);
        }
        /* Several queued records read back in order. */
        for (int i = 0; i < 5; i++)
                check(dtls_endpoint_write(net.client, msg + i, 10) == 0);
        net_flush(&net);
        for (int i = 0; i < 5; i++) {
                uint8_t buf[DTLS_DATAGRAM_MAX];
                check(dtls_endpoint_read(net.server, buf, sizeof(buf)) == 10 && memcmp(buf, msg + i, 10) == 0);
        }
        /* Three records packed into one datagram (we never send that, a peer may): all three
         * come out of the one feed, in order. */
        uint8_t packed[3 * DTLS_DATAGRAM_MAX];
        size_t plen = 0;
        for (int i = 0; i < 3; i++) {
                check(dtls_endpoint_write(net.client, msg + i, 20 + (size_t) i) == 0);
                ssize_t k = dtls_endpoint_pull(net.client, packed + plen, sizeof(packed) - plen);
                check(k > 0);
                plen += (size_t) k;
        }
        check(dtls_endpoint_feed(net.server, packed, plen, net.now) == 0);
        for (int i = 0; i < 3; i++) {
                uint8_t buf[DTLS_DATAGRAM_MAX];
                check(dtls_endpoint_read(net.server, buf, sizeof(buf)) == 20 + i && memcmp(buf, msg + i, 20 + (size_t) i) == 0);
        }
        check(dtls_endpoint_read(net.server, d, sizeof(d)) == 0);
        dtls_endpoint_stats(net.server, &st);
        check(st.records_in > 0 && st.records_out > 0 && st.dropped == 0 && st.queue_drops == 0);
        net_done(&net);
}

static void test_budget(void) {
        Net net;
        uint8_t d[DTLS_DATAGRAM_MAX], msg[DTLS_DATAGRAM_MAX] = { 1, 2, 3 };

        connect_pair(&net);
        size_t max = dtls_endpoint_max_plaintext(net.client);
        /* A largest record fills the budget exactly: the overhead is what we think it is. */
        check(send_one(net.client, net.server, msg, max, d, net.now) == DTLS_DATAGRAM_MAX);
        expect_read(net.server, msg, max);
        check(dtls_endpoint_write(net.client, msg, max + 1) == -EMSGSIZE);
        printf("record overhead %zu bytes (%s), max plaintext %zu\n", DTLS_DATAGRAM_MAX - max,
               dtls_endpoint_cipher(net.client), max);

        dtls_endpoint_set_budget(net.client, 1000);
        size_t max1000 = dtls_endpoint_max_plaintext(net.client);
        check(max1000 == max - 200);
        check(send_one(net.client, net.server, msg, max1000, d, net.now) == 1000);
        expect_read(net.server, msg, max1000);
        check(dtls_endpoint_write(net.client, msg, max1000 + 1) == -EMSGSIZE);
        dtls_endpoint_set_budget(net.client, 100);
        check(dtls_endpoint_max_plaintext(net.client) == max - (DTLS_DATAGRAM_MAX - DTLS_DATAGRAM_MIN));
        dtls_endpoint_set_budget(net.client, 9000);
        check(dtls_endpoint_max_plaintext(net.client) == max);
        net_done(&net);
}

static void test_handshake_loss(void) {
        Net clean;

        connect_pair(&clean);
        unsigned total = clean.sent;
        net_done(&clean);
        check(total >= 6);

        /* Lose each datagram of the handshake in turn: it still completes, by retransmission on
         * the fake clock. */
        for (unsigned k = 0; k < total; k++) {
                Net net;
                DtlsStats c, s = {};

                net_init(&net, fp);
                net.drop = true;
                net.drop_index = k;
                check(net_handshake(&net));
                check(net.now > 5000000); /* some timer had to fire */
                dtls_endpoint_stats(net.client, &c);
                if (net.server)
                        dtls_endpoint_stats(net.server, &s);
                check(c.handshake_retransmits + s.handshake_retransmits >= 1);

                /* And the association works. */
                uint8_t d[DTLS_DATAGRAM_MAX];
                send_one(net.client, net.server, "after loss", 10, d, net.now);
                expect_read(net.server, "after loss", 10);
                send_one(net.server, net.client, "both ways", 9, d, net.now);
                expect_read(net.client, "both ways", 9);
                net_done(&net);
        }
}

static void test_pin_mismatch(void) {
        Net net;

        net_init(&net, other_fp);
        check(!net_handshake(&net));
        check(net.client_error == -EPERM);
        check(strstr(dtls_endpoint_error(net.client), "does not match"));
        /* Sticky. */
        check(dtls_endpoint_feed(net.client, (const uint8_t *) "x", 1, net.now) == -EPERM);
        check(dtls_endpoint_write(net.client, (const uint8_t *) "x", 1) == -EPERM);
        net_done(&net);

        /* No pin at all (tests only): any certificate. */
        net_init(&net, NULL);
        check(net_handshake(&net));
        net_done(&net);
        static const uint8_t zero[DTLS_PIN_SIZE];
        net_init(&net, zero);
        check(net_handshake(&net));
        net_done(&net);
}

static void test_bad_datagrams(void) {
        Net net;
        DtlsStats st;
        uint8_t d[DTLS_DATAGRAM_MAX], bad[DTLS_DATAGRAM_MAX];
        uint64_t dropped = 0;

        connect_pair(&net);
        size_t n = send_one(net.client, net.server, "original", 8, d, net.now);
        expect_read(net.server, "original", 8);

#define EXPECT_DROPPED(buf, len)                                                \
        do {                                                                    \
                check(dtls_endpoint_feed(net.server, buf, len, net.now) == 0);  \
                dtls_endpoint_stats(net.server, &st);                           \
                check(st.dropped == ++dropped);                                 \
                check(dtls_endpoint_read(net.server, bad, sizeof(bad)) == 0);   \
        } while (0)

        /* Replayed. */
        EXPECT_DROPPED(d, n);
        /* Every byte flipped in turn (header, nonce, ciphertext, tag). */
        for (size_t i = 0; i < n; i++) {
                memcpy(bad, d, n);
                bad[i] ^= 0x40;
                EXPECT_DROPPED(bad, n);
        }
        /* Truncated at every length. */
        for (size_t i = 0; i < n; i++) {
                memcpy(bad, d, i);
                EXPECT_DROPPED(bad, i);
        }
        /* Protected records too short for the AEAD's nonce and tag (OpenSSL 3.0 would call that
         * an internal error and end the association), as change_cipher_spec, alert, handshake
         * and application data. */
        for (uint8_t type = 20; type <= 23; type++)
                for (size_t l = 0; l < DTLS_DATAGRAM_MAX - dtls_endpoint_max_plaintext(net.server) - 13; l++) {
                        memcpy(bad, d, 13);
                        bad[0] = type;
                        bad[11] = 0, bad[12] = (uint8_t) l;
                        memset(bad + 13, 1, l);
                        EXPECT_DROPPED(bad, 13 + l);
                }
        /* A DTLS 1.0 record whose body holds a short protected record (OpenSSL 3.0 skips the
         * outer header only, then parses the body as records). */
        memset(bad, 0, 13 + 64);
        memcpy(bad, (const uint8_t[]) { 22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0, 64 }, 13);
        memcpy(bad + 13 + 20, (const uint8_t[]) { 23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 3, 1, 2, 3 }, 16);
        EXPECT_DROPPED(bad, 13 + 64);
        /* Garbage, and a well-formed plaintext alert in epoch 0 (spoofed close). */
        memset(bad, 0xa5, sizeof(bad));
        EXPECT_DROPPED(bad, sizeof(bad));
        static const uint8_t alert[] = { 21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2, 2, 40 };
        EXPECT_DROPPED(alert, sizeof(alert));
        static const uint8_t close_notify[] = { 21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 10, 0, 2, 1, 0 };
        EXPECT_DROPPED(close_notify, sizeof(close_notify));

        /* The association lives on, both ways. */
        check(dtls_endpoint_established(net.server));
        send_one(net.client, net.server, "still here", 10, d, net.now);
        expect_read(net.server, "still here", 10);
        send_one(net.server, net.client, "and back", 8, d, net.now);
        expect_read(net.client, "and back", 8);
        dtls_endpoint_stats(net.server, &st);
        check(st.dropped == dropped && st.records_in == 2);
        net_done(&net);
#undef EXPECT_DROPPED
}

/* A ClientHello carrying a cookie for client_addr, as the client sends it after the exchange. */
static size_t hello_with_cookie(DtlsContext *sctx, const struct sockaddr_in *client_addr, uint8_t out[DTLS_DATAGRAM_MAX],
                                DtlsEndpoint **client) {
        uint8_t hello[DTLS_DATAGRAM_MAX], reply[DTLS_DATAGRAM_MAX];
        size_t reply_len;
        ssize_t n;

        check(dtls_endpoint_new_client(client_ctx, fp, 0, client) == 0);
        n = dtls_endpoint_pull(*client, hello, sizeof(hello));
        check(n > 0);
        check(dtls_cookie_check(sctx, (const struct sockaddr *) client_addr, sizeof(*client_addr), hello, (size_t) n, reply,
                                sizeof(reply), &reply_len) == 0);
        check(reply_len > 0);
        check(dtls_endpoint_feed(*client, reply, reply_len, 0) == 0);
        n = dtls_endpoint_pull(*client, out, DTLS_DATAGRAM_MAX);
        check(n > 0);
        return (size_t) n;
}

static int check_cookie(DtlsContext *sctx, struct sockaddr_in a, const uint8_t *d, size_t n) {
        uint8_t reply[DTLS_DATAGRAM_MAX];
        size_t reply_len;
        return dtls_cookie_check(sctx, (struct sockaddr *) &a, sizeof(a), d, n, reply, sizeof(reply), &reply_len);
}

static uint64_t fake_clock_now;
static uint64_t fake_clock(void *userdata) {
        (void) userdata;
        return fake_clock_now;
}

static void test_cookie_binding(void) {
        DtlsEndpoint *client;
        uint8_t d[DTLS_DATAGRAM_MAX];
        struct sockaddr_in a = addr4("192.0.2.7", 40000);
        size_t n = hello_with_cookie(server_ctx, &a, d, &client);

        check(check_cookie(server_ctx, a, d, n) == 1);
        check(check_cookie(server_ctx, addr4("192.0.2.7", 40001), d, n) == 0);
        check(check_cookie(server_ctx, addr4("192.0.2.8", 40000), d, n) == 0);
        struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(40000) };
        check(inet_pton(AF_INET6, "2001:db8::7", &a6.sin6_addr) == 1);
        uint8_t reply[DTLS_DATAGRAM_MAX];
        size_t reply_len;
        check(dtls_cookie_check(server_ctx, (struct sockaddr *) &a6, sizeof(a6), d, n, reply, sizeof(reply), &reply_len) == 0);
        /* A bad address length or family is refused. */
        check(dtls_cookie_check(server_ctx, (struct sockaddr *) &a, 4, d, n, reply, sizeof(reply), &reply_len) == 0 &&
              reply_len == 0);
        /* An endpoint made for another port refuses the hello on its own check. */
        DtlsEndpoint *server;
        struct sockaddr_in other = addr4("192.0.2.7", 40001);
        check(dtls_endpoint_new_server(server_ctx, (struct sockaddr *) &other, sizeof(other), 0, &server) == 0);
        check(dtls_endpoint_feed(server, d, n, 0) == 0);
        check(!dtls_endpoint_established(server));
        DtlsStats st;
        dtls_endpoint_stats(server, &st);
        uint8_t out[DTLS_DATAGRAM_MAX];
        check(st.dropped == 1 || dtls_endpoint_pull(server, out, sizeof(out)) > 0); /* dropped, or asked again */
        dtls_endpoint_free(server);
        /* A server context is needed. */
        check(dtls_endpoint_new_server(client_ctx, (struct sockaddr *) &a, sizeof(a), 0, &server) == -EINVAL);
        check(check_cookie(client_ctx, a, d, n) == 0);
        dtls_endpoint_free(client);

        /* Time: valid in its slot and the next, not after. */
        char *error = NULL;
        DtlsContext *sctx = dtls_server_context_new(cert, key, &error);
        check(sctx);
        dtls_context_set_clock(sctx, fake_clock, NULL);
        fake_clock_now = 1000ULL * 1000 * 1000;
        n = hello_with_cookie(sctx, &a, d, &client);
        check(check_cookie(sctx, a, d, n) == 1);
        fake_clock_now += 130ULL * 1000 * 1000;
        check(check_cookie(sctx, a, d, n) == 1);
        fake_clock_now += 240ULL * 1000 * 1000;
        check(check_cookie(sctx, a, d, n) == 0);
        dtls_endpoint_free(client);
        /* Another context's secret. */
        fake_clock_now = 0;
        n = hello_with_cookie(sctx, &a, d, &client);
        check(check_cookie(server_ctx, a, d, n) == 0);
        check(check_cookie(sctx, a, d, n) == 1);
        dtls_endpoint_free(client);
        dtls_context_free(sctx);
}

static void test_hello_flood(void) {
        DtlsEndpoint *client;
        uint8_t hello[DTLS_DATAGRAM_MAX], reply[DTLS_DATAGRAM_MAX];
        size_t reply_len;

        check(dtls_endpoint_new_client(client_ctx, fp, 0, &client) == 0);
        ssize_t n = dtls_endpoint_pull(client, hello, sizeof(hello));
        check(n > 0);
        dtls_endpoint_free(client);

        /* Warm up, then a thousand source ports: each gets a HelloVerifyRequest, none an endpoint,
         * and OpenSSL's heap does not grow with them. */
        for (uint16_t port = 1; port <= 10; port++) {
                struct sockaddr_in a = addr4("198.51.100.1", port);
                check(dtls_cookie_check(server_ctx, (struct sockaddr *) &a, sizeof(a), hello, (size_t) n, reply, sizeof(reply),
                                        &reply_len) == 0);
                check(reply_len > 0 && reply_len < 200);
        }
        long long before = ossl_live;
        for (uint16_t port = 1000; port < 2000; port++) {
                struct sockaddr_in a = addr4("198.51.100.1", port);
                check(dtls_cookie_check(server_ctx, (struct sockaddr *) &a, sizeof(a), hello, (size_t) n, reply, sizeof(reply),
                                        &reply_len) == 0);
                check(reply_len > 0 && reply[0] == 22); /* a handshake record: HelloVerifyRequest */
                check(reply[13] == 3);                   /* hello_verify_request */
        }
        printf("OpenSSL heap before the flood %lld bytes, after %lld\n", before, ossl_live);
        check(ossl_live <= before + 1024);

        /* A reply buffer too small: nothing is written. */
        struct sockaddr_in a = addr4("198.51.100.1", 7);
        check(dtls_cookie_check(server_ctx, (struct sockaddr *) &a, sizeof(a), hello, (size_t) n, reply, 10, &reply_len) == 0 &&
              reply_len == 0);
        /* Not a ClientHello. */
        check(dtls_cookie_check(server_ctx, (struct sockaddr *) &a, sizeof(a), (const uint8_t *) "garbage", 7, reply,
                                sizeof(reply), &reply_len) == 0 &&
              reply_len == 0);
}

static void test_close_notify(void) {
        Net net;
        uint8_t d[DTLS_DATAGRAM_MAX];

        connect_pair(&net);
        dtls_endpoint_close(net.client);
        check(dtls_endpoint_write(net.client, (const uint8_t *) "x", 1) == -ESHUTDOWN);
        ssize_t n = dtls_endpoint_pull(net.client, d, sizeof(d));
        check(n > 0);
        check(dtls_endpoint_feed(net.server, d, (size_t) n, net.now) == -ECONNRESET);
        check(dtls_endpoint_feed(net.server, d, (size_t) n, net.now) == -ECONNRESET);
        check(dtls_endpoint_write(net.server, (const uint8_t *) "x", 1) == -ECONNRESET);
        check(!dtls_endpoint_established(net.server));
        check(dtls_endpoint_error(net.server));
        net_done(&net);
}

static void test_context_errors(void) {
        char *error = NULL;
        char missing[4200];

        snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
        check(!dtls_server_context_new(missing, key, &error));
        check(error && strstr(error, "missing.pem"));
        free(error);
        error = NULL;
        check(!dtls_server_context_new(cert, other_key, &error));
        check(error && strstr(error, "other-key.pem"));
        free(error);
}

int main(void) {
        char *error = NULL;

        /* Before OpenSSL allocates anything. */
        check(CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free) == 1);

        check(mkdtemp(dir));
        snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
        snprintf(key, sizeof(key), "%s/key.pem", dir);
        snprintf(other_cert, sizeof(other_cert), "%s/other-cert.pem", dir);
        snprintf(other_key, sizeof(other_key), "%s/other-key.pem", dir);
        check(tls_generate_self_signed(cert, key, "host.example") == 0);
        check(tls_generate_self_signed(other_cert, other_key, "other.example") == 0);
        check(tls_cert_fingerprint_file(cert, fp) == 0);
        check(tls_cert_fingerprint_file(other_cert, other_fp) == 0);

        server_ctx = dtls_server_context_new(cert, key, &error);
        check(server_ctx);
        client_ctx = dtls_client_context_new(&error);
        check(client_ctx);

        test_handshake_and_data();
        test_budget();
        test_handshake_loss();
        test_pin_mismatch();
        test_bad_datagrams();
        test_cookie_binding();
        test_hello_flood();
        test_close_notify();
        test_context_errors();

        server_ctx = dtls_context_free(server_ctx);
        client_ctx = dtls_context_free(client_ctx);
        unlink(cert), unlink(key), unlink(other_cert), unlink(other_key);
        rmdir(dir);
        printf("all DTLS tests passed\n");
        return 0;
}
