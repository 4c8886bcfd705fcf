/* The pool upkeep's libvirt work, off the broker's loop: one thread per host with one long-lived
 * connection (libvirt calls block; and each test:///FILE connection is a private driver, so one
 * connection per host keeps what it defined). Jobs run in order; finished ones are handed back
 * through a PoolDone queue whose fd turns readable. A worker freed while a job blocks in libvirt
 * is left to finish on its own; what it shares is reference-counted. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "broker-libvirt.h"

typedef enum PoolJobKind {
        POOL_JOB_PROVISION, /* define NAME from the template and start it */
        POOL_JOB_RESET,     /* back to the template: remade (provisioned) or power-cycled */
        POOL_JOB_REMOVE,    /* destroy, undefine, delete its overlays; gone already is fine */
} PoolJobKind;

typedef struct PoolJob {
        struct PoolJob *next;
        PoolJobKind kind;
        int64_t desktop_id, pool_id;
        char *host_uri, *name, *template_name; /* template_name may be NULL for REMOVE */
        bool remake;          /* RESET: remove and provision anew (else a power cycle) */
        bool has_mac;
        uint8_t mac[6];       /* kept across a remake */
        char *cause;          /* RESET: logoff, disconnect-limit; reconcile: why */
        /* The outcome, valid once handed back. */
        int error;
        char message[256];
        const char *mode;     /* what was done: provision, remake, cycle, remove */
        ProvisionResult result;
        uint64_t started_usec, finished_usec;
} PoolJob;

PoolJob *pool_job_free(PoolJob *j);

typedef struct PoolDone PoolDone;
int pool_done_new(PoolDone **ret);
PoolDone *pool_done_unref(PoolDone *q);
int pool_done_fd(PoolDone *q);
/* Takes every finished job (a list through ->next, oldest first) and clears the fd. */
PoolJob *pool_done_take(PoolDone *q);

typedef struct PoolWorker PoolWorker;
int pool_worker_new(const char *uri, PoolDone *done, PoolWorker **ret);
PoolWorker *pool_worker_free(PoolWorker *w);
const char *pool_worker_uri(const PoolWorker *w);
/* Queues the job (owned by the worker until handed back). */
void pool_worker_submit(PoolWorker *w, PoolJob *j);
