/* The pool upkeep's libvirt worker threads: see broker-pool-worker.h. */
#include "broker-pool-worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"

struct PoolDone {
        atomic_int refs;
        pthread_mutex_t lock;
        PoolJob *head, *tail;
        int fd;
};

struct PoolWorker {
        atomic_int refs; /* the owner and the thread */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool stop;
        PoolJob *head, *tail;
        char *uri;
        PoolDone *done;
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

PoolJob *pool_job_free(PoolJob *j) {
        if (!j)
                return NULL;
        free(j->host_uri);
        free(j->name);
        free(j->template_name);
        free(j->cause);
        provision_result_done(&j->result);
        free(j);
        return NULL;
}

static void job_list_free(PoolJob *j) {
        while (j) {
                PoolJob *next = j->next;
                pool_job_free(j);
                j = next;
        }
}

int pool_done_new(PoolDone **ret) {
        PoolDone *q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (q->fd < 0) {
                int r = -errno;
                free(q);
                return r;
        }
        atomic_init(&q->refs, 1);
        pthread_mutex_init(&q->lock, NULL);
        *ret = q;
        return 0;
}

static PoolDone *pool_done_ref(PoolDone *q) {
        atomic_fetch_add(&q->refs, 1);
        return q;
}

PoolDone *pool_done_unref(PoolDone *q) {
        if (!q || atomic_fetch_sub(&q->refs, 1) > 1)
                return NULL;
        job_list_free(q->head);
        close(q->fd);
        pthread_mutex_destroy(&q->lock);
        free(q);
        return NULL;
}

int pool_done_fd(PoolDone *q) {
        return q->fd;
}

PoolJob *pool_done_take(PoolDone *q) {
        uint64_t v;
        (void) !read(q->fd, &v, sizeof v);
        pthread_mutex_lock(&q->lock);
        PoolJob *j = q->head;
        q->head = q->tail = NULL;
        pthread_mutex_unlock(&q->lock);
        return j;
}

static void done_push(PoolDone *q, PoolJob *j) {
        j->next = NULL;
        pthread_mutex_lock(&q->lock);
        if (q->tail)
                q->tail->next = j;
        else
                q->head = j;
        q->tail = j;
        pthread_mutex_unlock(&q->lock);
        uint64_t one = 1;
        (void) !write(q->fd, &one, sizeof one);
}

static void worker_unref(PoolWorker *w) {
        if (atomic_fetch_sub(&w->refs, 1) > 1)
                return;
        job_list_free(w->head);
        pool_done_unref(w->done);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w->uri);
        free(w);
}

/* Overlays named after NAME beside the template's disks, left by a provision that was cut short
 * (no domain to find them through). Never the template's own disks: only NAME-diskI.qcow2. */
static void leftover_overlays_delete(virConnectPtr c, const char *template_name, const char *name) {
        virDomainPtr t = template_name ? virDomainLookupByName(c, template_name) : NULL;
        if (!t)
                return;
        char *xml = virDomainGetXMLDesc(t, VIR_DOMAIN_XML_INACTIVE);
        virDomainFree(t);
        char **paths = NULL;
        size_t n = 0;
        if (!xml || template_disk_paths(xml, strlen(xml), &paths, &n) < 0) {
                free(xml);
                return;
        }
        free(xml);
        for (size_t i = 0; i < n; i++) {
                virStorageVolPtr base = virStorageVolLookupByPath(c, paths[i]);
                virStoragePoolPtr pool = base ? virStoragePoolLookupByVolume(base) : NULL;
                char vol_name[300];
                snprintf(vol_name, sizeof vol_name, "%s-disk%zu.qcow2", name, i);
                virStorageVolPtr vol = pool ? virStorageVolLookupByName(pool, vol_name) : NULL;
                if (vol) {
                        virStorageVolDelete(vol, 0);
                        virStorageVolFree(vol);
                }
                if (pool)
                        virStoragePoolFree(pool);
                if (base)
                        virStorageVolFree(base);
        }
        disk_paths_free(paths, n);
}

static int remove_any(virConnectPtr c, PoolJob *j) {
        int r = broker_desktop_remove(c, j->name);
        if (r == -ENOENT)
                r = 0; /* never defined, or gone already */
        if (r >= 0)
                leftover_overlays_delete(c, j->template_name, j->name);
        return r;
}

static int provision_and_start(virConnectPtr c, PoolJob *j) {
        int r = broker_desktop_provision(c, j->template_name, j->name, j->has_mac ? j->mac : NULL, &j->result);
        if (r < 0)
                return r;
        r = broker_domain_power(c, j->name, BROKER_POWER_START);
        if (r < 0) {
                snprintf(j->message, sizeof j->message, "%s", broker_libvirt_error());
                (void) broker_desktop_remove(c, j->name); /* nothing left behind */
                provision_result_done(&j->result);
        }
        return r;
}

static int run(virConnectPtr c, PoolJob *j) {
        switch (j->kind) {
        case POOL_JOB_PROVISION:
                j->mode = "provision";
                return provision_and_start(c, j);
        case POOL_JOB_RESET:
                if (!j->remake) {
                        j->mode = "cycle";
                        return broker_domain_power(c, j->name, BROKER_POWER_CYCLE);
                }
                j->mode = "remake";
                int r = remove_any(c, j);
                return r < 0 ? r : provision_and_start(c, j);
        case POOL_JOB_REMOVE:
                j->mode = "remove";
                return remove_any(c, j);
        }
        return -EINVAL;
}

static void *worker_main(void *userdata) {
        PoolWorker *w = userdata;
        virConnectPtr c = NULL;
        for (;;) {
                pthread_mutex_lock(&w->lock);
                while (!w->stop && !w->head)
                        pthread_cond_wait(&w->cond, &w->lock);
                if (w->stop) {
                        pthread_mutex_unlock(&w->lock);
                        break;
                }
                PoolJob *j = w->head;
                w->head = j->next;
                if (!w->head)
                        w->tail = NULL;
                pthread_mutex_unlock(&w->lock);

                j->started_usec = now_usec();
                if (c && virConnectIsAlive(c) != 1) {
                        virConnectClose(c);
                        c = NULL;
                }
                if (!c)
                        c = virConnectOpen(w->uri);
                if (!c) {
                        j->error = -ECONNREFUSED;
                        snprintf(j->message, sizeof j->message, "%s", broker_libvirt_error());
                } else {
                        j->error = run(c, j);
                        if (j->error < 0 && !j->message[0])
                                snprintf(j->message, sizeof j->message, "%s", broker_libvirt_error());
                }
                j->finished_usec = now_usec();
                done_push(w->done, j);
        }
        if (c)
                virConnectClose(c);
        worker_unref(w);
        return NULL;
}

int pool_worker_new(const char *uri, PoolDone *done, PoolWorker **ret) {
        PoolWorker *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->uri = strdup(uri);
        if (!w->uri) {
                free(w);
                return -ENOMEM;
        }
        w->done = pool_done_ref(done);
        atomic_init(&w->refs, 2);
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        pthread_attr_t attr;
        pthread_t t;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int r = pthread_create(&t, &attr, worker_main, w);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                atomic_init(&w->refs, 1);
                worker_unref(w);
                return -r;
        }
        *ret = w;
        return 0;
}

PoolWorker *pool_worker_free(PoolWorker *w) {
        if (!w)
                return NULL;
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        worker_unref(w);
        return NULL;
}

const char *pool_worker_uri(const PoolWorker *w) {
        return w->uri;
}

void pool_worker_submit(PoolWorker *w, PoolJob *j) {
        j->next = NULL;
        pthread_mutex_lock(&w->lock);
        if (w->tail)
                w->tail->next = j;
        else
                w->head = j;
        w->tail = j;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
}
