/* TLS figures on loopback TCP: handshake time (connect, TLS 1.3 with a pinned self-signed P-256
 * certificate, and the hello delivered to the server) and bulk throughput of tile frames through
 * WireConn, TLS against plain TCP. The sender and the receiver are two processes, as in real use.
 *
 *     bench-tls [MiB to send, default 512] [handshakes, default 200]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "tls.h"
#include "wire-conn.h"

#define TILE (64u << 10)

static char dir[] = "/tmp/bench-tls.XXXXXX";
static char cert[4200], key[4200];
static uint8_t fp[TLS_FINGERPRINT_SIZE];
static TlsContext *server_ctx, *client_ctx;

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void die(const char *what, int r) {
        fprintf(stderr, "bench-tls: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(EXIT_FAILURE);
}

static int listen_loopback(uint16_t *port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
            getsockname(fd, (struct sockaddr *) &a, &len) < 0)
                die("listen", errno);
        *port = ntohs(a.sin_port);
        return fd;
}

static int connect_loopback(uint16_t port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;

        if (fd < 0 || (connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0 && errno != EINPROGRESS))
                die("connect", errno);
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

static int accept_one(int lfd) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), one = 1;
        if (fd < 0)
                die("accept", errno);
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

static WireConn *conn_new(int fd, bool tls, bool server) {
        ByteTransport *t;
        WireConn *c;
        int r;

        if (tls)
                r = tls_transport_new(server ? server_ctx : client_ctx, fd, server, server ? NULL : fp, NULL, &t);
        else
                r = fd_transport_new(fd, &t);
        if (r < 0)
                die("transport", r);
        r = wire_conn_new(t, 4u << 20, &c);
        if (r < 0)
                die("wire_conn_new", r);
        return c;
}

/* Receives until a message of type arrives; the rest is counted. */
static uint64_t payload_bytes;

static void wait_for(WireConn *c, uint16_t type) {
        WireMessage m;
        int r;

        for (;;) {
                while ((r = wire_conn_receive(c, &m)) > 0) {
                        if (m.type == WIRE_TYPE_TILE)
                                payload_bytes += m.tile.data_len;
                        if (m.type == type)
                                return;
                }
                if (r < 0) {
                        fprintf(stderr, "bench-tls: %s\n", wire_conn_error(c));
                        exit(EXIT_FAILURE);
                }
                r = wire_conn_flush(c);
                if (r < 0 && r != -EAGAIN)
                        die("flush", r);
                struct pollfd p = { .fd = wire_conn_fd(c), .events = (short) wire_conn_poll_events(c) };
                if (poll(&p, 1, 10000) <= 0)
                        die("poll", ETIMEDOUT);
        }
}

static void flush_all(WireConn *c) {
        int r;
        while ((r = wire_conn_flush(c)) == -EAGAIN) {
                struct pollfd p = { .fd = wire_conn_fd(c), .events = (short) wire_conn_poll_events(c) };
                if (poll(&p, 1, 10000) <= 0)
                        die("poll", ETIMEDOUT);
                WireMessage m;
                /* A TLS write may wait for a read. */
                if ((r = wire_conn_receive(c, &m)) < 0)
                        die("receive", r);
        }
        if (r < 0)
                die("flush", r);
}

static void send_hello(WireConn *c) {
        static const uint8_t ticket[512];
        if (wire_encode_hello(wire_conn_out(c), &(WireHello) { .magic = WIRE_MAGIC, .version = WIRE_VERSION,
                                                                 .ticket = ticket, .ticket_len = sizeof(ticket) }) < 0)
                die("hello", EINVAL);
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static void bench_handshakes(int lfd, uint16_t port, unsigned n) {
        double *ms = calloc(n, sizeof(double)), sum = 0;

        if (!ms)
                die("calloc", ENOMEM);
        for (unsigned i = 0; i < n; i++) {
                double t0 = now();
                WireConn *client = conn_new(connect_loopback(port), true, false);
                WireConn *server = conn_new(accept_one(lfd), true, true);
                WireMessage m;
                int r = 0;

                send_hello(client);
                while (r == 0) {
                        r = wire_conn_flush(client);
                        if (r < 0 && r != -EAGAIN)
                                die("client", r);
                        while ((r = wire_conn_receive(client, &m)) > 0)
                                ;
                        if (r < 0)
                                die("client receive", r);
                        r = wire_conn_receive(server, &m);
                        if (r < 0)
                                die("server receive", r);
                        if (r == 0) {
                                (void) wire_conn_flush(server);
                                struct pollfd p[2] = {
                                        { .fd = wire_conn_fd(client), .events = (short) wire_conn_poll_events(client) },
                                        { .fd = wire_conn_fd(server), .events = (short) wire_conn_poll_events(server) },
                                };
                                if (poll(p, 2, 10000) <= 0)
                                        die("poll", ETIMEDOUT);
                        }
                }
                ms[i] = (now() - t0) * 1e3;
                sum += ms[i];
                wire_conn_free(client);
                wire_conn_free(server);
        }
        qsort(ms, n, sizeof(double), cmp_double);
        printf("handshake (connect + TLS 1.3 + hello), %u runs: mean %.2f ms, p50 %.2f ms, p99 %.2f ms\n", n, sum / n,
               ms[n / 2], ms[(size_t) (n * 0.99)]);
        free(ms);
}

/* The child receives; the parent sends total bytes of tiles and times until the child's bye. */
static void bench_throughput(int lfd, uint16_t port, bool tls, uint64_t total, uint32_t tile) {
        pid_t pid = fork();
        if (pid < 0)
                die("fork", errno);
        if (pid == 0) {
                WireConn *c = conn_new(connect_loopback(port), tls, false);
                send_hello(c);
                payload_bytes = 0;
                wait_for(c, WIRE_TYPE_BYE);
                if (wire_encode_bye(wire_conn_out(c), &(WireBye) { .code = 0 }) < 0)
                        die("bye", EINVAL);
                flush_all(c);
                wire_conn_free(c);
                _exit(payload_bytes == total ? EXIT_SUCCESS : EXIT_FAILURE);
        }

        WireConn *s = conn_new(accept_one(lfd), tls, true);
        static uint8_t data[WIRE_TILE_DATA_MAX];
        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t) (i * 2654435761u >> 13);
        wait_for(s, WIRE_TYPE_HELLO);

        double t0 = now();
        uint64_t sent = 0;
        while (sent < total) {
                while (sent < total) {
                        uint32_t n = (uint32_t) MIN((uint64_t) tile, total - sent);
                        int r = wire_encode_tile(wire_conn_out(s), &(WireTile) { .w = 128, .h = 128, .data = data, .data_len = n });
                        if (r == -ENOBUFS)
                                break;
                        if (r < 0)
                                die("tile", r);
                        sent += n;
                }
                int r = wire_conn_flush(s);
                if (r == -EAGAIN) {
                        struct pollfd p = { .fd = wire_conn_fd(s), .events = (short) wire_conn_poll_events(s) };
                        if (poll(&p, 1, 10000) <= 0)
                                die("poll", ETIMEDOUT);
                        WireMessage m;
                        if ((r = wire_conn_receive(s, &m)) < 0)
                                die("receive", r);
                } else if (r < 0)
                        die("flush", r);
        }
        if (wire_encode_bye(wire_conn_out(s), &(WireBye) { .code = 0 }) < 0)
                die("bye", EINVAL);
        flush_all(s);
        wait_for(s, WIRE_TYPE_BYE);
        double secs = now() - t0;
        uint64_t wire_bytes = wire_conn_bytes_out(s);
        wire_conn_free(s);

        int status;
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                die("receiver", EIO);
        printf("%-9s %4u KiB tiles: %8.1f MB/s of tile data (%.0f MiB in %.2f s, framing +%.3f%%)\n", tls ? "TLS 1.3" : "plain TCP",
               tile >> 10, (double) total / secs / 1e6, (double) total / (1 << 20), secs,
               100.0 * (double) (wire_bytes - total) / (double) total);
}

int main(int argc, char **argv) {
        uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 512;
        unsigned handshakes = argc > 2 ? (unsigned) strtoul(argv[2], NULL, 10) : 200;
        char *error = NULL;
        uint16_t port;
        int r;

        if (mib == 0 || handshakes == 0) {
                fprintf(stderr, "usage: bench-tls [MiB] [handshakes]\n");
                return EXIT_FAILURE;
        }
        signal(SIGPIPE, SIG_IGN);
        if (!mkdtemp(dir))
                die("mkdtemp", errno);
        snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
        snprintf(key, sizeof(key), "%s/key.pem", dir);
        r = tls_generate_self_signed(cert, key, "bench");
        if (r < 0)
                die("certificate", r);
        if (tls_cert_fingerprint_file(cert, fp) < 0)
                die("fingerprint", EINVAL);
        server_ctx = tls_server_context_new(cert, key, &error);
        client_ctx = tls_client_context_new(&error);
        if (!server_ctx || !client_ctx) {
                fprintf(stderr, "bench-tls: %s\n", error);
                return EXIT_FAILURE;
        }
        unlink(cert);
        unlink(key);
        rmdir(dir);

        int lfd = listen_loopback(&port);
        bench_handshakes(lfd, port, handshakes);
        for (int tls = 1; tls >= 0; tls--) {
                bench_throughput(lfd, port, tls, mib << 20, TILE);
                bench_throughput(lfd, port, tls, mib << 20, WIRE_TILE_DATA_MAX);
        }
        close(lfd);
        tls_context_free(server_ctx);
        tls_context_free(client_ctx);
        return EXIT_SUCCESS;
}
