/* The two ends share a Path: one queue of datagrams per direction, ordered by arrival time. */
#include "mem-datagram.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "rudp.h"

typedef struct Datagram {
        uint64_t arrival;
        uint64_t seq; /* keeps equal arrival times in sending order */
        size_t len;
        uint8_t *data;
} Datagram;

typedef struct Queue {
        Datagram *d;
        size_t n, cap;
} Queue;

typedef struct Path {
        MemDatagramOptions opts;
        uint64_t now, rng, seq;
        double loss[2];
        Queue q[2]; /* q[i]: toward end i */
        unsigned refs;
} Path;

typedef struct MemDatagram {
        DatagramTransport t;
        Path *path;
        int side;
        uint64_t sent, dropped, oversize;
        uint8_t last[RUDP_DATAGRAM_MAX];
        size_t last_len;
        uint64_t stall; /* the next recv() moves the clock on by this much first */
} MemDatagram;

static uint64_t next_random(Path *p) {
        /* splitmix64 */
        uint64_t z = (p->rng += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static double uniform(Path *p) {
        return (double) (next_random(p) >> 11) / (double) (UINT64_C(1) << 53);
}

static int queue_insert(Path *p, Queue *q, uint64_t arrival, const void *data, size_t len) {
        if (q->n >= p->opts.queue_max)
                return -ENOBUFS;
        if (q->n == q->cap) {
                size_t cap = MAX(q->cap * 2, (size_t) 16);
                Datagram *d = realloc(q->d, cap * sizeof(Datagram));
                if (!d)
                        return -ENOMEM;
                q->d = d;
                q->cap = cap;
        }
        uint8_t *copy = malloc(MAX(len, (size_t) 1));
        if (!copy)
                return -ENOMEM;
        memcpy(copy, data, len);
        Datagram dg = { .arrival = arrival, .seq = p->seq++, .len = len, .data = copy };
        size_t i = q->n;
        while (i > 0 && q->d[i - 1].arrival > arrival)
                i--;
        memmove(q->d + i + 1, q->d + i, (q->n - i) * sizeof(Datagram));
        q->d[i] = dg;
        q->n++;
        return 0;
}

static void path_unref(Path *p) {
        if (--p->refs > 0)
                return;
        for (int i = 0; i < 2; i++) {
                for (size_t k = 0; k < p->q[i].n; k++)
                        free(p->q[i].d[k].data);
                free(p->q[i].d);
        }
        free(p);
}

static ssize_t md_recv(DatagramTransport *t, void *buf, size_t n) {
        MemDatagram *m = (MemDatagram *) t;
        Path *p = m->path;
        Queue *q = &p->q[m->side];

        p->now += m->stall;
        m->stall = 0;
        for (;;) {
                if (q->n == 0 || q->d[0].arrival > p->now)
                        return -EAGAIN;
                Datagram d = q->d[0];
                memmove(q->d, q->d + 1, (q->n - 1) * sizeof(Datagram));
                q->n--;
                if (d.len > n) {
                        free(d.data);
                        continue; /* as a socket would truncate it: dropped */
                }
                memcpy(buf, d.data, d.len);
                free(d.data);
                return (ssize_t) d.len;
        }
}

static int md_send(DatagramTransport *t, const void *buf, size_t n) {
        MemDatagram *m = (MemDatagram *) t;
        Path *p = m->path;

        if (n > p->opts.max_payload) {
                m->oversize++;
                return -EMSGSIZE;
        }
        memcpy(m->last, buf, MIN(n, sizeof(m->last)));
        m->last_len = MIN(n, sizeof(m->last));
        m->sent++;
        if (p->refs < 2 || uniform(p) < p->loss[m->side]) {
                m->dropped++;
                return 0;
        }
        uint64_t arrival = p->now + p->opts.delay_usec;
        if (p->opts.reorder > 0 && uniform(p) < p->opts.reorder)
                arrival += p->opts.reorder_usec;
        if (queue_insert(p, &p->q[1 - m->side], arrival, buf, n) < 0)
                m->dropped++;
        return 0;
}

static size_t md_max_payload(DatagramTransport *t) {
        return ((MemDatagram *) t)->path->opts.max_payload;
}

static int md_fd(DatagramTransport *t) {
        return -EBADF;
}

static uint64_t md_now(DatagramTransport *t) {
        return ((MemDatagram *) t)->path->now;
}

static void md_free(DatagramTransport *t) {
        MemDatagram *m = (MemDatagram *) t;
        path_unref(m->path);
        free(m);
}

static const DatagramTransportOps mem_datagram_ops = {
        .recv = md_recv,
        .send = md_send,
        .max_payload = md_max_payload,
        .fd = md_fd,
        .now = md_now,
        .free = md_free,
};

int mem_datagram_pair(const MemDatagramOptions *opts, DatagramTransport **ret_a, DatagramTransport **ret_b) {
        Path *p = calloc(1, sizeof(Path));
        MemDatagram *a = calloc(1, sizeof(MemDatagram)), *b = calloc(1, sizeof(MemDatagram));
        if (!p || !a || !b) {
                free(p);
                free(a);
                free(b);
                return -ENOMEM;
        }
        if (opts)
                p->opts = *opts;
        if (p->opts.max_payload == 0 || p->opts.max_payload > RUDP_DATAGRAM_MAX)
                p->opts.max_payload = RUDP_DATAGRAM_MAX;
        if (p->opts.queue_max == 0)
                p->opts.queue_max = 4096;
        p->rng = p->opts.seed;
        p->loss[0] = p->loss[1] = p->opts.loss;
        p->now = 1000000;
        p->refs = 2;
        *a = (MemDatagram) { .t.ops = &mem_datagram_ops, .path = p, .side = 0 };
        *b = (MemDatagram) { .t.ops = &mem_datagram_ops, .path = p, .side = 1 };
        *ret_a = &a->t;
        *ret_b = &b->t;
        return 0;
}

void mem_datagram_set_now(DatagramTransport *t, uint64_t now_usec) {
        Path *p = ((MemDatagram *) t)->path;
        p->now = MAX(p->now, now_usec);
}

uint64_t mem_datagram_get_now(DatagramTransport *t) {
        return ((MemDatagram *) t)->path->now;
}

uint64_t mem_datagram_next_arrival(DatagramTransport *t) {
        MemDatagram *m = (MemDatagram *) t;
        Queue *q = &m->path->q[m->side];
        return q->n > 0 ? q->d[0].arrival : UINT64_MAX;
}

void mem_datagram_stall_recv(DatagramTransport *t, uint64_t usec) {
        ((MemDatagram *) t)->stall = usec;
}

void mem_datagram_set_loss(DatagramTransport *t, double loss) {
        MemDatagram *m = (MemDatagram *) t;
        m->path->loss[m->side] = loss;
}

void mem_datagram_counts(DatagramTransport *t, uint64_t *sent, uint64_t *dropped, uint64_t *oversize) {
        MemDatagram *m = (MemDatagram *) t;
        *sent = m->sent;
        *dropped = m->dropped;
        *oversize = m->oversize;
}

void mem_datagram_set_max_payload(DatagramTransport *t, size_t max_payload) {
        MemDatagram *m = (MemDatagram *) t;
        m->path->opts.max_payload = MIN(max_payload, (size_t) RUDP_DATAGRAM_MAX);
}

int mem_datagram_inject(DatagramTransport *t, const void *data, size_t n) {
        MemDatagram *m = (MemDatagram *) t;
        return queue_insert(m->path, &m->path->q[m->side], m->path->now, data, n);
}

size_t mem_datagram_last_sent(DatagramTransport *t, void *buf, size_t size) {
        MemDatagram *m = (MemDatagram *) t;
        size_t n = MIN(size, m->last_len);
        memcpy(buf, m->last, n);
        return n;
}
