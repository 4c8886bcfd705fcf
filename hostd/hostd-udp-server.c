#include "hostd-udp-server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "dtls-datagram.h"
#include "hostd-manager.h"
#include "hostd-viewer.h"
#include "log.h"
#include "sockaddr-util.h"
#include "udp-batch.h"
#include "wire-conn-rudp.h"

/* Datagrams handled per wakeup: a flood must not starve the displays. */
#define RECV_BATCH 256
/* A viewer's datagrams fed before it processes them: DTLS's plaintext queue holds 16 records, and
 * a datagram of ours is one. */
#define VIEWER_FEED_BATCH 8
/* Peers at once, handshaking or established (the TLS side has its own HOST_MAX_CONNECTIONS). */
#define UDP_MAX_PEERS 1024

typedef struct UdpPeer UdpPeer;

struct UdpPeer {
        UdpServer *server;
        UdpPeer *next;
        struct sockaddr_storage addr;
        socklen_t addr_len;
        DatagramTransport *transport; /* owned here while handshaking, then by the viewer's WireConn */
        Viewer *viewer;               /* NULL while handshaking */
        uint64_t deadline;
        char name[64];
};

struct UdpServer {
        Manager *manager;
        ViewerServer *viewers;
        int fd;
        sd_event_source *io, *timer;
        DtlsContext *dtls;
        UdpPeer *peers;
        UdpServerCounters counters;
        bool blackhole; /* tests: every datagram is dropped, as by a firewall */
        UdpRxBatch rx;  /* one recvmmsg() brings up to UDP_RX_BATCH datagrams */
        uint8_t reply[DTLS_DATAGRAM_MAX];
};

void udp_server_viewer_replaced(UdpServer *u, Viewer *old, Viewer *v) {
        if (!u || !old)
                return;
        for (UdpPeer *p = u->peers; p; p = p->next)
                if (p->viewer == old)
                        p->viewer = v;
}

void udp_server_set_blackhole(UdpServer *u, bool on) {
        u->blackhole = on;
}

static uint64_t now_usec(UdpServer *u) {
        uint64_t now;
        sd_event_now(u->manager->event, CLOCK_MONOTONIC, &now);
        return now;
}

static UdpPeer *find_peer(UdpServer *u, const struct sockaddr_storage *addr) {
        for (UdpPeer *p = u->peers; p; p = p->next)
                if (sockaddr_equal(&p->addr, addr))
                        return p;
        return NULL;
}

/* The transport's release: whoever freed it (handshake failure, or the viewer's end), the peer
 * goes with it. */
static void peer_release(void *userdata) {
        UdpPeer *p = userdata;
        UdpServer *u = p->server;
        if (!u) {
                free(p); /* its viewer outlived the server */
                return;
        }
        for (UdpPeer **q = &u->peers; *q; q = &(*q)->next)
                if (*q == p) {
                        *q = p->next;
                        break;
                }
        u->counters.peers--;
        if (!p->viewer)
                u->counters.handshakes--;
        free(p);
}

static void arm_timer(UdpServer *u) {
        uint64_t t = UINT64_MAX;
        for (UdpPeer *p = u->peers; p; p = p->next)
                if (!p->viewer)
                        t = MIN(t, MIN(p->deadline, p->transport->ops->next_timeout(p->transport)));
        if (t == UINT64_MAX)
                sd_event_source_set_enabled(u->timer, SD_EVENT_OFF);
        else {
                sd_event_source_set_time(u->timer, t);
                sd_event_source_set_enabled(u->timer, SD_EVENT_ONESHOT);
        }
}

/* The handshake is done: the peer becomes a viewer on a rudp WireConn. */
static void peer_established(UdpServer *u, UdpPeer *p) {
        RudpConfig cfg;
        WireConn *conn;
        Viewer *v;
        char name[64];
        int r;

        /* hostd reads small messages only (hello is the largest): small windows bound what a peer
         * without a ticket yet can make us buffer. */
        wire_conn_rudp_config(&cfg);
        cfg.max_message = 64u << 10;
        cfg.recv_window = RUDP_INITIAL_CREDIT;
        cfg.latest_wins_buffer = 64u << 10;
        snprintf(name, sizeof(name), "%s", p->name);
        DatagramTransport *t = p->transport;
        r = wire_conn_new_rudp(t, &cfg, true, VIEWER_OUT_LIMIT, &conn);
        if (r < 0) {
                log_warning_errno(r, "viewer %s: cannot set up rudp: %m", name);
                return; /* t and with it p are gone */
        }
        u->counters.handshakes--;
        u->counters.established++;
        p->viewer = (Viewer *) 1; /* not handshaking any more, for peer_release's count */
        r = viewer_new_conn(u->viewers, conn, name, &v);
        if (r < 0) {
                log_warning_errno(r, "viewer %s: cannot set up the viewer: %m", name);
                return;
        }
        p->viewer = v;
        log_debug("viewer %s: DTLS established (%s)", name, dtls_endpoint_cipher(dtls_datagram_endpoint(t)) ?: "?");
        viewer_process(v);
}

static void new_peer(UdpServer *u, const struct sockaddr_storage *addr, socklen_t len, const uint8_t *d, size_t n,
                     uint64_t now) {
        size_t reply_len = 0;
        int r = dtls_cookie_check(u->dtls, (const struct sockaddr *) addr, len, d, n, u->reply, sizeof(u->reply),
                                  &reply_len);
        if (r <= 0) {
                if (reply_len > 0) {
                        u->counters.cookies_sent++;
                        (void) sendto(u->fd, u->reply, reply_len, MSG_NOSIGNAL, (const struct sockaddr *) addr, len);
                } else
                        u->counters.unknown_dropped++;
                return;
        }
        if (u->counters.handshakes >= UDP_MAX_HANDSHAKES || u->counters.peers >= UDP_MAX_PEERS) {
                u->counters.handshakes_refused++;
                return;
        }
        UdpPeer *p = calloc(1, sizeof(UdpPeer));
        if (!p)
                return;
        DtlsEndpoint *e;
        r = dtls_endpoint_new_server(u->dtls, (const struct sockaddr *) addr, len, now, &e);
        if (r < 0) {
                free(p);
                return;
        }
        r = dtls_datagram_new_server(e, u->fd, (const struct sockaddr *) addr, len, peer_release, p, &p->transport);
        if (r < 0) {
                free(p);
                return;
        }
        p->server = u;
        memcpy(&p->addr, addr, len);
        p->addr_len = len;
        p->deadline = now + UDP_HANDSHAKE_TIMEOUT_USEC;
        sockaddr_format(addr, "udp:", p->name, sizeof(p->name));
        p->next = u->peers;
        u->peers = p;
        u->counters.peers++;
        u->counters.handshakes++;
        u->counters.handshakes_started++;

        r = dtls_datagram_feed(p->transport, d, n, now);
        if (r < 0) {
                u->counters.handshakes_failed++;
                datagram_transport_free(p->transport); /* frees p */
                return;
        }
        if (dtls_datagram_established(p->transport))
                peer_established(u, p);
}

/* A handshaking peer's datagram: the handshake goes on, or fails, or is done. */
static void peer_handshake_datagram(UdpServer *u, UdpPeer *p, const uint8_t *d, size_t n, uint64_t now) {
        int r = dtls_datagram_feed(p->transport, d, n, now);
        if (r < 0) {
                log_debug("viewer %s: DTLS handshake failed: %s", p->name,
                          dtls_endpoint_error(dtls_datagram_endpoint(p->transport)) ?: strerror(-r));
                u->counters.handshakes_failed++;
                datagram_transport_free(p->transport); /* frees p */
                return;
        }
        if (dtls_datagram_established(p->transport))
                peer_established(u, p);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        UdpServer *u = userdata;
        uint64_t now = now_usec(u);
        UdpRxBatch *b = &u->rx;
        /* A viewer's datagrams are fed one after the other and processed together (its acks
         * then free the window once, and what that lets go leaves in one send): until another
         * peer's datagram, or VIEWER_FEED_BATCH of them, which DTLS's plaintext queue holds. */
        Viewer *unprocessed = NULL;
        unsigned fed = 0;

        /* Whole batches only: what one holds must not wait for the socket's next readiness. */
        for (int handled = 0; handled < RECV_BATCH; handled += (int) b->n) {
                if (udp_rx_fill(b, u->fd) < 0)
                        break;
                for (unsigned i = 0; i < b->n; i++) {
                        struct sockaddr_storage *addr = &b->from[i];
                        u->counters.datagrams++;
                        if (u->blackhole)
                                continue;
                        if (b->truncated[i] || (addr->ss_family != AF_INET && addr->ss_family != AF_INET6)) {
                                u->counters.unknown_dropped++;
                                continue;
                        }
                        UdpPeer *p = find_peer(u, addr);
                        if (unprocessed && ((p ? p->viewer : NULL) != unprocessed || fed >= VIEWER_FEED_BATCH)) {
                                viewer_process(unprocessed); /* reads the plaintext, or ends on the transport's error */
                                unprocessed = NULL;
                                fed = 0;
                                p = find_peer(u, addr); /* processing may have ended its own peer */
                        }
                        if (p && p->viewer) {
                                /* An error stays in the transport, for viewer_process() to find. */
                                (void) dtls_datagram_feed(p->transport, b->data[i], b->len[i], now);
                                unprocessed = p->viewer;
                                fed++;
                        } else if (p)
                                peer_handshake_datagram(u, p, b->data[i], b->len[i], now);
                        else
                                new_peer(u, addr, b->from_len[i], b->data[i], b->len[i], now);
                }
                b->next = b->n;
        }
        if (unprocessed)
                viewer_process(unprocessed);
        arm_timer(u);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        UdpServer *u = userdata;
        uint64_t now = now_usec(u);
        UdpPeer *next;

        for (UdpPeer *p = u->peers; p; p = next) {
                next = p->next;
                if (p->viewer)
                        continue;
                if (now >= p->deadline) {
                        log_debug("viewer %s: DTLS handshake timed out", p->name);
                        u->counters.handshakes_timed_out++;
                        datagram_transport_free(p->transport); /* frees p */
                        continue;
                }
                if (p->transport->ops->next_timeout(p->transport) <= now)
                        p->transport->ops->on_timeout(p->transport, now);
        }
        arm_timer(u);
        return 0;
}

int udp_server_new(Manager *m, ViewerServer *viewers, int tcp_fd, const char *cert, const char *key, UdpServer **ret) {
        _cleanup_(udp_server_freep) UdpServer *u = calloc(1, sizeof(UdpServer));
        struct sockaddr_storage addr;
        socklen_t len = sizeof(addr);
        char *error = NULL;
        int r;

        if (!u)
                return -ENOMEM;
        u->manager = m;
        u->viewers = viewers;
        u->fd = -EBADF;
        if (getsockname(tcp_fd, (struct sockaddr *) &addr, &len) < 0)
                return -errno;
        u->dtls = dtls_server_context_new(cert, key, &error);
        if (!u->dtls) {
                log_error("Cannot set up DTLS with %s: %s", cert, error ?: "unknown error");
                free(error);
                return -EINVAL;
        }
        u->fd = socket(addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (u->fd < 0)
                return -errno;
        udp_socket_set_buffers(u->fd, UDP_SOCKET_BUFFER);
        r = udp_socket_set_pmtudisc(u->fd, addr.ss_family);
        if (r < 0)
                log_debug_errno(r, "Cannot set path MTU discovery on the viewers' UDP socket, ignoring: %m");
        if (bind(u->fd, (struct sockaddr *) &addr, len) < 0)
                return -errno;
        r = sd_event_add_io(m->event, &u->io, u->fd, EPOLLIN, on_io, u);
        if (r < 0)
                return r;
        r = sd_event_add_time(m->event, &u->timer, CLOCK_MONOTONIC, 0, 1, on_timer, u); /* DTLS retransmissions: no 250 ms slack */
        if (r < 0)
                return r;
        sd_event_source_set_enabled(u->timer, SD_EVENT_OFF);
        *ret = TAKE_PTR(u);
        return 0;
}

UdpServer *udp_server_free(UdpServer *u) {
        if (!u)
                return NULL;
        /* Established peers belong to their viewers, freed by the viewer server before us; what is
         * left is handshaking. */
        while (u->peers) {
                UdpPeer *p = u->peers;
                if (p->viewer) {
                        /* A viewer still closing outlives us: its transport sends on a closed fd,
                         * harmlessly, and frees the peer alone. */
                        u->peers = p->next;
                        p->server = NULL;
                        continue;
                }
                datagram_transport_free(p->transport);
        }
        sd_event_source_disable_unref(u->io);
        sd_event_source_disable_unref(u->timer);
        if (u->fd >= 0)
                close(u->fd);
        dtls_context_free(u->dtls);
        free(u);
        return NULL;
}

void udp_server_counters(const UdpServer *u, UdpServerCounters *ret) {
        *ret = u ? u->counters : (UdpServerCounters) {};
}
