#include "hostd-broker-agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-agent-internal.h" /* read only: the state, heartbeat and session table */
#include "hostd-broker.h"
#include "hostd-domain.h"
#include "hostd-manager.h"

/* The sessions of one desktop as last reported. */
typedef struct SeenSession {
        char session[AGENT_LOGON_SESSION_MAX + 1];
        char user[AGENT_LOGON_USER_MAX + 1];
} SeenSession;

typedef struct BrokerAgentSeen {
        char desktop[64];
        SeenSession *sessions;
        size_t n_sessions;
        bool described;
} BrokerAgentSeen;

static void queue_event(BrokerClient *b, const char *desktop, const char *user, bool logon) {
        if (!b->events && !(b->events = calloc(BROKER_EVENTS_MAX, sizeof(BrokerSessionEvent)))) {
                b->events_dropped++;
                return;
        }
        /* Bounded: past the cap (a broker away for long) the newest are dropped and counted. */
        if (b->n_events >= BROKER_EVENTS_MAX) {
                b->events_dropped++;
                return;
        }
        BrokerSessionEvent *e = &b->events[b->n_events++];
        snprintf(e->desktop, sizeof(e->desktop), "%s", desktop);
        snprintf(e->user, sizeof(e->user), "%s", user);
        e->logon = logon;
}

static BrokerAgentSeen *seen_find(BrokerClient *b, const char *desktop) {
        for (size_t i = 0; i < b->n_agent_seen; i++)
                if (strcmp(b->agent_seen[i].desktop, desktop) == 0)
                        return &b->agent_seen[i];
        if (b->n_agent_seen >= BROKER_THUMBS_MAX)
                return NULL;
        BrokerAgentSeen *s = realloc(b->agent_seen, (b->n_agent_seen + 1) * sizeof(BrokerAgentSeen));
        if (!s)
                return NULL;
        b->agent_seen = s;
        s = &b->agent_seen[b->n_agent_seen++];
        *s = (BrokerAgentSeen) {};
        snprintf(s->desktop, sizeof(s->desktop), "%s", desktop);
        return s;
}

static bool has_session(const SeenSession *list, size_t n, const char *session, const char *user) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(list[i].session, session) == 0 && strcmp(list[i].user, user) == 0)
                        return true;
        return false;
}

/* Logons for sessions new in the agent's table, logoffs for those gone; then the table is
 * what was reported. */
static void diff_sessions(BrokerClient *b, BrokerAgentSeen *s, const Agent *a) {
        SeenSession *now = a->n_logons ? calloc(a->n_logons, sizeof(SeenSession)) : NULL;
        if (a->n_logons && !now)
                return; /* out of memory: compared next time */
        for (size_t i = 0; i < a->n_logons; i++) {
                snprintf(now[i].session, sizeof(now[i].session), "%s", a->logons[i].session);
                snprintf(now[i].user, sizeof(now[i].user), "%s", a->logons[i].user);
                if (!has_session(s->sessions, s->n_sessions, now[i].session, now[i].user))
                        queue_event(b, s->desktop, now[i].user, true);
        }
        for (size_t i = 0; i < s->n_sessions; i++)
                if (!has_session(now, a->n_logons, s->sessions[i].session, s->sessions[i].user))
                        queue_event(b, s->desktop, s->sessions[i].user, false);
        free(s->sessions);
        s->sessions = now;
        s->n_sessions = a->n_logons;
}

void broker_agent_describe(BrokerClient *b, Domain *d, uint64_t now_usec, BrokerAgentInfo *ret) {
        BrokerAgentInfo info = { .state = BROKER_AGENT_UNKNOWN };
        Agent *a = d->agent;
        BrokerAgentSeen *s = seen_find(b, d->name);
        if (s)
                s->described = true;
        if (!a) {
                *ret = info;
                return;
        }
        if (agent_state(a) == AGENT_ACTIVE)
                info.state = BROKER_AGENT_ACTIVE;
        else if (a->counters.hellos > 0 && (a->cause == AGENT_CAUSE_HEARTBEAT || a->cause == AGENT_CAUSE_CLOSED ||
                                            a->cause == AGENT_CAUSE_MISBEHAVED))
                info.state = BROKER_AGENT_LOST;
        else
                info.state = BROKER_AGENT_ABSENT;
        if (a->have_heartbeat && now_usec >= a->heartbeat_usec) {
                info.has_heartbeat_age = true;
                info.heartbeat_age_sec = (now_usec - a->heartbeat_usec) / 1000000;
        }
        if (info.state == BROKER_AGENT_ACTIVE) {
                /* The most recent logon's user is the one at the desktop. */
                const AgentLogonEntry *last = NULL;
                for (size_t i = 0; i < a->n_logons; i++)
                        if (!last || a->logons[i].time_us >= last->time_us)
                                last = &a->logons[i];
                info.has_logged_on_user = true;
                snprintf(info.logged_on_user, sizeof(info.logged_on_user), "%s", last ? last->user : "");
                if (s)
                        diff_sessions(b, s, a);
        }
        *ret = info;
}

void broker_agent_sweep(BrokerClient *b) {
        /* Without libvirt hostd sees no domain: that is not every desktop stopping. */
        if (!b->manager->conn)
                return;
        for (size_t i = 0; i < b->n_agent_seen;) {
                BrokerAgentSeen *s = &b->agent_seen[i];
                if (s->described) {
                        s->described = false;
                        i++;
                        continue;
                }
                /* The desktop stopped: whoever was on it is logged off. */
                for (size_t k = 0; k < s->n_sessions; k++)
                        queue_event(b, s->desktop, s->sessions[k].user, false);
                free(s->sessions);
                *s = b->agent_seen[--b->n_agent_seen];
        }
}

void broker_agent_done(BrokerClient *b) {
        for (size_t i = 0; i < b->n_agent_seen; i++)
                free(b->agent_seen[i].sessions);
        free(b->agent_seen);
        b->agent_seen = NULL;
        b->n_agent_seen = 0;
}

const char *broker_agent_state_name(BrokerAgentState s) {
        switch (s) {
        case BROKER_AGENT_ABSENT:
                return "absent";
        case BROKER_AGENT_ACTIVE:
                return "active";
        case BROKER_AGENT_LOST:
                return "lost";
        default:
                return NULL;
        }
}
