/* A DatagramTransport over a connected datagram socket (UDP, or an AF_UNIX SOCK_DGRAM pair),
 * without encryption: for tests and benchmarks of the layers above DTLS. Optional impairment on
 * the sending side: random loss, and reordering (a datagram held back until the next one went,
 * or for hold_usec at most), from a seeded generator. */
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
} FdDatagramOptions;

/* Takes ownership of fd (non-blocking, connected; closed by free and on failure). opts may be
 * NULL. Returns 0 or -ENOMEM. */
int fd_datagram_new(int fd, const FdDatagramOptions *opts, DatagramTransport **ret);
/* Changes the impairment from now on. */
void fd_datagram_set_impairment(DatagramTransport *t, double loss, double reorder);
