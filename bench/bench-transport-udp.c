/* The UDP side of bench-transport: Tandem's rudp (congestion control, pacing, FEC, selective
 * acks) over DTLS 1.2 (cookie exchange, the receiver's certificate pinned) over one UDP socket,
 * through the daemons' own DatagramTransport (dtls-datagram.c), small messages on reliable
 * channel 0, bulk on reliable channel 1.
 * The event loop is what hostd's and the viewer's do, reduced to one peer: datagrams in, timers,
 * datagrams out while the transport lets them go, sleep until its next deadline (ppoll, so
 * pacing keeps its microseconds). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench-transport.h"
#include "datagram-rudp.h"
#include "dtls-datagram.h"
#include "macro.h"
#include "rudp.h"
#include "tls.h"
#include "udp-batch.h"

typedef struct UdpPeer {
        int fd;
        bool server;
        DtlsContext *ctx;
        DatagramTransport *path; /* server: NULL until a ClientHello with a valid cookie */
        Rudp *rudp;             /* NULL until DTLS is established */
        uint8_t pending[DTLS_DATAGRAM_MAX]; /* a plaintext datagram the socket refused: sent first */
        size_t pending_len;
        bool closed;
        UdpRxBatch rx;      /* server: what recvmmsg() brought */
} UdpPeer;

/* The DTLS client: the sender, or with --reverse the receiver. */
static bool is_client(const BenchOptions *o) {
        return o->sender != o->reverse;
}

static int udp_socket(const BenchOptions *o, UdpPeer *p) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(o->port) };

        if (inet_pton(AF_INET, o->addr, &a.sin_addr) != 1)
                return -EINVAL;
        p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (p->fd < 0)
                return -errno;
        udp_socket_set_buffers(p->fd, UDP_SOCKET_BUFFER); /* as the daemons do */
        int r = is_client(o) ? connect(p->fd, (struct sockaddr *) &a, sizeof(a)) : bind(p->fd, (struct sockaddr *) &a, sizeof(a));
        if (r < 0)
                return -errno;
        /* The CLOSE may be lost: the receiver's end of the measurement is what counts. A client
         * receiver's ClientHello is sent again until the sender is up. */
        if (!o->sender) {
                printf("listening\n");
                fflush(stdout);
        }
        return 0;
}

static int new_rudp(UdpPeer *p, uint64_t now) {
        RudpConfig cfg;
        rudp_config_init(&cfg);
        /* Connection id 0, as WireConn: DTLS tells associations apart, and no id goes on the wire. */
        cfg.connection_id = 0;
        cfg.channels = 2;
        cfg.urgent_channels = 1; /* the small messages (as input, cursor and control are) */
        return rudp_new(&cfg, p->server, now, &p->rudp);
}

/* The receiver answers cookies statelessly and talks to whoever completes one first. */
static int accept_hello(UdpPeer *p, const uint8_t *d, size_t n, const struct sockaddr_storage *from, socklen_t len,
                        uint64_t now) {
        uint8_t reply[DTLS_DATAGRAM_MAX];
        size_t reply_len = 0;
        DtlsEndpoint *e;
        int r = dtls_cookie_check(p->ctx, (const struct sockaddr *) from, len, d, n, reply, sizeof(reply), &reply_len);
        if (r == 0) {
                if (reply_len > 0)
                        (void) sendto(p->fd, reply, reply_len, MSG_DONTWAIT, (const struct sockaddr *) from, len);
                return 0;
        }
        if (r < 0 || (r = dtls_endpoint_new_server(p->ctx, (const struct sockaddr *) from, len, now, &e)) < 0)
                return r;
        return dtls_datagram_new_server(e, p->fd, (const struct sockaddr *) from, len, NULL, NULL, &p->path);
}

/* Plaintext datagrams the transport holds into rudp (made once DTLS is up), each with the time
 * it left the transport, not the loop's: see datagram-rudp.h. */
static int drain_path(UdpPeer *p) {
        if (p->rudp) {
                int r = datagram_rudp_receive(p->path, p->rudp, SIZE_MAX);
                return MIN(r, 0);
        }
        uint8_t d[DTLS_DATAGRAM_MAX];
        ssize_t n;
        while ((n = p->path->ops->recv(p->path, d, sizeof(d))) > 0)
                ; /* before rudp: nothing to take them */
        if (n < 0 && n != -EAGAIN)
                return (int) n;
        if (p->path->ops->max_payload(p->path) > 0)
                return new_rudp(p, datagram_transport_now(p->path));
        return 0;
}

static int receive_all(UdpPeer *p, uint64_t now) {
        int r;
        if (!p->server) /* a client transport reads its own connected socket */
                return p->path ? drain_path(p) : 0;
        for (;;) {
                if (p->rx.next == p->rx.n) {
                        r = udp_rx_fill(&p->rx, p->fd);
                        if (r < 0)
                                return r == -EAGAIN ? 0 : r;
                }
                unsigned i = p->rx.next++;
                const uint8_t *d = p->rx.data[i];
                size_t n = p->rx.len[i];
                if (p->rx.truncated[i])
                        continue;
                if (!p->path) {
                        if ((r = accept_hello(p, d, n, &p->rx.from[i], p->rx.from_len[i], now)) < 0)
                                return r;
                        if (!p->path)
                                continue;
                }
                if ((r = dtls_datagram_feed(p->path, d, n, bench_now_usec())) < 0 || (r = drain_path(p)) < 0)
                        return r;
        }
}

/* What the transport batched goes in one system call. */
static int flush(UdpPeer *p) {
        int r = datagram_transport_flush(p->path);
        return r == -EMSGSIZE ? 0 : r;
}

/* Each datagram with the time it is made: one read before a long receive would date it early. */
static int send_all(UdpPeer *p) {
        if (!p->rudp)
                return 0;
        for (;;) {
                if (p->pending_len == 0) {
                        ssize_t n = rudp_next_datagram(p->rudp, p->pending, p->path->ops->max_payload(p->path),
                                                       datagram_transport_now(p->path));
                        if (n < 0)
                                return (int) n;
                        if (n == 0)
                                return flush(p);
                        p->pending_len = (size_t) n;
                }
                int r = p->path->ops->send(p->path, p->pending, p->pending_len);
                if (r == -EAGAIN)
                        return flush(p);
                if (r < 0 && r != -EMSGSIZE)
                        return r;
                p->pending_len = 0; /* sent, or lost to a smaller path (rudp recovers it) */
        }
}

static void wait_until(UdpPeer *p, uint64_t deadline, uint64_t now) {
        struct pollfd pfd = { .fd = p->fd, .events = (short) (POLLIN | (p->pending_len ? POLLOUT : 0)) };
        uint64_t d = deadline > now ? deadline - now : 0;
        d = MIN(d, (uint64_t) 100000);
        struct timespec ts = { .tv_sec = (time_t) (d / 1000000), .tv_nsec = (long) (d % 1000000) * 1000 };
        if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR)
                bench_die("ppoll", errno);
}

static void feed_sender(const BenchOptions *o, UdpPeer *p, BenchResult *res, uint64_t now, uint64_t *next_small,
                        uint32_t *ids) {
        static uint8_t bulk[BULK_SIZE], small[SMALL_SIZE];
        if (bulk[0] != 'B')
                bench_fill_bulk(bulk, sizeof(bulk));
        bench_sender_window(o, res, now);
        bench_cpu_tick(res, now);
        if (o->small && now >= *next_small) {
                bench_fill_small(small, now);
                if (rudp_send(p->rudp, 0, RUDP_RELIABLE_ORDERED, ids[0]++, small, sizeof(small)) < 0)
                        ids[0]--;
                else
                        bench_sent(res, sizeof(small), now);
                *next_small += SMALL_EVERY_USEC;
        }
        /* Bulk leaves some of the send buffer free for the small messages. */
        while (rudp_send_room(p->rudp) >= 4 * sizeof(bulk)) {
                if (rudp_send(p->rudp, 1, RUDP_RELIABLE_ORDERED, ids[1]++, bulk, sizeof(bulk)) < 0)
                        break;
                bench_sent(res, sizeof(bulk), now);
        }
}

static void describe(const Rudp *r, char *out, size_t size, const char *name) {
        RudpStats s;
        rudp_stats(r, &s);
        snprintf(out, size,
                 "\"%s\":{\"min_rtt_ms\":%.1f,\"srtt_ms\":%.1f,\"bw_bps\":%llu,\"loss\":%.4f,\"fec_k\":%u,\"fec_m\":%u,"
                 "\"retransmits\":%llu,\"fec_recovered\":%llu,\"fec_peer_recovered\":%llu,\"packets_sent\":%llu,"
                 "\"packets_lost\":%llu,\"bytes_sent\":%llu}",
                 name, s.min_rtt_usec / 1000.0, s.smoothed_rtt_usec / 1000.0, (unsigned long long) s.bandwidth * 8,
                 s.loss_rate, s.fec_k, s.fec_m, (unsigned long long) s.retransmits, (unsigned long long) s.fec_recovered,
                 (unsigned long long) s.fec_peer_recovered, (unsigned long long) s.packets_sent,
                 (unsigned long long) s.packets_lost, (unsigned long long) s.bytes_sent);
}

/* BENCH_RUDP_TRACE=FILE: the sender appends its model every 100 ms (time s, state, bandwidth and
 * pacing rate Mbit/s, window and inflight KB, min/smoothed/latest RTT ms, packets lost), to see
 * where a run's share went. */
static void trace(const Rudp *r, uint64_t now, uint64_t *next) {
        static FILE *f;
        static uint64_t start;
        if (now < *next)
                return;
        if (!f) {
                const char *path = getenv("BENCH_RUDP_TRACE");
                if (!path || !(f = fopen(path, "a"))) {
                        *next = UINT64_MAX;
                        return;
                }
                start = now;
                fprintf(f, "# t state bw pacing cwnd inflight min_rtt srtt latest lost\n");
        }
        RudpStats s;
        rudp_stats(r, &s);
        fprintf(f, "%.1f %d %.2f %.2f %.0f %.0f %.1f %.1f %.1f %llu\n", (now - start) / 1e6, (int) s.cc_state,
                s.bandwidth * 8 / 1e6, s.pacing_rate * 8 / 1e6, s.cwnd / 1e3, s.inflight / 1e3, s.min_rtt_usec / 1e3,
                s.smoothed_rtt_usec / 1e3, s.latest_rtt_usec / 1e3, (unsigned long long) s.packets_lost);
        fflush(f);
        *next = now + 100000;
}

static int open_dtls(const BenchOptions *o, UdpPeer *p) {
        char *error = NULL;
        p->ctx = is_client(o) ? dtls_client_context_new(&error) : dtls_server_context_new(o->cert, o->key, &error);
        if (!p->ctx) {
                fprintf(stderr, "bench-transport: %s\n", error);
                exit(EXIT_FAILURE);
        }
        if (!is_client(o))
                return 0;
        uint8_t pin[TLS_FINGERPRINT_SIZE];
        if (tls_cert_fingerprint_file(o->cert, pin) < 0)
                return -EINVAL;
        int r = dtls_datagram_new_client(p->ctx, p->fd, pin, &p->path);
        p->fd = r < 0 ? -1 : p->fd; /* owned by the transport from now on, even on failure */
        return r;
}

static uint64_t next_wake(const UdpPeer *p) {
        uint64_t t = p->rudp ? rudp_next_timeout(p->rudp) : UINT64_MAX;
        if (p->path && p->path->ops->next_timeout)
                t = MIN(t, p->path->ops->next_timeout(p->path));
        return t;
}

int bench_udp(const BenchOptions *o, BenchResult *res) {
        UdpPeer p = { .fd = -1, .server = !is_client(o) };
        uint32_t ids[2] = {};
        int r;

        if ((r = udp_socket(o, &p)) < 0)
                return r;
        uint64_t now = bench_now_usec(), next_small = now;
        uint64_t give_up = now + (uint64_t) ((o->warmup + o->seconds + 30) * 1e6);
        if ((r = open_dtls(o, &p)) < 0)
                return r;
        bool started = false;
        uint64_t next_trace = 0;

        while (!p.closed) {
                now = bench_now_usec();
                if (now >= give_up)
                        break;
                if ((r = receive_all(&p, now)) < 0)
                        break;
                /* Not older than the datagrams just taken (each read its own clock): rudp's
                 * timers must not see time go back. */
                now = bench_now_usec();
                if (p.path && p.path->ops->on_timeout)
                        p.path->ops->on_timeout(p.path, now);
                bench_cpu_tick(res, now);
                if (p.rudp) {
                        rudp_on_timeout(p.rudp, now);
                        if (o->sender)
                                feed_sender(o, &p, res, now, &next_small, ids);
                        if (o->sender)
                                trace(p.rudp, now, &next_trace);
                        RudpMessage m;
                        while (rudp_read(p.rudp, &m) > 0) {
                                if (!started) {
                                        started = true;
                                        res->start_usec = now + (uint64_t) (o->warmup * 1e6);
                                        res->end_usec = res->start_usec + (uint64_t) (o->seconds * 1e6);
                                }
                                bench_count(res, m.data, m.len, now);
                        }
                        if (started && now >= res->end_usec && !rudp_is_closed(p.rudp)) {
                                describe(p.rudp, res->transport_stats, sizeof(res->transport_stats), "rudp_receiver");
                                rudp_close(p.rudp, 0);
                        }
                }
                if ((r = send_all(&p)) < 0)
                        break;
                /* The CLOSE went out with the last datagram. */
                if (p.rudp && rudp_is_closed(p.rudp) && p.pending_len == 0)
                        break;
                uint64_t wake = next_wake(&p);
                if (o->sender && o->small && p.rudp)
                        wake = MIN(wake, next_small);
                wait_until(&p, wake, bench_now_usec());
        }
        if (o->sender && p.rudp) {
                char s[1024], all[1200];
                describe(p.rudp, s, sizeof(s), "rudp_sender");
                snprintf(all, sizeof(all), "%s,\"cipher\":\"%s\"", s,
                         dtls_endpoint_cipher(dtls_datagram_endpoint(p.path)));
                bench_print_sender(res, all);
        }
        rudp_free(p.rudp);
        bool owned = is_client(o); /* the client transport owns the socket */
        datagram_transport_free(p.path);
        dtls_context_free(p.ctx);
        if (!owned)
                close(p.fd);
        return r == -ECONNRESET || r == -EPIPE ? 0 : MIN(r, 0);
}
