#include "udp-batch.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/uio.h>

#include "macro.h"

/* One sendmmsg() message: a run of datagrams, GSO when longer than one. */
typedef struct TxRun {
        unsigned first, count;
        union {
                char buf[CMSG_SPACE(sizeof(uint16_t))];
                struct cmsghdr align;
        } control;
} TxRun;

/* Runs from datagram i on: equal lengths, a shorter one may end a run. Without GSO, one each. */
static unsigned make_runs(const UdpTxBatch *b, unsigned i, TxRun *runs) {
        unsigned n = 0;
        while (i < b->n) {
                unsigned j = i + 1;
                if (!b->gso_off)
                        while (j < b->n && b->len[j] <= b->len[i]) {
                                j++;
                                if (b->len[j - 1] < b->len[i])
                                        break; /* a shorter datagram is a run's last */
                        }
                runs[n++] = (TxRun) { .first = i, .count = j - i };
                i = j;
        }
        return n;
}

static bool transient(int e) {
        return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || e == ECONNREFUSED || e == EINTR;
}

int udp_tx_flush(UdpTxBatch *b, int fd, const struct sockaddr *to, socklen_t to_len, size_t *refused_len) {
        if (refused_len)
                *refused_len = 0;
        TxRun runs[UDP_TX_BATCH];
        struct mmsghdr msgs[UDP_TX_BATCH];
        struct iovec iov[UDP_TX_BATCH];
        int result = 0;
        unsigned at = 0; /* the first datagram not yet handed to the kernel */

        while (at < b->n) {
                unsigned nruns = make_runs(b, at, runs);
                for (unsigned r = 0; r < nruns; r++) {
                        TxRun *run = &runs[r];
                        for (unsigned k = 0; k < run->count; k++)
                                iov[run->first + k] = (struct iovec) { b->data[run->first + k], b->len[run->first + k] };
                        msgs[r] = (struct mmsghdr) { .msg_hdr = {
                                .msg_name = (void *) to,
                                .msg_namelen = to ? to_len : 0,
                                .msg_iov = &iov[run->first],
                                .msg_iovlen = run->count,
                        } };
                        if (run->count > 1) {
                                struct msghdr *h = &msgs[r].msg_hdr;
                                h->msg_control = run->control.buf;
                                h->msg_controllen = sizeof(run->control.buf);
                                struct cmsghdr *c = CMSG_FIRSTHDR(h);
                                c->cmsg_level = SOL_UDP;
                                c->cmsg_type = UDP_SEGMENT;
                                c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
                                uint16_t seg = b->len[run->first];
                                memcpy(CMSG_DATA(c), &seg, sizeof(seg));
                        }
                }
                int sent = sendmmsg(fd, msgs, nruns, MSG_NOSIGNAL);
                if (sent > 0) {
                        for (int r = 0; r < sent; r++)
                                at += runs[r].count;
                        continue;
                }
                /* The first message failed: what it says decides for it alone. */
                int e = sent < 0 ? errno : EAGAIN;
                TxRun *run = &runs[0];
                if (run->count > 1 && (e == EIO || e == EINVAL)) {
                        b->gso_off = true; /* no GSO on this path (or a segment above its MTU): send singly */
                        continue;
                }
                if (e == EMSGSIZE) {
                        if (refused_len)
                                *refused_len = MAX(*refused_len, (size_t) b->len[run->first]);
                        result = result ?: -EMSGSIZE;
                } else if (transient(e)) {
                        b->dropped += run->count;
                        if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
                                /* The socket is full: the rest would not fit either. */
                                b->dropped += b->n - at - run->count;
                                break;
                        }
                } else if (result == 0 || result == -EMSGSIZE)
                        result = -e;
                at += run->count;
        }
        b->n = 0;
        return result;
}

int udp_rx_fill(UdpRxBatch *b, int fd) {
        struct mmsghdr msgs[UDP_RX_BATCH];
        struct iovec iov[UDP_RX_BATCH];

        for (unsigned i = 0; i < UDP_RX_BATCH; i++) {
                iov[i] = (struct iovec) { b->data[i], sizeof(b->data[i]) };
                msgs[i] = (struct mmsghdr) { .msg_hdr = {
                        .msg_name = &b->from[i],
                        .msg_namelen = sizeof(b->from[i]),
                        .msg_iov = &iov[i],
                        .msg_iovlen = 1,
                } };
        }
        b->n = b->next = 0;
        int n = recvmmsg(fd, msgs, UDP_RX_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        if (n == 0)
                return -EAGAIN;
        for (int i = 0; i < n; i++) {
                b->truncated[i] = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
                b->len[i] = (uint16_t) MIN(msgs[i].msg_len, (unsigned) UDP_RX_DATAGRAM_MAX);
                b->from_len[i] = msgs[i].msg_hdr.msg_namelen;
        }
        b->n = (unsigned) n;
        return n;
}

void udp_socket_set_buffers(int fd, int bytes) {
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

int udp_gro_enable(int fd) {
        int one = 1;
        return setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) < 0 ? -errno : 0;
}

int udp_gro_fill(UdpGroBatch *b, int fd) {
        struct mmsghdr msgs[UDP_GRO_MESSAGES];
        struct iovec iov[UDP_GRO_MESSAGES];
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } control[UDP_GRO_MESSAGES];

        for (unsigned i = 0; i < UDP_GRO_MESSAGES; i++) {
                iov[i] = (struct iovec) { b->data[i], sizeof(b->data[i]) };
                msgs[i] = (struct mmsghdr) { .msg_hdr = {
                        .msg_iov = &iov[i],
                        .msg_iovlen = 1,
                        .msg_control = control[i].buf,
                        .msg_controllen = sizeof(control[i].buf),
                } };
        }
        b->n = b->next = 0;
        int n = recvmmsg(fd, msgs, UDP_GRO_MESSAGES, MSG_DONTWAIT, NULL);
        if (n < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        for (int i = 0; i < n; i++) {
                struct msghdr *h = &msgs[i].msg_hdr;
                size_t len = msgs[i].msg_len, seg = len;
                if (h->msg_flags & MSG_TRUNC) {
                        b->dropped++;
                        continue;
                }
                for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
                        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
                                int g;
                                memcpy(&g, CMSG_DATA(c), sizeof(g));
                                if (g > 0)
                                        seg = (size_t) g;
                        }
                for (size_t off = 0; off < len; off += seg) {
                        if (b->n == UDP_GRO_SLOTS) {
                                b->dropped++;
                                break;
                        }
                        b->ptr[b->n] = b->data[i] + off;
                        b->len[b->n++] = (uint16_t) MIN(seg, len - off);
                }
        }
        return b->n > 0 ? (int) b->n : -EAGAIN;
}
