#include "hostd-screenshot-call.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hostd-libvirt.h"

/* Shared by the loop and the thread; the last of the two to let go frees it. */
struct ScreenshotCall {
        atomic_int refs;
        int notify; /* eventfd: the thread's call returned */
        sd_event_source *source;
        virDomainPtr dom;
        virStreamPtr stream;
        bool ok;
        char error[256];
        uint64_t started;
        ScreenshotDoneFn done;
        void *userdata;
};

static void call_unref(ScreenshotCall *c) {
        if (!c || atomic_fetch_sub(&c->refs, 1) > 1)
                return;
        if (c->stream) {
                /* A screenshot nobody will read: libvirt drops it only when told. */
                if (c->ok)
                        virStreamAbort(c->stream);
                virStreamFree(c->stream);
        }
        if (c->dom)
                virDomainFree(c->dom);
        if (c->notify >= 0)
                close(c->notify);
        free(c);
}

static void *call_main(void *p) {
        ScreenshotCall *c = p;
        char *mime = virDomainScreenshot(c->dom, c->stream, 0, 0);
        if (mime)
                c->ok = true;
        else
                snprintf(c->error, sizeof c->error, "%s", libvirt_last_error());
        free(mime);
        uint64_t one = 1;
        (void) !write(c->notify, &one, sizeof one);
        call_unref(c);
        return NULL;
}

static int on_returned(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ScreenshotCall *c = userdata;
        uint64_t n;
        if (read(fd, &n, sizeof n) < 0 && errno == EAGAIN)
                return 0;
        c->source = sd_event_source_disable_unref(c->source);
        virStreamPtr stream = c->ok ? c->stream : NULL;
        if (stream)
                c->stream = NULL;
        ScreenshotDoneFn done = c->done;
        void *userdata_done = c->userdata;
        char error[sizeof c->error];
        snprintf(error, sizeof error, "%s", c->error);
        call_unref(c); /* the loop's reference: done may start the next call */
        done(userdata_done, stream, stream ? NULL : error);
        return 0;
}

int screenshot_call_start(sd_event *event, virDomainPtr dom, ScreenshotDoneFn done, void *userdata,
                          ScreenshotCall **ret) {
        ScreenshotCall *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        atomic_init(&c->refs, 1);
        c->done = done;
        c->userdata = userdata;
        c->notify = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int r = c->notify < 0 ? -errno : 0;
        if (r == 0 && virDomainRef(dom) == 0)
                c->dom = dom;
        else if (r == 0)
                r = -EINVAL;
        if (r == 0) {
                c->stream = virStreamNew(virDomainGetConnect(dom), VIR_STREAM_NONBLOCK);
                if (!c->stream)
                        r = -ENOMEM;
        }
        if (r == 0)
                r = sd_event_add_io(event, &c->source, c->notify, EPOLLIN, on_returned, c);
        if (r == 0)
                r = sd_event_now(event, CLOCK_MONOTONIC, &c->started);
        if (r < 0) {
                c->source = sd_event_source_disable_unref(c->source);
                call_unref(c);
                return r;
        }
        pthread_attr_t attr;
        pthread_t t;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        atomic_fetch_add(&c->refs, 1); /* the thread's */
        r = pthread_create(&t, &attr, call_main, c);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                atomic_fetch_sub(&c->refs, 1);
                c->source = sd_event_source_disable_unref(c->source);
                call_unref(c);
                return -r;
        }
        *ret = c;
        return 0;
}

ScreenshotCall *screenshot_call_cancel(ScreenshotCall *c) {
        if (!c)
                return NULL;
        c->source = sd_event_source_disable_unref(c->source);
        call_unref(c);
        return NULL;
}

uint64_t screenshot_call_started(const ScreenshotCall *c) {
        return c->started;
}
