/* rudp's congestion controller, after BBR (Cardwell et al., "BBR: Congestion-Based Congestion
 * Control", ACM Queue 2016, and the IETF drafts): a model of the path (bottleneck bandwidth, the
 * maximum delivery rate over ten round trips; propagation delay, the minimum RTT over ten seconds)
 * sets the pacing rate and the window. Random loss below a bound does not lower the model; a
 * round trip losing more than RUDP_BBR_LOSS_THRESH of its packets does. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "rudp.h"

#define RUDP_MSS RUDP_DATAGRAM_MAX
#define RUDP_BBR_LOSS_THRESH 0.15
#define RUDP_BBR_BW_ROUNDS 10

/* One acknowledgement's delivery-rate sample (draft-cheng-iccrg-delivery-rate-estimation). */
typedef struct RudpRateSample {
        uint64_t delivered;       /* bytes delivered over the interval */
        uint64_t interval_usec;   /* 0: no sample */
        uint64_t prior_delivered; /* the connection's delivered count when the packet was sent */
        bool app_limited;
        uint64_t rtt_usec;        /* of the newest packet acknowledged, 0 when none */
        uint64_t newly_acked, newly_lost; /* bytes */
        unsigned acked_packets, lost_packets;
} RudpRateSample;

typedef struct RudpBbr {
        RudpCcState state;
        double pacing_gain, cwnd_gain;
        uint64_t pacing_rate, cwnd; /* bytes/s, bytes */

        /* Round trips: a round ends when a packet sent after its start is acknowledged. */
        uint64_t round_count, next_round_delivered;
        bool round_start;

        /* Windowed maximum of the delivery rate, one slot per round. */
        uint64_t bw_slot[RUDP_BBR_BW_ROUNDS], bw_slot_round[RUDP_BBR_BW_ROUNDS];
        uint64_t max_bw;
        uint64_t filled_round; /* STARTUP's last round */

        uint64_t min_rtt, min_rtt_stamp;

        /* STARTUP's end: the bandwidth stopped growing. */
        uint64_t full_bw;
        unsigned full_bw_count;
        bool filled_pipe;

        unsigned cycle_index;
        uint64_t cycle_stamp;

        uint64_t probe_rtt_done_stamp, prior_cwnd;
        bool probe_rtt_round_done;

        /* Loss above the bound: the fraction of the model used, per round. */
        uint64_t round_lost, round_acked;
        double bw_scale;
        /* Random loss: packets lost and resolved, decaying per round. */
        double loss_sum_lost, loss_sum_total;
        /* The same over rounds without a standing queue only: none of those losses were a queue
         * overflowing, while under a full one a paced flow loses the fraction of time it is full. */
        double clear_lost, clear_total;

        /* A standing queue: the smallest RTT of a whole round well above the minimum means
         * the bottleneck never emptied, i.e. the bandwidth estimate runs a little high (noisy
         * samples caught by the max filter). Cruising rounds then pace below it, a few rounds at
         * a time (it may be another flow's queue). */
        uint64_t round_min_rtt, last_round_min_rtt;
        unsigned drain_rounds, drain_pause_rounds;
        /* While that queue stands (0: none): the model, bytes/s, cut when a round overflows it
         * and raised a packet per round otherwise, as the loss-based flow that keeps the queue
         * does with its window. */
        uint64_t bw_cap, bw_cap_round; /* the round of the last cut */

        uint64_t rng;
} RudpBbr;

void rudp_bbr_init(RudpBbr *b, uint64_t initial_rtt_usec, uint64_t seed, uint64_t now);
/* After an acknowledgement: delivered is the connection's running total of bytes delivered,
 * inflight the bytes still in flight. */
void rudp_bbr_on_ack(RudpBbr *b, const RudpRateSample *rs, uint64_t delivered, uint64_t inflight, uint64_t now);
/* Several probe timeouts in a row: the path is gone or badly congested. */
void rudp_bbr_on_persistent_congestion(RudpBbr *b);
/* The bandwidth-delay product the model believes in, bytes. */
uint64_t rudp_bbr_bdp(const RudpBbr *b, double gain);
