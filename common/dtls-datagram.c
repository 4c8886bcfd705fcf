#include "dtls-datagram.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "rudp.h"

/* How much each EMSGSIZE lowers the datagram budget. */
#define BUDGET_STEP 64
/* Ciphertext datagrams a client takes from its socket per recv() call. */
#define RECV_BATCH 64

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

/* Sends every ciphertext datagram the endpoint has queued. A full socket loses the datagram
 * (rudp or DTLS retransmits); EMSGSIZE lowers the budget and is returned once. */
static int push(DtlsDatagram *d) {
        int result = 0;
        for (;;) {
                ssize_t n = dtls_endpoint_pull(d->e, d->buf, sizeof(d->buf));
                if (n <= 0)
                        return result;
                ssize_t k = d->owns_fd ? send(d->fd, d->buf, (size_t) n, MSG_NOSIGNAL)
                                       : sendto(d->fd, d->buf, (size_t) n, MSG_NOSIGNAL, (struct sockaddr *) &d->peer,
                                                d->peer_len);
                if (k >= 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == ECONNREFUSED ||
                    errno == EINTR)
                        continue;
                if (errno == EMSGSIZE) {
                        d->budget = MAX((size_t) DTLS_DATAGRAM_MIN, (size_t) n - BUDGET_STEP);
                        dtls_endpoint_set_budget(d->e, d->budget);
                        result = -EMSGSIZE;
                        continue;
                }
                if (!d->owns_fd)
                        continue; /* the shared socket's trouble is not this peer's end */
                return d->error = -errno;
        }
}

static int feed(DtlsDatagram *d, const uint8_t *data, size_t n, uint64_t now) {
        int r = dtls_endpoint_feed(d->e, data, n, now);
        (void) push(d); /* handshake replies, alerts */
        if (r < 0)
                d->error = r;
        return r;
}

static ssize_t dd_recv(DatagramTransport *t, void *buf, size_t n) {
        DtlsDatagram *d = (DtlsDatagram *) t;
        ssize_t k;

        if (d->error < 0)
                return d->error;
        for (int i = 0; d->owns_fd && i < RECV_BATCH; i++) {
                /* Plaintext already decrypted goes first: read from the socket only when none is. */
                k = dtls_endpoint_read(d->e, buf, n);
                if (k != 0)
                        return k == -ENOBUFS ? -EAGAIN : k;
                k = recv(d->fd, d->buf, sizeof(d->buf), 0);
                if (k < 0) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED || errno == EINTR)
                                break;
                        return d->error = -errno;
                }
                int r = feed(d, d->buf, (size_t) k, monotonic_usec());
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
        return dtls_endpoint_next_timeout(((DtlsDatagram *) t)->e);
}

static void dd_on_timeout(DatagramTransport *t, uint64_t now) {
        DtlsDatagram *d = (DtlsDatagram *) t;
        dtls_endpoint_on_timeout(d->e, now);
        (void) push(d);
}

static const char *dd_error(DatagramTransport *t) {
        return dtls_endpoint_error(((DtlsDatagram *) t)->e);
}

static void dd_free(DatagramTransport *t) {
        DtlsDatagram *d = (DtlsDatagram *) t;
        if (d->error == 0 && dtls_endpoint_established(d->e)) {
                dtls_endpoint_close(d->e); /* close_notify, best effort */
                (void) push(d);
        }
        dtls_endpoint_free(d->e);
        if (d->owns_fd)
                close(d->fd);
        if (d->release)
                d->release(d->userdata);
        free(d);
}

static const DatagramTransportOps dtls_datagram_ops = {
        .recv = dd_recv,
        .send = dd_send,
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
        (void) push(d); /* the ClientHello */
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
