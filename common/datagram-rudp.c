/* An owner's clock and datagrams in (see datagram-rudp.h). */
#include "datagram-rudp.h"

#include <errno.h>
#include <limits.h>
#include <time.h>

#include "macro.h"

uint64_t datagram_transport_now(DatagramTransport *t) {
        if (t->ops->now)
                return t->ops->now(t);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

int datagram_rudp_receive(DatagramTransport *t, Rudp *r, size_t max) {
        uint8_t d[RUDP_DATAGRAM_MAX];
        size_t taken = 0;
        while (taken < max) {
                ssize_t n = t->ops->recv(t, d, sizeof(d));
                if (n == -EAGAIN)
                        break;
                if (n < 0)
                        return (int) n;
                /* Now, not before the recv(): see the header. */
                int k = rudp_receive_datagram(r, d, (size_t) n, datagram_transport_now(t));
                if (k < 0)
                        return k;
                taken++;
        }
        return (int) MIN(taken, (size_t) INT_MAX);
}
