#include "hostd-broker-power.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "hostd-agent.h"
#include "hostd-broker.h"
#include "log.h"

const char *broker_power_outcome_name(BrokerPowerOutcome o) {
        switch (o) {
        case BROKER_POWER_OK:
                return "ok";
        case BROKER_POWER_FAILED:
                return "failed";
        case BROKER_POWER_NO_AGENT:
                return "no-agent";
        default:
                return "running";
        }
}

/* The agent's reason is guest text: only what the broker takes goes on. */
static void set_detail(BrokerPowerJob *j, const char *text) {
        size_t n = 0;
        for (; text && text[n] && n < BROKER_POWER_DETAIL_MAX; n++) {
                char ch = text[n];
                j->detail[n] = (ch < ' ' || ch > '~' || ch == '"' || ch == '\\') ? '?' : ch;
        }
        j->detail[n] = 0;
}

static void job_end(BrokerPowerJob *j, BrokerPowerOutcome o, const char *detail) {
        j->outcome = o;
        set_detail(j, detail);
        log_info("Broker power request %lld on %s: %s%s%s", (long long) j->id, j->domain,
                 broker_power_outcome_name(o), j->detail[0] ? ": " : "", j->detail);
}

static void on_agent_done(void *userdata, int error, uint8_t status, const char *reason) {
        BrokerPowerJob *j = userdata;
        if (!j->used || j->outcome != BROKER_POWER_RUNNING)
                return;
        if (error < 0)
                job_end(j, BROKER_POWER_FAILED, error == -ETIMEDOUT ? "no answer from the agent" : "the agent went away");
        else if (status == AGENT_STATUS_OK)
                job_end(j, BROKER_POWER_OK, reason && reason[0] ? reason : "accepted");
        else {
                char text[BROKER_POWER_DETAIL_MAX + 1];
                snprintf(text, sizeof(text), "%s%s%s", agent_status_name(status) ?: "refused", reason && reason[0] ? ": " : "",
                         reason ? reason : "");
                job_end(j, BROKER_POWER_FAILED, text);
        }
}

static BrokerPowerJob *job_find(BrokerClient *b, int64_t id) {
        for (size_t i = 0; i < BROKER_POWER_JOBS_MAX; i++)
                if (b->power_jobs[i].used && b->power_jobs[i].id == id)
                        return &b->power_jobs[i];
        return NULL;
}

static void job_start(BrokerClient *b, BrokerPowerJob *j, const BrokerPowerAsk *q) {
        *j = (BrokerPowerJob) { .client = b, .used = true, .id = q->id, .outcome = BROKER_POWER_RUNNING };
        memcpy(j->domain, q->domain, sizeof(j->domain));
        Agent *a = manager_agent(b->manager, q->domain);
        if (!a)
                return job_end(j, BROKER_POWER_NO_AGENT, "no such domain on this host");
        int r = agent_power_request(a, q->shutdown ? AGENT_ACTION_SHUTDOWN : AGENT_ACTION_REBOOT, on_agent_done, j);
        if (r == -ENOTCONN)
                job_end(j, BROKER_POWER_NO_AGENT, "no agent with the power feature");
        else if (r == -EBUSY)
                job_end(j, BROKER_POWER_FAILED, "another power request is pending");
        else if (r < 0)
                job_end(j, BROKER_POWER_FAILED, strerror(-r));
        else
                log_info("Broker power request %lld: asking the agent of %s to %s", (long long) j->id, j->domain,
                         q->shutdown ? "shut down" : "reboot");
}

void broker_power_take(BrokerClient *b, const BrokerPowerAsk *asks, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (job_find(b, asks[i].id))
                        continue; /* running, or its outcome not yet accepted */
                BrokerPowerJob *free_slot = NULL;
                for (size_t k = 0; k < BROKER_POWER_JOBS_MAX && !free_slot; k++)
                        if (!b->power_jobs[k].used)
                                free_slot = &b->power_jobs[k];
                if (!free_slot)
                        return; /* the rest come again with the next answer */
                job_start(b, free_slot, &asks[i]);
        }
}

json_t *broker_power_results(BrokerClient *b) {
        json_t *list = NULL;
        for (size_t i = 0; i < BROKER_POWER_JOBS_MAX; i++) {
                BrokerPowerJob *j = &b->power_jobs[i];
                if (!j->used || j->outcome == BROKER_POWER_RUNNING)
                        continue;
                if (!list && !(list = json_array()))
                        return NULL;
                json_t *o = json_pack("{s:I,s:s,s:s}", "id", (json_int_t) j->id, "outcome", broker_power_outcome_name(j->outcome),
                                      "detail", j->detail);
                if (o && json_array_append_new(list, o) == 0)
                        j->in_flight = true;
        }
        return list;
}

void broker_power_finish(BrokerClient *b, bool accepted) {
        for (size_t i = 0; i < BROKER_POWER_JOBS_MAX; i++) {
                BrokerPowerJob *j = &b->power_jobs[i];
                if (!j->used || !j->in_flight)
                        continue;
                if (accepted)
                        *j = (BrokerPowerJob) {};
                else
                        j->in_flight = false;
        }
}

void broker_power_done(BrokerClient *b) {
        for (size_t i = 0; i < BROKER_POWER_JOBS_MAX; i++) {
                BrokerPowerJob *j = &b->power_jobs[i];
                if (j->used && j->outcome == BROKER_POWER_RUNNING)
                        agent_power_cancel(manager_agent(b->manager, j->domain), j);
                *j = (BrokerPowerJob) {};
        }
}

void broker_power_count(BrokerClient *b, unsigned *ret_running, unsigned *ret_unreported) {
        unsigned running = 0, unreported = 0;
        for (size_t i = 0; i < BROKER_POWER_JOBS_MAX; i++) {
                if (!b->power_jobs[i].used)
                        continue;
                if (b->power_jobs[i].outcome == BROKER_POWER_RUNNING)
                        running++;
                else
                        unreported++;
        }
        *ret_running = running;
        *ret_unreported = unreported;
}
