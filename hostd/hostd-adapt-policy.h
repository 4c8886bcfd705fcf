/* Network auto-detect's policy (schema/wire-protocol.md, "Network auto-detect"): from the
 * transport's estimates of one viewer's link, the JPEG quality (never above what the viewer asked
 * for), the least interval between two frames and the tile bytes one frame may carry. Pure: no
 * clock, no I/O; hostd-viewer-adapt.c feeds it every ADAPT_TICK_USEC, tests feed it synthetic
 * estimates. */
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
 * ADAPT_QUEUE_MIN_USEC and the minimum RTT, ask for one level lower than the rate does. */
#define ADAPT_LOSS_HIGH 0.10
#define ADAPT_QUEUE_MIN_USEC (50 * 1000ULL)
/* A frame's budget covers what the link drains in one frame interval, at least this long. */
#define ADAPT_BUDGET_INTERVAL_MIN_USEC (33 * 1000ULL)
#define ADAPT_BUDGET_MIN (8u * 1024)
#define ADAPT_BUDGET_MAX (4u * 1024 * 1024)
#define ADAPT_LEVELS 5u

typedef struct AdaptInput {
        uint64_t rate; /* bytes/s the link carries (the bottleneck estimate); 0: not known yet */
        uint64_t min_rtt_usec, smoothed_rtt_usec;
        double loss; /* fraction of packets the link lost */
        /* The display waited for the link during the interval (tiles unsent, frames held back):
         * only then is a low rate estimate the link's and not just what the display sent. */
        bool backlogged;
} AdaptInput;

typedef struct AdaptPolicy {
        int ceiling; /* the quality the viewer asked for, 1..100 */
        unsigned level; /* 0: a fast link, ADAPT_LEVELS - 1: the slowest */
        unsigned up_ticks, down_ticks;
        uint64_t changes; /* level changes so far */
        /* What the encoder is to use */
        int quality;
        uint64_t frame_interval_usec; /* 0: no cap (QEMU's 30 ms refresh and flow control pace) */
        size_t frame_budget;          /* 0: none (level 0, or nothing measured yet) */
} AdaptPolicy;

/* Starts at level 0: the requested quality, no cap, no budget, until estimates arrive. */
void adapt_policy_init(AdaptPolicy *p, int ceiling);
/* The viewer asked for another quality: taken at once (capped by the level). */
void adapt_policy_set_ceiling(AdaptPolicy *p, int ceiling);
/* One interval's estimates: true when the level changed (quality or frame rate cap with it). The
 * budget follows the rate estimate at every call. */
bool adapt_policy_update(AdaptPolicy *p, const AdaptInput *in);
/* The level a rate alone calls for (margin: the factor the rate must exceed each floor by). */
unsigned adapt_level_for_rate(uint64_t rate, double margin);
