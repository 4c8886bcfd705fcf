/* The pool upkeep's decisions, pure: counts in, actions out (no store, no libvirt, no clock but
 * the one passed in). broker-pool-pass.c gathers the counts and carries the actions out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A desktop whose health is still unknown counts as ready this long after it was (re)started:
 * the hang detector has not judged it yet. Past it, unknown is not good enough. */
#define POOL_FRESH_SECONDS 600
/* Provisions (and resets) queued or running per host at once. */
#define POOL_HOST_MAX_IN_FLIGHT 2
/* A pool whose provisions fail waits 2^failures pass intervals, at most this long. */
#define POOL_BACKOFF_MAX_SECONDS 300

/* One desktop as the upkeep sees it. */
typedef struct PoolDesktopView {
        bool done;           /* provision_state 'done' (not being provisioned, reset or removed) */
        bool running;        /* power_state 'running' */
        bool ready_flag;     /* the store's ready (booted clean since its last reset) */
        bool assigned;
        bool health_ok;      /* healthy */
        bool health_unknown;
        int64_t state_changed; /* Unix seconds, 0 unknown */
} PoolDesktopView;

/* Ready: running, unassigned, booted clean, healthy or unknown-but-fresh. */
bool pool_desktop_ready(const PoolDesktopView *d, int64_t now);

typedef struct PoolCounts {
        unsigned total;        /* every row of the pool, whatever its state */
        unsigned ready;        /* pool_desktop_ready() */
        unsigned starting;     /* provisioning, resetting, or done but not ready yet and unassigned
                                * (booting after a start): ready soon, do not provision for it */
        unsigned removable;    /* broker-provisioned, done, unassigned, no open session */
        unsigned min_ready, max_size; /* the pool's; max_size 0 = no max */
} PoolCounts;

typedef struct PoolPlan {
        unsigned provision; /* new desktops to provision now */
        unsigned remove;    /* unassigned surplus to remove (max_size shrunk) */
} PoolPlan;

/* While ready + starting < min_ready and total < max_size, provision, at most `slots` (what the
 * hosts can take now). Past max_size, remove unassigned surplus only; assigned desktops stay. */
void pool_plan(const PoolCounts *c, unsigned slots, PoolPlan *ret);

/* Host choice for one provision: the least-loaded healthy host with room (broker_pick_host()'s
 * rule), counting what is in flight there, skipping hosts with POOL_HOST_MAX_IN_FLIGHT. */
typedef struct PoolHostView {
        bool up;             /* state 'up' and a report within the broker's ReportMaxAge */
        unsigned desktops;   /* rows placed on it, in flight included */
        unsigned capacity;   /* 0 = takes none */
        unsigned in_flight;  /* our provisions and resets queued or running there */
} PoolHostView;

/* Index of the host, or -ENOSPC. */
int pool_pick_host(const PoolHostView *hosts, size_t n);

/* Floating desktops: when is one reset to its template. */
typedef enum PoolResetCause {
        POOL_RESET_NONE,
        POOL_RESET_LOGOFF,           /* the agent reported the user's logoff */
        POOL_RESET_DISCONNECT_LIMIT, /* the user's sessions all ended longer ago than the limit */
} PoolResetCause;

typedef struct PoolFloatingView {
        bool floating;
        bool assigned;
        unsigned open_sessions;
        int64_t last_session_end;   /* 0: none ever ended */
        int64_t disconnect_limit;   /* seconds; 0 = never */
} PoolFloatingView;

PoolResetCause pool_reset_due(const PoolFloatingView *v, int64_t now);
const char *pool_reset_cause_to_string(PoolResetCause c);

/* Seconds to wait after `failures` failed provisions in a row (0 failures: none). */
unsigned pool_backoff_seconds(unsigned failures, unsigned interval_seconds);
