/* In-memory ByteTransport pairs for tests and fuzzers: what one end writes the other reads. Reads
 * and writes can be cut short at pseudo-random lengths and interleaved with -EAGAIN, so that the
 * layers above see their input split at every point (spice-vdagent's lesson). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "byte-transport.h"

typedef struct MemTransportOptions {
        size_t capacity;  /* bytes in flight per direction; writes say -EAGAIN when full; 0: 64 MiB */
        size_t max_chunk; /* most bytes per read or write; 0: no limit */
        /* Non-zero: each read and write is cut to a length in [1, max_chunk] drawn from this seed,
         * and about one call in four returns -EAGAIN instead. */
        uint64_t seed;
} MemTransportOptions;

/* Two connected ends (opts may be NULL). Freeing one end is an end of stream for the other: its
 * reads return 0 once drained, its writes -EPIPE. fd() is -EBADF. Returns 0 or -ENOMEM. */
int mem_transport_pair(const MemTransportOptions *opts, ByteTransport **ret_a, ByteTransport **ret_b);

/* Makes every later read and write of this end fail with error (< 0). */
void mem_transport_set_error(ByteTransport *t, int error);
