/* The broker's pool upkeep: see broker-pool-pass.h. */
#include "broker-pool-pass.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker-hang.h" /* USEC_PER_SEC */
#include "broker-libvirt.h"
#include "broker-pool-plan.h"
#include "broker-pool-worker.h"
#include "broker-store-fleet.h"
#include "broker-store-pool.h"
#include "log.h"
#include "macro.h"

typedef struct Slot { /* one host URI: its worker and what is queued there */
        char *uri;
        PoolWorker *worker;
        unsigned in_flight;
} Slot;

typedef struct PoolMemo { /* what the pass remembers of a pool between ticks */
        int64_t id;
        unsigned failures;
        int64_t retry_after; /* Unix seconds */
        unsigned serial_floor; /* names taken on a host behind the store's back are skipped */
} PoolMemo;

typedef struct Pool {
        int64_t id;
        char *name, *template_name;
        bool floating;
        unsigned min_ready, max_size;
        int64_t disconnect_limit;
        PoolCounts counts;
} Pool;

typedef struct Desk {
        int64_t id, pool_id;
        char *name, *uri, *mac;
        const char *state; /* static: one of the provision states */
        bool provisioned, assigned, removable;
        PoolResetCause due;
        char *reset_cause;
        int64_t provision_time;
} Desk;

typedef struct HostRow {
        int64_t id;
        char *uri;
        PoolHostView view;
} HostRow;

struct PoolPass {
        Manager *m;
        sd_event_source *timer, *io, *kick;
        uint64_t interval_usec;
        int64_t started; /* Unix seconds: rows reserved before were left by an earlier broker */
        PoolDone *done;
        Slot *slots;
        size_t n_slots;
        PoolMemo *memos;
        size_t n_memos;
        int64_t *busy; /* desktops with a job queued or running */
        size_t n_busy, cap_busy;
};

/* What one tick read; freed at its end. */
typedef struct Tick {
        PoolPass *p;
        int64_t now;
        Pool *pools;
        size_t n_pools;
        Desk *desks;
        size_t n_desks, cap_desks;
        HostRow *hosts;
        size_t n_hosts;
} Tick;

static const char *const provision_states[] = { "done", "provisioning", "reset-pending", "resetting", "removing" };

static const char *state_of(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(provision_states); i++)
                if (s && strcmp(s, provision_states[i]) == 0)
                        return provision_states[i];
        return provision_states[0];
}

static char *strdup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

PoolPass *pool_pass_free(PoolPass *p) {
        if (!p)
                return NULL;
        sd_event_source_disable_unref(p->timer);
        sd_event_source_disable_unref(p->io);
        sd_event_source_disable_unref(p->kick);
        if (p->m && p->m->upkeep_userdata == p) {
                p->m->upkeep_kick = NULL;
                p->m->upkeep_userdata = NULL;
        }
        for (size_t i = 0; i < p->n_slots; i++) {
                pool_worker_free(p->slots[i].worker);
                free(p->slots[i].uri);
        }
        free(p->slots);
        free(p->memos);
        free(p->busy);
        pool_done_unref(p->done);
        free(p);
        return NULL;
}

static void tick_done(Tick *t) {
        for (size_t i = 0; i < t->n_pools; i++) {
                free(t->pools[i].name);
                free(t->pools[i].template_name);
        }
        free(t->pools);
        for (size_t i = 0; i < t->n_desks; i++) {
                free(t->desks[i].name);
                free(t->desks[i].uri);
                free(t->desks[i].mac);
                free(t->desks[i].reset_cause);
        }
        free(t->desks);
        for (size_t i = 0; i < t->n_hosts; i++)
                free(t->hosts[i].uri);
        free(t->hosts);
}

static bool is_busy(PoolPass *p, int64_t id) {
        for (size_t i = 0; i < p->n_busy; i++)
                if (p->busy[i] == id)
                        return true;
        return false;
}

static int busy_add(PoolPass *p, int64_t id) {
        if (p->n_busy == p->cap_busy) {
                size_t cap = p->cap_busy ? p->cap_busy * 2 : 16;
                int64_t *n = realloc(p->busy, cap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                p->busy = n;
                p->cap_busy = cap;
        }
        p->busy[p->n_busy++] = id;
        return 0;
}

static void busy_del(PoolPass *p, int64_t id) {
        for (size_t i = 0; i < p->n_busy; i++)
                if (p->busy[i] == id) {
                        p->busy[i] = p->busy[--p->n_busy];
                        return;
                }
}

static PoolMemo *memo(PoolPass *p, int64_t pool_id) {
        for (size_t i = 0; i < p->n_memos; i++)
                if (p->memos[i].id == pool_id)
                        return &p->memos[i];
        PoolMemo *n = realloc(p->memos, (p->n_memos + 1) * sizeof *n);
        if (!n)
                return NULL;
        p->memos = n;
        p->memos[p->n_memos] = (PoolMemo) { .id = pool_id };
        return &p->memos[p->n_memos++];
}

static Slot *slot(PoolPass *p, const char *uri) {
        for (size_t i = 0; i < p->n_slots; i++)
                if (strcmp(p->slots[i].uri, uri) == 0)
                        return &p->slots[i];
        Slot *n = realloc(p->slots, (p->n_slots + 1) * sizeof *n);
        if (!n)
                return NULL;
        p->slots = n;
        Slot *s = &p->slots[p->n_slots];
        *s = (Slot) { .uri = strdup(uri) };
        if (!s->uri)
                return NULL;
        int r = pool_worker_new(uri, p->done, &s->worker);
        if (r < 0) {
                log_warning_errno(r, "Pools: cannot start a worker for %s: %m", uri);
                free(s->uri);
                return NULL;
        }
        p->n_slots++;
        return s;
}

static unsigned in_flight(PoolPass *p, const char *uri) {
        for (size_t i = 0; i < p->n_slots; i++)
                if (strcmp(p->slots[i].uri, uri) == 0)
                        return p->slots[i].in_flight;
        return 0;
}

/* Hands the job to its host's worker; on failure the job is freed and the error returned. */
static int submit(PoolPass *p, PoolJob *j) {
        Slot *s = slot(p, j->host_uri);
        int r = s ? busy_add(p, j->desktop_id) : -ENOMEM;
        if (r < 0) {
                pool_job_free(j);
                return r;
        }
        s->in_flight++;
        pool_worker_submit(s->worker, j);
        return 0;
}

static PoolJob *job_new(PoolJobKind kind, const Desk *d, const char *template_name, const char *cause) {
        PoolJob *j = calloc(1, sizeof *j);
        if (!j)
                return NULL;
        j->kind = kind;
        j->desktop_id = d->id;
        j->pool_id = d->pool_id;
        j->host_uri = strdup(d->uri);
        j->name = strdup(d->name);
        j->template_name = strdup_or_null(template_name && template_name[0] ? template_name : NULL);
        j->cause = strdup_or_null(cause);
        if (!j->host_uri || !j->name || (template_name && template_name[0] && !j->template_name) ||
            (cause && !j->cause))
                return pool_job_free(j);
        if (d->mac && sscanf(d->mac, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx", &j->mac[0], &j->mac[1], &j->mac[2],
                             &j->mac[3], &j->mac[4], &j->mac[5]) == 6)
                j->has_mac = true;
        return j;
}

/* --- reading the store ------------------------------------------------------------------------ */

static int on_pool(const StorePool *sp, void *userdata) {
        Tick *t = userdata;
        Pool *n = realloc(t->pools, (t->n_pools + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        t->pools = n;
        Pool *p = &t->pools[t->n_pools];
        *p = (Pool) {
                .id = sp->id,
                .name = strdup(sp->name),
                .template_name = strdup(sp->template_name ? sp->template_name : ""),
                .floating = sp->kind && strcmp(sp->kind, "floating") == 0,
                .min_ready = sp->min_ready,
                .max_size = sp->max_size,
                .disconnect_limit = sp->disconnect_limit,
        };
        p->counts.min_ready = sp->min_ready;
        p->counts.max_size = sp->max_size;
        t->n_pools++;
        return p->name && p->template_name ? 0 : -ENOMEM;
}

static Pool *find_pool(Tick *t, int64_t id) {
        for (size_t i = 0; i < t->n_pools; i++)
                if (t->pools[i].id == id)
                        return &t->pools[i];
        return NULL;
}

static int on_desktop(const StorePoolDesktop *sd, void *userdata) {
        Tick *t = userdata;
        Pool *pool = find_pool(t, sd->pool_id);
        if (!pool)
                return 0;
        const char *state = state_of(sd->provision_state);
        bool done = state == provision_states[0];
        PoolDesktopView v = {
                .done = done,
                .running = strcmp(sd->power_state, "running") == 0,
                .ready_flag = sd->ready,
                .assigned = sd->assigned,
                .health_ok = strcmp(sd->health, "healthy") == 0,
                .health_unknown = strcmp(sd->health, "unknown") == 0,
                .state_changed = sd->state_changed,
        };
        PoolCounts *c = &pool->counts;
        c->total++;
        if (pool_desktop_ready(&v, t->now))
                c->ready++;
        else if ((!done && state != provision_states[4] /* removing: going away */) ||
                 (!sd->assigned && strcmp(sd->power_state, "starting") == 0))
                c->starting++;
        bool removable = sd->provisioned && done && !sd->assigned && sd->open_sessions == 0 && sd->libvirt_uri;
        if (removable)
                c->removable++;
        PoolFloatingView fv = {
                .floating = pool->floating,
                .assigned = sd->assigned,
                .open_sessions = sd->open_sessions,
                .last_session_end = sd->last_session_end,
                .disconnect_limit = pool->disconnect_limit,
        };
        PoolResetCause due = done ? pool_reset_due(&fv, t->now) : POOL_RESET_NONE;
        /* Only what the pass may act on is kept. */
        if (done && !removable && due == POOL_RESET_NONE)
                return 0;
        if (t->n_desks == t->cap_desks) {
                size_t cap = t->cap_desks ? t->cap_desks * 2 : 64;
                Desk *n = realloc(t->desks, cap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                t->desks = n;
                t->cap_desks = cap;
        }
        Desk *d = &t->desks[t->n_desks++];
        *d = (Desk) {
                .id = sd->id,
                .pool_id = sd->pool_id,
                .name = strdup(sd->domain_name),
                .uri = strdup_or_null(sd->libvirt_uri),
                .mac = strdup_or_null(sd->mac),
                .reset_cause = strdup_or_null(sd->reset_cause),
                .state = state,
                .provisioned = sd->provisioned,
                .assigned = sd->assigned,
                .removable = removable,
                .due = due,
                .provision_time = sd->provision_time,
        };
        return d->name ? 0 : -ENOMEM;
}

static int on_host(const StoreHostLoad *h, void *userdata) {
        Tick *t = userdata;
        HostRow *n = realloc(t->hosts, (t->n_hosts + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        t->hosts = n;
        HostRow *row = &t->hosts[t->n_hosts];
        *row = (HostRow) {
                .id = h->id,
                .uri = strdup(h->libvirt_uri),
                .view = { .up = h->up, .desktops = h->desktops, .capacity = h->capacity },
        };
        if (!row->uri)
                return -ENOMEM;
        row->view.in_flight = in_flight(t->p, row->uri);
        t->n_hosts++;
        return 0;
}

/* --- acting ----------------------------------------------------------------------------------- */

static void backoff(PoolPass *p, int64_t pool_id, int64_t now) {
        PoolMemo *mo = memo(p, pool_id);
        if (!mo)
                return;
        mo->failures++;
        mo->retry_after = now + pool_backoff_seconds(mo->failures, (unsigned) (p->interval_usec / USEC_PER_SEC));
}

static bool backing_off(PoolPass *p, int64_t pool_id, int64_t now) {
        PoolMemo *mo = memo(p, pool_id);
        return mo && mo->failures > 0 && now < mo->retry_after;
}

/* A killed broker's leftovers (rows under way with no job of ours): undo provisions, redo resets
 * and removals. Retried every pass until the host answers. */
static void reconcile(Tick *t, Desk *d) {
        PoolPass *p = t->p;
        Store *s = p->m->store;
        const Pool *pool = find_pool(t, d->pool_id);
        if (d->state == provision_states[1] /* provisioning */) {
                if (d->provision_time > p->started)
                        return; /* reserved by another broker sharing the store, after we started */
                if (backing_off(p, d->pool_id, t->now))
                        return; /* its host did not answer the last time */
                if (!d->uri) {
                        (void) store_pool_desktop_drop(s, d->id, "provisioning", t->now, "provision-abandoned",
                                                       "{\"cause\":\"broker restarted\"}");
                        return;
                }
                PoolJob *j = job_new(POOL_JOB_REMOVE, d, pool ? pool->template_name : NULL, "abandoned");
                int r = j ? submit(p, j) : -ENOMEM;
                if (r < 0)
                        log_warning_errno(r, "Pools: cannot undo %s's interrupted provision: %m", d->name);
                else
                        log_info("Pools: %s was being provisioned when the broker stopped: undoing it", d->name);
        } else if (d->state == provision_states[3] /* resetting */) {
                (void) store_pool_desktop_transition(s, d->id, "resetting", "reset-pending", t->now);
                d->state = provision_states[2];
        } else if (d->state == provision_states[4] /* removing */ && d->uri && !backing_off(p, d->pool_id, t->now)) {
                PoolJob *j = job_new(POOL_JOB_REMOVE, d, pool ? pool->template_name : NULL, "surplus");
                if (!j || submit(p, j) < 0)
                        log_warning("Pools: cannot resume %s's removal", d->name);
        }
}

static void start_reset(Tick *t, Desk *d) {
        PoolPass *p = t->p;
        const Pool *pool = find_pool(t, d->pool_id);
        if (!pool || !d->uri || backing_off(p, d->pool_id, t->now) || in_flight(p, d->uri) >= POOL_HOST_MAX_IN_FLIGHT)
                return;
        int r = store_pool_desktop_transition(p->m->store, d->id, "reset-pending", "resetting", t->now);
        if (r < 0)
                return; /* assigned again meanwhile (no upkeep ran), or gone */
        PoolJob *j = job_new(POOL_JOB_RESET, d, pool->template_name, d->reset_cause && d->reset_cause[0] ? d->reset_cause : "logoff");
        if (j)
                j->remake = d->provisioned && pool->template_name[0];
        r = j ? submit(p, j) : -ENOMEM;
        if (r < 0) {
                log_warning_errno(r, "Pools: cannot reset %s: %m", d->name);
                (void) store_pool_desktop_transition(p->m->store, d->id, "resetting", "reset-pending", t->now);
        }
}

static void provision(Tick *t, Pool *pool, unsigned n) {
        PoolPass *p = t->p;
        _cleanup_(freep) PoolHostView *views = calloc(t->n_hosts ? t->n_hosts : 1, sizeof *views);
        if (!views)
                return;
        for (unsigned k = 0; k < n; k++) {
                for (size_t i = 0; i < t->n_hosts; i++)
                        views[i] = t->hosts[i].view;
                int h = pool_pick_host(views, t->n_hosts);
                if (h < 0)
                        return;
                HostRow *host = &t->hosts[h];
                PoolMemo *mo = memo(p, pool->id);
                int64_t id;
                char name[80];
                unsigned serial;
                int r = store_pool_reserve(p->m->store, pool->id, host->id, mo ? mo->serial_floor : 0, t->now, &id, name,
                                           sizeof name, &serial);
                if (r == -ENOSPC)
                        return;
                if (r < 0) {
                        log_warning_errno(r, "Pools: pool %s: cannot reserve a desktop: %m", pool->name);
                        return;
                }
                Desk d = { .id = id, .pool_id = pool->id, .name = name, .uri = host->uri };
                PoolJob *j = job_new(POOL_JOB_PROVISION, &d, pool->template_name, NULL);
                r = j ? submit(p, j) : -ENOMEM;
                if (r < 0) {
                        (void) store_pool_desktop_drop(p->m->store, id, "provisioning", t->now, "provision-failed",
                                                       "{\"error\":\"out of memory\"}");
                        return;
                }
                host->view.desktops++;
                host->view.in_flight++;
                pool->counts.total++;
                pool->counts.starting++;
        }
}

static void remove_surplus(Tick *t, Pool *pool, unsigned n) {
        PoolPass *p = t->p;
        /* The newest first: the oldest have served longest without trouble. */
        for (size_t i = t->n_desks; i > 0 && n > 0; i--) {
                Desk *d = &t->desks[i - 1];
                if (d->pool_id != pool->id || !d->removable || is_busy(p, d->id))
                        continue;
                if (store_pool_desktop_transition(p->m->store, d->id, "done", "removing", t->now) < 0)
                        continue; /* assigned meanwhile */
                PoolJob *j = job_new(POOL_JOB_REMOVE, d, pool->template_name, "surplus");
                if (!j || submit(p, j) < 0) {
                        (void) store_pool_desktop_transition(p->m->store, d->id, "removing", "done", t->now);
                        continue;
                }
                n--;
        }
}

static void tick(PoolPass *p) {
        _cleanup_(tick_done) Tick t = { .p = p, .now = (int64_t) time(NULL) };
        Store *s = p->m->store;
        int64_t since = t.now - (int64_t) p->m->config->report_max_age;
        int r = store_pools_foreach(s, on_pool, &t);
        if (r >= 0)
                r = store_pool_desktops_foreach(s, on_desktop, &t);
        if (r >= 0)
                r = store_host_loads_foreach(s, since, on_host, &t);
        if (r < 0) {
                log_warning_errno(r, "Pools: cannot read the store: %m");
                return;
        }
        for (size_t i = 0; i < t.n_desks; i++) {
                Desk *d = &t.desks[i];
                if (is_busy(p, d->id))
                        continue;
                /* Not ours (nothing of ours in flight), yet under way: a killed broker's. */
                if (d->state != provision_states[0] && d->state != provision_states[2])
                        reconcile(&t, d);
                if (is_busy(p, d->id))
                        continue;
                if (d->due != POOL_RESET_NONE) {
                        const char *cause = pool_reset_cause_to_string(d->due);
                        if (store_pool_desktop_release(s, d->id, cause, "broker", t.now) >= 0) {
                                log_info("Pools: %s: its user's sessions ended longer ago than the pool's limit: released",
                                         d->name);
                                d->state = provision_states[2];
                                free(d->reset_cause);
                                d->reset_cause = strdup(cause);
                        }
                }
                if (d->state == provision_states[2] /* reset-pending */)
                        start_reset(&t, d);
        }
        for (size_t i = 0; i < t.n_pools; i++) {
                Pool *pool = &t.pools[i];
                PoolPlan plan;
                pool_plan(&pool->counts, UINT32_MAX, &plan);
                if (plan.remove > 0)
                        remove_surplus(&t, pool, plan.remove);
                if (plan.provision > 0 && pool->template_name[0] && !backing_off(p, pool->id, t.now))
                        provision(&t, pool, plan.provision);
        }
}

/* --- outcomes --------------------------------------------------------------------------------- */

static char *overlays_json(const ProvisionResult *res) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < res->n_overlays; i++)
                json_array_append_new(a, json_string(res->overlays[i] ? res->overlays[i] : ""));
        char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
        json_decref(a);
        return text;
}

/* The evidence of a job's event: what was done where, how long it took, libvirt's message. */
static char *evidence(const PoolJob *j, const char *overlays) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:f}", "host", j->host_uri, "domain", j->name, "mode",
                              j->mode ? j->mode : "none", "seconds",
                              (double) (j->finished_usec - j->started_usec) / 1e6);
        if (!o)
                return NULL;
        if (j->template_name)
                json_object_set_new(o, "template", json_string(j->template_name));
        if (j->cause)
                json_object_set_new(o, "cause", json_string(j->cause));
        if (j->error < 0) {
                json_object_set_new(o, "errno", json_integer(-j->error));
                json_object_set_new(o, "error", json_string(j->message));
        } else if (j->result.uuid[0]) {
                json_object_set_new(o, "uuid", json_string(j->result.uuid));
                json_object_set_new(o, "mac", json_string(j->result.mac));
        }
        if (overlays)
                json_object_set_new(o, "overlays", json_loads(overlays, 0, NULL));
        char *text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        return text;
}

static void outcome(PoolPass *p, PoolJob *j) {
        Store *s = p->m->store;
        int64_t now = (int64_t) time(NULL);
        _cleanup_(freep) char *overlays = j->error >= 0 ? overlays_json(&j->result) : NULL;
        _cleanup_(freep) char *ev = evidence(j, overlays);
        const char *evj = ev ? ev : "{}";
        int r = 0;
        switch (j->kind) {
        case POOL_JOB_PROVISION:
        case POOL_JOB_RESET: {
                bool reset = j->kind == POOL_JOB_RESET;
                if (j->error >= 0) {
                        /* A power cycle keeps the domain's identity: the store has it already. */
                        if (reset && !j->remake)
                                r = store_pool_desktop_done(s, j->desktop_id, NULL, NULL, NULL, now, "reset-to-template", evj);
                        else
                                r = store_pool_desktop_done(s, j->desktop_id, j->result.uuid, j->result.mac,
                                                            overlays ? overlays : "[]", now,
                                                            reset ? "reset-to-template" : "provision", evj);
                        if (r >= 0) {
                                PoolMemo *mo = memo(p, j->pool_id);
                                if (mo)
                                        mo->failures = 0;
                                log_info("Pools: %s %s on %s (%s)", j->name, reset ? "reset to its template" : "provisioned",
                                         j->host_uri, j->mode);
                        }
                        break;
                }
                log_warning("Pools: %s: %s on %s failed: %s", j->name, reset ? "reset to template" : "provisioning",
                            j->host_uri, j->message);
                backoff(p, j->pool_id, now);
                if (j->error == -EEXIST) {
                        PoolMemo *mo = memo(p, j->pool_id);
                        const char *dash = strrchr(j->name, '-');
                        if (mo && dash)
                                mo->serial_floor = (unsigned) strtoul(dash + 1, NULL, 10) + 1;
                }
                if (reset) {
                        r = store_pool_desktop_transition(s, j->desktop_id, "resetting", "reset-pending", now);
                        if (r >= 0)
                                r = store_desktop_event(s, now, "broker", "reset-failed", j->desktop_id, evj);
                } else
                        r = store_pool_desktop_drop(s, j->desktop_id, "provisioning", now, "provision-failed", evj);
                break;
        }
        case POOL_JOB_REMOVE: {
                bool abandoned = j->cause && strcmp(j->cause, "abandoned") == 0;
                const char *state = abandoned ? "provisioning" : "removing";
                if (j->error >= 0) {
                        r = store_pool_desktop_drop(s, j->desktop_id, state, now,
                                                    abandoned ? "provision-abandoned" : "deprovision", evj);
                        log_info("Pools: %s removed from %s (%s)", j->name, j->host_uri, j->cause);
                        break;
                }
                log_warning("Pools: removing %s from %s failed: %s", j->name, j->host_uri, j->message);
                backoff(p, j->pool_id, now);
                if (!abandoned)
                        r = store_pool_desktop_transition(s, j->desktop_id, "removing", "done", now);
                if (r >= 0)
                        r = store_pool_event(s, j->pool_id, now, "remove-failed", evj);
                break;
        }
        }
        if (r < 0 && r != -ESTALE)
                log_warning_errno(r, "Pools: %s: cannot record the outcome: %m", j->name);
}

static int on_done(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        PoolPass *p = userdata;
        PoolJob *j = pool_done_take(p->done);
        if (!j)
                return 0;
        while (j) {
                PoolJob *next = j->next;
                for (size_t i = 0; i < p->n_slots; i++)
                        if (strcmp(p->slots[i].uri, j->host_uri) == 0 && p->slots[i].in_flight > 0)
                                p->slots[i].in_flight--;
                busy_del(p, j->desktop_id);
                outcome(p, j);
                pool_job_free(j);
                j = next;
        }
        /* A slot is free: go on now rather than at the next period. */
        tick(p);
        return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        PoolPass *p = userdata;
        tick(p);
        sd_event_source_set_time(src, usec + p->interval_usec);
        sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
        return 0;
}

static int on_kick(sd_event_source *src, void *userdata) {
        tick(userdata);
        return 0;
}

/* From the API, inside a request: the pass runs once the loop is back, however many kicks. */
static void kick(void *userdata) {
        PoolPass *p = userdata;
        sd_event_source_set_enabled(p->kick, SD_EVENT_ONESHOT);
}

int pool_pass_new(Manager *m, PoolPass **ret) {
        _cleanup_(pool_pass_freep) PoolPass *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->m = m;
        p->interval_usec = (uint64_t) m->config->pool_check_seconds * USEC_PER_SEC;
        p->started = (int64_t) time(NULL);
        int r = broker_libvirt_init();
        if (r < 0)
                return r;
        r = pool_done_new(&p->done);
        if (r < 0)
                return r;
        r = sd_event_add_io(m->event, &p->io, pool_done_fd(p->done), EPOLLIN, on_done, p);
        if (r < 0)
                return r;
        r = sd_event_add_defer(m->event, &p->kick, on_kick, p);
        if (r < 0)
                return r;
        sd_event_source_set_enabled(p->kick, SD_EVENT_OFF);
        /* The first pass at once: a restarted broker finishes what it left. */
        r = sd_event_add_time(m->event, &p->timer, CLOCK_MONOTONIC, 0, USEC_PER_SEC / 100, on_timer, p);
        if (r < 0)
                return r;
        m->upkeep_kick = kick;
        m->upkeep_userdata = p;
        *ret = TAKE_PTR(p);
        return 0;
}
