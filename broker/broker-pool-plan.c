/* The pool upkeep's decisions: see broker-pool-plan.h. */
#include "broker-pool-plan.h"

#include <errno.h>

bool pool_desktop_ready(const PoolDesktopView *d, int64_t now) {
        if (!d->done || !d->running || !d->ready_flag || d->assigned)
                return false;
        if (d->health_ok)
                return true;
        return d->health_unknown && d->state_changed > 0 && now - d->state_changed <= POOL_FRESH_SECONDS;
}

void pool_plan(const PoolCounts *c, unsigned slots, PoolPlan *ret) {
        PoolPlan p = {};
        unsigned have = c->ready + c->starting;
        if (have < c->min_ready) {
                unsigned want = c->min_ready - have;
                if (c->max_size > 0)
                        want = c->total >= c->max_size ? 0 : (want < c->max_size - c->total ? want : c->max_size - c->total);
                p.provision = want < slots ? want : slots;
        }
        if (c->max_size > 0 && c->total > c->max_size) {
                unsigned surplus = c->total - c->max_size;
                p.remove = surplus < c->removable ? surplus : c->removable;
        }
        *ret = p;
}

int pool_pick_host(const PoolHostView *hosts, size_t n) {
        int best = -ENOSPC;
        for (size_t i = 0; i < n; i++) {
                const PoolHostView *h = &hosts[i];
                if (!h->up || h->capacity == 0 || h->desktops >= h->capacity || h->in_flight >= POOL_HOST_MAX_IN_FLIGHT)
                        continue;
                if (best < 0) {
                        best = (int) i;
                        continue;
                }
                const PoolHostView *b = &hosts[best];
                /* h->desktops / h->capacity < b->desktops / b->capacity, without division. */
                uint64_t lh = (uint64_t) h->desktops * b->capacity, lb = (uint64_t) b->desktops * h->capacity;
                if (lh < lb || (lh == lb && h->desktops < b->desktops))
                        best = (int) i;
        }
        return best;
}

PoolResetCause pool_reset_due(const PoolFloatingView *v, int64_t now) {
        if (!v->floating || !v->assigned || v->disconnect_limit <= 0)
                return POOL_RESET_NONE;
        if (v->open_sessions > 0 || v->last_session_end <= 0)
                return POOL_RESET_NONE;
        return now - v->last_session_end >= v->disconnect_limit ? POOL_RESET_DISCONNECT_LIMIT : POOL_RESET_NONE;
}

const char *pool_reset_cause_to_string(PoolResetCause c) {
        switch (c) {
        case POOL_RESET_LOGOFF:
                return "logoff";
        case POOL_RESET_DISCONNECT_LIMIT:
                return "disconnect-limit";
        default:
                return "none";
        }
}

unsigned pool_backoff_seconds(unsigned failures, unsigned interval_seconds) {
        if (failures == 0)
                return 0;
        uint64_t s = interval_seconds ? interval_seconds : 1;
        for (unsigned i = 1; i < failures && s < POOL_BACKOFF_MAX_SECONDS; i++)
                s *= 2;
        return s > POOL_BACKOFF_MAX_SECONDS ? POOL_BACKOFF_MAX_SECONDS : (unsigned) s;
}
