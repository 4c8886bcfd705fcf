/* BBR-like congestion control; see rudp-bbr.h. Rates are bytes per second, times microseconds. */
#include <math.h>
#include <string.h>

#include "macro.h"
#include "rudp-bbr.h"

#define HIGH_GAIN 2.885 /* 2/ln 2: doubles the delivery rate every round */
#define MIN_CWND (4 * RUDP_MSS)
#define INITIAL_CWND (10 * RUDP_MSS)
#define MIN_RTT_WINDOW_USEC 10000000
#define PROBE_RTT_USEC 200000
#define MIN_RTT_CONFIRM_DIV 16 /* a sample within min_rtt/16 of it confirms the minimum */
/* Pacing a bit below the estimate keeps the bottleneck's queue from creeping up: the max filter
 * catches delivery-rate samples that timing jitter (acks, wake-ups: ~1 ms) made look fast, by
 * about the jitter over the sample's interval, a round trip. So the margin is 1% on short paths
 * and less on long ones, where 1% of the link idle would be the larger cost. */
#define PACING_MARGIN_MAX 0.01
#define PACING_JITTER_USEC 1000.0
/* Random loss the pacing makes up for, at most (see random_loss()). */
#define LOSS_MAKEUP_MAX 0.1
#define LOSS_MAKEUP_QUEUE_DIV 64
#define LOSS_DECAY 0.875 /* per round: the loss measured over the last ~8 rounds */
#define PROBE_QUEUE_USEC 25000.0
#define QUEUE_DRAIN_GAIN 0.9
#define QUEUE_DRAIN_ROUNDS 6
#define QUEUE_PAUSE_ROUNDS 30
#define LOSS_PRIOR 0.01  /* the random loss assumed until measured */
#define LOSS_EXCESS 0.03 /* loss in a round above random that means a queue overflowed */
#define CAP_CUT 0.85
#define FEW_PACKETS 8.0 /* a BDP below this many packets: see update_bw() */

static const double cycle_gains[8] = { 1.25, 0.75, 1, 1, 1, 1, 1, 1 };

static uint64_t next_rand(RudpBbr *b) {
        b->rng ^= b->rng << 13;
        b->rng ^= b->rng >> 7;
        b->rng ^= b->rng << 17;
        return b->rng;
}

/* The bandwidth the model believes in, bytes/s: the filter's maximum less what loss above the
 * bound took, or while another flow's queue stands the rate update_cap() keeps. */
static double model_bw(const RudpBbr *b) {
        return b->bw_cap > 0 ? (double) b->bw_cap : (double) b->max_bw * b->bw_scale;
}

uint64_t rudp_bbr_bdp(const RudpBbr *b, double gain) {
        if (b->min_rtt == UINT64_MAX || b->max_bw == 0)
                return INITIAL_CWND;
        return (uint64_t) (gain * model_bw(b) * (double) b->min_rtt / 1e6);
}

static double pacing_margin(const RudpBbr *b) {
        if (b->min_rtt == UINT64_MAX || b->min_rtt == 0)
                return 1 - PACING_MARGIN_MAX;
        return 1 - MIN(PACING_MARGIN_MAX, PACING_JITTER_USEC / (double) b->min_rtt);
}

/* The time a full packet takes at the bottleneck, usec. The minimum RTT may come from a small
 * packet (an ACK-sized probe, an urgent early datagram) and a full one takes this much longer
 * through an empty bottleneck: at 256 kbit/s 38 ms, more than the 1/8 of a 140 ms RTT that
 * means a standing queue, which then stood in every round, failed to drain and sent the flow
 * into the AIMD rate kept against another flow's queue (on a four-packet BDP, +28% a round). */
static double packet_time(const RudpBbr *b) {
        double bw = model_bw(b);
        return bw > 0 ? (double) RUDP_MSS * 1e6 / bw : 0;
}

/* The fraction of packets the path loses at random, measured while cruising. The bandwidth model
 * counts only what arrived; sending at it leaves the bottleneck idle that fraction of the time when
 * the loss is ahead of it (a radio, an emulator), and when it is behind it the delivery rate is
 * the bottleneck's less the loss: either way the bottleneck is full at max_bw / (1 - loss). */
static double random_loss(const RudpBbr *b) {
        if (b->loss_sum_total < 50 || b->min_rtt == UINT64_MAX || b->last_round_min_rtt == UINT64_MAX)
                return 0;
        /* Where the loss is behind the bottleneck the model already says how fast it drains (the
         * max filter catches samples near it): making up for the loss then builds a queue. The
         * last round's smallest RTT shows one, and the making up stops until it is gone. */
        if (b->last_round_min_rtt > b->min_rtt + MAX(b->min_rtt / LOSS_MAKEUP_QUEUE_DIV, (uint64_t) 2000))
                return 0;
        return MIN(b->loss_sum_lost / b->loss_sum_total, LOSS_MAKEUP_MAX);
}

static void set_pacing_rate(RudpBbr *b, double gain) {
        uint64_t rate = (uint64_t) (gain * model_bw(b) * pacing_margin(b) / (1 - random_loss(b)));
        /* Before the pipe is full, never slow down below what was already reached. */
        if (rate > 0 && (b->filled_pipe || rate > b->pacing_rate))
                b->pacing_rate = rate;
}

void rudp_bbr_init(RudpBbr *b, uint64_t initial_rtt_usec, uint64_t seed, uint64_t now) {
        memset(b, 0, sizeof(*b));
        b->state = RUDP_CC_STARTUP;
        b->pacing_gain = b->cwnd_gain = HIGH_GAIN;
        b->cwnd = INITIAL_CWND;
        b->min_rtt = UINT64_MAX;
        b->min_rtt_stamp = now;
        b->bw_scale = 1;
        b->rng = seed | 1;
        b->round_min_rtt = b->last_round_min_rtt = UINT64_MAX;
        uint64_t rtt = initial_rtt_usec ? initial_rtt_usec : 100000;
        b->pacing_rate = (uint64_t) (HIGH_GAIN * INITIAL_CWND * 1e6 / (double) rtt);
}

static void update_bw(RudpBbr *b, const RudpRateSample *rs) {
        if (rs->interval_usec == 0)
                return;
        uint64_t bw = rs->delivered * 1000000 / rs->interval_usec;
        /* An app-limited sample only counts when it raises the estimate. */
        if (rs->app_limited && bw < b->max_bw)
                return;
        unsigned slot = (unsigned) (b->round_count % RUDP_BBR_BW_ROUNDS);
        if (b->bw_slot_round[slot] != b->round_count) {
                b->bw_slot_round[slot] = b->round_count;
                b->bw_slot[slot] = 0;
        }
        b->bw_slot[slot] = MAX(b->bw_slot[slot], bw);
        /* After STARTUP, where a round trip holds few packets, the second best round. A
         * sample's interval starts at an earlier acknowledgement's arrival, and one that the
         * owner read late (a busy machine: ~10 ms) shortens the next interval, at 256 kbit/s (a
         * round of 140 ms, 3.6 packets) by up to a tenth; the plain maximum held that for ten
         * rounds and the pacing built a queue of a packet or two, 40-80 ms there. The path's
         * rate shows in round after round, a late read in one. STARTUP's rounds count as they
         * are until they leave the window (its second best round is half its last). Where a
         * round holds many packets the maximum stays: there a probe rarely spans two rounds,
         * and at 5% loss (1 Mbit/s, 200 ms) the second best drifted down to 60-75% of the link. */
        if (!b->filled_pipe)
                b->filled_round = b->round_count;
        uint64_t startup = 0, max = 0, second = 0;
        for (unsigned i = 0; i < RUDP_BBR_BW_ROUNDS; i++) {
                uint64_t v = b->bw_slot[i];
                if (b->bw_slot_round[i] + RUDP_BBR_BW_ROUNDS <= b->round_count)
                        continue;
                if (b->bw_slot_round[i] <= b->filled_round)
                        startup = MAX(startup, v);
                else if (v > max) {
                        second = max;
                        max = v;
                } else
                        second = MAX(second, v);
        }
        bool few = b->min_rtt != UINT64_MAX && (double) max * (double) b->min_rtt / 1e6 < FEW_PACKETS * RUDP_MSS;
        b->max_bw = MAX(startup, few && second > 0 ? second : max);
}

static void check_full_pipe(RudpBbr *b, const RudpRateSample *rs) {
        if (b->filled_pipe || !b->round_start || rs->app_limited)
                return;
        if (b->max_bw >= b->full_bw * 5 / 4) {
                b->full_bw = b->max_bw;
                b->full_bw_count = 0;
                return;
        }
        if (++b->full_bw_count >= 3)
                b->filled_pipe = true;
}

/* The probing phase's gain: BBR's 1.25 builds a queue of a quarter of the RTT, which on a long
 * path delays everything sent meanwhile by tens of milliseconds. Probe by at most ~25 ms of queue
 * (never below 1.05), so small messages stay within half an RTT plus 50 ms. */
static double probe_gain(const RudpBbr *b) {
        if (b->min_rtt == UINT64_MAX || b->min_rtt == 0)
                return cycle_gains[0];
        double g = 1 + PROBE_QUEUE_USEC / (double) b->min_rtt;
        return MAX(1.05, MIN(cycle_gains[0], g));
}

/* While a queue we could not drain stands (a loss-based flow keeps it full), the phase after
 * probing does not pace below the model: there is no queue of ours to drain, and every round at
 * 0.75 hands the other flow a quarter of ours, which it keeps. */
static double cycle_gain(const RudpBbr *b, unsigned index) {
        if (index == 0)
                return probe_gain(b);
        if (cycle_gains[index] < 1 && b->drain_pause_rounds > 0)
                return 1;
        return cycle_gains[index];
}

static void enter_probe_bw(RudpBbr *b, uint64_t now) {
        b->state = RUDP_CC_PROBE_BW;
        b->cwnd_gain = 2;
        /* Start anywhere but the draining phase, so flows do not probe in lockstep. */
        unsigned i = (unsigned) (next_rand(b) % 7);
        b->cycle_index = i == 0 ? 0 : i + 1;
        b->cycle_stamp = now;
        b->pacing_gain = cycle_gain(b, b->cycle_index);
}

/* The smallest RTT of the whole last round was well above the minimum: a queue never emptied. */
static bool queue_seen(const RudpBbr *b) {
        if (b->min_rtt == UINT64_MAX || b->last_round_min_rtt == UINT64_MAX)
                return false;
        double slack = (double) MAX(b->min_rtt / 8, (uint64_t) 2000) + packet_time(b);
        return (double) b->last_round_min_rtt > (double) b->min_rtt + slack;
}

static bool standing_queue(const RudpBbr *b) {
        return b->drain_pause_rounds == 0 && queue_seen(b);
}

/* At each round's start: the last round's minimum RTT, and the drain's bound. A queue this flow
 * built drains within a few rounds at QUEUE_DRAIN_GAIN; one a loss-based flow keeps full never
 * does, and draining into it would only hand that flow our share: after QUEUE_DRAIN_ROUNDS in a
 * row, stop trying for QUEUE_PAUSE_ROUNDS. */
static void update_round_rtt(RudpBbr *b, const RudpRateSample *rs) {
        if (rs->rtt_usec > 0)
                b->round_min_rtt = MIN(b->round_min_rtt, rs->rtt_usec);
        if (!b->round_start)
                return;
        b->last_round_min_rtt = b->round_min_rtt;
        b->round_min_rtt = UINT64_MAX;
        if (!queue_seen(b))
                b->bw_cap = 0; /* the queue that set the ceiling is gone */
        if (b->drain_pause_rounds > 0) {
                b->drain_pause_rounds--;
                return;
        }
        /* Where a queue at least as long as the minimum RTT makes a round twice the length of a
         * cycle's phase, probing between the draining rounds does not restart the count: there
         * are never QUEUE_DRAIN_ROUNDS in a row, and the flow drained into another's queue for
         * good. Our own probing builds no such queue (a quarter of the minimum RTT at most);
         * only a round without it ends the attempt. */
        bool long_queue = b->min_rtt != UINT64_MAX && b->last_round_min_rtt != UINT64_MAX &&
                          b->last_round_min_rtt >= 2 * b->min_rtt;
        if (b->pacing_gain == QUEUE_DRAIN_GAIN) {
                if (++b->drain_rounds >= QUEUE_DRAIN_ROUNDS) {
                        b->drain_pause_rounds = QUEUE_PAUSE_ROUNDS;
                        b->drain_rounds = 0;
                }
        } else if (!long_queue || !queue_seen(b))
                b->drain_rounds = 0;
}

static void update_cycle(RudpBbr *b, const RudpRateSample *rs, uint64_t inflight, uint64_t now) {
        if (b->state != RUDP_CC_PROBE_BW)
                return;
        bool elapsed = b->min_rtt != UINT64_MAX && now - b->cycle_stamp > b->min_rtt;
        double gain = b->pacing_gain;
        /* What was in flight before this acknowledgement (BBR's prior_inflight): after it, a
         * packet less. Where a packet takes a quarter of the RTT (1228 bytes at 256 kbit/s, 38 ms
         * of 140), the probe ending only with the extra in flight after the ack held one more
         * packet in the queue all along. */
        uint64_t prior_inflight = inflight + rs->newly_acked + rs->newly_lost;
        bool next;
        if (gain > 1)
                /* Probe until the extra is really in flight, or until it is lost. */
                next = elapsed && (rs->newly_lost > 0 || prior_inflight >= rudp_bbr_bdp(b, gain));
        else if (gain < 1)
                next = elapsed || inflight <= rudp_bbr_bdp(b, 1);
        else
                next = elapsed;
        if (next) {
                b->cycle_index = (b->cycle_index + 1) % 8;
                b->cycle_stamp = now;
        }
        b->pacing_gain = cycle_gain(b, b->cycle_index);
        if (b->pacing_gain == 1 && standing_queue(b))
                b->pacing_gain = QUEUE_DRAIN_GAIN;
}

static void update_min_rtt(RudpBbr *b, const RudpRateSample *rs, uint64_t delivered, uint64_t inflight, uint64_t now) {
        bool expired = now - b->min_rtt_stamp > MIN_RTT_WINDOW_USEC;
        if (rs->rtt_usec > 0 && (rs->rtt_usec <= b->min_rtt || expired)) {
                b->min_rtt = rs->rtt_usec;
                b->min_rtt_stamp = now;
        } else if (rs->rtt_usec > 0 && rs->rtt_usec <= b->min_rtt + b->min_rtt / MIN_RTT_CONFIRM_DIV &&
                   b->state == RUDP_CC_PROBE_BW)
                /* A sample this close to the minimum says what PROBE_RTT would: no queue in the way
                 * and the path as long as it was. Halving the window for 200 ms and a round trip
                 * every ten seconds costs ~2% of the link at 250 ms; a path that got longer or a
                 * queue someone else keeps full still gives no such sample, and PROBE_RTT runs. */
                b->min_rtt_stamp = now;
        if (expired && b->state != RUDP_CC_PROBE_RTT && b->min_rtt != UINT64_MAX) {
                b->state = RUDP_CC_PROBE_RTT;
                b->pacing_gain = 1;
                b->prior_cwnd = b->cwnd;
                b->probe_rtt_done_stamp = 0;
        }
        if (b->state != RUDP_CC_PROBE_RTT)
                return;
        uint64_t target = MAX((uint64_t) MIN_CWND, rudp_bbr_bdp(b, 0.5));
        if (b->probe_rtt_done_stamp == 0 && inflight <= target) {
                b->probe_rtt_done_stamp = now + PROBE_RTT_USEC;
                b->probe_rtt_round_done = false;
                b->next_round_delivered = delivered;
        } else if (b->probe_rtt_done_stamp != 0) {
                if (b->round_start)
                        b->probe_rtt_round_done = true;
                if (b->probe_rtt_round_done && now >= b->probe_rtt_done_stamp) {
                        b->min_rtt_stamp = now;
                        b->cwnd = MAX(b->cwnd, b->prior_cwnd);
                        if (b->filled_pipe)
                                enter_probe_bw(b, now);
                        else {
                                b->state = RUDP_CC_STARTUP;
                                b->pacing_gain = b->cwnd_gain = HIGH_GAIN;
                        }
                }
        }
}

/* Loss in a round above this many of its `total' packets is congestion. A flow alone keeps
 * RUDP_BBR_LOSS_THRESH (random loss is not congestion). Under another flow's standing queue, a
 * round that overflowed it loses more than random loss explains: the rate measured in rounds
 * without a queue (at least LOSS_PRIOR; that alone before there is enough of it) plus two
 * standard deviations and LOSS_EXCESS of the packets (at 1% in rounds of 30 packets, 3 losses). */
static double congestion_bound(const RudpBbr *b, uint64_t total) {
        if (b->drain_pause_rounds == 0)
                return RUDP_BBR_LOSS_THRESH * (double) total;
        double p = b->clear_total >= 50 ? b->clear_lost / b->clear_total : 0;
        double expected = MAX(p, LOSS_PRIOR) * (double) total;
        double bound = expected + 2 * sqrt(expected) + LOSS_EXCESS * (double) total;
        return MIN(bound, RUDP_BBR_LOSS_THRESH * (double) total);
}

/* While another flow's queue stands (draining it failed), the model is a rate kept as a
 * loss-based flow keeps its window: a round that overflowed the queue (loss well above random)
 * cuts it by CAP_CUT, every other round raises it by a packet per round trip, and two such flows
 * converge on equal shares. The filter cannot say what our share is: in a full queue every
 * sample is what we sent less what overflowed, its maximum holds for ten rounds the peaks caught
 * while the other flow backed off (its queue drained into our samples), and pacing at them took
 * that flow's share (Tandem 3.4 Mbit/s of 5, Cubic 1.3); and from a low start (STARTUP ends when
 * the other flow's slow start fills the queue) it grows only by what one probing phase in eight
 * gains against a full queue (Tandem stayed at 1.5). It starts from the filter's model, and the
 * filter is the model again when the queue is gone. */
static void update_cap(RudpBbr *b, bool congested) {
        if (b->state != RUDP_CC_PROBE_BW || b->drain_pause_rounds == 0 || b->min_rtt == UINT64_MAX)
                return;
        double floor = (double) MIN_CWND * 1e6 / (double) b->min_rtt;
        if (congested) {
                /* Once per overflow, as a loss-based flow's recovery: the round after a cut was
                 * sent before it took effect and overflows the same queue. */
                if (b->bw_cap == 0 || b->round_count > b->bw_cap_round + 1) {
                        b->bw_cap = (uint64_t) MAX(floor, model_bw(b) * CAP_CUT);
                        b->bw_cap_round = b->round_count;
                }
                return;
        }
        if (b->last_round_min_rtt == UINT64_MAX)
                return;
        if (b->bw_cap == 0)
                b->bw_cap = (uint64_t) model_bw(b);
        b->bw_cap += (uint64_t) RUDP_MSS * 1000000 / b->last_round_min_rtt;
}

/* Loss above the bound in a round: the model is too optimistic. Below it, loss is noise. */
static void update_loss(RudpBbr *b, const RudpRateSample *rs) {
        b->round_lost += rs->lost_packets;
        b->round_acked += rs->acked_packets;
        if (!b->round_start)
                return;
        uint64_t total = b->round_lost + b->round_acked;
        bool congested = total >= 8 && (double) b->round_lost > congestion_bound(b, total);
        bool capped = b->state == RUDP_CC_PROBE_BW && b->drain_pause_rounds > 0;
        update_cap(b, congested);
        if (congested && !capped) {
                b->bw_scale = MAX(b->bw_scale * 0.85, 0.3);
                if (b->state == RUDP_CC_STARTUP)
                        b->filled_pipe = true;
        } else if (b->bw_scale < 1)
                b->bw_scale = MIN(b->bw_scale * 1.1, 1.0);
        /* STARTUP and DRAIN overfill the bottleneck on purpose; a round above the bound is
         * congestion: neither says what the path loses at random. */
        if (!congested && (b->state == RUDP_CC_PROBE_BW || b->state == RUDP_CC_PROBE_RTT)) {
                b->loss_sum_lost = b->loss_sum_lost * LOSS_DECAY + (double) b->round_lost;
                b->loss_sum_total = b->loss_sum_total * LOSS_DECAY + (double) total;
                if (!queue_seen(b)) {
                        b->clear_lost = b->clear_lost * LOSS_DECAY + (double) b->round_lost;
                        b->clear_total = b->clear_total * LOSS_DECAY + (double) total;
                }
        }
        b->round_lost = b->round_acked = 0;
}

void rudp_bbr_on_ack(RudpBbr *b, const RudpRateSample *rs, uint64_t delivered, uint64_t inflight, uint64_t now) {
        b->round_start = false;
        if (rs->interval_usec > 0 || rs->newly_acked > 0) {
                if (rs->prior_delivered >= b->next_round_delivered) {
                        b->next_round_delivered = delivered;
                        b->round_count++;
                        b->round_start = true;
                }
        }
        update_loss(b, rs);
        update_round_rtt(b, rs);
        update_bw(b, rs);
        update_cycle(b, rs, inflight, now);
        check_full_pipe(b, rs);

        if (b->state == RUDP_CC_STARTUP && b->filled_pipe) {
                b->state = RUDP_CC_DRAIN;
                b->pacing_gain = 1 / HIGH_GAIN;
                b->cwnd_gain = HIGH_GAIN;
        }
        if (b->state == RUDP_CC_DRAIN && inflight <= rudp_bbr_bdp(b, 1))
                enter_probe_bw(b, now);
        update_min_rtt(b, rs, delivered, inflight, now);

        set_pacing_rate(b, b->pacing_gain);

        /* The window: gain × BDP plus room for delayed and aggregated acks. */
        uint64_t target = rudp_bbr_bdp(b, b->cwnd_gain) + 3 * RUDP_MSS;
        if (queue_seen(b)) {
                /* A queue stood all last round: a window sized at the minimum RTT would hold us
                 * below our pacing rate (at 60 ms + 77 ms of Cubic's queue, 2 × BDP carries 0.9 of
                 * the rate, and each round the measured bandwidth, and the window with it, shrinks
                 * further, until a loss-based flow has the link). Add what that queue holds at our
                 * rate. Pacing still sets the rate: a queue of our own making drains at
                 * QUEUE_DRAIN_GAIN whatever the window. */
                uint64_t queue = b->last_round_min_rtt - b->min_rtt;
                target += (uint64_t) (model_bw(b) * (double) queue / 1e6);
        }
        if (b->filled_pipe)
                b->cwnd = MIN(b->cwnd + rs->newly_acked, target);
        else if (b->cwnd < target || delivered < INITIAL_CWND)
                b->cwnd += rs->newly_acked;
        b->cwnd = MAX(b->cwnd, (uint64_t) MIN_CWND);
        if (b->state == RUDP_CC_PROBE_RTT)
                b->cwnd = MIN(b->cwnd, MAX((uint64_t) MIN_CWND, rudp_bbr_bdp(b, 0.5)));
}

void rudp_bbr_on_persistent_congestion(RudpBbr *b) {
        b->prior_cwnd = MAX(b->prior_cwnd, b->cwnd);
        b->cwnd = MIN_CWND;
}
