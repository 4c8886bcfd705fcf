/* The store's seam for pool upkeep (broker-pool-pass.c): the pools, their desktops with what the
 * upkeep weighs, the hosts' loads, and the provisioning life cycle of a desktop row:
 *
 *   reserve (row 'provisioning', before libvirt is touched) -> done | abandoned (row deleted)
 *   done -> reset-pending (floating: logoff, disconnect limit) -> resetting -> done
 *   done (unassigned surplus) -> removing -> removed (row deleted)
 *
 * The row comes first, so a broker killed mid-way finds its work on the next start and the
 * max_size check counts it. Each call is one transaction. Errors as in broker-store.h; -ENOSPC
 * when a pool is at its max_size, -ESTALE when the row is no longer in the expected state. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker-store.h"

typedef struct StorePool {
        int64_t id;
        const char *name, *kind, *template_name;
        unsigned min_ready, max_size;
        int64_t disconnect_limit;
} StorePool;
typedef int (*StorePoolFn)(const StorePool *p, void *userdata);
int store_pools_foreach(Store *s, StorePoolFn cb, void *userdata);

typedef struct StorePoolDesktop {
        int64_t id, pool_id, host_id; /* host_id 0: not placed */
        const char *domain_name, *provision_state, *power_state, *health, *mac, *reset_cause;
        const char *libvirt_uri; /* NULL when not placed */
        bool provisioned, ready, assigned;
        int64_t state_changed, provision_time;
        unsigned open_sessions;
        int64_t last_session_end; /* 0: none ended */
} StorePoolDesktop;
typedef int (*StorePoolDesktopFn)(const StorePoolDesktop *d, void *userdata);
/* Every desktop, ordered by pool then id. */
int store_pool_desktops_foreach(Store *s, StorePoolDesktopFn cb, void *userdata);

typedef struct StoreHostLoad {
        int64_t id;
        const char *name, *libvirt_uri;
        bool up; /* state 'up' with a report at or after report_since */
        unsigned capacity, desktops;
} StoreHostLoad;
typedef int (*StoreHostLoadFn)(const StoreHostLoad *h, void *userdata);
int store_host_loads_foreach(Store *s, int64_t report_since, StoreHostLoadFn cb, void *userdata);

/* A new row POOL-NNN (NNN above every existing one and at least serial_floor) on the host, in
 * state 'provisioning'; -ENOSPC at max_size. ret_name gets the domain name. */
int store_pool_reserve(Store *s, int64_t pool_id, int64_t host_id, unsigned serial_floor, int64_t now,
                       int64_t *ret_id, char *ret_name, size_t name_size, unsigned *ret_serial);

/* The domain runs: state done, running, ready; its identity (NULLs keep what the row has); an event (action "provision" or
 * "reset-to-template") by "broker" with the evidence. */
int store_pool_desktop_done(Store *s, int64_t id, const char *uuid, const char *mac, const char *overlays_json,
                            int64_t now, const char *action, const char *evidence_json);
/* Deletes a row in `state` (provisioning or removing) and records action on its pool. */
int store_pool_desktop_drop(Store *s, int64_t id, const char *state, int64_t now, const char *action,
                            const char *evidence_json);
/* from -> to, or -ESTALE. Entering removing or resetting also requires the row to be unassigned. */
int store_pool_desktop_transition(Store *s, int64_t id, const char *from, const char *to, int64_t now);
/* A floating desktop's user is gone (cause: logoff, disconnect-limit): unassigned, its sessions
 * ended, not ready, reset-pending; an event "release" by actor. */
int store_pool_desktop_release(Store *s, int64_t id, const char *cause, const char *actor, int64_t now);
/* An event on a pool. */
int store_pool_event(Store *s, int64_t pool_id, int64_t now, const char *action, const char *evidence_json);
