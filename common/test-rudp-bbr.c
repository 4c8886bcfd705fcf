/* The congestion controller alone (rudp-bbr.c), fed the acknowledgements of a synthetic path
 * whose rate, RTT and loss each test sets: how it paces under random loss with and without a
 * queue, and how its window and cycle behave against a queue another flow keeps full. */
#include "check.h"
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "rudp-bbr.h"

#define MS 1000ull

/* A path delivering `rate' bytes/s: one packet acknowledged per packet time, `rtt' after it was
 * sent; every `lose_every'th packet (0: none) is lost instead. */
typedef struct Path {
        RudpBbr b;
        uint64_t now, delivered, n;
        double min_gain; /* the smallest pacing gain seen since reset */
        unsigned drain_acks; /* acknowledgements while pacing at 0.9 to drain a standing queue */
        bool paced;      /* delivery-rate samples at most the pacing rate (a flow sharing a
                          * full queue gets what it sends, less what overflows) */
} Path;

static void path_init(Path *p) {
        memset(p, 0, sizeof(*p));
        p->now = 1000 * MS;
        rudp_bbr_init(&p->b, 100 * MS, 1, p->now);
}

static void path_run(Path *p, uint64_t rate, uint64_t rtt, unsigned lose_every, uint64_t usec) {
        uint64_t step = (uint64_t) RUDP_MSS * 1000000 / rate, end = p->now + usec;
        uint64_t window = rate * rtt / 1000000; /* bytes delivered over one RTT */
        while (p->now < end) {
                p->now += step;
                RudpRateSample rs = { .rtt_usec = rtt };
                if (lose_every && ++p->n % lose_every == 0) {
                        rs.newly_lost = RUDP_MSS;
                        rs.lost_packets = 1;
                } else {
                        p->delivered += RUDP_MSS;
                        rs.newly_acked = RUDP_MSS;
                        rs.acked_packets = 1;
                        rs.delivered = MIN(window, p->delivered);
                        rs.prior_delivered = p->delivered - rs.delivered;
                        rs.interval_usec = rtt;
                        if (p->paced)
                                rs.delivered = MIN(rs.delivered, p->b.pacing_rate * rtt / 1000000);
                }
                /* In flight: what the pacing rate puts in a round trip and a packet or two on
                 * their way, as far as the window lets. */
                uint64_t inflight = MIN(p->b.cwnd, p->b.pacing_rate * rtt / 1000000 + 2 * RUDP_MSS);
                rudp_bbr_on_ack(&p->b, &rs, p->delivered, inflight, p->now);
                p->min_gain = MIN(p->min_gain, p->b.pacing_gain);
                p->drain_acks += p->b.pacing_gain == 0.9;
        }
}

/* The pacing rate over the model, in the cruising phases only (gain 1). */
static double cruise_ratio(Path *p, uint64_t rate, uint64_t rtt, unsigned lose_every) {
        for (int i = 0; i < 100000; i++) {
                path_run(p, rate, rtt, lose_every, 1 * MS);
                if (p->b.state == RUDP_CC_PROBE_BW && p->b.pacing_gain == 1)
                        return (double) p->b.pacing_rate / ((double) p->b.max_bw * p->b.bw_scale);
        }
        check(!"never cruised");
        return 0;
}

static void test_loss_makeup(void) {
        uint64_t rate = 375000, rtt = 250 * MS; /* 3 Mbit/s, 250 ms */
        Path p;

        /* Without loss, a hair below the model (the jitter margin: 1 ms over 250 ms). */
        path_init(&p);
        path_run(&p, rate, rtt, 0, 5000 * MS);
        double r = cruise_ratio(&p, rate, rtt, 0);
        check(r < 1 && r > 0.99);

        /* 2% random loss and no queue: the model counts what arrived, pacing makes up for the
         * rest so the bottleneck stays full. */
        path_init(&p);
        path_run(&p, rate, rtt, 50, 5000 * MS);
        r = cruise_ratio(&p, rate, rtt, 50);
        check(r > 1.01 && r < 1.025);

        /* The same loss behind a bottleneck: making up for it builds a queue, the RTT shows it,
         * and the making up stops. */
        path_run(&p, rate, rtt + 10 * MS, 50, 1000 * MS);
        r = cruise_ratio(&p, rate, rtt + 10 * MS, 50);
        check(r <= 1);
}

static void test_loss_based_competitor(void) {
        uint64_t rate = 300000, rtt = 60 * MS, queue = 80 * MS;
        Path p;

        path_init(&p);
        path_run(&p, rate, rtt, 100, 2000 * MS);
        check(p.b.state == RUDP_CC_PROBE_BW);
        uint64_t bdp = rudp_bbr_bdp(&p.b, 1);
        check(p.b.cwnd <= 2 * bdp + 4 * RUDP_MSS);

        /* Another flow keeps 80 ms of queue standing: the window covers it at our rate, so it
         * does not hold us below the pacing rate (2 x BDP at 60 ms carries 120 of 140 ms). */
        path_run(&p, rate, rtt + queue, 100, 1500 * MS);
        check(p.b.cwnd >= (uint64_t) ((double) p.b.max_bw * p.b.bw_scale * (double) (2 * rtt + queue) / 1e6));

        /* Draining into that queue fails within a few rounds, probing rounds in between (at
         * 140 ms a round, a cycle's phases of 60 ms leave fewer than six draining rounds in a
         * row); then the phase after probing stops pacing at 0.75, which would only hand the
         * other flow our share. */
        uint64_t waited = 0;
        while (p.b.drain_pause_rounds == 0 && waited < 3000 * MS) {
                path_run(&p, rate, rtt + queue, 100, 10 * MS);
                waited += 10 * MS;
        }
        check(p.b.drain_pause_rounds > 0);
        p.min_gain = 10;
        path_run(&p, rate, rtt + queue, 100, 2000 * MS); /* 30 rounds: 4.2 s */
        check(p.b.drain_pause_rounds > 0);
        check(p.min_gain == 1);

        /* Without a competitor the cycle drains after probing as before. */
        path_init(&p);
        path_run(&p, rate, rtt, 100, 2000 * MS);
        p.min_gain = 10;
        path_run(&p, rate, rtt, 100, 3000 * MS);
        check(p.min_gain == 0.75);
}

/* In a full queue another flow keeps, a round losing well above the random loss (10% against 1%)
 * overflowed it: the model comes down and stays down whatever the filter holds (pacing at a peak
 * caught while the other flow backed off took its share), and rises a packet per round once the
 * overflow stops. A flow alone reads the same loss as noise (only 15% in a round is congestion
 * there). */
static void test_overflow_cut(void) {
        uint64_t rate = 300000, rtt = 60 * MS, queue = 80 * MS;
        Path p;

        path_init(&p);
        p.paced = true;
        path_run(&p, rate, rtt, 100, 2000 * MS);
        path_run(&p, rate, rtt + queue, 100, 1000 * MS);
        for (uint64_t waited = 0; p.b.drain_pause_rounds == 0 && waited < 3000 * MS; waited += 10 * MS)
                path_run(&p, rate, rtt + queue, 100, 10 * MS);
        check(p.b.drain_pause_rounds > 0);
        check(p.b.max_bw > rate * 95 / 100);
        uint64_t bdp = rudp_bbr_bdp(&p.b, 1);
        check(bdp > rate * rtt / 1000000 * 95 / 100);
        path_run(&p, rate, rtt + queue, 10, 600 * MS);
        check(rudp_bbr_bdp(&p.b, 1) < bdp * 3 / 4);
        check(p.b.pacing_rate < rate * 3 / 4);
        /* The overflow stops: the rate rises a packet per round (~8 KB/s at 140 ms), past where
         * it was; the queue gone, the filter is the model again. */
        path_run(&p, rate, rtt + queue, 100, 5000 * MS);
        check(rudp_bbr_bdp(&p.b, 1) > bdp * 95 / 100);
        check(p.b.bw_cap > 0);
        path_run(&p, rate, rtt, 100, 1000 * MS);
        check(p.b.bw_cap == 0);

        path_init(&p);
        p.paced = true;
        path_run(&p, rate, rtt, 100, 2000 * MS);
        bdp = rudp_bbr_bdp(&p.b, 1);
        path_run(&p, rate, rtt, 10, 600 * MS);
        check(rudp_bbr_bdp(&p.b, 1) >= bdp);
        check(p.b.bw_cap == 0);
}

/* One acknowledgement of a packet on a steady path, with this RTT and delivery-rate sample. */
static void path_ack(Path *p, uint64_t rtt, uint64_t delivered, uint64_t interval, uint64_t inflight) {
        p->delivered += RUDP_MSS;
        RudpRateSample rs = { .rtt_usec = rtt, .newly_acked = RUDP_MSS, .acked_packets = 1,
                              .delivered = delivered, .interval_usec = interval };
        rs.prior_delivered = p->delivered - delivered;
        rudp_bbr_on_ack(&p->b, &rs, p->delivered, inflight, p->now);
}

/* On a slow link a packet is a quarter of the BDP (256 kbit/s, 140 ms: 3.6 packets): the probe
 * ends once bdp x gain was in flight before the acknowledgement, not a whole packet later. */
static void test_probe_end_prior_inflight(void) {
        uint64_t rate = 30500, rtt = 140 * MS;
        Path p;

        path_init(&p);
        path_run(&p, rate, rtt, 0, 5000 * MS);
        for (int i = 0; i < 10000 && !(p.b.state == RUDP_CC_PROBE_BW && p.b.pacing_gain > 1); i++)
                path_run(&p, rate, rtt, 0, 1 * MS);
        check(p.b.state == RUDP_CC_PROBE_BW && p.b.pacing_gain > 1);
        unsigned index = p.b.cycle_index;
        uint64_t target = rudp_bbr_bdp(&p.b, p.b.pacing_gain);
        /* A round trip later, the extra is in flight before this ack, a packet short after it. */
        p.now += rtt + MS;
        path_ack(&p, rtt, rate * rtt / 1000000, rtt, target - RUDP_MSS / 2);
        check(p.b.cycle_index != index);
}

/* A rate sample a tenth too high in one round (its interval started at an acknowledgement read
 * late) is not the model for the next ten: pacing at it builds a queue of a packet or two.
 * One round's is not the model. */
static void test_one_round_spike(void) {
        uint64_t rate = 30500, rtt = 140 * MS;
        Path p;

        path_init(&p);
        path_run(&p, rate, rtt, 0, 5000 * MS);
        check(p.b.filled_pipe);
        uint64_t bw = p.b.max_bw;
        check(bw > rate * 98 / 100 && bw < rate * 102 / 100);
        /* A new round, one sample 10% high. */
        p.now += RUDP_MSS * 1000000 / rate;
        uint64_t delivered = rate * rtt / 1000000;
        p.delivered += RUDP_MSS;
        RudpRateSample rs = { .rtt_usec = rtt, .newly_acked = RUDP_MSS, .acked_packets = 1,
                              .delivered = delivered, .interval_usec = rtt * 10 / 11,
                              .prior_delivered = p.delivered };
        rudp_bbr_on_ack(&p.b, &rs, p.delivered, delivered, p.now);
        check(p.b.max_bw < rate * 102 / 100);
        path_run(&p, rate, rtt, 0, 500 * MS);
        check(p.b.max_bw < rate * 102 / 100);
}

/* The minimum RTT from a small packet (19 ms below a full one's through the empty link at 256
 * kbit/s): every round's smallest RTT, a full packet's, stands above it by more than 1/8, but
 * that is no queue: the cruise does not pace at 0.9 to drain it (which fails, and after six
 * rounds the flow takes it for another flow's queue and keeps the AIMD rate meant for that, a
 * packet per round more: +28% a round on this link). */
static void test_small_packet_min_rtt(void) {
        uint64_t rate = 30500, rtt = 147 * MS;
        Path p;

        path_init(&p);
        path_run(&p, rate, rtt, 0, 3000 * MS);
        p.now += RUDP_MSS * 1000000 / rate;
        path_ack(&p, 128 * MS, rate * rtt / 1000000, rtt, rate * rtt / 1000000);
        check(p.b.min_rtt == 128 * MS);
        p.drain_acks = 0;
        for (int i = 0; i < 8; i++) {
                path_run(&p, rate, rtt, 0, 1000 * MS);
                /* Keep the small packet's minimum fresh, as urgent datagrams do. */
                path_ack(&p, 128 * MS, rate * rtt / 1000000, rtt, rate * rtt / 1000000);
                check(p.b.drain_pause_rounds == 0);
                check(p.b.bw_cap == 0);
                check(p.b.pacing_rate < rate * 5 / 4);
        }
        check(p.drain_acks == 0);
}

int main(void) {
        test_loss_makeup();
        test_loss_based_competitor();
        test_overflow_cut();
        test_probe_end_prior_inflight();
        test_one_round_spike();
        test_small_packet_min_rtt();
        printf("ok\n");
        return 0;
}
