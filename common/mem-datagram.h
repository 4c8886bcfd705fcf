/* In-memory DatagramTransport pairs for tests and fuzzers: a path on a virtual clock with a
 * one-way delay, random loss and reordering drawn from a seeded generator (a run is a function of
 * its seed). Plaintext: no DTLS. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datagram-transport.h"

typedef struct MemDatagramOptions {
        uint64_t delay_usec;   /* one way */
        double loss;           /* fraction of datagrams dropped, each direction */
        double reorder;        /* fraction of datagrams held back by reorder_usec */
        uint64_t reorder_usec;
        size_t max_payload;    /* 0: RUDP_DATAGRAM_MAX */
        size_t queue_max;      /* datagrams in flight per direction, beyond: dropped; 0: 4096 */
        uint64_t seed;
} MemDatagramOptions;

/* Two ends sharing one clock, starting at 1 s. Freeing one end makes the other's recv() return
 * what is in flight, then -EAGAIN forever (a datagram path has no end of stream). */
int mem_datagram_pair(const MemDatagramOptions *opts, DatagramTransport **ret_a, DatagramTransport **ret_b);

/* The pair's clock (either end). */
void mem_datagram_set_now(DatagramTransport *t, uint64_t now_usec);
uint64_t mem_datagram_get_now(DatagramTransport *t);
/* When the next datagram toward this end arrives; UINT64_MAX when none is in flight. */
uint64_t mem_datagram_next_arrival(DatagramTransport *t);
/* The next recv() on this end comes usec late, as after a process preempted between its clock
 * read and the recv(): the pair's clock moves on by usec first, and what arrived meanwhile is
 * there to take. */
void mem_datagram_stall_recv(DatagramTransport *t, uint64_t usec);
/* Loss of the direction away from this end, from now on. */
void mem_datagram_set_loss(DatagramTransport *t, double loss);
/* What this end sent, what of it the path dropped, and the sends refused as over max_payload. */
void mem_datagram_counts(DatagramTransport *t, uint64_t *sent, uint64_t *dropped, uint64_t *oversize);
/* A smaller path MTU from now on (both directions): larger sends are -EMSGSIZE. */
void mem_datagram_set_max_payload(DatagramTransport *t, size_t max_payload);
/* Delivers n bytes to this end now, as if they came from the peer (garbage, replays). */
int mem_datagram_inject(DatagramTransport *t, const void *data, size_t n);
/* The last datagram this end sent, for replays: its length, 0 when none. */
size_t mem_datagram_last_sent(DatagramTransport *t, void *buf, size_t size);
