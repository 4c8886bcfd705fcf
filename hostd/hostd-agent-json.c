/* The status JSON's `agent' object of a desktop (schema/hostd-control.md). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hostd-agent-internal.h"
#include "hostd-manager.h"

typedef struct Json {
        AgentWriteFn write;
        void *userdata;
} Json;

static void out(Json *j, const char *fmt, ...) _printf_(2, 3);
static void out(Json *j, const char *fmt, ...) {
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n > 0)
                j->write(j->userdata, buf, MIN((size_t) n, sizeof(buf) - 1));
}

/* Guest strings may hold anything UTF-8 allows: quotes, backslashes, control characters. */
static void string(Json *j, const char *s) {
        j->write(j->userdata, "\"", 1);
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (c == '"' || c == '\\')
                        out(j, "\\%c", c);
                else if (c < 0x20 || c == 0x7f)
                        out(j, "\\u%04x", c);
                else
                        j->write(j->userdata, s, 1);
        }
        j->write(j->userdata, "\"", 1);
}

static const char *state_name(AgentState s) {
        return s == AGENT_ACTIVE ? "active" : s == AGENT_OPEN ? "open" : "idle";
}

static const char *const cause_names[] = { "none", "agent-hello", "agent-closed", "heartbeat-lost",
                                           "guest-reboot", "agent-misbehaved", "agent-disabled" };

void agent_describe_json(Agent *a, AgentWriteFn write, void *userdata) {
        Json j = { write, userdata };
        const AgentCounters *c = &a->counters;
        uint64_t now = agent_now(a);

        out(&j, "{\"state\":\"%s\",\"mode\":\"%s\",\"cause\":\"%s\",\"features\":[", state_name(a->state),
            a->state == AGENT_ACTIVE ? "agent" : "hypervisor",
            (unsigned) a->cause < ELEMENTSOF(cause_names) ? cause_names[a->cause] : "?");
        bool first = true;
        for (unsigned bit = 0; bit < 64; bit++)
                if (agent_features(a) & (UINT64_C(1) << bit)) {
                        out(&j, "%s\"%s\"", first ? "" : ",", agent_cap_name(bit) ?: "?");
                        first = false;
                }
        out(&j, "],\"guest_caps\":%" PRIu64 ",\"software\":", a->guest_caps);
        string(&j, a->software);
        out(&j, ",\"policy\":{\"enabled\":%s,\"clipboard\":\"%s\",\"resize\":\"%s\",\"windows\":%s,\"power\":%s,"
                "\"paste_max\":%u}",
            a->policy.enabled ? "true" : "false", agent_clipboard_policy_to_string(a->policy.clipboard),
            agent_resize_policy_to_string(a->policy.resize), a->policy.windows ? "true" : "false",
            a->policy.power ? "true" : "false", a->policy.paste_max);
        if (a->have_heartbeat) {
                const AgentHeartbeat *h = &a->heartbeat;
                out(&j,
                    ",\"heartbeat\":{\"age_ms\":%" PRIu64 ",\"seq\":%" PRIu32 ",\"count\":%" PRIu64
                    ",\"uptime_s\":%" PRIu64 ",\"load1_milli\":%" PRIu32 ",\"load5_milli\":%" PRIu32
                    ",\"load15_milli\":%" PRIu32 ",\"mem_total_kib\":%" PRIu64 ",\"mem_available_kib\":%" PRIu64
                    ",\"users\":%u}",
                    (now - a->heartbeat_usec) / 1000, h->seq, a->heartbeats, h->uptime_s, h->load1_milli,
                    h->load5_milli, h->load15_milli, h->mem_total_kib, h->mem_available_kib, h->users);
        } else
                out(&j, ",\"heartbeat\":null");
        out(&j, ",\"sessions\":[");
        for (size_t i = 0; i < a->n_logons; i++) {
                const AgentLogonEntry *e = &a->logons[i];
                out(&j, "%s{\"session\":", i ? "," : "");
                string(&j, e->session);
                out(&j, ",\"user\":");
                string(&j, e->user);
                out(&j, ",\"uid\":%" PRIu32 ",\"tty\":", e->uid);
                string(&j, e->tty);
                out(&j, ",\"display\":");
                string(&j, e->display);
                out(&j, ",\"source\":\"%s\",\"time_us\":%" PRIu64 "}", e->source ? "utmp" : "logind", e->time_us);
        }
        out(&j,
            "],\"windows\":%zu,\"counters\":{\"connects\":%" PRIu64 ",\"hellos\":%" PRIu64 ",\"messages\":%" PRIu64
            ",\"skipped\":%" PRIu64 ",\"lost_closed\":%" PRIu64 ",\"lost_heartbeat\":%" PRIu64
            ",\"lost_reboot\":%" PRIu64 ",\"lost_misbehaved\":%" PRIu64 ",\"drops_protocol\":%" PRIu64
            ",\"drops_rate\":%" PRIu64 ",\"drops_partial\":%" PRIu64 ",\"drops_semantics\":%" PRIu64
            ",\"windows_ignored\":%" PRIu64 ",\"logons_ignored\":%" PRIu64 ",\"paste_chars\":%" PRIu64
            ",\"paste_skipped\":%" PRIu64 ",\"resizes\":%" PRIu64 ",\"clipboard_transfers\":%" PRIu64
            ",\"clipboard_bytes\":%" PRIu64 ",\"clipboard_abandoned\":%" PRIu64 ",\"clipboard_refused\":%" PRIu64
            "}}",
            a->n_windows, c->connects, c->hellos, c->messages, c->skipped, c->lost_closed, c->lost_heartbeat,
            c->lost_reboot, c->lost_misbehaved, c->drops_protocol, c->drops_rate, c->drops_partial,
            c->drops_semantics, c->windows_ignored, c->logons_ignored, c->paste_chars, c->paste_skipped,
            c->resizes, a->clip.transfers, a->clip.bytes, a->clip.abandoned, a->clip.refused);
}
