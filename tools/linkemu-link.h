/* One direction of an emulated link: the impairments applied to the IP packets that enter it and
 * the schedule of their delivery. Pure logic on a caller-supplied clock (nanoseconds, any epoch),
 * so the unit tests drive it with a fake one and the forwarder with CLOCK_MONOTONIC.
 *
 * A packet entering at `now` goes through, in order: cut, UDP blackhole, Gilbert-Elliott (bursty)
 * loss, Bernoulli loss, the rate limiter (a serializer at `rate` with a drop-tail queue bounded in
 * bytes or in time at the rate), then one-way delay with jitter, reordering (a packet held back
 * by reorder_delay so later ones overtake it) and duplication. Each packet's delivery time is
 * fixed when it enters: a parameter change applies to the packets that enter after it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkemu-queue.h"
#include "macro.h"
#include "linkemu-rand.h"

typedef struct LinkParams {
        uint64_t delay_ns;
        uint64_t jitter_ns;        /* uniform in [-jitter, +jitter] around delay, never below 0 */
        bool jitter_reorder;       /* jitter may reorder; else delivery keeps arrival order */
        double loss;               /* Bernoulli, per packet */
        double burst_p;            /* Gilbert-Elliott: P(good -> bad) per packet; 0 = off */
        double burst_r;            /* P(bad -> good) per packet: mean bad run is 1/r packets */
        double burst_loss;         /* loss probability in the bad state */
        double burst_good_loss;    /* loss probability in the good state */
        double reorder;            /* probability a packet is held back */
        uint64_t reorder_delay_ns; /* how long a held-back packet waits beyond its delay */
        double duplicate;          /* probability a packet is delivered twice */
        uint64_t rate_bps;         /* bits per second; 0 = unlimited (no queue either) */
        uint64_t queue_bytes;      /* drop-tail bound of the rate limiter's queue ... */
        uint64_t queue_ns;         /* ... or, when non-zero, this much time at the rate */
        bool udp_blackhole;        /* drop every UDP packet (IPv4 and IPv6) */
} LinkParams;

#define LINK_REORDER_DELAY_DEFAULT 5000000ull /* 5 ms */
#define LINK_QUEUE_NS_DEFAULT 100000000ull    /* 100 ms at the rate */

/* No impairment; when enabled, a bad Gilbert-Elliott state loses everything, a held-back packet
 * waits LINK_REORDER_DELAY_DEFAULT and a rate limit queues LINK_QUEUE_NS_DEFAULT. */
void link_params_init(LinkParams *p);

typedef enum LinkDrop {
        LINK_DROP_CUT,
        LINK_DROP_UDP,
        LINK_DROP_BURST,
        LINK_DROP_LOSS,
        LINK_DROP_QUEUE,
        LINK_DROP_OVERFLOW, /* the emulator's own bound on packets in flight */
        LINK_DROP_WRITE,    /* the far TUN refused it */
        _LINK_DROP_MAX,
} LinkDrop;

typedef struct LinkStats {
        uint64_t in_packets, in_bytes;
        uint64_t out_packets, out_bytes;
        uint64_t dropped[_LINK_DROP_MAX];
        uint64_t dropped_bytes;
        uint64_t duplicated, reordered;
} LinkStats;

/* Bounds on what one direction holds, whatever the parameters: memory stays bounded even with
 * a long delay and no rate limit. */
#define LINK_PACKETS_MAX 32768
#define LINK_BYTES_MAX (64u << 20)
#define LINK_PACKET_SIZE_MAX 65535

typedef struct Link {
        LinkParams params;
        bool cut;
        Rng rng;
        bool burst_bad;          /* Gilbert-Elliott state */
        uint64_t link_free_ns;   /* when the serializer finishes what it has */
        uint64_t last_due_ns;    /* latest delivery so far, for in-order delivery */
        uint64_t seq;
        PacketQueue queue;
        LinkStats stats;
} Link;

Link *link_new(uint64_t seed);
Link *link_free(Link *l);
static inline void link_freep(Link **l) { link_free(*l); }

/* Returns 1 if the packet was scheduled, 0 if dropped (the reason is counted in the stats and
 * returned in *ret_drop when given), -ENOMEM, or -EMSGSIZE above LINK_PACKET_SIZE_MAX. */
int link_submit(Link *l, uint64_t now_ns, const void *data, size_t len, LinkDrop *ret_drop);

/* When the next packet is due; false when nothing is scheduled. */
bool link_next_due(const Link *l, uint64_t *ret_ns);

/* The next packet due at or before now, removed (the caller frees it and counts it with
 * link_count_out or link_count_drop), or NULL. */
LinkPacket *link_pop_due(Link *l, uint64_t now_ns);

void link_count_out(Link *l, size_t len);
void link_count_drop(Link *l, LinkDrop reason, size_t len);

/* Cutting drops everything in flight and everything that enters until restored. */
void link_set_cut(Link *l, bool cut);

/* Bytes waiting for the serializer at now (0 without a rate limit). */
uint64_t link_backlog_bytes(const Link *l, uint64_t now_ns);
/* The queue bound in bytes the parameters give now (0 without a rate limit). */
uint64_t link_queue_limit(const LinkParams *p);

/* "cut", "udp", "burst", ... for stats; NULL out of range. */
const char *link_drop_to_string(LinkDrop d);

/* True for an IPv4 or IPv6 packet carrying UDP (IPv6: UDP as the first next header). */
bool packet_is_udp(const uint8_t *data, size_t len);
