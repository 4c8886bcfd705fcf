/* The pool upkeep's worker thread against libvirt's test:///default driver (shared by every
 * connection of this process while one stays open, so the test sees what the worker did):
 * provision and start, a reset that remakes the desktop (same name and MAC, new UUID, a fresh
 * overlay), a power-cycle reset, removal with the overlays a cut-short provision left behind, a
 * missing template, and jobs handed back in order through the done queue's fd. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker-pool-worker.h"
#include "check.h"
#include "macro.h"

#define URI "test:///default"

static const char TEMPLATE[] =
        "<domain type='test'><name>wtmpl</name><memory>65536</memory><os><type>hvm</type></os><devices>"
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/default-pool/wtmpl.img'/>"
        "<target dev='vda'/></disk><interface type='network'><source network='default'/></interface>"
        "</devices></domain>";

static PoolJob *job(PoolJobKind kind, const char *name, const char *tmpl) {
        PoolJob *j = calloc(1, sizeof *j);
        check(j);
        j->kind = kind;
        j->host_uri = strdup(URI);
        j->name = strdup(name);
        j->template_name = tmpl ? strdup(tmpl) : NULL;
        return j;
}

/* Runs one job to its end through the worker and the done queue. */
static PoolJob *run(PoolWorker *w, PoolDone *q, PoolJob *j) {
        pool_worker_submit(w, j);
        struct pollfd p = { .fd = pool_done_fd(q), .events = POLLIN };
        check(poll(&p, 1, 30000) == 1);
        PoolJob *done = pool_done_take(q);
        check(done == j && !done->next);
        return done;
}

static bool exists_vol(virConnectPtr c, const char *name) {
        virStoragePoolPtr pool = virStoragePoolLookupByName(c, "default-pool");
        check(pool);
        virStorageVolPtr v = virStorageVolLookupByName(pool, name);
        virStoragePoolFree(pool);
        if (v)
                virStorageVolFree(v);
        return v != NULL;
}

static int state(virConnectPtr c, const char *name) {
        virDomainPtr d = virDomainLookupByName(c, name);
        if (!d)
                return -1;
        int s, reason;
        check(virDomainGetState(d, &s, &reason, 0) == 0);
        virDomainFree(d);
        return s;
}

int main(void) {
        broker_libvirt_quiet();
        virConnectPtr c = virConnectOpen(URI); /* keeps the shared driver alive */
        check(c);
        virDomainPtr t = virDomainDefineXML(c, TEMPLATE);
        check(t);
        virDomainFree(t);
        virStoragePoolPtr pool = virStoragePoolLookupByName(c, "default-pool");
        check(pool);
        virStorageVolPtr v = virStorageVolCreateXML(pool, "<volume><name>wtmpl.img</name><capacity>1048576</capacity></volume>", 0);
        check(v);
        virStorageVolFree(v);

        PoolDone *q;
        PoolWorker *w;
        check(pool_done_new(&q) == 0);
        check(pool_worker_new(URI, q, &w) == 0);

        /* Provision: defined from the template, with an overlay, running. */
        PoolJob *j = run(w, q, job(POOL_JOB_PROVISION, "wp-001", "wtmpl"));
        check(j->error == 0 && strcmp(j->mode, "provision") == 0);
        check(j->result.n_overlays == 1 && strcmp(j->result.overlays[0], "/default-pool/wp-001-disk0.qcow2") == 0);
        check(state(c, "wp-001") == VIR_DOMAIN_RUNNING);
        char uuid[VIR_UUID_STRING_BUFLEN], mac[18];
        memcpy(uuid, j->result.uuid, sizeof uuid);
        memcpy(mac, j->result.mac, sizeof mac);
        check(j->finished_usec >= j->started_usec);
        pool_job_free(j);

        /* Reset by remaking: same name and MAC, a new UUID, the overlay made again, running. */
        j = job(POOL_JOB_RESET, "wp-001", "wtmpl");
        j->remake = true;
        j->has_mac = sscanf(mac, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx", &j->mac[0], &j->mac[1], &j->mac[2], &j->mac[3],
                            &j->mac[4], &j->mac[5]) == 6;
        check(j->has_mac);
        j = run(w, q, j);
        check(j->error == 0 && strcmp(j->mode, "remake") == 0);
        check(strcmp(j->result.mac, mac) == 0 && strcmp(j->result.uuid, uuid) != 0);
        check(state(c, "wp-001") == VIR_DOMAIN_RUNNING && exists_vol(c, "wp-001-disk0.qcow2"));
        pool_job_free(j);

        /* A power-cycle reset (an operator's desktop): still there, running. */
        j = run(w, q, job(POOL_JOB_RESET, "wp-001", NULL));
        check(j->error == 0 && strcmp(j->mode, "cycle") == 0 && state(c, "wp-001") == VIR_DOMAIN_RUNNING);
        pool_job_free(j);

        /* Removal: domain and overlay gone; removing it again is fine. */
        j = run(w, q, job(POOL_JOB_REMOVE, "wp-001", "wtmpl"));
        check(j->error == 0 && state(c, "wp-001") < 0 && !exists_vol(c, "wp-001-disk0.qcow2"));
        pool_job_free(j);
        j = run(w, q, job(POOL_JOB_REMOVE, "wp-001", "wtmpl"));
        check(j->error == 0);
        pool_job_free(j);

        /* A provision cut short after its overlay (the broker was killed): no domain, the overlay
         * left; removal finds it through the template. The template's disk stays. */
        v = virStorageVolCreateXML(pool, "<volume><name>wp-002-disk0.qcow2</name><capacity>1048576</capacity></volume>", 0);
        check(v);
        virStorageVolFree(v);
        j = run(w, q, job(POOL_JOB_REMOVE, "wp-002", "wtmpl"));
        check(j->error == 0 && !exists_vol(c, "wp-002-disk0.qcow2") && exists_vol(c, "wtmpl.img"));
        pool_job_free(j);
        /* And the name provisions cleanly afterwards. */
        j = run(w, q, job(POOL_JOB_PROVISION, "wp-002", "wtmpl"));
        check(j->error == 0);
        pool_job_free(j);

        /* A missing template: -ENOENT with libvirt's message, nothing defined. */
        j = run(w, q, job(POOL_JOB_PROVISION, "wp-003", "no-such-template"));
        check(j->error == -ENOENT && j->message[0] && state(c, "wp-003") < 0);
        pool_job_free(j);
        /* The name taken: -EEXIST, the existing domain untouched. */
        j = run(w, q, job(POOL_JOB_PROVISION, "wp-002", "wtmpl"));
        check(j->error == -EEXIST && state(c, "wp-002") == VIR_DOMAIN_RUNNING);
        pool_job_free(j);

        /* Several queued: handed back in order. */
        const char *names[] = { "wp-010", "wp-011", "wp-012" };
        PoolJob *js[3];
        for (int i = 0; i < 3; i++)
                pool_worker_submit(w, js[i] = job(POOL_JOB_PROVISION, names[i], "wtmpl"));
        PoolJob *all = NULL, **tail = &all;
        while (!all || !all->next || !all->next->next) {
                struct pollfd p = { .fd = pool_done_fd(q), .events = POLLIN };
                check(poll(&p, 1, 30000) == 1);
                *tail = pool_done_take(q);
                while (*tail)
                        tail = &(*tail)->next;
        }
        check(all == js[0] && all->next == js[1] && all->next->next == js[2]);
        for (int i = 0; i < 3; i++) {
                check(js[i]->error == 0);
                pool_job_free(js[i]);
        }

        /* Freed with work queued: the thread ends on its own, the queue stays valid. */
        pool_worker_submit(w, job(POOL_JOB_PROVISION, "wp-020", "wtmpl"));
        pool_worker_free(w);
        pool_done_unref(q);
        virStoragePoolFree(pool);
        virConnectClose(c);
        return 0;
}
