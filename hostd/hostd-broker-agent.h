/* The guest agent's part of a host report: per desktop the agent's state, its heartbeat's age and
 * who is logged on, and the logons and logoffs since the last report. A seam: hostd's agent side
 * (hostd-agent*.c, its own branch) fills it once it is merged; until then every desktop's agent
 * is unknown (the report leaves the fields out, the broker keeps what it had) and there are no
 * session events. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostd-forward.h"

typedef enum BrokerAgentState {
        BROKER_AGENT_UNKNOWN = -1, /* not reported */
        BROKER_AGENT_ABSENT = 0,
        BROKER_AGENT_ACTIVE,
        BROKER_AGENT_LOST,
} BrokerAgentState;

#define BROKER_USER_MAX 63

typedef struct BrokerAgentInfo {
        BrokerAgentState state;
        bool has_heartbeat_age;
        uint64_t heartbeat_age_sec;
        bool has_logged_on_user;
        char logged_on_user[BROKER_USER_MAX + 1]; /* "" when nobody */
} BrokerAgentInfo;

/* The agent of a desktop hostd watches, as of now_usec (CLOCK_MONOTONIC). */
void broker_agent_describe(Manager *m, const char *desktop, uint64_t now_usec, BrokerAgentInfo *ret);

/* One logon or logoff the agent saw. */
typedef struct BrokerSessionEvent {
        char desktop[64];
        char user[BROKER_USER_MAX + 1];
        bool logon;
} BrokerSessionEvent;

/* Moves up to max of the session events seen since the last call into ret, oldest first; returns
 * how many. */
size_t broker_agent_take_session_events(Manager *m, BrokerSessionEvent *ret, size_t max);

const char *broker_agent_state_name(BrokerAgentState s);
