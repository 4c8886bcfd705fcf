/* Network auto-detect's policy driven with synthetic estimates: a slow link lowers quality, frame
 * rate and budget one level per step; a fast clean link gets back the requested quality; a low
 * estimate without a backlog (an idle display) changes nothing; loss and a standing queue push
 * down; the viewer's ceiling is never exceeded; an estimate at a level's edge does not oscillate. */
#include "check.h"

#include "hostd-adapt-policy.h"

static AdaptInput link_of(uint64_t rate, bool backlogged) {
        return (AdaptInput) { .rate = rate, .min_rtt_usec = 50000, .smoothed_rtt_usec = 52000, .loss = 0.0,
                              .backlogged = backlogged };
}

/* Feeds the same estimates n times; returns how many calls changed the level. */
static unsigned feed(AdaptPolicy *p, const AdaptInput *in, unsigned n) {
        unsigned changes = 0;
        for (unsigned i = 0; i < n; i++) {
                unsigned before = p->level;
                bool changed = adapt_policy_update(p, in);
                check(changed == (p->level != before));
                /* bounded per step: one level at most */
                check(p->level == before || p->level == before + 1 || p->level + 1 == before);
                changes += changed;
        }
        return changes;
}

static void test_start(void) {
        AdaptPolicy p;
        adapt_policy_init(&p, 80);
        check(p.level == 0 && p.quality == 80 && p.frame_interval_usec == 0 && p.frame_budget == 0);
        /* Nothing measured: nothing changes. */
        AdaptInput none = { 0 };
        check(feed(&p, &none, 20) == 0);
        check(p.quality == 80);
}

static void test_slow_link(void) {
        AdaptPolicy p;
        adapt_policy_init(&p, 80);
        AdaptInput slow = link_of(60000, true); /* 480 kbit/s, the display waiting for it */

        /* One level per ADAPT_DOWN_TICKS, never two at once. */
        check(feed(&p, &slow, ADAPT_DOWN_TICKS - 1) == 0);
        check(p.level == 0);
        check(feed(&p, &slow, 1) == 1);
        check(p.level == 1 && p.quality < 80 && p.frame_interval_usec > 0);
        int q = p.quality;
        uint64_t interval = p.frame_interval_usec;
        check(feed(&p, &slow, 100) == ADAPT_LEVELS - 2);
        check(p.level == ADAPT_LEVELS - 1);
        check(p.quality < q && p.frame_interval_usec > interval);
        /* The budget is what the link drains in about one frame interval. */
        uint64_t drained = 60000 * p.frame_interval_usec / 1000000;
        check(p.frame_budget >= drained * 9 / 10 && p.frame_budget <= drained * 11 / 10 + ADAPT_BUDGET_MIN);
        size_t slow_budget = p.frame_budget;

        /* Recovering: a fast clean link takes the levels back, one per ADAPT_UP_TICKS. */
        AdaptInput fast = link_of(12500000, false);
        check(feed(&p, &fast, ADAPT_UP_TICKS - 1) == 0);
        check(feed(&p, &fast, 1) == 1);
        check(p.level == ADAPT_LEVELS - 2 && p.frame_budget > slow_budget);
        check(feed(&p, &fast, 100) == ADAPT_LEVELS - 2);
        check(p.level == 0 && p.quality == 80 && p.frame_interval_usec == 0 && p.frame_budget == 0);
}

/* A middling link settles on the level of its rate, and with a budget between the extremes. */
static void test_middle(void) {
        AdaptPolicy p;
        adapt_policy_init(&p, 90);
        AdaptInput mid = link_of(150000, true); /* 1.2 Mbit/s */
        feed(&p, &mid, 100);
        check(p.level == adapt_level_for_rate(150000, 1.0) && p.level > 0 && p.level < ADAPT_LEVELS - 1);
        check(p.quality < 90 && p.quality > 1);
        check(p.frame_budget >= ADAPT_BUDGET_MIN && p.frame_budget < 150000);
}

/* A low estimate with the display idle is only what the display sent: no change. */
static void test_idle_is_not_slow(void) {
        AdaptPolicy p;
        adapt_policy_init(&p, 80);
        AdaptInput idle = link_of(20000, false);
        check(feed(&p, &idle, 100) == 0);
        check(p.level == 0 && p.quality == 80);
}

/* Loss or a standing queue lowers the level even at a high rate, and blocks going up. */
static void test_congestion(void) {
        AdaptPolicy p;
        adapt_policy_init(&p, 80);
        AdaptInput lossy = link_of(12500000, false);
        lossy.loss = 0.2;
        feed(&p, &lossy, 100);
        check(p.level == 1);
        AdaptInput queued = link_of(12500000, false);
        queued.smoothed_rtt_usec = queued.min_rtt_usec + 200000;
        feed(&p, &queued, 100);
        check(p.level == 1); /* one below the rate's level, not further */
        AdaptInput clean = link_of(12500000, false);
        feed(&p, &clean, 100);
        check(p.level == 0);
}

/* The ceiling is the viewer's: never exceeded, followed at once. */
static void test_ceiling(void) {
        AdaptPolicy p;
        adapt_policy_init(&p, 20);
        check(p.quality == 20);
        AdaptInput slow = link_of(60000, true);
        feed(&p, &slow, 100);
        check(p.quality == 20); /* below every level's cap already */
        adapt_policy_set_ceiling(&p, 95);
        check(p.quality > 20 && p.quality < 95);
        AdaptInput fast = link_of(12500000, false);
        feed(&p, &fast, 100);
        check(p.quality == 95);
        adapt_policy_set_ceiling(&p, 500);
        check(p.quality == 100);
        adapt_policy_set_ceiling(&p, -3);
        check(p.quality == 1);
}

/* Hysteresis: a rate wobbling around a level's floor changes the level at most once; a rate
 * alternating up and down every tick changes nothing. */
static void test_no_oscillation(void) {
        AdaptPolicy p;
        adapt_policy_init(&p, 80);
        AdaptInput settle = link_of(300000, true);
        feed(&p, &settle, 100);
        unsigned level = p.level;
        check(level == adapt_level_for_rate(300000, 1.0));
        uint64_t changes = p.changes;
        for (unsigned i = 0; i < 400; i++) {
                AdaptInput wobble = link_of(i % 2 ? 240000 : 330000, true); /* about the 250000 floor */
                adapt_policy_update(&p, &wobble);
        }
        check(p.changes - changes <= 1);
        changes = p.changes;
        for (unsigned i = 0; i < 400; i++) {
                AdaptInput flip = link_of(i % 2 ? 60000 : 12500000, i % 2);
                adapt_policy_update(&p, &flip);
        }
        check(p.changes == changes);
}

int main(void) {
        test_start();
        test_slow_link();
        test_middle();
        test_idle_is_not_slow();
        test_congestion();
        test_ceiling();
        test_no_oscillation();
        return 0;
}
