#include "dtls-datagram.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "rudp.h"
#include "udp-batch.h"

/* How much each EMSGSIZE lowers the datagram budget. */
#define BUDGET_STEP 64
/* Ciphertext datagrams a client takes from its socket per recv() call. */
#define RECV_BATCH 64

_Static_assert(DTLS_DATAGRAM_MAX <= UDP_TX_DATAGRAM_MAX, "a ciphertext datagram fits a batch slot");

typedef struct DtlsDatagram {
        DatagramTransport t;
        DtlsEndpoint *e;
        int fd;
        bool owns_fd; /* client: connected socket; server: hostd's shared socket */
        struct sockaddr_storage peer;
        socklen_t peer_len;
        size_t budget;
        int error;
        void (*release)(void *userdata);
        void *userdata;
        /* Ciphertext out: what send() encrypted waits here for flush() (or a full batch), so
         * the datagrams of one flush leave in one system call. Allocated once established. */
        UdpTxBatch *tx;
        /* Client: ciphertext in, by recvmmsg(), with UDP GRO where the kernel has it (gro) or
         * without (rx); allocated with tx. */
        UdpGroBatch *gro;
        UdpRxBatch *rx;
        uint8_t buf[DTLS_DATAGRAM_MAX + 512];
} DtlsDatagram;

static uint64_t monotonic_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

int udp_socket_set_pmtudisc(int fd, int family) {
        int v;
        if (family == AF_INET6) {
                v = IPV6_PMTUDISC_DO;
                return setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof(v)) < 0 ? -errno : 0;
        }
        v = IP_PMTUDISC_DO;
        return setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v)) < 0 ? -errno : 0;
}

/* A failed send's verdict: an EMSGSIZE lowers the budget below the refused length; on its own
 * socket a hard error ends the connection (hostd's shared socket's trouble is not this peer's). */
static int send_failed(DtlsDatagram *d, int r, size_t refused_len) {
        if (r == -EMSGSIZE) {
                d->budget = MAX((size_t) DTLS_DATAGRAM_MIN, refused_len - MIN(refused_len, (size_t) BUDGET_STEP));
                dtls_endpoint_set_budget(d->e, d->budget);
                return -EMSGSIZE;
        }
        if (r < 0 && d->owns_fd)
                return d->error = r;
        return 0;
}

/* Sends the batched ciphertext. */
static int flush_tx(DtlsDatagram *d) {
        if (!d->tx || d->tx->n == 0)
                return 0;
        size_t refused = 0;
        int r = udp_tx_flush(d->tx, d->fd, d->owns_fd ? NULL : (struct sockaddr *) &d->peer, d->peer_len, &refused);
        return send_failed(d, r, refused);
}

/* Takes every ciphertext datagram the endpoint has queued: into the batch once established (sent
 * when full or flushed), else at once, one by one (handshake flights are rare). A full socket
 * loses the datagram (rudp or DTLS retransmits); EMSGSIZE lowers the budget and is returned
 * once. */
static int push(DtlsDatagram *d) {
        int result = 0;
        if (!d->tx && dtls_endpoint_established(d->e)) {
                d->tx = calloc(1, sizeof(UdpTxBatch));
                if (d->owns_fd && !d->rx && !d->gro) {
                        /* GRO only with its large buffers: a run would not fit the plain batch's. */
                        d->gro = malloc(sizeof(UdpGroBatch));
                        if (d->gro && udp_gro_enable(d->fd) < 0) {
                                free(d->gro);
                                d->gro = NULL;
                        }
                        if (d->gro)
                                d->gro->n = d->gro->next = 0;
                        else
                                d->rx = calloc(1, sizeof(UdpRxBatch));
                }
        }
        for (;;) {
                if (d->tx && !udp_tx_slot(d->tx)) {
                        int r = flush_tx(d);
                        if (r == -EMSGSIZE)
                                result = r;
                        else if (r < 0)
                                return r;
                }
                uint8_t *out = d->tx ? udp_tx_slot(d->tx) : d->buf;
                ssize_t n = dtls_endpoint_pull(d->e, out, d->tx ? UDP_TX_DATAGRAM_MAX : sizeof(d->buf));
                if (n <= 0)
                        return result;
                if (d->tx) {
                        udp_tx_commit(d->tx, (size_t) n);
                        continue;
                }
                ssize_t k = d->owns_fd ? send(d->fd, d->buf, (size_t) n, MSG_NOSIGNAL)
                                       : sendto(d->fd, d->buf, (size_t) n, MSG_NOSIGNAL, (struct sockaddr *) &d->peer,
                                                d->peer_len);
                if (k >= 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == ECONNREFUSED ||
                    errno == EINTR)
                        continue;
                int r = send_failed(d, -errno, (size_t) n);
                if (r == -EMSGSIZE)
                        result = r;
                else if (r < 0)
                        return r;
        }
}

/* Everything queued goes now: handshake replies, alerts, the batch. */
static int push_all(DtlsDatagram *d) {
        int r = push(d), k = flush_tx(d);
        return r < 0 ? r : k;
}

static int feed(DtlsDatagram *d, const uint8_t *data, size_t n, uint64_t now) {
        int r = dtls_endpoint_feed(d->e, data, n, now);
        (void) push_all(d); /* handshake replies, alerts */
        if (r < 0)
                d->error = r;
        return r;
}

/* Whether received datagrams wait in a batch, not yet fed. */
static bool rx_waiting(const DtlsDatagram *d) {
        return (d->rx && d->rx->next < d->rx->n) || (d->gro && d->gro->next < d->gro->n);
}

/* The next ciphertext datagram from a client's socket: into *data, its length; -EAGAIN, or the
 * socket's error. Batched by recvmmsg() once established. */
static ssize_t next_ciphertext(DtlsDatagram *d, const uint8_t **data) {
        UdpRxBatch *b = d->rx;
        if (d->gro) {
                if (d->gro->next == d->gro->n) {
                        int r = udp_gro_fill(d->gro, d->fd);
                        if (r < 0)
                                return r;
                }
                unsigned i = d->gro->next++;
                *data = d->gro->ptr[i];
                return d->gro->len[i];
        }
        if (!b) {
                ssize_t k = recv(d->fd, d->buf, sizeof(d->buf), 0);
                *data = d->buf;
                return k >= 0 ? k : errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
        for (;;) {
                if (b->next == b->n) {
                        int r = udp_rx_fill(b, d->fd);
                        if (r < 0)
                                return r;
                }
                unsigned i = b->next++;
                if (b->truncated[i])
                        continue; /* larger than any DTLS datagram of ours: not the server's */
                *data = b->data[i];
                return b->len[i];
        }
}

static ssize_t dd_recv(DatagramTransport *t, void *buf, size_t n) {
        DtlsDatagram *d = (DtlsDatagram *) t;
        ssize_t k;

        if (d->error < 0)
                return d->error;
        /* Bounded, but a received batch is always fed whole: the socket's readiness cannot
         * announce what waits in it. */
        for (int i = 0; d->owns_fd && (i < RECV_BATCH || rx_waiting(d)); i++) {
                /* Plaintext already decrypted goes first: read from the socket only when none is. */
                k = dtls_endpoint_read(d->e, buf, n);
                if (k != 0)
                        return k == -ENOBUFS ? -EAGAIN : k;
                const uint8_t *data;
                k = next_ciphertext(d, &data);
                if (k < 0) {
                        if (k == -EAGAIN || k == -ECONNREFUSED || k == -EINTR)
                                break;
                        return d->error = (int) k;
                }
                int r = feed(d, data, (size_t) k, monotonic_usec());
                if (r < 0)
                        return r;
        }
        k = dtls_endpoint_read(d->e, buf, n);
        if (k == 0 || k == -ENOBUFS)
                return -EAGAIN;
        return k;
}

static int dd_send(DatagramTransport *t, const void *buf, size_t n) {
        DtlsDatagram *d = (DtlsDatagram *) t;
        if (d->error < 0)
                return d->error;
        int r = dtls_endpoint_write(d->e, buf, n);
        if (r == -EMSGSIZE)
                return -EMSGSIZE;
        if (r < 0)
                return d->error = r;
        r = push(d);
        if (r == -EMSGSIZE)
                return -EMSGSIZE;
        return d->error < 0 ? d->error : 0;
}

static int dd_flush(DatagramTransport *t) {
        DtlsDatagram *d = (DtlsDatagram *) t;
        if (d->error < 0)
                return d->error;
        int r = flush_tx(d);
        return r == -EMSGSIZE ? r : d->error < 0 ? d->error : 0;
}

static size_t dd_max_payload(DatagramTransport *t) {
        DtlsDatagram *d = (DtlsDatagram *) t;
        if (!dtls_endpoint_established(d->e))
                return 0;
        return MIN(dtls_endpoint_max_plaintext(d->e), (size_t) RUDP_DATAGRAM_MAX);
}

static int dd_fd(DatagramTransport *t) {
        DtlsDatagram *d = (DtlsDatagram *) t;
        return d->owns_fd ? d->fd : -EBADF;
}

static uint64_t dd_next_timeout(DatagramTransport *t) {
        DtlsDatagram *d = (DtlsDatagram *) t;
        if (d->error == 0 && (rx_waiting(d) || (d->tx && d->tx->n > 0)))
                return 0; /* received datagrams not yet read, or sends not yet flushed: now */
        return dtls_endpoint_next_timeout(d->e);
}

static void dd_on_timeout(DatagramTransport *t, uint64_t now) {
        DtlsDatagram *d = (DtlsDatagram *) t;
        dtls_endpoint_on_timeout(d->e, now);
        (void) push_all(d);
}

static const char *dd_error(DatagramTransport *t) {
        return dtls_endpoint_error(((DtlsDatagram *) t)->e);
}

static void dd_free(DatagramTransport *t) {
        DtlsDatagram *d = (DtlsDatagram *) t;
        if (d->error == 0 && dtls_endpoint_established(d->e)) {
                dtls_endpoint_close(d->e); /* close_notify, best effort */
        }
        if (d->error == 0)
                (void) push_all(d); /* what was batched, and the close_notify */
        dtls_endpoint_free(d->e);
        free(d->tx);
        free(d->rx);
        free(d->gro);
        if (d->owns_fd)
                close(d->fd);
        if (d->release)
                d->release(d->userdata);
        free(d);
}

static const DatagramTransportOps dtls_datagram_ops = {
        .recv = dd_recv,
        .send = dd_send,
        .flush = dd_flush,
        .max_payload = dd_max_payload,
        .fd = dd_fd,
        .next_timeout = dd_next_timeout,
        .on_timeout = dd_on_timeout,
        .free = dd_free,
        .error = dd_error,
};

int dtls_datagram_new_client(DtlsContext *ctx, int fd, const uint8_t pin[DTLS_PIN_SIZE], DatagramTransport **ret) {
        DtlsDatagram *d = calloc(1, sizeof(DtlsDatagram));
        if (!d) {
                close(fd);
                return -ENOMEM;
        }
        int r = dtls_endpoint_new_client(ctx, pin, monotonic_usec(), &d->e);
        if (r < 0) {
                close(fd);
                free(d);
                return r;
        }
        d->t.ops = &dtls_datagram_ops;
        d->fd = fd;
        d->owns_fd = true;
        d->budget = DTLS_DATAGRAM_MAX;
        (void) push_all(d); /* the ClientHello */
        *ret = &d->t;
        return 0;
}

int dtls_datagram_new_server(DtlsEndpoint *e, int shared_fd, const struct sockaddr *peer, socklen_t peer_len,
                             void (*release)(void *userdata), void *userdata, DatagramTransport **ret) {
        DtlsDatagram *d = calloc(1, sizeof(DtlsDatagram));
        if (!d || peer_len > sizeof(d->peer)) {
                free(d);
                dtls_endpoint_free(e);
                return -ENOMEM;
        }
        d->t.ops = &dtls_datagram_ops;
        d->e = e;
        d->fd = shared_fd;
        memcpy(&d->peer, peer, peer_len);
        d->peer_len = peer_len;
        d->budget = DTLS_DATAGRAM_MAX;
        d->release = release;
        d->userdata = userdata;
        *ret = &d->t;
        return 0;
}

int dtls_datagram_feed(DatagramTransport *t, const uint8_t *data, size_t n, uint64_t now_usec) {
        DtlsDatagram *d = (DtlsDatagram *) t;
        if (d->error < 0)
                return d->error;
        return feed(d, data, n, now_usec);
}

bool dtls_datagram_established(DatagramTransport *t) {
        return dtls_endpoint_established(((DtlsDatagram *) t)->e);
}

DtlsEndpoint *dtls_datagram_endpoint(DatagramTransport *t) {
        return ((DtlsDatagram *) t)->e;
}
