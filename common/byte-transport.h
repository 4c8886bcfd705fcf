/* A non-blocking byte stream under the channel layer: TLS/TCP now, reliable UDP later. WireConn
 * frames messages over any implementation of these operations. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ByteTransport ByteTransport;

typedef struct ByteTransportOps {
        /* >0 bytes read, 0 at the end of the stream, -EAGAIN when nothing is available now, other
         * negative errno on failure. A transport that buffers internally (TLS) returns what it
         * holds before it ever says -EAGAIN, so after -EAGAIN waiting on fd() loses nothing. */
        ssize_t (*read)(ByteTransport *t, void *buf, size_t n);
        /* >0 bytes taken, -EAGAIN, or negative errno. n is never 0. After -EAGAIN the caller
         * retries with at least the bytes it offered (TLS requires it). */
        ssize_t (*write)(ByteTransport *t, const void *buf, size_t n);
        int (*fd)(ByteTransport *t);
        /* The epoll events the operations that last returned -EAGAIN wait for: EPOLLIN or EPOLLOUT
         * (TLS may need to write to read, or to read to write); 0 when none is blocked. */
        uint32_t (*poll_events)(ByteTransport *t);
        void (*free)(ByteTransport *t);
        /* Optional: a sentence on the last failure, or NULL. Valid until the next call. */
        const char *(*error)(ByteTransport *t);
} ByteTransportOps;

struct ByteTransport {
        const ByteTransportOps *ops;
};

static inline ByteTransport *byte_transport_free(ByteTransport *t) {
        if (t)
                t->ops->free(t);
        return NULL;
}

static inline void byte_transport_freep(ByteTransport **t) {
        byte_transport_free(*t);
}

static inline const char *byte_transport_error(ByteTransport *t) {
        return t && t->ops->error ? t->ops->error(t) : NULL;
}

/* A plain socket or pipe: read(2)/send(2) without SIGPIPE. Takes ownership of fd (closed by free
 * and also on failure), which should be non-blocking. Returns 0 or -ENOMEM. */
int fd_transport_new(int fd, ByteTransport **ret);
