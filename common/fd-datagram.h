/* A DatagramTransport over a connected datagram socket (UDP, or an AF_UNIX SOCK_DGRAM pair),
 * without encryption: for tests and benchmarks of the layers above DTLS. Optional impairment on
 * the sending side: random loss, and reordering (a datagram held back until the next one went,
 * or for hold_usec at most), from a seeded generator; and a rate limit: datagrams leave at rate
 * bytes/s from a queue of queue_usec at most (a bottleneck link; what would wait longer is
 * dropped, as a router's full queue does). Held and queued datagrams go from the transport's
 * timers (next_timeout/on_timeout). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "datagram-transport.h"

typedef struct FdDatagramOptions {
        double loss;        /* fraction of sends dropped */
        double reorder;     /* fraction of sends held back behind the next one */
        uint64_t hold_usec; /* longest hold; 0: 5 ms */
        size_t max_payload; /* 0: RUDP_DATAGRAM_MAX */
        uint64_t seed;
        uint64_t rate;       /* bytes/s; 0: no limit. Reordering is not applied under a limit */
        uint64_t queue_usec; /* the bottleneck's queue; 0: 50 ms */
} FdDatagramOptions;

/* Takes ownership of fd (non-blocking, connected; closed by free and on failure). opts may be
 * NULL. Returns 0 or -ENOMEM. */
int fd_datagram_new(int fd, const FdDatagramOptions *opts, DatagramTransport **ret);
/* Changes the impairment from now on. */
void fd_datagram_set_impairment(DatagramTransport *t, double loss, double reorder);
/* Changes the rate limit from now on (0: none; what is queued then goes at once). Returns 0. */
int fd_datagram_set_rate(DatagramTransport *t, uint64_t rate);
