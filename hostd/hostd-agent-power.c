/* Power requests to the agent (a graceful reboot or shutdown inside the guest), one at a time per
 * desktop, for the control socket's agent-power (and the broker behind it). */
#include <errno.h>
#include <stdio.h>

#include "hostd-agent-internal.h"
#include "hostd-manager.h"
#include "log.h"

void agent_power_fail(Agent *a, int error) {
        AgentPowerDoneFn done = a->power_done;
        void *userdata = a->power_userdata;
        a->power_done = NULL;
        a->power_userdata = NULL;
        if (a->power_timer)
                sd_event_source_set_enabled(a->power_timer, SD_EVENT_OFF);
        if (done)
                done(userdata, error, 0, NULL);
}

static int on_power_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        log_warning("%s: no reply from the agent to power-request %s", agent_desktop(a),
                    agent_action_name(a->power_action));
        agent_power_fail(a, -ETIMEDOUT);
        return 0;
}

int agent_power_request(Agent *a, uint8_t action, AgentPowerDoneFn done, void *userdata) {
        if (action > AGENT_ACTION_SHUTDOWN)
                return -EINVAL;
        if (a->state != AGENT_ACTIVE || !(a->features & AGENT_CAP_POWER))
                return -ENOTCONN;
        if (a->power_done)
                return -EBUSY;
        AgentPowerRequest q = { .action = action };
        int r = agent_encode_power_request(agent_out(a), &q);
        if (r < 0)
                return r;
        uint64_t at = agent_now(a) + AGENT_POWER_TIMEOUT_USEC;
        if (!a->power_timer) {
                r = sd_event_add_time(a->manager->event, &a->power_timer, CLOCK_MONOTONIC, at, 0, on_power_timeout, a);
                if (r < 0)
                        return r;
        } else
                sd_event_source_set_time(a->power_timer, at);
        sd_event_source_set_enabled(a->power_timer, SD_EVENT_ONESHOT);
        a->power_done = done;
        a->power_userdata = userdata;
        a->power_action = action;
        log_info("%s: asking the agent to %s", agent_desktop(a), agent_action_name(action));
        agent_flush(a);
        return 0;
}

void agent_power_cancel(Agent *a, void *userdata) {
        if (a && a->power_done && a->power_userdata == userdata) {
                a->power_done = NULL;
                a->power_userdata = NULL;
        }
}

int agent_power_reply(Agent *a, const AgentPowerReply *m) {
        char reason[AGENT_POWER_REPLY_REASON_MAX + 1];
        if (!a->power_done || m->action != a->power_action)
                return 0; /* unasked, or for a request given up on */
        if (m->status > AGENT_STATUS_UNSUPPORTED) {
                agent_violation(a, AGENT_CODE_PROTOCOL_ERROR, "power-reply with status %u", m->status);
                return -EPROTO;
        }
        snprintf(reason, sizeof(reason), "%.*s", (int) m->reason_len, m->reason);
        log_info("%s: the agent answered %s: %s%s%s", agent_desktop(a), agent_action_name(m->action),
                 agent_status_name(m->status), reason[0] ? ": " : "", reason);
        AgentPowerDoneFn done = a->power_done;
        void *userdata = a->power_userdata;
        a->power_done = NULL;
        a->power_userdata = NULL;
        sd_event_source_set_enabled(a->power_timer, SD_EVENT_OFF);
        done(userdata, 0, m->status, reason);
        return 0;
}
