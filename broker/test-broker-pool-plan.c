/* The pool upkeep's decisions alone: counts in, actions out. */
#include <errno.h>
#include <stdint.h>

#include "broker-pool-plan.h"
#include "check.h"

static PoolPlan plan(unsigned total, unsigned ready, unsigned starting, unsigned removable, unsigned min_ready,
                     unsigned max_size, unsigned slots) {
        PoolCounts c = { .total = total, .ready = ready, .starting = starting, .removable = removable,
                         .min_ready = min_ready, .max_size = max_size };
        PoolPlan p;
        pool_plan(&c, slots, &p);
        return p;
}

static void test_plan(void) {
        /* An empty pool fills up to min_ready. */
        check(plan(0, 0, 0, 0, 3, 0, 100).provision == 3);
        /* Starting ones count: nothing twice for the same need. */
        check(plan(2, 1, 2, 0, 3, 0, 100).provision == 0);
        check(plan(3, 1, 1, 0, 3, 0, 100).provision == 1);
        /* Assigned desktops are not ready: min_ready is kept after assignments (no max). */
        check(plan(5, 0, 0, 0, 2, 0, 100).provision == 2);
        /* Never past max_size. */
        check(plan(4, 0, 0, 0, 3, 5, 100).provision == 1);
        check(plan(5, 0, 0, 0, 3, 5, 100).provision == 0);
        check(plan(6, 0, 0, 0, 3, 5, 100).provision == 0);
        /* At most what the hosts take now. */
        check(plan(0, 0, 0, 0, 10, 0, 2).provision == 2);
        check(plan(0, 0, 0, 0, 10, 0, 0).provision == 0);
        /* Enough ready: nothing. */
        check(plan(3, 3, 0, 3, 2, 0, 100).provision == 0);
        check(plan(3, 3, 0, 3, 2, 0, 100).remove == 0);
        /* max_size shrank: the unassigned surplus goes, never more than is removable. */
        check(plan(8, 2, 0, 2, 1, 5, 100).remove == 2);
        check(plan(8, 4, 0, 4, 1, 5, 100).remove == 3);
        check(plan(8, 0, 0, 0, 1, 5, 100).remove == 0); /* all assigned: they stay */
        check(plan(8, 4, 0, 4, 1, 0, 100).remove == 0); /* no max */
        /* min_ready 0: the pool is not kept. */
        check(plan(0, 0, 0, 0, 0, 0, 100).provision == 0);
}

static void test_ready(void) {
        int64_t now = 100000;
        PoolDesktopView d = { .done = true, .running = true, .ready_flag = true, .health_ok = true };
        check(pool_desktop_ready(&d, now));
        d.assigned = true;
        check(!pool_desktop_ready(&d, now));
        d.assigned = false;
        d.running = false;
        check(!pool_desktop_ready(&d, now));
        d.running = true;
        d.done = false; /* being reset or removed */
        check(!pool_desktop_ready(&d, now));
        d.done = true;
        d.ready_flag = false; /* not booted clean since its logoff */
        check(!pool_desktop_ready(&d, now));
        d.ready_flag = true;
        /* Unknown health: ready while fresh only. */
        d.health_ok = false;
        d.health_unknown = true;
        d.state_changed = now - 10;
        check(pool_desktop_ready(&d, now));
        d.state_changed = now - POOL_FRESH_SECONDS - 1;
        check(!pool_desktop_ready(&d, now));
        d.state_changed = 0;
        check(!pool_desktop_ready(&d, now));
        /* Hung: never. */
        d.health_unknown = false;
        d.state_changed = now;
        check(!pool_desktop_ready(&d, now));
}

static void test_pick(void) {
        PoolHostView h[4] = {
                { .up = true, .desktops = 5, .capacity = 10 },
                { .up = true, .desktops = 2, .capacity = 10 },
                { .up = false, .desktops = 0, .capacity = 10 }, /* not reporting */
                { .up = true, .desktops = 0, .capacity = 0 },   /* takes none */
        };
        check(pool_pick_host(h, 4) == 1);
        h[1].in_flight = POOL_HOST_MAX_IN_FLIGHT; /* busy provisioning: the next one */
        check(pool_pick_host(h, 4) == 0);
        h[1].in_flight = 0;
        /* Relative load: 4 of 40 beats 2 of 10. */
        h[0] = (PoolHostView) { .up = true, .desktops = 4, .capacity = 40 };
        check(pool_pick_host(h, 4) == 0);
        /* Full hosts are skipped; none left: -ENOSPC. */
        h[0].desktops = 40;
        h[1].desktops = 10;
        check(pool_pick_host(h, 4) == -ENOSPC);
        check(pool_pick_host(h, 0) == -ENOSPC);
        /* Ties: fewer desktops, then the lower index. */
        PoolHostView t[3] = { { .up = true, .desktops = 2, .capacity = 4 }, { .up = true, .desktops = 1, .capacity = 2 },
                              { .up = true, .desktops = 1, .capacity = 2 } };
        check(pool_pick_host(t, 3) == 1);
}

static void test_reset_due(void) {
        int64_t now = 5000;
        PoolFloatingView v = { .floating = true, .assigned = true, .last_session_end = now - 100,
                               .disconnect_limit = 60 };
        check(pool_reset_due(&v, now) == POOL_RESET_DISCONNECT_LIMIT);
        v.last_session_end = now - 30;
        check(pool_reset_due(&v, now) == POOL_RESET_NONE);
        v.last_session_end = now - 100;
        v.open_sessions = 1; /* still connected */
        check(pool_reset_due(&v, now) == POOL_RESET_NONE);
        v.open_sessions = 0;
        v.disconnect_limit = 0; /* never */
        check(pool_reset_due(&v, now) == POOL_RESET_NONE);
        v.disconnect_limit = 60;
        v.floating = false; /* persistent pools keep their desktops */
        check(pool_reset_due(&v, now) == POOL_RESET_NONE);
        v.floating = true;
        v.assigned = false;
        check(pool_reset_due(&v, now) == POOL_RESET_NONE);
        v.assigned = true;
        v.last_session_end = 0; /* assigned, no session ended yet */
        check(pool_reset_due(&v, now) == POOL_RESET_NONE);
}

static void test_backoff(void) {
        check(pool_backoff_seconds(0, 5) == 0);
        check(pool_backoff_seconds(1, 5) == 5);
        check(pool_backoff_seconds(2, 5) == 10);
        check(pool_backoff_seconds(4, 5) == 40);
        check(pool_backoff_seconds(30, 5) == POOL_BACKOFF_MAX_SECONDS);
        check(pool_backoff_seconds(1000, 1) == POOL_BACKOFF_MAX_SECONDS);
}

int main(void) {
        test_plan();
        test_ready();
        test_pick();
        test_reset_due();
        test_backoff();
        return 0;
}
