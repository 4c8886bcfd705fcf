#include "hostd-libvirt-call.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Shared by the loop and the thread; the last of the two to let go frees it. */
struct LibvirtCall {
        atomic_int refs;
        int notify; /* eventfd: the thread's call returned */
        sd_event_source *source;
        virDomainPtr dom;
        void *job; /* the loop takes it back in on_returned(); otherwise discarded */
        LibvirtCallFn call;
        LibvirtCallDoneFn done;
        LibvirtCallDiscardFn discard;
        void *userdata;
        uint64_t started;
};

static void call_unref(LibvirtCall *c) {
        if (!c || atomic_fetch_sub(&c->refs, 1) > 1)
                return;
        if (c->job)
                c->discard(c->job);
        if (c->dom)
                virDomainFree(c->dom);
        if (c->notify >= 0)
                close(c->notify);
        free(c);
}

static void *call_main(void *p) {
        LibvirtCall *c = p;
        c->call(c->dom, c->job);
        uint64_t one = 1;
        (void) !write(c->notify, &one, sizeof one);
        call_unref(c);
        return NULL;
}

static int on_returned(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        LibvirtCall *c = userdata;
        uint64_t n;
        if (read(fd, &n, sizeof n) < 0 && errno == EAGAIN)
                return 0;
        c->source = sd_event_source_disable_unref(c->source);
        void *job = c->job;
        c->job = NULL;
        LibvirtCallDoneFn done = c->done;
        void *done_userdata = c->userdata;
        call_unref(c); /* the loop's reference: done may start the next call */
        done(done_userdata, job);
        return 0;
}

int libvirt_call_start(sd_event *event, virDomainPtr dom, void *job, LibvirtCallFn call, LibvirtCallDoneFn done,
                       LibvirtCallDiscardFn discard, void *userdata, LibvirtCall **ret) {
        LibvirtCall *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        *c = (LibvirtCall) { .call = call, .done = done, .discard = discard, .userdata = userdata };
        atomic_init(&c->refs, 1);
        c->notify = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int r = c->notify < 0 ? -errno : 0;
        if (r == 0 && virDomainRef(dom) == 0)
                c->dom = dom;
        else if (r == 0)
                r = -EINVAL;
        if (r == 0)
                r = sd_event_add_io(event, &c->source, c->notify, EPOLLIN, on_returned, c);
        if (r == 0 && sd_event_now(event, CLOCK_MONOTONIC, &c->started) < 0)
                c->started = 0; /* (positive, and the time good, before the loop first runs) */
        if (r == 0) {
                c->job = job;
                atomic_fetch_add(&c->refs, 1); /* the thread's */
                pthread_attr_t attr;
                pthread_t t;
                pthread_attr_init(&attr);
                pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                r = -pthread_create(&t, &attr, call_main, c);
                pthread_attr_destroy(&attr);
                if (r < 0) {
                        atomic_fetch_sub(&c->refs, 1);
                        c->job = NULL; /* still the caller's */
                }
        }
        if (r < 0) {
                c->source = sd_event_source_disable_unref(c->source);
                call_unref(c);
                return r;
        }
        *ret = c;
        return 0;
}

LibvirtCall *libvirt_call_cancel(LibvirtCall *c) {
        if (!c)
                return NULL;
        c->source = sd_event_source_disable_unref(c->source);
        call_unref(c);
        return NULL;
}

uint64_t libvirt_call_started(const LibvirtCall *c) {
        return c->started;
}
