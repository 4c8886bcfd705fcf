#include "broker-hang-pass.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker-hang.h"
#include "broker-libvirt-sample.h"
#include "broker-power-libvirt.h"
#include "broker-store-fleet.h"
#include "broker-store-power.h"
#include "log.h"

/* Bounds each sampling pass and each probe: past it, QEMU (or libvirtd) is not answering. */
#define HANG_PASS_DEADLINE_USEC (5 * USEC_PER_SEC)
/* How long a graceful reboot may take to show: the pool's grace, but at least the time the request
 * needs to travel (hostd takes it with its next report, every few seconds, the agent answers, the
 * guest goes down and its display moves) and at most 2 minutes. */
#define GRACEFUL_TIMEOUT_MIN_USEC (30 * USEC_PER_SEC)
#define GRACEFUL_TIMEOUT_MAX_USEC (120 * USEC_PER_SEC)

typedef struct Desk {
        int64_t id;
        char *domain, *uri;
        bool present;                 /* still in the store at the last tick */
        bool assigned, seen_running;
        bool guest_shutdown;          /* shut off by the guest itself since it last ran */
        HangDesktop hang;
        HangPolicy policy;
        bool policy_ok;
        bool reports_known;           /* the reported signals below were read once */
        int64_t seen_display, seen_input, seen_heartbeat, seen_power_ok;
        PowerJob *job;                /* our reset, while it runs (and until its outcome is read) */
        int64_t request;              /* our graceful reboot's power request until it ends, or 0 */
        const char *health, *why;     /* what we last wrote (static strings) */
} Desk;

typedef struct Host {
        struct HangPass *pass;
        char *uri;
        HostSampler *sampler;
        sd_event_source *io;
        bool used;
        int last_error;
} Host;

struct HangPass {
        Manager *m;
        sd_event_source *timer;
        uint64_t interval_usec;
        Desk *desks;
        size_t n_desks, cap_desks;
        Host **hosts;
        size_t n_hosts;
};

static void desk_done(Desk *d) {
        free(d->domain);
        free(d->uri);
        power_job_unref(d->job);
}

static Host *host_free(Host *h) {
        if (!h)
                return NULL;
        sd_event_source_disable_unref(h->io);
        host_sampler_free(h->sampler);
        free(h->uri);
        free(h);
        return NULL;
}

HangPass *hang_pass_free(HangPass *p) {
        if (!p)
                return NULL;
        sd_event_source_disable_unref(p->timer);
        for (size_t i = 0; i < p->n_desks; i++)
                desk_done(&p->desks[i]);
        free(p->desks);
        for (size_t i = 0; i < p->n_hosts; i++)
                host_free(p->hosts[i]);
        free(p->hosts);
        free(p);
        return NULL;
}

/* A Unix time from the store on the monotonic clock of now. */
static uint64_t mono_of(int64_t t, int64_t wall, uint64_t now) {
        if (t >= wall)
                return now;
        uint64_t ago = (uint64_t) (wall - t) * USEC_PER_SEC;
        return ago >= now ? 1 : now - ago;
}

static void policy_from_pool(Desk *d, const StoreDesktopSignals *s) {
        HangPolicy *p = &d->policy;
        hang_policy_init(p);
        p->grace_usec = s->hang_grace_seconds > 0 ? (uint64_t) s->hang_grace_seconds * USEC_PER_SEC : 1;
        if (!s->hang_action || hang_action_from_string(s->hang_action, strlen(s->hang_action), &p->action) < 0)
                p->action = HANG_ACTION_ALERT;
        if (s->max_resets_per_hour <= 0)
                p->action = HANG_ACTION_ALERT; /* no reset allowed: tell operators only */
        else
                p->max_actions_per_hour = s->max_resets_per_hour > HANG_MAX_ACTIONS_PER_HOUR
                                                  ? HANG_MAX_ACTIONS_PER_HOUR
                                                  : (unsigned) s->max_resets_per_hour;
        p->graceful_timeout_usec = MIN(MAX(p->grace_usec, GRACEFUL_TIMEOUT_MIN_USEC), GRACEFUL_TIMEOUT_MAX_USEC);
        d->policy_ok = hang_policy_validate(p, NULL) >= 0;
}

/* hostd's reports, as stored: newer times than we saw are new observations. The first read
 * only takes note (the grace starts anew with the broker). */
static void feed_reports(Desk *d, const StoreDesktopSignals *s, int64_t wall, uint64_t now) {
        if (d->reports_known && !d->job) {
                bool display = s->display_changed > d->seen_display, input = s->input_time > d->seen_input;
                if (input && display && s->input_time <= s->display_changed) {
                        hang_observe_input(&d->hang, mono_of(s->input_time, wall, now));
                        input = false;
                }
                if (display)
                        hang_observe_display(&d->hang, mono_of(s->display_changed, wall, now));
                if (input)
                        hang_observe_input(&d->hang, mono_of(s->input_time, wall, now));
                /* A heartbeat of the same second as the agent's yes to a power request is the
                 * old boot's. */
                if (s->agent_power_ok > d->seen_power_ok)
                        hang_observe_agent_leaving(&d->hang, mono_of(s->agent_power_ok, wall, now));
                if (s->agent_heartbeat > d->seen_heartbeat && s->agent_heartbeat > s->agent_power_ok)
                        hang_observe_heartbeat(&d->hang, mono_of(s->agent_heartbeat, wall, now));
        }
        d->reports_known = true;
        d->seen_power_ok = s->agent_power_ok;
        d->seen_display = s->display_changed;
        d->seen_input = s->input_time;
        d->seen_heartbeat = s->agent_heartbeat;
}

typedef struct TickContext {
        HangPass *p;
        int64_t wall;
        uint64_t now;
        size_t hint;
} TickContext;

/* The store walks desktops by id and the array mostly keeps that order: try after the last match
 * first, so a tick is linear, not quadratic, in the fleet's size. */
static Desk *find_desk(TickContext *c, int64_t id) {
        HangPass *p = c->p;
        if (c->hint < p->n_desks && p->desks[c->hint].id == id)
                return &p->desks[c->hint++];
        for (size_t i = 0; i < p->n_desks; i++)
                if (p->desks[i].id == id) {
                        c->hint = i + 1;
                        return &p->desks[i];
                }
        return NULL;
}

static int on_desktop(const StoreDesktopSignals *s, void *userdata) {
        TickContext *c = userdata;
        HangPass *p = c->p;
        if (!s->libvirt_uri || !s->domain_name)
                return 0; /* not placed on a host */
        Desk *d = find_desk(c, s->id);
        if (d && (strcmp(d->uri, s->libvirt_uri) != 0 || strcmp(d->domain, s->domain_name) != 0)) {
                /* Moved or renamed: another domain, judged from scratch. */
                desk_done(d);
                *d = (Desk) { .id = s->id };
        } else if (!d) {
                if (p->n_desks == p->cap_desks) {
                        size_t cap = p->cap_desks ? p->cap_desks * 2 : 16;
                        Desk *n = realloc(p->desks, cap * sizeof *n);
                        if (!n)
                                return -ENOMEM;
                        p->desks = n;
                        p->cap_desks = cap;
                }
                d = &p->desks[p->n_desks++];
                *d = (Desk) { .id = s->id };
        }
        if (!d->domain) {
                d->domain = strdup(s->domain_name);
                d->uri = strdup(s->libvirt_uri);
                if (!d->domain || !d->uri) {
                        desk_done(d);
                        *d = p->desks[--p->n_desks];
                        return -ENOMEM;
                }
                hang_desktop_init(&d->hang, c->now);
                /* The hourly cap and the backoff survive a restart: the store's resets and reboots
                 * of the last hour, at their times. */
                int64_t times[HANG_MAX_ACTIONS_PER_HOUR];
                uint64_t at[HANG_MAX_ACTIONS_PER_HOUR];
                unsigned n = 0;
                int r = store_desktop_action_times(p->m->store, d->id, c->wall - 3600, times, HANG_MAX_ACTIONS_PER_HOUR, &n);
                if (r < 0)
                        log_warning_errno(r, "Desktop %s: cannot read its recent resets: %m", d->domain);
                for (unsigned i = 0; i < n; i++)
                        at[i] = mono_of(times[i], c->wall, c->now);
                hang_desktop_restore_actions(&d->hang, at, n);
        }
        d->present = true;
        d->assigned = s->assigned_user != NULL;
        policy_from_pool(d, s);
        feed_reports(d, s, c->wall, c->now);
        return 0;
}

static const char *health_of(HangClass c) {
        switch (c) {
        case HANG_CLASS_VM:
                return "vm-hang";
        case HANG_CLASS_OS:
                return "os-hang";
        case HANG_CLASS_AGENT:
                return "agent-hang";
        default:
                return "healthy";
        }
}

static const char *event_action(HangVerdict v) {
        switch (v) {
        case HANG_VERDICT_RESET:
                return STORE_ACTION_RESET;
        case HANG_VERDICT_REBOOT:
                return STORE_ACTION_REBOOT;
        case HANG_VERDICT_ALERT:
                return STORE_ACTION_ALERT;
        case HANG_VERDICT_HEALTHY:
                return "hang-recovered";
        default:
                return "hang-suspect";
        }
}

static void record(HangPass *p, Desk *d, const HangDecision *dec, BrokerPower op) {
        char json[1024], evidence[1400], via[96] = "";
        if (hang_decision_to_json(dec, json, sizeof json) < 0)
                snprintf(json, sizeof json, "{}");
        if (dec->verdict == HANG_VERDICT_REBOOT)
                snprintf(via, sizeof via, "\"via\":\"agent\",\"request\":%lld,\"timeout_ms\":%llu,", (long long) d->request,
                         (unsigned long long) (d->policy.graceful_timeout_usec / 1000));
        snprintf(evidence, sizeof evidence, "{\"cause\":\"%s\",\"domain_op\":\"%s\",%s\"decision\":%s}",
                 health_of(dec->class),
                 dec->verdict == HANG_VERDICT_RESET    ? broker_power_to_string(op)
                 : dec->verdict == HANG_VERDICT_REBOOT ? "agent-reboot"
                                                       : "none",
                 via, json);
        int r = store_desktop_event(p->m->store, (int64_t) time(NULL), "hang-detector", event_action(dec->verdict), d->id,
                                    evidence);
        if (r < 0)
                log_warning_errno(r, "Desktop %s: cannot record the hang decision: %m", d->domain);
}

/* REBOOT: the agent is asked through hostd (the desktop's host takes the request with its next
 * report). When even the request cannot be queued, the detector hears that the graceful path is
 * down and resets at its next evaluation. */
static void ask_reboot(HangPass *p, Desk *d, const HangDecision *dec) {
        bool created;
        int64_t ttl = (int64_t) (d->policy.graceful_timeout_usec / USEC_PER_SEC);
        int r = store_power_request_add(p->m->store, d->id, POWER_REQUEST_ACTION_REBOOT, "hang-detector", (int64_t) time(NULL),
                                        ttl > 0 ? ttl : 1, &d->request, &created);
        if (r < 0) {
                log_warning_errno(r, "Desktop %s: cannot queue a graceful reboot: %m; resetting instead", d->domain);
                d->request = 0;
                hang_observe_graceful_failed(&d->hang, dec->now_usec);
        } else
                log_notice("Desktop %s: %s (%s): graceful reboot through the agent (request %lld)", d->domain,
                           health_of(dec->class), dec->why, (long long) d->request);
        record(p, d, dec, BROKER_POWER_RESET);
}

/* How our graceful reboot's request ended: refused, no agent, or undelivered (expired) -> the
 * detector escalates to a reset now; accepted -> the detector waits for the desktop to recover. */
static void follow_request(HangPass *p, Desk *d, uint64_t now) {
        const char *state = NULL;
        int r = store_power_request_state(p->m->store, d->request, (int64_t) time(NULL), &state);
        if (r == -ENOENT)
                state = "failed"; /* gone with its desktop */
        else if (r < 0 || strcmp(state, "pending") == 0)
                return;
        if (strcmp(state, "ok") != 0) {
                char evidence[160];
                snprintf(evidence, sizeof evidence, "{\"request\":%lld,\"outcome\":\"%s\"}", (long long) d->request, state);
                (void) store_desktop_event(p->m->store, (int64_t) time(NULL), "hang-detector", "graceful-failed", d->id,
                                           evidence);
                log_notice("Desktop %s: the graceful reboot cannot happen (%s)", d->domain, state);
                hang_observe_graceful_failed(&d->hang, now);
        }
        d->request = 0;
}

static void act(HangPass *p, Desk *d, const HangDecision *dec) {
        const char *health = health_of(dec->class), *why = dec->class == HANG_CLASS_NONE ? "" : dec->why;
        if (health != d->health || why != d->why) {
                int r = store_desktop_set_health(p->m->store, d->id, health, why);
                if (r < 0)
                        log_warning_errno(r, "Desktop %s: cannot store its health: %m", d->domain);
                else {
                        d->health = health;
                        d->why = why;
                }
        }
        bool unresponsive = false;
        for (unsigned k = 0; k < dec->n_evidence; k++)
                unresponsive |= dec->evidence[k].signal == HANG_SIGNAL_UNRESPONSIVE;
        /* virDomainReset goes through the QEMU that does not answer: kill it instead. */
        BrokerPower op = unresponsive ? BROKER_POWER_CYCLE : BROKER_POWER_RESET;
        if (dec->verdict == HANG_VERDICT_REBOOT) {
                ask_reboot(p, d, dec);
                return;
        }
        if (dec->record)
                record(p, d, dec, op);
        if (dec->verdict != HANG_VERDICT_RESET)
                return;
        d->request = 0; /* a reset supersedes the graceful reboot (its request expires unanswered) */
        log_notice("Desktop %s: %s (%s): %s", d->domain, health, dec->why, broker_power_to_string(op));
        int r = power_job_start(d->uri, d->domain, op, false, &d->job);
        if (r < 0) {
                log_warning_errno(r, "Desktop %s: cannot start the %s: %m", d->domain, broker_power_to_string(op));
                (void) store_desktop_event(p->m->store, (int64_t) time(NULL), "hang-detector", "power-failed", d->id, NULL);
        }
}

/* Our reset is over: what the old boot showed is gone. */
static void collect_job(HangPass *p, Desk *d, uint64_t now) {
        if (d->job->error < 0) {
                char evidence[512];
                log_warning("Desktop %s: %s failed: %s", d->domain, broker_power_to_string(d->job->op), d->job->message);
                snprintf(evidence, sizeof evidence, "{\"op\":\"%s\",\"errno\":%d}", broker_power_to_string(d->job->op),
                         -d->job->error);
                (void) store_desktop_event(p->m->store, (int64_t) time(NULL), "hang-detector", "power-failed", d->id, evidence);
        }
        d->job = power_job_unref(d->job);
        hang_observe_reboot(&d->hang, now);
}

static const DomainSample *find_domain(const HostSample *s, const char *name) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->domains[i].name, name) == 0)
                        return &s->domains[i];
        return NULL;
}

static void judge_host(HangPass *p, Host *h, const HostSample *s, uint64_t now) {
        if (s->error < 0) {
                /* Its desktops are unknown, not hung. */
                if (s->error != h->last_error)
                        log_warning_errno(s->error, "Host %s gives no libvirt data: %m", h->uri);
                h->last_error = s->error;
                return;
        }
        if (h->last_error < 0)
                log_info("Host %s answers again", h->uri);
        h->last_error = 0;
        for (size_t i = 0; i < p->n_desks; i++) {
                Desk *d = &p->desks[i];
                if (strcmp(d->uri, h->uri) != 0)
                        continue;
                if (d->job) {
                        if (!power_job_done(d->job))
                                continue; /* what libvirt shows meanwhile is our doing */
                        collect_job(p, d, s->finished_usec);
                        continue;         /* the sample may predate the reset */
                }
                const DomainSample *ds = find_domain(s, d->domain);
                if (!ds)
                        continue; /* not defined there: nothing to judge */
                /* A paused or crashed QEMU was started by someone: it is meant to run, also when
                 * the broker (just restarted) never saw it running. */
                if (ds->vm_state == HANG_VM_RUNNING || ds->vm_state == HANG_VM_PAUSED ||
                    ds->vm_state == HANG_VM_CRASHED) {
                        d->seen_running = true;
                        d->guest_shutdown = false;
                } else if (ds->vm_state == HANG_VM_SHUTOFF && ds->state == VIR_DOMAIN_SHUTOFF &&
                           ds->reason == VIR_DOMAIN_SHUTOFF_SHUTDOWN)
                        d->guest_shutdown = true; /* its user shut it down: the next connect starts it */
                /* Every time (it only acts on a change): the detector starts out expecting a run. */
                hang_desktop_set_expected_running(&d->hang, !d->guest_shutdown && (d->assigned || d->seen_running),
                                                  s->finished_usec);
                hang_observe_libvirt(&d->hang, s->finished_usec, ds->vm_state, ds->reason_text, ds->cpu_valid,
                                     ds->cpu_ns);
                if (ds->unresponsive)
                        hang_observe_unresponsive(&d->hang, s->finished_usec, ds->unresponsive_since_usec,
                                                  ds->unresponsive_call);
                else
                        hang_observe_responsive(&d->hang, s->finished_usec);
                if (!d->policy_ok)
                        continue;
                if (d->request)
                        follow_request(p, d, s->finished_usec);
                HangDecision dec;
                hang_evaluate(&d->hang, &d->policy, now, &dec);
                act(p, d, &dec);
        }
}

static void take(Host *h, uint64_t now) {
        _cleanup_(host_sample_freep) HostSample *s = NULL;
        if (host_sampler_take(h->sampler, now, &s) < 0)
                return;
        judge_host(h->pass, h, s, now);
}

static int on_sampler(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        take(userdata, now_monotonic_usec());
        return 0;
}

static Host *get_host(HangPass *p, const char *uri) {
        for (size_t i = 0; i < p->n_hosts; i++)
                if (strcmp(p->hosts[i]->uri, uri) == 0)
                        return p->hosts[i];
        Host **n = realloc(p->hosts, (p->n_hosts + 1) * sizeof *n);
        if (!n)
                return NULL;
        p->hosts = n;
        Host *h = calloc(1, sizeof *h);
        if (!h)
                return NULL;
        h->pass = p;
        h->uri = strdup(uri);
        int r = h->uri ? host_sampler_new(uri, HANG_PASS_DEADLINE_USEC, &h->sampler) : -ENOMEM;
        if (r >= 0)
                r = sd_event_add_io(p->m->event, &h->io, host_sampler_fd(h->sampler), EPOLLIN, on_sampler, h);
        if (r < 0) {
                log_warning_errno(r, "Host %s: cannot start its libvirt sampler: %m", uri);
                return host_free(h);
        }
        p->hosts[p->n_hosts++] = h;
        return h;
}

/* A person's graceful reboot that no hostd took in time: ACPI through libvirt instead. (The
 * detector's own requests are followed by follow_request().) */
static int on_expired(const StorePowerRequest *q, void *userdata) {
        HangPass *p = userdata;
        if (strcmp(q->requester, "hang-detector") == 0 || strcmp(q->action, POWER_REQUEST_ACTION_REBOOT) != 0 ||
            !p->m->power.reboot)
                return 0;
        for (size_t i = 0; i < p->n_desks; i++) {
                Desk *d = &p->desks[i];
                if (d->id != q->desktop_id)
                        continue;
                BrokerDesktopRef ref = { .id = d->id, .domain_name = d->domain, .libvirt_uri = d->uri };
                int r = p->m->power.reboot(p->m->power_userdata, &ref, false);
                char evidence[128];
                snprintf(evidence, sizeof evidence, "{\"request\":%lld,\"via\":\"acpi\",\"cause\":\"expired\"}",
                         (long long) q->id);
                if (r < 0)
                        log_warning_errno(r, "Desktop %s: the reboot through ACPI failed to start: %m", d->domain);
                (void) store_desktop_event(p->m->store, (int64_t) time(NULL), "broker", r < 0 ? "power-failed" : "reboot-fallback",
                                           d->id, evidence);
                break;
        }
        return 0;
}

static void tick(HangPass *p) {
        TickContext c = { .p = p, .wall = (int64_t) time(NULL), .now = now_monotonic_usec() };
        for (size_t i = 0; i < p->n_desks; i++)
                p->desks[i].present = false;
        int r = store_desktops_foreach(p->m->store, on_desktop, &c);
        if (r < 0) {
                log_warning_errno(r, "Hang pass: cannot read the desktops: %m");
                return; /* keep everything as it was */
        }
        for (size_t i = 0; i < p->n_desks;)
                if (!p->desks[i].present) {
                        desk_done(&p->desks[i]);
                        p->desks[i] = p->desks[--p->n_desks];
                } else
                        i++;
        r = store_power_requests_expire(p->m->store, c.wall, on_expired, p);
        if (r < 0)
                log_warning_errno(r, "Hang pass: cannot close expired power requests: %m, ignoring");
        for (size_t i = 0; i < p->n_hosts; i++)
                p->hosts[i]->used = false;
        for (size_t i = 0; i < p->n_desks; i++) {
                Host *h = get_host(p, p->desks[i].uri);
                if (h)
                        h->used = true;
        }
        for (size_t i = 0; i < p->n_hosts;) {
                Host *h = p->hosts[i];
                if (!h->used) {
                        host_free(h);
                        p->hosts[i] = p->hosts[--p->n_hosts];
                        continue;
                }
                if (host_sampler_request(h->sampler, c.now) == -EBUSY)
                        take(h, c.now); /* an overdue pass reports the host as not answering */
                i++;
        }
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        HangPass *p = userdata;
        tick(p);
        sd_event_source_set_time(src, usec + p->interval_usec);
        sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
        return 0;
}

int hang_pass_new(Manager *m, HangPass **ret) {
        _cleanup_(hang_pass_freep) HangPass *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->m = m;
        p->interval_usec = (uint64_t) m->config->hang_check_seconds * USEC_PER_SEC;
        int r = sd_event_add_time(m->event, &p->timer, CLOCK_MONOTONIC, now_monotonic_usec() + p->interval_usec,
                                  USEC_PER_SEC / 100, on_timer, p);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}
