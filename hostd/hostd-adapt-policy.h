/* Network auto-detect's policy (schema/wire-protocol.md, "Network auto-detect"): from the
 * transport's estimates of one viewer's link, the JPEG quality (never above what the viewer asked
 * for), the tile bytes one frame may carry and the least gap after a frame (its bytes at the
 * link's rate). Pure: no clock, no I/O; hostd-viewer-adapt.c feeds it every ADAPT_TICK_USEC, tests
 * feed it synthetic estimates. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How often the estimates are taken. */
#define ADAPT_TICK_USEC (500 * 1000ULL)
/* Ticks in a row a lower level must be called for before it is taken, and a higher one (with
 * ADAPT_UP_MARGIN of rate to spare): slow to trust a faster link, quicker to give way. */
#define ADAPT_DOWN_TICKS 2u
#define ADAPT_UP_TICKS 4u
#define ADAPT_UP_MARGIN 1.3
/* Losses above this fraction, or a standing queue (smoothed - minimum RTT) above the larger of
 * ADAPT_QUEUE_MIN_USEC and the minimum RTT, ask for one level lower than the rate does. Below it
 * the loss is what rudp's congestion control takes as random (it lowers its rate estimate only
 * for a round losing more than 15%): the rate already says what the link carries. */
#define ADAPT_LOSS_HIGH 0.15
#define ADAPT_QUEUE_MIN_USEC (50 * 1000ULL)
/* ... once it has lasted this many ticks in a row: the first screen after a connect fills a slow
 * link's buffer for a second or two (wan3's 500 ms queue: smoothed RTTs of 450-630 ms), which says
 * nothing about what the link carries; it used to take the level down two or three steps at
 * random, where it then stayed. */
#define ADAPT_CONGESTED_TICKS 6u
/* A frame's budget covers what the link drains in the level's frame time, at least this long. */
#define ADAPT_BUDGET_INTERVAL_MIN_USEC (33 * 1000ULL)
/* Below level 0 a frame of B bytes is followed by a gap of B / (ADAPT_LINK_SHARE x rate), at most
 * ADAPT_GAP_MAX_USEC: frames come as fast as the link carries them, with room left for input,
 * audio and repairs, and no backlog of stale tiles builds up in rudp. */
#define ADAPT_LINK_SHARE 0.9
#define ADAPT_GAP_MAX_USEC (2 * 1000 * 1000ULL)
#define ADAPT_BUDGET_MIN (8u * 1024)
#define ADAPT_BUDGET_MAX (4u * 1024 * 1024)
#define ADAPT_LEVELS 5u

typedef struct AdaptInput {
        uint64_t rate; /* bytes/s the link carries (the bottleneck estimate); 0: not known yet */
        uint64_t min_rtt_usec, smoothed_rtt_usec;
        double loss; /* fraction of packets lost at random (adapt_loss_update()) */
        /* The display waited for the link during the interval (tiles unsent, frames held back):
         * only then is a low rate estimate the link's and not just what the display sent. */
        bool backlogged;
} AdaptInput;

typedef struct AdaptPolicy {
        int ceiling; /* the quality the viewer asked for, 1..100 */
        unsigned level; /* 0: a fast link, ADAPT_LEVELS - 1: the slowest */
        unsigned up_ticks, down_ticks;
        unsigned congested_ticks; /* ticks in a row with heavy loss or a standing queue */
        uint64_t changes; /* level changes so far */
        uint64_t rate; /* the last rate estimate, bytes/s (0: none yet) */
        /* What the encoder is to use */
        int quality;
        uint64_t frame_usec; /* the link time one frame's budget covers (0 at level 0) */
        size_t frame_budget; /* 0: none (level 0, or nothing measured yet) */
} AdaptPolicy;

/* The loss the display adapts to: packets the transport declared lost (after FEC) per packet sent,
 * over ticks without a standing queue only (smoothed RTT at most twice the minimum), decaying by
 * ADAPT_LOSS_DECAY a tick (about five seconds). rudp's own loss rate, which steers its FEC, also
 * counts the first screen after a connect overflowing a slow link's buffer (wan3: 13.9% measured
 * for 0.5%), and keeps a first sample for half a minute at 30 packets a second: on it hostd sent
 * one-cell tiles, twice the bytes. A full queue's drops are congestion, which the rate covers. */
#define ADAPT_LOSS_DECAY 0.9
#define ADAPT_LOSS_MIN_PACKETS 50.0

typedef struct AdaptLoss {
        double lost, sent; /* decaying sums */
} AdaptLoss;

/* One tick: packets declared lost and sent during it, and the RTTs at its end. Returns the
 * estimate: 0 until ADAPT_LOSS_MIN_PACKETS count. */
double adapt_loss_update(AdaptLoss *l, uint64_t lost, uint64_t sent, uint64_t min_rtt_usec, uint64_t smoothed_rtt_usec);

/* Starts at level 0: the requested quality, no gap, no budget, until estimates arrive. */
void adapt_policy_init(AdaptPolicy *p, int ceiling);
/* The viewer asked for another quality: taken at once (capped by the level). */
void adapt_policy_set_ceiling(AdaptPolicy *p, int ceiling);
/* One interval's estimates: true when the level changed (quality and frame time with it). The
 * budget follows the rate estimate at every call. */
bool adapt_policy_update(AdaptPolicy *p, const AdaptInput *in);
/* The least time after a frame of bytes before the next may start: what the link takes to carry
 * it at ADAPT_LINK_SHARE of the rate. 0 at level 0 (flow control paces a fast link; the rate
 * there is not known to be the link's) and before any estimate. */
uint64_t adapt_policy_frame_gap(const AdaptPolicy *p, size_t bytes);
/* The level a rate alone calls for (margin: the factor the rate must exceed each floor by). */
unsigned adapt_level_for_rate(uint64_t rate, double margin);
