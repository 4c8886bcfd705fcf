/* The body of a host report (schema/broker-api.yaml, Report). Domain states come from one libvirt
 * call for all domains and vCPU time from each one's cgroup, neither of which asks QEMU (a QEMU
 * that waits on hostd, or a hung one, must not hang hostd); display progress, input and thumbnails from hostd's own consoles; the agent's part
 * through hostd-broker-agent.h. Every name is checked against the broker's rules first: one bad
 * name would make the broker refuse the whole report. */
#include <errno.h>
#include <jansson.h>
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "hostd-broker.h"
#include "hostd-console.h"
#include "hostd-display.h"
#include "hostd-domain.h"
#include "hostd-manager.h"
#include "hostd-viewer-adapt.h"
#include "hostd-viewer-server.h"

typedef struct BrokerViewerBytes {
        uint64_t session, bytes;
        bool seen;
} BrokerViewerBytes;

#define VIEWER_BYTES_MAX 4096

static const char *power_state(int state, int reason) {
        switch (state) {
        case VIR_DOMAIN_RUNNING:
        case VIR_DOMAIN_BLOCKED:
                return "running";
        case VIR_DOMAIN_PAUSED:
                return reason == VIR_DOMAIN_PAUSED_STARTING_UP ? "starting" : "paused";
        case VIR_DOMAIN_PMSUSPENDED:
                return "paused";
        case VIR_DOMAIN_SHUTDOWN:
                return "stopping";
        case VIR_DOMAIN_SHUTOFF:
                return "shutoff";
        case VIR_DOMAIN_CRASHED:
                return "crashed";
        default:
                return "unknown";
        }
}

/* libvirt's state and reason as words ("paused:ioerror"): what the hang detector reads. */
static void libvirt_state(int state, int reason, char *buf, size_t size) {
        static const char *const states[] = { "nostate", "running", "blocked", "paused", "shutdown", "shutoff",
                                              "crashed", "pmsuspended" };
        static const char *const running[] = { "unknown", "booted", "migrated", "restored", "from-snapshot",
                                               "unpaused", "migration-canceled", "save-canceled", "wakeup",
                                               "crashed", "postcopy" };
        static const char *const paused[] = { "unknown", "user", "migration", "save", "dump", "ioerror",
                                              "watchdog", "from-snapshot", "shutting-down", "snapshot", "crashed",
                                              "starting-up", "postcopy", "postcopy-failed" };
        static const char *const shutoff[] = { "unknown", "shutdown", "destroyed", "crashed", "migrated",
                                               "saved", "failed", "from-snapshot", "daemon" };
        static const char *const crashed[] = { "unknown", "panicked" };
        const char *const *names = NULL;
        size_t n = 0;
        if (state == VIR_DOMAIN_RUNNING)
                names = running, n = ELEMENTSOF(running);
        else if (state == VIR_DOMAIN_PAUSED)
                names = paused, n = ELEMENTSOF(paused);
        else if (state == VIR_DOMAIN_SHUTOFF)
                names = shutoff, n = ELEMENTSOF(shutoff);
        else if (state == VIR_DOMAIN_CRASHED)
                names = crashed, n = ELEMENTSOF(crashed);
        const char *s = state >= 0 && (size_t) state < ELEMENTSOF(states) ? states[state] : "other";
        if (names && reason >= 0 && (size_t) reason < n)
                snprintf(buf, size, "%s:%s", s, names[reason]);
        else
                snprintf(buf, size, "%s:%d", s, reason);
}

/* The vCPU time from the domain's cgroup (virDomainGetCPUStats' total): no job, no monitor. */
static int domain_cpu_time(virDomainPtr dom, unsigned long long *ret) {
        virTypedParameter p[4];
        int n = virDomainGetCPUStats(dom, p, ELEMENTSOF(p), -1, 1, 0);
        if (n < 0)
                return -EIO;
        int r = virTypedParamsGetULLong(p, n, VIR_DOMAIN_CPU_STATS_CPUTIME, ret) == 1 ? 0 : -ENODATA;
        virTypedParamsClear(p, n);
        return r;
}

static BrokerThumb *thumb_find(BrokerClient *b, const char *desktop, bool create) {
        for (size_t i = 0; i < b->n_thumbs; i++)
                if (strcmp(b->thumbs[i].desktop, desktop) == 0)
                        return &b->thumbs[i];
        if (!create || b->n_thumbs >= BROKER_THUMBS_MAX)
                return NULL;
        BrokerThumb *t = realloc(b->thumbs, (b->n_thumbs + 1) * sizeof(BrokerThumb));
        if (!t)
                return NULL;
        b->thumbs = t;
        t = &b->thumbs[b->n_thumbs++];
        *t = (BrokerThumb) {};
        snprintf(t->desktop, sizeof(t->desktop), "%s", desktop);
        return t;
}

/* The desktop's thumbnail as padded base64, when its screen changed since the last one the broker
 * took and the rate limit allows; NULL otherwise. */
static json_t *thumbnail(BrokerClient *b, Domain *d, uint64_t now, size_t *budget) {
        Manager *m = b->manager;
        Console *c = domain_console(d, 0);
        if (b->outage || !c || !c->have_frame || c->fb->width == 0)
                return NULL;
        BrokerThumb *t = thumb_find(b, d->name, true);
        if (!t)
                return NULL;
        t->seen = true;
        uint64_t interval = (uint64_t) m->config.broker.thumbnail_seconds * 1000000ULL;
        if (t->sent_usec && (c->fb->updates == t->sent_updates || now < t->sent_usec + interval))
                return NULL;
        const uint8_t *jpeg;
        size_t size;
        if (thumbnailer_encode(m->thumbnailer, c->fb, m->config.thumbnail_width, (int) m->config.thumbnail_quality,
                               &jpeg, &size) < 0 ||
            size > *budget || size > INT32_MAX / 2)
                return NULL;
        char *text = malloc(4 * ((size + 2) / 3) + 1);
        if (!text)
                return NULL;
        EVP_EncodeBlock((unsigned char *) text, jpeg, (int) size);
        json_t *s = json_string(text);
        free(text);
        if (!s)
                return NULL;
        *budget -= size;
        t->inflight_updates = c->fb->updates ? c->fb->updates : 1;
        return s;
}

static bool user_valid(const char *u);

typedef struct ViewerCount {
        const char *desktop;
        unsigned n;
} ViewerCount;

static void viewer_count_add(void *userdata, const ViewerInfo *info, bool first) {
        ViewerCount *c = userdata;
        if (!info->detached && info->desktop && strcmp(info->desktop, c->desktop) == 0)
                c->n++;
}

/* Display progress, input, the agent, who watches, and the thumbnail of a domain hostd has
 * attached. */
static void add_hostd_view(BrokerClient *b, json_t *o, Domain *d, uint64_t now, size_t *budget) {
        uint64_t frames = 0;
        for (size_t i = 0, n = domain_n_consoles(d); i < n; i++) {
                Console *c = domain_console(d, i);
                /* Changes only: QEMU re-sends unchanged cells of a paused guest. */
                if (c)
                        frames += c->fb->updates;
        }
        json_object_set_new(o, "display_frames", json_integer((json_int_t) MIN(frames, (uint64_t) INT64_MAX)));
        uint64_t input = display_input_usec(d->display);
        if (input && input <= now)
                json_object_set_new(o, "input_age", json_integer((json_int_t) ((now - input) / 1000000)));
        BrokerAgentInfo a;
        broker_agent_describe(b, d, now, &a);
        if (broker_agent_state_name(a.state))
                json_object_set_new(o, "agent", json_string(broker_agent_state_name(a.state)));
        if (a.has_heartbeat_age)
                json_object_set_new(o, "agent_heartbeat_age", json_integer((json_int_t) a.heartbeat_age_sec));
        if (a.has_logged_on_user && (!a.logged_on_user[0] || user_valid(a.logged_on_user)))
                json_object_set_new(o, "logged_on_user", json_string(a.logged_on_user));
        /* Nobody watching ends the desktop's sessions at the broker (a floating pool's disconnect
         * limit); a viewer waiting to resume is not watching. */
        ViewerCount vc = { .desktop = d->name };
        viewer_server_describe(b->manager->viewers, viewer_count_add, &vc);
        json_object_set_new(o, "viewers", json_integer(vc.n));
        json_t *t = thumbnail(b, d, now, budget);
        if (t)
                json_object_set_new(o, "thumbnail", t);
}

static bool user_valid(const char *u) {
        /* The broker's user names: a letter, then letters, digits, . - _ @; at most 63. */
        size_t n = strlen(u);
        if (n == 0 || n > 63 || !((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z')))
                return false;
        for (size_t i = 1; i < n; i++) {
                char c = u[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '-' || c == '_' || c == '@'))
                        return false;
        }
        return true;
}

/* The logons and logoffs queued (hostd-broker-agent.c) and not yet accepted. A user name the
 * broker would refuse (the guest chose it) is left out, counted. */
static void add_session_events(BrokerClient *b, json_t *root) {
        json_t *logons = json_array(), *logoffs = json_array();
        for (size_t i = 0; i < b->n_events; i++) {
                BrokerSessionEvent *e = &b->events[i];
                if (e->desktop[0] && (!hostd_broker_name_valid(e->desktop, strlen(e->desktop)) || !user_valid(e->user))) {
                        b->events_dropped++;
                        e->desktop[0] = 0;
                }
                if (e->desktop[0])
                        json_array_append_new(e->logon ? logons : logoffs,
                                              json_pack("{s:s, s:s}", "domain", e->desktop, "user", e->user));
        }
        b->events_in_flight = b->n_events;
        if (json_array_size(logons))
                json_object_set(root, "logons", logons);
        if (json_array_size(logoffs))
                json_object_set(root, "logoffs", logoffs);
        json_decref(logons);
        json_decref(logoffs);
}

/* ---- transport: the viewers' figures summed up per host, as the broker keeps them ---- */

typedef struct TransportSum {
        BrokerClient *b;
        uint64_t tcp, udp, measured, bytes;
        double rtt_ms, loss;
} TransportSum;

static BrokerViewerBytes *viewer_bytes_find(BrokerClient *b, uint64_t session) {
        for (size_t i = 0; i < b->n_viewer_bytes; i++)
                if (b->viewer_bytes[i].session == session)
                        return &b->viewer_bytes[i];
        if (b->n_viewer_bytes >= VIEWER_BYTES_MAX)
                return NULL;
        BrokerViewerBytes *v = realloc(b->viewer_bytes, (b->n_viewer_bytes + 1) * sizeof(BrokerViewerBytes));
        if (!v)
                return NULL;
        b->viewer_bytes = v;
        v = &b->viewer_bytes[b->n_viewer_bytes++];
        *v = (BrokerViewerBytes) { .session = session };
        return v;
}

static void transport_add(void *userdata, const ViewerInfo *info, bool first) {
        TransportSum *t = userdata;
        if (info->udp)
                t->udp++;
        else
                t->tcp++;
        if (info->link && info->link->measured) {
                t->measured++;
                t->rtt_ms += (double) info->link->rtt_usec / 1000.0;
                t->loss += info->link->loss;
        }
        BrokerViewerBytes *v = viewer_bytes_find(t->b, info->session);
        if (!v)
                return;
        /* A resumed session has a new connection, counted from zero again. */
        if (info->bytes_sent < v->bytes)
                t->b->bytes_gone += v->bytes;
        v->bytes = info->bytes_sent;
        v->seen = true;
}

static json_t *transport(BrokerClient *b) {
        TransportSum t = { .b = b };
        for (size_t i = 0; i < b->n_viewer_bytes; i++)
                b->viewer_bytes[i].seen = false;
        viewer_server_describe(b->manager->viewers, transport_add, &t);
        uint64_t live = 0;
        for (size_t i = 0; i < b->n_viewer_bytes;) {
                BrokerViewerBytes *v = &b->viewer_bytes[i];
                if (!v->seen) {
                        b->bytes_gone += v->bytes;
                        *v = b->viewer_bytes[--b->n_viewer_bytes];
                        continue;
                }
                live += v->bytes;
                i++;
        }
        json_t *o = json_pack("{s:I, s:I, s:I}", "viewers_tcp", (json_int_t) t.tcp, "viewers_udp", (json_int_t) t.udp,
                              "bytes_sent", (json_int_t) MIN(b->bytes_gone + live, (uint64_t) INT64_MAX));
        if (o && t.measured) {
                double loss = t.loss / (double) t.measured;
                json_object_set_new(o, "rtt_ms", json_real(t.rtt_ms / (double) t.measured));
                json_object_set_new(o, "loss_ratio", json_real(loss < 0 ? 0 : loss > 1 ? 1 : loss));
        }
        return o;
}

/* ---- the report ---- */

int broker_report_build(BrokerClient *b, uint64_t now, char **ret, size_t *ret_len) {
        Manager *m = b->manager;
        json_t *root = json_object(), *domains = json_array();
        size_t budget = BROKER_REPORT_THUMBNAIL_BYTES, n = 0;
        virDomainStatsRecordPtr *stats = NULL;
        int n_stats = 0;

        if (!root || !domains) {
                json_decref(root);
                json_decref(domains);
                return -ENOMEM;
        }
        json_object_set_new(root, "domains", domains);
        for (size_t i = 0; i < b->n_thumbs; i++)
                b->thumbs[i].seen = false;
        if (m->conn) {
                /* The state group only: libvirt answers it from its own records. The cpu-total group
                 * may ask QEMU's monitor (halt-polling figures), and a QEMU waiting on hostd's
                 * display listener cannot answer: hostd and QEMU would wait on each other until
                 * QEMU's 25 s D-Bus timeout. */
                n_stats = virConnectGetAllDomainStats(m->conn, VIR_DOMAIN_STATS_STATE, &stats,
                                                      VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
                if (n_stats < 0)
                        n_stats = 0; /* the domains hostd sees are still reported */
        }
        for (int i = 0; i < n_stats && n < 1024; i++) {
                const char *name = virDomainGetName(stats[i]->dom);
                if (!name || !hostd_config_watches(&m->config, name) || !hostd_broker_name_valid(name, strlen(name)))
                        continue;
                int state = -1, reason = -1;
                unsigned long long cpu;
                char uuid[VIR_UUID_STRING_BUFLEN], lv[40];
                json_t *o = json_pack("{s:s}", "name", name);
                if (!o)
                        continue;
                if (virDomainGetUUIDString(stats[i]->dom, uuid) == 0)
                        json_object_set_new(o, "uuid", json_string(uuid));
                if (virTypedParamsGetInt(stats[i]->params, stats[i]->nparams, "state.state", &state) == 1) {
                        virTypedParamsGetInt(stats[i]->params, stats[i]->nparams, "state.reason", &reason);
                        json_object_set_new(o, "state", json_string(power_state(state, reason)));
                        libvirt_state(state, reason, lv, sizeof(lv));
                        json_object_set_new(o, "libvirt_state", json_string(lv));
                }
                if (state != VIR_DOMAIN_SHUTOFF && state != VIR_DOMAIN_CRASHED && domain_cpu_time(stats[i]->dom, &cpu) == 0)
                        json_object_set_new(o, "cpu_time_ns", json_integer((json_int_t) MIN(cpu, (unsigned long long) INT64_MAX)));
                Domain *d = manager_find_domain(m, name);
                if (d)
                        add_hostd_view(b, o, d, now, &budget);
                json_array_append_new(domains, o);
                n++;
        }
        /* Domains hostd sees without libvirt listing them (a display attached by fd; libvirt down). */
        for (Domain *d = m->domains; d && n < 1024; d = d->next) {
                bool listed = false;
                for (int i = 0; i < n_stats && !listed; i++) {
                        const char *name = virDomainGetName(stats[i]->dom);
                        listed = name && strcmp(name, d->name) == 0;
                }
                if (listed || !hostd_broker_name_valid(d->name, strlen(d->name)))
                        continue;
                json_t *o = json_pack("{s:s}", "name", d->name);
                if (!o)
                        continue;
                if (!d->dom && d->mode != DOMAIN_DETACHED)
                        json_object_set_new(o, "state", json_string("running"));
                add_hostd_view(b, o, d, now, &budget);
                json_array_append_new(domains, o);
                n++;
        }
        if (stats)
                virDomainStatsRecordListFree(stats);
        broker_agent_sweep(b);
        /* Desktops gone from hostd: forget their thumbnails. */
        for (size_t i = 0; i < b->n_thumbs;) {
                if (!b->thumbs[i].seen && !manager_find_domain(m, b->thumbs[i].desktop)) {
                        b->thumbs[i] = b->thumbs[--b->n_thumbs];
                        continue;
                }
                i++;
        }
        add_session_events(b, root);
        json_t *t = transport(b);
        if (t)
                json_object_set_new(root, "transport", t);
        json_t *results = broker_power_results(b);
        if (results)
                json_object_set_new(root, "request_results", results);
        char *s = json_dumps(root, JSON_COMPACT);
        json_decref(root);
        if (!s) {
                broker_report_finish(b, false, now);
                return -ENOMEM;
        }
        *ret = s;
        *ret_len = strlen(s);
        return 0;
}

void broker_report_finish(BrokerClient *b, bool accepted, uint64_t now) {
        for (size_t i = 0; i < b->n_thumbs; i++) {
                BrokerThumb *t = &b->thumbs[i];
                if (!t->inflight_updates)
                        continue;
                if (accepted) {
                        t->sent_updates = t->inflight_updates;
                        t->sent_usec = now;
                        b->thumbnails_sent++;
                }
                t->inflight_updates = 0;
        }
        if (accepted && b->events_in_flight) {
                memmove(b->events, b->events + b->events_in_flight,
                        (b->n_events - b->events_in_flight) * sizeof(BrokerSessionEvent));
                b->n_events -= b->events_in_flight;
        }
        b->events_in_flight = 0;
        broker_power_finish(b, accepted);
}
