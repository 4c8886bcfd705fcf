/* One host's libvirt sampler: a sampler thread, probe threads, a deadline on both. See
 * broker-libvirt-sample.h. Threads only because libvirt's calls block; everything they share is
 * behind one mutex and reaches the event loop through an eventfd. */
#include "broker-libvirt-sample.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "broker-libvirt.h"
#include "macro.h"

static const char PROBE_CALL[] = "virDomainListGetStats";
static const char CONTROL_CALL[] = "monitor occupied";

uint64_t now_monotonic_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

HangVmState sample_vm_state(int state, int reason, const char **ret_text) {
        static const char *const paused[] = {
                [VIR_DOMAIN_PAUSED_UNKNOWN] = "unknown",        [VIR_DOMAIN_PAUSED_USER] = "user",
                [VIR_DOMAIN_PAUSED_MIGRATION] = "migration",    [VIR_DOMAIN_PAUSED_SAVE] = "save",
                [VIR_DOMAIN_PAUSED_DUMP] = "dump",              [VIR_DOMAIN_PAUSED_IOERROR] = "ioerror",
                [VIR_DOMAIN_PAUSED_WATCHDOG] = "watchdog",      [VIR_DOMAIN_PAUSED_FROM_SNAPSHOT] = "from-snapshot",
                [VIR_DOMAIN_PAUSED_SHUTTING_DOWN] = "shutting-down", [VIR_DOMAIN_PAUSED_SNAPSHOT] = "snapshot",
                [VIR_DOMAIN_PAUSED_CRASHED] = "crashed",        [VIR_DOMAIN_PAUSED_STARTING_UP] = "starting-up",
                [VIR_DOMAIN_PAUSED_POSTCOPY] = "postcopy",      [VIR_DOMAIN_PAUSED_POSTCOPY_FAILED] = "postcopy-failed",
        };
        static const char *const shutoff[] = {
                [VIR_DOMAIN_SHUTOFF_UNKNOWN] = "unknown",   [VIR_DOMAIN_SHUTOFF_SHUTDOWN] = "shutdown",
                [VIR_DOMAIN_SHUTOFF_DESTROYED] = "destroyed", [VIR_DOMAIN_SHUTOFF_CRASHED] = "crashed",
                [VIR_DOMAIN_SHUTOFF_MIGRATED] = "migrated", [VIR_DOMAIN_SHUTOFF_SAVED] = "saved",
                [VIR_DOMAIN_SHUTOFF_FAILED] = "failed",     [VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT] = "from-snapshot",
                [VIR_DOMAIN_SHUTOFF_DAEMON] = "daemon",
        };
        const char *text = "unknown";
        HangVmState s = HANG_VM_OTHER;

        switch (state) {
        case VIR_DOMAIN_RUNNING:
        case VIR_DOMAIN_BLOCKED:
                s = HANG_VM_RUNNING;
                text = "running";
                break;
        case VIR_DOMAIN_PAUSED:
                if (reason >= 0 && (size_t) reason < ELEMENTSOF(paused) && paused[reason])
                        text = paused[reason];
                switch (reason) {
                case VIR_DOMAIN_PAUSED_MIGRATION:
                case VIR_DOMAIN_PAUSED_SAVE:
                case VIR_DOMAIN_PAUSED_DUMP:
                case VIR_DOMAIN_PAUSED_FROM_SNAPSHOT:
                case VIR_DOMAIN_PAUSED_SHUTTING_DOWN:
                case VIR_DOMAIN_PAUSED_SNAPSHOT:
                case VIR_DOMAIN_PAUSED_STARTING_UP:
                case VIR_DOMAIN_PAUSED_POSTCOPY:
                        s = HANG_VM_PAUSED_TRANSIENT;
                        break;
                default:
                        s = HANG_VM_PAUSED;
                }
                break;
        case VIR_DOMAIN_SHUTOFF:
                if (reason >= 0 && (size_t) reason < ELEMENTSOF(shutoff) && shutoff[reason])
                        text = shutoff[reason];
                /* Moved or saved on purpose: not this host's desktop to judge. */
                s = reason == VIR_DOMAIN_SHUTOFF_MIGRATED || reason == VIR_DOMAIN_SHUTOFF_SAVED ? HANG_VM_OTHER
                                                                                               : HANG_VM_SHUTOFF;
                break;
        case VIR_DOMAIN_CRASHED:
                s = HANG_VM_CRASHED;
                text = reason == VIR_DOMAIN_CRASHED_PANICKED ? "panicked" : "unknown";
                break;
        case VIR_DOMAIN_SHUTDOWN:
                text = "shutting-down";
                break;
        case VIR_DOMAIN_PMSUSPENDED:
                text = "pmsuspended";
                break;
        default:
                break;
        }
        if (ret_text)
                *ret_text = text;
        return s;
}

HostSample *host_sample_free(HostSample *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                free(s->domains[i].name);
        free(s->domains);
        free(s);
        return NULL;
}

typedef struct Prober {
        bool alive;
        char *name;           /* the domain it is probing, NULL when idle */
        uint64_t started_usec;
} Prober;

/* Everything the threads share; freed by whoever drops the last reference. */
typedef struct Shared {
        pthread_mutex_t lock;
        pthread_cond_t wake;     /* sampler: a request or quit; probers: a job or quit */
        unsigned refs;
        bool quit;
        char *uri;
        uint64_t deadline_usec;
        int efd;

        virConnectPtr conn;      /* the sampler thread's; probers hold their own reference */

        bool requested, running, done;
        uint64_t requested_usec;
        HostSample *result;

        char *queue[SAMPLER_MAX_DOMAINS]; /* domains to probe */
        size_t queue_len;
        Prober probers[SAMPLER_MAX_PROBERS];
} Shared;

struct HostSampler {
        Shared *shared;
};

static void shared_unref_locked(Shared *sh) {
        /* Called with the lock held; releases it. */
        bool last = --sh->refs == 0;
        pthread_mutex_unlock(&sh->lock);
        if (!last)
                return;
        for (size_t i = 0; i < sh->queue_len; i++)
                free(sh->queue[i]);
        for (size_t i = 0; i < SAMPLER_MAX_PROBERS; i++)
                free(sh->probers[i].name);
        host_sample_free(sh->result);
        if (sh->conn)
                virConnectClose(sh->conn);
        if (sh->efd >= 0)
                close(sh->efd);
        free(sh->uri);
        pthread_cond_destroy(&sh->wake);
        pthread_mutex_destroy(&sh->lock);
        free(sh);
}

static bool being_probed_locked(Shared *sh, const char *name) {
        for (size_t i = 0; i < SAMPLER_MAX_PROBERS; i++)
                if (sh->probers[i].name && strcmp(sh->probers[i].name, name) == 0)
                        return true;
        for (size_t i = 0; i < sh->queue_len; i++)
                if (strcmp(sh->queue[i], name) == 0)
                        return true;
        return false;
}

typedef struct ProberArgs {
        Shared *shared;
        size_t slot;
} ProberArgs;

static void *prober_main(void *p) {
        ProberArgs a = *(ProberArgs *) p;
        free(p);
        Shared *sh = a.shared;
        Prober *me = &sh->probers[a.slot];
        /* A connection of its own: libvirtd holds back a client's other calls (the sampler's
         * virDomainGetState) behind one stuck on a domain's monitor. */
        virConnectPtr conn = virConnectOpen(sh->uri);

        pthread_mutex_lock(&sh->lock);
        for (;;) {
                while (!sh->quit && sh->queue_len == 0)
                        pthread_cond_wait(&sh->wake, &sh->lock);
                if (sh->quit)
                        break;
                char *name = sh->queue[0];
                memmove(sh->queue, sh->queue + 1, (sh->queue_len - 1) * sizeof sh->queue[0]);
                sh->queue_len--;
                me->name = name;
                me->started_usec = now_monotonic_usec();
                pthread_mutex_unlock(&sh->lock);

                /* Needs QEMU's monitor: blocks for as long as QEMU does not answer. */
                virDomainPtr dom = conn ? virDomainLookupByName(conn, name) : NULL;
                if (dom) {
                        virDomainPtr doms[] = { dom, NULL };
                        virDomainStatsRecordPtr *stats = NULL;
                        if (virDomainListGetStats(doms, VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL, &stats,
                                                  0) >= 0)
                                virDomainStatsRecordListFree(stats);
                        virDomainFree(dom);
                }

                pthread_mutex_lock(&sh->lock);
                free(me->name);
                me->name = NULL;
        }
        me->alive = false;
        if (conn)
                virConnectClose(conn);
        shared_unref_locked(sh);
        return NULL;
}

/* Keeps one prober free to work: the others may be stuck in libvirt. Lock held. */
static void probers_ensure_locked(Shared *sh, uint64_t now) {
        size_t free_slot = SAMPLER_MAX_PROBERS;
        for (size_t i = 0; i < SAMPLER_MAX_PROBERS; i++) {
                Prober *p = &sh->probers[i];
                if (!p->alive) {
                        if (free_slot == SAMPLER_MAX_PROBERS)
                                free_slot = i;
                        continue;
                }
                if (!p->name || now < p->started_usec + sh->deadline_usec)
                        return; /* a working one */
        }
        if (free_slot == SAMPLER_MAX_PROBERS)
                return; /* all stuck: the stuck domains stay unresponsive, others unprobed */
        ProberArgs *a = malloc(sizeof *a);
        if (!a)
                return;
        *a = (ProberArgs) { .shared = sh, .slot = free_slot };
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        sh->refs++;
        sh->probers[free_slot].alive = true;
        if (pthread_create(&t, &attr, prober_main, a) != 0) {
                sh->refs--;
                sh->probers[free_slot].alive = false;
                free(a);
        }
        pthread_attr_destroy(&attr);
}

static int errno_of_libvirt(void) {
        virErrorPtr e = virGetLastError();
        if (e && e->code == VIR_ERR_SYSTEM_ERROR && e->int1 > 0)
                return -e->int1;
        return -EIO;
}

/* One pass, without the lock: only the calls that do not need QEMU. */
static HostSample *sample_pass(Shared *sh, virConnectPtr conn) {
        HostSample *s = calloc(1, sizeof *s);
        if (!s)
                return NULL;
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(conn, &doms, 0);
        if (n < 0) {
                s->error = errno_of_libvirt();
                return s;
        }
        s->domains = calloc((size_t) MAX(n, 1), sizeof *s->domains);
        if (!s->domains) {
                s->error = -ENOMEM;
                n = 0;
        }
        for (int i = 0; i < n; i++) {
                DomainSample *d = &s->domains[s->n];
                const char *name = virDomainGetName(doms[i]);
                if (name && s->n < SAMPLER_MAX_DOMAINS && (d->name = strdup(name))) {
                        virDomainGetUUIDString(doms[i], d->uuid);
                        if (virDomainGetState(doms[i], &d->state, &d->reason, 0) == 0) {
                                virDomainInfo info;
                                d->vm_state = sample_vm_state(d->state, d->reason, &d->reason_text);
                                if (d->vm_state == HANG_VM_RUNNING && virDomainGetInfo(doms[i], &info) == 0) {
                                        d->cpu_valid = true;
                                        d->cpu_ns = info.cpuTime;
                                }
                                /* Someone else's call stuck on the monitor shows here without
                                 * waiting for it. */
                                virDomainControlInfo ci;
                                if (virDomainIsActive(doms[i]) == 1 && virDomainGetControlInfo(doms[i], &ci, 0) == 0 &&
                                    ci.state == VIR_DOMAIN_CONTROL_OCCUPIED &&
                                    ci.stateTime * 1000ULL >= sh->deadline_usec) {
                                        uint64_t now = now_monotonic_usec();
                                        d->unresponsive = true;
                                        d->unresponsive_since_usec = now - MIN(now, ci.stateTime * 1000ULL);
                                        d->unresponsive_call = CONTROL_CALL;
                                }
                                s->n++;
                        } else {
                                free(d->name);
                                d->name = NULL;
                        }
                }
                virDomainFree(doms[i]);
        }
        free(doms);
        return s;
}

static void *sampler_main(void *p) {
        Shared *sh = p;
        pthread_mutex_lock(&sh->lock);
        for (;;) {
                while (!sh->quit && !sh->requested)
                        pthread_cond_wait(&sh->wake, &sh->lock);
                if (sh->quit)
                        break;
                sh->requested = false;
                uint64_t requested = sh->requested_usec;
                virConnectPtr conn = sh->conn;
                pthread_mutex_unlock(&sh->lock);

                HostSample *s = NULL;
                if (conn && virConnectIsAlive(conn) != 1) {
                        pthread_mutex_lock(&sh->lock);
                        sh->conn = NULL;
                        pthread_mutex_unlock(&sh->lock);
                        virConnectClose(conn);
                        conn = NULL;
                }
                if (!conn) {
                        conn = virConnectOpen(sh->uri);
                        pthread_mutex_lock(&sh->lock);
                        sh->conn = conn;
                        pthread_mutex_unlock(&sh->lock);
                }
                if (conn)
                        s = sample_pass(sh, conn);
                else if ((s = calloc(1, sizeof *s)))
                        s->error = -ECONNREFUSED;

                pthread_mutex_lock(&sh->lock);
                uint64_t now = now_monotonic_usec();
                if (s) {
                        s->requested_usec = requested;
                        s->finished_usec = now;
                        /* Probes: who is stuck, and the next round for the running domains. */
                        for (size_t i = 0; i < s->n; i++) {
                                DomainSample *d = &s->domains[i];
                                for (size_t j = 0; j < SAMPLER_MAX_PROBERS; j++) {
                                        Prober *pr = &sh->probers[j];
                                        if (pr->name && strcmp(pr->name, d->name) == 0 &&
                                            now >= pr->started_usec + sh->deadline_usec &&
                                            (!d->unresponsive || pr->started_usec < d->unresponsive_since_usec)) {
                                                d->unresponsive = true;
                                                d->unresponsive_since_usec = pr->started_usec;
                                                d->unresponsive_call = PROBE_CALL;
                                        }
                                }
                                if (d->vm_state == HANG_VM_RUNNING && sh->queue_len < SAMPLER_MAX_DOMAINS &&
                                    !being_probed_locked(sh, d->name)) {
                                        char *copy = strdup(d->name);
                                        if (copy)
                                                sh->queue[sh->queue_len++] = copy;
                                }
                        }
                        probers_ensure_locked(sh, now);
                        pthread_cond_broadcast(&sh->wake);
                }
                host_sample_free(sh->result);
                sh->result = s;
                sh->running = false;
                sh->done = true;
                uint64_t one = 1;
                if (write(sh->efd, &one, sizeof one) < 0) {
                        /* The counter cannot overflow at one write a pass; nothing to do. */
                }
        }
        shared_unref_locked(sh);
        return NULL;
}

int host_sampler_new(const char *uri, uint64_t deadline_usec, HostSampler **ret) {
        int r = broker_libvirt_init();
        if (r < 0)
                return r;
        _cleanup_(freep) HostSampler *s = calloc(1, sizeof *s);
        Shared *sh = calloc(1, sizeof *sh);
        if (!s || !sh) {
                free(sh);
                return -ENOMEM;
        }
        sh->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        sh->uri = strdup(uri);
        if (sh->efd < 0 || !sh->uri) {
                r = sh->efd < 0 ? -errno : -ENOMEM;
                if (sh->efd >= 0)
                        close(sh->efd);
                free(sh->uri);
                free(sh);
                return r;
        }
        pthread_mutex_init(&sh->lock, NULL);
        pthread_cond_init(&sh->wake, NULL);
        sh->deadline_usec = deadline_usec;
        sh->refs = 2; /* the sampler object and its thread */

        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        r = pthread_create(&t, &attr, sampler_main, sh);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                pthread_mutex_lock(&sh->lock);
                sh->refs = 1;
                shared_unref_locked(sh);
                return -r;
        }
        s->shared = sh;
        *ret = TAKE_PTR(s);
        return 0;
}

HostSampler *host_sampler_free(HostSampler *s) {
        if (!s)
                return NULL;
        Shared *sh = s->shared;
        pthread_mutex_lock(&sh->lock);
        sh->quit = true;
        pthread_cond_broadcast(&sh->wake);
        shared_unref_locked(sh);
        free(s);
        return NULL;
}

int host_sampler_fd(HostSampler *s) {
        return s->shared->efd;
}

int host_sampler_request(HostSampler *s, uint64_t now) {
        Shared *sh = s->shared;
        pthread_mutex_lock(&sh->lock);
        if (sh->running || sh->requested) {
                pthread_mutex_unlock(&sh->lock);
                return -EBUSY;
        }
        sh->requested = sh->running = true;
        sh->done = false;
        sh->requested_usec = now;
        pthread_cond_broadcast(&sh->wake);
        pthread_mutex_unlock(&sh->lock);
        return 0;
}

int host_sampler_take(HostSampler *s, uint64_t now, HostSample **ret) {
        Shared *sh = s->shared;
        uint64_t v;
        int r = 0;
        pthread_mutex_lock(&sh->lock);
        if (sh->done && sh->result) {
                *ret = TAKE_PTR(sh->result);
                sh->done = false;
                if (read(sh->efd, &v, sizeof v) < 0) {
                        /* Already cleared: fine. */
                }
        } else if (sh->done)
                r = -ENOMEM; /* the pass could not allocate its result */
        else if (sh->running && now >= sh->requested_usec + sh->deadline_usec) {
                HostSample *t = calloc(1, sizeof *t);
                if (!t)
                        r = -ENOMEM;
                else {
                        t->error = -ETIMEDOUT;
                        t->requested_usec = sh->requested_usec;
                        t->finished_usec = now;
                        *ret = t;
                }
        } else
                r = -EAGAIN;
        if (sh->done && r == -ENOMEM)
                sh->done = false;
        pthread_mutex_unlock(&sh->lock);
        return r;
}

unsigned host_sampler_stuck_probes(HostSampler *s, uint64_t now) {
        Shared *sh = s->shared;
        unsigned n = 0;
        pthread_mutex_lock(&sh->lock);
        for (size_t i = 0; i < SAMPLER_MAX_PROBERS; i++)
                n += sh->probers[i].alive && sh->probers[i].name && now >= sh->probers[i].started_usec + sh->deadline_usec;
        pthread_mutex_unlock(&sh->lock);
        return n;
}
