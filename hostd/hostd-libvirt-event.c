#include "hostd-libvirt-event.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <libvirt/libvirt.h>

#include "macro.h"

/* One libvirt watch (fd) or timer; ids are indexes + 1 into one table, reused after removal. */
typedef struct Watch {
        bool used, is_timer;
        int fd, events;
        int interval_ms; /* timers: -1 disabled, 0 every iteration, else period */
        sd_event_source *source;
        virEventHandleCallback handle_cb;
        virEventTimeoutCallback timeout_cb;
        void *opaque;
        virFreeCallback ff;
} Watch;

static sd_event *bridge_event;
static Watch *watches;
static size_t n_watches;

static int watch_alloc(void) {
        for (size_t i = 0; i < n_watches; i++)
                if (!watches[i].used)
                        return (int) i;
        Watch *w = realloc(watches, (n_watches + 16) * sizeof(Watch));
        if (!w)
                return -ENOMEM;
        watches = w;
        for (size_t i = n_watches; i < n_watches + 16; i++)
                watches[i] = (Watch) {};
        n_watches += 16;
        return (int) (n_watches - 16);
}

static Watch *watch_get(int id) {
        if (id <= 0 || (size_t) id > n_watches || !watches[id - 1].used)
                return NULL;
        return &watches[id - 1];
}

static uint32_t to_epoll(int events) {
        return (events & VIR_EVENT_HANDLE_READABLE ? EPOLLIN : 0) | (events & VIR_EVENT_HANDLE_WRITABLE ? EPOLLOUT : 0);
}

static int from_epoll(uint32_t revents) {
        return (revents & EPOLLIN ? VIR_EVENT_HANDLE_READABLE : 0) | (revents & EPOLLOUT ? VIR_EVENT_HANDLE_WRITABLE : 0) |
               (revents & EPOLLERR ? VIR_EVENT_HANDLE_ERROR : 0) | (revents & EPOLLHUP ? VIR_EVENT_HANDLE_HANGUP : 0);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        int id = (int) (intptr_t) userdata;
        Watch *w = watch_get(id);
        if (w && w->handle_cb)
                w->handle_cb(id, fd, from_epoll(revents), w->opaque);
        return 0;
}

static int add_handle(int fd, int events, virEventHandleCallback cb, void *opaque, virFreeCallback ff) {
        int i = watch_alloc();
        if (i < 0)
                return -1;
        Watch *w = &watches[i];
        int id = i + 1;
        if (sd_event_add_io(bridge_event, &w->source, fd, to_epoll(events), on_io, (void *) (intptr_t) id) < 0)
                return -1;
        w->used = true;
        w->is_timer = false;
        w->fd = fd;
        w->events = events;
        w->handle_cb = cb;
        w->opaque = opaque;
        w->ff = ff;
        /* libvirt adds watches with no events to enable them later; sd-event rejects no mask. */
        sd_event_source_set_enabled(w->source, events ? SD_EVENT_ON : SD_EVENT_OFF);
        return id;
}

static void update_handle(int id, int events) {
        Watch *w = watch_get(id);
        if (!w || w->is_timer)
                return;
        w->events = events;
        if (events) {
                sd_event_source_set_io_events(w->source, to_epoll(events));
                sd_event_source_set_enabled(w->source, SD_EVENT_ON);
        } else
                sd_event_source_set_enabled(w->source, SD_EVENT_OFF);
}

/* libvirt requires its free callback to run later, never inside remove (it may hold locks). */
static int on_deferred_free(sd_event_source *s, void *userdata) {
        Watch *w = userdata;
        w->ff(w->opaque);
        free(w);
        sd_event_source_disable_unref(s);
        return 0;
}

static int watch_remove(int id, bool want_timer) {
        Watch *w = watch_get(id);
        if (!w || w->is_timer != want_timer)
                return -1;
        sd_event_source_disable_unref(w->source);
        if (w->ff) {
                Watch *copy = malloc(sizeof(Watch));
                if (copy) {
                        *copy = *w;
                        if (sd_event_add_defer(bridge_event, NULL, on_deferred_free, copy) < 0) {
                                free(copy);
                        }
                }
        }
        *w = (Watch) {};
        return 0;
}

static int remove_handle(int id) {
        return watch_remove(id, false);
}

static void timer_arm(Watch *w) {
        uint64_t now;
        if (w->interval_ms < 0) {
                sd_event_source_set_enabled(w->source, SD_EVENT_OFF);
                return;
        }
        sd_event_now(bridge_event, CLOCK_MONOTONIC, &now);
        sd_event_source_set_time(w->source, now + (uint64_t) w->interval_ms * 1000);
        sd_event_source_set_enabled(w->source, SD_EVENT_ONESHOT);
}

static int on_time(sd_event_source *s, uint64_t usec, void *userdata) {
        int id = (int) (intptr_t) userdata;
        Watch *w = watch_get(id);
        if (!w)
                return 0;
        timer_arm(w); /* re-arm first: the callback may update or remove the timer */
        w->timeout_cb(id, w->opaque);
        return 0;
}

static int add_timeout(int interval_ms, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff) {
        int i = watch_alloc();
        if (i < 0)
                return -1;
        Watch *w = &watches[i];
        int id = i + 1;
        if (sd_event_add_time(bridge_event, &w->source, CLOCK_MONOTONIC, 0, 0, on_time, (void *) (intptr_t) id) < 0)
                return -1;
        w->used = true;
        w->is_timer = true;
        w->interval_ms = interval_ms;
        w->timeout_cb = cb;
        w->opaque = opaque;
        w->ff = ff;
        timer_arm(w);
        return id;
}

static void update_timeout(int id, int interval_ms) {
        Watch *w = watch_get(id);
        if (!w || !w->is_timer)
                return;
        w->interval_ms = interval_ms;
        timer_arm(w);
}

static int remove_timeout(int id) {
        return watch_remove(id, true);
}

int libvirt_event_bridge_install(sd_event *e) {
        if (bridge_event)
                return -EALREADY;
        bridge_event = sd_event_ref(e);
        virEventRegisterImpl(add_handle, update_handle, remove_handle, add_timeout, update_timeout, remove_timeout);
        return 0;
}
