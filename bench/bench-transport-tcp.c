/* The TCP side of bench-transport: TLS 1.3 over Linux TCP (the kernel's default congestion
 * control, Cubic), messages framed as a 32-bit length and the payload on the one stream. The
 * sender keeps at most one bulk message in its own buffer and asks the kernel for little unsent
 * data (TCP_NOTSENT_LOWAT), as a latency-aware single-stream protocol would: a small message then
 * waits behind what TCP has in flight, not behind seconds of buffered bulk. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-transport.h"
#include "macro.h"
#include "tls.h"
#include "unaligned.h"

#define FRAME_MAX (BULK_SIZE + 4)
#define OUT_MAX (4 * FRAME_MAX)

static int tcp_socket(const BenchOptions *o) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(o->port) };
        int one = 1, fd;

        if (inet_pton(AF_INET, o->addr, &a.sin_addr) != 1)
                return -EINVAL;
        if (o->sender) {
                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0)
                        return -errno;
                int lowat = 16384;
                (void) setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
        } else {
                int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
                    bind(lfd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(lfd, 1) < 0)
                        return -errno;
                printf("listening\n");
                fflush(stdout);
                fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                close(lfd);
                if (fd < 0)
                        return -errno;
        }
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
                return -errno;
        return fd;
}

static ByteTransport *tls_open(const BenchOptions *o, int fd) {
        char *error = NULL;
        TlsContext *ctx = o->sender ? tls_client_context_new(&error) : tls_server_context_new(o->cert, o->key, &error);
        uint8_t pin[TLS_FINGERPRINT_SIZE];
        ByteTransport *t;

        if (!ctx) {
                fprintf(stderr, "bench-transport: %s\n", error);
                exit(EXIT_FAILURE);
        }
        if (o->sender && tls_cert_fingerprint_file(o->cert, pin) < 0)
                bench_die("certificate", EINVAL);
        if (tls_transport_new(ctx, fd, !o->sender, o->sender ? pin : NULL, NULL, &t) < 0)
                bench_die("tls", EINVAL);
        tls_context_free(ctx);
        return t;
}

static void wait_fd(ByteTransport *t, uint32_t events, int timeout_ms) {
        struct pollfd p = { .fd = t->ops->fd(t), .events = (short) (events ? events : POLLIN) };
        if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR)
                bench_die("poll", errno);
}

static int run_receiver(const BenchOptions *o, ByteTransport *t, BenchResult *res) {
        static uint8_t in[FRAME_MAX * 2];
        size_t have = 0;
        bool started = false;

        for (;;) {
                ssize_t n = t->ops->read(t, in + have, sizeof(in) - have);
                uint64_t now = bench_now_usec();
                bench_cpu_tick(res, now);
                if (n == -EAGAIN) {
                        wait_fd(t, t->ops->poll_events(t), 100);
                        bench_cpu_tick(res, bench_now_usec());
                        if (started && bench_now_usec() >= res->end_usec)
                                return 0;
                        continue;
                }
                if (n <= 0)
                        return started ? 0 : (n < 0 ? (int) n : -ECONNRESET);
                if (!started) {
                        started = true;
                        res->start_usec = now + (uint64_t) (o->warmup * 1e6);
                        res->end_usec = res->start_usec + (uint64_t) (o->seconds * 1e6);
                }
                have += (size_t) n;
                size_t at = 0;
                while (have - at >= 4) {
                        uint32_t len = get_le32(in + at);
                        if (len == 0 || len > BULK_SIZE)
                                return -EPROTO;
                        if (have - at < 4 + len)
                                break;
                        bench_count(res, in + at + 4, len, now);
                        at += 4 + len;
                }
                memmove(in, in + at, have - at);
                have -= at;
                if (now >= res->end_usec)
                        return 0;
        }
}

static void append(uint8_t *out, size_t *len, const uint8_t *msg, size_t n) {
        put_le32(out + *len, (uint32_t) n);
        memcpy(out + *len + 4, msg, n);
        *len += 4 + n;
}

static int run_sender(const BenchOptions *o, ByteTransport *t, BenchResult *res) {
        static uint8_t out[OUT_MAX], bulk[BULK_SIZE], small[SMALL_SIZE];
        size_t len = 0, off = 0;
        uint64_t next_small = bench_now_usec(), deadline = next_small + (uint64_t) ((o->warmup + o->seconds + 30) * 1e6);

        bench_fill_bulk(bulk, sizeof(bulk));
        bench_sender_window(o, res, next_small);
        for (;;) {
                uint64_t now = bench_now_usec();
                if (now >= deadline)
                        return 0;
                bench_cpu_tick(res, now);
                /* Compact only when everything offered was taken: TLS wants the same bytes again. */
                if (off == len)
                        off = len = 0;
                if (o->small && now >= next_small && len + 4 + SMALL_SIZE <= sizeof(out)) {
                        bench_fill_small(small, now);
                        append(out, &len, small, sizeof(small));
                        next_small += SMALL_EVERY_USEC;
                }
                if (len - off < 4 + SMALL_SIZE + 1 && len + 4 + BULK_SIZE <= sizeof(out))
                        append(out, &len, bulk, sizeof(bulk));
                ssize_t n = t->ops->write(t, out + off, len - off);
                if (n > 0) {
                        bench_sent(res, (size_t) n, now);
                        off += (size_t) n;
                        continue;
                }
                if (n != -EAGAIN)
                        return n == -EPIPE || n == -ECONNRESET ? 0 : (int) n;
                /* Drain what the receiver may send (nothing but TLS's own records). */
                uint8_t sink[4096];
                (void) t->ops->read(t, sink, sizeof(sink));
                int wait_ms = o->small ? (int) ((next_small > now ? next_small - now : 0) / 1000) + 1 : 100;
                wait_fd(t, t->ops->poll_events(t), wait_ms);
        }
}

int bench_tcp(const BenchOptions *o, BenchResult *res) {
        int fd = tcp_socket(o);
        if (fd < 0)
                return fd;
        ByteTransport *t = tls_open(o, fd);
        int r = o->sender ? run_sender(o, t, res) : run_receiver(o, t, res);
        if (!o->sender) {
                struct tcp_info ti;
                socklen_t tl = sizeof(ti);
                if (getsockopt(t->ops->fd(t), IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0)
                        snprintf(res->transport_stats, sizeof(res->transport_stats),
                                 "\"tcp\":{\"rtt_ms\":%.1f,\"rcv_rtt_ms\":%.1f}", ti.tcpi_rtt / 1000.0,
                                 ti.tcpi_rcv_rtt / 1000.0);
        }
        if (o->sender)
                bench_print_sender(res, "");
        byte_transport_free(t);
        return r;
}
