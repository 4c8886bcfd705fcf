#include "fd-datagram.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "rudp.h"

typedef struct FdDatagram {
        DatagramTransport t;
        int fd;
        FdDatagramOptions opts;
        uint64_t rng;
        bool held;
        uint64_t held_until;
        size_t held_len;
        uint8_t held_data[RUDP_DATAGRAM_MAX];
        /* The rate limit's queue: a ring of datagrams, each due when the link has sent it. */
        struct QueuedDatagram *queue;
        size_t queue_head, queue_len;
        uint64_t link_free; /* when the link has sent everything queued */
} FdDatagram;

#define FD_DATAGRAM_QUEUE_SLOTS 512u

typedef struct QueuedDatagram {
        uint64_t due;
        size_t len;
        uint8_t data[RUDP_DATAGRAM_MAX];
} QueuedDatagram;

static uint64_t monotonic_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static double uniform(FdDatagram *f) {
        uint64_t z = (f->rng += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        z ^= z >> 31;
        return (double) (z >> 11) / (double) (UINT64_C(1) << 53);
}

static ssize_t fdd_recv(DatagramTransport *t, void *buf, size_t n) {
        FdDatagram *f = (FdDatagram *) t;
        for (;;) {
                ssize_t k = recv(f->fd, buf, n, MSG_TRUNC);
                if (k < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN
                               : errno == EINTR                         ? -EINTR
                               : errno == ECONNREFUSED                  ? -EAGAIN /* ICMP: the peer is not there yet */
                                                                        : -errno;
                if ((size_t) k <= n)
                        return k;
                /* truncated: too large for us, dropped */
        }
}

static int raw_send(FdDatagram *f, const void *buf, size_t n) {
        if (send(f->fd, buf, n, MSG_NOSIGNAL) >= 0)
                return 0;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                return -EAGAIN;
        if (errno == ECONNREFUSED)
                return 0; /* an ICMP from an earlier datagram: this one may still arrive */
        return -errno;
}

static int release_held(FdDatagram *f) {
        if (!f->held)
                return 0;
        f->held = false;
        (void) raw_send(f, f->held_data, f->held_len); /* a held datagram may be lost: rudp copes */
        return 0;
}

/* Sends the queued datagrams the link has sent by now (all of them without a limit). */
static void release_queued(FdDatagram *f, uint64_t now) {
        while (f->queue_len > 0) {
                QueuedDatagram *q = &f->queue[f->queue_head];
                if (f->opts.rate > 0 && q->due > now)
                        return;
                if (raw_send(f, q->data, q->len) == -EAGAIN)
                        return; /* the socket is full: the next timeout tries again */
                f->queue_head = (f->queue_head + 1) % FD_DATAGRAM_QUEUE_SLOTS;
                f->queue_len--;
        }
}

static int shape(FdDatagram *f, const void *buf, size_t n) {
        uint64_t now = monotonic_usec();
        if (!f->queue) {
                f->queue = calloc(FD_DATAGRAM_QUEUE_SLOTS, sizeof(QueuedDatagram));
                if (!f->queue)
                        return -ENOMEM;
        }
        release_queued(f, now);
        f->link_free = MAX(f->link_free, now);
        if (f->link_free - now > f->opts.queue_usec || f->queue_len == FD_DATAGRAM_QUEUE_SLOTS)
                return 0; /* the bottleneck's queue is full: dropped */
        f->link_free += (uint64_t) n * 1000000 / f->opts.rate;
        QueuedDatagram *q = &f->queue[(f->queue_head + f->queue_len++) % FD_DATAGRAM_QUEUE_SLOTS];
        q->due = f->link_free;
        q->len = n;
        memcpy(q->data, buf, n);
        return 0;
}

static int fdd_send(DatagramTransport *t, const void *buf, size_t n) {
        FdDatagram *f = (FdDatagram *) t;
        if (n > f->opts.max_payload)
                return -EMSGSIZE;
        if (f->opts.loss > 0 && uniform(f) < f->opts.loss)
                return 0;
        if (f->opts.rate > 0)
                return shape(f, buf, n);
        if (f->queue_len > 0) {
                release_queued(f, 0); /* the limit was lifted: what waited goes first */
                if (f->queue_len > 0)
                        return -EAGAIN;
        }
        if (f->opts.reorder > 0 && !f->held && uniform(f) < f->opts.reorder) {
                memcpy(f->held_data, buf, n);
                f->held_len = n;
                f->held = true;
                f->held_until = monotonic_usec() + f->opts.hold_usec;
                return 0;
        }
        int r = raw_send(f, buf, n);
        if (r == 0)
                (void) release_held(f); /* after the one sent: reordered */
        return r;
}

static size_t fdd_max_payload(DatagramTransport *t) {
        return ((FdDatagram *) t)->opts.max_payload;
}

static int fdd_fd(DatagramTransport *t) {
        return ((FdDatagram *) t)->fd;
}

static uint64_t fdd_next_timeout(DatagramTransport *t) {
        FdDatagram *f = (FdDatagram *) t;
        uint64_t next = f->held ? f->held_until : UINT64_MAX;
        if (f->queue_len > 0)
                next = MIN(next, f->opts.rate > 0 ? f->queue[f->queue_head].due : 0);
        return next;
}

static void fdd_on_timeout(DatagramTransport *t, uint64_t now) {
        FdDatagram *f = (FdDatagram *) t;
        if (f->held && now >= f->held_until)
                (void) release_held(f);
        release_queued(f, now);
}

static void fdd_free(DatagramTransport *t) {
        FdDatagram *f = (FdDatagram *) t;
        close(f->fd);
        free(f->queue);
        free(f);
}

static const DatagramTransportOps fd_datagram_ops = {
        .recv = fdd_recv,
        .send = fdd_send,
        .max_payload = fdd_max_payload,
        .fd = fdd_fd,
        .next_timeout = fdd_next_timeout,
        .on_timeout = fdd_on_timeout,
        .free = fdd_free,
};

int fd_datagram_new(int fd, const FdDatagramOptions *opts, DatagramTransport **ret) {
        FdDatagram *f = calloc(1, sizeof(FdDatagram));
        if (!f) {
                close(fd);
                return -ENOMEM;
        }
        f->t.ops = &fd_datagram_ops;
        f->fd = fd;
        if (opts)
                f->opts = *opts;
        if (f->opts.max_payload == 0 || f->opts.max_payload > RUDP_DATAGRAM_MAX)
                f->opts.max_payload = RUDP_DATAGRAM_MAX;
        if (f->opts.hold_usec == 0)
                f->opts.hold_usec = 5000;
        if (f->opts.queue_usec == 0)
                f->opts.queue_usec = 50000;
        f->rng = f->opts.seed;
        *ret = &f->t;
        return 0;
}

void fd_datagram_set_impairment(DatagramTransport *t, double loss, double reorder) {
        FdDatagram *f = (FdDatagram *) t;
        f->opts.loss = loss;
        f->opts.reorder = reorder;
}

int fd_datagram_set_rate(DatagramTransport *t, uint64_t rate) {
        FdDatagram *f = (FdDatagram *) t;
        f->opts.rate = rate;
        if (rate == 0)
                release_queued(f, 0);
        return 0;
}
