/* The store's seam for the hang detector (broker-hang*.c) and the libvirt engine
 * (broker-libvirt*.c): read every desktop with its signals and its pool's policy, record what
 * was decided (events with evidence), set health and power state, and count recent resets for
 * the per-pool limit. Times are Unix seconds on the broker's clock; 0 in a signal means "never
 * seen". Each call is its own transaction unless the caller opened one (store_begin_immediate).
 * Errors as in broker-store.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker-store.h"

/* Event actions the broker itself writes; others are free-form (a-z, 0-9, '-'). */
#define STORE_ACTION_RESET "reset"           /* a hard reset decided by policy */
#define STORE_ACTION_REBOOT "reboot"         /* a graceful reboot decided by policy */
#define STORE_ACTION_REBOOT_REQUEST "reboot-request" /* a person asked (API) */
#define STORE_ACTION_ALERT "alert"

typedef struct StoreDesktopSignals {
        int64_t id;
        const char *domain_name, *uuid;
        const char *pool_name, *pool_kind;
        const char *host_name, *libvirt_uri; /* NULL when not placed */
        const char *power_state, *health, *health_reason;
        const char *libvirt_state, *agent_state, *assigned_user; /* assigned_user NULL when free */
        bool ready;
        int64_t state_changed, report_time;
        int64_t cpu_time_ns, cpu_time_changed;
        int64_t display_frames, display_changed, input_time;
        int64_t agent_heartbeat, libvirt_timeouts;
        int64_t host_last_report;
        int64_t agent_power_ok; /* when the agent last accepted a power request (it goes away) */
        /* The pool's hang policy. */
        int64_t hang_grace_seconds, max_resets_per_hour;
        const char *hang_action;
} StoreDesktopSignals;

/* Calls cb for every desktop (ordered by id) but those the pool upkeep is provisioning, resetting
 * or removing (broker-store-pool.h); the strings live until cb returns. A negative
 * return from cb stops the walk and is returned. */
typedef int (*StoreDesktopSignalsFn)(const StoreDesktopSignals *d, void *userdata);
int store_desktops_foreach(Store *s, StoreDesktopSignalsFn cb, void *userdata);

/* Appends to the audit trail. evidence_json: a JSON object's text (-EINVAL otherwise), or NULL
 * for {}. Resets and reboots should carry "cause" (GET /metrics counts them by it). */
int store_event_add(Store *s, int64_t now, const char *actor, const char *action, const char *object_kind,
                    const char *object_id, const char *evidence_json);
/* The same for a desktop (object_kind "desktop", object_id its id). */
int store_desktop_event(Store *s, int64_t now, const char *actor, const char *action, int64_t desktop_id,
                        const char *evidence_json);

/* health: unknown, healthy, vm-hang, os-hang, agent-hang, failed. -ENOENT: no such desktop. */
int store_desktop_set_health(Store *s, int64_t desktop_id, const char *health, const char *reason);
/* power_state: as power_states[] (broker-decode.h); state_changed is set when it changes. */
int store_desktop_set_power(Store *s, int64_t desktop_id, const char *power_state, int64_t now);
int store_desktop_set_ready(Store *s, int64_t desktop_id, bool ready);
/* Frees a floating desktop after a reset to its template: unassigned, its open sessions ended. */
int store_desktop_release(Store *s, int64_t desktop_id, int64_t now);

/* Events with this action on the desktop at or after `since` (e.g. resets in the last hour). */
int store_desktop_count_actions(Store *s, int64_t desktop_id, const char *action, int64_t since, unsigned *ret);

/* The times of the desktop's policy actions (events reset and reboot) at or after `since`, oldest
 * first: the most recent max of them in times[], their number in *ret_n. */
int store_desktop_action_times(Store *s, int64_t desktop_id, int64_t since, int64_t *times, unsigned max,
                               unsigned *ret_n);

/* The last thumbnail (malloc'd JPEG) and when it was taken: -ENOENT when there is none. */
int store_thumbnail_get(Store *s, int64_t desktop_id, uint8_t **ret, size_t *ret_len, int64_t *ret_time);
