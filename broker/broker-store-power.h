/* Power requests for a guest's agent (schema/sql/0003-power-requests.sql): the broker cannot
 * reach the agent, hostd can. A request waits in the store; the answer to its host's report
 * hands it to hostd (store_power_requests_pending) until hostd reports how it ended
 * (store_power_request_finish) or it expires. One open request per desktop. Each step is an
 * event on the desktop: "power-request" (by the requester), "power-request-done" (by the host).
 * Times are Unix seconds. Errors as in broker-store.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "broker-decode.h"
#include "broker-store.h"

#define POWER_REQUEST_ACTION_REBOOT "reboot"
#define POWER_REQUEST_ACTION_SHUTDOWN "shutdown"
/* How long a person's request waits for its host (a few reports; hostd reports every 10 s). */
#define POWER_REQUEST_TTL_SECONDS 120

/* Queues action (reboot, shutdown) for the desktop, open until now + ttl. When the desktop already
 * has an open, unexpired request, that one is kept: its id is returned and *ret_new is false. An
 * expired open request is closed first (outcome failed, detail "expired"). -ENOENT: no desktop. */
int store_power_request_add(Store *s, int64_t desktop_id, const char *action, const char *requester, int64_t now,
                            int64_t ttl, int64_t *ret_id, bool *ret_new);

typedef struct StorePowerRequest {
        int64_t id, desktop_id;
        const char *domain_name, *action, *requester;
} StorePowerRequest;
typedef int (*StorePowerRequestFn)(const StorePowerRequest *q, void *userdata);
/* Calls cb for each open, unexpired request of the host's desktops, oldest first (at most max).
 * The strings live until cb returns. */
int store_power_requests_pending(Store *s, const char *host, int64_t now, unsigned max, StorePowerRequestFn cb,
                                 void *userdata);

/* Closes every open request past its expiry (outcome failed, detail "expired", an event
 * "power-request-done" by "broker") and calls cb for each, after the commit. */
int store_power_requests_expire(Store *s, int64_t now, StorePowerRequestFn cb, void *userdata);

/* hostd's outcome (POWER_OUTCOME_*) of request id, with its detail (printable, may be ""):
 * -ENOENT when the request is not open on one of this host's desktops (unknown, already done, or
 * another host's: a host cannot close another's requests). */
int store_power_request_finish(Store *s, const char *host, int64_t id, int outcome, const char *detail, int64_t now);

/* How request id stands: "pending", "expired", or its outcome (a static string). -ENOENT. */
int store_power_request_state(Store *s, int64_t id, int64_t now, const char **ret);
