/* Writes fuzz-dtls's seeds into a directory: the datagrams of a real handshake and of application
 * records, each behind the selector byte of the target it is meant for (0: cookie check, 1: feed
 * of an established server endpoint). Their keys and cookies are this run's, so against the
 * fuzzer's own endpoints they are well-formed but unauthenticated, which is the point.
 *
 *     dtls-corpus DIR
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtls.h"
#include "tls.h"

static const char *out_dir;
static unsigned seeds;

static void seed(uint8_t selector, const char *name, const uint8_t *d, size_t n) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", out_dir, name);
        FILE *f = fopen(path, "we");
        if (!f || fputc(selector, f) == EOF || fwrite(d, 1, n, f) != n || fclose(f) != 0) {
                fprintf(stderr, "dtls-corpus: cannot write %s\n", path);
                exit(EXIT_FAILURE);
        }
        seeds++;
}

int main(int argc, char **argv) {
        char dir[] = "/tmp/dtls-corpus.XXXXXX", cert[4200], key[4200], name[64];
        struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(4433) };
        uint8_t d[DTLS_DATAGRAM_MAX], reply[DTLS_DATAGRAM_MAX];
        DtlsEndpoint *client, *server = NULL;
        size_t reply_len;
        ssize_t n;
        unsigned c2s = 0, s2c = 0;

        if (argc != 2) {
                fprintf(stderr, "usage: dtls-corpus DIR\n");
                return EXIT_FAILURE;
        }
        out_dir = argv[1];
        if (!mkdtemp(dir))
                return EXIT_FAILURE;
        snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
        snprintf(key, sizeof(key), "%s/key.pem", dir);
        DtlsContext *sctx = NULL, *cctx = dtls_client_context_new(NULL);
        if (tls_generate_self_signed(cert, key, "seed.example") < 0 || !(sctx = dtls_server_context_new(cert, key, NULL)) ||
            !cctx || dtls_endpoint_new_client(cctx, NULL, 0, &client) < 0)
                return EXIT_FAILURE;

        /* The handshake, every datagram a seed for both targets. */
        for (int round = 0; round < 20 && !(server && dtls_endpoint_established(server) && dtls_endpoint_established(client));
             round++) {
                while ((n = dtls_endpoint_pull(client, d, sizeof(d))) > 0) {
                        snprintf(name, sizeof(name), "c2s-%u", c2s);
                        seed(0, name, d, (size_t) n);
                        snprintf(name, sizeof(name), "c2s-%u-established", c2s++);
                        seed(1, name, d, (size_t) n);
                        if (!server) {
                                if (dtls_cookie_check(sctx, (struct sockaddr *) &peer, sizeof(peer), d, (size_t) n, reply,
                                                      sizeof(reply), &reply_len) == 0) {
                                        if (reply_len > 0) {
                                                seed(1, "hello-verify-request", reply, reply_len);
                                                (void) dtls_endpoint_feed(client, reply, reply_len, 0);
                                        }
                                        continue;
                                }
                                if (dtls_endpoint_new_server(sctx, (struct sockaddr *) &peer, sizeof(peer), 0, &server) < 0)
                                        return EXIT_FAILURE;
                        }
                        (void) dtls_endpoint_feed(server, d, (size_t) n, 0);
                }
                while (server && (n = dtls_endpoint_pull(server, d, sizeof(d))) > 0) {
                        snprintf(name, sizeof(name), "s2c-%u", s2c++);
                        seed(1, name, d, (size_t) n);
                        (void) dtls_endpoint_feed(client, d, (size_t) n, 0);
                }
        }
        if (!server || !dtls_endpoint_established(client))
                return EXIT_FAILURE;

        /* Application records: small, largest, and two in one datagram; then close_notify. */
        static const uint8_t small[] = "rudp";
        uint8_t big[DTLS_DATAGRAM_MAX];
        memset(big, 0x5a, sizeof(big));
        if (dtls_endpoint_write(client, small, sizeof(small)) < 0 ||
            (n = dtls_endpoint_pull(client, d, sizeof(d))) <= 0)
                return EXIT_FAILURE;
        seed(1, "app-small", d, (size_t) n);
        size_t two = (size_t) n;
        if (dtls_endpoint_write(client, small, 3) < 0 || (n = dtls_endpoint_pull(client, d + two, sizeof(d) - two)) <= 0)
                return EXIT_FAILURE;
        seed(1, "app-two-records", d, two + (size_t) n);
        if (dtls_endpoint_write(client, big, dtls_endpoint_max_plaintext(client)) < 0 ||
            (n = dtls_endpoint_pull(client, d, sizeof(d))) <= 0)
                return EXIT_FAILURE;
        seed(1, "app-largest", d, (size_t) n);
        dtls_endpoint_close(client);
        if ((n = dtls_endpoint_pull(client, d, sizeof(d))) <= 0)
                return EXIT_FAILURE;
        seed(1, "close-notify", d, (size_t) n);
        seed(0, "empty", d, 0);

        dtls_endpoint_free(client);
        dtls_endpoint_free(server);
        dtls_context_free(sctx);
        dtls_context_free(cctx);
        unlink(cert), unlink(key), rmdir(dir);
        printf("dtls-corpus: %u seeds in %s\n", seeds, out_dir);
        return EXIT_SUCCESS;
}
