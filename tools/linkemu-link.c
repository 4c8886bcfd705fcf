#include "linkemu-link.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

#define NSEC_PER_SEC 1000000000ull

void link_params_init(LinkParams *p) {
        *p = (LinkParams) {
                .burst_loss = 1,
                .reorder_delay_ns = LINK_REORDER_DELAY_DEFAULT,
                .queue_ns = LINK_QUEUE_NS_DEFAULT,
        };
}

Link *link_new(uint64_t seed) {
        Link *l = calloc(1, sizeof(*l));
        if (!l)
                return NULL;
        link_params_init(&l->params);
        rng_seed(&l->rng, seed);
        return l;
}

Link *link_free(Link *l) {
        if (!l)
                return NULL;
        packet_queue_clear(&l->queue);
        free(l);
        return NULL;
}

const char *link_drop_to_string(LinkDrop d) {
        static const char *const names[_LINK_DROP_MAX] = {
                [LINK_DROP_CUT] = "cut",     [LINK_DROP_UDP] = "udp",
                [LINK_DROP_BURST] = "burst", [LINK_DROP_LOSS] = "loss",
                [LINK_DROP_QUEUE] = "queue", [LINK_DROP_OVERFLOW] = "overflow",
                [LINK_DROP_WRITE] = "write",
        };
        return (unsigned) d < _LINK_DROP_MAX ? names[d] : NULL;
}

bool packet_is_udp(const uint8_t *data, size_t len) {
        if (len < 1)
                return false;
        switch (data[0] >> 4) {
        case 4:
                return len >= 20 && data[9] == 17;
        case 6:
                return len >= 40 && data[6] == 17;
        default:
                return false;
        }
}

/* Serialization time of len bytes at rate, rounded up so a rate is never exceeded. */
static uint64_t tx_time_ns(uint64_t len, uint64_t rate_bps) {
        return (len * 8 * NSEC_PER_SEC + rate_bps - 1) / rate_bps;
}

uint64_t link_queue_limit(const LinkParams *p) {
        if (p->rate_bps == 0)
                return 0;
        if (p->queue_ns > 0) {
                /* rate (<= 1e12) times seconds, split so neither product overflows */
                uint64_t s = p->queue_ns / NSEC_PER_SEC, ns = p->queue_ns % NSEC_PER_SEC;
                return (p->rate_bps * s + p->rate_bps / 1000 * ns / 1000000) / 8;
        }
        return p->queue_bytes;
}

uint64_t link_backlog_bytes(const Link *l, uint64_t now_ns) {
        if (l->params.rate_bps == 0 || l->link_free_ns <= now_ns)
                return 0;
        /* In floating point: the time times the rate overflows 64 bits past ~18 s at 1 Gbit/s. */
        return (uint64_t) ((double) (l->link_free_ns - now_ns) * (double) l->params.rate_bps / 8e9);
}

static void count_drop(Link *l, LinkDrop reason, size_t len, LinkDrop *ret_drop) {
        link_count_drop(l, reason, len);
        if (ret_drop)
                *ret_drop = reason;
}

static int64_t jitter_ns(Link *l) {
        uint64_t j = l->params.jitter_ns;
        if (j == 0)
                return 0;
        /* uniform in [-j, +j] */
        uint64_t span = 2 * j + 1;
        return (int64_t) (rng_next(&l->rng) % span) - (int64_t) j;
}

static int schedule(Link *l, uint64_t due_ns, const void *data, size_t len) {
        LinkPacket *pkt = malloc(sizeof(*pkt) + len);
        if (!pkt)
                return -ENOMEM;
        pkt->due_ns = due_ns;
        pkt->seq = l->seq++;
        pkt->len = len;
        memcpy(pkt->data, data, len);
        int r = packet_queue_push(&l->queue, pkt);
        if (r < 0)
                free(pkt);
        return r;
}

int link_submit(Link *l, uint64_t now_ns, const void *data, size_t len, LinkDrop *ret_drop) {
        const LinkParams *p = &l->params;

        if (len > LINK_PACKET_SIZE_MAX)
                return -EMSGSIZE;
        l->stats.in_packets++;
        l->stats.in_bytes += len;

        /* Every random decision is drawn for every packet that reaches it, in a fixed order, so a
         * seed and an arrival sequence give one outcome. */
        if (l->cut) {
                count_drop(l, LINK_DROP_CUT, len, ret_drop);
                return 0;
        }
        if (p->udp_blackhole && packet_is_udp(data, len)) {
                count_drop(l, LINK_DROP_UDP, len, ret_drop);
                return 0;
        }

        bool burst_lost = false;
        if (p->burst_p > 0) {
                /* Loss in the current state, then the state's transition. */
                burst_lost = rng_chance(&l->rng, l->burst_bad ? p->burst_loss : p->burst_good_loss);
                l->burst_bad = l->burst_bad ? !rng_chance(&l->rng, p->burst_r) : rng_chance(&l->rng, p->burst_p);
        }
        bool random_lost = rng_chance(&l->rng, p->loss);
        bool held_back = rng_chance(&l->rng, p->reorder);
        bool twice = rng_chance(&l->rng, p->duplicate);
        int64_t jitter = jitter_ns(l);

        if (burst_lost) {
                count_drop(l, LINK_DROP_BURST, len, ret_drop);
                return 0;
        }
        if (random_lost) {
                count_drop(l, LINK_DROP_LOSS, len, ret_drop);
                return 0;
        }
        if (l->queue.n + 2 > LINK_PACKETS_MAX || l->queue.bytes + 2 * len > LINK_BYTES_MAX) {
                count_drop(l, LINK_DROP_OVERFLOW, len, ret_drop);
                return 0;
        }

        uint64_t t = now_ns;
        if (p->rate_bps > 0) {
                uint64_t backlog = link_backlog_bytes(l, now_ns);
                /* An empty queue always takes one packet, so a bound below the MTU still passes. */
                if (backlog > 0 && backlog + len > link_queue_limit(p)) {
                        count_drop(l, LINK_DROP_QUEUE, len, ret_drop);
                        return 0;
                }
                t = MAX(now_ns, l->link_free_ns) + tx_time_ns(len, p->rate_bps);
                l->link_free_ns = t;
        }

        uint64_t due = t + p->delay_ns;
        if (jitter < 0 && (uint64_t) -jitter > p->delay_ns)
                due = t;
        else
                due = (uint64_t) ((int64_t) due + jitter);

        if (held_back) {
                /* Held back on its own: it neither waits for nor delays the in-order stream. */
                due += p->reorder_delay_ns;
                l->stats.reordered++;
        } else if (!p->jitter_reorder) {
                due = MAX(due, l->last_due_ns);
                l->last_due_ns = due;
        }

        int r = schedule(l, due, data, len);
        if (r < 0)
                return r;
        if (twice && schedule(l, due, data, len) >= 0)
                l->stats.duplicated++;
        return 1;
}

bool link_next_due(const Link *l, uint64_t *ret_ns) {
        const LinkPacket *pkt = packet_queue_peek(&l->queue);
        if (!pkt)
                return false;
        *ret_ns = pkt->due_ns;
        return true;
}

LinkPacket *link_pop_due(Link *l, uint64_t now_ns) {
        const LinkPacket *pkt = packet_queue_peek(&l->queue);
        if (!pkt || pkt->due_ns > now_ns)
                return NULL;
        return packet_queue_pop(&l->queue);
}

void link_count_out(Link *l, size_t len) {
        l->stats.out_packets++;
        l->stats.out_bytes += len;
}

void link_count_drop(Link *l, LinkDrop reason, size_t len) {
        l->stats.dropped[reason]++;
        l->stats.dropped_bytes += len;
}

void link_set_cut(Link *l, bool cut) {
        l->cut = cut;
        if (!cut)
                return;
        LinkPacket *pkt;
        while ((pkt = packet_queue_pop(&l->queue))) {
                link_count_drop(l, LINK_DROP_CUT, pkt->len);
                free(pkt);
        }
        /* What was queued for the serializer is gone with it. */
        l->link_free_ns = 0;
        l->last_due_ns = 0;
}
