/* DTLS figures, in one process without sockets (the cost of the layer itself): full handshakes
 * per second including the cookie exchange, cookie checks per second under a ClientHello flood
 * from many source ports, encrypt+decrypt throughput and cost per datagram at the largest
 * plaintext, and the record overhead.
 *
 *     bench-dtls [handshakes, default 300] [datagrams, default 200000] [ClientHellos, default 200000]
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dtls.h"
#include "tls.h"

static char dir[] = "/tmp/bench-dtls.XXXXXX";
static char cert[4200], key[4200];
static uint8_t fp[TLS_FINGERPRINT_SIZE];
static DtlsContext *server_ctx, *client_ctx;

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void die(const char *what) {
        fprintf(stderr, "bench-dtls: %s\n", what);
        exit(EXIT_FAILURE);
}

static struct sockaddr_in peer(uint16_t port) {
        return (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0xc0000207) };
}

/* A client and a server endpoint through the cookie exchange to established. */
static void handshake(uint16_t port, DtlsEndpoint **client, DtlsEndpoint **server) {
        struct sockaddr_in a = peer(port);
        uint8_t d[DTLS_DATAGRAM_MAX], reply[DTLS_DATAGRAM_MAX];
        size_t reply_len;
        ssize_t n;

        *server = NULL;
        if (dtls_endpoint_new_client(client_ctx, fp, 0, client) < 0)
                die("client");
        for (int round = 0; round < 20; round++) {
                while ((n = dtls_endpoint_pull(*client, d, sizeof(d))) > 0) {
                        if (!*server) {
                                if (dtls_cookie_check(server_ctx, (struct sockaddr *) &a, sizeof(a), d, (size_t) n, reply,
                                                      sizeof(reply), &reply_len) == 0) {
                                        if (reply_len > 0 && dtls_endpoint_feed(*client, reply, reply_len, 0) < 0)
                                                die("client refused the cookie");
                                        continue;
                                }
                                if (dtls_endpoint_new_server(server_ctx, (struct sockaddr *) &a, sizeof(a), 0, server) < 0)
                                        die("server");
                        }
                        if (dtls_endpoint_feed(*server, d, (size_t) n, 0) < 0)
                                die("server handshake");
                }
                while (*server && (n = dtls_endpoint_pull(*server, d, sizeof(d))) > 0)
                        if (dtls_endpoint_feed(*client, d, (size_t) n, 0) < 0)
                                die("client handshake");
                if (*server && dtls_endpoint_established(*server) && dtls_endpoint_established(*client))
                        return;
        }
        die("handshake did not finish");
}

int main(int argc, char **argv) {
        int handshakes = argc > 1 ? atoi(argv[1]) : 300;
        long datagrams = argc > 2 ? atol(argv[2]) : 200000;
        DtlsEndpoint *client, *server;
        double t;

        if (handshakes < 1 || datagrams < 1)
                die("usage: bench-dtls [handshakes] [datagrams]");
        if (!mkdtemp(dir))
                die("mkdtemp");
        snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
        snprintf(key, sizeof(key), "%s/key.pem", dir);
        if (tls_generate_self_signed(cert, key, "bench.example") < 0 || tls_cert_fingerprint_file(cert, fp) < 0)
                die("certificate");
        server_ctx = dtls_server_context_new(cert, key, NULL);
        client_ctx = dtls_client_context_new(NULL);
        if (!server_ctx || !client_ctx)
                die("contexts");

        /* Handshakes: both sides' CPU (ECDHE X25519, ECDSA P-256 sign and verify), one core. */
        t = now();
        for (int i = 0; i < handshakes; i++) {
                handshake((uint16_t) (10000 + i), &client, &server);
                dtls_endpoint_free(client);
                dtls_endpoint_free(server);
        }
        t = now() - t;
        printf("handshakes (cookie exchange, client and server CPU): %.0f/s, %.2f ms each\n", handshakes / t,
               t * 1e3 / handshakes);

        /* A flood of cookieless ClientHellos from 50000 source ports. */
        uint8_t hello[DTLS_DATAGRAM_MAX], reply[DTLS_DATAGRAM_MAX];
        size_t reply_len;
        if (dtls_endpoint_new_client(client_ctx, fp, 0, &client) < 0)
                die("client");
        ssize_t hello_len = dtls_endpoint_pull(client, hello, sizeof(hello));
        dtls_endpoint_free(client);
        long floods = argc > 3 ? atol(argv[3]) : 200000;
        t = now();
        for (long i = 0; i < floods; i++) {
                struct sockaddr_in a = peer((uint16_t) (1024 + i % 50000));
                if (dtls_cookie_check(server_ctx, (struct sockaddr *) &a, sizeof(a), hello, (size_t) hello_len, reply,
                                      sizeof(reply), &reply_len) != 0 ||
                    reply_len == 0)
                        die("flood: no HelloVerifyRequest");
        }
        t = now() - t;
        printf("cookie checks under a ClientHello flood: %.0f/s (%.2f us each, %zu-byte hello, %zu-byte reply)\n",
               floods / t, t * 1e6 / floods, (size_t) hello_len, reply_len);

        /* Records at the largest plaintext: client encrypts, server decrypts. */
        handshake(9999, &client, &server);
        size_t max = dtls_endpoint_max_plaintext(client);
        uint8_t msg[DTLS_DATAGRAM_MAX], d[DTLS_DATAGRAM_MAX], out[DTLS_DATAGRAM_MAX];
        memset(msg, 0x42, sizeof(msg));
        t = now();
        for (long i = 0; i < datagrams; i++) {
                msg[0] = (uint8_t) i;
                ssize_t n;
                if (dtls_endpoint_write(client, msg, max) < 0 || (n = dtls_endpoint_pull(client, d, sizeof(d))) <= 0 ||
                    dtls_endpoint_feed(server, d, (size_t) n, 0) < 0 || dtls_endpoint_read(server, out, sizeof(out)) != (ssize_t) max)
                        die("records");
        }
        t = now() - t;
        printf("records (%s): %zu-byte plaintext in a %d-byte datagram, overhead %zu bytes\n", dtls_endpoint_cipher(client), max,
               DTLS_DATAGRAM_MAX, DTLS_DATAGRAM_MAX - max);
        printf("encrypt+decrypt: %.0f MB/s of plaintext, %.2f us per datagram (%.0f datagrams/s)\n",
               (double) max * datagrams / t / 1e6, t * 1e6 / datagrams, datagrams / t);
        dtls_endpoint_free(client);
        dtls_endpoint_free(server);

        dtls_context_free(server_ctx);
        dtls_context_free(client_ctx);
        unlink(cert), unlink(key), rmdir(dir);
        return 0;
}
