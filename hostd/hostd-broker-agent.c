#include "hostd-broker-agent.h"

#include <stddef.h>

void broker_agent_describe(Manager *m, const char *desktop, uint64_t now_usec, BrokerAgentInfo *ret) {
        (void) m;
        (void) desktop;
        (void) now_usec;
        *ret = (BrokerAgentInfo) { .state = BROKER_AGENT_UNKNOWN };
}

size_t broker_agent_take_session_events(Manager *m, BrokerSessionEvent *ret, size_t max) {
        (void) m;
        (void) ret;
        (void) max;
        return 0;
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
