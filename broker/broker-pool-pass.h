/* The broker's pool upkeep (Libvirt=yes): every PoolCheckSeconds, and again whenever a job
 * finishes, it reads the pools, the hosts and the desktops from the store and
 *   - keeps min_ready desktops ready in each pool with a template, never more than max_size:
 *     a row is reserved in the store ('provisioning') on the least-loaded host that reports,
 *     then the domain is made from the template and started on that host's worker thread
 *     (broker-pool-worker.h), then the row is done (ready) with an event "provision";
 *   - resets floating desktops to their template after a logoff (hostd's report marks them
 *     reset-pending) or once their user's sessions have all been over for longer than the pool's
 *     disconnect_limit_seconds: remade from the template when the broker made it, power-cycled
 *     otherwise; an event "reset-to-template" with the cause;
 *   - removes unassigned surplus that the broker made when max_size shrank below the pool's size
 *     (assigned desktops are never removed; an operator's desktops neither);
 *   - finishes or undoes what a killed broker left (a row under way with no job of this broker;
 *     for 'provisioning', reserved before this broker started): the domain of a 'provisioning'
 *     row (if any) is removed with its overlays and the row dropped, so the upkeep provisions
 *     anew; 'resetting' starts over; 'removing' is removed. Until the host answers, the row
 *     stays and counts against max_size.
 * Failures are events with libvirt's message ("provision-failed", "reset-failed") and back the
 * pool off (2^n passes, at most 5 minutes), so a missing template does not spin. */
#pragma once

#include "broker-manager.h"

typedef struct PoolPass PoolPass;

int pool_pass_new(Manager *m, PoolPass **ret);
PoolPass *pool_pass_free(PoolPass *p);
static inline void pool_pass_freep(PoolPass **p) {
        pool_pass_free(*p);
}
