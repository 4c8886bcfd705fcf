/* Logons the agent reports: kept (at most AGENT_LOGONS_MAX) for the status and, later, the broker. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-agent-internal.h"
#include "hostd-manager.h"
#include "log.h"

void agent_sessions_clear(Agent *a) {
        free(a->logons);
        a->logons = NULL;
        a->n_logons = 0;
}

static void copy_field(char *dst, const char *src, size_t len) {
        memcpy(dst, src, len); /* the decoder bounded len by the field's maximum, dst has room for NUL */
        dst[len] = 0;
}

static AgentLogonEntry *find_logon(Agent *a, const char *session, size_t len) {
        for (size_t i = 0; i < a->n_logons; i++)
                if (strlen(a->logons[i].session) == len && memcmp(a->logons[i].session, session, len) == 0)
                        return &a->logons[i];
        return NULL;
}

static int agent_logon(Agent *a, const AgentLogon *m) {
        if (m->session_len == 0) {
                agent_violation(a, AGENT_CODE_PROTOCOL_ERROR, "logon without a session id");
                return -EPROTO;
        }
        if (m->source > AGENT_SOURCE_UTMP) {
                agent_violation(a, AGENT_CODE_PROTOCOL_ERROR, "logon with an unknown source %u", m->source);
                return -EPROTO;
        }
        AgentLogonEntry *e = find_logon(a, m->session, m->session_len);
        if (!e) {
                if (a->n_logons >= AGENT_LOGONS_MAX) {
                        a->counters.logons_ignored++;
                        return 0;
                }
                if (!a->logons && !(a->logons = calloc(AGENT_LOGONS_MAX, sizeof(AgentLogonEntry))))
                        return 0; /* out of memory: not tracked, nothing else lost */
                e = &a->logons[a->n_logons++];
        }
        copy_field(e->session, m->session, m->session_len);
        copy_field(e->user, m->user, m->user_len);
        copy_field(e->tty, m->tty, m->tty_len);
        copy_field(e->display, m->display, m->display_len);
        e->uid = m->uid;
        e->source = m->source;
        e->time_us = m->time_us;
        log_info("%s: logon of %s (session %s, %s%s)", agent_desktop(a), e->user, e->session,
                 e->display[0] ? "display " : "", e->display[0] ? e->display : e->tty);
        return 0;
}

static int agent_logoff(Agent *a, const AgentLogoff *m) {
        AgentLogonEntry *e = find_logon(a, m->session, m->session_len);
        if (!e)
                return 0; /* one we ignored over the cap, or a race with sessions-reset */
        log_info("%s: logoff of %s (session %s)", agent_desktop(a), e->user, e->session);
        *e = a->logons[--a->n_logons];
        return 0;
}

int agent_sessions_handle(Agent *a, const AgentMessage *m) {
        if (!(a->features & AGENT_CAP_SESSIONS))
                return 0;
        switch (m->type) {
        case AGENT_TYPE_SESSIONS_RESET:
                a->n_logons = 0;
                return 0;
        case AGENT_TYPE_LOGON:
                return agent_logon(a, &m->logon);
        case AGENT_TYPE_LOGOFF:
                return agent_logoff(a, &m->logoff);
        default:
                return 0;
        }
}
