/* The guest agent of one domain, as hostd sees it (schema/agent-protocol.md): the virtio-serial
 * channel org.tandem.agent.0 (a unix socket QEMU listens on), the hello that makes the agent
 * active, its liveness, the limits an untrusted guest is held to, and the fall back to the
 * hypervisor path (with a re-open after a backoff) whenever it is lost. Viewers with cap `agent'
 * are told every change (agent-status). The features it relays live in hostd-agent-*.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "hostd-agent-policy.h"
#include "hostd-forward.h"
#include "macro.h"

typedef struct Agent Agent;

/* Opens the domain's agent channel: a connected, non-blocking stream fd, -ENOENT when the domain
 * has none (nothing is retried until the domain is attached again), another negative errno to
 * retry after the backoff. The daemon's is agent_channel_connect(); tests put a socketpair here. */
typedef int (*AgentConnectFn)(Manager *m, Domain *d, void *userdata);

/* Why the session is on the hypervisor path (wire.def's `cause' values). */
typedef enum AgentCause {
        AGENT_CAUSE_NONE = 0,
        AGENT_CAUSE_HELLO = 1,
        AGENT_CAUSE_CLOSED = 2,
        AGENT_CAUSE_HEARTBEAT = 3,
        AGENT_CAUSE_REBOOT = 4,
        AGENT_CAUSE_MISBEHAVED = 5,
        AGENT_CAUSE_DISABLED = 6,
} AgentCause;

typedef enum AgentState {
        AGENT_IDLE,   /* no channel: none found, or waiting to re-open it */
        AGENT_OPEN,   /* channel open, our hello sent, no valid hello from the guest yet */
        AGENT_ACTIVE, /* the guest said hello: features on */
} AgentState;

int agent_new(Domain *d, Agent **ret);
Agent *agent_free(Agent *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(Agent *, agent_free);

/* The domain runs (again): open the channel now, forgetting the backoff. */
void agent_start(Agent *a);
/* The guest rebooted or the domain stopped: whatever agent ran is gone. Closes the channel, falls
 * back (cause guest-reboot) and, when reopen, opens it again shortly. */
void agent_guest_reset(Agent *a, bool reopen);

AgentState agent_state(const Agent *a);
/* The agent protocol's capability bits in use now (0 unless active). */
uint64_t agent_features(const Agent *a);
const AgentPolicy *agent_policy(const Agent *a);

/* A viewer of the desktop was welcomed or resumed: tell it the agent's state (and its window
 * table), if it has the caps for them. */
struct Viewer;
void agent_viewer_joined(Agent *a, struct Viewer *v);
/* A message of the agent's wire channels (paste-text, clipboard, windows, resize) from a viewer. */
struct WireMessage;
void agent_viewer_message(Agent *a, struct Viewer *v, const struct WireMessage *m);

/* power-request: the reply (or a failure: -ENOTCONN no agent or no power feature, -EBUSY one is
 * pending, -ETIMEDOUT no reply within 30 s, -ECONNRESET agent lost) goes to done, once. */
typedef void (*AgentPowerDoneFn)(void *userdata, int error, uint8_t status, const char *reason);
int agent_power_request(Agent *a, uint8_t action, AgentPowerDoneFn done, void *userdata);
/* Forgets a pending request's callback (its requester went away). */
void agent_power_cancel(Agent *a, void *userdata);

/* The status JSON's `agent' object of this desktop. */
typedef void (*AgentWriteFn)(void *userdata, const char *data, size_t len);
void agent_describe_json(Agent *a, AgentWriteFn write, void *userdata);

/* The desktop's media relay (hostd-media.h). */
struct Media;
struct Media *agent_media(Agent *a);

/* The agent of a desktop, or NULL. */
Agent *manager_agent(Manager *m, const char *desktop);
