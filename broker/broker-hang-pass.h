/* The broker's hang pass (Libvirt=yes): every HangCheckSeconds, each host that has desktops is
 * sampled (broker-libvirt-sample.h: threads, never blocking the loop) and hostd's reported signals
 * are read from the store (display progress, input, agent heartbeat); each desktop's HangDesktop
 * (broker-hang.h) judges them with its pool's policy, and the decisions become:
 *   - health and its reason on the desktop (healthy, vm-hang, os-hang, agent-hang);
 *   - an event for each new decision (action reset, alert or hang-suspect), the decision's JSON
 *     as evidence with "cause" (the class: GET /metrics counts resets by it);
 *   - a reset through libvirt (CYCLE when QEMU does not answer), on a thread of its own.
 * reboot-then-reset: a REBOOT decision queues a power request (broker-store-power.h) that the
 * desktop's hostd takes with its next report and hands to the agent; the event (action reboot)
 * names the request. When hostd reports it refused, without agent, or it expires undelivered, a
 * "graceful-failed" event follows and the detector resets at once; when the agent accepted it, the
 * detector waits up to the graceful timeout (the pool's grace, at least 30 s, at most 120 s) for
 * the signals to clear, then resets.
 * A desktop is expected to run when it is assigned, or once a sample saw it running; not after
 * the guest shut itself down (until it runs again): a shut off desktop nobody uses, or one its
 * user shut down, is not hung.
 * The state is in memory (a restarted broker starts every desktop's grace anew), except the
 * policy's history: a desktop's resets and reboots of the last hour are read from the events at
 * its first sight, so the hourly cap (the pool's max_resets_per_hour; 0: alert only) and the
 * backoff hold across restarts. */
#pragma once

#include "broker-manager.h"

typedef struct HangPass HangPass;

int hang_pass_new(Manager *m, HangPass **ret);
HangPass *hang_pass_free(HangPass *p);
static inline void hang_pass_freep(HangPass **p) {
        hang_pass_free(*p);
}
