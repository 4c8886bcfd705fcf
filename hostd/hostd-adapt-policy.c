#include "hostd-adapt-policy.h"

#include "macro.h"

/* The levels, from the fastest link: the least rate (bytes/s) for each, the highest JPEG quality
 * it allows, and the link time one frame's tile budget covers. At level 0 the viewer's own
 * quality and no budget. The frame rate is not the level's: a frame's own bytes set the gap
 * after it (adapt_policy_frame_gap), so small frames (text) keep their rate on a slow link and
 * large ones (photos) take what the link carries; a lower quality makes the large ones smaller. */
static const struct {
        uint64_t min_rate;
        int quality;
        uint64_t frame_usec;
} levels[ADAPT_LEVELS] = {
        { 1250000, 100, 0 },     /* >= 10 Mbit/s */
        { 500000, 70, 33333 },   /* >= 4 Mbit/s */
        { 250000, 60, 50000 },   /* >= 2 Mbit/s */
        { 100000, 45, 100000 },  /* >= 0.8 Mbit/s */
        { 0, 30, 200000 },       /* below */
};

unsigned adapt_level_for_rate(uint64_t rate, double margin) {
        for (unsigned i = 0; i < ADAPT_LEVELS; i++)
                if ((double) rate >= (double) levels[i].min_rate * margin)
                        return i;
        return ADAPT_LEVELS - 1;
}

static void apply_level(AdaptPolicy *p) {
        p->quality = MIN(p->ceiling, levels[p->level].quality);
        p->frame_usec = levels[p->level].frame_usec;
}

void adapt_policy_init(AdaptPolicy *p, int ceiling) {
        *p = (AdaptPolicy) { .ceiling = MAX(1, MIN(100, ceiling)) };
        apply_level(p);
}

void adapt_policy_set_ceiling(AdaptPolicy *p, int ceiling) {
        p->ceiling = MAX(1, MIN(100, ceiling));
        apply_level(p);
}

static size_t budget_for(uint64_t rate, uint64_t interval_usec) {
        if (rate == 0)
                return 0;
        uint64_t b = rate * MAX(interval_usec, ADAPT_BUDGET_INTERVAL_MIN_USEC) / 1000000;
        return (size_t) MAX((uint64_t) ADAPT_BUDGET_MIN, MIN(b, (uint64_t) ADAPT_BUDGET_MAX));
}

bool adapt_policy_update(AdaptPolicy *p, const AdaptInput *in) {
        unsigned old = p->level;

        if (in->rate == 0) {
                p->up_ticks = p->down_ticks = p->congested_ticks = 0;
                return false; /* nothing measured yet: stay (the budget too) */
        }
        p->rate = in->rate;
        uint64_t queue = in->smoothed_rtt_usec > in->min_rtt_usec ? in->smoothed_rtt_usec - in->min_rtt_usec : 0;
        bool lossy = in->loss > ADAPT_LOSS_HIGH ||
                     (in->min_rtt_usec > 0 && queue > MAX(ADAPT_QUEUE_MIN_USEC, in->min_rtt_usec));
        p->congested_ticks = lossy ? p->congested_ticks + 1 : 0;
        bool congested = p->congested_ticks >= ADAPT_CONGESTED_TICKS;
        unsigned down = adapt_level_for_rate(in->rate, 1.0), up = adapt_level_for_rate(in->rate, ADAPT_UP_MARGIN);
        if (congested)
                down = MIN(down + 1, ADAPT_LEVELS - 1);
        if (lossy)
                up = ADAPT_LEVELS; /* never up while the link is lossy or queueing */

        /* A low rate while the display did not fill the link says what the display sent, not what
         * the link carries: only a backlog (or congestion) lowers the level. */
        if (down > p->level && (in->backlogged || congested)) {
                p->up_ticks = 0;
                if (++p->down_ticks >= ADAPT_DOWN_TICKS) {
                        p->level++; /* one level per step, whatever the distance */
                        p->down_ticks = 0;
                }
        } else if (up < p->level) {
                p->down_ticks = 0;
                if (++p->up_ticks >= ADAPT_UP_TICKS) {
                        p->level--;
                        p->up_ticks = 0;
                }
        } else
                p->up_ticks = p->down_ticks = 0;

        apply_level(p);
        /* At level 0 frames are not cut: flow control (frames in flight, rudp's pacing) suffices,
         * and cutting them there would only add frames for the in-flight window to wait on. */
        p->frame_budget = p->level == 0 ? 0 : budget_for(in->rate, p->frame_usec);
        if (p->level != old)
                p->changes++;
        return p->level != old;
}

uint64_t adapt_policy_frame_gap(const AdaptPolicy *p, size_t bytes) {
        if (p->level == 0 || p->rate == 0)
                return 0;
        double gap = (double) bytes * 1e6 / ((double) p->rate * ADAPT_LINK_SHARE);
        return gap >= (double) ADAPT_GAP_MAX_USEC ? ADAPT_GAP_MAX_USEC : (uint64_t) gap;
}

double adapt_loss_update(AdaptLoss *l, uint64_t lost, uint64_t sent, uint64_t min_rtt_usec, uint64_t smoothed_rtt_usec) {
        /* A queue as long as the path: drops now may be its overflowing, not the link's loss. */
        if (min_rtt_usec == 0 || smoothed_rtt_usec <= 2 * min_rtt_usec) {
                l->lost = l->lost * ADAPT_LOSS_DECAY + (double) lost;
                l->sent = l->sent * ADAPT_LOSS_DECAY + (double) sent;
        }
        return l->sent >= ADAPT_LOSS_MIN_PACKETS ? MIN(l->lost / l->sent, 1.0) : 0.0;
}
