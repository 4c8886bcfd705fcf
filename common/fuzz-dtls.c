/* Fuzzes what an unauthenticated peer can send the DTLS layer: the first byte chooses the target,
 * the rest is the datagram. Even: the stateless cookie check, which answers with at most one
 * HelloVerifyRequest and never asks for an endpoint without a valid cookie (the fuzzer cannot
 * know the secret). Odd: the feed of an established server endpoint (set up once), which drops
 * whatever it cannot authenticate and stays established. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtls.h"
#include "tls.h"

static char dir[] = "/tmp/fuzz-dtls.XXXXXX";
static char cert[4200], key[4200];
static DtlsContext *server_ctx, *client_ctx;
static DtlsEndpoint *client, *server;
static struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = 0x5c11 };

static void cleanup(void) {
        dtls_endpoint_free(client);
        dtls_endpoint_free(server);
        dtls_context_free(server_ctx);
        dtls_context_free(client_ctx);
        unlink(cert);
        unlink(key);
        rmdir(dir);
}

static void pump(void) {
        uint8_t d[DTLS_DATAGRAM_MAX], reply[DTLS_DATAGRAM_MAX];
        size_t reply_len;
        ssize_t n;
        bool moved = true;

        while (moved) {
                moved = false;
                while ((n = dtls_endpoint_pull(client, d, sizeof(d))) > 0) {
                        moved = true;
                        if (!server) {
                                if (dtls_cookie_check(server_ctx, (struct sockaddr *) &peer, sizeof(peer), d, (size_t) n, reply,
                                                      sizeof(reply), &reply_len) == 0) {
                                        if (reply_len > 0 && dtls_endpoint_feed(client, reply, reply_len, 0) < 0)
                                                abort();
                                        continue;
                                }
                                if (dtls_endpoint_new_server(server_ctx, (struct sockaddr *) &peer, sizeof(peer), 0, &server) < 0)
                                        abort();
                        }
                        if (dtls_endpoint_feed(server, d, (size_t) n, 0) < 0)
                                abort();
                }
                while (server && (n = dtls_endpoint_pull(server, d, sizeof(d))) > 0) {
                        moved = true;
                        if (dtls_endpoint_feed(client, d, (size_t) n, 0) < 0)
                                abort();
                }
        }
}

static void setup(void) {
        if (!mkdtemp(dir))
                abort();
        snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
        snprintf(key, sizeof(key), "%s/key.pem", dir);
        if (tls_generate_self_signed(cert, key, "fuzz.example") < 0)
                abort();
        server_ctx = dtls_server_context_new(cert, key, NULL);
        client_ctx = dtls_client_context_new(NULL);
        if (!server_ctx || !client_ctx || inet_pton(AF_INET, "192.0.2.1", &peer.sin_addr) != 1 ||
            dtls_endpoint_new_client(client_ctx, NULL, 0, &client) < 0)
                abort();
        atexit(cleanup);
        pump();
        if (!server || !dtls_endpoint_established(server) || !dtls_endpoint_established(client))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t out[DTLS_DATAGRAM_MAX];
        size_t out_len;

        if (!server)
                setup();
        if (size < 1)
                return 0;
        if (data[0] % 2 == 0) {
                int r = dtls_cookie_check(server_ctx, (struct sockaddr *) &peer, sizeof(peer), data + 1, size - 1, out,
                                          sizeof(out), &out_len);
                if (r != 0 || out_len > DTLS_DATAGRAM_MAX)
                        abort();
                return 0;
        }
        int r = dtls_endpoint_feed(server, data + 1, size - 1, 0);
        if (r != 0 || !dtls_endpoint_established(server)) {
                fprintf(stderr, "fuzz-dtls: feed %d: %s\n", r, dtls_endpoint_error(server));
                abort();
        }
        while (dtls_endpoint_pull(server, out, sizeof(out)) > 0)
                ;
        while (dtls_endpoint_read(server, out, sizeof(out)) > 0)
                ;
        return 0;
}
