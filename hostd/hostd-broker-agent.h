/* The guest agent's part of a host report (hostd-agent*.c): per desktop the agent's state
 * (active; lost after it had been active: closed, heartbeat missed, misbehaved; absent
 * otherwise), its heartbeat's age and who is logged on; and the logons and logoffs since the last
 * report, found by comparing the agent's session table with the one last reported. A desktop
 * whose agent is not active keeps its last table (a lost agent is not a logoff); a table that
 * shrank, an agent that came back without a session, or a desktop that stopped, is. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostd-forward.h"

typedef struct BrokerClient BrokerClient;

typedef enum BrokerAgentState {
        BROKER_AGENT_UNKNOWN = -1, /* not reported */
        BROKER_AGENT_ABSENT = 0,
        BROKER_AGENT_ACTIVE,
        BROKER_AGENT_LOST,
} BrokerAgentState;

/* Room for any name the agent reports (64); the broker takes at most 63, checked before sending. */
#define BROKER_USER_MAX 64

typedef struct BrokerAgentInfo {
        BrokerAgentState state;
        bool has_heartbeat_age;
        uint64_t heartbeat_age_sec;
        bool has_logged_on_user;
        char logged_on_user[BROKER_USER_MAX + 1]; /* "" when nobody */
} BrokerAgentInfo;

/* One logon or logoff, queued in the BrokerClient until the broker accepts a report with it. */
typedef struct BrokerSessionEvent {
        char desktop[64];
        char user[BROKER_USER_MAX + 1];
        bool logon;
} BrokerSessionEvent;

/* The agent of a desktop hostd watches, as of now_usec (CLOCK_MONOTONIC); queues the logons and
 * logoffs since the last call for it. */
void broker_agent_describe(BrokerClient *b, Domain *d, uint64_t now_usec, BrokerAgentInfo *ret);
/* After a report's desktops were described: desktops not described since the last call are gone,
 * their sessions logged off. */
void broker_agent_sweep(BrokerClient *b);
void broker_agent_done(BrokerClient *b);

const char *broker_agent_state_name(BrokerAgentState s);
