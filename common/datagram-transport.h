/* A datagram path under rudp: DTLS over a UDP socket in the daemons, an in-memory pair with loss
 * and reordering in tests. Every datagram is one rudp packet in plaintext; the transport keeps the
 * boundaries, encrypts and authenticates (DTLS) or does not (tests). WireConn runs rudp over it
 * (wire_conn_new_rudp()). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct DatagramTransport DatagramTransport;

typedef struct DatagramTransportOps {
        /* One whole datagram into buf (at most n bytes; a longer one is dropped and counted by the
         * transport): its length, -EAGAIN when none is waiting, or a negative errno that ends the
         * connection (e.g. -ECONNRESET: the peer closed DTLS, -EPERM: certificate refused). */
        ssize_t (*recv)(DatagramTransport *t, void *buf, size_t n);
        /* Sends one datagram of n <= max_payload() bytes: 0, -EAGAIN when the socket is full (not
         * sent; retry later with the same bytes), -EMSGSIZE when the path refused its size
         * (max_payload() is smaller from now on; the datagram is lost), or an error that ends the
         * connection. */
        int (*send)(DatagramTransport *t, const void *buf, size_t n);
        /* Optional: sends what send() batched (DTLS over UDP sends a batch in one system call).
         * Owners call it after their sends, before they sleep; without it the batch goes when
         * full, or at next_timeout(), which says now while one waits. 0, -EMSGSIZE (some of the
         * batch was too large for the path: lost, max_payload() is smaller), or an error that
         * ends the connection. */
        int (*flush)(DatagramTransport *t);
        /* The largest datagram send() takes now: at most RUDP_DATAGRAM_MAX. */
        size_t (*max_payload)(DatagramTransport *t);
        /* The fd to wait on for EPOLLIN (and EPOLLOUT after -EAGAIN), or -EBADF when the owner
         * feeds the transport itself (hostd's peers share one socket). */
        int (*fd)(DatagramTransport *t);
        /* The clock rudp runs on, in microseconds. NULL: CLOCK_MONOTONIC, the clock of sd-event. */
        uint64_t (*now)(DatagramTransport *t);
        /* Optional: the transport's own timers (DTLS retransmission); UINT64_MAX when none. */
        uint64_t (*next_timeout)(DatagramTransport *t);
        void (*on_timeout)(DatagramTransport *t, uint64_t now_usec);
        void (*free)(DatagramTransport *t);
        /* Optional: a sentence on the last failure, or NULL. */
        const char *(*error)(DatagramTransport *t);
} DatagramTransportOps;

struct DatagramTransport {
        const DatagramTransportOps *ops;
};

static inline DatagramTransport *datagram_transport_free(DatagramTransport *t) {
        if (t)
                t->ops->free(t);
        return NULL;
}

static inline int datagram_transport_flush(DatagramTransport *t) {
        return t->ops->flush ? t->ops->flush(t) : 0;
}

static inline void datagram_transport_freep(DatagramTransport **t) {
        datagram_transport_free(*t);
}
