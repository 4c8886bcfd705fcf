/* In-memory transport pairs: two buffers shared by two ends. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "buffer.h"
#include "macro.h"
#include "mem-transport.h"

typedef struct MemShared {
        Buffer pipe[2]; /* pipe[i]: written by end i, read by end 1-i */
        MemTransportOptions opts;
        uint64_t rng;
        bool closed[2];
        unsigned refs;
} MemShared;

typedef struct MemTransport {
        ByteTransport base;
        MemShared *shared;
        unsigned side;
        int error;
        bool read_blocked, write_blocked;
} MemTransport;

static uint64_t mem_rng(MemShared *s) {
        /* xorshift64: deterministic, so a fuzzer input replays the same splits. */
        s->rng ^= s->rng << 13;
        s->rng ^= s->rng >> 7;
        s->rng ^= s->rng << 17;
        return s->rng;
}

/* How much of n this call may move: 0 means -EAGAIN. */
static size_t mem_chunk(MemShared *s, size_t n) {
        size_t max = s->opts.max_chunk ? MIN(n, s->opts.max_chunk) : n;
        if (!s->opts.seed || max == 0)
                return max;
        uint64_t v = mem_rng(s);
        if ((v & 3) == 0)
                return 0;
        return 1 + (size_t) ((v >> 2) % max);
}

static ssize_t mem_read(ByteTransport *t, void *buf, size_t n) {
        MemTransport *m = (MemTransport *) t;
        MemShared *s = m->shared;
        Buffer *in = &s->pipe[1 - m->side];

        if (m->error < 0)
                return m->error;
        m->read_blocked = false;
        if (buffer_len(in) == 0) {
                if (s->closed[1 - m->side])
                        return 0;
                m->read_blocked = true;
                return -EAGAIN;
        }
        size_t k = mem_chunk(s, MIN(n, buffer_len(in)));
        if (k == 0) {
                m->read_blocked = true;
                return -EAGAIN;
        }
        memcpy(buf, buffer_data(in), k);
        buffer_consume(in, k);
        return (ssize_t) k;
}

static ssize_t mem_write(ByteTransport *t, const void *buf, size_t n) {
        MemTransport *m = (MemTransport *) t;
        MemShared *s = m->shared;
        Buffer *out = &s->pipe[m->side];
        int r;

        if (m->error < 0)
                return m->error;
        if (s->closed[1 - m->side])
                return -EPIPE;
        size_t k = mem_chunk(s, MIN(n, buffer_room(out)));
        m->write_blocked = k == 0;
        if (k == 0)
                return -EAGAIN;
        r = buffer_append(out, buf, k);
        if (r < 0)
                return r;
        return (ssize_t) k;
}

static int mem_fd(ByteTransport *t) {
        return -EBADF;
}

static uint32_t mem_poll_events(ByteTransport *t) {
        MemTransport *m = (MemTransport *) t;
        return (m->read_blocked ? EPOLLIN : 0) | (m->write_blocked ? EPOLLOUT : 0);
}

static void mem_free(ByteTransport *t) {
        MemTransport *m = (MemTransport *) t;
        MemShared *s = m->shared;

        s->closed[m->side] = true;
        if (--s->refs == 0) {
                buffer_done(&s->pipe[0]);
                buffer_done(&s->pipe[1]);
                free(s);
        }
        free(m);
}

static const ByteTransportOps mem_ops = {
        .read = mem_read,
        .write = mem_write,
        .fd = mem_fd,
        .poll_events = mem_poll_events,
        .free = mem_free,
};

int mem_transport_pair(const MemTransportOptions *opts, ByteTransport **ret_a, ByteTransport **ret_b) {
        MemShared *s = calloc(1, sizeof(MemShared));
        MemTransport *a = calloc(1, sizeof(MemTransport)), *b = calloc(1, sizeof(MemTransport));
        if (!s || !a || !b) {
                free(s);
                free(a);
                free(b);
                return -ENOMEM;
        }
        s->opts = opts ? *opts : (MemTransportOptions) {};
        if (s->opts.capacity == 0)
                s->opts.capacity = 64u << 20;
        s->rng = s->opts.seed;
        buffer_init(&s->pipe[0], s->opts.capacity);
        buffer_init(&s->pipe[1], s->opts.capacity);
        s->refs = 2;
        *a = (MemTransport) { .base.ops = &mem_ops, .shared = s, .side = 0 };
        *b = (MemTransport) { .base.ops = &mem_ops, .shared = s, .side = 1 };
        *ret_a = &a->base;
        *ret_b = &b->base;
        return 0;
}

void mem_transport_set_error(ByteTransport *t, int error) {
        if (t && t->ops == &mem_ops)
                ((MemTransport *) t)->error = error;
}
